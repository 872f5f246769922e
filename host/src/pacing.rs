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
//!
//! A connector may declare its PSA's budget (contract 0.2.0,
//! `connector-info.budget`): requests per window and, optionally, how many
//! requests the PSA allows in flight at once. The host then holds every
//! request of that connector's sessions to **both** its own budget and the
//! declared one (the lower of the two wins wherever they differ: a declared
//! budget can only slow a connector down), after clamping the declared
//! values ([`RateBudget::from_declared`]: requests 1..=100 000, window
//! 1 s..=1 day, concurrency 1..=`Limits::max_requests_in_flight`), so no
//! declaration can stop a connector for ever, overflow a clock or make the
//! host keep an unbounded history.
//!
//! Concurrency: the host itself sends a session's requests one call at a
//! time, but a guest may have several requests in flight (up to
//! `Limits::max_requests_in_flight`), and the platform runs several
//! sessions of one connector at once. A declared concurrency is therefore
//! kept per host name across all sessions of the host: a request waits
//! here until fewer than that many requests to the host name are awaiting
//! their response head. A request stops counting once its response head
//! has arrived (not when its body is read), so a connector that holds a
//! response body while it sends its next request cannot block itself.
//! Waiting for a concurrency slot counts as a pacing wait for the call's
//! deadline credit.

use crate::types::RequestBudget;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
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

    /// Waits for `pacer` to admit a request to `origin` under `pacing`,
    /// counting the wait (also when the request is dropped while it waits).
    /// The request counts as in flight until the answer is dropped.
    pub async fn acquire(&self, pacer: &Pacer, origin: &str, pacing: &Pacing) -> Admitted {
        struct Waiting<'a>(&'a PacingClock);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.update(|st| st.waiting = st.waiting.saturating_sub(1));
            }
        }
        self.update(|st| st.waiting = st.waiting.saturating_add(1));
        let _waiting = Waiting(self);
        pacer.admit(origin, pacing).await.1
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

/// Most requests per window a declared budget may name (more is clamped).
pub const MAX_DECLARED_REQUESTS: u32 = 100_000;
/// Longest window a declared budget may name (longer is clamped).
pub const MAX_DECLARED_WINDOW: Duration = Duration::from_secs(86_400);
/// Most send times the pacer keeps per host name.
const MAX_KEPT: usize = MAX_DECLARED_REQUESTS as usize;
/// Host names the pacer tracks before it forgets the idle ones (nothing in
/// flight, not held back, nothing sent within their window): a connector
/// whose declared hosts are a wildcard (`https://*.autotask.net`) could
/// otherwise make the map grow with every new name it asks for.
const PRUNE_ABOVE: usize = 1_024;

impl RateBudget {
    /// A connector's declared budget, clamped: requests to
    /// 1..=[`MAX_DECLARED_REQUESTS`] (0 would stop the connector for ever),
    /// the window to 1 s..=[`MAX_DECLARED_WINDOW`].
    pub fn from_declared(declared: &RequestBudget) -> RateBudget {
        RateBudget {
            requests: declared.requests.clamp(1, MAX_DECLARED_REQUESTS),
            window: Duration::from_secs(u64::from(declared.window_seconds)).clamp(Duration::from_secs(1), MAX_DECLARED_WINDOW),
        }
    }
}

/// How one connector's sessions are paced, besides the host's own budget:
/// its declared budget and concurrency, clamped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pacing {
    /// The connector's declared budget, clamped; kept together with the
    /// host's ([`HostOptions::rate_budget`](crate::HostOptions::rate_budget)).
    pub declared: Option<RateBudget>,
    /// Requests to one host name awaiting their response head at once.
    pub concurrency: Option<u32>,
}

impl Pacing {
    /// The pacing a connector's declared `budget` asks for, clamped;
    /// `max_in_flight` bounds the concurrency
    /// ([`Limits::max_requests_in_flight`](crate::Limits::max_requests_in_flight)).
    pub fn from_declared(budget: Option<&RequestBudget>, max_in_flight: usize) -> Pacing {
        let most = u32::try_from(max_in_flight).unwrap_or(u32::MAX).max(1);
        Pacing {
            declared: budget.map(RateBudget::from_declared),
            concurrency: budget.and_then(|b| b.concurrency).map(|c| c.clamp(1, most)),
        }
    }
}

/// A request admitted by the pacer; while it lives, the request counts
/// against its host name's concurrency.
pub struct Admitted {
    slot: Arc<InFlight>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Ok(mut n) = self.slot.count.lock() {
            *n = n.saturating_sub(1);
        }
        self.slot.released.notify_waiters();
    }
}

/// Requests to one host name awaiting their response head.
#[derive(Default)]
struct InFlight {
    count: Mutex<u32>,
    released: tokio::sync::Notify,
}

#[derive(Default)]
struct OriginState {
    sent: VecDeque<Instant>,
    blocked_until: Option<Instant>,
    /// The longest window any budget applied to this host name so far.
    longest: Duration,
    in_flight: Arc<InFlight>,
}

