//! The sandbox's outbound policy, enforced in `wasi:http`'s send hook.
//!
//! Every request a connector makes passes here before anything touches the
//! network: the scheme must be `https` (or `http` with `allow_loopback`),
//! and scheme, host and port must be on the session's
//! [`AllowedHosts`](crate::allowed_hosts::AllowedHosts). A refusal is logged
//! with the connector's name, the refused origin and how to allow it, kept in
//! [`Denials`] for the caller's error message, and reported to the guest as
//! `http-request-denied`. Accepted requests go to
//! [`Transport`](crate::outbound::Transport), which checks addresses after
//! DNS.

use crate::allowed_hosts::{AllowedHosts, Scheme};
use crate::outbound::Transport;
use crate::pacing::{Pacer, PacingClock};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error, RequestOptions, Result as HttpResult, WasiBody, WasiHttpHooks};

/// Requests the policy refused during the current call, as sentences.
#[derive(Clone, Default)]
pub struct Denials(Arc<Mutex<Vec<String>>>);

impl Denials {
    pub(crate) fn push(&self, s: String) {
        if let Ok(mut v) = self.0.lock() {
            if v.len() < 16 {
                v.push(s);
            }
        }
    }

    /// Takes and clears the refusals recorded so far.
    pub fn take(&self) -> Vec<String> {
        self.0.lock().map(|mut v| std::mem::take(&mut *v)).unwrap_or_default()
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
            tracing::warn!(connector = %self.connector, "sandbox: {why}");
            self.denials.push(why);
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        let Some(slot) = self.in_flight.take(self.max_in_flight) else {
            let why = format!(
                "connector `{}` already has {} requests in flight (Limits::max_requests_in_flight); \
                 it must read or drop earlier responses before sending more",
                self.connector, self.max_in_flight
            );
            tracing::warn!(connector = %self.connector, "sandbox: {why}");
            self.denials.push(why);
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
                denials.push(format!(
                    "connector `{connector}`: {request_host} resolves only to internal addresses (loopback, private, \
                     link-local or similar), which the sandbox never connects to; use the instance's public address"
                ));
            }
            let result = result.map(|(resp, io)| (resp.map(|inner| SlotBody { inner, _slot: slot }.boxed_unsync()), io));
            if let Ok((resp, _)) = &result {
                if let Some(why) = cross_origin_redirect(resp, &request_scheme, &request_host, request_port) {
                    tracing::warn!(connector = %connector, "sandbox: {why}");
                    denials.push(why);
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
