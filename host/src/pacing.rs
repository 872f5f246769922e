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
//! A `Retry-After` is clamped to the pacer's `max_hold` (the retry policy's
//! longest single wait, 5 minutes by default), so no answer can hold a host
//! name back for longer, and no arithmetic on it can overflow.
//!
//! Time a session spends held back here is credited to the call's deadline
//! ([`PacingClock`]): it is the PSA's limit, not the connector's slowness.
//! Only time in which the guest is blocked in a host call while at least one
//! of its requests waits here counts, overlapping waits count once, and the
//! credit of one call is capped (`Limits::max_pacing_credit`), so a
//! connector cannot stretch its deadline by queueing requests it never
//! waits for.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// The deadline credit of one session's calls: time in which the guest was
/// blocked in a host call while one or more of its requests waited in the
/// pacer, counted once however many waited, capped per call.
pub struct PacingClock {
    state: Mutex<ClockState>,
    cap: Duration,
}

#[derive(Default)]
struct ClockState {
    /// Requests of the session waiting in the pacer now.
    waiting: u32,
    /// Whether the guest is inside a host call (not running its own code).
    in_host: bool,
    /// Since when both hold (credit is accruing).
    since: Option<Instant>,
    /// Credit of the current call, accrued intervals only.
    credited: Duration,
}

impl ClockState {
    fn accruing(&self) -> bool {
        self.waiting > 0 && self.in_host
    }
}

impl PacingClock {
    /// A clock whose credit per call is at most `cap`.
    pub fn new(cap: Duration) -> Self {
        PacingClock { state: Mutex::new(ClockState::default()), cap }
    }

    /// Applies `change` to the state, closing or opening the accruing
    /// interval as it requires.
    fn update(&self, change: impl FnOnce(&mut ClockState)) {
        let mut st = match self.state.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        let now = Instant::now();
        if let Some(since) = st.since.take() {
            st.credited = st.credited.saturating_add(now.saturating_duration_since(since));
        }
        change(&mut st);
        if st.accruing() {
            st.since = Some(now);
        }
    }

    /// A call starts: its credit starts from zero.
    pub fn start_call(&self) {
        self.update(|st| st.credited = Duration::ZERO);
    }

    /// The guest entered (`true`) or left (`false`) a host call.
    pub fn set_in_host(&self, in_host: bool) {
        self.update(|st| st.in_host = in_host);
    }

    /// The deadline credit of the current call so far, at most the cap.
    pub fn credit(&self) -> Duration {
        let st = match self.state.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        let ongoing = st.since.map_or(Duration::ZERO, |s| Instant::now().saturating_duration_since(s));
        st.credited.saturating_add(ongoing).min(self.cap)
    }

    /// Waits for `pacer` to admit a request to `origin`, counting the wait
    /// (also when the request is dropped while it waits).
    pub async fn acquire(&self, pacer: &Pacer, origin: &str) {
        struct Waiting<'a>(&'a PacingClock);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.update(|st| st.waiting = st.waiting.saturating_sub(1));
            }
        }
        self.update(|st| st.waiting = st.waiting.saturating_add(1));
        let _waiting = Waiting(self);
        pacer.acquire(origin).await;
    }
}

/// How many requests one origin may receive per rolling window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateBudget {
    /// Requests per window.
    pub requests: u32,
    /// The rolling window.
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
    /// Longest a 429 holds an origin back, whatever it asked for.
    max_hold: Duration,
    origins: Mutex<HashMap<String, OriginState>>,
}

impl Pacer {
    /// `budget: None` sends without pacing (429s still block the origin, for
    /// at most `max_hold`).
    pub fn new(budget: Option<RateBudget>, max_hold: Duration) -> Self {
        Pacer { budget, max_hold, origins: Mutex::new(HashMap::new()) }
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
                    let free = oldest.checked_add(b.window).unwrap_or(now);
                    return free.saturating_duration_since(now).max(Duration::from_millis(1));
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

    /// The origin answered 429: hold every session's requests to it back
    /// for `wait`, at most `max_hold`. Returns the hold applied.
    pub fn rate_limited(&self, origin: &str, wait: Duration) -> Duration {
        let hold = wait.min(self.max_hold);
        let now = Instant::now();
        // `max_hold` comes from the host's options: still no overflow.
        let until = now.checked_add(hold).unwrap_or(now);
        if let Ok(mut map) = self.origins.lock() {
            let st = map.entry(origin.to_string()).or_default();
            if st.blocked_until.is_none_or(|u| u < until) {
                st.blocked_until = Some(until);
            }
        }
        hold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn holds_requests_beyond_the_budget_until_the_window_moves() {
        let p = Pacer::new(Some(RateBudget { requests: 3, window: Duration::from_secs(10) }), Duration::from_secs(300));
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
        let p = Pacer::new(None, Duration::from_secs(300));
        p.rate_limited("a:443", Duration::from_secs(30));
        let waited = p.acquire("a:443").await;
        assert!(waited >= Duration::from_secs(30), "{waited:?}");
        assert_eq!(p.acquire("b:443").await, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hold_is_clamped_and_never_overflows() {
        let p = Pacer::new(None, Duration::from_secs(300));
        for asked in [Duration::MAX, Duration::from_secs(u64::MAX), Duration::from_secs(10_000_000_000)] {
            assert_eq!(p.rate_limited("a:443", asked), Duration::from_secs(300));
        }
        let waited = p.acquire("a:443").await;
        assert!(waited >= Duration::from_secs(300) && waited < Duration::from_secs(301), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn credit_counts_overlapping_waits_once_only_while_the_guest_is_blocked_and_is_capped() {
        let clock = std::sync::Arc::new(PacingClock::new(Duration::from_secs(50)));
        let pacer = std::sync::Arc::new(Pacer::new(None, Duration::from_secs(300)));
        pacer.rate_limited("a", Duration::from_secs(20));
        clock.start_call();
        // Three requests wait at once, for 20 s; the guest runs its own code
        // for the first 5 s, then blocks in a host call.
        let waits: Vec<_> = (0..3)
            .map(|_| {
                let (c, p) = (clock.clone(), pacer.clone());
                tokio::spawn(async move { c.acquire(&p, "a").await })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(clock.credit(), Duration::ZERO);
        clock.set_in_host(true);
        for w in waits {
            w.await.unwrap();
        }
        let c = clock.credit();
        assert!(c >= Duration::from_secs(15) && c < Duration::from_secs(16), "{c:?}");
        // Nothing waits now: blocking longer earns nothing.
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(clock.credit() < Duration::from_secs(16));
        // A long wait while blocked is capped.
        pacer.rate_limited("a", Duration::from_secs(200));
        clock.acquire(&pacer, "a").await;
        assert_eq!(clock.credit(), Duration::from_secs(50));
        // The next call starts from zero.
        clock.set_in_host(false);
        clock.start_call();
        assert_eq!(clock.credit(), Duration::ZERO);
    }
}
