//! The sandbox holds a hostile connector: each misbehaviour is refused or
//! stopped with a clear error, and the same host then serves a normal
//! session.

use crate::common;
use psa_host::{ConnectionConfig, Connector, ConnectorError, Host, HostError, HostOptions, Limits};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

const HOSTILE: &[u8] = include_bytes!(env!("PSA_TEST_HOSTILE_WASM"));

async fn host(allow_loopback: bool) -> (Host, Connector) {
    let mut limits = Limits::default();
    limits.call_timeout = Duration::from_secs(3);
    limits.memory_bytes = 64 << 20;
    let host = Host::new(HostOptions::default().allow_loopback(allow_loopback).limits(limits)).unwrap();
    let c = host.load("hostile", HOSTILE).await.expect("hostile guest loads");
    (host, c)
}

fn cfg(c: &Connector, mode: &str, target: &str) -> ConnectionConfig {
    ConnectionConfig::from_pairs(
        [
            ("mode".to_string(), mode.to_string()),
            ("target_url".to_string(), target.to_string()),
            ("secret".to_string(), "TOP-SECRET-8d1f2a".to_string()),
        ],
        c.info(),
    )
}

async fn run(c: &Connector, mode: &str, target: &str) -> Result<String, HostError> {
    let mut s = c.open_session(&cfg(c, mode, target)).await?;
    s.list_customers(None).await.map(|p| p.customers[0].name.clone())
}

/// A loopback HTTP server answering 200 to anything, for the control calls.
async fn ok_server() -> String {
    let addr = common::raw_server(|_, mut sock| async move {
        let _ = sock
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            .await;
    })
    .await;
    format!("http://{addr}/")
}

/// After each attack, a normal session on the same host still works.
async fn control(c: &Connector) {
    let target = ok_server().await;
    assert_eq!(run(c, "fetch", &target).await.expect("control session works"), "status 200");
}

#[tokio::test]
async fn the_control_mode_works() {
    let (_h, c) = host(true).await;
    control(&c).await;
}

#[tokio::test]
async fn a_host_outside_the_allow_list_is_refused_and_named() {
    let (_h, c) = host(true).await;
    let target = ok_server().await;
    let e = run(&c, "outside", &target).await.unwrap_err();
    let HostError::Connector {
        error: ConnectorError::Unreachable { message, .. },
        ..
    } = &e
    else {
        panic!("{e}")
    };
    assert!(message.contains("example.com"), "refused host not named: {message}");
    assert!(message.contains("not in this connection's allowed hosts"), "{message}");
    control(&c).await;
}

#[tokio::test]
async fn the_metadata_address_is_refused() {
    let (_h, c) = host(true).await;
    // Not in the allow-list.
    let e = run(&c, "metadata", &ok_server().await).await.unwrap_err();
    assert!(e.to_string().contains("169.254.169.254"), "{e}");
    // In the allow-list (the user typed it), and still refused after resolution.
    let e = run(&c, "fetch", "https://169.254.169.254/latest/meta-data/").await.unwrap_err();
    assert!(
        e.to_string().contains("DestinationIpProhibited") || e.to_string().to_lowercase().contains("prohibited"),
        "{e}"
    );
    control(&c).await;
}

#[tokio::test]
async fn loopback_is_refused_without_the_switch() {
    let (_h, c) = host(false).await;
    let target = ok_server().await; // http://127.0.0.1:port
    let e = run(&c, "fetch", &target).await.unwrap_err();
    assert!(e.to_string().contains("only https"), "{e}");
    // Over https, a name that resolves to loopback is refused after DNS.
    let port = target.rsplit(':').next().unwrap().trim_end_matches('/');
    let e = run(&c, "fetch", &format!("https://localhost:{port}/")).await.unwrap_err();
    assert!(e.to_string().to_lowercase().contains("prohibited"), "{e}");
}

#[tokio::test]
async fn an_infinite_loop_is_stopped_at_the_deadline() {
    let (_h, c) = host(true).await;
    let t = Instant::now();
    let e = run(&c, "loop", "http://127.0.0.1:9/").await.unwrap_err();
    assert!(matches!(e, HostError::DeadlineExceeded { .. }), "{e}");
    assert!(t.elapsed() < Duration::from_secs(10), "took {:?}", t.elapsed());
    assert!(e.to_string().contains("did not finish within 3 s"), "{e}");
    control(&c).await;
}

