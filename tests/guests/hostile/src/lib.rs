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
//! | `print-lots` | print 1 MiB to stdout | keep only the per-call cap in the log |
//! | `huge-page` | return a page of 20 000 customers | refuse it (more than a page may carry) |
//! | `huge-string` | build a 100 MB customer name | stop it at the memory cap |
//! | `forbidden-headers` | set `Host`, `Connection`, `Transfer-Encoding`, ... then GET `target_url` | refuse each header |
//! | `big-upload` | POST 16 MiB to `target_url` without a length | cut the upload at the request-body cap |
//! | `hoard-fields` | keep 16 000 header sets of 120 KiB | stop it at the header-size limit |
//! | `hoard-small-fields` | keep 16 000 header sets of 30 KiB (under the header-size limit) | stop it at the handle limit, stay small |
//! | `flood` | send 64 GETs to `target_url` at once without reading any answer | refuse those beyond the in-flight limit |
//! | `pace-then-spin` | GET `target_url`, send a second GET without waiting for it, then spin | stop it at the deadline: a wait it does not block on earns no credit |
//! | `endless-pages` | return pages of 1 000 customers with 1 KiB names and a new cursor, forever | stop the import at its byte limit |
//! | `secret-host` | GET `https://<secret>.example/` (also in `test-connection`, as a failed step) | refuse it, and keep the secret out of the refusal text and the log |
//! | `many-refusals` | GET `https://example.com/` 40 times | refuse each, log only the first 16 and a count |
//! | `split-secret` | print half the secret in `session.open`, the rest in `list-customers` | scrub it all the same |
//! | `secret-at-cap` | print the secret across the guest-output cap (16 KiB) | show no part of it |
//! | `control-chars` | print, and name its customer, with `\n`, `\r`, ESC and U+202E | escape them in the log |
//!
//! Its self-description declares one host, `https://*.r<random>.invalid`,
//! drawn anew in every instance: the host must read it once, at load.

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
            allowed_hosts: vec![format!("https://*.r{:016x}.invalid", random_u64())],
        }
    }

    fn test_connection(config: Vec<ConfigEntry>) -> Vec<CheckStep> {
        let get_value = |id: &str| config.iter().find(|e| e.id == id).map(|e| e.value.clone()).unwrap_or_default();
        if get_value("mode") != "secret-host" {
            return Vec::new();
        }
        let message = match get(&format!("https://{}.example/", get_value("secret"))) {
            Ok(status) => status,
            Err(e) => format!("the request failed: {e:?}"),
        };
        vec![CheckStep { id: "reach".into(), label: "Reach the PSA".into(), status: StepStatus::Failed, message }]
    }
}

impl GuestSession for State {
    fn open(config: Vec<ConfigEntry>) -> Result<Session, ConnectorError> {
        let get = |id: &str| config.iter().find(|e| e.id == id).map(|e| e.value.clone()).unwrap_or_default();
        if get("mode") == "split-secret" {
            let secret = get("secret");
            print!("the secret starts {}", &secret[..secret.len() / 2]);
            let _ = std::io::Write::flush(&mut std::io::stdout());
        }
        Ok(Session::new(State { mode: get("mode"), target: get("target_url"), secret: get("secret") }))
    }

