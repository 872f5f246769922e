//! Configuration of a simulated Halo instance ([`SimOptions`], [`RateLimit`], [`SimTls`]), the
//! faults that can be switched on while it runs ([`Faults`], [`ScheduledFault`], [`FaultKind`]),
//! and the request log entries it keeps ([`LoggedRequest`]).

use crate::data::{sample_customers, SimCustomer};
use std::time::Duration;

/// How a simulated Halo instance is set up. Build with `SimOptions { x, ..Default::default() }`.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// The Halo application's Client ID.
    pub client_id: String,
    /// The Halo application's Client Secret.
    pub client_secret: String,
    /// `Some(t)`: the token endpoint requires `?tenant=t` (hosted Halo). `None`: on-premise style,
    /// any (or no) `?tenant=` is accepted.
    pub tenant: Option<String>,
    /// How a missing or wrong `?tenant=` is answered when `tenant` is set.
    pub tenant_failure: TenantFailure,
    /// What the Halo application is granted (Halo scope names, e.g. `read:customers`, `admin`).
    pub app_permissions: Vec<String>,
    /// The application logs in as an Agent. `false`: every authenticated /api call answers 403.
    pub agent_login: bool,
    /// Most rows one page holds, whatever `page_size` asks for (`usize::MAX`: no cap).
    pub page_cap: usize,
    /// Where a page starts when `page_size` asks for more than `page_cap`.
    pub page_offsets: PageOffsets,
    /// A strict reverse proxy in front of Halo: a request whose body has no
    /// declared length (`Transfer-Encoding: chunked`), or a POST without
    /// `Content-Length`, is answered `411 Length Required` (nginx's HTML page)
    /// on both listeners, before anything else looks at it.
    pub require_content_length: bool,
    /// Where the customer ↔ Microsoft 365 tenant links can be read.
    pub tenant_links: TenantLinks,
    /// Shape of the `GET /api/AzureADConnection?type=2` body.
    pub csp_list_shape: CspListShape,
    /// `expires_in` of issued tokens; tokens really stop working after this many seconds.
    pub token_ttl_secs: u64,
    /// The customers ("Clients") the instance holds.
    pub customers: Vec<SimCustomer>,
    /// A rolling-window rate limit over every request on both listeners, like hosted Halo's
    /// "300 Requests per rolling 5 minute window". `None` (default): unlimited.
    pub rate_limit: Option<RateLimit>,
    /// `false`: `GET /api/authinfo` answers 404 like an unknown route (default `true`).
    pub authinfo: bool,
    /// `Some`: both listeners serve HTTPS with this identity and the URLs are
    /// `https://localhost:PORT/...`. `None` (default): plain HTTP on `http://127.0.0.1:PORT`.
    pub tls: Option<SimTls>,
    /// Whether `GET /api/Tickets?third_party_id_string=K` keeps only the tickets whose
    /// `third_party_id_string` is `K` (the filter is [likely] in newer builds, absent from the 2024
    /// spec), or ignores the parameter like any unknown one (default: filters).
    pub ticket_key_filter: FilterSupport,
    /// Whether `GET /api/Client?lastupdatefromdate=ISO` keeps only the customers updated at or
    /// after that time (UTC), or ignores it and returns all ([unsure]: the spec types it as a
    /// bool "include the field"). Default: filters. Customers count as last updated on
    /// 2024-01-01 until [`crate::HaloSim::touch_customers`] updates them.
    pub client_lastupdate_filter: FilterSupport,
    /// `GET /api/Tickets` rows leave out `third_party_id_string` (list rows are slimmer than the
    /// ticket; whether Halo's carry the field is not known), so only `GET /api/Tickets/{id}`
    /// shows it. Default: false (rows carry it).
    pub ticket_rows_omit_key: bool,
    /// Action outcome ids the API agent may not run: `POST /api/Actions` with one answers 400
    /// "You do not have access to this Action at the moment" (default: none).
    pub restricted_outcomes: Vec<i64>,
}

/// Whether the simulated Halo applies a filter parameter or ignores it (as Halo ignores a
/// parameter it does not know).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterSupport {
    /// The parameter filters.
    Filters,
    /// The parameter is ignored: every row comes back.
    Ignored,
}

/// A rolling-window rate limit: at most `max_requests` requests may arrive within any `window`.
/// A request arriving when `max_requests` already arrived within the last `window` is refused
/// with 429 and does not itself count (so refused retries do not extend the wait).
#[derive(Clone, Debug)]
pub struct RateLimit {
    pub max_requests: u32,
    pub window: Duration,
}

