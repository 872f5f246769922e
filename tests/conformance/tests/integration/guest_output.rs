//! What a connector prints goes to the host's log, tagged with the
//! connector and session, with the session's secrets scrubbed.

use psa_host::{ConnectionConfig, Host, HostOptions};
use std::io::Write;
use std::sync::{Arc, Mutex};

const HOSTILE: &[u8] = include_bytes!(env!("PSA_TEST_HOSTILE_WASM"));

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends this thread's log at `level` and above to the returned buffer
/// while the guard lives.
fn capture(level: tracing::Level) -> (Captured, tracing::subscriber::DefaultGuard) {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(level).with_ansi(false).with_writer(move || writer.clone()).finish();
    (log, tracing::subscriber::set_default(subscriber))
}

#[tokio::test]
async fn printed_secrets_are_scrubbed_from_the_log() {
    let (log, _guard) = capture(tracing::Level::TRACE);

    let host = Host::new(HostOptions::default().allow_loopback(true)).unwrap();
    let c = host.load("hostile", HOSTILE).await.unwrap();
    let secret = "TOP-SECRET-8d1f2a";
    let cfg = ConnectionConfig::from_pairs(
        [("mode".to_string(), "print-secret".to_string()), ("secret".to_string(), secret.to_string())],
        c.info(),
    );
    let mut s = c.open_session(&cfg).await.unwrap();
    let page = s.list_customers(None).await.unwrap();
    assert_eq!(page.customers[0].name, "printed");

    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("the secret is [redacted]"), "guest stdout not in the log:\n{text}");
    assert!(text.contains("again on stderr: [redacted]"), "guest stderr not in the log:\n{text}");
    assert!(text.contains("connector=hostile"), "{text}");
    assert!(!text.contains(secret), "the secret reached the log:\n{text}");
}

#[tokio::test]
async fn guest_output_is_capped_per_call() {
    let (log, _guard) = capture(tracing::Level::INFO);

    let host = Host::new(HostOptions::default()).unwrap();
    let c = host.load("hostile", HOSTILE).await.unwrap();
    let cfg = ConnectionConfig::from_pairs([("mode".to_string(), "print-lots".to_string())], c.info());
    let mut s = c.open_session(&cfg).await.unwrap();
    assert_eq!(s.list_customers(None).await.unwrap().customers[0].name, "printed");

    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    // 1 MiB printed; the default cap keeps 16 KiB of it.
    assert!(text.contains("more bytes of guest output dropped"), "no note of the dropped output");
    assert!(text.len() < 24 << 10, "the log holds {} bytes of a 1 MiB print", text.len());
}
