//! Example PSA connector: the starting point for your own connector.
//!
//! It talks to a fictional "Example PSA" REST API:
//! `GET {base_url}/customers?page=N` with `Authorization: Bearer <api key>`,
//! answering `{"customers":[{"id":1,"name":"Acme","active":true,
//! "tenant_id":"<guid>"|null}], "next_page":2|null}`.
//!
//! Replace the API details (the URL, the JSON shapes, the error texts) with
//! your PSA's; keep the structure. Comments marked "Contract:" point at a
//! promise of `wit/0.1.0/psa-connector.wit` that the code next to them keeps.

// Generates Rust types for the contract (the `types` and `connector`
// interfaces) and raw bindings for every WASI interface (`wasi::http`, ...).
// `path` is relative to this crate's Cargo.toml: adjust it if you copy the
// `wit/0.1.0` folder somewhere else.
wit_bindgen::generate!({
    path: "../wit/0.1.0",
    world: "psa-connector",
    generate_all,
});

mod http;

use exports::optimize365::psa_connector::connector::{Guest, GuestSession, Session};
pub(crate) use optimize365::psa_connector::types;
use std::cell::RefCell;
use std::collections::HashMap;
use types::*;

/// The component: `info` and `test-connection` need no session.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Component;

impl Guest for Component {
    type Session = ExampleSession;

    /// Contract: pure, no network, the same answer on every call.
    fn info() -> ConnectorInfo {
        let field = |id: &str, label: &str, help: &str, kind, required, default: Option<&str>| ConfigField {
            id: id.into(),
            label: label.into(),
            help: help.into(),
            kind,
            required,
            default_value: default.map(Into::into),
        };
        ConnectorInfo {
            id: "example-psa".into(), // lower case; rename it for your connector
            display_name: "Example PSA".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            contract_version: "0.1.0".into(), // the wit folder this was built against
            capabilities: vec![Capability::TestConnection, Capability::ListCustomers, Capability::M365TenantLinks],
            fields: vec![
                // A `url` field is what lets the sandbox reach that host.
                field("base_url", "Example PSA URL", "Your Example PSA address, e.g. https://psa.example.com", FieldKind::Url, true, None),
                // A `secret` is stored encrypted and scrubbed from the host's log.
                field("api_key", "API key", "Create an API key in Example PSA under Settings > API, with permission to read customers.", FieldKind::Secret, true, None),
                field("include_inactive", "Include inactive customers", "Also import customers that Example PSA marks inactive.", FieldKind::Flag, false, Some("true")),
            ],
            allowed_hosts: Vec::new(), // fixed API hosts besides the URL fields; usually none
        }
    }

    /// Contract: never fails as a whole; `form-valid` first, then each network
    /// step in order; a step after a failed one is `skipped`.
    fn test_connection(config: Vec<ConfigEntry>) -> Vec<CheckStep> {
        let step = |id: &str, label: &str, status, message: String| CheckStep { id: id.into(), label: label.into(), status, message };
        let cfg = match Config::parse(&config) {
            Ok(cfg) => cfg,
            Err(e) => {
                return vec![
                    step("form-valid", "Connection form complete", StepStatus::Failed, describe(&e)),
                    step("api-reachable", "Example PSA API answers", StepStatus::Skipped, "Skipped: fix the connection form first.".into()),
                ]
            }
        };
        let form = step("form-valid", "Connection form complete", StepStatus::Passed, format!("Will connect to {}.", cfg.base_url));
        let api = match fetch_page(&cfg, 1) {
            Ok(page) => step("api-reachable", "Example PSA API answers", StepStatus::Passed, format!("The API key works; the first page lists {} customers.", page.customers.len())),
            Err(e) => step("api-reachable", "Example PSA API answers", StepStatus::Failed, describe(&e)),
        };
        vec![form, api]
    }
}

/// The connection form, checked and normalised.
struct Config {
    /// `http(s)://host[:port][/path]`, lower-case scheme and host, no trailing slash.
    base_url: String,
    api_key: String,
    include_inactive: bool,
}

