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
//! counted ([`Recording::dropped`]), never silently lost. A response body
//! is copied only into room reserved from the recorder as it arrives
//! ([`ExchangeRecorder::reserve`]), so the copies of all bodies in flight
//! together stay within [`Recording::max_bytes`]; once the recording is
//! full nothing more is copied.
//!
//! [`Limits::max_request_body_bytes`]: crate::Limits::max_request_body_bytes

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// Receives each exchange the sandbox let through (see the module docs).
/// Called from the host's I/O tasks: keep it quick and never block.
pub trait ExchangeRecorder: Send + Sync + fmt::Debug {
    /// One finished exchange.
    fn record(&self, exchange: Exchange);

    /// Room for `bytes` more of a response body the host is copying, asked
    /// before they are copied. `false`: the recorder is full; the host
    /// stops copying that body and hands the exchange over with
    /// [`Exchange::copy_cut`] set (what it copied so far was reserved).
    /// The default has room for everything.
    fn reserve(&self, bytes: u64) -> bool {
        let _ = bytes;
        true
    }
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
    /// The recorder had no room for the whole response body
    /// ([`ExchangeRecorder::reserve`] said no), so the copy stopped:
    /// `response_body` holds only what was reserved. [`Recording`] counts
    /// such an exchange dropped.
    pub copy_cut: bool,
    /// Bytes of `response_body` the host reserved from the recorder
    /// ([`ExchangeRecorder::reserve`]) while copying it.
    reserved: u64,
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
            .field("copy_cut", &self.copy_cut)
            .finish()
    }
}

impl Exchange {
    /// An exchange with empty headers and bodies, read to its end (for an
    /// embedder's tests and its own recorders; set the public fields).
    pub fn new(sequence: u64, method: &str, url: &str, status: u16) -> Exchange {
        Exchange {
            sequence,
            method: method.to_string(),
            url: url.to_string(),
            request_headers: Vec::new(),
            request_body: Vec::new(),
            status,
            response_headers: Vec::new(),
            response_body: Vec::new(),
            response_complete: true,
            copy_cut: false,
            reserved: 0,
        }
    }

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

/// Statuses after which the host retries a call ([`crate::RetryPolicy`];
/// a connect failure or a timeout leave no exchange, or one not read to
/// its end).
pub const RETRIED_STATUSES: [u16; 4] = [429, 502, 503, 504];

/// Leaves out each failed attempt (a status in [`RETRIED_STATUSES`], or
/// an answer not read to its end) that a later request with the same
/// method, URL and body replaced: the host (or the connector) retried it,
/// and a replay in order without retries (`psa-host test`) would fail on
/// it. A success sent twice, or a failure never repeated, is kept.
/// Returns the exchanges kept, in their order, and how many were left out.
pub fn drop_replaced(exchanges: Vec<Exchange>) -> (Vec<Exchange>, usize) {
    let same = |a: &Exchange, b: &Exchange| a.method == b.method && a.url == b.url && a.request_body == b.request_body;
    let replaced: Vec<bool> = exchanges
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let failed = RETRIED_STATUSES.contains(&e.status) || !e.response_complete;
            failed && exchanges[i + 1..].iter().any(|later| same(e, later))
        })
        .collect();
    let dropped = replaced.iter().filter(|r| **r).count();
    let kept = exchanges.into_iter().zip(replaced).filter(|(_, r)| !r).map(|(e, _)| e).collect();
    (kept, dropped)
}

/// An [`ExchangeRecorder`] that keeps exchanges in memory, bounded.
pub struct Recording {
    max_exchanges: usize,
    max_bytes: u64,
    kept: Mutex<Vec<Exchange>>,
    /// Bytes of the kept exchanges plus those reserved by response bodies
    /// still being copied.
    bytes: AtomicU64,
    dropped: AtomicUsize,
    /// Set once anything was dropped or refused room: the recording is
    /// incomplete, so nothing more is copied.
    full: AtomicBool,
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
        Recording {
            max_exchanges,
            max_bytes,
            kept: Mutex::new(Vec::new()),
            bytes: AtomicU64::new(0),
            dropped: AtomicUsize::new(0),
            full: AtomicBool::new(false),
        }
    }

    /// Adds `n` to the bytes held if they stay within the limit.
    fn take_room(&self, n: u64) -> bool {
        self.bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| b.checked_add(n).filter(|total| *total <= self.max_bytes))
            .is_ok()
    }

    /// Gives back `n` bytes taken before.
    fn give_back(&self, n: u64) {
        let _ = self.bytes.fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| Some(b.saturating_sub(n)));
    }

    /// Counts one exchange not kept; nothing more is copied after it.
    fn drop_one(&self) {
        self.full.store(true, Ordering::Release);
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// The most exchanges kept.
    pub fn max_exchanges(&self) -> usize {
        self.max_exchanges
    }

    /// The most bytes kept.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Exchanges that arrived once the recording was full (or whose
    /// response body found no room while it was copied), and were not
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
        // The response body's bytes were reserved while it was copied.
        let reserved = exchange.reserved;
        let Ok(mut kept) = self.kept.lock() else {
            self.give_back(reserved);
            self.drop_one();
            return;
        };
        let rest = exchange.size().saturating_sub(reserved);
        let fits_bytes = !exchange.copy_cut && self.take_room(rest);
        if kept.len() >= self.max_exchanges || !fits_bytes {
            if fits_bytes {
                self.give_back(rest);
            }
            self.give_back(reserved);
            self.drop_one();
            return;
        }
        kept.push(exchange);
    }

    fn reserve(&self, bytes: u64) -> bool {
        if self.full.load(Ordering::Acquire) {
            return false;
        }
        if self.take_room(bytes) {
            return true;
        }
        self.full.store(true, Ordering::Release);
        false
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
    inner: B,
    pending: Option<Pending>,
    status: u16,
    response_headers: Vec<(String, String)>,
    body: Vec<u8>,
    cap: u64,
    complete: bool,
    /// The recorder refused room: nothing more is copied.
    cut: bool,
    /// Bytes the recorder granted for this body's copy.
    reserved: u64,
}

