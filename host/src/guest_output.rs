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
