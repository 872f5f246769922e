//! The state both listeners share: options and data, injected faults, issued tokens, created
//! tickets and the request log; plus Halo's scope rules (which scopes exist, what implies what).

use crate::data::Rng;
use crate::options::{FaultKind, Faults, Listener, LoggedRequest, SimOptions};
use crate::respond::Framing;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Scope names the token endpoint accepts (from the HaloAPI module's list), besides `all`.
pub const KNOWN_SCOPES: &[&str] = &[
    "admin",
    "read:tickets", "edit:tickets",
    "read:customers", "edit:customers",
    "read:crm", "edit:crm",
    "read:assets", "edit:assets",
    "read:contracts", "edit:contracts",
    "read:items", "edit:items",
    "read:invoices", "edit:invoices",
    "read:projects", "edit:projects",
    "read:quotes", "edit:quotes",
    "read:sales", "edit:sales",
    "read:suppliers", "edit:suppliers",
    "read:kb", "edit:kb",
    "read:reports", "edit:reports",
    "read:software", "edit:software",
    "read:timesheets", "edit:timesheets",
    "read:calendar", "edit:calendar",
    "read:actions", "edit:actions",
    "read:users", "edit:users",
];

/// A set of scopes closed under Halo's implications: `edit:X` ⇒ `read:X`, `admin` ⇒ everything.
pub fn closure<'a>(scopes: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in scopes {
        if s == "admin" {
            out.extend(KNOWN_SCOPES.iter().map(|s| s.to_string()));
        } else if let Some(x) = s.strip_prefix("edit:") {
            out.insert(format!("read:{x}"));
        }
        out.insert(s.to_string());
    }
    out
}

/// When a customer counts as last updated until a test touches it: 2024-01-01T00:00:00Z.
pub const DEFAULT_CLIENT_UPDATE: u64 = 1_704_067_200;

/// An issued access token.
#[derive(Clone, Debug)]
pub struct Token {
    /// Effective permissions (already closed under implication).
    pub perms: BTreeSet<String>,
    pub expires: Instant,
}

/// Everything mutable, behind one mutex.
pub struct Inner {
    pub opts: SimOptions,
    pub faults: Faults,
    pub tokens: HashMap<String, Token>,
    /// Every ticket ever created, deleted ones included (see `deleted_tickets`).
    pub tickets: Vec<serde_json::Value>,
    pub next_ticket_id: i64,
    /// Ids of tickets deleted in Halo (`HaloSim::delete_ticket`).
    pub deleted_tickets: BTreeSet<i64>,
    /// Actions (notes) created via `POST /api/Actions`.
    pub actions: Vec<serde_json::Value>,
    pub next_action_id: i64,
    /// Last update of a customer, seconds since 1970 (UTC), when not the default
    /// [`DEFAULT_CLIENT_UPDATE`].
    pub client_updated: HashMap<i64, u64>,
    pub log: Vec<LoggedRequest>,
    pub rng: Rng,
    pub auth_url: String,
    /// Arrival times of the requests counted by the rate-limit window (oldest first).
    pub arrivals: VecDeque<Instant>,
    /// /api requests seen since the faults were last set (the index of `Faults::schedule`).
    pub fault_seq: u64,
}

/// Cheaply clonable handle on the shared state.
#[derive(Clone)]
pub struct Shared(Arc<Mutex<Inner>>);

impl Shared {
    pub fn new(opts: SimOptions) -> Shared {
        let seed = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
            ^ (std::process::id() as u64) << 32;
        Shared(Arc::new(Mutex::new(Inner {
            opts,
            faults: Faults::default(),
            tokens: HashMap::new(),
            tickets: Vec::new(),
            next_ticket_id: 1001,
            deleted_tickets: BTreeSet::new(),
            actions: Vec::new(),
            next_action_id: 5001,
            client_updated: HashMap::new(),
            log: Vec::new(),
            rng: Rng::new(seed),
            auth_url: String::new(),
            arrivals: VecDeque::new(),
            fault_seq: 0,
        })))
    }

