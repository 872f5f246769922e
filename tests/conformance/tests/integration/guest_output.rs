//! What a connector prints goes to the host's log, tagged with the
//! connector and session, with the session's secrets scrubbed (also when
//! the connector splits one across calls or across the output cap) and
//! control characters escaped.

use psa_host::{ConnectionConfig, Host, HostOptions};
use std::io::Write;
use std::sync::{Arc, Mutex};

const HOSTILE: &[u8] = include_bytes!(env!("PSA_TEST_HOSTILE_WASM"));

#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

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
pub(crate) fn capture(level: tracing::Level) -> (Captured, tracing::subscriber::DefaultGuard) {
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

const SECRET: &str = "TOP-SECRET-8d1f2a";

/// The log of one `list-customers` call of the hostile connector in `mode`.
async fn log_of(mode: &str) -> String {
    let (log, _guard) = capture(tracing::Level::INFO);
    let host = Host::new(HostOptions::default()).unwrap();
    let c = host.load("hostile", HOSTILE).await.unwrap();
    let cfg = ConnectionConfig::from_pairs(
        [("mode".to_string(), mode.to_string()), ("secret".to_string(), SECRET.to_string())],
        c.info(),
    );
    let mut s = c.open_session(&cfg).await.unwrap();
    s.list_customers(None).await.unwrap();
    s.close().await;
    log.text()
}

#[tokio::test]
async fn a_secret_split_across_two_calls_is_scrubbed() {
    // Half printed in `session.open`, the rest in `list-customers`: each
    // call's output is drained on its own.
    let text = log_of("split-secret").await;
    assert!(text.contains("[redacted] and ends"), "the joined secret was not scrubbed:\n{text}");
    for half in [&SECRET[..SECRET.len() / 2], &SECRET[SECRET.len() / 2..]] {
        assert!(!text.contains(half), "half of the secret ({half}) reached the log:\n{text}");
    }
}

#[tokio::test]
async fn a_secret_cut_by_the_output_cap_shows_no_part_of_it() {
    let text = log_of("secret-at-cap").await;
    assert!(text.contains("more bytes of guest output dropped"), "{}", &text[text.len().saturating_sub(300)..]);
    assert!(!text.contains(&SECRET[..4]), "the start of the secret reached the log:\n{}", &text[text.len().saturating_sub(300)..]);
}

#[tokio::test]
async fn control_characters_in_guest_output_are_escaped_in_the_log() {
    let text = log_of("control-chars").await;
    assert!(text.contains("line one\\nFAKE LOG LINE\\r\\u{1b}[31mred\\u{1b}[0m \\u{202e}txt.exe"), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("FAKE")), "the guest forged a log line:\n{text}");
    for bad in ['\x1b', '\r', '\u{202e}'] {
        assert!(!text.contains(bad), "a raw {bad:?} reached the log:\n{text}");
    }
}

#[tokio::test]
async fn the_embedder_gets_what_the_connector_printed_scrubbed_and_bounded() {
    let host = Host::new(HostOptions::default()).unwrap();
    let c = host.load("hostile", HOSTILE).await.unwrap();
    let cfg = ConnectionConfig::from_pairs(
        [("mode".to_string(), "print-secret".to_string()), ("secret".to_string(), SECRET.to_string())],
        c.info(),
    );
    let mut s = c.open_session(&cfg).await.unwrap();
    s.list_customers(None).await.unwrap();
    let printed = s.take_guest_output();
    assert_eq!(printed.len(), 1, "{printed:?}");
    assert!(printed[0].starts_with("session.list-customers: the secret is [redacted]"), "{printed:?}");
    assert!(printed[0].contains("again on stderr: [redacted]"), "{printed:?}");
    assert!(!printed[0].contains(SECRET), "{printed:?}");
    assert!(s.take_guest_output().is_empty(), "a take empties what is kept");

    // 1 MiB printed per call, 16 KiB of it kept per call: six calls pass
    // the 64 KiB kept between takes, and the last entry counts the rest.
    let cfg = ConnectionConfig::from_pairs([("mode".to_string(), "print-lots".to_string())], c.info());
    let mut s = c.open_session(&cfg).await.unwrap();
    for _ in 0..6 {
        s.list_customers(None).await.unwrap();
    }
    let printed = s.take_guest_output();
    let bytes: usize = printed.iter().map(String::len).sum();
    assert!(bytes <= (64 << 10) + 200, "{bytes} bytes kept");
    let note = printed.last().unwrap();
    assert!(note.contains("more bytes of guest output not kept here"), "{}", &note[..note.len().min(300)]);
}