impl<B> TeeResponse<B> {
    /// A tee over `inner`, the answer (`status`, `response_headers`) to the
    /// request in `pending`, copying at most `cap` body bytes.
    pub(crate) fn new(inner: B, pending: Pending, status: u16, response_headers: Vec<(String, String)>, cap: u64) -> Self {
        TeeResponse { inner, pending: Some(pending), status, response_headers, body: Vec::new(), cap, complete: false, cut: false, reserved: 0 }
    }

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
            copy_cut: self.cut,
            reserved: self.reserved,
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
                if let (Some(data), false) = (frame.data_ref(), this.cut) {
                    let room = usize::try_from(this.cap).unwrap_or(usize::MAX).saturating_sub(this.body.len());
                    let take = data.len().min(room);
                    // Room from the recorder first, so the copies of all
                    // bodies in flight stay within its limit.
                    let granted = match &this.pending {
                        Some(p) => p.recorder.reserve(take as u64),
                        None => false,
                    };
                    if granted {
                        this.reserved += take as u64;
                        this.body.extend_from_slice(&data[..take]);
                    } else {
                        this.cut = true;
                    }
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
            copy_cut: false,
            reserved: 0,
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

    /// A failed attempt (429, 502-504, or not read to its end) that a later
    /// identical request replaced is left out; one with another URL or
    /// body, a success sent twice, or a failure never repeated is kept.
    #[test]
    fn a_failed_attempt_a_retry_replaced_is_left_out() {
        let a = "https://psa.example/api/clients?page=1";
        let b = "https://psa.example/api/clients?page=2";
        let mut cut = Exchange::new(4, "GET", b, 200);
        cut.response_complete = false;
        let mut post = Exchange::new(6, "POST", a, 503);
        post.request_body = b"x=1".to_vec();
        let list = vec![
            Exchange::new(0, "GET", a, 429),
            Exchange::new(1, "GET", a, 200),
            Exchange::new(2, "GET", a, 200),
            Exchange::new(3, "GET", b, 503),
            cut,
            Exchange::new(5, "GET", b, 200),
            post,
            Exchange::new(7, "POST", a, 200),
            Exchange::new(8, "GET", a, 500),
            Exchange::new(9, "GET", a, 502),
        ];
        let (kept, dropped) = drop_replaced(list);
        assert_eq!(kept.iter().map(|e| e.sequence).collect::<Vec<_>>(), [1, 2, 5, 6, 7, 8, 9]);
        assert_eq!(dropped, 3);
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
        let tee = TeeResponse::new(frames(&[b"{\"a\":", b"1}"]), pending(rec.clone(), b"grant_type=x"), 200, vec![], 1 << 20);
        let seen = tee.collect().await.unwrap().to_bytes();
        assert_eq!(&seen[..], b"{\"a\":1}");
        let got = rec.take();
        assert_eq!(got.len(), 1, "recorded once, at the end and not again on drop");
        assert_eq!(got[0].response_body, b"{\"a\":1}");
        assert!(got[0].response_complete);
        assert_eq!(got[0].request_body, b"grant_type=x");

        // Cut at the cap for the copy; the guest still sees everything.
        let tee = TeeResponse::new(frames(&[b"0123456789"]), pending(rec.clone(), b""), 500, vec![], 4);
        assert_eq!(tee.collect().await.unwrap().to_bytes().len(), 10);
        assert_eq!(rec.take()[0].response_body, b"0123");

        // Dropped before the end: recorded as incomplete.
        let mut tee = TeeResponse::new(frames(&[b"first", b"second"]), pending(rec.clone(), b""), 200, vec![], 1 << 20);
        let _ = tee.frame().await;
        drop(tee);
        let got = rec.take();
        assert_eq!((got[0].response_body.as_slice(), got[0].response_complete), (&b"first"[..], false));
    }

    /// A response body's copy takes room from the recording before it
    /// grows: with 10 bytes of room, a 24-byte body is copied no further
    /// than the room (the guest still reads all of it), the exchange is
    /// counted dropped and its room given back, and once the recording is
    /// full, the next body copies nothing at all.
    #[tokio::test]
    async fn a_body_copy_grows_only_into_room_reserved_from_the_recording() {
        use http_body_util::BodyExt;
        let rec = Arc::new(Recording::new(100, 10));
        let mut tee = TeeResponse::new(frames(&[b"12345678", b"abcdefgh", b"ABCDEFGH"]), pending(rec.clone(), b""), 200, vec![], 1 << 20);
        let mut seen = 0;
        while let Some(frame) = tee.frame().await {
            seen += frame.unwrap().into_data().unwrap().len();
            assert!(tee.body.len() <= 10, "the copy grew to {} bytes, beyond the recording's room", tee.body.len());
            assert!(rec.bytes.load(Ordering::Relaxed) <= 10);
        }
        assert_eq!(seen, 24, "the guest reads the whole body");
        drop(tee);
        assert_eq!(rec.dropped(), 1, "the cut exchange is counted");
        assert!(rec.take().is_empty());
        assert_eq!(rec.bytes.load(Ordering::Relaxed), 0, "its room was given back");

        // Full: a small body that would fit is not copied either.
        let tee = TeeResponse::new(frames(&[b"x"]), pending(rec.clone(), b""), 200, vec![], 1 << 20);
        let _ = tee.collect().await.unwrap();
        assert_eq!(rec.dropped(), 2);
        assert!(rec.take().is_empty());
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