impl Config {
    /// Contract (`open`): only `invalid-config` errors, each naming its field.
    fn parse(entries: &[ConfigEntry]) -> Result<Config, ConnectorError> {
        let value = |id: &str| entries.iter().find(|e| e.id == id).map(|e| e.value.trim()).unwrap_or("");
        let bad = |field: &str, message: String| ConnectorError::InvalidConfig(ConfigError { field: field.into(), message });

        let base_url = normalize_url(value("base_url")).map_err(|m| bad("base_url", m))?;
        let api_key = value("api_key").to_string();
        if api_key.is_empty() {
            return Err(bad("api_key", "The API key is missing. Create one in Example PSA under Settings > API and paste it here.".into()));
        }
        if api_key.chars().any(|c| c.is_control() || c.is_whitespace()) {
            // Never echo the key itself: say what is wrong with it.
            return Err(bad("api_key", "The API key contains spaces or line breaks. Copy it again from Example PSA and paste it without them.".into()));
        }
        let include_inactive = match value("include_inactive").to_ascii_lowercase().as_str() {
            "" | "true" => true, // empty: the field's default
            "false" => false,
            other => return Err(bad("include_inactive", format!("`{other}` is not a yes/no value; use true or false."))),
        };
        Ok(Config { base_url, api_key, include_inactive })
    }
}

/// Trims, adds `https://` when no scheme is given, refuses other schemes, and
/// strips trailing slashes. The error is a sentence for the admin.
fn normalize_url(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("The Example PSA URL is missing. Enter your Example PSA address, e.g. https://psa.example.com.".into());
    }
    let (scheme, rest) = raw.split_once("://").unwrap_or(("https", raw));
    let (scheme, rest) = (scheme.to_ascii_lowercase(), rest.trim_end_matches('/'));
    if scheme != "https" && scheme != "http" {
        return Err(format!("The Example PSA URL must start with https:// (it starts with {scheme}://). Enter your Example PSA address, e.g. https://psa.example.com."));
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let port_ok = match authority.rsplit_once(':') {
        Some((host, port)) if !authority.ends_with(']') => !host.is_empty() && port.parse::<u16>().is_ok(),
        _ => true,
    };
    if authority.is_empty() || !port_ok || rest.chars().any(|c| c.is_whitespace() || c.is_control() || "?#@\\".contains(c)) {
        return Err(format!("`{raw}` is not a web address. Enter your Example PSA address, e.g. https://psa.example.com."));
    }
    Ok(format!("{scheme}://{}{path}", authority.to_ascii_lowercase()))
}

/// One open connection. Contract: calls on one session never overlap; the
/// `RefCell` only gives `&self` methods somewhere to keep state.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct ExampleSession {
    config: Config,
    /// Customers returned before each page (page 1: 0), so that `fetched`
    /// stays right when the host retries a page.
    fetched_before: RefCell<HashMap<u32, u64>>,
}

impl GuestSession for ExampleSession {
    /// Contract: checks the form, does no network I/O.
    fn open(config: Vec<ConfigEntry>) -> Result<Session, ConnectorError> {
        let config = Config::parse(&config)?;
        Ok(Session::new(ExampleSession { config, fetched_before: RefCell::new(HashMap::new()) }))
    }

    /// Contract: the cursor is opaque to the platform; here it is the next
    /// page number. The same cursor re-reads the same page, so a retry never
    /// duplicates customers; `None` as next cursor ends the import.
    fn list_customers(&self, cursor: Option<String>) -> Result<CustomerPage, ConnectorError> {
        let page = match cursor.as_deref() {
            None => 1,
            Some(c) => match c.parse::<u32>() {
                Ok(n) if n >= 1 => n,
                _ => return Err(ConnectorError::Internal(format!("The page cursor `{c}` was not issued by this connector; start the import again."))),
            },
        };
        let mut result = fetch_page(&self.config, page)?;
        let mut counts = self.fetched_before.try_borrow_mut().map_err(|_| ConnectorError::Internal("The session is already busy with another call.".into()))?;
        let before = counts.get(&page).copied().unwrap_or(0);
        let fetched = before + result.customers.len() as u64;
        if let Some(next) = result.next_page {
            counts.insert(next, fetched);
        }
        Ok(CustomerPage {
            customers: std::mem::take(&mut result.customers),
            warnings: result.warnings,
            next_cursor: result.next_page.map(|n| n.to_string()),
            fetched,
            total: None, // Example PSA does not report a total
        })
    }

