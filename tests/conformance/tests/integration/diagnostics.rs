//! What a support engineer sees for each broken HaloPSA connection: the
//! failed `test-connection` step and the typed error of a real call, with the
//! real host and the bundled connector against the simulator, as insta
//! snapshots (`snapshots/integration__diagnostics__*.snap`).
//!
//! Update after a deliberate wording change with
//! `INSTA_UPDATE=always cargo test -p psa-conformance --test integration diagnostics::`,
//! then read every changed `.snap` file. With `CI=true` a mismatch fails.
//! Random ports are replaced by `<PORT>`-style placeholders.

use crate::common::*;
use halo_sim::{sample_customers, Faults, HaloSim, SimOptions, TenantFailure, TenantLinks};
use psa_host::{CheckStep, Connector, ConnectorError, Host, HostError, HostOptions, Limits, StepStatus};
use std::time::Duration;

fn small() -> SimOptions {
    SimOptions { customers: sample_customers(12, 2), ..Default::default() }
}

/// `http://127.0.0.1:PA/auth` → port PA.
fn port_of(url: &str) -> String {
    let after = url.split("://").nth(1).unwrap_or(url);
    let authority = after.split('/').next().unwrap_or(after);
    authority.rsplit(':').next().unwrap_or("").to_string()
}

/// Ports replaced by names, so snapshots are stable.
struct Ports(Vec<(String, &'static str)>);

impl Ports {
    fn of(sim: &HaloSim) -> Ports {
        Ports(vec![(port_of(&sim.auth_url()), "<AUTH-PORT>"), (port_of(&sim.resource_url()), "<API-PORT>")])
    }
    fn with(mut self, port: u16, name: &'static str) -> Ports {
        self.0.push((port.to_string(), name));
        self
    }
    fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (port, name) in &self.0 {
            out = out.replace(&format!(":{port}"), &format!(":{name}"));
        }
        out
    }
}

fn describe_error(e: &ConnectorError) -> String {
    match e {
        ConnectorError::InvalidConfig { field, .. } => format!("invalid-config (field {field})"),
        ConnectorError::Unreachable { host, stage, .. } => format!("unreachable (host {host}, stage {stage:?})"),
        ConnectorError::Unauthorized { .. } => "unauthorized".to_string(),
        ConnectorError::Forbidden { permission, .. } => format!("forbidden (permission {permission})"),
        ConnectorError::RateLimited { retry_after_seconds, .. } => format!("rate-limited ({retry_after_seconds:?})"),
        ConnectorError::Upstream { status, endpoint, .. } => format!("upstream (HTTP {status} on {endpoint})"),
        ConnectorError::Protocol { endpoint, .. } => format!("protocol (endpoint {endpoint})"),
        ConnectorError::Internal { .. } => "internal".to_string(),
        ConnectorError::NotFound { .. } => "not-found".to_string(),
        ConnectorError::NotSupported { .. } => "not-supported".to_string(),
    }
}

fn error_message(e: &ConnectorError) -> &str {
    match e {
        ConnectorError::InvalidConfig { message, .. }
        | ConnectorError::Unreachable { message, .. }
        | ConnectorError::Unauthorized { message }
        | ConnectorError::Forbidden { message, .. }
        | ConnectorError::RateLimited { message, .. }
        | ConnectorError::Upstream { message, .. }
        | ConnectorError::Protocol { message, .. }
        | ConnectorError::Internal { message }
        | ConnectorError::NotFound { message }
        | ConnectorError::NotSupported { message } => message,
    }
}

/// The failed step (all before it passed, all after it skipped), as text.
fn failed_step(steps: &[CheckStep]) -> String {
    let i = steps
        .iter()
        .position(|s| s.status == StepStatus::Failed)
        .unwrap_or_else(|| panic!("no step failed: {steps:#?}"));
    assert!(steps[..i].iter().all(|s| s.status == StepStatus::Passed), "{steps:#?}");
    assert!(steps[i + 1..].iter().all(|s| s.status == StepStatus::Skipped), "{steps:#?}");
    let mut out = String::new();
    if i > 0 && steps[0].message.contains("assumed") {
        out.push_str(&format!("form-valid (passed): {}\n", steps[0].message));
    }
    out.push_str(&format!("failed step: {}\nstep message: {}\n", steps[i].id, steps[i].message));
    out
}

/// Connection test plus one `list-customers` call, on `connector`.
async fn diagnose_on(connector: &Connector, f: Vec<(String, String)>, secret: &str) -> String {
    let cfg = config(connector, f);
    let steps = connector.test_connection(&cfg).await.expect("test-connection runs");
    let mut out = failed_step(&steps);
    let mut s = connector.open_session(&cfg).await.expect("open");
    match s.list_customers(None).await {
        Err(HostError::Connector { error, .. }) => {
            out.push_str(&format!("error kind: {}\n", describe_error(&error)));
            let m = error_message(&error);
            let step = &steps.iter().find(|s| s.status == StepStatus::Failed).unwrap().message;
            if m == step {
                out.push_str("error message: (same as the step message)\n");
            } else {
                out.push_str(&format!("error message: {m}\n"));
            }
        }
        Err(e) => panic!("expected a connector error, got {e}"),
        Ok(p) => {
            out.push_str(&format!("list-customers: {} customers\n", p.customers.len()));
            for w in &p.warnings {
                out.push_str(&format!("warning {}: {}\n", w.code, w.message));
            }
        }
    }
    assert!(!out.contains(secret), "the secret leaked: {out}");
    out
}

async fn diagnose(f: Vec<(String, String)>, secret: &str) -> String {
    diagnose_on(&halo().await, f, secret).await
}

const SECRET: &str = "sim-secret-0123456789abcdef";

#[tokio::test]
async fn wrong_secret() {
    let sim = start(small()).await;
    let mut f = form(&sim);
    set(&mut f, "client_secret", "wrong-secret-value-123");
    let out = diagnose(f, "wrong-secret-value-123").await;
    insta::assert_snapshot!(Ports::of(&sim).scrub(&out));
}

#[tokio::test]
async fn wrong_client_id() {
    let sim = start(small()).await;
    let mut f = form(&sim);
    set(&mut f, "client_id", "not-the-client");
    let out = diagnose(f, SECRET).await;
    insta::assert_snapshot!(Ports::of(&sim).scrub(&out));
}

fn failure_name(f: TenantFailure) -> &'static str {
    match f {
        TenantFailure::InvalidClient => "invalid_client",
        TenantFailure::BadRequest => "bad_request",
        TenantFailure::NotFoundHtml => "not_found_html",
    }
}

