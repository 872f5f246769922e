//! One synchronous HTTP client over `wasi:http/outgoing-handler`, the
//! connector's only way out of the sandbox.
//!
//! - [`Request`] / [`Response`]: plain data, so connector code is testable
//!   natively; [`url()`] builds a URL with an encoded query;
//!   [`Request::post_json`], [`Request::put_json`] and
//!   [`Request::patch_json`] send JSON; [`error_messages`] reads an
//!   `{"errors": [...]}` answer.
//! - [`Transport`]: what sends a request. [`WasiHttp`] is the real network
//!   inside the sandbox; native tests and tools plug in their own (scripted
//!   answers, or a native HTTP stack).
//! - [`HttpError`]: a failed exchange, typed: the host, the endpoint, the
//!   [`Phase`] it failed in and the [`ErrorKind`]. It holds no sentence: each
//!   connector words its own message for the admin (see the crate example).
//!
//! What [`WasiHttp`] takes care of:
//! - a request with a body carries `Content-Length` (without it `wasi:http`
//!   sends the body chunked, and strict proxies answer 411 Length Required);
//!   a GET opens no outgoing body at all (servers reset a GET with one);
//! - connect, first-byte and between-bytes timeouts;
//! - a cap on the response body read into memory ([`WasiHttp::max_body`]);
//! - an error raised while reading the body is a [`Phase::Body`] failure:
//!   a mid-body timeout is a [`ErrorKind::Timeout`] in the body, not a
//!   failure to connect.

use std::fmt;

use crate::NetworkStage;

/// The request method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET: no body.
    Get,
    /// POST: a body, sent with its `Content-Length`.
    Post,
    /// PUT: a body, sent with its `Content-Length`.
    Put,
    /// PATCH: a body, sent with its `Content-Length`.
    Patch,
}

/// An outgoing request. No `Debug`: its headers may hold a bearer token.
#[derive(Clone)]
pub struct Request {
    /// GET, POST, PUT or PATCH.
    pub method: Method,
    /// The absolute `http(s)://` URL, query included.
    pub url: String,
    /// Header fields in order. A `Content-Length` here is replaced by the body's.
    pub headers: Vec<(String, String)>,
    /// Only for POST, PUT and PATCH: a GET must not open an outgoing body at all.
    pub body: Option<Vec<u8>>,
    /// The endpoint's path, for error messages (`/api/Client`).
    pub endpoint: String,
}

impl Request {
    /// A GET of `url`; the endpoint is the URL's path.
    pub fn get(url: impl Into<String>) -> Request {
        let url = url.into();
        let endpoint = path_of(&url);
        Request { method: Method::Get, url, headers: Vec::new(), body: None, endpoint }
    }

    /// A POST of `body` to `url`; the endpoint is the URL's path.
    pub fn post(url: impl Into<String>, body: Vec<u8>) -> Request {
        let url = url.into();
        let endpoint = path_of(&url);
        Request { method: Method::Post, url, headers: Vec::new(), body: Some(body), endpoint }
    }

    /// A PUT of `body` to `url`; the endpoint is the URL's path.
    pub fn put(url: impl Into<String>, body: Vec<u8>) -> Request {
        Request { method: Method::Put, ..Request::post(url, body) }
    }

    /// A PATCH of `body` to `url`; the endpoint is the URL's path.
    ///
    /// ```
    /// use psa_connector_sdk::http::{Method, Request};
    /// let r = Request::patch("https://psa.example.com/v1/Tickets", br#"{"id":7}"#.to_vec());
    /// assert_eq!((r.method, r.endpoint.as_str()), (Method::Patch, "/v1/Tickets"));
    /// ```
    pub fn patch(url: impl Into<String>, body: Vec<u8>) -> Request {
        Request { method: Method::Patch, ..Request::post(url, body) }
    }

    /// A POST of `value` as JSON: `Content-Type: application/json`, and its
    /// `Content-Length` like every body.
    ///
    /// ```
    /// use psa_connector_sdk::http::Request;
    /// let r = Request::post_json("https://psa.example.com/v1/Companies/query", &serde_json::json!({"MaxRecords": 500}));
    /// assert_eq!(r.body.as_deref(), Some(&br#"{"MaxRecords":500}"#[..]));
    /// let headers = r.header_entries();
    /// assert!(headers.contains(&("Content-Type".to_string(), b"application/json".to_vec())));
    /// assert!(headers.contains(&("content-length".to_string(), b"18".to_vec())));
    /// ```
    pub fn post_json(url: impl Into<String>, value: &serde_json::Value) -> Request {
        Request::post(url, Vec::new()).json(value)
    }

