//! Sends one vetted HTTP request: resolve, check every address
//! ([`crate::egress`]), connect to a permitted one, TLS, HTTP/1.1, with the
//! host's timeouts and size caps. Policy (which origins) lives in
//! [`crate::hooks`]; this module only moves bytes.

use crate::egress::{self, DnsOverrides, EgressError};
use crate::limits::Limits;
use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// What the transport needs to know about the session.
#[derive(Clone)]
pub(crate) struct Transport {
    pub(crate) limits: Limits,
    pub(crate) allow_loopback: bool,
    pub(crate) tls: Arc<rustls::ClientConfig>,
    pub(crate) dns: Arc<DnsOverrides>,
    /// Sees each answered exchange ([`crate::record`]); `None`: nothing is copied.
    pub(crate) recorder: Option<Arc<dyn crate::record::ExchangeRecorder>>,
}

/// A frame-by-frame view of the events worth logging.
pub(crate) type Outcome = Result<(Response<WasiBody>, Box<dyn Future<Output = Result<(), Error>> + Send>), Error>;

/// Builds the TLS client configuration: the Mozilla roots plus `extra_roots`
/// (for PSAs behind a private CA). Fails naming the first extra certificate
/// that cannot serve as a trust anchor.
pub(crate) fn tls_config(extra_roots: &[rustls::pki_types::CertificateDer<'static>]) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.into(),
    };
    for (i, cert) in extra_roots.iter().enumerate() {
        roots
            .add(cert.clone())
            .map_err(|source| TlsError::ExtraRoot { number: i + 1, source })?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Why the TLS client configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    /// An extra root certificate (numbered from 1) is not a usable trust anchor.
    #[error("extra CA certificate #{number} cannot be used as a trusted root: {source}")]
    ExtraRoot { number: usize, source: rustls::Error },
}

impl Transport {
    /// Sends `req`, which the policy has already accepted.
    pub(crate) async fn send(&self, mut req: Request<WasiBody>, options: Option<RequestOptions>) -> Outcome {
        let uri = req.uri().clone();
        let https = uri.scheme_str() == Some("https");
        let host = uri.host().ok_or(Error::HttpRequestUriInvalid)?.to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let lim = &self.limits;
        let connect_timeout = Limits::cap(options.and_then(|o| o.connect_timeout), lim.connect_timeout);
        let first_byte = Limits::cap(options.and_then(|o| o.first_byte_timeout), lim.first_byte_timeout);
        let between = Limits::cap(options.and_then(|o| o.between_bytes_timeout), lim.between_bytes_timeout);

        // A body-less method must not carry an open, empty body: hyper then
        // drops the connection and the guest sees a reset (wstd opens one
        // for every request).
        if matches!(*req.method(), http::Method::GET | http::Method::HEAD | http::Method::OPTIONS)
            && !req.headers().contains_key(http::header::CONTENT_LENGTH)
            && !req.headers().contains_key(http::header::TRANSFER_ENCODING)
        {
            let (parts, body) = req.into_parts();
            tokio::spawn(async move {
                let _ = body.collect().await;
            });
            req = Request::from_parts(parts, http_body_util::Empty::new().map_err(|e| match e {}).boxed_unsync());
        }

        let deadline = Instant::now() + connect_timeout;
        // The request body is capped before anything connects: a declared
        // length over the cap is refused, a streamed one is cut at the cap.
        let max_up = lim.max_request_body_bytes;
        if let Some(len) = declared_length(req.headers()) {
            if len > max_up {
                tracing::warn!(%host, "request body of {len} bytes exceeds the {max_up}-byte cap");
                return Err(Error::HttpRequestBodySize(Some(len)));
            }
        }
        let upload_cut = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut req = req.map(|body| {
            CappedUpload { inner: body, budget: Budget(max_up), cut: upload_cut.clone() }.boxed_unsync()
        });
        // Recording: the request as sent, its body copied as it goes.
        let mut pending = None;
        if let Some(recorder) = &self.recorder {
            let copy = Arc::new(std::sync::Mutex::new(Vec::new()));
            pending = Some(crate::record::Pending {
                recorder: recorder.clone(),
                sequence: crate::record::next_sequence(),
                method: req.method().as_str().to_string(),
                url: uri.to_string(),
                request_headers: crate::record::header_pairs(req.headers()),
                request_body: copy.clone(),
            });
            req = req.map(|inner| crate::record::TeeUpload { inner, copy, cap: max_up }.boxed_unsync());
        }

        let addrs = match egress::resolve(&host, port, self.allow_loopback, connect_timeout, &self.dns).await {
            Ok(a) => a,
            Err(EgressError::DnsTimeout) => return Err(Error::DnsTimeout),
            Err(EgressError::Dns(msg)) => {
                tracing::info!(%host, "DNS lookup failed: {msg}");
                return Err(Error::DnsError { rcode: Some("NXDOMAIN or no address".into()), info_code: None });
            }
            Err(EgressError::Prohibited { addresses }) => {
                let list: Vec<String> = addresses
                    .iter()
                    .map(|(ip, class)| format!("{ip} ({})", class.describe()))
                    .collect();
                tracing::warn!(%host, "sandbox refused to connect: {} resolves only to {}", host, list.join(", "));
                return Err(Error::DestinationIpProhibited);
            }
        };
        if !https && !addrs.iter().all(|a| a.ip().is_loopback() || egress::classify(a.ip()) == egress::AddressClass::Loopback) {
            tracing::warn!(%host, "sandbox refused plain http to a non-loopback address");
            return Err(Error::HttpRequestDenied);
        }

        let mut last_err = Error::ConnectionRefused;
        let mut stream = None;
        for addr in &addrs {
            match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
                Err(_) => {
                    last_err = Error::ConnectionTimeout;
                    break;
                }
                Ok(Err(e)) => {
                    tracing::info!(%host, %addr, "connect failed: {e}");
                    last_err = Error::ConnectionRefused;
                }
                Ok(Ok(s)) => {
                    stream = Some(s);
                    break;
                }
            }
        }
        let Some(tcp) = stream else { return Err(last_err) };
        let _ = tcp.set_nodelay(true);

        let io: Box<dyn Io> = if https {
            // An IPv6 literal comes bracketed (`[::1]`) from the URI; the
            // certificate names the bare address.
            let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(&host);
            let name = rustls::pki_types::ServerName::try_from(bare.to_string())
                .map_err(|_| Error::HttpRequestUriInvalid)?;
            let connector = tokio_rustls::TlsConnector::from(self.tls.clone());
            match tokio::time::timeout_at(deadline, connector.connect(name, tcp)).await {
                Err(_) => return Err(Error::ConnectionTimeout),
                Ok(Err(e)) => {
                    let cert = e
                        .get_ref()
                        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                        .is_some_and(|r| matches!(r, rustls::Error::InvalidCertificate(_)));
                    tracing::info!(%host, "TLS handshake failed: {e}");
                    return Err(if cert { Error::TlsCertificateError } else { Error::TlsProtocolError });
                }
                Ok(Ok(tls)) => Box::new(tls),
            }
        } else {
            Box::new(tcp)
        };

        let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
            // The head's size is checked after parsing too: the read buffer
            // limit alone lets a head that arrives in one read through.
            .max_header_size(lim.max_response_header_bytes)
            .max_buf_size(lim.max_response_header_bytes.max(8192))
            .handshake(TokioIo::new(io))
            .await
            .map_err(Error::from)?;

        // Origin-form on the wire: scheme and authority live in Host.
        *req.uri_mut() = http::Uri::builder()
            .path_and_query(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
            .build()
            .map_err(|_| Error::HttpRequestUriInvalid)?;

        let conn_task = tokio::spawn(conn);
        let resp = match tokio::time::timeout(first_byte, sender.send_request(req)).await {
            Err(_) => return Err(Error::ConnectionReadTimeout),
            Ok(Err(_)) if upload_cut.load(std::sync::atomic::Ordering::Relaxed) => {
                tracing::warn!(%host, "request body exceeded the {max_up}-byte cap; cut");
                return Err(Error::HttpRequestBodySize(Some(max_up)));
            }
            Ok(Err(e)) => {
                tracing::info!(%host, "request failed: {e}");
                return Err(if e.is_timeout() { Error::ConnectionReadTimeout } else { Error::from(e) });
            }
            Ok(Ok(r)) => r,
        };
        let max = lim.max_response_body_bytes;
        if let Some(len) = declared_length(resp.headers()) {
            if len > max {
                tracing::warn!(%host, "response body of {len} bytes exceeds the {max}-byte cap");
                return Err(Error::HttpResponseBodySize(Some(len)));
            }
        }
        let resp = resp.map(|incoming| {
            CappedBody {
                inner: incoming,
                budget: Budget(max),
                cap: max,
                between,
                timer: Box::pin(tokio::time::sleep(between)),
            }
            .boxed_unsync()
        });
        let resp = match pending {
            None => resp,
            Some(pending) => {
                let status = resp.status().as_u16();
                let response_headers = crate::record::header_pairs(resp.headers());
                resp.map(|inner| crate::record::TeeResponse::new(inner, pending, status, response_headers, max).boxed_unsync())
            }
        };
        let io_done = async move {
            match conn_task.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(Error::from(e)),
                Err(_) => Err(Error::ConnectionTerminated),
            }
        };
        Ok((resp, Box::new(io_done)))
    }
}

fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// A request body that fails once more than its budget went through,
/// and says so in `cut`.
struct CappedUpload {
    inner: WasiBody,
    budget: Budget,
    cut: Arc<std::sync::atomic::AtomicBool>,
}

impl Body for CappedUpload {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if !this.budget.take(&frame) {
                    this.cut.store(true, std::sync::atomic::Ordering::Relaxed);
                    return Poll::Ready(Some(Err(Error::HttpRequestBodySize(None))));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Bytes a body may still carry.
struct Budget(u64);

impl Budget {
    /// Counts a frame's data; `false` when it goes over the budget (which
    /// is then spent).
    fn take(&mut self, frame: &Frame<Bytes>) -> bool {
        let n = frame.data_ref().map_or(0, |d| d.len() as u64);
        match self.0.checked_sub(n) {
            Some(left) => {
                self.0 = left;
                true
            }
            None => {
                self.0 = 0;
                false
            }
        }
    }
}

trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A response body with a size cap and a between-bytes timeout.
struct CappedBody {
    inner: Incoming,
    budget: Budget,
    cap: u64,
    between: Duration,
    timer: Pin<Box<Sleep>>,
}

impl Body for CappedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(if e.is_timeout() {
                Error::ConnectionReadTimeout
            } else {
                Error::from(e)
            }))),
            Poll::Ready(Some(Ok(frame))) => {
                if !this.budget.take(&frame) {
                    tracing::warn!("response body exceeded the {}-byte cap; cut", this.cap);
                    return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(this.cap)))));
                }
                let next = Instant::now() + this.between;
                this.timer.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Error::ConnectionReadTimeout))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