const FAILURES: [TenantFailure; 3] = [TenantFailure::InvalidClient, TenantFailure::BadRequest, TenantFailure::NotFoundHtml];

#[tokio::test]
async fn missing_tenant() {
    for failure in FAILURES {
        let sim = start(SimOptions { tenant: Some("acme".into()), tenant_failure: failure, ..small() }).await;
        let mut f = form(&sim);
        f.retain(|(k, _)| k != "tenant");
        let out = diagnose(f, SECRET).await;
        insta::assert_snapshot!(format!("missing_tenant_{}", failure_name(failure)), Ports::of(&sim).scrub(&out));
    }
}

#[tokio::test]
async fn wrong_tenant() {
    for failure in FAILURES {
        let sim = start(SimOptions { tenant: Some("acme".into()), tenant_failure: failure, ..small() }).await;
        let mut f = form(&sim);
        set(&mut f, "tenant", "acme-typo");
        let out = diagnose(f, SECRET).await;
        insta::assert_snapshot!(format!("wrong_tenant_{}", failure_name(failure)), Ports::of(&sim).scrub(&out));
    }
}

#[tokio::test]
async fn missing_read_customers() {
    let sim = start(SimOptions { app_permissions: vec!["read:tickets".into()], ..small() }).await;
    let out = diagnose(form(&sim), SECRET).await;
    insta::assert_snapshot!(Ports::of(&sim).scrub(&out));
}

#[tokio::test]
async fn login_type_not_agent() {
    let sim = start(SimOptions { agent_login: false, ..small() }).await;
    let out = diagnose(form(&sim), SECRET).await;
    insta::assert_snapshot!(Ports::of(&sim).scrub(&out));
}

#[tokio::test]
async fn missing_admin_for_tenant_links() {
    let sim = start(SimOptions {
        app_permissions: vec!["read:customers".into()],
        tenant_links: TenantLinks::CspOnly,
        ..small()
    })
    .await;
    let out = diagnose(form(&sim), SECRET).await;
    insta::assert_snapshot!(Ports::of(&sim).scrub(&out));
}

#[tokio::test]
async fn dns_failure() {
    let sim = start(small()).await;
    let mut f = form(&sim);
    set(&mut f, "authorization_server_url", "https://no-such-instance.invalid/auth");
    let out = diagnose(f, SECRET).await;
    insta::assert_snapshot!(Ports::of(&sim).scrub(&out));
}

#[tokio::test]
async fn connection_refused() {
    let (_refusing, port) = refusing_port();
    let sim = start(small()).await;
    let mut f = form(&sim);
    set(&mut f, "authorization_server_url", &format!("http://127.0.0.1:{port}/auth"));
    let out = diagnose(f, SECRET).await;
    insta::assert_snapshot!(Ports::of(&sim).with(port, "<CLOSED-PORT>").scrub(&out));
}

