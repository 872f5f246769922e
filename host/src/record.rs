//! Observing the HTTP exchanges the sandbox lets through, for an embedder
//! that records them (`psa-host import --record DIR` writes them as
//! fixtures for `psa-host test`).
//!
//! Set [`HostOptions::recorder`](crate::HostOptions::recorder) to an
//! [`ExchangeRecorder`]; every request a connector sends that the sandbox
//! admits (allow-list, addresses, pacing) and that is answered with a
//! response head is then handed to it as one [`Exchange`] once the guest
//! has read the response body to its end, or dropped it. Requests that fail
//! before a response head arrives (refused, unreachable, timed out) are not
//! recorded.
//!
//! What the guest sees does not change: the request body is copied as it
//! is sent, the response body as the guest reads it, frame by frame, under
//! the host's own caps ([`Limits::max_request_body_bytes`],
//! [`Limits::max_response_body_bytes`](crate::Limits::max_response_body_bytes))
//! and timeouts. Without a recorder nothing is copied.
//!
//! An exchange holds what went over the wire, **secrets included**
//! (`Authorization` headers, tokens, a client secret in a form body):
//! scrub it before it is stored. Its [`Debug`](std::fmt::Debug) output
//! shows only the method, origin, path, status and sizes.
//!
//! [`Recording`] is a ready recorder that keeps the exchanges in memory,
//! at most [`Recording::max_exchanges`] of them and
//! [`Recording::max_bytes`] bytes of bodies together; what does not fit is
//! counted ([`Recording::dropped`]), never silently lost.
//!
//! [`Limits::max_request_body_bytes`]: crate::Limits::max_request_body_bytes

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// Receives each exchange the sandbox let through (see the module docs).
/// Called from the host's I/O tasks: keep it quick and never block.
pub trait ExchangeRecorder: Send + Sync + fmt::Debug {
    /// One finished exchange.
    fn record(&self, exchange: Exchange);
}

/// One HTTP request a connector sent and the response it got, as they
/// went over the wire (secrets included).
#[derive(Clone)]
#[non_exhaustive]
pub struct Exchange {
    /// Order of sending within the host (from 0): exchanges reach the
    /// recorder when their bodies end, which may differ from the order
    /// they were sent in; sort by this.
    pub sequence: u64,
    /// `GET`, `POST`, ...
    pub method: String,
    /// The absolute URL (scheme, host, port, path and query).
    pub url: String,
    /// Request headers as the connector set them (names lower-case; values
    /// not UTF-8 are read lossily).
    pub request_headers: Vec<(String, String)>,
    /// The request body as sent (at most the host's request-body cap).
    pub request_body: Vec<u8>,
    /// The response's status code.
    pub status: u16,
    /// Response headers (names lower-case).
    pub response_headers: Vec<(String, String)>,
    /// The response body as the guest read it.
    pub response_body: Vec<u8>,
    /// Whether the guest read the response body to its end; `false` when
    /// it dropped the body early or the body failed (cap, timeout, reset).
    pub response_complete: bool,
}

impl fmt::Debug for Exchange {
    /// Method, origin and path, status and sizes: no query, header or body,
    /// which may hold secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = url::Url::parse(&self.url)
            .map(|mut u| {
                u.set_query(None);
                let _ = u.set_username("");
                let _ = u.set_password(None);
                u.to_string()
            })
            .unwrap_or_else(|_| "(not a URL)".to_string());
        f.debug_struct("Exchange")
            .field("sequence", &self.sequence)
            .field("method", &self.method)
            .field("url_without_query", &crate::escape::for_terminal(&shown))
            .field("status", &self.status)
            .field("request_body_bytes", &self.request_body.len())
            .field("response_body_bytes", &self.response_body.len())
            .field("response_complete", &self.response_complete)
            .finish()
    }
}

impl Exchange {
    /// Bytes this exchange holds (bodies, URL and headers), as counted
    /// against [`Recording::max_bytes`].
    pub fn size(&self) -> u64 {
        let headers = |h: &[(String, String)]| h.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
        (self.request_body.len()
            + self.response_body.len()
            + self.url.len()
            + self.method.len()
            + headers(&self.request_headers)
            + headers(&self.response_headers)) as u64
    }
}

/// An [`ExchangeRecorder`] that keeps exchanges in memory, bounded.
pub struct Recording {
    max_exchanges: usize,
    max_bytes: u64,
    kept: Mutex<Vec<Exchange>>,
    bytes: AtomicU64,
    dropped: AtomicUsize,
}

impl Recording {
    /// Most exchanges a [`Recording::default`] keeps (as many as a fixture
    /// directory of `psa-host test` may hold).
    pub const DEFAULT_MAX_EXCHANGES: usize = 1_000;
    /// Most bytes a [`Recording::default`] keeps, all exchanges together.
    pub const DEFAULT_MAX_BYTES: u64 = 256 << 20;