impl RateLimit {
    /// Hosted Halo's reported limit: 300 requests per rolling 5 minute window.
    pub fn halo_hosted() -> RateLimit {
        RateLimit { max_requests: 300, window: Duration::from_secs(300) }
    }

    /// The 429 body: `Rate Limit Reached - {max} Requests per rolling {window} window`, the
    /// window said as "N minute" when a whole number of minutes, else "N second" (or
    /// "N millisecond" for a fractional number of seconds).
    pub fn message(&self) -> String {
        format!("Rate Limit Reached - {} Requests per rolling {} window", self.max_requests, self.window_desc())
    }

    fn window_desc(&self) -> String {
        let ms = self.window.as_millis();
        if ms >= 60_000 && ms.is_multiple_of(60_000) {
            format!("{} minute", ms / 60_000)
        } else if ms.is_multiple_of(1000) {
            format!("{} second", ms / 1000)
        } else {
            format!("{ms} millisecond")
        }
    }
}

/// A TLS server identity: the certificate chain (leaf first) and its private key, all DER
/// (the key as PKCS#8, PKCS#1 or SEC1). See [`crate::test_ca`] and [`crate::self_signed_tls`].
#[derive(Clone)]
pub struct SimTls {
    pub cert_chain_der: Vec<Vec<u8>>,
    pub key_der: Vec<u8>,
}

impl std::fmt::Debug for SimTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimTls")
            .field("cert_chain_der", &format_args!("[{} certificate(s)]", self.cert_chain_der.len()))
            .field("key_der", &"<redacted>")
            .finish()
    }
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            client_id: "optimize365-test-client".to_string(),
            client_secret: "sim-secret-0123456789abcdef".to_string(),
            tenant: None,
            tenant_failure: TenantFailure::InvalidClient,
            app_permissions: ["read:customers", "edit:customers", "read:tickets", "edit:tickets", "admin"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            agent_login: true,
            page_cap: 100,
            page_offsets: PageOffsets::FromServedSize,
            require_content_length: false,
            tenant_links: TenantLinks::OnRows,
            csp_list_shape: CspListShape::BareArray,
            token_ttl_secs: 3600,
            customers: sample_customers(250, 7),
            rate_limit: None,
            authinfo: true,
            tls: None,
            ticket_key_filter: FilterSupport::Filters,
            client_lastupdate_filter: FilterSupport::Filters,
            ticket_rows_omit_key: false,
            restricted_outcomes: Vec::new(),
        }
    }
}

/// Where page `page_no` starts when the page size asked for is above the cap. Halo's own
/// behaviour is not known; clients that computed offsets from the size they asked for have lost
/// rows, so both are simulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageOffsets {
    /// At `(page_no - 1) * min(page_size, page_cap)`: pages follow each other at the capped
    /// size (the default).
    FromServedSize,
    /// At `(page_no - 1) * page_size`, then `min(page_size, page_cap)` rows:
    /// `page_no=2&page_size=1000` under a cap of 100 gives rows 1000..1100, and a client that
    /// keeps asking for 1000 silently skips rows 100..1000.
    FromAskedSize,
}

/// How the token endpoint answers a missing or wrong `?tenant=` (sources disagree, so all three
/// plausible answers can be simulated).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenantFailure {
    /// 401 `{"error":"invalid_client",...}`, as for wrong credentials.
    InvalidClient,
    /// 400 `{"error":"invalid_request","error_description":"The tenant is not valid."}`.
    BadRequest,
    /// 404 with an HTML page.
    NotFoundHtml,
}

/// Where customer ↔ tenant links are visible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenantLinks {
    /// Only as `azure_tenants[]` on `/api/Client` rows (with `includeazuretenants=true`).
    OnRows,
    /// Only through the CSP connections (`/api/AzureADConnection`).
    CspOnly,
    /// Both ways.
    Both,
    /// Nowhere: the connector must fall back to names and domains.
    None,
}

/// Shape of the `GET /api/AzureADConnection?type=2` body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CspListShape {
    /// `[{..},{..}]`
    BareArray,
    /// One connection object (holding every mapping), not an array.
    SingleObject,
    /// `{"record_count":n,"connections":[..]}`
    Wrapped,
}