#[tokio::test]
async fn unbounded_allocation_hits_the_memory_cap() {
    let (_h, c) = host(true).await;
    let e = run(&c, "alloc", "http://127.0.0.1:9/").await.unwrap_err();
    assert!(matches!(e, HostError::MemoryExhausted { .. }), "{e}");
    assert!(e.to_string().contains("64 MiB"), "{e}");
    control(&c).await;
}

#[tokio::test]
async fn runaway_recursion_is_a_clear_crash() {
    let (_h, c) = host(true).await;
    let e = run(&c, "recurse", "http://127.0.0.1:9/").await.unwrap_err();
    assert!(e.to_string().contains("stack overflow"), "{e}");
    control(&c).await;
}

#[tokio::test]
async fn a_trap_closes_the_session_and_says_so() {
    let (_h, c) = host(true).await;
    let mut s = c.open_session(&cfg(&c, "trap", "http://127.0.0.1:9/")).await.unwrap();
    let e = s.list_customers(None).await.unwrap_err();
    assert!(matches!(e, HostError::Trap { .. }), "{e}");
    let again = s.list_customers(None).await.unwrap_err();
    assert!(matches!(again, HostError::SessionClosed { .. }), "{again}");
    assert!(again.to_string().contains("open a new session"), "{again}");
    control(&c).await;
}

#[tokio::test]
async fn a_page_larger_than_the_limit_is_refused() {
    let (_h, c) = host(true).await;
    let e = run(&c, "huge-page", "http://127.0.0.1:9/").await.unwrap_err();
    assert!(matches!(e, HostError::Contract { .. }), "{e}");
    assert!(e.to_string().contains("20000 customers"), "{e}");
    control(&c).await;
}

#[tokio::test]
async fn a_100_mb_result_is_stopped_at_the_memory_cap() {
    let (_h, c) = host(true).await;
    let e = run(&c, "huge-string", "http://127.0.0.1:9/").await.unwrap_err();
    assert!(matches!(e, HostError::MemoryExhausted { .. }), "{e}");
    control(&c).await;
}

#[tokio::test]
async fn fuel_makes_runaway_loops_stop_deterministically() {
    let mut limits = Limits::default();
    limits.fuel = Some(50_000_000);
    let host = Host::new(HostOptions::default().allow_loopback(true).limits(limits)).unwrap();
    let c = host.load("hostile", HOSTILE).await.unwrap();
    let e = run(&c, "loop", "http://127.0.0.1:9/").await.unwrap_err();
    assert!(matches!(e, HostError::OutOfFuel { fuel: 50_000_000, .. }), "{e}");
    control(&c).await;
}

/// A loopback server answering every request with a redirect to `location`.
async fn redirecting_server(location: &'static str) -> String {
    let addr = common::raw_server(move |_, mut sock| async move {
        let head = format!("HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        let _ = sock.write_all(head.as_bytes()).await;
    })
    .await;
    format!("http://{addr}/start")
}

#[tokio::test]
async fn a_redirect_to_another_host_is_refused_not_followed() {
    let (_h, c) = host(true).await;
    let e = run(&c, "fetch", &redirecting_server("https://169.254.169.254/latest/meta-data/").await)
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("redirecting to https://169.254.169.254/latest/meta-data/"), "{text}");
    assert!(text.contains("does not follow redirects"), "{text}");
    // A redirect within the same origin reaches the connector as an answer.
    assert_eq!(
        run(&c, "fetch", &redirecting_server("/elsewhere").await).await.unwrap(),
        "status 302"
    );
    control(&c).await;
}

#[tokio::test]
async fn a_pinned_hash_is_enforced() {
    let host = Host::new(HostOptions::default()).unwrap();
    let right = psa_host::sha256_hex_of(HOSTILE);
    assert!(host.load_pinned("hostile", HOSTILE, &right).await.is_ok());
    let wrong = "0".repeat(64);
    let e = host.load_pinned("hostile", HOSTILE, &wrong).await.err().expect("refused");
    let text = e.to_string();
    assert!(text.contains(&right) && text.contains(&wrong), "{text}");
}

