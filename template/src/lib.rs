//! A PSA connector: the starting point for your own.
//!
//! It talks to a small example REST API (the fictional "Example PSA"):
//! `GET {base_url}/customers?page=N` with `Authorization: Bearer <api key>`,
//! answering `{"customers":[{"id":1,"name":"Acme","active":true,
//! "tenant_id":"<guid>"|null}], "next_page":2|null}`.
//!
//! Everything between the connector and the platform comes from the SDK
//! (`psa_connector_sdk`): the contract's types, the `Connector` and
//! `Session` traits, `export_connector!`, the sandbox's HTTP client and the
//! form, cursor and error helpers. This file holds only what is about
//! the PSA: its name and the connector's id, the form, the API's URLs and
//! JSON, and the messages.
//!
//! Replace the API details (the URL, the JSON shapes, the error texts) with
//! your PSA's; keep the structure. Comments marked "Contract:" point at a
//! promise of `wit/0.2.0/psa-connector.wit` that the code next to them keeps.

use psa_connector_sdk::cursor::{self, CursorError, Progress};
use psa_connector_sdk::form::{self, FieldSpec, Form, FormProblem, UrlProblem};
use psa_connector_sdk::http::{self, ErrorKind, HttpError, Phase, Request, Transport, WasiHttp};
use psa_connector_sdk::{
    export_connector, Capability, CheckStep, ConfigEntry, Connector, ConnectorInfo, Customer, CustomerPage, Error,
    FieldKind, RequestBudget, StepStatus, TenantLink, Warning,
};

// The connector's id and the PSA's name: this block is the one place they
// are written (`psa-host new NAME` writes them here), so renaming the
// connector is an edit of these two lines.
/// The connector's id: lower-case letters, digits and `-`, the same for the
/// connector's whole life (the platform keeps connections under it).
const CONNECTOR_ID: &str = "example-psa";
/// The PSA's name as its users know it, in every label and message: a
/// macro, so that `concat!` builds the form's constant labels from it.
macro_rules! psa_name { () => { "Example PSA" }; }
const PSA_NAME: &str = psa_name!();

/// The connection form, in display order.
const FIELDS: [FieldSpec; 3] = [
    // A `url` field is what lets the sandbox reach that host.
    FieldSpec::new("base_url", concat!(psa_name!(), " URL"), concat!("Your ", psa_name!(), " address, e.g. https://psa.example.com"), FieldKind::Url).required(),
    // A `secret` is stored encrypted and scrubbed from the host's log.
    FieldSpec::new("api_key", "API key", concat!("Create an API key in ", psa_name!(), " under Settings > API, with permission to read customers."), FieldKind::Secret).required(),
    FieldSpec::new("include_inactive", "Include inactive customers", concat!("Also import customers that ", psa_name!(), " marks inactive."), FieldKind::Flag).default_value("true"),
];

/// The component: `info` and `test-connection` need no session.
struct Example;

impl Connector for Example {
    type Session = ExampleSession;