    /// A PUT of `value` as JSON (see [`Request::post_json`]).
    pub fn put_json(url: impl Into<String>, value: &serde_json::Value) -> Request {
        Request::put(url, Vec::new()).json(value)
    }

    /// A PATCH of `value` as JSON (see [`Request::post_json`]).
    ///
    /// ```
    /// use psa_connector_sdk::http::{Method, Request};
    /// let r = Request::patch_json("https://psa.example.com/v1/Tickets", &serde_json::json!({"id": 7, "status": 5}));
    /// assert_eq!(r.method, Method::Patch);
    /// assert_eq!(r.headers, vec![("Content-Type".to_string(), "application/json".to_string())]);
    /// ```
    pub fn patch_json(url: impl Into<String>, value: &serde_json::Value) -> Request {
        Request::patch(url, Vec::new()).json(value)
    }

    /// The request with `value` as its JSON body and
    /// `Content-Type: application/json` (replacing any content type set
    /// before). A GET stays without a body: a body is only for POST, PUT and
    /// PATCH.
    pub fn json(mut self, value: &serde_json::Value) -> Request {
        if self.method == Method::Get {
            return self;
        }
        // Serialising a `Value` cannot fail (its keys are strings).
        self.body = Some(value.to_string().into_bytes());
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
        self.header("Content-Type", "application/json")
    }

    /// The request with one more header field.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// The request with `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Request {
        self.header("Authorization", format!("Bearer {token}"))
    }

    /// The request with another endpoint name for error messages.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Request {
        self.endpoint = endpoint.into();
        self
    }

    /// The header fields as `wasi:http` takes them: the caller's, without
    /// any `Content-Length`, plus the body's length when there is a body
    /// (also for an empty one); a GET carries no length at all.
    pub fn header_entries(&self) -> Vec<(String, Vec<u8>)> {
        let mut entries: Vec<(String, Vec<u8>)> = self
            .headers
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("content-length"))
            .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
            .collect();
        if let Some(body) = &self.body {
            entries.push(("content-length".to_string(), body.len().to_string().into_bytes()));
        }
        entries
    }
}

/// The path of an absolute URL (`/api/Client`), or the URL itself when it
/// does not parse.
fn path_of(url: &str) -> String {
    url::Url::parse(url).map_or_else(|_| url.to_string(), |u| u.path().to_string())
}

/// `{base}{path}?{query}`: `base` a normalised URL without a trailing slash
/// (see [`form::normalise_url`](crate::form::normalise_url)), `path` starting
/// with `/`, the query pairs form-encoded in order (none: no `?`).
///
/// ```
/// use psa_connector_sdk::http::url;
/// assert_eq!(url("https://psa.example.com/api", "/customers", &[("page", "2"), ("q", "a&b c")]),
///            "https://psa.example.com/api/customers?page=2&q=a%26b+c");
/// assert_eq!(url("https://psa.example.com", "/me", &[]), "https://psa.example.com/me");
/// ```
pub fn url(base: &str, path: &str, query: &[(&str, &str)]) -> String {
    let mut out = format!("{base}{path}");
    if !query.is_empty() {
        let mut q = ::url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in query {
            q.append_pair(k, v);
        }
        out.push('?');
        out.push_str(&q.finish());
    }
    out
}

/// A response, its body read completely.
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// Header fields in order, values decoded lossily as UTF-8.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The `Content-Type` header.
    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Whether the body is an HTML page: `text/html`, or a body that
    /// starts with `<` (a web page where an API belongs).
    pub fn is_html(&self) -> bool {
        is_html(self.content_type(), &self.body)
    }

    /// The `Retry-After` header in whole seconds from now ([`retry_after_at`]).
    pub fn retry_after(&self) -> Option<u32> {
        retry_after_at(self.header("retry-after")?, std::time::SystemTime::now())
    }
}

/// The messages of an error answer shaped `{"errors": ["...", ...]}` (also
/// `Errors`, and items that are objects with a `message`), as many REST APIs
/// (Autotask's among them) send them; at most 20, each cut to 1,000
/// characters. Empty when the body is not such an answer. The texts come
/// from the PSA: escape them for the medium they end up in.
///
/// ```
/// use psa_connector_sdk::http::error_messages;
/// let body = br#"{"errors": ["Thread threshold exceeded", {"message": "Try later"}, 7]}"#;
/// assert_eq!(error_messages(body), ["Thread threshold exceeded", "Try later"]);
/// assert!(error_messages(b"<html>").is_empty());
/// ```
pub fn error_messages(body: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else { return Vec::new() };
    let list = v.get("errors").or_else(|| v.get("Errors"));
    list.and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .take(20)
        .filter_map(|e| e.as_str().or_else(|| e.get("message").and_then(serde_json::Value::as_str)))
        .map(|m| m.chars().take(1000).collect())
        .collect()
}

