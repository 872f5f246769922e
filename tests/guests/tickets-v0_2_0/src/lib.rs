//! A test connector built against contract 0.2.0 with raw `wit-bindgen` on
//! `wit/0.2.0` (not the SDK, so the host's 0.2.0 bindings are tested
//! against the contract itself). It offers every 0.2.0 capability and talks
//! to the mini PSA of the tests (`tests/guests/mini-psa.rs`) through
//! `wasi:http`:
//!
//! | call | request |
//! |---|---|
//! | `list-customers` | `GET /customers?page=N&size=<page_size>` |
//! | `list-customers-changed` | the same with `&since=T` |
//! | `create-ticket` | `POST /tickets` (key, text, HTML, options by kind) |
//! | `find-open-ticket` | `GET /tickets?customer=C&key=K` (the newest) |
//! | `add-note` | `POST /tickets/{id}/notes` |
//! | `ticket-options` | `GET /options/{kind}` |
//!
//! It declares a request budget of 5 requests per 2 s, 2 at once, so a test
//! can see the host's pacer keep it. Its `behaviour` field (a `choice`)
//! makes it answer with hostile values the host must refuse:
//!
//! | behaviour | what it does |
//! |---|---|
//! | `normal` | nothing wrong |
//! | `javascript-url` | ticket links are `javascript:alert(1)` |
//! | `huge-options` | `ticket-options` lists 100 000 options |
//! | `long-ticket-id` | ticket ids of 1 MiB |
//! | `empty-ticket-id` | ticket ids that are empty |
//! | `control-chars` | ticket numbers and option names with ESC and newlines |
//! | `echo-secret` | the `api_key` field's value in ticket numbers, links and option names |

wit_bindgen::generate!({
    path: "../../../wit/0.2.0",
    world: "psa-connector",
    generate_all,
});

use exports::optimize365::psa_connector::connector::{Guest, GuestSession, Session};
use optimize365::psa_connector::types::*;
use serde_json::Value;
use wasi::http::{outgoing_handler, types as http};

struct Tickets;

struct State {
    base: String,
    page_size: u32,
    behaviour: String,
    api_key: String,
}

const BEHAVIOURS: [&str; 7] =
    ["normal", "javascript-url", "huge-options", "long-ticket-id", "empty-ticket-id", "control-chars", "echo-secret"];

impl Guest for Tickets {
    type Session = State;

    fn info() -> ConnectorInfo {
        ConnectorInfo {
            id: "tickets-v0_2_0".into(),
            display_name: "Tickets 0.2.0 test connector".into(),
            version: "0.2.0".into(),
            contract_version: "0.2.0".into(),
            capabilities: vec![
                Capability::TestConnection,
                Capability::ListCustomers,
                Capability::CreateTicket,
                Capability::TicketDedup,
                Capability::TicketOptions,
                Capability::CustomersChangedSince,
            ],
            fields: vec![
                ConfigField {
                    id: "base_url".into(),
                    label: "Base URL".into(),
                    help: "The mini PSA's address".into(),
                    kind: FieldKind::Url,
                    required: true,
                    default_value: None,
                    choices: vec![],
                    range: None,
                },
                ConfigField {
                    id: "page_size".into(),
                    label: "Page size".into(),
                    help: "Customers per request".into(),
                    kind: FieldKind::Number,
                    required: false,
                    default_value: Some("50".into()),
                    choices: vec![],
                    range: Some(NumberRange { min: 1, max: 1000 }),
                },
                ConfigField {
                    id: "api_key".into(),
                    label: "API key".into(),
                    help: "Not used by the mini PSA; echoed by the echo-secret behaviour".into(),
                    kind: FieldKind::Secret,
                    required: false,
                    default_value: None,
                    choices: vec![],
                    range: None,
                },
                ConfigField {
                    id: "behaviour".into(),
                    label: "Behaviour".into(),
                    help: "How the test connector behaves".into(),
                    kind: FieldKind::Choice,
                    required: false,
                    default_value: Some("normal".into()),
                    choices: BEHAVIOURS
                        .iter()
                        .map(|b| FieldChoice { value: b.to_string(), label: b.replace('-', " ") })
                        .collect(),
                    range: None,
                },
            ],
            allowed_hosts: vec![],
            budget: Some(RequestBudget { requests: 5, window_seconds: 2, concurrency: Some(2) }),
            // Priority twice on purpose: the host keeps each kind once.
            ticket_option_kinds: vec![OptionKind::TicketType, OptionKind::Priority, OptionKind::Outcome, OptionKind::Priority],
        }
    }

    fn test_connection(config: Vec<ConfigEntry>) -> Vec<CheckStep> {
        let step = |status, message: String| CheckStep { id: "reachable".into(), label: "PSA reachable".into(), status, message };
        match State::from_config(&config) {
            Err(e) => vec![step(StepStatus::Failed, format!("{e:?}"))],
            Ok(s) => match call(&s.base, "GET", "/customers?page=1&size=1", None) {
                Ok(_) => vec![step(StepStatus::Passed, "the PSA answered".into())],
                Err(e) => vec![step(StepStatus::Failed, format!("{e:?}"))],
            },
        }
    }
}