    /// Contract: pure, no network, the same answer on every call.
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            id: CONNECTOR_ID.into(),
            display_name: PSA_NAME.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            contract_version: psa_connector_sdk::CONTRACT_VERSION.into(), // the wit folder the SDK was built against
            capabilities: vec![Capability::TestConnection, Capability::ListCustomers, Capability::M365TenantLinks],
            fields: form::fields(&FIELDS),
            allowed_hosts: Vec::new(), // fixed API hosts besides the URL fields; usually none
            // Your PSA's published rate limit (requests per window, and in flight
            // at once if it limits them); the host paces requests to keep it.
            // `None` leaves pacing to the host's defaults.
            budget: Some(RequestBudget { requests: 600, window_seconds: 60, concurrency: None }),
            ticket_option_kinds: Vec::new(), // with the `ticket-options` capability: the kinds listed
        }
    }

    /// Contract: never fails as a whole; `form-valid` first, then each network
    /// step in order; a step after a failed one is `skipped`.
    fn test_connection(config: Vec<ConfigEntry>) -> Vec<CheckStep> {
        let step = |id: &str, label: &str, status, message: String| CheckStep { id: id.into(), label: label.into(), status, message };
        let api_label = format!("{PSA_NAME} API answers");
        let cfg = match Config::parse(Form::from_config(config)) {
            Ok(cfg) => cfg,
            Err(e) => {
                return vec![
                    step("form-valid", "Connection form complete", StepStatus::Failed, e.message().to_string()),
                    step("api-reachable", &api_label, StepStatus::Skipped, "Skipped: fix the connection form first.".into()),
                ]
            }
        };
        let form = step("form-valid", "Connection form complete", StepStatus::Passed, format!("Will connect to {}.", cfg.base_url));
        let api = match fetch_page(&cfg, &mut WasiHttp::new(), 1) {
            Ok(page) => step("api-reachable", &api_label, StepStatus::Passed, format!("The API key works; the first page lists {} customers.", page.customers.len())),
            Err(e) => step("api-reachable", &api_label, StepStatus::Failed, e.message().to_string()),
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
    fn parse(form: Form) -> Result<Config, Error> {
        form.check(&FIELDS).map_err(form_error)?;
        let raw_url = form.value("base_url").unwrap_or_default();
        let base_url = form::normalise_url(raw_url).map_err(|p| url_error(raw_url, p))?.url;
        let api_key = form.value("api_key").unwrap_or_default().to_string();
        if api_key.chars().any(|c| c.is_control() || c.is_whitespace()) {
            // Never echo the key itself: say what is wrong with it.
            return Err(Error::config("api_key", format!("The API key contains spaces or line breaks. Copy it again from {PSA_NAME} and paste it without them.")));
        }
        let include_inactive = form.flag("include_inactive", true).map_err(form_error)?;
        Ok(Config { base_url, api_key, include_inactive })
    }
}

/// A form problem in the PSA's words.
fn form_error(p: FormProblem) -> Error {
    match p {
        FormProblem::Missing { field: "api_key", .. } => {
            Error::config("api_key", format!("The API key is missing. Create one in {PSA_NAME} under Settings > API and paste it here."))
        }
        FormProblem::Missing { field: "base_url", .. } => {
            Error::config("base_url", format!("The {PSA_NAME} URL is missing. Enter your {PSA_NAME} address, e.g. https://psa.example.com."))
        }
        FormProblem::Missing { field, label } => Error::config(field, format!("{label} is missing; fill it in.")),
        FormProblem::Unknown { field } => Error::config(&field, format!("`{field}` is not a field of the {PSA_NAME} connector; remove it.")),
        FormProblem::NotAFlag { field, value } => Error::config(&field, format!("`{value}` is not a yes/no value; use true or false.")),
        // For `FieldSpec::choice` and `FieldSpec::number` fields (none here yet).
        FormProblem::NotAChoice { field, label, choices, .. } => {
            Error::config(field, format!("{label} must be one of: {}.", choices.join(", ")))
        }
        FormProblem::NotANumber { field, label, .. } => Error::config(field, format!("{label} must be a whole number.")),
        FormProblem::OutOfRange { field, label, min, max, .. } => {
            Error::config(field, format!("{label} must be a number from {min} to {max}."))
        }
    }
}

/// A URL problem in the PSA's words.
fn url_error(raw: &str, p: UrlProblem) -> Error {
    let fix = format!("Enter your {PSA_NAME} address, e.g. https://psa.example.com.");
    let message = match p {
        UrlProblem::Empty => format!("The {PSA_NAME} URL is missing. {fix}"),
        UrlProblem::Scheme(s) => format!("The {PSA_NAME} URL must start with https:// (it starts with {s}://). {fix}"),
        UrlProblem::UserInfo => format!("The {PSA_NAME} URL contains a user name or password; the API key goes in its own field. {fix}"),
        _ => format!("`{}` is not a web address. {fix}", raw.chars().take(200).collect::<String>()),
    };
    Error::config("base_url", message)
}

/// One open connection.
struct ExampleSession {
    config: Config,
    /// Keeps `fetched` right when the host retries a page.
    progress: Progress,
}

impl psa_connector_sdk::Session for ExampleSession {
    /// Contract: checks the form, does no network I/O.
    fn open(config: Vec<ConfigEntry>) -> Result<Self, Error> {
        Ok(ExampleSession { config: Config::parse(Form::from_config(config))?, progress: Progress::default() })
    }

    /// Contract: the cursor is opaque to the platform; here it is the next
    /// page number. The same cursor re-reads the same page, so a retry never
    /// duplicates customers; `None` as next cursor ends the import.
    fn list_customers(&mut self, cursor: Option<String>) -> Result<CustomerPage, Error> {
        let page = cursor::page_number(cursor.as_deref()).map_err(|_| {
            Error::internal("The page cursor was not issued by this connector; start the import again.")
        })?;
        let result = fetch_page(&self.config, &mut WasiHttp::new(), page)?;
        let fetched = self.progress.page(cursor.as_deref(), result.customers.len(), result.next_cursor.as_deref());
        Ok(CustomerPage {
            customers: result.customers,
            warnings: result.warnings,
            next_cursor: result.next_cursor,
            fetched,
            total: None, // the example API does not report a total
        })
    }

    // `list_customers_changed`, `create_ticket`, `find_open_ticket`, `add_note`
    // and `ticket_options`: not offered (no such capability declared); the
    // SDK's defaults answer `not-supported`, naming the call, as the contract
    // requires. Override one and declare its capability to offer it.
}

/// What the PSA sends. Unknown fields are ignored; a missing or mistyped
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
    next_cursor: Option<String>,
}