#[tokio::test]
async fn timeout() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let mut limits = Limits::default();
    limits.connect_timeout = Duration::from_secs(1);
    limits.first_byte_timeout = Duration::from_secs(1);
    let host = Host::new(HostOptions::default().allow_loopback(true).limits(limits)).expect("host");
    let connector = host.load("halopsa", psa_host::bundled::HALOPSA).await.expect("loads");
    let sim = start(small()).await;
    let mut f = form(&sim);
    set(&mut f, "authorization_server_url", &format!("http://127.0.0.1:{port}/auth"));
    let out = diagnose_on(&connector, f, SECRET).await;
    silent.abort();
    insta::assert_snapshot!(Ports::of(&sim).with(port, "<SILENT-PORT>").scrub(&out));
}

#[tokio::test]
async fn tls_not_trusted() {
    let (tls, _ca_der) = halo_sim::test_ca(&["localhost"]);
    let sim = start(SimOptions { tls: Some(tls), ..small() }).await;
    assert!(sim.auth_url().starts_with("https://localhost:"), "{}", sim.auth_url());
    // The default host does not trust the test CA.
    let out = diagnose(form(&sim), SECRET).await;
    insta::assert_snapshot!(Ports::of(&sim).scrub(&out));
}

#[tokio::test]
async fn resource_url_serves_a_login_page() {
    let sim = start(small()).await;
    sim.set_faults(Faults { html_login_page: true, ..Default::default() });
    let out = diagnose(form(&sim), SECRET).await;
    // The login page also answers /api/authinfo: nothing to add.
    insta::assert_snapshot!(Ports::of(&sim).scrub(&out));
}

#[tokio::test]
async fn resource_url_points_at_a_web_page() {
    let sim = start(small()).await;
    let mut f = form(&sim);
    set(&mut f, "resource_server_url", &format!("{}/portal", sim.instance_url()));
    let out = diagnose(f, SECRET).await;
    let authinfo = sim.requests().iter().filter(|r| r.path.eq_ignore_ascii_case("/api/authinfo")).count();
    assert_eq!(authinfo, 2, "one authinfo request per failing call");
    insta::assert_snapshot!(Ports::of(&sim).scrub(&out));
}

#[tokio::test]
async fn token_endpoint_404_authinfo_names_the_auth_server() {
    let sim = start(small()).await;
    let mut f = form(&sim);
    set(&mut f, "authorization_server_url", &format!("{}/auth", sim.instance_url()));
    let out = diagnose(f, SECRET).await;
    insta::assert_snapshot!(Ports::of(&sim).scrub(&out));
}

#[tokio::test]
async fn token_endpoint_404_without_authinfo() {
    let sim = start(SimOptions { authinfo: false, ..small() }).await;
    let mut f = form(&sim);
    set(&mut f, "authorization_server_url", &format!("{}/auth", sim.instance_url()));
    let out = diagnose(f, SECRET).await;
    assert!(!out.contains("Halo reports"), "{out}");
    insta::assert_snapshot!(Ports::of(&sim).scrub(&out));
}

#[tokio::test]
async fn scope_rejected() {
    let sim = start(small()).await;
    let mut f = form(&sim);
    set(&mut f, "scope", "read:everything");
    let out = diagnose(f, SECRET).await;
    // A scope error is not about URLs or tenants: no authinfo request.
    assert!(sim.requests().iter().all(|r| !r.path.eq_ignore_ascii_case("/api/authinfo")));
    insta::assert_snapshot!(Ports::of(&sim).scrub(&out));
}

/// A strict proxy in front of Halo's token endpoint answers 411 Length
/// Required (nginx's page): not the wrong-URL message.
#[tokio::test]
async fn token_endpoint_behind_a_strict_proxy() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let page = "<html>\r\n<head><title>411 Length Required</title></head>\r\n<body>\r\n<center><h1>411 Length Required</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
    let proxy = raw_server(move |head, mut sock| async move {
        // The body first (by its length), so the answer is not a reset.
        let length: usize = head
            .to_ascii_lowercase()
            .lines()
            .find_map(|l| l.strip_prefix("content-length:").and_then(|v| v.trim().parse().ok()))
            .unwrap_or(0);
        let mut have = head.split_once("\r\n\r\n").map_or(0, |(_, b)| b.len());
        let mut buf = [0u8; 1024];
        while have < length {
            match sock.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => have += n,
            }
        }
        let answer = format!(
            "HTTP/1.1 411 Length Required\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
            page.len()
        );
        let _ = sock.write_all(answer.as_bytes()).await;
        let _ = sock.shutdown().await;
    })
    .await;
    let sim = start(small()).await;
    let mut f = form(&sim);
    set(&mut f, "authorization_server_url", &format!("http://{proxy}/auth"));
    let out = diagnose(f, SECRET).await;
    insta::assert_snapshot!(Ports::of(&sim).with(proxy.port(), "<PROXY-PORT>").scrub(&out));
}
