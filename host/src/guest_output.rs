//! Where a connector's stdout and stderr go: a capped in-memory buffer that
//! the host drains after each call into its `tracing` log, with the
//! session's secret values replaced by `[redacted]` and control characters
//! escaped ([`crate::escape::for_terminal`]), one log line per call. Writes
//! beyond the cap succeed (so a chatty guest does not trap) but are dropped
//! and counted.
//!
//! A secret split across calls (half printed in one, half in the next) is
//! still scrubbed: a drain holds back a tail that could begin a secret
//! until the next drain joins it to what follows. Where the text ends for
//! good (output cut at the cap, or the session's end), such a tail is
//! dropped and counted, never shown.
//!
//! Each drain is also kept, per instance, for the embedder
//! ([`Session::take_guest_output`](crate::Session::take_guest_output),
//! [`Connector::test_connection_with_output`](crate::Connector::test_connection_with_output)):
//! at most [`KEPT_OUTPUT_BYTES`] between takes (an embedder that never
//! takes holds no more); beyond it the text is dropped and counted, and
//! the log still has it.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

#[derive(Default)]
struct Buf {
    data: Vec<u8>,
    dropped: u64,
    /// Scrubbed text held back by the last drain: it could begin a secret.
    held: String,
}

/// A capped sink shared by the guest's stdout and stderr.
#[derive(Clone)]
pub struct GuestOutput {
    buf: Arc<Mutex<Buf>>,
    cap: usize,
}

impl GuestOutput {
    pub fn new(cap: usize) -> Self {
        GuestOutput { buf: Arc::default(), cap }
    }

    /// Takes what the guest wrote since the last call, with `secrets`
    /// replaced; `None` when it wrote nothing. A tail that could begin a
    /// secret is held back for the next drain.
    pub fn drain(&self, secrets: &[String]) -> Option<String> {
        self.take(secrets, false)
    }

    /// Like [`GuestOutput::drain`], at the session's end: nothing is held
    /// back, and a tail that could begin a secret is dropped.
    pub fn finish(&self, secrets: &[String]) -> Option<String> {
        self.take(secrets, true)
    }

    fn take(&self, secrets: &[String], last: bool) -> Option<String> {
        let mut b = self.buf.lock().ok()?;
        let data = std::mem::take(&mut b.data);
        let mut dropped = std::mem::take(&mut b.dropped);
        let mut text = std::mem::take(&mut b.held);
        if data.is_empty() && dropped == 0 && (text.is_empty() || !last) {
            b.held = text;
            return None;
        }
        text.push_str(&String::from_utf8_lossy(&data));
        text = crate::redact::scrub(&text, secrets);
        let tail = crate::redact::unfinished_secret(&text, secrets);
        if tail > 0 {
            let rest = text.split_off(text.len() - tail);
            if last || dropped > 0 {
                // Nothing follows that could complete it: never shown.
                dropped = dropped.saturating_add(rest.len() as u64);
            } else {
                b.held = rest;
            }
        }
        drop(b);
        if text.is_empty() && dropped == 0 {
            return None;
        }
        let mut text = crate::escape::for_terminal(&text).into_owned();
        if dropped > 0 {
            text.push_str(&format!(" [{dropped} more bytes of guest output dropped]"));
        }
        Some(text)
    }
}

/// Most bytes of drained guest output an instance keeps for the embedder
/// between two takes.
pub(crate) const KEPT_OUTPUT_BYTES: usize = 64 << 10;

/// Drained guest output kept for the embedder, one entry per call that
/// printed (`call: text`, already scrubbed and escaped), bounded by
/// [`KEPT_OUTPUT_BYTES`].
#[derive(Default)]
pub(crate) struct Kept {
    entries: Vec<String>,
    bytes: usize,
    /// Bytes not kept since the last take.
    dropped: u64,
    /// Whether what was not kept held the host's `[redacted]` mark: the
    /// summary entry says so, so a reader looking for secrets the connector
    /// printed still sees that one was.
    dropped_redacted: bool,
}