/// An HTML page: a `text/html` content type, or a body whose first
/// non-blank byte is `<`.
pub fn is_html(content_type: Option<&str>, body: &[u8]) -> bool {
    content_type.is_some_and(|c| c.to_ascii_lowercase().contains("text/html"))
        || body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<')
}

/// A `Retry-After` value in whole seconds from `now`: delta-seconds
/// (saturating at `u32::MAX` instead of being dropped, so the host still
/// sees a wait too long to make) or an HTTP-date (0 when past); `None` for
/// anything else.
///
/// ```
/// use psa_connector_sdk::http::retry_after_at;
/// let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
/// assert_eq!(retry_after_at(" 120 ", now), Some(120));
/// assert_eq!(retry_after_at("Tue, 14 Nov 2023 22:14:50 GMT", now), Some(90));
/// assert_eq!(retry_after_at("soon", now), None);
/// ```
pub fn retry_after_at(value: &str, now: std::time::SystemTime) -> Option<u32> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(v.parse::<u32>().unwrap_or(u32::MAX));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    let secs = when.duration_since(now).map_or(0, |d| d.as_secs());
    Some(u32::try_from(secs).unwrap_or(u32::MAX))
}

/// What sends a request: [`WasiHttp`] in the sandbox, anything else natively.
pub trait Transport {
    /// Send `req` and read the whole response.
    fn send(&mut self, req: &Request) -> Result<Response, HttpError>;
}

/// A [`Transport`] for unit tests: scripted answers (or failures) given in
/// order, every request recorded in [`Scripted::sent`]. A request beyond the
/// script panics, naming its URL (the test is wrong, not the connector).
///
/// ```
/// use psa_connector_sdk::http::{ErrorKind, Method, Request, Scripted, Transport};
/// let mut t = Scripted::new()
///     .json(200, serde_json::json!({"id": 7}))
///     .with_header("Retry-After", "3")
///     .fail(ErrorKind::Timeout);
/// let answer = t.send(&Request::post_json("https://psa.example.com/v1/Tickets", &serde_json::json!({"title": "x"}))).unwrap();
/// assert_eq!((answer.status, answer.retry_after()), (200, Some(3)));
/// let failure = t.send(&Request::get("https://psa.example.com/v1/Tickets/7")).err().unwrap();
/// assert_eq!((failure.kind, failure.endpoint.as_str()), (ErrorKind::Timeout, "/v1/Tickets/7"));
/// assert_eq!(t.sent.len(), 2);
/// assert_eq!((t.sent[0].method, t.header(0, "content-type")), (Method::Post, Some("application/json")));
/// assert_eq!(t.body_json(0).unwrap()["title"], "x");
/// assert!(t.is_done());
/// ```
#[derive(Default)]
pub struct Scripted {
    /// The answers still to give, in order.
    pub answers: std::collections::VecDeque<Result<Response, (Phase, ErrorKind)>>,
    /// Every request sent, in order.
    pub sent: Vec<Request>,
}

impl Scripted {
    /// An empty script.
    pub fn new() -> Scripted {
        Scripted::default()
    }

    /// Then this answer.
    pub fn respond(mut self, response: Response) -> Scripted {
        self.answers.push_back(Ok(response));
        self
    }

    /// Then an answer with `status` and `body` (no headers).
    pub fn body(self, status: u16, body: impl Into<Vec<u8>>) -> Scripted {
        self.respond(Response { status, headers: Vec::new(), body: body.into() })
    }

    /// Then a JSON answer (`Content-Type: application/json`).
    pub fn json(self, status: u16, value: serde_json::Value) -> Scripted {
        let headers = vec![("content-type".to_string(), "application/json".to_string())];
        self.respond(Response { status, headers, body: value.to_string().into_bytes() })
    }

    /// The last answer scripted, with one more header field.
    pub fn with_header(mut self, name: &str, value: &str) -> Scripted {
        if let Some(Ok(r)) = self.answers.back_mut() {
            r.headers.push((name.to_string(), value.to_string()));
        }
        self
    }

    /// Then a failure of `kind` while waiting for the answer ([`Phase::Head`]).
    pub fn fail(self, kind: ErrorKind) -> Scripted {
        self.fail_in(Phase::Head, kind)
    }

    /// Then a failure of `kind` in `phase`.
    pub fn fail_in(mut self, phase: Phase, kind: ErrorKind) -> Scripted {
        self.answers.push_back(Err((phase, kind)));
        self
    }

