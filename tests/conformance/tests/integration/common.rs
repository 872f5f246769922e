//! Shared setup for the integration tests: one host and one compiled
//! connector for the test binary (compiling is the slow part), a simulator per
//! test.
#![allow(dead_code)]

use halo_sim::{HaloSim, SimCustomer, SimOptions};
use psa_host::{ConnectionConfig, Connector, Customer, Host, HostOptions};
use std::collections::{BTreeMap, BTreeSet};
use tokio::sync::OnceCell;

static HALO: OnceCell<Connector> = OnceCell::const_new();

/// The bundled HaloPSA connector on a host that permits loopback.
///
/// Without pacing: the host paces per host name, and every simulator here is
/// `127.0.0.1`, so the default budget (250 requests per 5 minutes) would
/// hold back unrelated tests that share this host once their requests add up.
/// Pacing has its own tests, with hosts of their own (`halo_resilience`).
pub async fn halo() -> Connector {
    HALO.get_or_init(|| async {
        let host = Host::new(HostOptions::default().allow_loopback(true).rate_budget(None).declared_budgets(false)).expect("host");
        host.load("halopsa", psa_host::bundled::HALOPSA)
            .await
            .expect("bundled connector loads")
    })
    .await
    .clone()
}

/// The connection form for a simulator, as an admin would fill it.
pub fn form(sim: &HaloSim) -> Vec<(String, String)> {
    sim.connection_form()
}

pub fn set(form: &mut Vec<(String, String)>, key: &str, value: &str) {
    form.retain(|(k, _)| k != key);
    form.push((key.to_string(), value.to_string()));
}

pub fn config(c: &Connector, form: Vec<(String, String)>) -> ConnectionConfig {
    ConnectionConfig::from_pairs(form, c.info())
}

pub async fn start(opts: SimOptions) -> HaloSim {
    HaloSim::start(opts).await.expect("simulator starts")
}

/// A GUID as the contract wants it (lower-case `8-4-4-4-12` hex), or `None`
/// for anything else. The tests' oracle: written apart from the SDK's
/// normaliser on purpose, so a bug there cannot agree with itself here.
pub fn canonical_guid(s: &str) -> Option<String> {
    let t = s.trim().trim_start_matches('{').trim_end_matches('}').to_ascii_lowercase();
    let parts: Vec<&str> = t.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    (parts.len() == 5
        && parts
            .iter()
            .zip(lens)
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit())))
    .then_some(t)
}

/// What the import must say about each customer's tenants: GUIDs only, and a
/// tenant on several customers on none of them. Returns (expected links by
/// customer id, the conflicting tenant ids).
pub fn expected_tenants(customers: &[SimCustomer]) -> (BTreeMap<String, BTreeSet<String>>, BTreeSet<String>) {
    let mut owners: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for c in customers {
        for t in &c.tenants {
            if let Some(g) = canonical_guid(&t.id) {
                owners.entry(g).or_default().insert(c.id);
            }
        }
    }
    let conflicts: BTreeSet<String> = owners.iter().filter(|(_, o)| o.len() > 1).map(|(g, _)| g.clone()).collect();
    let mut want = BTreeMap::new();
    for c in customers {
        let set: BTreeSet<String> = c
            .tenants
            .iter()
            .filter_map(|t| canonical_guid(&t.id))
            .filter(|g| !conflicts.contains(g))
            .collect();
        want.insert(c.id.to_string(), set);
    }
    (want, conflicts)
}

pub fn tenant_ids(c: &Customer) -> BTreeSet<String> {
    c.m365_tenants.iter().map(|t| t.tenant_id.clone()).collect()
}

/// A loopback port free a moment ago, for a server this test starts on it
/// (Prism): another test may take it in between, so never use it to mean
/// "nothing listens here"; that is [`refusing_port`].
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local address").port()
}

/// A loopback port that refuses connections for as long as the returned
/// socket lives: bound but not listening, so no other test's server (the
/// tests run in parallel) can take it between choosing and dialling it.
pub fn refusing_port() -> (tokio::net::TcpSocket, u16) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind("127.0.0.1:0".parse().unwrap()).expect("bind loopback");
    let port = socket.local_addr().expect("local address").port();
    (socket, port)
}

/// A loopback HTTP/1.1 server for tests that need answers no real server
/// gives: for every connection it reads the request head (up to 64 KiB) and
/// hands it, with the socket, to `answer`. Returns the listening address.
pub async fn raw_server<F, Fut>(answer: F) -> std::net::SocketAddr
where
    F: Fn(String, tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("local address");
    let answer = std::sync::Arc::new(answer);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                answer(String::from_utf8_lossy(&head).into_owned(), sock).await;
            });
        }
    });
    addr
}