impl Kept {
    /// Keeps what `call` printed, or as much of it as fits.
    pub(crate) fn push(&mut self, call: &str, text: &str) {
        let mut entry = format!("{call}: {text}");
        let room = KEPT_OUTPUT_BYTES.saturating_sub(self.bytes);
        if entry.len() > room {
            let mut cut = room;
            while !entry.is_char_boundary(cut) {
                cut -= 1;
            }
            self.dropped = self.dropped.saturating_add((entry.len() - cut) as u64);
            // Checked on the whole entry: a mark cut in two is still a mark.
            self.dropped_redacted |= entry.contains(crate::redact::REDACTED);
            entry.truncate(cut);
        }
        if !entry.is_empty() {
            self.bytes += entry.len();
            self.entries.push(entry);
        }
    }

    /// What was kept since the last take, with a last entry counting what
    /// was not.
    pub(crate) fn take(&mut self) -> Vec<String> {
        let mut out = std::mem::take(&mut self.entries);
        self.bytes = 0;
        let dropped = std::mem::take(&mut self.dropped);
        let redacted = std::mem::take(&mut self.dropped_redacted);
        if dropped > 0 {
            out.push(format!(
                "[{dropped} more bytes of guest output not kept here: at most {} KiB are kept between takes; the log has them{}]",
                KEPT_OUTPUT_BYTES >> 10,
                if redacted { format!("; they held the mark {}, where the host scrubbed a secret", crate::redact::REDACTED) } else { String::new() }
            ));
        }
        out
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl GuestOutput {
    fn append(&self, data: &[u8]) {
        if let Ok(mut b) = self.buf.lock() {
            let room = self.cap.saturating_sub(b.data.len());
            let take = room.min(data.len());
            b.data.extend_from_slice(&data[..take]);
            b.dropped += (data.len() - take) as u64;
        }
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    // Our own stream rather than wasmtime-wasi's adapter, whose worker logs
    // the raw bytes at debug level, before any scrubbing.
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: bytes::Bytes) -> Result<(), StreamError> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        // Always accepts: output past the cap is dropped, not refused.
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for GuestOutput {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        self.append(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_output_is_bounded_between_takes() {
        let mut k = Kept::default();
        let line = "x".repeat(1000);
        for _ in 0..1000 {
            k.push("session.list-customers", &line);
        }
        let kept = k.take();
        let bytes: usize = kept.iter().map(String::len).sum();
        assert!(bytes <= KEPT_OUTPUT_BYTES + 200, "{bytes} bytes kept of about 1 MB printed");
        let note = kept.last().unwrap();
        assert!(note.contains("more bytes of guest output not kept here") && note.contains("64 KiB"), "{note}");
        assert!(kept[0].starts_with("session.list-customers: xxx"), "{}", kept[0]);
        // A take starts the count again.
        k.push("session.list-customers", "again");
        assert_eq!(k.take(), ["session.list-customers: again"]);
        assert!(k.take().is_empty());
    }

    #[test]
    fn a_cut_entry_ends_on_a_character_boundary() {
        let mut k = Kept::default();
        k.push("c", &"é".repeat(KEPT_OUTPUT_BYTES));
        let kept = k.take();
        assert!(kept[0].len() <= KEPT_OUTPUT_BYTES && kept[0].ends_with('é'));
        assert!(kept[1].contains("not kept"), "{kept:?}");
    }

    #[test]
    fn a_scrubbed_secret_in_what_is_not_kept_is_still_reported() {
        let mut k = Kept::default();
        k.push("c", &"x".repeat(KEPT_OUTPUT_BYTES));
        k.push("c", "the key is [redacted]");
        let kept = k.take();
        assert!(kept.last().unwrap().contains("[redacted]"), "{kept:?}");
        // Without the mark, the summary does not claim one.
        k.push("c", &"x".repeat(KEPT_OUTPUT_BYTES + 10));
        assert!(!k.take().last().unwrap().contains("[redacted]"));
    }
}