/// Faults injected into /api requests (latency also applies to the auth listener).
///
/// Per /api request, the first that applies wins: a [`ScheduledFault`] for this request's
/// index; `html_login_page`; then the counters in field order (`rate_limit_next`,
/// `server_error_next`, `unavailable_next`, `gateway_timeout_next`, `reset_next`), each
/// counting down by one per request it answers.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// The next N /api requests answer 429 "Rate Limit Reached - 300 Requests per rolling 5 minute window"
    /// (or the message of [`SimOptions::rate_limit`] when one is set).
    pub rate_limit_next: u32,
    /// If `Some(n)`, every 429 answer (injected or from [`SimOptions::rate_limit`]) carries
    /// `Retry-After: n` (Halo itself sends none).
    pub retry_after: Option<u32>,
    /// The next N /api requests answer 502 with an HTML body.
    pub server_error_next: u32,
    /// The next N /api requests answer 503 with an HTML body.
    pub unavailable_next: u32,
    /// The next N /api requests answer 504 with an HTML body.
    pub gateway_timeout_next: u32,
    /// The next N /api requests break the connection (see [`FaultKind::Reset`]).
    pub reset_next: u32,
    /// Faults for given /api requests, by 1-based index counted from the `set_faults` call that
    /// installed them (every request on the resource listener under `/api` counts, including
    /// ones refused by the rate-limit window, which then still answer 429).
    pub schedule: Vec<ScheduledFault>,
    /// Every /api request answers 200 text/html with a login page (as a wrong resource URL would).
    pub html_login_page: bool,
    /// Every response, auth and api, is delayed this long.
    pub latency_ms: u64,
    /// Headers added to every /api answer (name, value), e.g. a debugging
    /// header a proxy adds that echoes the caller's credentials.
    pub extra_headers: Vec<(String, String)>,
}

/// A fault for the `nth` (1-based) /api request since [`crate::HaloSim::set_faults`].
#[derive(Clone, Debug)]
pub struct ScheduledFault {
    pub nth: u64,
    pub kind: FaultKind,
}

/// What an injected fault does. Log names ([`LoggedRequest::fault`]) in brackets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// 429 with Halo's text body, no `Retry-After` unless [`Faults::retry_after`] (`rate-limited`).
    RateLimited,
    /// 502 with an nginx HTML page (`bad-gateway`).
    BadGateway,
    /// 503 with an HTML page (`unavailable`).
    Unavailable,
    /// 504 with an nginx HTML page (`gateway-timeout`).
    GatewayTimeout,
    /// Sends a 200 response head and part of a chunked body, then aborts the connection: the
    /// client sees the body (or the whole exchange) fail. Logged as status 200 (`reset`).
    Reset,
    /// Waits this long, then answers normally (`hang`).
    Hang(Duration),
    /// 200 text/html with Halo's login page (`html-login-page`).
    HtmlLoginPage,
}

impl FaultKind {
    /// The name used in [`LoggedRequest::fault`].
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::RateLimited => "rate-limited",
            FaultKind::BadGateway => "bad-gateway",
            FaultKind::Unavailable => "unavailable",
            FaultKind::GatewayTimeout => "gateway-timeout",
            FaultKind::Reset => "reset",
            FaultKind::Hang(_) => "hang",
            FaultKind::HtmlLoginPage => "html-login-page",
        }
    }
}

/// Which of the two listeners a request reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listener {
    /// The authorization server (`/auth/...`).
    Auth,
    /// The resource server (`/api/...`).
    Resource,
}

/// One request as the simulator saw and answered it.
#[derive(Clone, Debug)]
pub struct LoggedRequest {
    pub listener: Listener,
    pub method: String,
    /// The path as sent (not lower-cased).
    pub path: String,
    /// The raw query string without `?` (empty when none).
    pub query: String,
    pub status: u16,
    /// The injected fault that answered it ([`FaultKind::name`]), or `"rate-limit"` when the
    /// [`SimOptions::rate_limit`] window refused it, or `"length-required"` when
    /// [`SimOptions::require_content_length`] did; `None` for normal answers.
    pub fault: Option<String>,
    /// The request's `Content-Length` header, as sent.
    pub content_length: Option<String>,
    /// Whether the request's body came chunked (`Transfer-Encoding: chunked`).
    pub chunked: bool,
    /// The body of a resource-server request (`/api/...`), as sent, when it had one (lossy
    /// UTF-8); never kept for the authorization server, whose bodies carry the client secret.
    pub body: Option<String>,
}
