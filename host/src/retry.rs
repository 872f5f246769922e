//! When the host calls a connector again after a failed call, and how long
//! it waits first.
//!
//! | the connector's error | retried? | wait before the next attempt |
//! |---|---|---|
//! | `rate-limited` with `retry-after` | yes, while the total wait stays within `rate_limit_budget` (10 min), at most `rate_limit_retries` (10) times | what the PSA asked for, at least `rate_limit_min_wait` (1 s) |
//! | `rate-limited` without it (Halo never sends one) | yes, same budget and count | 30 s, 60 s, 120 s, 240 s, 300 s, 300 s…, each ±20 % jitter |
//! | `upstream` 502, 503, 504 | up to `transient_retries` (3) times | 1 s, 2 s, 4 s…, ±20 % jitter |
//! | `unreachable` at stage `timeout` or `connect` (reset, refused) | same | same |
//! | anything else (401, 403, 404, other 4xx, DNS, TLS, protocol, a crash) | no | — |
//!
//! Short retries are useless against a rolling five-minute window, so a
//! rate-limit wait starts at 30 s and grows. Every retry is logged with its
//! reason.
//!
//! A wait the PSA asks for that is longer than what is left of the budget
//! ends the import at once ([`GiveUp::WaitTooLong`]), naming the wait: there
//! is no point in sleeping part of it first.
//!
//! `Retry-After` is hostile input like everything a server sends.
//! [`parse_retry_after`] reads delta-seconds or an HTTP-date, saturating
//! instead of overflowing; anything else (negative, fractional, garbage) is
//! ignored. Every consumer clamps the result: the pacer to
//! `rate_limit_max_wait`, this module to the budget.

use crate::types::{ConnectorError, NetworkStage};
use crate::HostError;
use std::time::Duration;

/// How the host retries failed connector calls.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Most time one import may spend waiting for a PSA's rate limit.
    pub rate_limit_budget: Duration,
    /// First wait after a 429 without `Retry-After`; doubles each time.
    pub rate_limit_first_wait: Duration,
    /// Longest single rate-limit wait (and the longest a 429 holds a PSA
    /// host back for every session).
    pub rate_limit_max_wait: Duration,
    /// Shortest rate-limit wait, whatever `Retry-After` says (a date in the
    /// past or `0` must not make the host retry in a tight loop).
    pub rate_limit_min_wait: Duration,
    /// Most retries of one import after rate-limit answers.
    pub rate_limit_retries: u32,
    /// Retries of one call after a transient fault.
    pub transient_retries: u32,
    /// First wait after a transient fault; doubles each time.
    pub transient_first_wait: Duration,
    /// Relative jitter applied to every wait (0.2 = ±20 %).
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            rate_limit_budget: Duration::from_secs(600),
            rate_limit_first_wait: Duration::from_secs(30),
            rate_limit_max_wait: Duration::from_secs(300),
            rate_limit_min_wait: Duration::from_secs(1),
            rate_limit_retries: 10,
            transient_retries: 3,
            transient_first_wait: Duration::from_secs(1),
            jitter: 0.2,
        }
    }
}

/// The wait a `Retry-After` header value asks for, counted from `now`:
/// delta-seconds (saturating at `u64::MAX` seconds rather than
/// overflowing) or an HTTP-date (zero when it is in the past). `None` for
/// anything else: negative or fractional numbers, other text.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: only overflow can fail, and a huge wait is still a wait.
        return Some(Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX)));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Why the host stops retrying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GiveUp {
    /// The rate-limit budget is spent (or the next wait would overspend it).
    BudgetSpent,
    /// The PSA asked for a wait longer than what is left of the budget.
    WaitTooLong {
        /// What the PSA asked for.
        asked: Duration,
        /// What was left of the budget.
        left: Duration,
    },
    /// The failures persisted through every retry allowed.
    RetriesSpent,
}

/// Why a call is worth repeating.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Retryable {
    RateLimited { retry_after: Option<Duration> },
    Transient { reason: String },
}

