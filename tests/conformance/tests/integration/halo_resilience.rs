//! Halo as it behaves in the wild: rate limits, transient faults, pacing,
//! and the request budget of an import, read from the simulator's log.

use crate::common::*;
use halo_sim::{sample_customers, FaultKind, Faults, HaloSim, Listener, RateLimit, ScheduledFault, SimOptions, TenantLinks};
use psa_host::{Connector, ConnectorError, Host, HostError, HostOptions, Limits, RateBudget, RetryPolicy};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A host with short waits so the tests run in seconds.
async fn halo_with(budget: Option<RateBudget>, retry: RetryPolicy, limits: Limits) -> Connector {
    let host = Host::new(HostOptions::default().allow_loopback(true).rate_budget(budget).retry(retry).limits(limits)).unwrap();
    host.load("halopsa", psa_host::bundled::HALOPSA).await.unwrap()
}

fn quick_retry() -> RetryPolicy {
    let mut r = RetryPolicy::default();
    r.rate_limit_first_wait = Duration::from_millis(300);
    r.rate_limit_max_wait = Duration::from_secs(2);
    r.rate_limit_budget = Duration::from_secs(5);
    r.transient_first_wait = Duration::from_millis(100);
    r
}

fn api_requests(sim: &HaloSim) -> Vec<halo_sim::LoggedRequest> {
    sim.requests().into_iter().filter(|r| r.listener == Listener::Resource).collect()
}

/// Every request made twice must directly follow a failed attempt of the
/// same request that the log explains (a fault or a 429).
fn assert_repeats_are_explained(sim: &HaloSim) {
    let log = sim.requests();
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for (i, r) in log.iter().enumerate() {
        let key = (r.path.clone(), r.query.clone());
        if let Some(prev) = seen.get(&key) {
            let p = &log[*prev];
            assert!(p.status >= 400 || p.fault.is_some(), "request {i} {key:?} repeated without a failure to explain it: {p:?}");
        }
        seen.insert(key, i);
    }
}

#[tokio::test]
async fn a_429_without_retry_after_is_waited_out() {
    let sim = start(SimOptions { customers: sample_customers(500, 1), ..Default::default() }).await;
    sim.set_faults(Faults {
        schedule: vec![
            ScheduledFault { nth: 3, kind: FaultKind::RateLimited },
            ScheduledFault { nth: 4, kind: FaultKind::RateLimited },
        ],
        ..Default::default()
    });
    let halo = halo_with(None, quick_retry(), Limits::default()).await;
    let mut s = halo.open_session(&config(&halo, form(&sim))).await.unwrap();
    let mut waits = Vec::new();
    let t = Instant::now();
    let out = s.import_all(|p| if let Some(w) = &p.waiting { waits.push((w.rate_limit, w.attempt)) }).await.expect("import");
    assert_eq!(out.customers.len(), 500);
    assert_eq!(waits, [(true, 1), (true, 2)], "each 429 shown as a rate-limit wait");
    // 300 ms then about 600 ms (±20 %).
    assert!(t.elapsed() >= Duration::from_millis(700), "{:?}", t.elapsed());
    assert_eq!(api_requests(&sim).iter().filter(|r| r.status == 429).count(), 2);
    assert_repeats_are_explained(&sim);
}

#[tokio::test]
async fn a_429_holds_back_every_session_to_that_instance() {
    let sim = start(SimOptions { customers: sample_customers(150, 1), ..Default::default() }).await;
    let halo = halo_with(None, quick_retry(), Limits::default()).await;
    let mut a = halo.open_session(&config(&halo, form(&sim))).await.unwrap();
    let mut b = halo.open_session(&config(&halo, form(&sim))).await.unwrap();
    // Both hold a token; the next request, A's, is answered 429 Retry-After: 2.
    a.list_customers(None).await.unwrap();
    b.list_customers(None).await.unwrap();
    sim.set_faults(Faults { rate_limit_next: 1, retry_after: Some(2), ..Default::default() });
    assert!(a.list_customers(None).await.is_err(), "A's request was not answered 429");
    let t = Instant::now();
    b.list_customers(None).await.expect("B's request goes out after the hold");
    assert!(t.elapsed() >= Duration::from_millis(1500), "B was not held back after A's 429: {:?}", t.elapsed());
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let sim = start(SimOptions { customers: sample_customers(150, 1), ..Default::default() }).await;
    sim.set_faults(Faults { rate_limit_next: 1, retry_after: Some(1), ..Default::default() });
    let halo = halo_with(None, quick_retry(), Limits::default()).await;
    let mut s = halo.open_session(&config(&halo, form(&sim))).await.unwrap();
    let t = Instant::now();
    s.import_all(|_| {}).await.expect("import");
    assert!(t.elapsed() >= Duration::from_secs(1), "Retry-After: 1 not honoured: {:?}", t.elapsed());
}

