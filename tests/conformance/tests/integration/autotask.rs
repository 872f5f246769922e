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