    /// Header `name` (any case) of the `i`-th request sent.
    pub fn header(&self, i: usize, name: &str) -> Option<&str> {
        self.sent.get(i)?.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body of the `i`-th request sent, parsed as JSON.
    pub fn body_json(&self, i: usize) -> Option<serde_json::Value> {
        serde_json::from_slice(self.sent.get(i)?.body.as_deref()?).ok()
    }

    /// Whether every scripted answer was given.
    pub fn is_done(&self) -> bool {
        self.answers.is_empty()
    }
}

impl Transport for Scripted {
    fn send(&mut self, req: &Request) -> Result<Response, HttpError> {
        self.sent.push(req.clone());
        match self.answers.pop_front() {
            Some(Ok(r)) => Ok(r),
            Some(Err((phase, kind))) => Err(HttpError::new(req, phase, kind)),
            None => panic!("Scripted: no answer left for request {} to {}", self.sent.len(), req.url),
        }
    }
}

/// Where in the exchange a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Building or sending the request: resolving, connecting, TLS, writing.
    Request,
    /// Waiting for the response head (status and headers).
    Head,
    /// Reading the response body, after the status arrived.
    Body,
}

/// What failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The name did not resolve.
    Dns,
    /// The sandbox refused the request: the host is not one of the session's
    /// URL fields or declared hosts, or the scheme is not allowed.
    Denied,
    /// The name resolves to an address the platform does not connect to
    /// (loopback, private or link-local networks).
    Prohibited,
    /// The connection was refused or the destination is unreachable.
    Refused,
    /// The connection broke off (closed, reset, not HTTP).
    Broken,
    /// A connect, first-byte or between-bytes timeout.
    Timeout,
    /// The server's certificate is not trusted, expired or for another name.
    TlsCertificate,
    /// The TLS handshake failed otherwise.
    TlsProtocol,
    /// The response (head or body) is larger than the connector or the host accepts.
    TooLarge,
    /// The request could not be built (its part named): a bug in the connector,
    /// or a header value with line breaks.
    InvalidRequest(&'static str),
    /// Any other failure, by the `wasi:http` error code's name or the host's detail.
    Other(String),
}

impl ErrorKind {
    /// The contract's stage for an [`Error::Unreachable`](crate::Error::Unreachable).
    pub fn network_stage(&self) -> NetworkStage {
        match self {
            ErrorKind::Dns => NetworkStage::Dns,
            ErrorKind::Timeout => NetworkStage::Timeout,
            ErrorKind::TlsCertificate | ErrorKind::TlsProtocol => NetworkStage::Tls,
            _ => NetworkStage::Connect,
        }
    }
}

/// A failed exchange. Holds no secret: no header, no body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpError {
    /// The host, with its port when the URL names one (`psa.example.com:8443`).
    pub host: String,
    /// The request's endpoint.
    pub endpoint: String,
    /// Where the exchange failed.
    pub phase: Phase,
    /// What failed.
    pub kind: ErrorKind,
}

impl HttpError {
    /// A failure of `req`, for a [`Transport`] of one's own.
    pub fn new(req: &Request, phase: Phase, kind: ErrorKind) -> HttpError {
        let host = url::Url::parse(&req.url).map_or_else(|_| String::new(), |u| authority(&u));
        HttpError { host, endpoint: req.endpoint.clone(), phase, kind }
    }
}

/// A neutral description for logs and tests; connectors word their own
/// messages for the admin from the fields.
impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match &self.kind {
            ErrorKind::Dns => "the name did not resolve".to_string(),
            ErrorKind::Denied => "the sandbox refused the request".to_string(),
            ErrorKind::Prohibited => "the name resolves to an address the platform does not connect to".to_string(),
            ErrorKind::Refused => "the connection was refused".to_string(),
            ErrorKind::Broken => "the connection broke off".to_string(),
            ErrorKind::Timeout => "timed out".to_string(),
            ErrorKind::TlsCertificate => "the certificate is not trusted".to_string(),
            ErrorKind::TlsProtocol => "the TLS handshake failed".to_string(),
            ErrorKind::TooLarge => "the answer is too large".to_string(),
            ErrorKind::InvalidRequest(part) => format!("the request could not be built ({part})"),
            ErrorKind::Other(detail) => format!("network error ({detail})"),
        };
        let phase = match self.phase {
            Phase::Request => "sending the request",
            Phase::Head => "waiting for the answer",
            Phase::Body => "reading the answer's body",
        };
        write!(f, "{} {}: {what} while {phase}", self.host, self.endpoint)
    }
}

impl std::error::Error for HttpError {}

