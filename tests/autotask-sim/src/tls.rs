//! HTTPS for the zone listeners ([`crate::SimOptions::zone_tls`]): zones named like Autotask's
//! (`webservices5.autotask.net`), served with a certificate from a private test CA made at test
//! time (the identity comes from `halo_sim::test_ca`, reused here), over hyper's HTTP/1.1.
//!
//! A client reaches `https://webservices5.autotask.net` (port 443, as the connector's declared
//! `https://*.autotask.net` admits) by mapping that name and port to
//! [`crate::AutotaskSim::zone_addr`] (the host's test-only `DnsOverrides::connect_to`) and
//! trusting the CA.

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::io;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

pub use halo_sim::SimTls;

/// Autotask's zone hosts the simulator serves by default over TLS (two of the known zones,
/// notes B1: `webservices1..29.autotask.net`): the database starts on the first, a move takes
/// it to the second.
pub const ZONE_NAMES: [&str; 2] = ["webservices5.autotask.net", "webservices15.autotask.net"];

/// Zones served over HTTPS under these host names, one listener each, with this identity.
#[derive(Clone, Debug)]
pub struct ZoneTls {
    /// Zone `n`'s host name (its count is the number of zones).
    pub names: Vec<String>,
    /// The certificate chain and key the zone listeners present (it must name every zone).
    pub identity: SimTls,
}

impl ZoneTls {
    /// Zones named `names`, with a leaf certificate for all of them from a fresh test CA.
    /// The second value is the CA certificate (DER): what a client must trust.
    pub fn with_test_ca(names: &[&str]) -> (ZoneTls, Vec<u8>) {
        let (identity, ca) = halo_sim::test_ca(names);
        (ZoneTls { names: names.iter().map(|s| s.to_string()).collect(), identity }, ca)
    }

    /// [`ZONE_NAMES`] with a fresh test CA ([`ZoneTls::with_test_ca`]).
    pub fn autotask() -> (ZoneTls, Vec<u8>) {
        Self::with_test_ca(&ZONE_NAMES)
    }
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("autotask-sim TLS: {e}"))
}

/// A TLS acceptor for this identity (ring provider, TLS 1.2 and 1.3, ALPN `http/1.1`).
pub fn acceptor(tls: &SimTls) -> io::Result<TlsAcceptor> {
    let certs: Vec<CertificateDer<'static>> = tls.cert_chain_der.iter().map(|c| CertificateDer::from(c.clone())).collect();
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
pub async fn serve(listener: TcpListener, acceptor: TlsAcceptor, app: Router, stopped: watch::Receiver<bool>) {
    loop {
        let mut stop = stopped.clone();
        let (tcp, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = until_stopped(&mut stop) => return,
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let mut stop = stopped.clone();
        tokio::spawn(async move {
            let conn = async move {
                // A failed handshake (a client that does not trust the CA) just ends.
                let Ok(stream) = acceptor.accept(tcp).await else { return };
                let service = TowerToHyperService::new(app);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            };
            tokio::select! {
                _ = conn => {}
                _ = until_stopped(&mut stop) => {}
            }
        });
    }
}

async fn until_stopped(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}
