//! The sandbox's outbound policy, enforced in `wasi:http`'s send hook.
//!
//! Every request a connector makes passes here before anything touches the
//! network: the scheme must be `https` (or `http` with `allow_loopback`),
//! and scheme, host and port must be on the session's [`AllowedHosts`]. A
//! refusal is a [`Denial`]: logged with the connector's name, the refused
//! origin and how to allow it, kept in [`Denials`] for the caller's error
//! message, and reported to the guest as `http-request-denied`. Refusals
//! carry what the connector asked for (a host name may hold a secret), so
//! their text is scrubbed of the session's secrets before it is logged or
//! kept, and escaped when it is shown; at most [`LOGGED_REFUSALS_PER_CALL`]
//! are logged per call, then one line says how many more were not.
//! Accepted requests go to [`Transport`], which checks addresses after DNS.

use crate::allowed_hosts::{AllowedHosts, Scheme};
use crate::outbound::Transport;
use crate::pacing::{Pacer, Pacing, PacingClock};
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error, RequestOptions, Result as HttpResult, WasiBody, WasiHttpHooks};

/// Sandbox refusals logged per call of a connector; the rest are counted,
/// and one line after the call says how many were not logged.
pub const LOGGED_REFUSALS_PER_CALL: u32 = 16;

/// Refusals kept per session until [`Session::take_denials`] (or an error
/// message) takes them; later ones are logged (within
/// [`LOGGED_REFUSALS_PER_CALL`]) but not kept.
///
/// [`Session::take_denials`]: crate::Session::take_denials
const KEPT_DENIALS: usize = 16;

/// A request the sandbox refused, and why: one variant per kind of refusal.
///
/// The text fields hold what the connector asked for with the session's
/// secret values replaced by `[redacted]`, but not escaped: escape them
/// (`psa_host::escape::for_terminal`) before printing them on their own.
/// [`Display`](fmt::Display) gives the sentence the host logs and appends
/// to error messages, escaped for a terminal or log line: what was refused,
/// and how to allow it when it may be allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Denial {
    /// A request whose URL scheme is neither `https` nor `http`.
    Scheme {
        /// The connector's id.
        connector: String,
        /// The scheme the connector used (empty when the URL had none).
        scheme: String,
    },
    /// Plain `http` while the host does not allow loopback
    /// ([`HostOptions::allow_loopback`](crate::HostOptions::allow_loopback)).
    PlainHttp {
        /// The connector's id.
        connector: String,
        /// The host the request was for.
        host: String,
        /// Its port.
        port: u16,
    },
    /// An origin that is not on the session's allow-list.
    HostNotAllowed {
        /// The connector's id.
        connector: String,
        /// `https` or `http`.
        scheme: String,
        /// The host the request was for.
        host: String,
        /// Its port.
        port: u16,
        /// The session's allow-list, as [`AllowedHosts::describe`] gives it.
        allowed: String,
    },
    /// A host name that resolved only to addresses the sandbox never
    /// connects to (loopback, private, link-local and similar; see the
    /// host's log for each address and its class).
    InternalAddress {
        /// The connector's id.
        connector: String,
        /// The host name that was resolved.
        host: String,
    },
    /// A redirect to another origin (redirects are never followed).
    CrossOriginRedirect {
        /// The host that answered with the redirect.
        host: String,
        /// The HTTP status of the redirect (a 3xx).
        status: u16,
        /// Where it pointed, without its query.
        location: String,
    },
    /// More requests in flight than
    /// [`Limits::max_requests_in_flight`](crate::Limits::max_requests_in_flight).
    TooManyInFlight {
        /// The connector's id.
        connector: String,
        /// The limit.
        max: usize,
    },
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::escape::for_terminal(&self.sentence()))
    }
}

