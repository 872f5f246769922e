//! Where the sandbox lets a connector connect: addresses that embed an
//! internal IPv4 address (6to4, Teredo), loopback beyond 127.0.0.1, https
//! to an IPv6 literal, and the declared hosts read once at load.

use psa_host::{ConnectionConfig, Connector, DnsOverrides, Host, HostError, HostOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HOSTILE: &[u8] = include_bytes!(env!("PSA_TEST_HOSTILE_WASM"));

fn cfg(c: &Connector, mode: &str, target: &str) -> ConnectionConfig {
    ConnectionConfig::from_pairs(
        [("mode".to_string(), mode.to_string()), ("target_url".to_string(), target.to_string())],
        c.info(),
    )
}

async fn fetch(c: &Connector, target: &str) -> Result<String, HostError> {
    let mut s = c.open_session(&cfg(c, "fetch", target)).await?;
    s.list_customers(None).await.map(|p| p.customers[0].name.clone())
}

/// A host that answers `name` with `address` instead of asking DNS.
async fn host_resolving(name: &str, address: &str) -> Connector {
    let mut dns = DnsOverrides::default();
    dns.insert(name, vec![address.parse().unwrap()]);
    let host = Host::new(HostOptions::default().allow_loopback(true).dns_overrides(dns)).unwrap();
    host.load("hostile", HOSTILE).await.unwrap()
}

async fn assert_internal(name: &str, address: &str) {
    let c = host_resolving(name, address).await;
    let e = fetch(&c, &format!("https://{name}/")).await.expect_err("an internal address was dialled").to_string();
    assert!(e.contains("resolves only to internal addresses"), "{address}: {e}");
}

#[tokio::test]
async fn a_6to4_address_embedding_an_internal_ipv4_is_refused() {
    // 2002:a9fe:a9fe:: is 169.254.169.254 (the cloud metadata service) through a 6to4 relay.
    assert_internal("sixto4.example", "2002:a9fe:a9fe::1").await;
    assert_internal("sixto4.example", "2002:0a00:0001::1").await;
}

#[tokio::test]
async fn a_teredo_address_embedding_an_internal_ipv4_is_refused() {
    // Public server 65.54.227.120; client 10.0.0.1 (inverted: f5ff:fffe).
    assert_internal("teredo.example", "2001:0:4136:e378:8000:63bf:f5ff:fffe").await;
    // Client 169.254.169.254 (inverted: 5601:5601).
    assert_internal("teredo.example", "2001:0:4136:e378::5601:5601").await;
}

/// A loopback HTTP server on `ip` answering 200.
async fn ok_server_on(ip: &str) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.expect("bind loopback");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn allow_loopback_admits_127_0_0_1_only() {
    let host = Host::new(HostOptions::default().allow_loopback(true)).unwrap();
    let c = host.load("hostile", HOSTILE).await.unwrap();
    let one = ok_server_on("127.0.0.1").await;
    assert_eq!(fetch(&c, &format!("http://{one}/")).await.unwrap(), "status 200");
    // Another address of 127.0.0.0/8, where other local services listen.
    let two = ok_server_on("127.0.0.2").await;
    let e = fetch(&c, &format!("http://{two}/")).await.expect_err("127.0.0.2 was dialled").to_string();
    assert!(e.contains("resolves only to internal addresses"), "{e}");
}

#[tokio::test]
async fn https_to_an_ipv6_literal_works() {
    let (tls, ca) = halo_sim::test_ca(&["::1"]);
    let certs = tls.cert_chain_der.iter().map(|c| rustls::pki_types::CertificateDer::from(c.clone())).collect();
    let key = rustls::pki_types::PrivateKeyDer::try_from(tls.key_der.clone()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("[::1]:0").await.expect("bind [::1]");
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut buf = [0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await;
                let _ = tls.shutdown().await;
            });
        }
    });
    let mut options = HostOptions::default().allow_loopback(true);
    options.extra_roots = vec![ca];
    let c = Host::new(options).unwrap().load("hostile", HOSTILE).await.unwrap();
    assert_eq!(fetch(&c, &format!("https://[::1]:{port}/")).await.expect("https to [::1]"), "status 200");
}

#[tokio::test]
async fn declared_hosts_are_read_once_at_load_and_frozen() {
    // The hostile connector declares a random host in every instance.
    let host = Host::new(HostOptions::default()).unwrap();
    let c = host.load("hostile", HOSTILE).await.unwrap();
    let declared = c.info().allowed_hosts.clone();
    assert_eq!(declared.len(), 1, "{declared:?}");
    assert!(declared[0].starts_with("https://*.r") && declared[0].ends_with(".invalid:443"), "{declared:?}");
    let frozen: Vec<String> = c.declared_hosts().iter().map(|o| o.to_string()).collect();
    assert_eq!(frozen, declared, "info() shows the frozen list");
    let again = host.load("hostile", HOSTILE).await.unwrap();
    assert_ne!(again.info().allowed_hosts, declared, "the guest answers differently in every instance");
    // Every session of `c` gets exactly the list read at load.
    for _ in 0..3 {
        let mut s = c.open_session(&cfg(&c, "outside", "")).await.unwrap();
        let e = s.list_customers(None).await.unwrap_err().to_string();
        assert!(e.contains(&format!("allowed hosts ({})", declared[0])), "{e}");
    }
}
