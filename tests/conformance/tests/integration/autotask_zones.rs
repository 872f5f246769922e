//! The Autotask connector reaching its zones the way it does in production:
//! only through the declared `https://*.autotask.net` wildcard, over TLS, on
//! port 443. The simulator's zones are `https://webservices5.autotask.net`
//! and `https://webservices15.autotask.net` with a certificate from a private
//! CA made at test time; the host trusts that CA and maps each
//! `name:443` to the zone's loopback listener with the test-only
//! `DnsOverrides::connect_to`, which applies after the allow-list and the
//! egress check. The zone lookup is the form's `zone_lookup_url` (plain http
//! on loopback, which the form's URL field admits).

use autotask_sim::{AutotaskSim, Faults, Listener, MoveAfter, SimOptions, ZoneTls};
use psa_host::{ConnectionConfig, Connector, ConnectorError, Customer, DnsOverrides, Host, HostError, HostOptions};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const AUTOTASK: &[u8] = include_bytes!(env!("PSA_TEST_AUTOTASK_WASM"));
const HOSTILE: &[u8] = include_bytes!(env!("PSA_TEST_HOSTILE_WASM"));

/// A simulator whose zones are TLS listeners under `*.autotask.net` names,
/// and the CA (DER) that signed their certificate.
async fn tls_sim(opts: SimOptions) -> (AutotaskSim, Vec<u8>) {
    let (zone_tls, ca) = ZoneTls::autotask();
    let sim = AutotaskSim::start(SimOptions { zone_tls: Some(zone_tls), ..opts }).await.expect("simulator starts");
    (sim, ca)
}

/// `name:443` of every zone mapped to its loopback listener, plus `extra`.
fn zone_map(sim: &AutotaskSim, extra: &[(&str, u16, SocketAddr)]) -> DnsOverrides {
    let mut dns = DnsOverrides::default();
    for n in 0..sim.zone_count() {
        let url = url_host(&sim.zone_url(n).unwrap());
        dns.connect_to(&url, 443, sim.zone_addr(n).unwrap());
    }
    for (name, port, to) in extra {
        dns.connect_to(name, *port, *to);
    }
    dns
}

fn url_host(u: &str) -> String {
    u.split("://").nth(1).unwrap().split(['/', ':']).next().unwrap().to_string()
}

async fn connector(dns: DnsOverrides, ca: Vec<u8>) -> Connector {
    let mut options = HostOptions::default().allow_loopback(true).dns_overrides(dns);
    options.extra_roots = vec![ca];
    let host = Host::new(options).expect("host");
    host.load("autotask", AUTOTASK).await.expect("loads")
}

// The form and the oracle are `autotask`'s (written apart from the
// connector's code on purpose).
use super::autotask::{config, expected};

/// Ids and tenant links, asserting every id arrived once.
fn got(customers: &[Customer]) -> BTreeMap<String, BTreeSet<String>> {
    let map: BTreeMap<_, _> =
        customers.iter().map(|c| (c.id.clone(), c.m365_tenants.iter().map(|t| t.tenant_id.clone()).collect())).collect();
    assert_eq!(map.len(), customers.len(), "a company arrived twice");
    map
}

/// (zone lookups, requests on zone 0, requests on zone 1).
fn counts(sim: &AutotaskSim) -> (usize, usize, usize) {
    let r = sim.requests();
    let on = |l: Listener| r.iter().filter(|q| q.listener == l).count();
    (on(Listener::Lookup), on(Listener::Zone(0)), on(Listener::Zone(1)))
}

/// Every active customer of 1,200 companies once, with its tenant link,
/// through the declared wildcard over TLS on port 443, under page caps 500
/// and 100; one zone lookup plus one request a page.
#[tokio::test]
async fn every_active_customer_through_the_declared_wildcard_over_tls_under_either_cap() {
    for cap in [500, 100] {
        let (sim, ca) = tls_sim(SimOptions { page_cap: cap, ..Default::default() }).await;
        assert_eq!(sim.zone_url(0).as_deref(), Some("https://webservices5.autotask.net/ATServicesRest/"));
        let c = connector(zone_map(&sim, &[]), ca).await;
        let companies = sim.options().companies;
        assert_eq!(companies.len(), 1200);
        let mut session = c.open_session(&config(&sim, &c)).await.expect("opens");
        let outcome = session.import_all(|_| {}).await.expect("imports");
        session.close().await;
        let want = expected(&companies);
        assert_eq!(got(&outcome.customers), want, "cap {cap}: every active customer once, with its tenant link");
        let pages = want.len().div_ceil(cap);
        assert_eq!(counts(&sim), (1, pages, 0), "cap {cap}: one zone lookup and one request a page, all on webservices5");
        assert!(sim.requests().iter().all(|r| r.status == 200), "cap {cap}: {:?}", sim.requests());
        println!("cap {cap}: {} customers, {pages} pages, {} requests", want.len(), sim.requests().len());
    }
}

