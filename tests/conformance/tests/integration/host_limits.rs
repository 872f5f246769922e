//! What a connector or a server can make the host hold, and for how long:
//! hostile `Retry-After` values, header sets hoarded in the resource table,
//! requests in flight, an import that never ends, and pacing waits used to
//! stretch a call's deadline. Each limit ends the session (or the import)
//! with a typed error; the host never panics and stays small.

use crate::common::{self, config, form, start};
use halo_sim::{Faults, SimOptions};
use psa_host::{ConnectionConfig, Connector, Host, HostError, HostOptions, Limits, RateBudget, RetryPolicy};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

const HOSTILE: &[u8] = include_bytes!(env!("PSA_TEST_HOSTILE_WASM"));

async fn hostile(options: HostOptions) -> Connector {
    let host = Host::new(options).unwrap();
    host.load("hostile", HOSTILE).await.expect("hostile guest loads")
}

fn options(call_timeout: Duration) -> HostOptions {
    let mut limits = Limits::default();
    limits.call_timeout = call_timeout;
    HostOptions::default().allow_loopback(true).rate_budget(None).declared_budgets(false).limits(limits)
}

fn cfg(c: &Connector, mode: &str, target: &str) -> ConnectionConfig {
    ConnectionConfig::from_pairs(
        [("mode".to_string(), mode.to_string()), ("target_url".to_string(), target.to_string())],
        c.info(),
    )
}

/// One `list-customers` call in `mode`; the first customer's name.
async fn run(c: &Connector, mode: &str, target: &str) -> Result<String, HostError> {
    let mut s = c.open_session(&cfg(c, mode, target)).await?;
    s.list_customers(None).await.map(|p| p.customers[0].name.clone())
}