impl Denial {
    /// The sentence, not yet escaped.
    fn sentence(&self) -> String {
        match self {
            Denial::Scheme { connector, scheme } => {
                format!("connector `{connector}` tried a request with scheme {scheme:?}; only https is allowed")
            }
            Denial::PlainHttp { connector, host, port } => format!(
                "connector `{connector}` tried plain http to {host}:{port}; only https is allowed (use https in the URL fields, \
                 or run the host with --allow-loopback for a local simulator)"
            ),
            Denial::HostNotAllowed { connector, scheme, host, port, allowed } => format!(
                "connector `{connector}` tried to reach {scheme}://{host}:{port}, which is not in this connection's allowed hosts ({allowed}); \
                 to allow it, put that URL in one of the connection's URL fields"
            ),
            Denial::InternalAddress { connector, host } => format!(
                "connector `{connector}`: {host} resolves only to internal addresses (loopback, private, \
                 link-local or similar), which the sandbox never connects to; use the instance's public address"
            ),
            Denial::CrossOriginRedirect { host, status, location } => format!(
                "{host} answered HTTP {status} redirecting to {location}, another origin; the sandbox does not follow redirects. \
                 Use the final URL in the connection's URL fields"
            ),
            Denial::TooManyInFlight { connector, max } => format!(
                "connector `{connector}` already has {max} requests in flight (Limits::max_requests_in_flight); \
                 it must read or drop earlier responses before sending more"
            ),
        }
    }

    /// Every text field, for scrubbing.
    fn texts(&mut self) -> Vec<&mut String> {
        match self {
            Denial::Scheme { connector, scheme } => vec![connector, scheme],
            Denial::PlainHttp { connector, host, .. } => vec![connector, host],
            Denial::HostNotAllowed { connector, scheme, host, allowed, .. } => vec![connector, scheme, host, allowed],
            Denial::InternalAddress { connector, host } => vec![connector, host],
            Denial::CrossOriginRedirect { host, location, .. } => vec![host, location],
            Denial::TooManyInFlight { connector, .. } => vec![connector],
        }
    }

    /// `self` with `secrets` scrubbed from every text field. Should a
    /// secret still show in the sentence (spelled across two fields, or a
    /// field and the words between them), every text field is redacted.
    fn scrubbed(mut self, secrets: &[String]) -> Denial {
        for t in self.texts() {
            *t = crate::redact::scrub(t, secrets);
        }
        let sentence = self.sentence();
        if crate::redact::scrub(&sentence, secrets) != sentence {
            for t in self.texts() {
                *t = "[redacted]".to_string();
            }
        }
        self
    }
}

/// Requests the policy refused during the current call, with the session's
/// secrets scrubbed.
#[derive(Clone, Default)]
pub(crate) struct Denials {
    list: Arc<Mutex<Vec<Denial>>>,
    /// The session's secret values, shared with the session's instance
    /// (one copy per session).
    secrets: Arc<[String]>,
    logged: Arc<AtomicU32>,
    unlogged: Arc<AtomicU32>,
}

impl Denials {
    /// Refusals of a session whose secret values are `secrets`.
    pub(crate) fn new(secrets: Arc<[String]>) -> Self {
        Denials { secrets, ..Default::default() }
    }

