//! Every broken-connection case gives the right typed error, an actionable
//! message, and the matching failed step in the connection test.

use crate::common::*;
use halo_sim::{sample_customers, Faults, SimOptions, TenantFailure};
use psa_host::{CheckStep, ConnectorError, HostError, NetworkStage, StepStatus};

async fn list_error(sim_form: Vec<(String, String)>) -> ConnectorError {
    let halo = halo().await;
    let mut s = halo.open_session(&config(&halo, sim_form)).await.expect("open");
    match s.list_customers(None).await {
        Err(HostError::Connector { error, .. }) => error,
        Err(e) => panic!("expected a connector error, got {e}"),
        Ok(p) => panic!("expected an error, got {} customers", p.customers.len()),
    }
}

async fn steps(sim_form: Vec<(String, String)>) -> Vec<CheckStep> {
    let halo = halo().await;
    halo.test_connection(&config(&halo, sim_form)).await.expect("test-connection runs")
}

/// The id of the first failed step; every step after it must be skipped.
fn failed_step(steps: &[CheckStep]) -> (&str, &str) {
    let i = steps.iter().position(|s| s.status == StepStatus::Failed).unwrap_or_else(|| panic!("no step failed: {steps:#?}"));
    assert!(steps[..i].iter().all(|s| s.status == StepStatus::Passed), "{steps:#?}");
    assert!(steps[i + 1..].iter().all(|s| s.status == StepStatus::Skipped), "{steps:#?}");
    (&steps[i].id, &steps[i].message)
}

fn small() -> SimOptions {
    SimOptions { customers: sample_customers(30, 2), ..Default::default() }
}

#[tokio::test]
async fn all_steps_pass_on_a_healthy_instance() {
    let sim = start(small()).await;
    let st = steps(form(&sim)).await;
    let ids: Vec<&str> = st.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        ["form-valid", "auth-server-reachable", "credentials-accepted", "customers-readable", "tenant-links-readable", "tickets-readable"]
    );
    assert!(st.iter().all(|s| s.status == StepStatus::Passed), "{st:#?}");
    assert!(st[3].message.contains("30"), "customer count in {:?}", st[3].message);
}

#[tokio::test]
async fn wrong_secret() {
    let sim = start(small()).await;
    let secret = "wrong-secret-value-123";
    let mut f = form(&sim);
    set(&mut f, "client_secret", secret);
    let e = list_error(f.clone()).await;
    let ConnectorError::Unauthorized { message } = &e else { panic!("{e:?}") };
    assert!(message.contains("Client ID") && message.contains("Client Secret"), "{message}");
    assert!(!message.contains(secret), "secret in message");
    let st = steps(f).await;
    let (id, msg) = failed_step(&st);
    assert_eq!(id, "credentials-accepted");
    assert!(!msg.contains(secret));
}

#[tokio::test]
async fn wrong_client_id() {
    let sim = start(small()).await;
    let mut f = form(&sim);
    set(&mut f, "client_id", "not-the-client");
    let e = list_error(f.clone()).await;
    let ConnectorError::Unauthorized { message } = &e else { panic!("{e:?}") };
    assert!(message.contains("Client ID"), "{message}");
    assert_eq!(failed_step(&steps(f).await).0, "credentials-accepted");
}

#[tokio::test]
async fn missing_or_wrong_tenant_on_a_hosted_instance() {
    for failure in [TenantFailure::InvalidClient, TenantFailure::BadRequest, TenantFailure::NotFoundHtml] {
        let sim = start(SimOptions { tenant: Some("acme".into()), tenant_failure: failure.clone(), ..small() }).await;
        // Missing: the admin left the Tenant field empty.
        let mut missing = form(&sim);
        missing.retain(|(k, _)| k != "tenant");
        let e = list_error(missing.clone()).await;
        assert!(
            matches!(e, ConnectorError::Unauthorized { .. } | ConnectorError::Protocol { .. } | ConnectorError::Upstream { .. }),
            "{failure:?}: {e:?}"
        );
        assert!(e.to_string().to_lowercase().contains("tenant"), "{failure:?}: no tenant hint in {e}");
        let st = steps(missing).await;
        let (id, msg) = failed_step(&st);
        assert!(id == "credentials-accepted" || id == "auth-server-reachable", "{failure:?}: {id}");
        assert!(msg.to_lowercase().contains("tenant"), "{failure:?}: {msg}");
        // Wrong.
        let mut wrong = form(&sim);
        set(&mut wrong, "tenant", "acme-typo");
        let e = list_error(wrong).await;
        assert!(e.to_string().contains("acme-typo") || e.to_string().to_lowercase().contains("tenant"), "{failure:?}: {e}");
    }
}