fn invalid(field: &str, message: &str) -> ConnectorError {
    ConnectorError::InvalidConfig(ConfigError { field: field.into(), message: message.into() })
}

impl State {
    fn from_config(config: &[ConfigEntry]) -> Result<State, ConnectorError> {
        let get = |id: &str| config.iter().find(|e| e.id == id).map(|e| e.value.as_str());
        let base = get("base_url").filter(|v| !v.is_empty()).ok_or_else(|| invalid("base_url", "required"))?;
        let page_size = match get("page_size") {
            None | Some("") => 50,
            Some(v) => v.parse().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| invalid("page_size", "1 to 1000"))?,
        };
        let behaviour = match get("behaviour") {
            None | Some("") => "normal".to_string(),
            Some(b) if BEHAVIOURS.contains(&b) => b.to_string(),
            Some(_) => return Err(invalid("behaviour", "not one of the choices")),
        };
        let api_key = get("api_key").unwrap_or_default().to_string();
        Ok(State { base: base.trim_end_matches('/').to_string(), page_size, behaviour, api_key })
    }

    fn page(&self, cursor: Option<String>, since: Option<u64>) -> Result<CustomerPage, ConnectorError> {
        let page: u64 = cursor.as_deref().unwrap_or("1").parse().map_err(|_| ConnectorError::Internal("bad cursor".into()))?;
        let since = since.map(|s| format!("&since={s}")).unwrap_or_default();
        let v = call(&self.base, "GET", &format!("/customers?page={page}&size={}{since}", self.page_size), None)?;
        let customers: Vec<Customer> = v["customers"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|c| Customer {
                id: c["id"].as_str().unwrap_or_default().into(),
                name: c["name"].as_str().unwrap_or_default().into(),
                active: c["active"].as_bool().unwrap_or(true),
                parent_id: None,
                parent_name: None,
                website: None,
                domains: vec![],
                m365_tenants: vec![],
            })
            .collect();
        let fetched = (page - 1) * u64::from(self.page_size) + customers.len() as u64;
        Ok(CustomerPage {
            customers,
            warnings: vec![],
            next_cursor: v["next_page"].as_u64().map(|n| n.to_string()),
            fetched,
            total: v["total"].as_u64(),
        })
    }

    /// A ticket reference from the mini PSA's `{"id", "number"}`, bent by
    /// the behaviour.
    fn ticket_ref(&self, v: &Value) -> TicketRef {
        let id = v["id"].as_str().unwrap_or_default().to_string();
        let mut number = v["number"].as_str().map(str::to_string);
        let mut url = Some(format!("{}/tickets/{id}", self.base));
        let id = match self.behaviour.as_str() {
            "javascript-url" => {
                url = Some("javascript:alert(1)".into());
                id
            }
            "long-ticket-id" => "7".repeat(1 << 20),
            "empty-ticket-id" => String::new(),
            "control-chars" => {
                number = Some("T-1\u{1b}[31m\nforged line".into());
                id
            }
            "echo-secret" => {
                number = Some(format!("T-{}", self.api_key));
                url = Some(format!("{}/tickets/{id}?key={}", self.base, self.api_key));
                id
            }
            _ => id,
        };
        TicketRef { id, number, url }
    }
}

fn kind_name(kind: OptionKind) -> &'static str {
    match kind {
        OptionKind::TicketType => "ticket-type",
        OptionKind::Priority => "priority",
        OptionKind::Queue => "queue",
        OptionKind::Status => "status",
        OptionKind::Outcome => "outcome",
    }
}

