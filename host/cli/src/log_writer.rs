//! The CLI's log sink: stderr (above the progress bar while one is drawn),
//! with the connection's secret values replaced by `[redacted]` in every
//! line, whichever library wrote it.

use std::io::{self, Write};
use std::sync::{OnceLock, RwLock};

static SECRETS: OnceLock<RwLock<Vec<String>>> = OnceLock::new();

fn secrets() -> &'static RwLock<Vec<String>> {
    SECRETS.get_or_init(|| RwLock::new(Vec::new()))
}

/// Registers values to scrub from every later log line.
pub fn add_secrets(values: Vec<String>) {
    if let Ok(mut s) = secrets().write() {
        s.extend(values);
    }
}

/// A `MakeWriter` for tracing-subscriber.
pub struct ScrubbingStderr;

pub struct Line(Vec<u8>);

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for ScrubbingStderr {
    type Writer = Line;
    fn make_writer(&'a self) -> Line {
        Line(Vec::with_capacity(256))
    }
}

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.0);
        let clean = match secrets().read() {
            Ok(s) if !s.is_empty() => psa_host::redact::scrub(&text, &s),
            _ => text.into_owned(),
        };
        crate::progress::write_stderr(clean.as_bytes());
    }
}