impl OriginState {
    /// Nothing to remember: not held back, nothing in flight, no send
    /// within the longest window applied to it.
    fn idle(&self, now: Instant) -> bool {
        let blocked = self.blocked_until.is_some_and(|u| u > now);
        let in_flight = self.in_flight.count.lock().map(|n| *n > 0).unwrap_or(true);
        let recent = self.sent.back().is_some_and(|t| now.duration_since(*t) < self.longest);
        !blocked && !in_flight && !recent
    }
}

/// What the pacer answers a request now.
enum Admission {
    Go(Admitted),
    Wait(Duration),
    /// The concurrency is used up: wait until a request is answered.
    Full(Arc<InFlight>),
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

    /// Whether a request to `origin` under `pacing` may go now; records it
    /// as sent and in flight when it may.
    fn try_take(&self, origin: &str, pacing: &Pacing) -> Admission {
        let now = Instant::now();
        let mut map = match self.origins.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        if map.len() >= PRUNE_ABOVE && !map.contains_key(origin) {
            map.retain(|_, st| !st.idle(now));
        }
        let st = map.entry(origin.to_string()).or_default();
        if let Some(until) = st.blocked_until {
            if until > now {
                return Admission::Wait(until - now);
            }
            st.blocked_until = None;
        }
        let budgets = [self.budget, pacing.declared];
        for b in budgets.iter().flatten() {
            st.longest = st.longest.max(b.window);
        }
        while st.sent.front().is_some_and(|t| now.duration_since(*t) >= st.longest) {
            st.sent.pop_front();
        }
        // Every budget must have room: the request `requests` sends back
        // must have left its window.
        let mut wait = Duration::ZERO;
        for b in budgets.iter().flatten() {
            let n = (b.requests as usize).max(1);
            if st.sent.len() >= n {
                if let Some(t) = st.sent.get(st.sent.len() - n) {
                    let free = t.checked_add(b.window).unwrap_or(now);
                    wait = wait.max(free.saturating_duration_since(now));
                }
            }
        }
        if !wait.is_zero() {
            return Admission::Wait(wait.max(Duration::from_millis(1)));
        }
        {
            let mut n = match st.in_flight.count.lock() {
                Ok(n) => n,
                Err(p) => p.into_inner(),
            };
            if pacing.concurrency.is_some_and(|c| *n >= c) {
                return Admission::Full(st.in_flight.clone());
            }
            *n = n.saturating_add(1);
        }
        if budgets.iter().any(Option::is_some) {
            st.sent.push_back(now);
            while st.sent.len() > MAX_KEPT {
                st.sent.pop_front();
            }
        }
        Admission::Go(Admitted { slot: st.in_flight.clone() })
    }

    /// Waits until a request to `origin` fits the host's budget and
    /// `pacing`, and records it. Returns how long it waited and the
    /// admission, which counts the request as in flight while it lives.
    pub async fn admit(&self, origin: &str, pacing: &Pacing) -> (Duration, Admitted) {
        let start = Instant::now();
        loop {
            match self.try_take(origin, pacing) {
                Admission::Go(admitted) => return (start.elapsed(), admitted),
                Admission::Wait(wait) => {
                    tracing::info!(%origin, wait_ms = wait.as_millis() as u64, "pacing: holding a request back to stay within the PSA's rate limit");
                    tokio::time::sleep(wait).await;
                }
                Admission::Full(slot) => {
                    let released = slot.released.notified();
                    tokio::pin!(released);
                    released.as_mut().enable();
                    let full = slot.count.lock().map(|n| pacing.concurrency.is_some_and(|c| *n >= c)).unwrap_or(false);
                    if full {
                        tracing::debug!(%origin, "pacing: holding a request back until one in flight is answered (the PSA's concurrency limit)");
                        released.await;
                    }
                }
            }
        }
    }

    /// Waits until a request to `origin` fits the host's budget and records
    /// it (no declared pacing). Returns how long it waited.
    #[cfg(test)]
    pub async fn acquire(&self, origin: &str) -> Duration {
        self.admit(origin, &Pacing::default()).await.0
    }