    /// Records a refusal and logs it (the first
    /// [`LOGGED_REFUSALS_PER_CALL`] of a call), scrubbed and escaped.
    pub(crate) fn refuse(&self, connector: &str, denial: Denial) {
        let denial = denial.scrubbed(&self.secrets);
        if self.logged.fetch_add(1, Ordering::Relaxed) < LOGGED_REFUSALS_PER_CALL {
            tracing::warn!(connector = %crate::escape::for_terminal(connector), "sandbox: {denial}");
        } else {
            self.unlogged.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok(mut v) = self.list.lock() {
            if v.len() < KEPT_DENIALS {
                v.push(denial);
            }
        }
    }

    /// Starts a call's count of logged refusals.
    pub(crate) fn start_call(&self) {
        self.logged.store(0, Ordering::Relaxed);
        self.unlogged.store(0, Ordering::Relaxed);
    }

    /// Ends a call's count: how many of its refusals were not logged.
    pub(crate) fn end_call(&self) -> u32 {
        self.unlogged.swap(0, Ordering::Relaxed)
    }

    /// Takes and clears the refusals recorded so far.
    pub(crate) fn take_denials(&self) -> Vec<Denial> {
        self.list.lock().map(|mut v| std::mem::take(&mut *v)).unwrap_or_default()
    }

}

/// What a failed call's message gains from the refusals during it:
/// ` (Sandbox: <refusal>; <refusal>)`, or nothing when there were none.
pub(crate) fn sandbox_note(denied: &[Denial]) -> String {
    if denied.is_empty() {
        return String::new();
    }
    let sentences: Vec<String> = denied.iter().map(Denial::to_string).collect();
    format!(" (Sandbox: {})", sentences.join("; "))
}

/// Requests of one session the host holds now: from the send hook until
/// the response body is dropped (or the request fails).
#[derive(Clone, Default)]
pub(crate) struct InFlight(Arc<std::sync::atomic::AtomicUsize>);

/// One request counted in [`InFlight`]; released on drop.
struct InFlightSlot(Arc<std::sync::atomic::AtomicUsize>);

impl InFlight {
    /// A slot, or `None` when `max` requests are in flight already.
    fn take(&self, max: usize) -> Option<InFlightSlot> {
        use std::sync::atomic::Ordering;
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1))
            .ok()
            .map(|_| InFlightSlot(self.0.clone()))
    }
}

impl Drop for InFlightSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// A response body that keeps its request's [`InFlightSlot`] until the
/// guest drops it.
struct SlotBody {
    inner: WasiBody,
    _slot: InFlightSlot,
}