    fn list_customers(&self, cursor: Option<String>) -> Result<CustomerPage, ConnectorError> {
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
            "print-lots" => {
                let line = "x".repeat(1023);
                for _ in 0..1024 {
                    println!("{line}");
                }
                "printed".to_string()
            }
            "huge-page" => {
                let customers = (0..20_000).map(|i| customer(i.to_string(), format!("c{i}"))).collect();
                return Ok(CustomerPage { customers, warnings: vec![], next_cursor: None, fetched: 20_000, total: None });
            }
            "huge-string" => "x".repeat(100 << 20),
            "forbidden-headers" => forbidden_headers(&self.target)?,
            "big-upload" => upload(&self.target, 16 << 20)?,
            "hoard-fields" => hoard_fields(120 << 10),
            "hoard-small-fields" => hoard_fields(30 << 10),
            "flood" => flood(&self.target)?,
            "pace-then-spin" => {
                get(&self.target)?;
                let fut = outgoing_handler::handle(request(&self.target, http::Fields::new())?, None)
                    .map_err(|e| fail(&self.target, format!("{e:?}")))?;
                std::mem::forget(fut);
                let counter = RefCell::new(0u64);
                loop {
                    *counter.borrow_mut() += 1;
                    std::hint::black_box(&counter);
                }
            }
            "endless-pages" => {
                let page: u64 = cursor.as_deref().and_then(|c| c.parse().ok()).unwrap_or(0);
                let customers = (0..1000u64)
                    .map(|i| customer(format!("{}", page * 1000 + i), format!("{:x<1024}", page * 1000 + i)))
                    .collect();
                return Ok(CustomerPage {
                    customers,
                    warnings: vec![],
                    next_cursor: Some(format!("{}", page + 1)),
                    fetched: (page + 1) * 1000,
                    total: None,
                });
            }
            "secret-host" => get(&format!("https://{}.example/", self.secret))?,
            "many-refusals" => {
                let refused = (0..40).filter(|_| get("https://example.com/").is_err()).count();
                format!("refused {refused}")
            }
            "split-secret" => {
                println!("{} and ends", &self.secret[self.secret.len() / 2..]);
                "printed".to_string()
            }
            "secret-at-cap" => {
                // The cap (Limits::guest_output_bytes, 16 KiB) falls 6 bytes into the secret.
                print!("{}{}", "x".repeat((16 << 10) - 6), self.secret);
                let _ = std::io::Write::flush(&mut std::io::stdout());
                "printed".to_string()
            }
            "control-chars" => {
                println!("line one\nFAKE LOG LINE\r\x1b[31mred\x1b[0m \u{202e}txt.exe");
                "Evil\nName\r\x1b[31m\u{202e}".to_string()
            }
            other => return Err(ConnectorError::Internal(format!("unknown mode {other}"))),
        };
        Ok(CustomerPage {
            customers: vec![customer("1".into(), name)],
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

/// A random number, different in every instance (std seeds `RandomState`
/// from `wasi:random`).
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    h.finish()
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

fn fail(url: &str, msg: String) -> ConnectorError {
    ConnectorError::Unreachable(UnreachableError { host: url.into(), stage: NetworkStage::Connect, message: msg })
}

/// A request for `url` with `headers`.
fn request(url: &str, headers: http::Fields) -> Result<http::OutgoingRequest, ConnectorError> {
    let parsed = url.split_once("://").ok_or_else(|| fail(url, "bad url".into()))?;
    let (authority, path) = match parsed.1.find('/') {
        Some(i) => (&parsed.1[..i], &parsed.1[i..]),
        None => (parsed.1, "/"),
    };
    let req = http::OutgoingRequest::new(headers);
    let scheme = if parsed.0 == "https" { http::Scheme::Https } else { http::Scheme::Http };
    req.set_scheme(Some(&scheme)).map_err(|_| fail(url, "scheme".into()))?;
    req.set_authority(Some(authority)).map_err(|_| fail(url, "authority".into()))?;
    req.set_path_with_query(Some(path)).map_err(|_| fail(url, "path".into()))?;
    Ok(req)
}

/// Waits for the answer: the status as text, or the wasi error code as an
/// `unreachable` error.
fn answer(url: &str, fut: http::FutureIncomingResponse) -> Result<String, ConnectorError> {
    fut.subscribe().block();
    match fut.get() {
        Some(Ok(Ok(resp))) => Ok(format!("status {}", resp.status())),
        Some(Ok(Err(e))) => Err(fail(url, format!("{e:?}"))),
        _ => Err(fail(url, "no response".into())),
    }
}

/// GET `url`.
fn get(url: &str) -> Result<String, ConnectorError> {
    let fut = outgoing_handler::handle(request(url, http::Fields::new())?, None).map_err(|e| fail(url, format!("{e:?}")))?;
    answer(url, fut)
}

/// Keeps 16 000 header sets of `size` bytes each (if the host lets it get
/// that far); returns how many it kept.
fn hoard_fields(size: usize) -> String {
    let mut kept = Vec::new();
    while kept.len() < 16_000 {
        match http::Fields::from_list(&[("x-hoard".to_string(), vec![b'a'; size])]) {
            Ok(f) => kept.push(f),
            Err(e) => return format!("refused after {}: {e:?}", kept.len()),
        }
    }
    let n = kept.len();
    std::mem::forget(kept);
    format!("kept {n} header sets of {size} bytes")
}

/// Sends 64 GETs to `url` at once, reading none of the answers; returns
/// `answered:<n> refused:<m>`.
fn flood(url: &str) -> Result<String, ConnectorError> {
    let mut futures = Vec::new();
    for _ in 0..64 {
        let fut = outgoing_handler::handle(request(url, http::Fields::new())?, None).map_err(|e| fail(url, format!("{e:?}")))?;
        futures.push(fut);
    }
    let (mut answered, mut refused) = (0, 0);
    let mut responses = Vec::new();
    for fut in &futures {
        fut.subscribe().block();
        match fut.get() {
            Some(Ok(Ok(resp))) => {
                answered += 1;
                responses.push(resp);
            }
            Some(Ok(Err(http::ErrorCode::HttpRequestDenied))) => refused += 1,
            other => return Err(fail(url, format!("{other:?}"))),
        }
    }
    Ok(format!("answered:{answered} refused:{refused}"))
}

/// Tries to set each hop-by-hop or routing header three ways, then GETs
/// `url` with whatever was accepted. Returns `refused:<names>` plus the status.
fn forbidden_headers(url: &str) -> Result<String, ConnectorError> {
    let attempts: [(&str, &[u8]); 6] = [
        ("host", b"evil.example"),
        ("connection", b"upgrade"),
        ("transfer-encoding", b"chunked"),
        ("upgrade", b"websocket"),
        ("proxy-authorization", b"Basic ZXZpbDpldmls"),
        ("te", b"trailers"),
    ];
    let fields = http::Fields::new();
    let mut refused = Vec::new();
    for (name, value) in attempts {
        let by_list = http::Fields::from_list(&[(name.to_string(), value.to_vec())]).is_err();
        let by_set = fields.set(name, &[value.to_vec()]).is_err();
        let by_append = fields.append(name, value).is_err();
        if by_list && by_set && by_append {
            refused.push(name);
        }
    }
    let fut = outgoing_handler::handle(request(url, fields)?, None).map_err(|e| fail(url, format!("{e:?}")))?;
    Ok(format!("refused:{} {}", refused.join(","), answer(url, fut)?))
}

/// POSTs `total` bytes to `url` in a streamed body with no length.
fn upload(url: &str, total: usize) -> Result<String, ConnectorError> {
    let req = request(url, http::Fields::new())?;
    req.set_method(&http::Method::Post).map_err(|_| fail(url, "method".into()))?;
    let body = req.body().map_err(|_| fail(url, "body".into()))?;
    let fut = outgoing_handler::handle(req, None).map_err(|e| fail(url, format!("{e:?}")))?;
    let mut written = 0usize;
    {
        let stream = body.write().map_err(|_| fail(url, "stream".into()))?;
        let chunk = [b'x'; 4096];
        while written < total {
            if stream.blocking_write_and_flush(&chunk).is_err() {
                break;
            }
            written += chunk.len();
        }
    }
    let _ = http::OutgoingBody::finish(body, None);
    answer(url, fut).map_err(|e| match e {
        ConnectorError::Unreachable(mut u) => {
            u.message = format!("{} after writing {written} bytes", u.message);
            ConnectorError::Unreachable(u)
        }
        other => other,
    })
}

export!(Hostile);

/// A plain active customer.
fn customer(id: String, name: String) -> Customer {
    Customer {
        id,
        name,
        active: true,
        parent_id: None,
        parent_name: None,
        website: None,
        domains: vec![],
        m365_tenants: vec![],
    }
}
