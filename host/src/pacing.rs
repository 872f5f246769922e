//! Pacing requests per PSA instance, below the PSA's rate limit.
//!
//! Hosted Halo allows 300 requests per rolling five minutes and answers 429
//! past that, without `Retry-After`. The host therefore keeps, per host name
//! (an instance's auth and API endpoints share its budget whatever their
//! ports) and shared by every session of one [`crate::Host`], the
//! times of the requests sent in the current window, and holds a request
//! back until the window has room ([`RateBudget`], default 250 per 5
//! minutes, leaving headroom for the MSP's other tools). When an origin
//! answers 429, every session's requests to it wait until the time the
//! answer asked for (or the policy's first backoff).
//!
//! Time spent waiting here does not count against a call's deadline (see
//! [`crate::runtime`]): it is the PSA's limit, not the connector's slowness.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// How long one session's requests have been held back by the pacer,
/// including a wait still under way. The call deadline is extended by it.
#[derive(Default)]
pub struct PacingClock {
    done_nanos: AtomicU64,
    waiting_since: Mutex<Option<Instant>>,
}

impl PacingClock {
    /// Total time held back so far.
    pub fn total(&self) -> Duration {
        let done = Duration::from_nanos(self.done_nanos.load(Ordering::Relaxed));
        let ongoing = self.waiting_since.lock().ok().and_then(|w| w.map(|s| s.elapsed())).unwrap_or_default();
        done + ongoing
    }

    /// Waits for `pacer` to admit a request to `origin`, counting the wait.
    pub async fn acquire(&self, pacer: &Pacer, origin: &str) {
        if let Ok(mut w) = self.waiting_since.lock() {
            *w = Some(Instant::now());
        }
        let waited = pacer.acquire(origin).await;
        if let Ok(mut w) = self.waiting_since.lock() {
            *w = None;
        }
        self.done_nanos.fetch_add(waited.as_nanos().min(u64::MAX as u128) as u64, Ordering::Relaxed);
    }
}

/// How many requests one origin may receive per rolling window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateBudget {
    pub requests: u32,
    pub window: Duration,
}

impl Default for RateBudget {
    /// 250 requests per rolling 5 minutes: below hosted Halo's 300.
    fn default() -> Self {
        RateBudget { requests: 250, window: Duration::from_secs(300) }
    }
}

#[derive(Default)]
struct OriginState {
    sent: VecDeque<Instant>,
    blocked_until: Option<Instant>,
}

/// The per-origin request windows of one host.
pub struct Pacer {
    budget: Option<RateBudget>,
    origins: Mutex<HashMap<String, OriginState>>,
}

impl Pacer {
    /// `None` sends without pacing (429s still block the origin).
    pub fn new(budget: Option<RateBudget>) -> Self {
        Pacer { budget, origins: Mutex::new(HashMap::new()) }
    }

    /// How long a request to `origin` must wait now; records it as sent
    /// when the answer is zero.
    fn try_take(&self, origin: &str) -> Duration {
        let now = Instant::now();
        let mut map = match self.origins.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        let st = map.entry(origin.to_string()).or_default();
        if let Some(until) = st.blocked_until {
            if until > now {
                return until - now;
            }
            st.blocked_until = None;
        }
        if let Some(b) = self.budget {
            while st.sent.front().is_some_and(|t| now.duration_since(*t) >= b.window) {
                st.sent.pop_front();
            }
            if st.sent.len() >= b.requests as usize {
                if let Some(oldest) = st.sent.front() {
                    return (*oldest + b.window).saturating_duration_since(now).max(Duration::from_millis(1));
                }
            }
            st.sent.push_back(now);
        }
        Duration::ZERO
    }

    /// Waits until a request to `origin` fits the budget and records it.
    /// Returns how long it waited.
    pub async fn acquire(&self, origin: &str) -> Duration {
        let start = Instant::now();
        loop {
            let wait = self.try_take(origin);
            if wait.is_zero() {
                return start.elapsed();
            }
            tracing::info!(%origin, wait_ms = wait.as_millis() as u64, "pacing: holding a request back to stay within the PSA's rate limit");
            tokio::time::sleep(wait).await;
        }
    }

    /// The origin answered 429: hold every session's requests to it back for `wait`.
    pub fn rate_limited(&self, origin: &str, wait: Duration) {
        let until = Instant::now() + wait;
        if let Ok(mut map) = self.origins.lock() {
            let st = map.entry(origin.to_string()).or_default();
            if st.blocked_until.is_none_or(|u| u < until) {
                st.blocked_until = Some(until);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn holds_requests_beyond_the_budget_until_the_window_moves() {
        let p = Pacer::new(Some(RateBudget { requests: 3, window: Duration::from_secs(10) }));
        for _ in 0..3 {
            assert_eq!(p.acquire("a:443").await, Duration::ZERO);
        }
        // Another origin has its own window.
        assert_eq!(p.acquire("b:443").await, Duration::ZERO);
        let waited = p.acquire("a:443").await;
        assert!(waited >= Duration::from_secs(10) && waited < Duration::from_secs(11), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_blocks_the_origin_for_everyone() {
        let p = Pacer::new(None);
        p.rate_limited("a:443", Duration::from_secs(30));
        let waited = p.acquire("a:443").await;
        assert!(waited >= Duration::from_secs(30), "{waited:?}");
        assert_eq!(p.acquire("b:443").await, Duration::ZERO);
    }
}