impl http_body::Body for SlotBody {
    type Data = bytes::Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Error>>> {
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Policy state for one session.
pub(crate) struct SandboxHooks {
    pub(crate) connector: String,
    pub(crate) allowed: AllowedHosts,
    pub(crate) transport: Transport,
    pub(crate) denials: Denials,
    /// Shared by every session of the host: per-origin request windows.
    pub(crate) pacer: Arc<Pacer>,
    /// Time this session's requests spent held back by the pacer; the call
    /// deadline is extended by it.
    pub(crate) paced: Arc<PacingClock>,
    /// The connector's declared budget and concurrency, kept besides the
    /// host's budget.
    pub(crate) pacing: Pacing,
    /// How long an origin that answered 429 without `Retry-After` is held back.
    pub(crate) rate_limit_hold: Duration,
    /// This session's requests in flight, at most `max_in_flight`.
    pub(crate) in_flight: InFlight,
    pub(crate) max_in_flight: usize,
}

impl SandboxHooks {
    /// Whether a request to `uri` may leave; otherwise why not.
    pub(crate) fn decide(&self, uri: &http::Uri) -> Result<(), Denial> {
        let connector = self.connector.clone();
        let scheme = match uri.scheme_str() {
            Some("https") => Scheme::Https,
            Some("http") => Scheme::Http,
            other => return Err(Denial::Scheme { connector, scheme: other.unwrap_or("").to_string() }),
        };
        let host = uri.host().unwrap_or("").to_string();
        let port = uri.port_u16().unwrap_or(scheme.default_port());
        if scheme == Scheme::Http && !self.transport.allow_loopback {
            return Err(Denial::PlainHttp { connector, host, port });
        }
        if !self.allowed.permits(scheme, &host, port) {
            return Err(Denial::HostNotAllowed {
                connector,
                scheme: scheme.as_str().to_string(),
                host,
                port,
                allowed: self.allowed.describe(),
            });
        }
        Ok(())
    }
}

/// Request headers a connector may not set, whichever way it tries
/// (`fields.from-list`, `set`, `append`): hop-by-hop and routing headers that
/// would let it address another virtual host behind the allowed one, smuggle
/// a second request, or talk to a proxy. The host writes `Host` and the
/// framing itself.
pub const FORBIDDEN_REQUEST_HEADERS: [&str; 12] = [
    "host",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "http2-settings",
    "te",
    "trailer",
    "expect",
];

impl WasiHttpHooks for SandboxHooks {
    fn forbidden_header_filter(&mut self) -> wasmtime_wasi_http::ForbiddenHeaderFilter {
        Arc::new(|name: &http::HeaderName| FORBIDDEN_REQUEST_HEADERS.contains(&name.as_str()))
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = HttpResult<(
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                )>,
            > + Send,
    > {
        drop(fut);
        if let Err(denial) = self.decide(request.uri()) {
            self.denials.refuse(&self.connector, denial);
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        let Some(slot) = self.in_flight.take(self.max_in_flight) else {
            let denial = Denial::TooManyInFlight { connector: self.connector.clone(), max: self.max_in_flight };
            self.denials.refuse(&self.connector, denial);
            return Box::new(async { Err(Error::HttpRequestDenied) });
        };
        tracing::debug!(connector = %self.connector, method = %request.method(), host = request.uri().host().unwrap_or(""), path = request.uri().path(), "outbound request");
        let transport = self.transport.clone();
        let pacer = self.pacer.clone();
        let paced = self.paced.clone();
        let hold = self.rate_limit_hold;
        let connector = self.connector.clone();
        let denials = self.denials.clone();
        let pacing = self.pacing;
        // One budget per instance: its auth and API endpoints share it.
        let origin = request.uri().host().unwrap_or("").to_ascii_lowercase();
        Box::new(async move {
            let admitted = paced.acquire(&pacer, &origin, &pacing).await;
            let request_host = request.uri().host().unwrap_or("").to_ascii_lowercase();
            let request_scheme = request.uri().scheme_str().unwrap_or("https").to_string();
            let request_port = request.uri().port_u16();
            let result = transport.send(request, options).await;
            // In flight for the PSA's concurrency until the head arrives.
            drop(admitted);
            if let Err(Error::DestinationIpProhibited) = &result {
                denials.refuse(&connector, Denial::InternalAddress { connector: connector.clone(), host: request_host.clone() });
            }
            let result = result.map(|(resp, io)| (resp.map(|inner| SlotBody { inner, _slot: slot }.boxed_unsync()), io));
            if let Ok((resp, _)) = &result {
                if let Some(denial) = cross_origin_redirect(resp, &request_scheme, &request_host, request_port) {
                    denials.refuse(&connector, denial);
                    return Err(Error::HttpRequestDenied);
                }
                if resp.status() == http::StatusCode::TOO_MANY_REQUESTS {
                    // Hostile input: parsed without overflow, clamped by the pacer.
                    let asked = resp
                        .headers()
                        .get(http::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| crate::retry::parse_retry_after(v, std::time::SystemTime::now()));
                    let held = pacer.rate_limited(&origin, asked.unwrap_or(hold));
                    tracing::warn!(
                        %origin, held_s = held.as_secs(), retry_after_s = asked.map(|d| d.as_secs()),
                        "the PSA answered 429 (rate limit); holding every session's requests to it back"
                    );
                }
            }
            result
        })
    }
}

/// A 3xx whose `Location` leaves the request's origin: redirects are never
/// followed, and one to another host is refused outright, so a PSA (or
/// whoever answers in its name) cannot steer a connector elsewhere.
fn cross_origin_redirect(
    resp: &http::Response<WasiBody>,
    scheme: &str,
    host: &str,
    port: Option<u16>,
) -> Option<Denial> {
    if !resp.status().is_redirection() {
        return None;
    }
    let location = resp.headers().get(http::header::LOCATION)?.to_str().ok()?.trim().to_string();
    let base = match port {
        Some(p) => format!("{scheme}://{host}:{p}/"),
        None => format!("{scheme}://{host}/"),
    };
    let target = url::Url::parse(&base).ok()?.join(&location).ok()?;
    let same = target.scheme() == scheme
        && target.host_str().map(|h| h.trim_end_matches('.').to_ascii_lowercase()) == Some(host.to_string())
        && target.port_or_known_default() == url::Url::parse(&base).ok()?.port_or_known_default();
    (!same).then(|| {
        let mut shown = target.clone();
        shown.set_query(None);
        Denial::CrossOriginRedirect { host: host.to_string(), status: resp.status().as_u16(), location: shown.to_string() }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denied_host(host: &str, port: u16) -> Denial {
        Denial::HostNotAllowed {
            connector: "c".into(),
            scheme: "https".into(),
            host: host.into(),
            port,
            allowed: "https://a.example:443".into(),
        }
    }

    /// The sentences are the ones the host logged before refusals were typed.
    #[test]
    fn each_refusal_reads_as_before() {
        let cases = [
            (
                Denial::Scheme { connector: "c".into(), scheme: "ftp".into() },
                "connector `c` tried a request with scheme \"ftp\"; only https is allowed",
            ),
            (
                Denial::PlainHttp { connector: "c".into(), host: "h.example".into(), port: 80 },
                "connector `c` tried plain http to h.example:80; only https is allowed (use https in the URL fields, \
                 or run the host with --allow-loopback for a local simulator)",
            ),
            (
                denied_host("evil.example", 443),
                "connector `c` tried to reach https://evil.example:443, which is not in this connection's allowed hosts \
                 (https://a.example:443); to allow it, put that URL in one of the connection's URL fields",
            ),
            (
                Denial::InternalAddress { connector: "c".into(), host: "meta.example".into() },
                "connector `c`: meta.example resolves only to internal addresses (loopback, private, link-local or \
                 similar), which the sandbox never connects to; use the instance's public address",
            ),
            (
                Denial::CrossOriginRedirect { host: "a.example".into(), status: 302, location: "https://b.example/x".into() },
                "a.example answered HTTP 302 redirecting to https://b.example/x, another origin; the sandbox does not \
                 follow redirects. Use the final URL in the connection's URL fields",
            ),
            (
                Denial::TooManyInFlight { connector: "c".into(), max: 16 },
                "connector `c` already has 16 requests in flight (Limits::max_requests_in_flight); it must read or \
                 drop earlier responses before sending more",
            ),
        ];
        for (denial, want) in cases {
            assert_eq!(denial.to_string(), want);
        }
    }

    #[test]
    fn a_secret_in_a_field_is_scrubbed_and_the_sentence_escaped() {
        let secrets = vec!["hunter2-secret".to_string()];
        let d = denied_host("hunter2-secret.example\n", 443).scrubbed(&secrets);
        assert_eq!(d, denied_host("[redacted].example\n", 443), "fields are scrubbed, not escaped");
        let text = d.to_string();
        assert!(text.contains("https://[redacted].example\\n:443") && !text.contains('\n'), "{text}");
    }

    /// A secret that only shows across fields (host, `:` and port) is not in
    /// any one field: every text field is then redacted.
    #[test]
    fn a_secret_spelled_across_fields_redacts_them_all() {
        let secrets = vec!["leak.example:4431".to_string()];
        let d = denied_host("leak.example", 4431).scrubbed(&secrets);
        let text = d.to_string();
        assert!(!text.contains("leak.example"), "{text}");
        assert!(matches!(&d, Denial::HostNotAllowed { host, .. } if host == "[redacted]"), "{d:?}");
        let plain = denied_host("fine.example", 4431).scrubbed(&secrets);
        assert_eq!(plain, denied_host("fine.example", 4431), "nothing to redact");
    }

    #[test]
    fn kept_refusals_are_typed_and_capped() {
        let denials = Denials::new(vec!["hunter2-secret".to_string()].into());
        for _ in 0..KEPT_DENIALS + 3 {
            denials.refuse("c", denied_host("hunter2-secret.example", 443));
        }
        let kept = denials.take_denials();
        assert_eq!(kept.len(), KEPT_DENIALS);
        assert_eq!(kept[0], denied_host("[redacted].example", 443));
        assert!(denials.take_denials().is_empty(), "taken once");
    }
}
