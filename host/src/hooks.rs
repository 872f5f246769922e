//! The sandbox's outbound policy, enforced in `wasi:http`'s send hook.
//!
//! Every request a connector makes passes here before anything touches the
//! network: the scheme must be `https` (or `http` with `allow_loopback`),
//! and scheme, host and port must be on the session's
//! [`AllowedHosts`](crate::allowed_hosts::AllowedHosts). A refusal is logged
//! with the connector's name, the refused origin and how to allow it, kept in
//! [`Denials`] for the caller's error message, and reported to the guest as
//! `http-request-denied`. Refusal texts carry what the connector asked for
//! (a host name may hold a secret), so they are scrubbed of the session's
//! secrets and escaped before they are logged or kept, and at most
//! [`LOGGED_REFUSALS_PER_CALL`] are logged per call, then one line says how
//! many more were not. Accepted requests go to
//! [`Transport`](crate::outbound::Transport), which checks addresses after
//! DNS.

use crate::allowed_hosts::{AllowedHosts, Scheme};
use crate::outbound::Transport;
use crate::pacing::{Pacer, PacingClock};
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error, RequestOptions, Result as HttpResult, WasiBody, WasiHttpHooks};

/// Refusals logged per call; the rest are counted, and one line after the
/// call says how many were not logged.
pub const LOGGED_REFUSALS_PER_CALL: u32 = 16;

/// Requests the policy refused during the current call, as sentences with
/// the session's secrets scrubbed and control characters escaped.
#[derive(Clone, Default)]
pub struct Denials {
    list: Arc<Mutex<Vec<String>>>,
    secrets: Arc<[String]>,
    logged: Arc<AtomicU32>,
    unlogged: Arc<AtomicU32>,
}

impl Denials {
    /// Refusals of a session whose secret values are `secrets`.
    pub(crate) fn new(secrets: Vec<String>) -> Self {
        Denials { secrets: secrets.into(), ..Default::default() }
    }

    /// Records a refusal and logs it (the first
    /// [`LOGGED_REFUSALS_PER_CALL`] of a call), scrubbed and escaped.
    pub(crate) fn refuse(&self, connector: &str, why: &str) {
        let why = crate::escape::for_terminal(&crate::redact::scrub(why, &self.secrets)).into_owned();
        if self.logged.fetch_add(1, Ordering::Relaxed) < LOGGED_REFUSALS_PER_CALL {
            tracing::warn!(connector = %crate::escape::for_terminal(connector), "sandbox: {why}");
        } else {
            self.unlogged.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok(mut v) = self.list.lock() {
            if v.len() < 16 {
                v.push(why);
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
    pub fn take(&self) -> Vec<String> {
        self.list.lock().map(|mut v| std::mem::take(&mut *v)).unwrap_or_default()
    }
}

/// Requests of one session the host holds now: from the send hook until
/// the response body is dropped (or the request fails).
#[derive(Clone, Default)]
pub struct InFlight(Arc<std::sync::atomic::AtomicUsize>);

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
pub struct SandboxHooks {
    pub(crate) connector: String,
    pub(crate) allowed: AllowedHosts,
    pub(crate) transport: Transport,
    pub(crate) denials: Denials,
    /// Shared by every session of the host: per-origin request windows.
    pub(crate) pacer: Arc<Pacer>,
    /// Time this session's requests spent held back by the pacer; the call
    /// deadline is extended by it.
    pub(crate) paced: Arc<PacingClock>,
    /// How long an origin that answered 429 without `Retry-After` is held back.
    pub(crate) rate_limit_hold: Duration,
    /// This session's requests in flight, at most `max_in_flight`.
    pub(crate) in_flight: InFlight,
    pub(crate) max_in_flight: usize,
}

impl SandboxHooks {
    /// Whether a request to `uri` may leave; otherwise the refusal sentence.
    pub fn decide(&self, uri: &http::Uri) -> Result<(), String> {
        let scheme = match uri.scheme_str() {
            Some("https") => Scheme::Https,
            Some("http") => Scheme::Http,
            other => {
                return Err(format!(
                    "connector `{}` tried a request with scheme {:?}; only https is allowed",
                    self.connector,
                    other.unwrap_or("")
                ))
            }
        };
        let host = uri.host().unwrap_or("");
        let port = uri.port_u16().unwrap_or(scheme.default_port());
        if scheme == Scheme::Http && !self.transport.allow_loopback {
            return Err(format!(
                "connector `{}` tried plain http to {}:{}; only https is allowed (use https in the URL fields, \
                 or run the host with --allow-loopback for a local simulator)",
                self.connector, host, port
            ));
        }
        if !self.allowed.permits(scheme, host, port) {
            return Err(format!(
                "connector `{}` tried to reach {}://{}:{}, which is not in this connection's allowed hosts ({}); \
                 to allow it, put that URL in one of the connection's URL fields",
                self.connector,
                scheme.as_str(),
                host,
                port,
                self.allowed.describe()
            ));
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
        if let Err(why) = self.decide(request.uri()) {
            self.denials.refuse(&self.connector, &why);
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        let Some(slot) = self.in_flight.take(self.max_in_flight) else {
            let why = format!(
                "connector `{}` already has {} requests in flight (Limits::max_requests_in_flight); \
                 it must read or drop earlier responses before sending more",
                self.connector, self.max_in_flight
            );
            self.denials.refuse(&self.connector, &why);
            return Box::new(async { Err(Error::HttpRequestDenied) });
        };
        tracing::debug!(connector = %self.connector, method = %request.method(), host = request.uri().host().unwrap_or(""), path = request.uri().path(), "outbound request");
        let transport = self.transport.clone();
        let pacer = self.pacer.clone();
        let paced = self.paced.clone();
        let hold = self.rate_limit_hold;
        let connector = self.connector.clone();
        let denials = self.denials.clone();
        // One budget per instance: its auth and API endpoints share it.
        let origin = request.uri().host().unwrap_or("").to_ascii_lowercase();
        Box::new(async move {
            paced.acquire(&pacer, &origin).await;
            let request_host = request.uri().host().unwrap_or("").to_ascii_lowercase();
            let request_scheme = request.uri().scheme_str().unwrap_or("https").to_string();
            let request_port = request.uri().port_u16();
            let result = transport.send(request, options).await;
            if let Err(Error::DestinationIpProhibited) = &result {
                denials.refuse(&connector, &format!(
                    "connector `{connector}`: {request_host} resolves only to internal addresses (loopback, private, \
                     link-local or similar), which the sandbox never connects to; use the instance's public address"
                ));
            }
            let result = result.map(|(resp, io)| (resp.map(|inner| SlotBody { inner, _slot: slot }.boxed_unsync()), io));
            if let Ok((resp, _)) = &result {
                if let Some(why) = cross_origin_redirect(resp, &request_scheme, &request_host, request_port) {
                    denials.refuse(&connector, &why);
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
) -> Option<String> {
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
        format!(
            "{host} answered HTTP {} redirecting to {}, another origin; the sandbox does not follow redirects. \
             Use the final URL in the connection's URL fields",
            resp.status().as_u16(),
            shown
        )
    })
}
