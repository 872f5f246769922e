//! A self-hosted Halo with a certificate from a private CA: the import fails
//! as "not trusted" until the host is given that CA.

use crate::common::*;
use halo_sim::{sample_customers, test_ca, SimOptions};
use psa_host::{ConnectorError, Host, HostError, HostOptions, NetworkStage};

#[tokio::test]
async fn the_import_needs_the_private_ca_and_works_with_it() {
    let (tls, ca_der) = test_ca(&["localhost"]);
    let sim = start(SimOptions { tls: Some(tls), customers: sample_customers(120, 3), ..Default::default() }).await;
    assert!(sim.resource_url().starts_with("https://localhost:"), "{}", sim.resource_url());

    // Without the CA: not trusted.
    let host = Host::new(HostOptions::default().allow_loopback(true)).unwrap();
    let halo = host.load("halopsa", psa_host::bundled::HALOPSA).await.unwrap();
    let mut s = halo.open_session(&config(&halo, form(&sim))).await.unwrap();
    match s.list_customers(None).await {
        Err(HostError::Connector { error: ConnectorError::Unreachable { stage: NetworkStage::Tls, message, .. }, .. }) => {
            assert!(message.contains("not trusted"), "{message}")
        }
        other => panic!("expected a TLS error, got {:?}", other.map(|p| p.customers.len())),
    }

    // With it: every customer.
    let mut options = HostOptions::default().allow_loopback(true);
    options.extra_roots = vec![ca_der];
    let host = Host::new(options).unwrap();
    let halo = host.load("halopsa", psa_host::bundled::HALOPSA).await.unwrap();
    let mut s = halo.open_session(&config(&halo, form(&sim))).await.unwrap();
    assert_eq!(s.import_all(|_| {}).await.expect("import over TLS").customers.len(), 120);
}

#[tokio::test]
async fn a_certificate_that_is_not_a_ca_is_rejected_when_the_host_starts() {
    let mut options = HostOptions::default();
    options.extra_roots = vec![b"not a certificate".to_vec()];
    let e = Host::new(options).err().expect("refused");
    assert!(e.to_string().contains("extra CA certificate #1"), "{e}");
}
