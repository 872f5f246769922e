//! The import's progress on stderr.
//!
//! On a terminal: an `indicatif` bar with the count of the total, the rate
//! and the time left; while the host waits before retrying a page, the
//! wait with its reason, its end time and a countdown. Anywhere else (a
//! pipe, a log file): one plain line per page or wait, with no ANSI
//! sequences and no carriage returns.
//!
//! A wait's reason can quote the connector or the PSA (an endpoint, a host
//! name): it is printed through [`t`], like all their text.

use indicatif::{HumanDuration, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use psa_host::escape::for_terminal as t;
use psa_host::{Progress, Waiting};
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// The bar on the terminal while an import runs, so that log lines are
/// printed above it ([`write_stderr`]) instead of through it.
static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// The progress of one import.
pub struct ImportProgress {
    /// Counts customers: its position, length, rate and ETA are what both
    /// forms show. Hidden off a terminal.
    bar: ProgressBar,
    terminal: bool,
}

impl ImportProgress {
    /// A bar on stderr when it is a terminal, else plain lines.
    pub fn start() -> Self {
        Self::new(std::io::stderr().is_terminal())
    }

    fn new(terminal: bool) -> Self {
        let target = if terminal { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(counting_style(false));
        bar.set_message("asking for the first page");
        if terminal {
            bar.enable_steady_tick(Duration::from_millis(200));
            if let Ok(mut active) = ACTIVE.lock() {
                *active = Some(bar.clone());
            }
        }
        ImportProgress { bar, terminal }
    }

    /// Shows one report from `Session::import_all`.
    pub fn update(&self, p: &Progress) {
        if let Some(total) = p.total {
            // A total the PSA gives can be smaller than what came (rows
            // added meanwhile): the bar never runs past its end.
            self.bar.set_length(total.max(p.fetched));
        }
        self.bar.set_position(p.fetched);
        if self.terminal {
            match &p.waiting {
                None => {
                    self.bar.set_style(counting_style(self.bar.length().is_some()));
                    self.bar.set_message(format!("page {}", p.pages));
                }
                Some(w) => {
                    self.bar.set_style(waiting_style(w));
                    let why = reason(w);
                    self.bar.set_message(if w.rate_limit { why.into_owned() } else { format!("a retry after {why}") });
                }
            }
        } else {
            let line = plain_line(p, self.bar.per_sec(), self.bar.length().map(|_| self.bar.eta()));
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }

    /// Ends the bar: it stays on the terminal with its final count.
    pub fn finish(self) {
        self.stop();
        if self.terminal {
            self.bar.finish();
        }
    }

    fn stop(&self) {
        if let Ok(mut active) = ACTIVE.lock() {
            *active = None;
        }
    }
}

impl Drop for ImportProgress {
    fn drop(&mut self) {
        self.stop();
        if self.terminal && !self.bar.is_finished() {
            self.bar.abandon();
        }
    }
}

/// Writes to stderr, above the progress bar when one is drawn.
pub fn write_stderr(bytes: &[u8]) {
    let bar = ACTIVE.lock().ok().and_then(|a| a.clone());
    let write = || {
        let _ = std::io::stderr().lock().write_all(bytes);
    };
    match bar {
        Some(bar) => bar.suspend(write),
        None => write(),
    }
}

fn rate(state: &ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = write!(w, "{:.0}/s", state.per_sec());
}

/// The bar while pages come in: with the PSA's total, a bar with the count
/// of the total, the rate and the ETA; without one, the count and the rate.
fn counting_style(known_total: bool) -> ProgressStyle {
    // The message (the page) is cut to the terminal's width; the figures are not.
    let template = if known_total {
        "{spinner} [{bar:24}] {human_pos}/{human_len} customers, {rate}, ETA {eta}, {wide_msg}"
    } else {
        "{spinner} importing: {human_pos} customers, {rate}, {wide_msg}"
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .with_key("rate", rate)
        .progress_chars("=> ")
}

/// The bar while the host waits before a retry: its end time and the
/// seconds left, then its reason (the message, cut to the terminal's width).
fn waiting_style(w: &Waiting) -> ProgressStyle {
    let until = w.until;
    let template = format!("{{spinner}} {{human_pos}} customers; waiting until {} UTC ({{left}} s) for {{wide_msg}}", utc_clock(until));
    ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .with_key("left", move |_: &ProgressState, out: &mut dyn std::fmt::Write| {
            let _ = write!(out, "{}", secs_until(until));
        })
}

/// Whole seconds until `until`, rounded up (a wait of 0.4 s is "1 s").
fn secs_until(until: SystemTime) -> u64 {
    let left = until.duration_since(SystemTime::now()).unwrap_or_default();
    left.as_secs().saturating_add(u64::from(left.subsec_nanos() > 0))
}

/// Why the host waits: the retry's reason, which can quote the connector
/// (an endpoint) or the PSA, escaped.
fn reason(w: &Waiting) -> std::borrow::Cow<'_, str> {
    t(&w.reason)
}

/// A wait, for people: why, until when (UTC) and which retry follows.
fn wait_text(w: &Waiting) -> String {
    let why = reason(w);
    let when = utc_clock(w.until);
    if w.rate_limit {
        format!("waiting for {why} until {when} UTC, retry {}", w.attempt)
    } else {
        format!("retrying after {why} at {when} UTC, retry {}", w.attempt)
    }
}

/// One progress report as a plain line (no ANSI, no carriage return):
/// `rate` in customers per second, `eta` when the total is known.
pub fn plain_line(p: &Progress, rate: f64, eta: Option<Duration>) -> String {
    match &p.waiting {
        Some(w) => format!(
            "importing: {} customers so far; {} (in {} s)",
            p.fetched,
            wait_text(w),
            secs_until(w.until)
        ),
        None => {
            let mut line = format!("importing: page {}, {} customers", p.pages, p.fetched);
            if let Some(total) = p.total {
                let _ = write!(line, " of {total}");
            }
            if rate.is_finite() && rate > 0.0 {
                let _ = write!(line, ", {rate:.0}/s");
                if let Some(eta) = eta {
                    let _ = write!(line, ", ETA {:#}", HumanDuration(eta));
                }
            }
            line
        }
    }
}

/// `HH:MM:SS` of a time, in UTC.
fn utc_clock(t: SystemTime) -> String {
    let s = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs() % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}
