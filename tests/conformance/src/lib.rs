//! The conformance suite every PSA connector must pass, whatever PSA it
//! talks to. It needs no PSA: it checks the self-description, how the
//! connector treats an empty or wrong form, and that network failures come
//! back as typed errors rather than crashes.
//!
//! Run it on any component: `cargo run -p psa-conformance -- my_connector.wasm`.
//! The host's integration tests (this crate's `tests/`) run it on the bundled
//! HaloPSA connector.

use psa_host::{ConnectionConfig, Connector, ConnectorError, FieldKind, Host, HostError, HostOptions, StepStatus};
use std::collections::HashSet;

/// The result of one check.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

fn check(name: &'static str, result: Result<String, String>) -> Check {
    match result {
        Ok(detail) => Check { name, passed: true, detail },
        Err(detail) => Check { name, passed: false, detail },
    }
}

/// Runs every check on the component `wasm`.
pub async fn run(wasm: &[u8]) -> Vec<Check> {
    let host = match Host::new(HostOptions::default().allow_loopback(true)) {
        Ok(h) => h,
        Err(e) => return vec![Check { name: "host starts", passed: false, detail: e.to_string() }],
    };
    let connector = match host.load("connector under test", wasm).await {
        Ok(c) => c,
        Err(e) => return vec![Check { name: "loads in the sandbox", passed: false, detail: e.to_string() }],
    };
    let mut checks = vec![Check { name: "loads in the sandbox", passed: true, detail: format!("{} {}", connector.info().id, connector.info().version) }];
    checks.push(check("self-description is complete", self_description(&connector)));
    checks.push(check("info is stable across instances", info_stable(&host, wasm, &connector).await));
    checks.push(check("empty form: test-connection fails its first step", empty_form_check(&connector).await));
    checks.push(check("empty form: open names a required field", empty_form_open(&connector).await));
    checks.push(check("non-http URL field is refused as invalid config", bad_url_open(&connector).await));
    checks.push(check("unreachable PSA: test-connection fails cleanly", unreachable_check(&connector).await));
    checks.push(check("unreachable PSA: list-customers is a typed error", unreachable_list(&connector).await));
    checks
}

fn self_description(c: &Connector) -> Result<String, String> {
    let info = c.info();
    if info.id.is_empty() || info.id.chars().any(|ch| !(ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '_')) {
        return Err(format!("id `{}` must be non-empty lower-case ascii", info.id));
    }
    if info.display_name.trim().is_empty() || info.version.trim().is_empty() {
        return Err("display-name and version must be set".into());
    }
    let mut ids = HashSet::new();
    for f in &info.fields {
        if f.id.is_empty() || !ids.insert(f.id.as_str()) {
            return Err(format!("field id `{}` is empty or repeated", f.id));
        }
        if f.label.trim().is_empty() || f.help.trim().is_empty() {
            return Err(format!("field `{}` needs a label and help text", f.id));
        }
    }
    let urls = info.fields.iter().filter(|f| f.kind == FieldKind::Url).count();
    if urls == 0 && info.allowed_hosts.is_empty() {
        return Err("no url field and no allowed-hosts: the connector could reach nothing".into());
    }
    Ok(format!("{} fields, {} url field(s), capabilities {}", info.fields.len(), urls, info.capabilities.join(", ")))
}

async fn info_stable(host: &Host, wasm: &[u8], c: &Connector) -> Result<String, String> {
    let again = host.load("connector under test", wasm).await.map_err(|e| e.to_string())?;
    let (a, b) = (serde_like(c), serde_like(&again));
    if a == b { Ok("identical".into()) } else { Err(format!("first {a}\nsecond {b}")) }
}

fn serde_like(c: &Connector) -> String {
    format!("{:?}", c.info())
}

fn config(c: &Connector, pairs: Vec<(String, String)>) -> ConnectionConfig {
    ConnectionConfig::from_pairs(pairs, c.info())
}