/// Whether `err` is worth another attempt.
pub fn retryable(err: &HostError) -> Option<Retryable> {
    match err.connector_error()? {
        ConnectorError::RateLimited { retry_after_seconds, .. } => Some(Retryable::RateLimited {
            retry_after: retry_after_seconds.map(|s| Duration::from_secs(s.into())),
        }),
        ConnectorError::Upstream { status: status @ (502 | 503 | 504), endpoint, .. } => {
            Some(Retryable::Transient { reason: format!("HTTP {status} from {endpoint}") })
        }
        ConnectorError::Unreachable { host, stage: stage @ (NetworkStage::Timeout | NetworkStage::Connect), .. } => {
            let what = if *stage == NetworkStage::Timeout { "timed out" } else { "connection failed" };
            Some(Retryable::Transient { reason: format!("{host} {what}") })
        }
        _ => None,
    }
}

/// The state of retrying one import.
#[derive(Debug, Default)]
pub struct Attempts {
    rate_limited: u32,
    rate_waited: Duration,
    transient: u32,
}

impl Attempts {
    /// The wait before the next attempt, or why to give up.
    pub fn next_wait(&mut self, policy: &RetryPolicy, why: &Retryable) -> Result<Duration, GiveUp> {
        match why {
            Retryable::RateLimited { retry_after } => {
                let left = policy.rate_limit_budget.saturating_sub(self.rate_waited);
                if self.rate_limited >= policy.rate_limit_retries {
                    return Err(GiveUp::RetriesSpent);
                }
                let wait = match retry_after {
                    Some(asked) if *asked > left => return Err(GiveUp::WaitTooLong { asked: *asked, left }),
                    Some(asked) => (*asked).max(policy.rate_limit_min_wait),
                    None => {
                        let factor = 1u32.checked_shl(self.rate_limited.min(16)).unwrap_or(u32::MAX);
                        let base = policy.rate_limit_first_wait.saturating_mul(factor).min(policy.rate_limit_max_wait);
                        jitter(base, policy.jitter)
                    }
                };
                if wait > left {
                    return Err(GiveUp::BudgetSpent);
                }
                self.rate_limited = self.rate_limited.saturating_add(1);
                self.rate_waited = self.rate_waited.saturating_add(wait);
                Ok(wait)
            }
            Retryable::Transient { .. } => {
                if self.transient >= policy.transient_retries {
                    return Err(GiveUp::RetriesSpent);
                }
                let factor = 1u32 << self.transient.min(16);
                self.transient += 1;
                Ok(jitter(policy.transient_first_wait.saturating_mul(factor), policy.jitter))
            }
        }
    }

    /// A call succeeded: transient faults are counted afresh.
    pub fn succeeded(&mut self) {
        self.transient = 0;
    }

    /// Total time waited for rate limits so far.
    pub fn rate_waited(&self) -> Duration {
        self.rate_waited
    }
}