/// A loopback server answering every request with `head` (status line and
/// headers, without the final blank line) and an empty body.
async fn answering(head: String) -> String {
    let addr = common::raw_server(move |_, mut sock| {
        let head = head.clone();
        async move {
            let _ = sock.write_all(format!("{head}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes()).await;
        }
    })
    .await;
    format!("http://{addr}/")
}

/// A 429 with a hostile `Retry-After` neither crashes the host nor holds the
/// host name back longer than the policy's longest wait; values that are no
/// wait at all fall back to the first wait.
#[tokio::test]
async fn hostile_retry_after_values_are_clamped_and_never_crash_the_host() {
    let date = httpdate_in(Duration::from_secs(3600));
    let cases: [(&str, Duration); 6] = [
        ("18446744073709551615", Duration::from_secs(2)),
        ("10000000000", Duration::from_secs(2)),
        (&date, Duration::from_secs(2)),
        ("-5", Duration::from_secs(1)),
        ("soon, maybe", Duration::from_secs(1)),
        ("1.5", Duration::from_secs(1)),
    ];
    for (value, hold) in cases {
        let mut retry = RetryPolicy::default();
        retry.rate_limit_first_wait = Duration::from_secs(1);
        retry.rate_limit_max_wait = Duration::from_secs(2);
        let c = hostile(options(Duration::from_secs(20)).retry(retry)).await;
        let limited = answering(format!("HTTP/1.1 429 Too Many Requests\r\nretry-after: {value}")).await;
        assert_eq!(run(&c, "fetch", &limited).await.expect("the 429 reaches the connector"), "status 429", "{value}");
        // The next request to that host name waits for the hold, no longer.
        let ok = answering("HTTP/1.1 200 OK".to_string()).await;
        let t = Instant::now();
        assert_eq!(run(&c, "fetch", &ok).await.unwrap(), "status 200", "{value}");
        let waited = t.elapsed();
        assert!(
            waited + Duration::from_millis(300) >= hold && waited < hold + Duration::from_millis(1500),
            "Retry-After {value:?}: the next request waited {waited:?}, expected about {hold:?}"
        );
    }
}

/// An HTTP-date `ahead` from now.
fn httpdate_in(ahead: Duration) -> String {
    httpdate::fmt_http_date(std::time::SystemTime::now() + ahead)
}

/// Halo asks for a wait longer than the import's rate-limit budget: the
/// import ends at once and says how long Halo asked to wait.
#[tokio::test]
async fn a_retry_after_beyond_the_budget_ends_the_import_at_once_naming_the_wait() {
    let sim = start(SimOptions::default()).await;
    sim.set_faults(Faults { rate_limit_next: 1, retry_after: Some(4000), ..Default::default() });
    let host = Host::new(HostOptions::default().allow_loopback(true).rate_budget(None).declared_budgets(false)).unwrap();
    let halo = host.load("halopsa", psa_host::bundled::HALOPSA).await.unwrap();
    let mut s = halo.open_session(&config(&halo, form(&sim))).await.unwrap();
    let t = Instant::now();
    let failure = s.import_all(|_| {}).await.expect_err("the import cannot wait 4000 s");
    assert!(t.elapsed() < Duration::from_secs(5), "it waited: {:?}", t.elapsed());
    let HostError::WaitTooLong { asked, .. } = &failure.error else { panic!("{}", failure.error) };
    assert_eq!(*asked, Duration::from_secs(4000));
    let text = failure.error.to_string();
    assert!(text.contains("1 h 6 min (4000 s)") && text.contains("Retry-After"), "{text}");
    assert!(text.contains("600 s left"), "{text}");
}

/// The connector keeps header sets of 30 KiB (under the size limit) until
/// the resource table is full: the
/// call ends with a typed error, and the process that ran it stayed under
/// 256 MiB. Runs the session in a child process (this test binary again) so
/// that its peak RSS is the session's alone.
#[tokio::test]
async fn a_connector_hoarding_header_sets_is_stopped_and_the_host_stays_small() {
    const NAME: &str = "host_limits::a_connector_hoarding_header_sets_is_stopped_and_the_host_stays_small";
    if std::env::var_os("PSA_TEST_HOARD_CHILD").is_some() {
        let c = hostile(options(Duration::from_secs(60))).await;
        let e = run(&c, "hoard-small-fields", "http://127.0.0.1:9/").await.expect_err("hoarding must be stopped");
        println!("HOARD-OUTCOME {e}");
        assert!(
            matches!(e, HostError::HostLimit { limit: psa_host::HeldLimit::ResourceHandles { max: 1000 }, .. }),
            "{e}"
        );
        return;
    }
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
        .env("PSA_TEST_HOARD_CHILD", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (ok, peak_kib, out) = tokio::task::spawn_blocking(move || wait_with_peak_rss(child)).await.unwrap();
    println!("hoarding child: peak RSS {} MiB\n{out}", peak_kib / 1024);
    assert!(ok && out.contains("HOARD-OUTCOME") && out.contains("1 passed"), "the child failed:\n{out}");
    assert!(out.contains("more than 1000 handles"), "{out}");
    assert!(peak_kib < 256 * 1024, "the host grew to {} MiB", peak_kib / 1024);
}

/// Waits for `child` (after reading its output) and returns whether it
/// succeeded, its peak RSS in KiB (from the kernel's accounting of exactly
/// that process) and its output.
fn wait_with_peak_rss(mut child: std::process::Child) -> (bool, u64, String) {
    use std::io::Read;
    let mut out = String::new();
    let mut err = String::new();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let _ = stderr.read_to_string(&mut err);
        err
    });
    let _ = child.stdout.take().unwrap().read_to_string(&mut out);
    out.push_str(&reader.join().unwrap());
    let mut status = 0;
    // SAFETY: wait4 on our own child, with valid out-pointers; `Child` is
    // not waited on afterwards.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed");
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    (ok, usage.ru_maxrss as u64, out)
}

/// The hoarder: header sets of 120 KiB, kept. The first is over the
/// header-size limit and ends the session with a typed error.
#[tokio::test]
async fn an_oversized_header_set_ends_the_session_with_a_typed_error() {
    let c = hostile(options(Duration::from_secs(10))).await;
    let e = run(&c, "hoard-fields", "http://127.0.0.1:9/").await.unwrap_err();
    assert!(matches!(e, HostError::HostLimit { limit: psa_host::HeldLimit::HeaderBytes { max: 32768 }, .. }), "{e}");
    assert!(e.to_string().contains("header set larger than 32 KiB"), "{e}");
}

/// 64 requests at once: those beyond the in-flight limit are refused, and
/// the refusal names the limit.
#[tokio::test]
async fn requests_beyond_the_in_flight_limit_are_refused() {
    let c = hostile(options(Duration::from_secs(10))).await;
    let target = answering("HTTP/1.1 200 OK".to_string()).await;
    let mut s = c.open_session(&cfg(&c, "flood", &target)).await.unwrap();
    let page = s.list_customers(None).await.unwrap();
    assert_eq!(page.customers[0].name, "answered:16 refused:48");
    let denials = s.take_denials();
    assert!(
        denials.iter().all(|d| matches!(d, psa_host::Denial::TooManyInFlight { max: 16, .. })),
        "{denials:?}"
    );
    let denied = denials.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n");
    assert!(denied.contains("16 requests in flight") && denied.contains("max_requests_in_flight"), "{denied}");
}

/// An import whose pages never end is stopped at its byte limit, not when
/// the host runs out of memory.
#[tokio::test]
async fn an_endless_import_stops_at_its_byte_limit() {
    let mut o = options(Duration::from_secs(10));
    o.limits.max_import_bytes = 8 << 20;
    let c = hostile(o).await;
    let mut s = c.open_session(&cfg(&c, "endless-pages", "http://127.0.0.1:9/")).await.unwrap();
    let failure = tokio::time::timeout(Duration::from_secs(20), s.import_all(|_| {}))
        .await
        .expect("the import must stop by itself")
        .expect_err("an endless import cannot succeed");
    assert!(
        matches!(failure.error, HostError::HostLimit { limit: psa_host::HeldLimit::ImportBytes { .. }, .. }),
        "{}",
        failure.error
    );
    assert!(failure.pages <= 9, "{} pages", failure.pages);
    assert!(failure.to_string().contains("more than 8 MiB of customer data"), "{failure}");
}

/// A connector queues a request the pacer holds back for a minute, does
/// not wait for it, and spins: that wait earns no deadline credit, so the
/// call is stopped at its deadline.
#[tokio::test]
async fn a_pacing_wait_the_guest_does_not_block_on_does_not_stretch_the_deadline() {
    let budget = RateBudget { requests: 1, window: Duration::from_secs(60) };
    let c = hostile(options(Duration::from_secs(2)).rate_budget(Some(budget))).await;
    let target = answering("HTTP/1.1 200 OK".to_string()).await;
    let t = Instant::now();
    let e = tokio::time::timeout(Duration::from_secs(30), run(&c, "pace-then-spin", &target))
        .await
        .expect("the spinning call must be stopped")
        .unwrap_err();
    assert!(matches!(e, HostError::DeadlineExceeded { .. }), "{e}");
    assert!(t.elapsed() < Duration::from_secs(5), "stopped only after {:?}", t.elapsed());
}
