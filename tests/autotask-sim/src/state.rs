//! The state every listener shares: options and data, faults, where the database lives, the
//! request budget's window, the per-endpoint thread slots and the request log.

use crate::options::{Faults, LoggedRequest, SimOptions};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// Everything mutable, behind one mutex.
pub struct Inner {
    pub opts: SimOptions,
    pub faults: Faults,
    /// The zone (index into `zone_bases`) holding the database now.
    pub database_zone: usize,
    /// `http://127.0.0.1:P` of each zone listener.
    pub zone_bases: Vec<String>,
    pub log: Vec<LoggedRequest>,
    /// Arrival times of the requests the budget counted (oldest first).
    pub arrivals: VecDeque<Instant>,
    /// Requests in progress per endpoint (lower-cased entity name).
    pub in_flight: HashMap<String, usize>,
    /// Tickets posted so far.
    pub tickets: Vec<crate::tickets::SimTicket>,
    /// Ticket notes posted so far.
    pub notes: Vec<crate::tickets::SimNote>,
}

/// Cheaply clonable handle on the shared state.
#[derive(Clone)]
pub struct Shared(Arc<Mutex<Inner>>);

impl Shared {
    pub fn new(opts: SimOptions, zone_bases: Vec<String>) -> Shared {
        let database_zone = opts.database_zone.min(zone_bases.len().saturating_sub(1));
        Shared(Arc::new(Mutex::new(Inner {
            opts,
            faults: Faults::default(),
            database_zone,
            zone_bases,
            log: Vec::new(),
            arrivals: VecDeque::new(),
            in_flight: HashMap::new(),
            tickets: Vec::new(),
            notes: Vec::new(),
        })))
    }

    /// Locks the state; a panic in another handler does not poison the simulator.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a request arriving now against the budget. `true`: over budget, refuse it (it
    /// is not counted). An injected `threshold_next` fault refuses too.
    pub fn over_budget(&self) -> bool {
        let now = Instant::now();
        let mut st = self.lock();
        if st.faults.threshold_next > 0 {
            st.faults.threshold_next -= 1;
            return true;
        }
        let Some(b) = st.opts.budget.clone() else { return false };
        while st.arrivals.front().is_some_and(|t| now.duration_since(*t) >= b.window) {
            st.arrivals.pop_front();
        }
        if st.arrivals.len() >= b.max_requests as usize {
            return true;
        }
        st.arrivals.push_back(now);
        false
    }

    /// Requests the budget counts in its current window.
    pub fn budget_used(&self) -> usize {
        let now = Instant::now();
        let mut st = self.lock();
        if let Some(b) = st.opts.budget.clone() {
            while st.arrivals.front().is_some_and(|t| now.duration_since(*t) >= b.window) {
                st.arrivals.pop_front();
            }
        }
        st.arrivals.len()
    }

    /// A company page was served: counts it towards [`crate::Faults::move_after_pages`] and,
    /// when that many were served, moves the database (once).
    pub fn company_page_served(&self) {
        let mut st = self.lock();
        let Some(m) = st.faults.move_after_pages else { return };
        if m.pages > 1 {
            st.faults.move_after_pages = Some(crate::MoveAfter { pages: m.pages - 1, ..m });
            return;
        }
        st.faults.move_after_pages = None;
        if m.to < st.zone_bases.len() {
            st.database_zone = m.to;
        }
    }

    /// Takes a thread slot of `endpoint`; `None` when the thread limit is reached.
    pub fn take_slot(&self, endpoint: &str) -> Option<Slot> {
        let mut st = self.lock();
        let limit = st.opts.thread_limit;
        let n = st.in_flight.entry(endpoint.to_string()).or_insert(0);
        if limit.is_some_and(|l| *n >= l) {
            return None;
        }
        *n += 1;
        Some(Slot { shared: self.clone(), endpoint: endpoint.to_string() })
    }
}

/// A thread slot held while a request is served; released on drop.
pub struct Slot {
    shared: Shared,
    endpoint: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        if let Some(n) = st.in_flight.get_mut(&self.endpoint) {
            *n = n.saturating_sub(1);
        }
    }
}