/// `d` moved by up to ±`fraction` (clamped to 0..=1) at random; never
/// panics, whatever the policy says.
fn jitter(d: Duration, fraction: f64) -> Duration {
    if fraction.is_nan() || fraction <= 0.0 {
        return d;
    }
    let f = 1.0 + fraction.min(1.0) * (fastrand::f64() * 2.0 - 1.0);
    Duration::try_from_secs_f64(d.as_secs_f64() * f.max(0.0)).unwrap_or(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy { jitter: 0.0, ..RetryPolicy::default() }
    }

    #[test]
    fn rate_limit_waits_grow_and_stop_at_the_budget() {
        let p = policy();
        let mut a = Attempts::default();
        let why = Retryable::RateLimited { retry_after: None };
        let waits: Vec<u64> = std::iter::from_fn(|| a.next_wait(&p, &why).ok()).map(|d| d.as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240]); // the next (300) would pass 600 s in total
        assert_eq!(a.next_wait(&p, &why), Err(GiveUp::BudgetSpent));
        assert_eq!(a.rate_waited(), Duration::from_secs(450));
    }

    #[test]
    fn retry_after_is_honoured() {
        let p = policy();
        let mut a = Attempts::default();
        let why = Retryable::RateLimited { retry_after: Some(Duration::from_secs(42)) };
        assert_eq!(a.next_wait(&p, &why), Ok(Duration::from_secs(42)));
    }

    #[test]
    fn a_retry_after_of_zero_is_not_a_tight_loop() {
        let p = policy();
        let mut a = Attempts::default();
        let why = Retryable::RateLimited { retry_after: Some(Duration::ZERO) };
        let waits: Vec<Duration> = std::iter::from_fn(|| a.next_wait(&p, &why).ok()).collect();
        assert_eq!(waits, vec![Duration::from_secs(1); 10]);
        assert_eq!(a.next_wait(&p, &why), Err(GiveUp::RetriesSpent));
    }

    #[test]
    fn a_wait_longer_than_the_budget_left_gives_up_at_once_naming_it() {
        let p = policy();
        let mut a = Attempts::default();
        let asked = Duration::from_secs(u64::MAX);
        let why = Retryable::RateLimited { retry_after: Some(asked) };
        assert_eq!(a.next_wait(&p, &why), Err(GiveUp::WaitTooLong { asked, left: Duration::from_secs(600) }));
        a.next_wait(&p, &Retryable::RateLimited { retry_after: Some(Duration::from_secs(500)) }).unwrap();
        let why = Retryable::RateLimited { retry_after: Some(Duration::from_secs(101)) };
        let left = Duration::from_secs(100);
        assert_eq!(a.next_wait(&p, &why), Err(GiveUp::WaitTooLong { asked: Duration::from_secs(101), left }));
    }

    #[test]
    fn retry_after_values_are_parsed_without_overflow() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let p = |v| parse_retry_after(v, now);
        assert_eq!(p("120"), Some(Duration::from_secs(120)));
        assert_eq!(p(" 0 "), Some(Duration::ZERO));
        assert_eq!(p("18446744073709551615"), Some(Duration::from_secs(u64::MAX)));
        assert_eq!(p("99999999999999999999999"), Some(Duration::from_secs(u64::MAX)));
        assert_eq!(p("10000000000"), Some(Duration::from_secs(10_000_000_000)));
        for garbage in ["-5", "1.5", "", "soon", "0x10", "+3", "Wed, 32 Nov 2023 00:00:00 GMT"] {
            assert_eq!(p(garbage), None, "{garbage:?}");
        }
        // 2023-11-14T22:13:20Z is `now`; an HTTP-date 90 s later, and one in the past.
        assert_eq!(p("Tue, 14 Nov 2023 22:14:50 GMT"), Some(Duration::from_secs(90)));
        assert_eq!(p("Sun, 06 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO));
    }

    #[test]
    fn jitter_never_panics() {
        for fraction in [f64::NAN, f64::INFINITY, -1.0, 5.0] {
            let d = jitter(Duration::from_secs(u64::MAX), fraction);
            assert!(d > Duration::ZERO);
        }
    }

    #[test]
    fn transient_faults_get_three_growing_retries() {
        let p = policy();
        let mut a = Attempts::default();
        let why = Retryable::Transient { reason: "502".into() };
        let waits: Vec<u64> = std::iter::from_fn(|| a.next_wait(&p, &why).ok()).map(|d| d.as_secs()).collect();
        assert_eq!(waits, [1, 2, 4]);
        a.succeeded();
        assert_eq!(a.next_wait(&p, &why), Ok(Duration::from_secs(1)));
    }

    #[test]
    fn jitter_stays_within_bounds() {
        for _ in 0..1000 {
            let d = jitter(Duration::from_secs(100), 0.2).as_secs_f64();
            assert!((80.0..=120.0).contains(&d), "{d}");
        }
    }

    #[test]
    fn what_is_retried() {
        let e = |error| HostError::Connector { connector: "x".into(), error };
        assert!(retryable(&e(ConnectorError::Upstream { status: 503, endpoint: "/api/Client".into(), message: String::new() })).is_some());
        assert!(retryable(&e(ConnectorError::Upstream { status: 500, endpoint: "/api/Client".into(), message: String::new() })).is_none());
        assert!(retryable(&e(ConnectorError::Unauthorized { message: String::new() })).is_none());
        assert!(retryable(&e(ConnectorError::Unreachable { host: "h".into(), stage: NetworkStage::Dns, message: String::new() })).is_none());
        assert!(retryable(&e(ConnectorError::Unreachable { host: "h".into(), stage: NetworkStage::Timeout, message: String::new() })).is_some());
        assert!(retryable(&HostError::Trap { connector: "x".into(), call: "c".into(), message: String::new() }).is_none());
    }
}
