//! The replay server: the fixtures served over HTTPS on 127.0.0.1, with an
//! optional fault (an error status or a mutated answer) for one exchange.
//!
//! One listener serves every origin the fixtures name; the sandbox reaches
//! it through [`psa_host::DnsOverrides::connect_to`] (the allow-list still
//! judges the placeholder name and port, TLS verifies the certificate
//! against that name). The certificate is signed by a CA made for this run
//! (rcgen) that only this run's host trusts.

use super::fixture::{query_pairs, Exchange, Fixtures};
use super::mutate::{self, Mutation};
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::response::Response;
use axum::Router;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// Largest request body the replay server reads.
const MAX_REQUEST_BODY: usize = 4 << 20;

/// What the server does differently in one run.
#[derive(Clone, Debug, Default)]
pub enum Fault {
    #[default]
    None,
    /// Exchange `target` is answered with `status` (and `Retry-After`) every time.
    Status { target: usize, status: u16, retry_after: Option<u32> },
    /// Exchange `target`'s answer is mutated every time.
    Mutate { target: usize, mutation: Mutation },
}

/// One request the server received.
#[derive(Clone, Debug)]
pub struct Served {
    pub method: String,
    pub host: String,
    pub path_query: String,
    /// The exchange that answered, by index; `None`: no fixture matched (404).
    pub exchange: Option<usize>,
    /// A `body_contains` expectation the request body did not meet.
    pub body_mismatch: Option<String>,
}

struct Inner {
    fx: Arc<Fixtures>,
    fault: Fault,
    /// Requests per request key, to pick among exchanges that match alike.
    seen: HashMap<String, usize>,
    log: Vec<Served>,
    slow: Duration,
}

#[derive(Clone)]
struct Shared(Arc<Mutex<Inner>>);

/// A running replay server; dropping it stops accepting.
pub struct ReplayServer {
    shared: Shared,
    pub addr: SocketAddr,
    /// The CA certificate (DER) the run's host must trust.
    pub ca_der: Vec<u8>,
    task: tokio::task::JoinHandle<()>,
    _stop: tokio::sync::watch::Sender<bool>,
}

impl Drop for ReplayServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ReplayServer {
    /// Starts serving `fx` for the host names `names`; `slow` is how long a
    /// "slow" mutation holds its answer back.
    pub async fn start(fx: Arc<Fixtures>, names: &[String], slow: Duration) -> Result<ReplayServer, String> {
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let (tls, ca_der) = halo_sim::test_ca(&refs);
        let acceptor = halo_sim::tls_acceptor(&tls).map_err(|e| format!("replay server: {e}"))?;
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let shared = Shared(Arc::new(Mutex::new(Inner { fx, fault: Fault::None, seen: HashMap::new(), log: Vec::new(), slow })));
        let app = Router::new().fallback(answer).with_state(shared.clone());
        // The accept loop and its connections end when `stop` is dropped
        // with the server.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(halo_sim::serve_tls(listener, acceptor, app, stopped));
        Ok(ReplayServer { shared, addr, ca_der, task, _stop: stop })
    }

    /// Starts a new run: `fault` applies, the request log and repeat
    /// counters start empty.
    pub fn reset(&self, fault: Fault) {
        let mut g = self.shared.0.lock().unwrap_or_else(|p| p.into_inner());
        g.fault = fault;
        g.seen.clear();
        g.log.clear();
    }

    /// The requests of this run so far.
    pub fn log(&self) -> Vec<Served> {
        self.shared.0.lock().unwrap_or_else(|p| p.into_inner()).log.clone()
    }
}

fn matches(e: &Exchange, method: &str, host: &str, path: &str, query: &[(String, String)]) -> bool {
    e.method == method && e.host == host && e.path == path && e.query == query
}

async fn answer(State(shared): State<Shared>, req: Request) -> Response {
    let method = req.method().as_str().to_ascii_uppercase();
    let host = req
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| h.rsplit_once(':').filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit())).map_or(h, |(n, _)| n))
        .unwrap_or("")
        .to_ascii_lowercase();
    let path_query = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let url = url::Url::parse(&format!("https://{}{}", if host.is_empty() { "unknown.invalid" } else { &host }, path_query)).ok();
    let (path, query) = match &url {
        Some(u) => (u.path().to_string(), query_pairs(u)),
        None => (req.uri().path().to_string(), Vec::new()),
    };
    let body = to_bytes(req.into_body(), MAX_REQUEST_BODY).await.unwrap_or_default();

    let (plan, slow) = {
        let mut g = shared.0.lock().unwrap_or_else(|p| p.into_inner());
        let candidates: Vec<usize> =
            g.fx.exchanges.iter().enumerate().filter(|(_, e)| matches(e, &method, &host, &path, &query)).map(|(i, _)| i).collect();
        let key = format!("{method} {host}{path_query}");
        let n = g.seen.entry(key).or_insert(0);
        let pick = candidates.get((*n).min(candidates.len().saturating_sub(1))).copied();
        *n += 1;
        let body_mismatch = pick.and_then(|i| {
            let text = String::from_utf8_lossy(&body);
            g.fx.exchanges[i].body_contains.iter().find(|w| !text.contains(w.as_str())).cloned()
        });
        g.log.push(Served { method: method.clone(), host: host.clone(), path_query: path_query.clone(), exchange: pick, body_mismatch });
        let plan = pick.map(|i| {
            let e = &g.fx.exchanges[i];
            let base = (e.status, e.headers.clone(), e.body.clone());
            match &g.fault {
                Fault::Status { target, status, retry_after } if *target == i => {
                    let mut h = vec![("content-type".to_string(), "application/json".to_string())];
                    if let Some(s) = retry_after {
                        h.push(("retry-after".to_string(), s.to_string()));
                    }
                    let body = format!("{{\"error\":\"psa-host test answers {status} here\",\"message\":\"psa-host test answers {status} here\"}}");
                    (*status, h, body.into_bytes(), false)
                }
                Fault::Mutate { target, mutation } if *target == i => {
                    let (s, h, b, slow) = mutate::apply(*mutation, base);
                    (s, h, b, slow)
                }
                _ => (base.0, base.1, base.2, false),
            }
        });
        (plan, g.slow)
    };
    match plan {
        Some((status, headers, body, is_slow)) => {
            if is_slow {
                tokio::time::sleep(slow).await;
            }
            let mut r = Response::builder().status(status);
            for (k, v) in &headers {
                r = r.header(k.as_str(), v.as_str());
            }
            r.body(Body::from(body)).unwrap_or_else(|_| Response::new(Body::from("bad fixture header")))
        }
        None => {
            let msg = serde_json::json!({
                "error": "no fixture",
                "message": format!("psa-host test: no fixture answers {method} https://{host}{path_query}"),
            });
            Response::builder()
                .status(404)
                .header("content-type", "application/json")
                .body(Body::from(msg.to_string()))
                .unwrap_or_else(|_| Response::new(Body::empty()))
        }
    }
}