/// Percent-encodes everything but unreserved characters.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl GuestSession for State {
    fn open(config: Vec<ConfigEntry>) -> Result<Session, ConnectorError> {
        Ok(Session::new(State::from_config(&config)?))
    }

    fn list_customers(&self, cursor: Option<String>) -> Result<CustomerPage, ConnectorError> {
        self.page(cursor, None)
    }

    fn list_customers_changed(&self, since: u64, cursor: Option<String>) -> Result<CustomerPage, ConnectorError> {
        self.page(cursor, Some(since))
    }

    fn create_ticket(&self, ticket: NewTicket) -> Result<TicketRef, ConnectorError> {
        let mut body = serde_json::json!({
            "customer_id": ticket.customer_id,
            "summary": ticket.summary,
            "text": ticket.details.text,
            "html": ticket.details.html,
            "key": ticket.dedup_key,
        });
        for o in &ticket.options {
            body[kind_name(o.kind).replace("ticket-", "")] = Value::String(o.id.clone());
        }
        let v = call(&self.base, "POST", "/tickets", Some(body.to_string()))?;
        Ok(self.ticket_ref(&v))
    }

    fn find_open_ticket(&self, customer_id: String, dedup_key: String) -> Result<Option<TicketRef>, ConnectorError> {
        let v = call(&self.base, "GET", &format!("/tickets?customer={}&key={}", enc(&customer_id), enc(&dedup_key)), None)?;
        Ok(v.as_array().and_then(|a| a.first()).map(|t| self.ticket_ref(t)))
    }

    fn add_note(&self, ticket_id: String, note: NewNote) -> Result<NoteRef, ConnectorError> {
        let body = serde_json::json!({
            "text": note.body.text,
            "html": note.body.html,
            "private": matches!(note.visibility, NoteVisibility::Private),
            "outcome": note.outcome_id,
        });
        match call(&self.base, "POST", &format!("/tickets/{}/notes", enc(&ticket_id)), Some(body.to_string())) {
            Ok(v) => Ok(NoteRef { id: v["id"].as_str().unwrap_or_default().into() }),
            Err(ConnectorError::Upstream(u)) if u.status == 404 => Err(ConnectorError::NotFound(format!("ticket {ticket_id}"))),
            Err(e) => Err(e),
        }
    }

    fn ticket_options(&self, kind: OptionKind) -> Result<Vec<TicketOption>, ConnectorError> {
        if self.behaviour == "huge-options" {
            return Ok((0..100_000).map(|i| TicketOption { id: i.to_string(), name: format!("option {i}"), is_default: false }).collect());
        }
        let v = call(&self.base, "GET", &format!("/options/{}", kind_name(kind)), None).map_err(|e| match e {
            ConnectorError::Upstream(u) if u.status == 404 => ConnectorError::NotSupported(format!("ticket-options of kind {}", kind_name(kind))),
            e => e,
        })?;
        let control = self.behaviour == "control-chars";
        let echo = self.behaviour == "echo-secret";
        Ok(v.as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|o| TicketOption {
                id: o["id"].as_str().unwrap_or_default().into(),
                name: if control {
                    format!("{}\u{1b}]0;pwned\u{7}\nforged", o["name"].as_str().unwrap_or_default())
                } else if echo {
                    format!("{} {}", o["name"].as_str().unwrap_or_default(), self.api_key)
                } else {
                    o["name"].as_str().unwrap_or_default().into()
                },
                is_default: o["default"].as_bool().unwrap_or(false),
            })
            .collect())
    }
}

fn unreachable(host: &str, message: String) -> ConnectorError {
    ConnectorError::Unreachable(UnreachableError { host: host.into(), stage: NetworkStage::Connect, message })
}

/// One request to `base` + `path`; the answer's JSON, or a typed error.
fn call(base: &str, method: &str, path: &str, body: Option<String>) -> Result<Value, ConnectorError> {
    let (scheme, authority) = base.split_once("://").ok_or_else(|| unreachable(base, "not a URL".into()))?;
    let headers = http::Fields::new();
    if let Some(b) = &body {
        let _ = headers.set("content-type", &[b"application/json".to_vec()]);
        let _ = headers.set("content-length", &[b.len().to_string().into_bytes()]);
    }
    let req = http::OutgoingRequest::new(headers);
    let scheme = if scheme == "https" { http::Scheme::Https } else { http::Scheme::Http };
    let _ = req.set_scheme(Some(&scheme));
    let _ = req.set_authority(Some(authority));
    let _ = req.set_path_with_query(Some(path));
    if method == "POST" {
        let _ = req.set_method(&http::Method::Post);
    }
    let out = req.body().map_err(|_| unreachable(authority, "no request body".into()))?;
    let fut = outgoing_handler::handle(req, None).map_err(|e| unreachable(authority, format!("{e:?}")))?;
    {
        let stream = out.write().map_err(|_| unreachable(authority, "no body stream".into()))?;
        if let Some(b) = &body {
            for chunk in b.as_bytes().chunks(4096) {
                stream.blocking_write_and_flush(chunk).map_err(|e| unreachable(authority, format!("{e:?}")))?;
            }
        }
    }
    http::OutgoingBody::finish(out, None).map_err(|e| unreachable(authority, format!("{e:?}")))?;
    fut.subscribe().block();
    let resp = match fut.get() {
        Some(Ok(Ok(resp))) => resp,
        Some(Ok(Err(e))) => return Err(unreachable(authority, format!("{e:?}"))),
        _ => return Err(unreachable(authority, "no response".into())),
    };
    let status = resp.status();
    let incoming = resp.consume().map_err(|_| unreachable(authority, "no response body".into()))?;
    let mut bytes = Vec::new();
    {
        let stream = incoming.stream().map_err(|_| unreachable(authority, "no response stream".into()))?;
        loop {
            match stream.blocking_read(65536) {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(wasi::io::streams::StreamError::Closed) => break,
                Err(e) => return Err(unreachable(authority, format!("{e:?}"))),
            }
        }
    }
    let endpoint = path.split('?').next().unwrap_or(path).to_string();
    if !(200..300).contains(&status) {
        return Err(ConnectorError::Upstream(UpstreamError {
            status,
            endpoint,
            message: String::from_utf8_lossy(&bytes).into_owned(),
        }));
    }
    serde_json::from_slice(&bytes).map_err(|e| ConnectorError::Protocol(ProtocolError { endpoint, message: e.to_string() }))
}

#[cfg(target_arch = "wasm32")]
export!(Tickets);
