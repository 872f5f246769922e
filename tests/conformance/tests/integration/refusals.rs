//! The sandbox's refusal texts quote what the connector asked for, so they
//! are scrubbed of the session's secrets wherever they go (a check step's
//! message, an error, the log), and their log lines are capped per call.

use crate::guest_output::capture;
use psa_host::{ConnectionConfig, Host, HostOptions};

const HOSTILE: &[u8] = include_bytes!(env!("PSA_TEST_HOSTILE_WASM"));
const SECRET: &str = "TOP-SECRET-8d1f2a";

fn cfg(c: &psa_host::Connector, mode: &str) -> ConnectionConfig {
    ConnectionConfig::from_pairs(
        [("mode".to_string(), mode.to_string()), ("secret".to_string(), SECRET.to_string())],
        c.info(),
    )
}

fn leaks(text: &str) -> bool {
    text.to_ascii_lowercase().contains(&SECRET.to_ascii_lowercase())
}

#[tokio::test]
async fn a_secret_in_a_refused_host_name_is_scrubbed_from_check_errors_and_log() {
    // Debug, not trace: at trace level wasmtime's own bindings log every
    // WASI call's arguments (the authority too), which only a scrubbing log
    // sink such as the CLI's keeps clean.
    let (log, _guard) = capture(tracing::Level::DEBUG);
    let host = Host::new(HostOptions::default()).unwrap();
    let c = host.load("hostile", HOSTILE).await.unwrap();

    // `check`: the refusal is appended to the failed step's message.
    let steps = c.test_connection(&cfg(&c, "secret-host")).await.unwrap();
    let message = &steps[0].message;
    assert!(message.contains("(Sandbox: connector `hostile` tried to reach https://[redacted].example:443"), "{message}");
    assert!(!leaks(message), "the secret is in the check step: {message}");

    // An import call: the refusal is appended to the connector's error.
    let mut s = c.open_session(&cfg(&c, "secret-host")).await.unwrap();
    let e = s.list_customers(None).await.unwrap_err().to_string();
    assert!(e.contains("[redacted].example"), "{e}");
    assert!(!leaks(&e), "the secret is in the error: {e}");

    let text = log.text();
    assert!(text.contains("sandbox: connector `hostile` tried to reach https://[redacted].example:443"), "{text}");
    assert!(!leaks(&text), "the secret reached the log:\n{text}");
}

#[tokio::test]
async fn refusal_log_lines_are_capped_per_call() {
    let (log, _guard) = capture(tracing::Level::WARN);
    let host = Host::new(HostOptions::default()).unwrap();
    let c = host.load("hostile", HOSTILE).await.unwrap();
    let mut s = c.open_session(&cfg(&c, "many-refusals")).await.unwrap();
    assert_eq!(s.list_customers(None).await.unwrap().customers[0].name, "refused 40");
    let text = log.text();
    let logged = text.lines().filter(|l| l.contains("sandbox: connector `hostile` tried to reach https://example.com")).count();
    assert_eq!(logged, psa_host::LOGGED_REFUSALS_PER_CALL as usize, "{text}");
    assert!(text.contains("sandbox: 24 more refusal(s) during this call were not logged"), "{text}");
    // The next call counts afresh.
    s.list_customers(None).await.unwrap();
    let again = log.text().lines().filter(|l| l.contains("tried to reach https://example.com")).count();
    assert_eq!(again, 2 * psa_host::LOGGED_REFUSALS_PER_CALL as usize);
}