#[tokio::test]
async fn an_endless_rate_limit_fails_and_says_how_far_it_got() {
    let sim = start(SimOptions { customers: sample_customers(500, 1), ..Default::default() }).await;
    let halo = halo_with(None, quick_retry(), Limits::default()).await;
    let mut s = halo.open_session(&config(&halo, form(&sim))).await.unwrap();
    // Two pages, then Halo refuses everything.
    let first = s.list_customers(None).await.unwrap();
    let second = s.list_customers(first.next_cursor.as_deref()).await.unwrap();
    assert_eq!(second.fetched, 200);
    sim.set_faults(Faults { rate_limit_next: 10_000, ..Default::default() });
    let t = Instant::now();
    let err = s.import_all(|_| {}).await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(8), "the rate-limit budget was not applied: {:?}", t.elapsed());
    assert!(matches!(err.error, HostError::GaveUp { .. }), "{}", err.error);
    assert!(matches!(err.error.connector_error(), Some(ConnectorError::RateLimited { .. })), "{}", err.error);
    let text = err.to_string();
    assert!(text.contains("gave up"), "{text}");
    assert!(text.contains("import failed after 0 page(s)"), "a fresh import counts from zero: {text}");
}

#[tokio::test]
async fn transient_faults_are_retried_and_explained_in_the_log() {
    let sim = start(SimOptions { customers: sample_customers(900, 4), ..Default::default() }).await;
    sim.set_faults(Faults {
        schedule: vec![
            ScheduledFault { nth: 2, kind: FaultKind::BadGateway },
            ScheduledFault { nth: 4, kind: FaultKind::Unavailable },
            ScheduledFault { nth: 6, kind: FaultKind::GatewayTimeout },
            ScheduledFault { nth: 8, kind: FaultKind::Reset },
        ],
        ..Default::default()
    });
    let halo = halo_with(None, quick_retry(), Limits::default()).await;
    let mut s = halo.open_session(&config(&halo, form(&sim))).await.unwrap();
    let mut retries = 0;
    let out = s.import_all(|p| retries += p.waiting.is_some() as u32).await.expect("import survives transient faults");
    assert_eq!(out.customers.len(), 900);
    assert_eq!(retries, 4);
    assert_repeats_are_explained(&sim);
}

#[tokio::test]
async fn a_persistent_502_gives_up_after_three_retries() {
    let sim = start(SimOptions { customers: sample_customers(50, 4), ..Default::default() }).await;
    sim.set_faults(Faults { server_error_next: 100, ..Default::default() });
    let halo = halo_with(None, quick_retry(), Limits::default()).await;
    let mut s = halo.open_session(&config(&halo, form(&sim))).await.unwrap();
    let err = s.import_all(|_| {}).await.unwrap_err();
    assert!(matches!(err.error.connector_error(), Some(ConnectorError::Upstream { status: 502, .. })), "{}", err.error);
    assert_eq!(api_requests(&sim).iter().filter(|r| r.path.eq_ignore_ascii_case("/api/Client")).count(), 4, "1 try + 3 retries");
}

#[tokio::test]
async fn other_errors_are_not_retried() {
    let sim = start(SimOptions { app_permissions: vec!["read:tickets".into()], customers: sample_customers(50, 4), ..Default::default() }).await;
    let halo = halo_with(None, quick_retry(), Limits::default()).await;
    let mut s = halo.open_session(&config(&halo, form(&sim))).await.unwrap();
    let err = s.import_all(|_| {}).await.unwrap_err();
    assert!(matches!(err.error.connector_error(), Some(ConnectorError::Forbidden { .. })));
    assert_eq!(api_requests(&sim).len(), 1, "a 403 must not be retried");
}