/// GET one page and turn it into contract types; every HTTP status has its
/// error variant here. `net` is the SDK's HTTP client (`WasiHttp`) in the
/// component, a scripted one in native tests.
fn fetch_page(cfg: &Config, net: &mut dyn Transport, page: u32) -> Result<Page, Error> {
    let request = Request::get(http::url(&cfg.base_url, "/customers", &[("page", &page.to_string())]))
        .bearer(&cfg.api_key)
        .header("Accept", "application/json");
    let endpoint = request.endpoint.clone();
    let resp = net.send(&request).map_err(network_error)?;
    match resp.status {
        200..=299 => {}
        401 => return Err(Error::unauthorized(format!("{PSA_NAME} rejected the API key (HTTP 401). Create a new key under Settings > API in {PSA_NAME} and paste it into the API key field."))),
        403 => return Err(Error::forbidden("customers:read", format!("The API key is valid but may not read customers (HTTP 403). In {PSA_NAME}, open Settings > API and give the key the customers:read permission."))),
        429 => return Err(Error::rate_limited(resp.retry_after(), format!("{PSA_NAME} asks to slow down (HTTP 429): too many requests with this API key. Wait the time it names, then try again."))),
        status => {
            // Prefer the PSA's own error text, but never let it echo the key.
            let theirs = serde_json::from_slice::<serde_json::Value>(&resp.body).ok().and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned));
            let message = match theirs {
                Some(t) => format!("{PSA_NAME} answered HTTP {status}: {}", t.replace(&cfg.api_key, "[api key]").chars().take(300).collect::<String>()),
                None => format!("{PSA_NAME} answered HTTP {status}. Check the {PSA_NAME} status page, or try again later."),
            };
            return Err(Error::upstream(status, &endpoint, message));
        }
    }
    if resp.is_html() {
        return Err(Error::protocol(&endpoint, format!("The address answered with a web page, not the {PSA_NAME} API. Check that base_url is the API address, e.g. https://psa.example.com.")));
    }
    let api: ApiPage = serde_json::from_slice(&resp.body).map_err(|e| Error::protocol(&endpoint, format!("The answer is not the JSON {PSA_NAME} sends ({e}). Check that base_url is the {PSA_NAME} API address.")))?;
    let next_cursor = cursor::next_page(page, api.next_page).map_err(|e| match e {
        CursorError::NotForward(now, next) => Error::protocol(&endpoint, format!("{PSA_NAME} named page {next} as the one after page {now}; the import would never end.")),
        _ => Error::protocol(&endpoint, format!("{PSA_NAME} named an unusable next page.")),
    })?;
    let mut out = Page { customers: Vec::new(), warnings: Vec::new(), next_cursor };
    for c in api.customers {
        let id = match &c.id {
            // A whole number: `2^64` or `-1` is a wrong answer, not an id
            // (turned into a string, two such customers would share one).
            serde_json::Value::Number(n) if n.is_u64() => n.to_string(),
            serde_json::Value::String(s) if !s.is_empty() => s.clone(),
            _ => return Err(Error::protocol(&endpoint, format!("A customer named `{}` has no usable id.", c.name))),
        };
        if !c.active && !cfg.include_inactive {
            continue;
        }
        let mut tenants = Vec::new();
        if let Some(raw) = c.tenant_id.as_deref().filter(|t| !t.trim().is_empty()) {
            // Contract: tenant ids are lower-case GUIDs; drop others with a warning.
            match form::normalise_guid(raw) {
                Some(tenant_id) => tenants.push(TenantLink { tenant_id, name: None, domain: None }),
                None => out.warnings.push(Warning {
                    code: "invalid-tenant-id".into(),
                    message: format!("Customer {} ({id}) has tenant id `{raw}`, which is not a GUID; the link was skipped. Correct it in {PSA_NAME}.", c.name),
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

/// A network failure in the PSA's words: the SDK says what failed
/// (`kind`), where (`phase`) and with which host; the message is ours.
fn network_error(e: HttpError) -> Error {
    let host = e.host.as_str();
    let message = match &e.kind {
        ErrorKind::Dns => format!("The name {host} could not be resolved. Check the spelling of the {PSA_NAME} address in base_url."),
        // The sandbox refused the request: the host is not one of the
        // connection's URL fields, or plain http was used outside tests.
        ErrorKind::Denied => format!("The sandbox refused the request to {host}: a connector may reach only the address in its URL fields, over https. Check base_url."),
        ErrorKind::Prohibited => format!("{host} resolves to an internal network address, which the platform does not connect to. Use the public address of {PSA_NAME} in base_url."),
        ErrorKind::Timeout if e.phase == Phase::Body => format!("{host} stopped sending its answer part-way. Check that {PSA_NAME} is up, then try again."),
        ErrorKind::Timeout => format!("{host} did not answer in time. Check that {PSA_NAME} is up and reachable from the internet, then try again."),
        ErrorKind::TlsCertificate | ErrorKind::TlsProtocol => format!("The secure connection to {host} failed: its certificate is not trusted, expired or issued for another name. Check base_url, or fix the server's certificate."),
        ErrorKind::TooLarge => return Error::protocol(&e.endpoint, format!("The answer of {} is larger than the connector accepts; check that base_url is the {PSA_NAME} API address.", e.endpoint)),
        ErrorKind::InvalidRequest(what) => return Error::internal(format!("The connector could not build its request ({what}). This is a bug in the connector; please report it.")),
        _ if e.phase == Phase::Body => format!("The connection to {host} broke off while the answer was being read. Try again; if it keeps happening, check what sits between the platform and {PSA_NAME}."),
        _ => format!("Could not connect to {host}. Check that base_url is right and that {PSA_NAME} is up and reachable from the internet."),
    };
    Error::unreachable(host, e.kind.network_stage(), message)
}

export_connector!(Example);

// Plain functions are unit-tested natively: `cargo test` (no wasm needed).
#[cfg(test)]
mod tests {
    use super::*;
    use psa_connector_sdk::http::Scripted;
    use psa_connector_sdk::NetworkStage;
    use serde_json::json;

    fn cfg() -> Config {
        let form = Form::new([("base_url", " PSA.example.com/ "), ("api_key", "k")].map(|(k, v)| (k.to_string(), v.to_string())));
        Config::parse(form).unwrap()
    }

    #[test]
    fn forms_are_checked() {
        assert_eq!(cfg().base_url, "https://psa.example.com");
        let parse = |pairs: &[(&str, &str)]| Config::parse(Form::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()))));
        for (pairs, field) in [
            (&[("api_key", "k")][..], "base_url"),
            (&[("base_url", "ftp://x.example"), ("api_key", "k")][..], "base_url"),
            (&[("base_url", "https://u@h.example"), ("api_key", "k")][..], "base_url"),
            (&[("base_url", "psa.example.com")][..], "api_key"),
            (&[("base_url", "psa.example.com"), ("api_key", "a b")][..], "api_key"),
            (&[("base_url", "psa.example.com"), ("api_key", "k"), ("include_inactive", "maybe")][..], "include_inactive"),
        ] {
            match parse(pairs) {
                Err(Error::InvalidConfig { field: f, .. }) => assert_eq!(f, field, "{pairs:?}"),
                _ => panic!("{pairs:?}"),
            }
        }
    }

    /// The SDK's `http::Scripted` answers in order and records each request.
    #[test]
    fn pages_become_customers_and_warnings() {
        let mut net = Scripted::new().json(
            200,
            json!({"customers": [
                {"id": 1, "name": "A", "tenant_id": "{6F1C2A3B-0D4E-4F5A-8B9C-0D1E2F3A4B5C}"},
                {"id": "c-2", "name": "B", "tenant_id": "x"}
            ], "next_page": 2}),
        );
        let page = fetch_page(&cfg(), &mut net, 1).unwrap();
        assert_eq!(net.sent[0].url, "https://psa.example.com/customers?page=1");
        assert_eq!(net.header(0, "authorization"), Some("Bearer k"));
        assert_eq!(page.customers[0].m365_tenants[0].tenant_id, "6f1c2a3b-0d4e-4f5a-8b9c-0d1e2f3a4b5c");
        assert_eq!((page.warnings.len(), page.next_cursor.as_deref()), (1, Some("2")));
        let mut net = Scripted::new().json(200, json!({"customers": [], "next_page": 1}));
        assert!(matches!(fetch_page(&cfg(), &mut net, 1), Err(Error::Protocol { .. })));
        // A number that is no whole number is not an id.
        let mut net = Scripted::new().body(200, r#"{"customers":[{"id":18446744073709551616,"name":"A"}],"next_page":null}"#);
        assert!(matches!(fetch_page(&cfg(), &mut net, 1), Err(Error::Protocol { .. })));
        let mut net = Scripted::new().json(401, json!({}));
        assert!(matches!(fetch_page(&cfg(), &mut net, 1), Err(Error::Unauthorized(_))));
    }

    #[test]
    fn a_timeout_inside_the_body_is_not_a_failure_to_connect() {
        let mut net = Scripted::new().fail_in(Phase::Body, ErrorKind::Timeout);
        match fetch_page(&cfg(), &mut net, 1) {
            Err(Error::Unreachable { host, stage, message }) => {
                assert_eq!((host.as_str(), stage), ("psa.example.com", NetworkStage::Timeout));
                assert!(message.contains("stopped sending its answer"), "{message}");
            }
            _ => panic!("not unreachable"),
        }
        let mut net = Scripted::new().fail_in(Phase::Body, ErrorKind::Broken);
        let e = fetch_page(&cfg(), &mut net, 1).err().map(|e| e.message().to_string()).unwrap_or_default();
        assert!(e.contains("broke off while the answer was being read") && !e.contains("Could not connect"), "{e}");
    }
}