/// The database moves to webservices15 after two company pages: the old
/// zone answers 401, the connector looks the zone up once more and goes on
/// from its cursor on the new zone; no company lost or repeated.
#[tokio::test]
async fn a_database_moved_mid_import_is_followed_once_and_nothing_is_lost_or_repeated() {
    let (sim, ca) = tls_sim(SimOptions { page_cap: 100, ..Default::default() }).await;
    sim.set_faults(Faults { move_after_pages: Some(MoveAfter { pages: 2, to: 1 }), ..Default::default() });
    let c = connector(zone_map(&sim, &[]), ca).await;
    let companies = sim.options().companies;
    let mut session = c.open_session(&config(&sim, &c)).await.expect("opens");
    let outcome = session.import_all(|_| {}).await.expect("imports across the move");
    session.close().await;
    let want = expected(&companies);
    assert_eq!(got(&outcome.customers), want, "every active customer once, with its tenant link");
    assert_eq!(sim.database_zone(), 1);
    let pages = want.len().div_ceil(100);
    assert!(pages > 3, "the move must fall mid-import ({pages} pages)");
    // Lookups: the first and the one after the 401. Zone 0: two pages and
    // the refused third. Zone 1: the third page again, and the rest.
    assert_eq!(counts(&sim), (2, 3, pages - 2), "{:#?}", sim.requests());
    let moved: Vec<_> = sim.requests().into_iter().filter(|r| r.fault.is_some()).collect();
    assert_eq!(moved.len(), 1, "{moved:#?}");
    assert_eq!((moved[0].status, moved[0].fault.as_deref()), (401, Some("moved")));
    println!("moved after 2 of {pages} pages: {} requests", sim.requests().len());
}

/// A TCP listener that counts the connections it accepts (and drops them).
async fn counting_listener() -> (SocketAddr, Arc<AtomicUsize>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let n = Arc::new(AtomicUsize::new(0));
    let seen = n.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(s);
        }
    });
    (addr, n)
}

/// A zone lookup naming a host outside autotask.net, or a zone over plain
/// http, is refused with an error that says so, and nothing is sent there
/// (each such name and port is mapped to a listener that counts
/// connections).
#[tokio::test]
async fn a_zone_outside_autotask_net_or_over_http_is_refused_without_a_request_to_it() {
    let (trap, dialled) = counting_listener().await;
    for (answer, name, port) in [
        ("https://webservices5.autotask.net.evil.example/ATServicesRest/", "webservices5.autotask.net.evil.example", 443),
        ("https://evil.example/ATServicesRest/", "evil.example", 443),
        ("http://webservices5.autotask.net/ATServicesRest/", "webservices5.autotask.net", 80),
        ("https://webservices5.autotask.net:8443/ATServicesRest/", "webservices5.autotask.net", 8443),
    ] {
        let (sim, ca) = tls_sim(SimOptions { lookup_answers_url: Some(answer.into()), ..Default::default() }).await;
        let c = connector(zone_map(&sim, &[(name, port, trap)]), ca).await;
        let mut session = c.open_session(&config(&sim, &c)).await.expect("opens");
        let e = session.list_customers(None).await.expect_err("refused");
        session.close().await;
        match &e {
            HostError::Connector { error: ConnectorError::Protocol { message, .. }, .. } => {
                assert!(message.contains(answer) && message.contains("not an https address under autotask.net"), "{message}");
            }
            other => panic!("{answer}: expected a protocol error, got {other:?}"),
        }
        assert_eq!(counts(&sim), (1, 0, 0), "{answer}: only the zone lookup");
        assert_eq!(dialled.load(Ordering::SeqCst), 0, "{answer}: the refused zone was dialled");
    }
}

/// The port mapping comes after the allow-list: the allow-list judges the
/// URL's own name and port. `https://example.com` (port 443) mapped to a
/// listener whose name-and-port *is* an allowed origin stays refused, and
/// the listener sees no connection.
#[tokio::test]
async fn the_allow_list_judges_the_original_name_and_port_not_the_mapped_destination() {
    let (trap, dialled) = counting_listener().await;
    let mut dns = DnsOverrides::default();
    dns.connect_to("example.com", 443, trap);
    let host = Host::new(HostOptions::default().allow_loopback(true).dns_overrides(dns)).unwrap();
    let c = host.load("hostile", HOSTILE).await.unwrap();
    // The form admits example.com on the mapped port, then the mapped address itself.
    for target in [format!("https://example.com:{}/", trap.port()), format!("https://127.0.0.1:{}/", trap.port())] {
        let cfg = ConnectionConfig::from_pairs([("mode".to_string(), "outside".to_string()), ("target_url".to_string(), target.clone())], c.info());
        let mut s = c.open_session(&cfg).await.unwrap();
        let e = s.list_customers(None).await.expect_err("refused").to_string();
        assert!(e.contains("https://example.com:443, which is not in this connection's allowed hosts"), "{target}: {e}");
        assert_eq!(dialled.load(Ordering::SeqCst), 0, "{target}: the mapped listener was dialled");
    }
}