    /// Not offered (no `create-ticket` capability), so the platform does not
    /// call it; the contract allows `internal` here.
    fn create_ticket(&self, _ticket: NewTicket) -> Result<TicketRef, ConnectorError> {
        Err(ConnectorError::Internal("not supported by this connector".into()))
    }
}

/// What Example PSA sends. Unknown fields are ignored; a missing or mistyped
/// field makes the whole answer a `protocol` error.
#[derive(serde::Deserialize)]
struct ApiPage {
    customers: Vec<ApiCustomer>,
    #[serde(default)]
    next_page: Option<u32>,
}

#[derive(serde::Deserialize)]
struct ApiCustomer {
    id: serde_json::Value, // a number or a string
    name: String,
    #[serde(default = "yes")]
    active: bool,
    #[serde(default)]
    tenant_id: Option<String>,
}

fn yes() -> bool {
    true
}

struct Page {
    customers: Vec<Customer>,
    warnings: Vec<Warning>,
    next_page: Option<u32>,
}

/// GET one page and turn it into contract types; every HTTP status has its
/// error variant here.
fn fetch_page(cfg: &Config, page: u32) -> Result<Page, ConnectorError> {
    let url = format!("{}/customers?page={page}", cfg.base_url);
    let endpoint = format!("{}/customers", url_path(&cfg.base_url));
    let resp = http::get(&url, &cfg.api_key)?;
    let protocol = |message: String| ConnectorError::Protocol(ProtocolError { endpoint: endpoint.clone(), message });
    match resp.status {
        200..=299 => {}
        401 => return Err(ConnectorError::Unauthorized("Example PSA rejected the API key (HTTP 401). Create a new key under Settings > API in Example PSA and paste it into the API key field.".into())),
        403 => return Err(ConnectorError::Forbidden(ForbiddenError {
            permission: "customers:read".into(),
            message: "The API key is valid but may not read customers (HTTP 403). In Example PSA, open Settings > API and give the key the customers:read permission.".into(),
        })),
        429 => return Err(ConnectorError::RateLimited(RateLimitError {
            retry_after_seconds: resp.retry_after.as_deref().and_then(|s| s.trim().parse().ok()),
            message: "Example PSA asks to slow down (HTTP 429): too many requests with this API key. Wait the time it names, then try again.".into(),
        })),
        status => {
            // Prefer the PSA's own error text, but never let it echo the key.
            let theirs = serde_json::from_slice::<serde_json::Value>(&resp.body).ok().and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned));
            let message = match theirs {
                Some(t) => format!("Example PSA answered HTTP {status}: {}", t.replace(&cfg.api_key, "[api key]").chars().take(300).collect::<String>()),
                None => format!("Example PSA answered HTTP {status}. Check the Example PSA status page, or try again later."),
            };
            return Err(ConnectorError::Upstream(UpstreamError { status, endpoint, message }));
        }
    }
    if resp.body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<') {
        return Err(protocol("The address answered with a web page, not the Example PSA API. Check that base_url is the API address, e.g. https://psa.example.com.".into()));
    }
    let api: ApiPage = serde_json::from_slice(&resp.body).map_err(|e| protocol(format!("The answer is not the JSON Example PSA sends ({e}). Check that base_url is the Example PSA API address.")))?;
    if api.next_page.is_some_and(|n| n <= page) {
        return Err(protocol(format!("Example PSA named page {} as the one after page {page}; the import would never end.", api.next_page.unwrap_or(0))));
    }
    let mut out = Page { customers: Vec::new(), warnings: Vec::new(), next_page: api.next_page };
    for c in api.customers {
        let id = match &c.id {
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(s) if !s.is_empty() => s.clone(),
            _ => return Err(protocol(format!("A customer named `{}` has no usable id.", c.name))),
        };
        if !c.active && !cfg.include_inactive {
            continue;
        }
        let mut tenants = Vec::new();
        if let Some(raw) = c.tenant_id.as_deref().filter(|t| !t.trim().is_empty()) {
            // Contract: tenant ids are lower-case GUIDs; drop others with a warning.
            match canonical_guid(raw) {
                Some(tenant_id) => tenants.push(TenantLink { tenant_id, name: None, domain: None }),
                None => out.warnings.push(Warning {
                    code: "invalid-tenant-id".into(),
                    message: format!("Customer {} ({id}) has tenant id `{raw}`, which is not a GUID; the link was skipped. Correct it in Example PSA.", c.name),
                    customer_id: Some(id.clone()),
                }),
            }
        }
        out.customers.push(Customer {
            id,
            name: c.name,
            active: c.active,
            parent_id: None,
            parent_name: None,
            website: None,
            domains: Vec::new(),
            m365_tenants: tenants,
        });
    }
    Ok(out)
}