/// Every required field filled: URLs point at `base`, the rest with dummies.
fn filled(c: &Connector, base: &str) -> ConnectionConfig {
    let pairs = c
        .info()
        .fields
        .iter()
        .filter(|f| f.required || f.kind == FieldKind::Url)
        .map(|f| {
            let v = match f.kind {
                FieldKind::Url => base.to_string(),
                FieldKind::Flag => "true".to_string(),
                FieldKind::Secret => "conformance-secret-value".to_string(),
                FieldKind::Text => "conformance".to_string(),
                FieldKind::Choice => f
                    .default_value
                    .clone()
                    .or_else(|| f.choices.first().map(|c| c.value.clone()))
                    .unwrap_or_default(),
                FieldKind::Number => f
                    .default_value
                    .clone()
                    .or_else(|| f.range.map(|r| r.min.to_string()))
                    .unwrap_or_else(|| "1".to_string()),
            };
            (f.id.clone(), v)
        })
        .collect();
    config(c, pairs)
}

async fn empty_form_check(c: &Connector) -> Result<String, String> {
    let steps = c.test_connection(&config(c, vec![])).await.map_err(|e| e.to_string())?;
    let first = steps.first().ok_or("no steps returned")?;
    if first.status != StepStatus::Failed {
        return Err(format!("first step `{}` is {:?}", first.id, first.status));
    }
    if steps.iter().any(|s| s.status == StepStatus::Passed) {
        return Err("a step passed with an empty form".into());
    }
    if first.message.trim().is_empty() {
        return Err("the failed step has no message".into());
    }
    Ok(format!("`{}`: {}", first.id, first.message))
}

async fn empty_form_open(c: &Connector) -> Result<String, String> {
    let required: Vec<&str> = c.info().fields.iter().filter(|f| f.required).map(|f| f.id.as_str()).collect();
    if required.is_empty() {
        return Ok("no required fields".into());
    }
    match c.open_session(&config(c, vec![])).await {
        Ok(_) => Err("open succeeded with an empty form".into()),
        Err(HostError::Connector { error: ConnectorError::InvalidConfig { field, message }, .. }) => {
            if required.contains(&field.as_str()) {
                Ok(format!("`{field}`: {message}"))
            } else {
                Err(format!("named `{field}`, which is not a required field"))
            }
        }
        Err(e) => Err(format!("expected invalid-config, got: {e}")),
    }
}

async fn bad_url_open(c: &Connector) -> Result<String, String> {
    let Some(url_field) = c.info().fields.iter().find(|f| f.kind == FieldKind::Url) else {
        return Ok("no url fields".into());
    };
    let mut cfg: Vec<(String, String)> = filled(c, "http://127.0.0.1:9").entries().to_vec();
    for (k, v) in cfg.iter_mut() {
        if *k == url_field.id {
            *v = "ftp://files.example.com/x".into();
        }
    }
    match c.open_session(&config(c, cfg)).await {
        Ok(_) => Err(format!("open accepted ftp:// in `{}`", url_field.id)),
        Err(HostError::Connector { error: ConnectorError::InvalidConfig { field, .. }, .. }) if field == url_field.id => {
            Ok(format!("`{field}` refused"))
        }
        Err(e) => Err(format!("expected invalid-config on `{}`, got: {e}", url_field.id)),
    }
}

/// A loopback port with nothing listening.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    port
}

async fn unreachable_check(c: &Connector) -> Result<String, String> {
    let cfg = filled(c, &format!("http://127.0.0.1:{}", closed_port()));
    let steps = c.test_connection(&cfg).await.map_err(|e| e.to_string())?;
    let failed = steps.iter().find(|s| s.status == StepStatus::Failed).ok_or("no step failed against a closed port")?;
    Ok(format!("`{}`: {}", failed.id, failed.message))
}

async fn unreachable_list(c: &Connector) -> Result<String, String> {
    if !c.info().capabilities.iter().any(|k| k == "list-customers") {
        return Ok("no list-customers capability".into());
    }
    let cfg = filled(c, &format!("http://127.0.0.1:{}", closed_port()));
    let mut s = c.open_session(&cfg).await.map_err(|e| format!("open failed: {e}"))?;
    match s.list_customers(None).await {
        Ok(_) => Err("list-customers succeeded against a closed port".into()),
        Err(HostError::Connector { error: e @ ConnectorError::Unreachable { .. }, .. }) => Ok(e.to_string()),
        Err(e) => Err(format!("expected an unreachable error, got: {e}")),
    }
}
