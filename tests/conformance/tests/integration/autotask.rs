//! The Autotask connector (`plugin/autotask`, built on the SDK) in the real
//! sandbox: it passes the conformance suite, and it reaches only its form's
//! zone-lookup URL and the Autotask zones it declares.

use psa_host::{Host, HostOptions};

const AUTOTASK: &[u8] = include_bytes!(env!("PSA_TEST_AUTOTASK_WASM"));

#[tokio::test]
async fn the_autotask_connector_passes_the_conformance_suite() {
    let checks = psa_conformance::run(AUTOTASK).await;
    for c in &checks {
        println!("{}  {}: {}", if c.passed { "PASS" } else { "FAIL" }, c.name, c.detail);
    }
    assert!(checks.len() >= 8, "the suite stopped early: {checks:#?}");
    let failed: Vec<_> = checks.iter().filter(|c| !c.passed).collect();
    assert!(failed.is_empty(), "failed checks: {failed:#?}");
}

#[tokio::test]
async fn the_sandbox_admits_autotask_zones_and_nothing_else_it_declares() {
    let host = Host::new(HostOptions::default()).expect("host");
    let connector = host.load("autotask", AUTOTASK).await.expect("loads");
    assert_eq!(connector.info().id, "autotask");
    let declared: Vec<String> = connector.declared_hosts().iter().map(|o| o.to_string()).collect();
    assert_eq!(declared, ["https://*.autotask.net:443"], "declared hosts");
}

use autotask_sim::{AutotaskSim, SimCompany, SimOptions};
use psa_host::{ConnectionConfig, Connector, Customer};
use std::collections::{BTreeMap, BTreeSet};

async fn autotask(host: &Host) -> Connector {
    host.load("autotask", AUTOTASK).await.expect("loads")
}

async fn sim(opts: SimOptions) -> AutotaskSim {
    AutotaskSim::start(SimOptions { zones_on_lookup_listener: true, ..opts }).await.expect("simulator starts")
}

pub(crate) fn config(sim: &AutotaskSim, c: &Connector) -> ConnectionConfig {
    let mut pairs = sim.connection_form();
    pairs.push(("zone_lookup_url".into(), sim.lookup_url()));
    ConnectionConfig::from_pairs(pairs, c.info())
}

/// Active customers by id, with the tenant each should carry: a GUID in the
/// UDF, unless another imported company carries the same tenant.
pub(crate) fn expected(companies: &[SimCompany]) -> BTreeMap<String, BTreeSet<String>> {
    let wanted: Vec<&SimCompany> = companies.iter().filter(|c| c.is_active_customer()).collect();
    let mut owners: BTreeMap<String, usize> = BTreeMap::new();
    for c in &wanted {
        if let Some(g) = c.tenant_guid() {
            *owners.entry(g).or_default() += 1;
        }
    }
    wanted
        .iter()
        .map(|c| {
            let t = c.tenant_guid().filter(|g| owners[g] == 1).into_iter().collect();
            (c.id.to_string(), t)
        })
        .collect()
}

fn got(customers: &[Customer]) -> BTreeMap<String, BTreeSet<String>> {
    customers.iter().map(|c| (c.id.clone(), c.m365_tenants.iter().map(|t| t.tenant_id.clone()).collect())).collect()
}

/// Every active customer of a 1,200-company database, once, with its tenant
/// link, through the sandbox, under Autotask's cap of 500 and a cap of 100;
/// the request count is one zone lookup plus one request a page.
#[tokio::test]
async fn every_active_customer_of_1200_companies_once_under_either_page_cap() {
    let host = Host::new(HostOptions::default().allow_loopback(true)).expect("host");
    let c = autotask(&host).await;
    for cap in [500, 100] {
        let sim = sim(SimOptions { page_cap: cap, ..Default::default() }).await;
        let companies = sim.options().companies;
        assert_eq!(companies.len(), 1200);
        let mut session = c.open_session(&config(&sim, &c)).await.expect("opens");
        let outcome = session.import_all(|_| {}).await.expect("imports");
        session.close().await;
        let want = expected(&companies);
        assert_eq!(outcome.customers.len(), want.len(), "cap {cap}: every active customer once");
        assert_eq!(got(&outcome.customers), want, "cap {cap}: ids and tenant links");
        let requests = sim.requests().len();
        let pages = want.len().div_ceil(cap);
        assert_eq!(requests, 1 + pages, "cap {cap}: one zone lookup and one request a page");
        println!("cap {cap}: {} customers, {} pages, {requests} requests", want.len(), outcome.pages);
    }
}