/// The path part of a normalised base URL (`""` or `/api`).
fn url_path(base_url: &str) -> &str {
    let rest = base_url.split_once("://").map_or(base_url, |(_, r)| r);
    rest.find('/').map_or("", |i| &rest[i..])
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in lower case, braces allowed; else `None`.
fn canonical_guid(s: &str) -> Option<String> {
    let t = s.trim().trim_start_matches('{').trim_end_matches('}').to_ascii_lowercase();
    let parts: Vec<&str> = t.split('-').collect();
    let ok = parts.len() == 5
        && parts.iter().zip([8, 4, 4, 4, 12]).all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()));
    ok.then_some(t)
}

/// An error as the sentence shown in a failed check step.
fn describe(e: &ConnectorError) -> String {
    match e {
        ConnectorError::InvalidConfig(c) => c.message.clone(),
        ConnectorError::Unreachable(u) => u.message.clone(),
        ConnectorError::Unauthorized(m) | ConnectorError::Internal(m) => m.clone(),
        ConnectorError::Forbidden(f) => f.message.clone(),
        ConnectorError::RateLimited(r) => r.message.clone(),
        ConnectorError::Upstream(u) => u.message.clone(),
        ConnectorError::Protocol(p) => p.message.clone(),
    }
}

// Plain functions are unit-tested natively: `cargo test` (no wasm needed).
#[cfg(test)]
mod tests {
    #[test]
    fn urls_are_normalised_or_refused() {
        let n = |s: &str| super::normalize_url(s);
        assert_eq!(n(" PSA.example.com/ ").as_deref(), Ok("https://psa.example.com"));
        assert_eq!(n("http://127.0.0.1:8080/api//").as_deref(), Ok("http://127.0.0.1:8080/api"));
        for bad in ["", "ftp://files.example.com/x", "https://", "https://h:x", "https://u@h", "https://h/?q"] {
            assert!(n(bad).is_err(), "{bad}");
        }
        assert_eq!(super::canonical_guid("{6F1C2A3B-0D4E-4F5A-8B9C-0D1E2F3A4B5C}").as_deref(), Some("6f1c2a3b-0d4e-4f5a-8b9c-0d1e2f3a4b5c"));
        assert_eq!(super::canonical_guid("not-a-guid"), None);
    }
}

// Natively (`cargo build`, `cargo test`) the exports are left out: their names
// (`optimize365:psa-connector/connector@0.1.0#info`) are not valid symbols in
// a native shared library, and the link would fail.
#[cfg(target_arch = "wasm32")]
export!(Component);