/// `host[:port]` of a URL.
fn authority(u: &url::Url) -> String {
    let host = u.host_str().unwrap_or_default();
    match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// The real network, through `wasi:http/outgoing-handler`.
///
/// Outside a WebAssembly component (native tests) its calls cannot work:
/// plug a [`Transport`] of your own there.
#[derive(Clone, Debug)]
pub struct WasiHttp {
    max_body: usize,
    connect_timeout_ns: u64,
    first_byte_timeout_ns: u64,
    between_bytes_timeout_ns: u64,
}

/// The body cap of [`WasiHttp::default`]: the host's own default cap on a
/// response body (32 MiB).
pub const DEFAULT_MAX_BODY: usize = 32 * 1024 * 1024;
const SECOND_NS: u64 = 1_000_000_000;

impl Default for WasiHttp {
    /// A 32 MiB body cap; timeouts of 10 s to connect, 30 s to the first byte
    /// and 30 s between bytes (the host enforces its own as well).
    fn default() -> WasiHttp {
        WasiHttp {
            max_body: DEFAULT_MAX_BODY,
            connect_timeout_ns: 10 * SECOND_NS,
            first_byte_timeout_ns: 30 * SECOND_NS,
            between_bytes_timeout_ns: 30 * SECOND_NS,
        }
    }
}

impl WasiHttp {
    /// The client with the defaults.
    pub fn new() -> WasiHttp {
        WasiHttp::default()
    }

    /// The largest response body read into memory; a longer one fails as
    /// [`ErrorKind::TooLarge`] in [`Phase::Body`].
    pub fn max_body(mut self, bytes: usize) -> WasiHttp {
        self.max_body = bytes;
        self
    }

    /// The connect, first-byte and between-bytes timeouts.
    pub fn timeouts(mut self, connect: std::time::Duration, first_byte: std::time::Duration, between_bytes: std::time::Duration) -> WasiHttp {
        let ns = |d: std::time::Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.connect_timeout_ns = ns(connect);
        self.first_byte_timeout_ns = ns(first_byte);
        self.between_bytes_timeout_ns = ns(between_bytes);
        self
    }
}

impl Transport for WasiHttp {
    fn send(&mut self, req: &Request) -> Result<Response, HttpError> {
        wasi::send(self, req)
    }
}

mod wasi {
    //! The `wasi:http` calls.
    use super::{authority, ErrorKind, HttpError, Method, Phase, Request, Response, WasiHttp};
    use crate::bindings::wasi::http::outgoing_handler;
    use crate::bindings::wasi::http::types::{
        http_error_code, ErrorCode, Fields, IncomingBody, Method as WasiMethod, OutgoingBody, OutgoingRequest,
        RequestOptions, Scheme,
    };
    use crate::bindings::wasi::io::streams::StreamError;

    pub(super) fn send(client: &WasiHttp, req: &Request) -> Result<Response, HttpError> {
        let fail = |host: &str, phase: Phase, kind: ErrorKind| HttpError {
            host: host.to_string(),
            endpoint: req.endpoint.clone(),
            phase,
            kind,
        };
        let parsed = url::Url::parse(&req.url).map_err(|_| fail("", Phase::Request, ErrorKind::InvalidRequest("URL")))?;
        let host = authority(&parsed);
        let invalid = |what: &'static str| fail(&host, Phase::Request, ErrorKind::InvalidRequest(what));
        let scheme = match parsed.scheme() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => Scheme::Other(other.to_string()),
        };
        let mut path = parsed.path().to_string();
        if let Some(q) = parsed.query() {
            path.push('?');
            path.push_str(q);
        }
        let fields = Fields::from_list(&req.header_entries()).map_err(|_| invalid("headers"))?;
        let request = OutgoingRequest::new(fields);
        let method = match req.method {
            Method::Get => WasiMethod::Get,
            Method::Post => WasiMethod::Post,
            Method::Put => WasiMethod::Put,
            Method::Patch => WasiMethod::Patch,
        };
        let built = request.set_method(&method).is_ok()
            && request.set_scheme(Some(&scheme)).is_ok()
            && request.set_authority(Some(&host)).is_ok()
            && request.set_path_with_query(Some(&path)).is_ok();
        if !built {
            return Err(invalid("method, scheme, authority or path"));
        }
        let options = RequestOptions::new();
        let _ = options.set_connect_timeout(Some(client.connect_timeout_ns));
        let _ = options.set_first_byte_timeout(Some(client.first_byte_timeout_ns));
        let _ = options.set_between_bytes_timeout(Some(client.between_bytes_timeout_ns));

        // Only a request with a body opens the outgoing body: servers (hyper
        // among them) reset a GET whose body was opened.
        let out_body = match &req.body {
            Some(_) => Some(request.body().map_err(|_| invalid("body"))?),
            None => None,
        };
        let future = outgoing_handler::handle(request, Some(options))
            .map_err(|code| fail(&host, Phase::Request, kind_of(&code)))?;

        let mut write_failed = false;
        if let (Some(ob), Some(bytes)) = (out_body, &req.body) {
            match ob.write() {
                Ok(stream) => {
                    for chunk in bytes.chunks(4096) {
                        if stream.blocking_write_and_flush(chunk).is_err() {
                            write_failed = true;
                            break;
                        }
                    }
                    // The stream must be dropped before its body is finished.
                    drop(stream);
                }
                Err(()) => write_failed = true,
            }
            if !write_failed && OutgoingBody::finish(ob, None).is_err() {
                write_failed = true;
            }
        }

        // A write the host refused usually shows in the response's error
        // code (the sandbox's or the server's), which says more; a write
        // that failed without one is a broken connection.
        let response = loop {
            match future.get() {
                Some(Ok(Ok(r))) => break r,
                Some(Ok(Err(code))) => return Err(fail(&host, Phase::Head, kind_of(&code))),
                Some(Err(())) => return Err(invalid("response read twice")),
                None => future.subscribe().block(),
            }
        };
        if write_failed {
            return Err(fail(&host, Phase::Request, ErrorKind::Broken));
        }

        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
            .collect();
        let incoming = response.consume().map_err(|_| invalid("response body"))?;
        let mut body = Vec::new();
        {
            let stream = incoming.stream().map_err(|_| invalid("response stream"))?;
            loop {
                match stream.blocking_read(64 * 1024) {
                    Ok(chunk) => {
                        body.extend_from_slice(&chunk);
                        if body.len() > client.max_body {
                            return Err(fail(&host, Phase::Body, ErrorKind::TooLarge));
                        }
                    }
                    Err(StreamError::Closed) => break,
                    Err(StreamError::LastOperationFailed(e)) => {
                        let kind = match http_error_code(&e) {
                            Some(code) => kind_of(&code),
                            None => super::body_error_from_text(&e.to_debug_string()).unwrap_or(ErrorKind::Broken),
                        };
                        return Err(fail(&host, Phase::Body, kind));
                    }
                }
            }
            // The stream must be dropped before its body is finished.
        }
        let _ = IncomingBody::finish(incoming);
        Ok(Response { status, headers, body })
    }

    /// A `wasi:http` error code as an [`ErrorKind`].
    pub(super) fn kind_of(code: &ErrorCode) -> ErrorKind {
        use ErrorCode as E;
        match code {
            E::DnsTimeout | E::DnsError(_) | E::DestinationNotFound => ErrorKind::Dns,
            E::HttpRequestDenied => ErrorKind::Denied,
            E::DestinationIpProhibited => ErrorKind::Prohibited,
            E::DestinationUnavailable | E::DestinationIpUnroutable | E::ConnectionRefused | E::ConnectionLimitReached => {
                ErrorKind::Refused
            }
            E::ConnectionTerminated | E::HttpResponseIncomplete | E::HttpProtocolError | E::HttpUpgradeFailed => {
                ErrorKind::Broken
            }
            E::ConnectionTimeout | E::ConnectionReadTimeout | E::ConnectionWriteTimeout | E::HttpResponseTimeout => {
                ErrorKind::Timeout
            }
            E::TlsCertificateError => ErrorKind::TlsCertificate,
            E::TlsProtocolError | E::TlsAlertReceived(_) => ErrorKind::TlsProtocol,
            E::HttpResponseBodySize(_)
            | E::HttpResponseHeaderSectionSize(_)
            | E::HttpResponseHeaderSize(_)
            | E::HttpResponseTrailerSectionSize(_)
            | E::HttpResponseTrailerSize(_) => ErrorKind::TooLarge,
            E::InternalError(Some(detail)) => ErrorKind::Other(detail.clone()),
            other => ErrorKind::Other(code_name(other).to_string()),
        }
    }

    /// The error code's WIT name, without `Debug` formatting.
    fn code_name(code: &ErrorCode) -> &'static str {
        use ErrorCode as E;
        match code {
            E::HttpRequestLengthRequired => "http-request-length-required",
            E::HttpRequestBodySize(_) => "http-request-body-size",
            E::HttpRequestMethodInvalid => "http-request-method-invalid",
            E::HttpRequestUriInvalid => "http-request-uri-invalid",
            E::HttpRequestUriTooLong => "http-request-uri-too-long",
            E::HttpRequestHeaderSectionSize(_) => "http-request-header-section-size",
            E::HttpRequestHeaderSize(_) => "http-request-header-size",
            E::HttpRequestTrailerSectionSize(_) => "http-request-trailer-section-size",
            E::HttpRequestTrailerSize(_) => "http-request-trailer-size",
            E::HttpResponseTransferCoding(_) => "http-response-transfer-coding",
            E::HttpResponseContentCoding(_) => "http-response-content-coding",
            E::LoopDetected => "loop-detected",
            E::ConfigurationError => "configuration-error",
            _ => "internal-error",
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::bindings::wasi::http::types::DnsErrorPayload;

        #[test]
        fn error_codes_map_to_kinds_and_stages() {
            use crate::NetworkStage as S;
            let stage = |c: ErrorCode| kind_of(&c).network_stage();
            assert_eq!(stage(ErrorCode::DnsError(DnsErrorPayload { rcode: None, info_code: None })), S::Dns);
            assert_eq!(stage(ErrorCode::ConnectionRefused), S::Connect);
            assert_eq!(stage(ErrorCode::TlsCertificateError), S::Tls);
            assert_eq!(stage(ErrorCode::ConnectionTimeout), S::Timeout);
            assert_eq!(stage(ErrorCode::HttpResponseTimeout), S::Timeout);
            assert_eq!(kind_of(&ErrorCode::HttpRequestDenied), ErrorKind::Denied);
            assert_eq!(kind_of(&ErrorCode::DestinationIpProhibited), ErrorKind::Prohibited);
            assert_eq!(kind_of(&ErrorCode::HttpResponseBodySize(None)), ErrorKind::TooLarge);
            assert_eq!(kind_of(&ErrorCode::ConnectionTerminated), ErrorKind::Broken);
            assert_eq!(kind_of(&ErrorCode::LoopDetected), ErrorKind::Other("loop-detected".into()));
            assert_eq!(kind_of(&ErrorCode::InternalError(Some("boom".into()))), ErrorKind::Other("boom".into()));
        }
    }
}

