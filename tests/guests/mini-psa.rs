// A tiny PSA on 127.0.0.1 for the contract-version tests: the two test
// guests `tests/guests/frozen-v0_1_0` and `tests/guests/tickets-v0_2_0` talk
// to it through `wasi:http`, like a real connector to a real PSA. It is a
// real HTTP/1.1 server (std's `TcpListener`, one thread per connection, one
// request per connection, JSON bodies), shared by the conformance
// integration tests (`contract_versions.rs`) and the CLI's tests through
// `#[path]`. Only `std` and `serde_json`.
//
// | request | answer |
// |---|---|
// | `GET /customers?page=N&size=S[&since=T]` | `{"customers": [{"id", "name", "active"}], "total": n, "next_page": N+1 or null}` (only those changed at or after `T` with `since`) |
// | `POST /tickets` `{"customer_id", "summary", "text", "html", "key", "type", "priority", "queue", "status"}` | `{"id", "number"}`; 404 for an unknown customer |
// | `GET /tickets?customer=C&key=K` | `[{"id", "number"}]`: the open tickets with that customer and key, newest first |
// | `POST /tickets/{id}/notes` `{"text", "html", "private", "outcome"}` | `{"id"}`; 404 for an unknown ticket |
// | `GET /options/{kind}` | `[{"id", "name", "default"}]` |

#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// A customer of the mini PSA; `changed` is seconds since the epoch.
#[derive(Clone, Debug)]
pub struct MiniCustomer {
    pub id: String,
    pub name: String,
    pub active: bool,
    pub changed: u64,
}

/// A stored ticket, as the guests sent it.
#[derive(Clone, Debug)]
pub struct MiniTicket {
    pub id: String,
    pub number: String,
    pub body: Value,
    pub open: bool,
    pub notes: Vec<Value>,
}

#[derive(Default)]
pub struct MiniState {
    pub customers: Vec<MiniCustomer>,
    pub tickets: Vec<MiniTicket>,
    /// Every request, as `METHOD /path?query`.
    pub requests: Vec<String>,
}

/// A running mini PSA; it stops with the process.
#[derive(Clone)]
pub struct MiniPsa {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<MiniState>>,
}

impl MiniPsa {
    /// Starts a server holding `n` customers (`C1`..`Cn`), customer `Ck`
    /// changed at `1_700_000_000 + k`.
    pub fn start(n: usize) -> MiniPsa {
        let customers = (1..=n)
            .map(|k| MiniCustomer {
                id: format!("C{k}"),
                name: format!("Customer {k}"),
                active: k % 7 != 0,
                changed: 1_700_000_000 + k as u64,
            })
            .collect();
        let state = Arc::new(Mutex::new(MiniState { customers, ..Default::default() }));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &state);
                });
            }
        });
        MiniPsa { addr, state }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn tickets(&self) -> Vec<MiniTicket> {
        self.state.lock().unwrap().tickets.clone()
    }

    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Closes a ticket (as a technician would in the PSA).
    pub fn close_ticket(&self, id: &str) {
        for t in self.state.lock().unwrap().tickets.iter_mut().filter(|t| t.id == id) {
            t.open = false;
        }
    }
}

fn serve(stream: TcpStream, state: &Mutex<MiniState>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    let (status, answer) = route(&method, &target, &body, state);
    let text = answer.to_string();
    let reason = match status {
        200 => "OK",
        201 => "Created",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    )?;
    out.flush()
}

/// The query parameter `key`, percent-decoded.
fn query(q: &str, key: &str) -> Option<String> {
    let raw = q.split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == key).map(|(_, v)| v)?;
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

fn route(method: &str, target: &str, body: &[u8], state: &Mutex<MiniState>) -> (u16, Value) {
    let mut st = state.lock().unwrap();
    st.requests.push(format!("{method} {target}"));
    let (path, q) = target.split_once('?').unwrap_or((target, ""));
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("GET", ["customers"]) => {
            let page: usize = query(q, "page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
            let size: usize = query(q, "size").and_then(|p| p.parse().ok()).unwrap_or(50).clamp(1, 1000);
            let since: Option<u64> = query(q, "since").and_then(|p| p.parse().ok());
            let all: Vec<&MiniCustomer> = st.customers.iter().filter(|c| since.is_none_or(|s| c.changed >= s)).collect();
            let rows: Vec<Value> = all
                .iter()
                .skip((page - 1) * size)
                .take(size)
                .map(|c| json!({"id": c.id, "name": c.name, "active": c.active}))
                .collect();
            let next = (page * size < all.len()).then_some(page + 1);
            (200, json!({"customers": rows, "total": all.len(), "next_page": next}))
        }
        ("POST", ["tickets"]) => {
            let customer = body["customer_id"].as_str().unwrap_or("");
            if !st.customers.iter().any(|c| c.id == customer) {
                return (404, json!({"error": format!("no customer {customer}")}));
            }
            let n = st.tickets.len() + 1;
            let ticket = MiniTicket {
                id: format!("{}", 1000 + n),
                number: format!("T-{n:04}"),
                body,
                open: true,
                notes: Vec::new(),
            };
            let answer = json!({"id": ticket.id, "number": ticket.number});
            st.tickets.push(ticket);
            (201, answer)
        }
        ("GET", ["tickets"]) => {
            let customer = query(q, "customer").unwrap_or_default();
            let key = query(q, "key").unwrap_or_default();
            let found: Vec<Value> = st
                .tickets
                .iter()
                .rev()
                .filter(|t| t.open && t.body["customer_id"] == customer.as_str() && t.body["key"] == key.as_str())
                .map(|t| json!({"id": t.id, "number": t.number}))
                .collect();
            (200, Value::Array(found))
        }
        ("POST", ["tickets", id, "notes"]) => {
            let Some(t) = st.tickets.iter_mut().find(|t| t.id == *id) else {
                return (404, json!({"error": format!("no ticket {id}")}));
            };
            t.notes.push(body);
            let note = format!("{}-{}", t.id, t.notes.len());
            (201, json!({"id": note}))
        }
        ("GET", ["options", kind]) => {
            let options = match *kind {
                "ticket-type" => json!([{"id": "1", "name": "Incident", "default": true}, {"id": "2", "name": "Security alert", "default": false}]),
                "priority" => json!([{"id": "10", "name": "P1 Critical", "default": false}, {"id": "20", "name": "P3 Normal", "default": true}]),
                "outcome" => json!([{"id": "n1", "name": "Private Note", "default": true}]),
                _ => return (404, json!({"error": format!("no options of kind {kind}")})),
            };
            (200, options)
        }
        _ => (404, json!({"error": format!("no route {method} {path}")})),
    }
}