    /// Locks the state; a panic in another handler does not poison the simulator.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.lock().faults.latency_ms)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn log(
        &self,
        listener: Listener,
        method: &str,
        path: &str,
        query: &str,
        status: u16,
        fault: Option<&str>,
        framing: &Framing,
        body: Option<&[u8]>,
    ) {
        self.lock().log.push(LoggedRequest {
            listener,
            method: method.to_string(),
            path: path.to_string(),
            query: query.to_string(),
            status,
            fault: fault.map(str::to_string),
            content_length: framing.content_length.clone(),
            chunked: framing.chunked,
            body: body.filter(|b| !b.is_empty()).map(|b| String::from_utf8_lossy(b).into_owned()),
        });
    }

    /// Whether [`SimOptions::require_content_length`] refuses a request so framed.
    pub fn refuses_framing(&self, method: &str, framing: &Framing) -> bool {
        self.lock().opts.require_content_length && framing.length_missing(method)
    }

    /// Counts a request arriving now against the rolling window. `Some((message, retry_after))`:
    /// the window is full, refuse it with 429 (the refused request is not counted).
    pub fn window_refusal(&self) -> Option<(String, Option<u32>)> {
        let now = Instant::now();
        let mut st = self.lock();
        let limit = st.opts.rate_limit.clone()?;
        while st.arrivals.front().is_some_and(|t| now.duration_since(*t) >= limit.window) {
            st.arrivals.pop_front();
        }
        if st.arrivals.len() >= limit.max_requests as usize {
            return Some((limit.message(), st.faults.retry_after));
        }
        st.arrivals.push_back(now);
        None
    }

    /// Counts an /api request and takes the fault that answers it, if any (see `Faults`).
    pub fn next_fault(&self) -> Option<FaultKind> {
        let mut st = self.lock();
        st.fault_seq += 1;
        let seq = st.fault_seq;
        let f = &mut st.faults;
        if let Some(s) = f.schedule.iter().find(|s| s.nth == seq) {
            return Some(s.kind.clone());
        }
        if f.html_login_page {
            return Some(FaultKind::HtmlLoginPage);
        }
        for (counter, kind) in [
            (&mut f.rate_limit_next, FaultKind::RateLimited),
            (&mut f.server_error_next, FaultKind::BadGateway),
            (&mut f.unavailable_next, FaultKind::Unavailable),
            (&mut f.gateway_timeout_next, FaultKind::GatewayTimeout),
            (&mut f.reset_next, FaultKind::Reset),
        ] {
            if *counter > 0 {
                *counter -= 1;
                return Some(kind);
            }
        }
        None
    }

    /// The body of an injected 429: the configured window's message, else Halo's hosted one.
    pub fn rate_limit_text(&self) -> (String, Option<u32>) {
        let st = self.lock();
        let text = st.opts.rate_limit.as_ref().map(|r| r.message());
        (text.unwrap_or_else(|| crate::respond::RATE_LIMIT_TEXT.to_string()), st.faults.retry_after)
    }
}

impl Inner {
    /// Issues a token with these effective permissions; returns (access_token, refresh_token).
    pub fn issue_token(&mut self, perms: BTreeSet<String>) -> (String, String) {
        let access = self.rng.token(4);
        let refresh = self.rng.token(2);
        let expires = Instant::now() + Duration::from_secs(self.opts.token_ttl_secs);
        self.tokens.insert(access.clone(), Token { perms, expires });
        (access, refresh)
    }

    /// The permissions of a live token, or `None` when it is unknown, revoked or expired.
    pub fn check_token(&self, token: &str) -> Option<BTreeSet<String>> {
        let t = self.tokens.get(token)?;
        (Instant::now() < t.expires).then(|| t.perms.clone())
    }
}