/// The cause of a failed body read when the host gives no error code.
///
/// wasmtime 48 reports errors inside a response body as a plain io error
/// (`http-error-code` returns `none`); only its debug text names the cause.
/// The two a host imposes mid-body are recognised: the body-size cap and the
/// between-bytes timeout. Anything else is left to the caller (a broken
/// connection).
pub fn body_error_from_text(text: &str) -> Option<ErrorKind> {
    let t = text.to_ascii_lowercase();
    if t.contains("body size") {
        Some(ErrorKind::TooLarge)
    } else if t.contains("timeout") || t.contains("timed out") {
        Some(ErrorKind::Timeout)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(body: Option<&[u8]>, headers: &[(&str, &str)]) -> Request {
        let mut r = match body {
            Some(b) => Request::post("https://psa.example.com/auth/token", b.to_vec()),
            None => Request::get("https://psa.example.com/auth/token"),
        };
        for (k, v) in headers {
            r = r.header(k, *v);
        }
        r
    }

    fn length(e: &[(String, Vec<u8>)]) -> Vec<String> {
        e.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    #[test]
    fn a_body_goes_out_with_its_length() {
        let post = req(Some(b"grant_type=client_credentials"), &[("Accept", "application/json")]).header_entries();
        assert_eq!(length(&post), vec!["29"]);
        assert!(post.iter().any(|(k, _)| k == "Accept"));
        // An empty body still says so; a GET carries no length at all.
        assert_eq!(length(&req(Some(b""), &[]).header_entries()), vec!["0"]);
        assert!(length(&req(None, &[("Accept", "application/json")]).header_entries()).is_empty());
        // A length set by a caller never contradicts the body.
        assert_eq!(length(&req(Some(b"abc"), &[("Content-Length", "99")]).header_entries()), vec!["3"]);
    }

    #[test]
    fn requests_name_their_endpoint_and_host() {
        let r = Request::get("https://psa.example.com:8443/api/customers?page=2").bearer("t");
        assert_eq!(r.endpoint, "/api/customers");
        assert_eq!(r.headers, vec![("Authorization".to_string(), "Bearer t".to_string())]);
        let e = HttpError::new(&r, Phase::Body, ErrorKind::Timeout);
        assert_eq!(e.host, "psa.example.com:8443");
        assert_eq!(e.endpoint, "/api/customers");
        assert_eq!(e.to_string(), "psa.example.com:8443 /api/customers: timed out while reading the answer's body");
        assert_eq!(Request::get("not a url").endpoint("/x").endpoint, "/x");
    }

    #[test]
    fn put_patch_and_json_bodies() {
        let v = serde_json::json!({"a": [1, "ü"]});
        for (r, m) in [
            (Request::post_json("https://h.example/x", &v), Method::Post),
            (Request::put_json("https://h.example/x", &v), Method::Put),
            (Request::patch_json("https://h.example/x", &v), Method::Patch),
        ] {
            assert_eq!(r.method, m);
            let body = r.body.clone().unwrap();
            assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap(), v);
            assert_eq!(length(&r.header_entries()), vec![body.len().to_string()]);
            assert_eq!(r.endpoint, "/x");
        }
        // One content type, the JSON one; a GET gets no body.
        let r = Request::post("https://h.example/x", Vec::new()).header("content-type", "text/plain").json(&v);
        assert_eq!(r.headers, vec![("Content-Type".to_string(), "application/json".to_string())]);
        let g = Request::get("https://h.example/x").json(&v);
        assert!(g.body.is_none() && g.headers.is_empty());
        assert_eq!(Request::put("https://h.example/x", b"ab".to_vec()).body.as_deref(), Some(&b"ab"[..]));
        assert_eq!(Request::patch("https://h.example/x", Vec::new()).method, Method::Patch);
    }

    #[test]
    fn error_bodies() {
        assert_eq!(error_messages(br#"{"Errors": [{"message": "No permission"}, null]}"#), ["No permission"]);
        assert!(error_messages(br#"{"errors": "x"}"#).is_empty());
        assert!(error_messages(b"not json").is_empty());
        let many = serde_json::json!({"errors": vec!["e"; 100]}).to_string();
        assert_eq!(error_messages(many.as_bytes()).len(), 20);
        let long = serde_json::json!({"errors": ["x".repeat(5000)]}).to_string();
        assert_eq!(error_messages(long.as_bytes())[0].len(), 1000);
    }

    #[test]
    fn scripted_transport() {
        let mut t = Scripted::new().body(204, "").fail_in(Phase::Body, ErrorKind::TooLarge);
        assert_eq!(t.send(&Request::get("https://h.example/a")).unwrap().status, 204);
        let e = t.send(&Request::get("https://h.example:8443/b").bearer("tok")).err().unwrap();
        assert_eq!((e.phase, e.kind, e.host.as_str()), (Phase::Body, ErrorKind::TooLarge, "h.example:8443"));
        assert_eq!(t.header(1, "AUTHORIZATION"), Some("Bearer tok"));
        assert_eq!((t.header(5, "x"), t.body_json(0)), (None, None));
        assert!(t.is_done());
        let unscripted = std::panic::catch_unwind(move || t.send(&Request::get("https://h.example/c")).is_ok());
        assert!(unscripted.is_err());
    }

    #[test]
    fn body_errors_known_only_by_their_text() {
        assert_eq!(body_error_from_text("HTTP response body size exceeds limit: 1048576 bytes"), Some(ErrorKind::TooLarge));
        assert_eq!(body_error_from_text("connection read timeout"), Some(ErrorKind::Timeout));
        assert_eq!(body_error_from_text("operation timed out"), Some(ErrorKind::Timeout));
        assert_eq!(body_error_from_text("connection reset by peer"), None);
    }

    #[test]
    fn responses() {
        let r = Response {
            status: 429,
            headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into()), ("Retry-After".into(), "7".into())],
            body: b"<html>".to_vec(),
        };
        assert_eq!(r.retry_after(), Some(7));
        assert!(r.is_html() && !r.is_success());
        assert!(is_html(None, b"  \n<!DOCTYPE html>"));
        assert!(!is_html(Some("application/json"), b"{\"a\":1}"));
        assert!(!is_html(None, b""));
    }

    #[test]
    fn retry_after_values() {
        let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let r = |v| retry_after_at(v, now);
        assert_eq!(r("120"), Some(120));
        assert_eq!(r("10000000000"), Some(u32::MAX));
        assert_eq!(r("18446744073709551615"), Some(u32::MAX));
        assert_eq!(r("Tue, 14 Nov 2023 22:14:50 GMT"), Some(90));
        assert_eq!(r("Sun, 06 Nov 1994 08:49:37 GMT"), Some(0));
        for garbage in ["-5", "1.5", "", "later"] {
            assert_eq!(r(garbage), None, "{garbage:?}");
        }
    }

    #[test]
    fn client_settings() {
        let c = WasiHttp::new().max_body(8 << 20).timeouts(
            std::time::Duration::from_secs(1),
            std::time::Duration::from_secs(2),
            std::time::Duration::MAX,
        );
        assert_eq!((c.max_body, c.connect_timeout_ns, c.first_byte_timeout_ns, c.between_bytes_timeout_ns), (8 << 20, SECOND_NS, 2 * SECOND_NS, u64::MAX));
        assert_eq!(WasiHttp::default().max_body, DEFAULT_MAX_BODY);
    }
}
