//! HTTPS for both listeners ([`crate::SimOptions::tls`]): a rustls (ring) server config, an
//! accept loop serving the axum router over hyper's HTTP/1.1, and test identities made with
//! rcgen ([`test_ca`], [`self_signed_tls`]).

use crate::options::SimTls;
use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::io;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("halo-sim TLS: {e}"))
}

/// A TLS acceptor for this identity (ring provider, TLS 1.2 and 1.3, ALPN `http/1.1`).
pub fn acceptor(tls: &SimTls) -> io::Result<TlsAcceptor> {
    let certs: Vec<CertificateDer<'static>> =
        tls.cert_chain_der.iter().map(|c| CertificateDer::from(c.clone())).collect();
    let key = PrivateKeyDer::try_from(tls.key_der.clone())
        .unwrap_or_else(|_| PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(tls.key_der.clone())));
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(invalid)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(invalid)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts TLS connections until `stopped` turns true; then open connections are dropped too.
pub async fn serve(listener: TcpListener, acceptor: TlsAcceptor, app: Router, mut stopped: watch::Receiver<bool>) {
    loop {
        let (tcp, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = until_stopped(&mut stopped) => return,
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let conn = async move {
                // A failed handshake (e.g. a client that does not trust the certificate) just ends.
                let Ok(stream) = acceptor.accept(tcp).await else { return };
                let service = TowerToHyperService::new(app);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            };
            tokio::select! {
                _ = conn => {}
                _ = until_stopped(&mut stopped) => {}
            }
        });
    }
}

async fn until_stopped(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

/// A self-signed certificate for `names` (DNS names or IP addresses) and its key. The second
/// value is that certificate (DER): the one a client must trust.
pub fn self_signed_tls(names: &[&str]) -> (SimTls, Vec<u8>) {
    let key = KeyPair::generate().expect("rcgen generates a key");
    let mut params = leaf_params(names);
    params.distinguished_name.push(DnType::CommonName, names.first().copied().unwrap_or("halo-sim"));
    let cert = params.self_signed(&key).expect("rcgen self-signs");
    let der = cert.der().to_vec();
    (SimTls { cert_chain_der: vec![der.clone()], key_der: key.serialize_der() }, der)
}

/// A fresh test CA and a leaf certificate for `names` (DNS names or IP addresses) signed by
/// it. The [`SimTls`] holds the chain `[leaf, ca]` and the leaf's key; the second value is the
/// CA certificate (DER), the one a client must trust.
pub fn test_ca(names: &[&str]) -> (SimTls, Vec<u8>) {
    let ca_key = KeyPair::generate().expect("rcgen generates a key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("empty SAN list");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "halo-sim test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca = ca_params.self_signed(&ca_key).expect("rcgen self-signs the CA");

    let leaf_key = KeyPair::generate().expect("rcgen generates a key");
    let mut params = leaf_params(names);
    params.distinguished_name.push(DnType::CommonName, names.first().copied().unwrap_or("halo-sim"));
    let leaf = params.signed_by(&leaf_key, &ca, &ca_key).expect("rcgen signs the leaf");
    let ca_der = ca.der().to_vec();
    (
        SimTls { cert_chain_der: vec![leaf.der().to_vec(), ca_der.clone()], key_der: leaf_key.serialize_der() },
        ca_der,
    )
}

fn leaf_params(names: &[&str]) -> CertificateParams {
    let mut params = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .expect("valid subject alternative names");
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params
}