    /// The host's own budget, if it paces.
    pub fn budget(&self) -> Option<RateBudget> {
        self.budget
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
    async fn idle_host_names_are_forgotten_and_busy_ones_kept() {
        let p = Pacer::new(Some(RateBudget { requests: 100, window: Duration::from_secs(10) }), Duration::from_secs(300));
        p.acquire("busy:443").await;
        for i in 0..PRUNE_ABOVE {
            p.acquire(&format!("z{i}.example:443")).await;
        }
        let len = || p.origins.lock().unwrap().len();
        assert_eq!(len(), PRUNE_ABOVE + 1);
        tokio::time::advance(Duration::from_secs(11)).await;
        p.acquire("busy:443").await; // sent again: within its window from now
        p.acquire("new:443").await; // a new name beyond the threshold prunes the idle ones
        assert_eq!(len(), 2, "only the two names sent to within their window are kept");
        assert!(p.origins.lock().unwrap().contains_key("busy:443"));
    }

    #[test]
    fn a_declared_budget_is_clamped() {
        let declared = |requests, window_seconds, concurrency| RequestBudget { requests, window_seconds, concurrency };
        // Zero requests or a zero window would stop the connector for ever
        // or divide nothing: at least one request a second.
        let p = Pacing::from_declared(Some(&declared(0, 0, Some(0))), 16);
        assert_eq!(p.declared, Some(RateBudget { requests: 1, window: Duration::from_secs(1) }));
        assert_eq!(p.concurrency, Some(1));
        // The largest values: bounded history, no overflow, no more in
        // flight than the host allows anyway.
        let p = Pacing::from_declared(Some(&declared(u32::MAX, u32::MAX, Some(u32::MAX))), 16);
        assert_eq!(p.declared, Some(RateBudget { requests: MAX_DECLARED_REQUESTS, window: MAX_DECLARED_WINDOW }));
        assert_eq!(p.concurrency, Some(16));
        // Halo's and Autotask's published budgets pass unchanged.
        let p = Pacing::from_declared(Some(&declared(10_000, 3_600, Some(3))), 16);
        assert_eq!(p.declared, Some(RateBudget { requests: 10_000, window: Duration::from_secs(3_600) }));
        assert_eq!(p.concurrency, Some(3));
        assert_eq!(Pacing::from_declared(None, 16), Pacing::default());
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_declared_budget_still_sends_one_request_a_second() {
        let p = Pacer::new(None, Duration::from_secs(300));
        let pacing = Pacing::from_declared(Some(&RequestBudget { requests: 0, window_seconds: 0, concurrency: None }), 16);
        assert_eq!(p.admit("a", &pacing).await.0, Duration::ZERO);
        let (waited, _) = p.admit("a", &pacing).await;
        assert!(waited >= Duration::from_secs(1) && waited < Duration::from_millis(1_100), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_host_budget_and_the_declared_one_both_hold() {
        let declared = Pacing { declared: Some(RateBudget { requests: 3, window: Duration::from_secs(10) }), concurrency: None };
        // The declared budget is the stricter one.
        let p = Pacer::new(Some(RateBudget::default()), Duration::from_secs(300));
        for _ in 0..3 {
            assert_eq!(p.admit("a", &declared).await.0, Duration::ZERO);
        }
        let (waited, _) = p.admit("a", &declared).await;
        assert!(waited >= Duration::from_secs(10) && waited < Duration::from_secs(11), "{waited:?}");
        // The host's budget is the stricter one: a generous declaration
        // does not lift it.
        let p = Pacer::new(Some(RateBudget { requests: 2, window: Duration::from_secs(20) }), Duration::from_secs(300));
        let generous = Pacing { declared: Some(RateBudget { requests: 1_000, window: Duration::from_secs(1) }), concurrency: None };
        for _ in 0..2 {
            assert_eq!(p.admit("a", &generous).await.0, Duration::ZERO);
        }
        let (waited, _) = p.admit("a", &generous).await;
        assert!(waited >= Duration::from_secs(20) && waited < Duration::from_secs(21), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_declared_concurrency_holds_requests_until_one_is_answered() {
        let p = std::sync::Arc::new(Pacer::new(None, Duration::from_secs(300)));
        let two = Pacing { declared: None, concurrency: Some(2) };
        let (_, first) = p.admit("a", &two).await;
        let (_, _second) = p.admit("a", &two).await;
        // Another host name has its own count.
        let _other = p.admit("b", &two).await;
        let third = {
            let p = p.clone();
            tokio::spawn(async move { p.admit("a", &two).await.0 })
        };
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!third.is_finished(), "a third request went while two were in flight");
        drop(first);
        let waited = tokio::time::timeout(Duration::from_secs(1), third).await.expect("admitted once one was answered").unwrap();
        assert!(waited >= Duration::from_secs(5), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_send_history_per_host_name_is_bounded() {
        // A host budget larger than any history the pacer keeps, over a day.
        let p = Pacer::new(Some(RateBudget { requests: u32::MAX, window: MAX_DECLARED_WINDOW }), Duration::from_secs(300));
        for _ in 0..MAX_KEPT + 10 {
            let _ = p.try_take("a", &Pacing::default());
        }
        assert_eq!(p.origins.lock().unwrap()["a"].sent.len(), MAX_KEPT);
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
                tokio::spawn(async move { drop(c.acquire(&p, "a", &Pacing::default()).await) })
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
        clock.acquire(&pacer, "a", &Pacing::default()).await;
        assert_eq!(clock.credit(), Duration::from_secs(50));
        // The next call starts from zero.
        clock.set_in_host(false);
        clock.start_call();
        assert_eq!(clock.credit(), Duration::ZERO);
    }
}
