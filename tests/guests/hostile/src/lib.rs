//! A deliberately hostile connector for the sandbox tests.
//!
//! Its `mode` field picks the misbehaviour `list-customers` performs:
//!
//! | mode | what it does | what the host must do |
//! |---|---|---|
//! | `fetch` | GET `target_url`, return one customer named after the status | nothing: it is the control |
//! | `outside` | GET `https://example.com/` (not in its allow-list) | refuse, name the host |
//! | `metadata` | GET `http://169.254.169.254/latest/meta-data/` | refuse |
//! | `loop` | spin forever | stop it at the deadline |
//! | `alloc` | allocate without bound | stop it at the memory cap |
//! | `recurse` | recurse without bound | stop it (stack overflow) |
//! | `trap` | panic (a trap under panic=abort) | report a crash, close the session |
//! | `print-secret` | print the `secret` field to stdout and stderr | scrub it from the log |
//! | `huge-page` | return a page of 20 000 customers | refuse it (more than a page may carry) |
//! | `huge-string` | build a 100 MB customer name | stop it at the memory cap |

wit_bindgen::generate!({
    path: "../../../wit/0.1.0",
    world: "psa-connector",
    generate_all,
});

use exports::optimize365::psa_connector::connector::{Guest, GuestSession, Session};
use optimize365::psa_connector::types::*;
use std::cell::RefCell;
use wasi::http::{outgoing_handler, types as http};

struct Hostile;

struct State {
    mode: String,
    target: String,
    secret: String,
}

impl Guest for Hostile {
    type Session = State;

    fn info() -> ConnectorInfo {
        let field = |id: &str, kind| ConfigField {
            id: id.into(),
            label: id.into(),
            help: "test field".into(),
            kind,
            required: false,
            default_value: None,
        };
        ConnectorInfo {
            id: "hostile".into(),
            display_name: "Hostile test connector".into(),
            version: "0.1.0".into(),
            contract_version: "0.1.0".into(),
            capabilities: vec![Capability::ListCustomers],
            fields: vec![
                field("target_url", FieldKind::Url),
                field("mode", FieldKind::Text),
                field("secret", FieldKind::Secret),
            ],
            allowed_hosts: vec![],
        }
    }

    fn test_connection(_config: Vec<ConfigEntry>) -> Vec<CheckStep> {
        Vec::new()
    }
}

impl GuestSession for State {
    fn open(config: Vec<ConfigEntry>) -> Result<Session, ConnectorError> {
        let get = |id: &str| config.iter().find(|e| e.id == id).map(|e| e.value.clone()).unwrap_or_default();
        Ok(Session::new(State { mode: get("mode"), target: get("target_url"), secret: get("secret") }))
    }

    fn list_customers(&self, _cursor: Option<String>) -> Result<CustomerPage, ConnectorError> {
        let name = match self.mode.as_str() {
            "fetch" => get(&self.target)?,
            "outside" => get("https://example.com/")?,
            "metadata" => get("http://169.254.169.254/latest/meta-data/")?,
            "loop" => {
                let counter = RefCell::new(0u64);
                loop {
                    *counter.borrow_mut() += 1;
                    std::hint::black_box(&counter);
                }
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "recurse" => format!("{}", recurse(std::hint::black_box(1))),
            "trap" => panic!("deliberate trap"),
            "print-secret" => {
                println!("the secret is {}", self.secret);
                eprintln!("again on stderr: {}", self.secret);
                "printed".to_string()
            }
            "huge-page" => {
                let customers = (0..20_000)
                    .map(|i| Customer {
                        id: i.to_string(),
                        name: format!("c{i}"),
                        active: true,
                        parent_id: None,
                        parent_name: None,
                        website: None,
                        domains: vec![],
                        m365_tenants: vec![],
                    })
                    .collect();
                return Ok(CustomerPage { customers, warnings: vec![], next_cursor: None, fetched: 20_000, total: None });
            }
            "huge-string" => "x".repeat(100 << 20),
            other => return Err(ConnectorError::Internal(format!("unknown mode {other}"))),
        };
        Ok(CustomerPage {
            customers: vec![Customer {
                id: "1".into(),
                name,
                active: true,
                parent_id: None,
                parent_name: None,
                website: None,
                domains: vec![],
                m365_tenants: vec![],
            }],
            warnings: vec![],
            next_cursor: None,
            fetched: 1,
            total: Some(1),
        })
    }

    fn create_ticket(&self, _t: NewTicket) -> Result<TicketRef, ConnectorError> {
        Err(ConnectorError::Internal("not supported".into()))
    }
}

/// Recursion that lives on the wasm call stack (no address-taken locals, so
/// nothing goes to Rust's shadow stack in linear memory).
#[inline(never)]
fn recurse(n: u64) -> u64 {
    if std::hint::black_box(n) == 0 {
        return 0;
    }
    recurse(std::hint::black_box(n + 1)).wrapping_add(n)
}

/// GET `url`; the status as text, or the wasi error code as an `unreachable` error.
fn get(url: &str) -> Result<String, ConnectorError> {
    let fail = |msg: String| {
        ConnectorError::Unreachable(UnreachableError { host: url.into(), stage: NetworkStage::Connect, message: msg })
    };
    let parsed = url.split_once("://").ok_or_else(|| fail("bad url".into()))?;
    let (authority, path) = match parsed.1.find('/') {
        Some(i) => (&parsed.1[..i], &parsed.1[i..]),
        None => (parsed.1, "/"),
    };
    let req = http::OutgoingRequest::new(http::Fields::new());
    let scheme = if parsed.0 == "https" { http::Scheme::Https } else { http::Scheme::Http };
    req.set_scheme(Some(&scheme)).map_err(|_| fail("scheme".into()))?;
    req.set_authority(Some(authority)).map_err(|_| fail("authority".into()))?;
    req.set_path_with_query(Some(path)).map_err(|_| fail("path".into()))?;
    let fut = outgoing_handler::handle(req, None).map_err(|e| fail(format!("{e:?}")))?;
    fut.subscribe().block();
    match fut.get() {
        Some(Ok(Ok(resp))) => Ok(format!("status {}", resp.status())),
        Some(Ok(Err(e))) => Err(fail(format!("{e:?}"))),
        _ => Err(fail("no response".into())),
    }
}

export!(Hostile);
