//! When the host calls a connector again after a failed call, and how long
//! it waits first.
//!
//! | the connector's error | retried? | wait before the next attempt |
//! |---|---|---|
//! | `rate-limited` with `retry-after` | yes, while the total wait stays within `rate_limit_budget` (10 min) | what the PSA asked for |
//! | `rate-limited` without it (Halo never sends one) | yes, same budget | 30 s, 60 s, 120 s, 240 s, 300 s, 300 s…, each ±20 % jitter |
//! | `upstream` 502, 503, 504 | up to `transient_retries` (3) times | 1 s, 2 s, 4 s…, ±20 % jitter |
//! | `unreachable` at stage `timeout` or `connect` (reset, refused) | same | same |
//! | anything else (401, 403, 404, other 4xx, DNS, TLS, protocol, a crash) | no | — |
//!
//! Short retries are useless against a rolling five-minute window, so a
//! rate-limit wait starts at 30 s and grows. Every retry is logged with its
//! reason.

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
    /// Longest single rate-limit wait.
    pub rate_limit_max_wait: Duration,
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
            transient_retries: 3,
            transient_first_wait: Duration::from_secs(1),
            jitter: 0.2,
        }
    }
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
    /// The wait before the next attempt, or `None` to give up.
    pub fn next_wait(&mut self, policy: &RetryPolicy, why: &Retryable) -> Option<Duration> {
        match why {
            Retryable::RateLimited { retry_after } => {
                let base = match retry_after {
                    Some(d) => *d,
                    None => {
                        let factor = 1u32.checked_shl(self.rate_limited.min(16)).unwrap_or(u32::MAX);
                        policy.rate_limit_first_wait.saturating_mul(factor).min(policy.rate_limit_max_wait)
                    }
                };
                let wait = if retry_after.is_some() { base } else { jitter(base, policy.jitter) };
                if self.rate_waited + wait > policy.rate_limit_budget {
                    return None;
                }
                self.rate_limited += 1;
                self.rate_waited += wait;
                Some(wait)
            }
            Retryable::Transient { .. } => {
                if self.transient >= policy.transient_retries {
                    return None;
                }
                let factor = 1u32 << self.transient.min(16);
                self.transient += 1;
                Some(jitter(policy.transient_first_wait.saturating_mul(factor), policy.jitter))
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

fn jitter(d: Duration, fraction: f64) -> Duration {
    if fraction <= 0.0 {
        return d;
    }
    let f = 1.0 + fraction * (fastrand::f64() * 2.0 - 1.0);
    d.mul_f64(f.max(0.0))
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
        let waits: Vec<u64> = std::iter::from_fn(|| a.next_wait(&p, &why)).map(|d| d.as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240]); // the next (300) would pass 600 s in total
        assert_eq!(a.rate_waited(), Duration::from_secs(450));
    }

    #[test]
    fn retry_after_is_honoured() {
        let p = policy();
        let mut a = Attempts::default();
        let why = Retryable::RateLimited { retry_after: Some(Duration::from_secs(42)) };
        assert_eq!(a.next_wait(&p, &why), Some(Duration::from_secs(42)));
    }

    #[test]
    fn transient_faults_get_three_growing_retries() {
        let p = policy();
        let mut a = Attempts::default();
        let why = Retryable::Transient { reason: "502".into() };
        let waits: Vec<u64> = std::iter::from_fn(|| a.next_wait(&p, &why)).map(|d| d.as_secs()).collect();
        assert_eq!(waits, [1, 2, 4]);
        a.succeeded();
        assert_eq!(a.next_wait(&p, &why), Some(Duration::from_secs(1)));
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
