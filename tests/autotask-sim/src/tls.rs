//! HTTPS for the zone listeners ([`crate::SimOptions::zone_tls`]): zones named like Autotask's
//! (`webservices5.autotask.net`), served with a certificate from a private test CA made at test
//! time (the identity comes from `halo_sim::test_ca`, reused here), over hyper's HTTP/1.1.
//!
//! A client reaches `https://webservices5.autotask.net` (port 443, as the connector's declared
//! `https://*.autotask.net` admits) by mapping that name and port to
//! [`crate::AutotaskSim::zone_addr`] (the host's test-only `DnsOverrides::connect_to`) and
//! trusting the CA.

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

/// The TLS acceptor and accept loop are halo-sim's (ring provider, TLS 1.2 and 1.3, ALPN
/// `http/1.1`, hyper's HTTP/1.1, open connections dropped when `stopped` turns true).
pub use halo_sim::{serve_tls as serve, tls_acceptor as acceptor};