    /// A recording that keeps at most `max_exchanges` exchanges and
    /// `max_bytes` bytes of them ([`Exchange::size`]) together.
    pub fn new(max_exchanges: usize, max_bytes: u64) -> Recording {
        Recording { max_exchanges, max_bytes, kept: Mutex::new(Vec::new()), bytes: AtomicU64::new(0), dropped: AtomicUsize::new(0) }
    }

    /// The most exchanges kept.
    pub fn max_exchanges(&self) -> usize {
        self.max_exchanges
    }

    /// The most bytes kept.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Exchanges that arrived once the recording was full, and were not
    /// kept. Anything but 0 means the recording is incomplete.
    pub fn dropped(&self) -> usize {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Takes the exchanges kept so far, in the order they were sent.
    pub fn take(&self) -> Vec<Exchange> {
        let mut v = self.kept.lock().map(|mut v| std::mem::take(&mut *v)).unwrap_or_default();
        v.sort_by_key(|e| e.sequence);
        self.bytes.store(0, Ordering::Relaxed);
        v
    }
}

impl fmt::Debug for Recording {
    /// Its limits and counts, never the exchanges.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recording")
            .field("max_exchanges", &self.max_exchanges)
            .field("max_bytes", &self.max_bytes)
            .field("kept", &self.kept.lock().map(|v| v.len()).unwrap_or(0))
            .field("bytes", &self.bytes.load(Ordering::Relaxed))
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl Default for Recording {
    fn default() -> Self {
        Recording::new(Recording::DEFAULT_MAX_EXCHANGES, Recording::DEFAULT_MAX_BYTES)
    }
}

impl ExchangeRecorder for Recording {
    fn record(&self, exchange: Exchange) {
        let Ok(mut kept) = self.kept.lock() else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let size = exchange.size();
        let bytes = self.bytes.load(Ordering::Relaxed);
        let fits_bytes = bytes.checked_add(size).is_some_and(|total| total <= self.max_bytes);
        if kept.len() >= self.max_exchanges || !fits_bytes {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.bytes.store(bytes + size, Ordering::Relaxed);
        kept.push(exchange);
    }
}

/// What the transport knows of a request when its response head arrives.
pub(crate) struct Pending {
    pub(crate) recorder: Arc<dyn ExchangeRecorder>,
    pub(crate) sequence: u64,
    pub(crate) method: String,
    pub(crate) url: String,
    pub(crate) request_headers: Vec<(String, String)>,
    pub(crate) request_body: Arc<Mutex<Vec<u8>>>,
}

/// Header pairs with lower-case names and lossy values.
pub(crate) fn header_pairs(h: &http::HeaderMap) -> Vec<(String, String)> {
    h.iter().map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect()
}

/// The sequence number of the next exchange sent by any host.
pub(crate) fn next_sequence() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A request body that copies what it sends into `copy`, at most `cap`
/// bytes (the transport's upload cap stops a longer body anyway).
pub(crate) struct TeeUpload<B> {
    pub(crate) inner: B,
    pub(crate) copy: Arc<Mutex<Vec<u8>>>,
    pub(crate) cap: u64,
}

impl<B: Body<Data = Bytes> + Unpin> Body for TeeUpload<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let (Some(data), Ok(mut copy)) = (frame.data_ref(), this.copy.lock()) {
                let room = usize::try_from(this.cap).unwrap_or(usize::MAX).saturating_sub(copy.len());
                copy.extend_from_slice(&data[..data.len().min(room)]);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that copies what the guest reads (at most `cap`
/// bytes) and hands the exchange to the recorder when it ends or is
/// dropped.
pub(crate) struct TeeResponse<B> {
    pub(crate) inner: B,
    pub(crate) pending: Option<Pending>,
    pub(crate) status: u16,
    pub(crate) response_headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) cap: u64,
    pub(crate) complete: bool,
}

impl<B> TeeResponse<B> {
    fn finish(&mut self) {
        let Some(p) = self.pending.take() else { return };
        let request_body = p.request_body.lock().map(|b| b.clone()).unwrap_or_default();
        p.recorder.record(Exchange {
            sequence: p.sequence,
            method: p.method,
            url: p.url,
            request_headers: p.request_headers,
            request_body,
            status: self.status,
            response_headers: std::mem::take(&mut self.response_headers),
            response_body: std::mem::take(&mut self.body),
            response_complete: self.complete,
        });
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for TeeResponse<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let room = usize::try_from(this.cap).unwrap_or(usize::MAX).saturating_sub(this.body.len());
                    this.body.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            Poll::Ready(None) => {
                this.complete = true;
                this.finish();
            }
            Poll::Ready(Some(Err(_))) => this.finish(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for TeeResponse<B> {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(sequence: u64, body: usize) -> Exchange {
        Exchange {
            sequence,
            method: "GET".into(),
            url: "https://psa.example/api?token=hunter2".into(),
            request_headers: vec![("authorization".into(), "Bearer hunter2".into())],
            request_body: Vec::new(),
            status: 200,
            response_headers: Vec::new(),
            response_body: vec![b'x'; body],
            response_complete: true,
        }
    }

    /// The recording keeps at most its number of exchanges and its bytes,
    /// counts the rest, and gives them back in the order they were sent.
    #[test]
    fn a_recording_keeps_at_most_its_exchanges_and_bytes_and_counts_the_rest() {
        let r = Recording::new(3, 1 << 20);
        for i in (0..5).rev() {
            r.record(exchange(i, 10));
        }
        assert_eq!(r.dropped(), 2);
        let kept = r.take();
        assert_eq!(kept.iter().map(|e| e.sequence).collect::<Vec<_>>(), [2, 3, 4], "sorted by sequence");

        let size = exchange(0, 1000).size();
        let r = Recording::new(100, size * 2 + 10);
        for i in 0..4 {
            r.record(exchange(i, 1000));
        }
        assert_eq!(r.take().len(), 2, "the byte limit holds");
        assert_eq!(r.dropped(), 2);
    }

    fn pending(recorder: Arc<Recording>, sent: &[u8]) -> Pending {
        Pending {
            recorder,
            sequence: 7,
            method: "POST".into(),
            url: "https://psa.example/auth/token".into(),
            request_headers: vec![("content-type".into(), "application/x-www-form-urlencoded".into())],
            request_body: Arc::new(Mutex::new(sent.to_vec())),
        }
    }

    /// The guest reads exactly what the server sent; the recorder gets the
    /// same bytes (up to the cap) once the body ends, or what was read when
    /// the body is dropped early.
    #[tokio::test]
    async fn the_tee_passes_the_body_through_and_records_it_once() {
        use http_body_util::BodyExt;
        let rec = Arc::new(Recording::default());
        let tee = TeeResponse {
            inner: frames(&[b"{\"a\":", b"1}"]),
            pending: Some(pending(rec.clone(), b"grant_type=x")),
            status: 200,
            response_headers: vec![],
            body: Vec::new(),
            cap: 1 << 20,
            complete: false,
        };
        let seen = tee.collect().await.unwrap().to_bytes();
        assert_eq!(&seen[..], b"{\"a\":1}");
        let got = rec.take();
        assert_eq!(got.len(), 1, "recorded once, at the end and not again on drop");
        assert_eq!(got[0].response_body, b"{\"a\":1}");
        assert!(got[0].response_complete);
        assert_eq!(got[0].request_body, b"grant_type=x");

        // Cut at the cap for the copy; the guest still sees everything.
        let tee = TeeResponse {
            inner: frames(&[b"0123456789"]),
            pending: Some(pending(rec.clone(), b"")),
            status: 500,
            response_headers: vec![],
            body: Vec::new(),
            cap: 4,
            complete: false,
        };
        assert_eq!(tee.collect().await.unwrap().to_bytes().len(), 10);
        assert_eq!(rec.take()[0].response_body, b"0123");

        // Dropped before the end: recorded as incomplete.
        let mut tee = TeeResponse {
            inner: frames(&[b"first", b"second"]),
            pending: Some(pending(rec.clone(), b"")),
            status: 200,
            response_headers: vec![],
            body: Vec::new(),
            cap: 1 << 20,
            complete: false,
        };
        let _ = tee.frame().await;
        drop(tee);
        let got = rec.take();
        assert_eq!((got[0].response_body.as_slice(), got[0].response_complete), (&b"first"[..], false));
    }

    /// A body of the given data frames.
    fn frames(chunks: &[&[u8]]) -> Frames {
        Frames(chunks.iter().map(|c| Bytes::copy_from_slice(c)).collect())
    }

    struct Frames(std::collections::VecDeque<Bytes>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Ready(self.0.pop_front().map(|b| Ok(Frame::data(b))))
        }
    }

    #[test]
    fn debug_output_shows_no_query_header_or_body() {
        let text = format!("{:?}", exchange(1, 4));
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("https://psa.example/api"), "{text}");
        let r = Recording::default();
        r.record(exchange(1, 4));
        let text = format!("{:?}", crate::HostOptions::default().recorder(Some(Arc::new(r))));
        assert!(!text.contains("hunter2") && text.contains("kept: 1"), "{text}");
    }
}