#[tokio::test]
async fn missing_read_customers_permission() {
    let sim = start(SimOptions { app_permissions: vec!["read:tickets".into()], ..small() }).await;
    let e = list_error(form(&sim)).await;
    let ConnectorError::Forbidden { permission, message } = &e else { panic!("{e:?}") };
    assert_eq!(permission, "read:customers");
    assert!(message.contains("Agent"), "login type hint missing: {message}");
    assert_eq!(failed_step(&steps(form(&sim)).await).0, "customers-readable");
}

#[tokio::test]
async fn missing_tenant_mapping_permission_is_a_warning_not_a_failure() {
    let sim = start(SimOptions {
        app_permissions: vec!["read:customers".into()],
        tenant_links: halo_sim::TenantLinks::CspOnly,
        ..small()
    })
    .await;
    let halo = halo().await;
    let mut s = halo.open_session(&config(&halo, form(&sim))).await.unwrap();
    let out = s.import_all(|_| {}).await.expect("import still works");
    assert_eq!(out.customers.len(), 30);
    assert!(out.customers.iter().all(|c| c.m365_tenants.is_empty()));
    let w = out.warnings.iter().find(|w| w.code == "tenant-links-forbidden").expect("warning");
    assert!(w.message.contains("admin"), "{}", w.message);
    // The diagnosis says so as a failed last step.
    let st = steps(form(&sim)).await;
    assert_eq!(failed_step(&st).0, "tenant-links-readable");
}

#[tokio::test]
async fn login_type_not_agent() {
    let sim = start(SimOptions { agent_login: false, ..small() }).await;
    let e = list_error(form(&sim)).await;
    assert!(matches!(e, ConnectorError::Forbidden { .. }), "{e:?}");
    assert!(e.to_string().contains("Agent"), "{e}");
}

#[tokio::test]
async fn unreachable_host() {
    let (_refusing, port) = refusing_port();
    let sim = start(small()).await;
    let mut f = form(&sim);
    set(&mut f, "authorization_server_url", &format!("http://127.0.0.1:{port}/auth"));
    let e = list_error(f.clone()).await;
    let ConnectorError::Unreachable { host, stage, message } = &e else { panic!("{e:?}") };
    assert!(host.contains("127.0.0.1"), "{host}");
    assert_eq!(*stage, NetworkStage::Connect);
    assert!(message.to_lowercase().contains("firewall") || message.contains("reach"), "{message}");
    assert_eq!(failed_step(&steps(f).await).0, "auth-server-reachable");
}

#[tokio::test]
async fn unknown_host_name() {
    let sim = start(small()).await;
    let mut f = form(&sim);
    set(&mut f, "authorization_server_url", "https://no-such-instance.invalid/auth");
    let e = list_error(f).await;
    let ConnectorError::Unreachable { stage, .. } = &e else { panic!("{e:?}") };
    assert_eq!(*stage, NetworkStage::Dns, "{e}");
}

#[tokio::test]
async fn html_instead_of_json() {
    let sim = start(small()).await;
    sim.set_faults(Faults { html_login_page: true, ..Default::default() });
    let e = list_error(form(&sim)).await;
    let ConnectorError::Protocol { endpoint, message } = &e else { panic!("{e:?}") };
    assert!(endpoint.contains("/api/Client"), "{endpoint}");
    assert!(message.contains("HTML"), "{message}");
    assert!(!message.contains("<html"), "raw HTML leaked: {message}");
    assert_eq!(failed_step(&steps(form(&sim)).await).0, "customers-readable");
}

#[tokio::test]
async fn server_error_with_html_body() {
    let sim = start(small()).await;
    sim.set_faults(Faults { server_error_next: 100, ..Default::default() });
    let e = list_error(form(&sim)).await;
    let ConnectorError::Upstream { status, message, .. } = &e else { panic!("{e:?}") };
    assert_eq!(*status, 502);
    assert!(!message.contains("<"), "raw HTML leaked: {message}");
}

#[tokio::test]
async fn rate_limit_is_a_typed_error() {
    let sim = start(small()).await;
    sim.set_faults(Faults { rate_limit_next: 100, retry_after: Some(42), ..Default::default() });
    let e = list_error(form(&sim)).await;
    let ConnectorError::RateLimited { retry_after_seconds, .. } = &e else { panic!("{e:?}") };
    assert_eq!(*retry_after_seconds, Some(42));
}

#[tokio::test]
async fn invalid_form_names_the_field() {
    let sim = start(small()).await;
    let halo = halo().await;
    let mut f = form(&sim);
    f.retain(|(k, _)| k != "client_id");
    match halo.open_session(&config(&halo, f.clone())).await {
        Err(HostError::Connector { error: ConnectorError::InvalidConfig { field, .. }, .. }) => assert_eq!(field, "client_id"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened without a client id"),
    }
    let st = steps(f).await;
    assert_eq!(failed_step(&st).0, "form-valid");
    assert!(sim.requests().is_empty(), "no request for an invalid form");
}