#[tokio::test]
async fn an_unsupported_contract_version_is_refused_naming_both() {
    const FUTURE: &[u8] = include_bytes!(env!("PSA_TEST_FUTURE_CONTRACT_WASM"));
    let host = Host::new(HostOptions::default()).unwrap();
    let e = host.load("future", FUTURE).await.err().expect("refused");
    assert!(matches!(e, HostError::UnsupportedContract { .. }), "{e}");
    let text = e.to_string();
    assert!(text.contains("9.0.0") && text.contains("0.2.0, 0.1.0"), "{text}");
    // A supported one is bound to the version its exports name.
    let c = host.load("hostile", HOSTILE).await.unwrap();
    assert_eq!(c.contract_version(), "0.1.0");
    assert_eq!(c.info().contract_version, c.contract_version());
    assert_eq!(psa_host::SUPPORTED_CONTRACTS, ["0.2.0", "0.1.0"]);
}

#[tokio::test(flavor = "current_thread")]
async fn a_spinning_connector_does_not_starve_other_sessions() {
    // One thread only: before guests yielded at each epoch tick, the loop
    // below held it for its whole 3-s deadline.
    let (_h, c) = host(true).await;
    let t = Instant::now();
    let looping = {
        let c = c.clone();
        tokio::spawn(async move { run(&c, "loop", "http://127.0.0.1:9/").await })
    };
    // Timed from before the loop starts: a guest that never yields would
    // hold the only thread, this sleep included, for its whole deadline.
    tokio::time::sleep(Duration::from_millis(100)).await;
    control(&c).await;
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "a normal session waited {:?} behind a looping one",
        t.elapsed()
    );
    assert!(matches!(looping.await.unwrap(), Err(HostError::DeadlineExceeded { .. })));
}

#[tokio::test]
async fn a_sandbox_refusal_is_not_retried() {
    let (_h, c) = host(true).await;
    let mut s = c.open_session(&cfg(&c, "outside", &ok_server().await)).await.unwrap();
    let t = Instant::now();
    let e = s.import_all(|_| {}).await.unwrap_err();
    assert!(t.elapsed() < Duration::from_millis(900), "retried: {:?}", t.elapsed());
    assert!(e.error.to_string().contains("example.com"), "{}", e.error);
}

/// A loopback server that keeps each request head it reads and answers 200.
async fn recording_server() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = heads.clone();
    let addr = common::raw_server(move |head, mut sock| {
        kept.lock().unwrap().push(head);
        async move {
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                .await;
        }
    })
    .await;
    (format!("http://{addr}/"), heads)
}

#[tokio::test]
async fn forbidden_request_headers_are_refused() {
    let (_h, c) = host(true).await;
    let (target, heads) = recording_server().await;
    let answer = run(&c, "forbidden-headers", &target).await.expect("the request itself goes out");
    assert_eq!(answer, "refused:host,connection,transfer-encoding,upgrade,proxy-authorization,te status 200");
    let heads = heads.lock().unwrap();
    let head = heads[0].to_ascii_lowercase();
    let port = target.trim_end_matches('/').rsplit(':').next().unwrap();
    assert!(head.contains(&format!("host: 127.0.0.1:{port}")), "{head}");
    for smuggled in ["evil.example", "upgrade", "proxy-authorization", "websocket", "te: trailers"] {
        assert!(!head.contains(smuggled), "`{smuggled}` reached the server:\n{head}");
    }
    control(&c).await;
}