#[tokio::test]
async fn pacing_keeps_an_import_under_halos_rolling_limit() {
    // Halo allows 12 requests per 2 s; the host paces to 10.
    let sim = start(SimOptions {
        customers: sample_customers(2000, 6),
        rate_limit: Some(RateLimit { max_requests: 12, window: Duration::from_secs(2) }),
        ..Default::default()
    })
    .await;
    let halo = halo_with(Some(RateBudget { requests: 10, window: Duration::from_secs(2) }), quick_retry(), Limits::default()).await;
    let t = Instant::now();
    let mut s = halo.open_session(&config(&halo, form(&sim))).await.unwrap();
    let out = s.import_all(|_| {}).await.expect("import");
    assert_eq!(out.customers.len(), 2000);
    let log = sim.requests();
    assert!(log.iter().all(|r| r.status != 429), "Halo had to refuse a request: pacing failed");
    // 21 requests at 10 per 2 s need at least two full windows.
    assert!(t.elapsed() >= Duration::from_secs(4), "{:?}", t.elapsed());
}

#[tokio::test]
async fn pacing_is_shared_by_sessions_and_does_not_count_against_the_deadline() {
    let sim = start(SimOptions {
        customers: sample_customers(600, 8),
        rate_limit: Some(RateLimit { max_requests: 8, window: Duration::from_secs(3) }),
        ..Default::default()
    })
    .await;
    // Each call may take at most 2 s of the connector's own time, but waits
    // of up to 3 s for the shared budget must not count.
    let mut limits = Limits::default();
    limits.call_timeout = Duration::from_secs(2);
    let halo = halo_with(Some(RateBudget { requests: 6, window: Duration::from_secs(3) }), quick_retry(), limits).await;
    let (a, b) = (halo.clone(), halo.clone());
    let cfg_a = config(&a, form(&sim));
    let cfg_b = config(&b, form(&sim));
    let (ra, rb) = tokio::join!(
        async move { a.open_session(&cfg_a).await.unwrap().import_all(|_| {}).await.map(|o| o.customers.len()) },
        async move { b.open_session(&cfg_b).await.unwrap().import_all(|_| {}).await.map(|o| o.customers.len()) },
    );
    assert_eq!(ra.expect("session a"), 600);
    assert_eq!(rb.expect("session b"), 600);
    assert!(sim.requests().iter().all(|r| r.status != 429), "the two sessions together exceeded Halo's limit");
}

#[tokio::test]
async fn request_budget_of_a_3000_customer_import() {
    for links in [TenantLinks::OnRows, TenantLinks::CspOnly] {
        let sim = start(SimOptions { customers: sample_customers(3000, 12), page_cap: 100, tenant_links: links.clone(), ..Default::default() }).await;
        let halo = halo().await;
        let mut s = halo.open_session(&config(&halo, form(&sim))).await.unwrap();
        let out = s.import_all(|_| {}).await.unwrap();
        assert_eq!(out.customers.len(), 3000);
        let log = sim.requests();
        let token = log.iter().filter(|r| r.listener == Listener::Auth).count();
        let pages = log.iter().filter(|r| r.path.eq_ignore_ascii_case("/api/Client")).count();
        let mapping = log.iter().filter(|r| r.path.to_ascii_lowercase().starts_with("/api/azureadconnection")).count();
        let other = log.len() - token - pages - mapping;
        let k = 2; // the simulator's CSP connections
        assert_eq!(token, 1, "{links:?}: token requests");
        assert_eq!(pages, 30, "{links:?}: ceil(3000 / 100) page requests");
        assert!(mapping <= 1 + k, "{links:?}: {mapping} tenant-mapping requests");
        if links == TenantLinks::OnRows {
            assert_eq!(mapping, 0);
        }
        assert_eq!(other, 0, "{links:?}: unexpected requests");
        assert_repeats_are_explained(&sim);
        println!("{links:?}: {} requests: {token} token, {pages} pages, {mapping} tenant-mapping", log.len());
    }
}