#[tokio::test]
async fn an_upload_is_cut_at_the_request_body_cap() {
    let mut limits = Limits::default();
    limits.call_timeout = Duration::from_secs(10);
    limits.max_request_body_bytes = 1 << 20;
    let host = Host::new(HostOptions::default().allow_loopback(true).limits(limits)).unwrap();
    let c = host.load("hostile", HOSTILE).await.unwrap();
    // A server that reads every byte it is sent, and counts them.
    let received = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = received.clone();
    let addr = common::raw_server(move |head, mut sock| {
        let counter = counter.clone();
        async move {
            use tokio::io::AsyncReadExt;
            let mut buf = vec![0u8; 65536];
            counter.fetch_add(head.len(), std::sync::atomic::Ordering::Relaxed);
            while let Ok(n @ 1..) = sock.read(&mut buf).await {
                counter.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            }
        }
    })
    .await;
    let t = Instant::now();
    let e = run(&c, "big-upload", &format!("http://{addr}/upload")).await.unwrap_err();
    assert!(e.to_string().contains("HttpRequestBodySize"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(5), "took {:?}", t.elapsed());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got = received.load(std::sync::atomic::Ordering::Relaxed);
    assert!(got <= (1 << 20) + 64 * 1024, "the server received {got} bytes of a 16 MiB upload capped at 1 MiB");
    control(&c).await;
}

#[tokio::test]
async fn oversized_response_headers_are_refused() {
    let (_h, c) = host(true).await;
    // 100 KiB of headers against the 64 KiB default, in few enough headers
    // (10) that hyper's separate limit on their number is not what trips.
    let addr = common::raw_server(|_, mut sock| async move {
        let mut head = String::from("HTTP/1.1 200 OK\r\n");
        for i in 0..10 {
            head.push_str(&format!("x-pad-{i}: {}\r\n", "p".repeat(10_000)));
        }
        head.push_str("content-length: 2\r\nconnection: close\r\n\r\nok");
        let _ = sock.write_all(head.as_bytes()).await;
    })
    .await;
    let t = Instant::now();
    let e = run(&c, "fetch", &format!("http://{addr}/")).await.unwrap_err();
    assert!(matches!(e, HostError::Connector { .. }), "{e}");
    assert!(t.elapsed() < Duration::from_secs(2), "took {:?}", t.elapsed());
    control(&c).await;
}

#[tokio::test]
async fn the_metadata_address_through_a_dns_name_is_refused() {
    let mut dns = psa_host::DnsOverrides::default();
    dns.insert("metadata.halo.example", vec!["169.254.169.254".parse().unwrap()]);
    dns.insert("mapped.halo.example", vec!["::ffff:169.254.169.254".parse().unwrap()]);
    dns.insert("intranet.halo.example", vec!["10.0.0.8".parse().unwrap(), "fd00::8".parse().unwrap()]);
    let mut limits = Limits::default();
    limits.call_timeout = Duration::from_secs(3);
    let host = Host::new(HostOptions::default().allow_loopback(true).limits(limits).dns_overrides(dns)).unwrap();
    let c = host.load("hostile", HOSTILE).await.unwrap();
    for name in ["metadata.halo.example", "mapped.halo.example", "intranet.halo.example"] {
        for scheme in ["https", "http"] {
            let e = run(&c, "fetch", &format!("{scheme}://{name}/latest/meta-data/")).await.unwrap_err();
            let text = e.to_string();
            assert!(text.contains(&format!("{name} resolves only to internal addresses")), "{name}: {text}");
        }
    }
    control(&c).await;
}

#[tokio::test]
async fn a_server_that_never_answers_is_cut_at_the_call_deadline() {
    // The guest waits on I/O, not CPU: the outer timer ends the call, well
    // before the 60-s first-byte timeout.
    let (_h, c) = host(true).await;
    let addr = common::raw_server(|_, sock| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(sock);
    })
    .await;
    let t = Instant::now();
    let e = run(&c, "fetch", &format!("http://{addr}/")).await.unwrap_err();
    assert!(matches!(e, HostError::DeadlineExceeded { .. }), "{e}");
    assert!(t.elapsed() < Duration::from_secs(5), "took {:?}", t.elapsed());
    control(&c).await;
}

#[tokio::test]
async fn instance_and_table_limits_are_enforced() {
    // A Rust wasip2 component has several core instances and tables: with
    // room for one of each it cannot even be instantiated to describe itself.
    let mut few_instances = Limits::default();
    few_instances.max_instances = 1;
    let mut no_tables = Limits::default();
    no_tables.max_tables = 0;
    for (what, limits) in [("instances", few_instances), ("tables", no_tables)] {
        let host = Host::new(HostOptions::default().limits(limits)).unwrap();
        let e = host.load("hostile", HOSTILE).await.err().unwrap_or_else(|| panic!("loaded with too few {what}"));
        let text = e.to_string();
        assert!(text.contains("hostile") && text.contains("more than this host's limits allow"), "{what}: {text}");
    }
    let (_h, c) = host(true).await;
    control(&c).await;
}
