//! `psa-soak`: many sessions, many at a time, against one HaloPSA simulator.
//!
//! Runs `--sessions` sessions (default 1,000), `--concurrency` at a time
//! (50), each a full import of `--customers` customers (500) through the
//! bundled HaloPSA connector, with one session in `--hostile-every` (10) run
//! by the hostile test connector instead, rotating through its `loop`,
//! `alloc`, `recurse`, `trap`, `outside` and `print-secret` modes. One host
//! (no pacing, a short call deadline, the default memory cap) serves them all.
//!
//! It prints throughput, p50/p99 import time, RSS at the start, after the
//! warm-up, at the end and at its peak, and each hostile mode's outcomes. It
//! exits non-zero on any unexpected outcome: a normal session that fails or
//! imports the wrong number of customers, a hostile session that does not
//! end the way the sandbox promises, or a secret in the log.
//!
//! ```text
//! cargo run --release -p psa-conformance --bin psa-soak -- --sessions 1000 --concurrency 50
//! ```

use clap::Parser;
use halo_sim::{sample_customers, HaloSim, SimOptions};
use psa_host::{ConnectionConfig, Connector, ConnectorError, Host, HostError, HostOptions, ImportOutcome, Limits};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

const HOSTILE: &[u8] = include_bytes!(env!("PSA_TEST_HOSTILE_WASM"));
/// The hostile connector's `secret` field, which `print-secret` prints.
const HOSTILE_SECRET: &str = "TOP-SECRET-soak-5e7c19a2";
const MODES: [&str; 6] = ["loop", "alloc", "recurse", "trap", "outside", "print-secret"];

/// Soak test of the PSA connector host against the HaloPSA simulator.
#[derive(Parser, Debug)]
#[command(name = "psa-soak")]
struct Args {
    /// Sessions to run in all.
    #[arg(long, default_value_t = 1000)]
    sessions: usize,
    /// Sessions running at once.
    #[arg(long, default_value_t = 50)]
    concurrency: usize,
    /// Customers the simulator holds (each normal session imports all of them).
    #[arg(long, default_value_t = 500)]
    customers: usize,
    /// Every Nth session is hostile (0: none).
    #[arg(long, default_value_t = 10)]
    hostile_every: usize,
    /// The host's per-call deadline, in seconds (stops the `loop` mode).
    #[arg(long, default_value_t = 5)]
    call_timeout: u64,
    /// Sessions completed before the "after warm-up" RSS reading.
    #[arg(long, default_value_t = 50)]
    warmup: usize,
    /// Tokio worker threads (default: one per CPU).
    #[arg(long)]
    workers: Option<usize>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let start_rss = Mem::read();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(w) = args.workers {
        rt.worker_threads(w.max(1));
    }
    let rt = rt.build().expect("tokio runtime");
    match rt.block_on(run(args, start_rss)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("psa-soak: {e}");
            ExitCode::from(2)
        }
    }
}

/// `VmRSS` and `VmHWM` from `/proc/self/status`, in KiB.
#[derive(Clone, Copy, Debug, Default)]
struct Mem {
    rss_kib: u64,
    hwm_kib: u64,
}

impl Mem {
    fn read() -> Mem {
        let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        Mem { rss_kib: field("VmRSS:"), hwm_kib: field("VmHWM:") }
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn signed_mib(from: u64, to: u64) -> String {
    format!("{:+.1} MiB", (to as f64 - from as f64) / 1024.0)
}

/// Every formatted log event passes through here: counted, and checked for
/// the secrets the sessions were given.
#[derive(Clone)]
struct LogScan {
    secrets: Arc<Vec<String>>,
    events: Arc<AtomicU64>,
    leaks: Arc<AtomicU64>,
    first_leak: Arc<Mutex<Option<String>>>,
}

struct ScanWriter {
    scan: LogScan,
    buf: Vec<u8>,
}

impl Write for ScanWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for ScanWriter {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        self.scan.events.fetch_add(1, Ordering::Relaxed);
        let line = String::from_utf8_lossy(&self.buf);
        if self.scan.secrets.iter().any(|s| line.contains(s.as_str())) {
            self.scan.leaks.fetch_add(1, Ordering::Relaxed);
            let mut shown = line.trim_end().to_string();
            for s in self.scan.secrets.iter() {
                shown = shown.replace(s.as_str(), "<SECRET>");
            }
            self.scan.first_leak.lock().unwrap().get_or_insert(shown);
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogScan {
    type Writer = ScanWriter;
    fn make_writer(&'a self) -> ScanWriter {
        ScanWriter { scan: self.clone(), buf: Vec::new() }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Normal,
    Hostile(&'static str),
}

struct Outcome {
    kind: Kind,
    expected: bool,
    /// What happened, in a word or two (`ok`, `DeadlineExceeded`, …).
    label: String,
    /// The full error or mismatch, for unexpected outcomes.
    detail: String,
    /// `import_all` alone (normal sessions that got that far).
    import: Option<Duration>,
    /// Open, import and close.
    total: Duration,
}

fn label(r: &Result<ImportOutcome, HostError>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => error_label(e),
    }
}

fn error_label(e: &HostError) -> String {
    match e {
        HostError::Connector { error, .. } => format!("Connector({})", error.kind()),
        HostError::Load { .. } => "Load".into(),
        HostError::UnsupportedContract { .. } => "UnsupportedContract".into(),
        HostError::DeadlineExceeded { .. } => "DeadlineExceeded".into(),
        HostError::MemoryExhausted { .. } => "MemoryExhausted".into(),
        HostError::Trap { message, .. } if message.contains("stack overflow") => "Trap(stack overflow)".into(),
        HostError::Trap { .. } => "Trap".into(),
        HostError::SessionClosed { .. } => "SessionClosed".into(),
        HostError::GaveUp { last, attempts, .. } => format!("GaveUp({}, {attempts} tries)", error_label(last)),
        HostError::Contract { .. } => "Contract".into(),
        _ => "other".into(),
    }
}

/// Whether a hostile session ended the way the sandbox promises.
fn hostile_expected(mode: &str, r: &Result<ImportOutcome, HostError>) -> bool {
    match (mode, r) {
        ("loop", Err(HostError::DeadlineExceeded { .. })) => true,
        ("alloc", Err(HostError::MemoryExhausted { .. })) => true,
        ("recurse", Err(HostError::Trap { message, .. })) => message.contains("stack overflow"),
        ("trap", Err(HostError::Trap { .. })) => true,
        // Refused by the sandbox and named. The hostile guest reports the
        // refusal at stage `connect`, which import_all retries (so it may
        // arrive as GaveUp wrapping the same error).
        ("outside", Err(e)) => matches!(
            e.connector_error(),
            Some(ConnectorError::Unreachable { message, .. })
                if message.contains("example.com") && message.contains("not in this connection's allowed hosts")
        ),
        // Not a failure: the guest prints its secret and returns one
        // customer; the host must keep the secret out of the log (checked
        // on every log event).
        ("print-secret", Ok(out)) => out.customers.len() == 1 && out.customers[0].name == "printed",
        _ => false,
    }
}

async fn session(c: &Connector, form: Vec<(String, String)>) -> (Result<ImportOutcome, HostError>, Option<Duration>) {
    let cfg = ConnectionConfig::from_pairs(form, c.info());
    let mut s = match c.open_session(&cfg).await {
        Ok(s) => s,
        Err(e) => return (Err(e), None),
    };
    let t = Instant::now();
    let r = s.import_all(|_| {}).await.map_err(|f| f.error);
    let import = t.elapsed();
    s.close().await;
    (r, Some(import))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

async fn run(args: Args, start: Mem) -> Result<bool, String> {
    let sim = HaloSim::start(SimOptions {
        customers: sample_customers(args.customers, 7),
        rate_limit: None,
        ..Default::default()
    })
    .await
    .map_err(|e| format!("the simulator did not start: {e}"))?;
    let sim = Arc::new(sim);
    let form = sim.connection_form();

    let scan = LogScan {
        secrets: Arc::new(vec![HOSTILE_SECRET.to_string(), sim.options().client_secret]),
        events: Arc::default(),
        leaks: Arc::default(),
        first_leak: Arc::default(),
    };
    {
        use tracing_subscriber::filter::{LevelFilter, Targets};
        use tracing_subscriber::prelude::*;
        tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(scan.clone())
                    .with_filter(Targets::new().with_default(LevelFilter::INFO)),
            )
            .init();
    }

    let mut limits = Limits::default();
    limits.call_timeout = Duration::from_secs(args.call_timeout);
    let memory_cap = limits.memory_bytes;
    let host = Host::new(HostOptions::default().allow_loopback(true).limits(limits).rate_budget(None).declared_budgets(false))
        .map_err(|e| e.to_string())?;
    let t = Instant::now();
    let halo = host.load("halopsa", psa_host::bundled::HALOPSA).await.map_err(|e| e.to_string())?;
    let halo_load = t.elapsed();
    let t = Instant::now();
    let hostile = host.load("hostile", HOSTILE).await.map_err(|e| e.to_string())?;
    let hostile_load = t.elapsed();
    let ready = Mem::read();

    let workers = args.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let n_hostile = if args.hostile_every == 0 { 0 } else { args.sessions / args.hostile_every };
    println!(
        "psa-soak: {} sessions ({} normal, {} hostile), {} at a time, {} customers each; \
         call timeout {} s, memory cap {} MiB, no pacing, {} tokio workers",
        args.sessions,
        args.sessions - n_hostile,
        n_hostile,
        args.concurrency,
        args.customers,
        args.call_timeout,
        memory_cap >> 20,
        workers
    );
    println!("loaded halopsa in {}, hostile in {}", secs(halo_load), secs(hostile_load));

    let sem = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let done = Arc::new(AtomicUsize::new(0));
    let checkpoints: Arc<Mutex<Vec<(usize, Mem)>>> = Arc::default();
    let tenth = (args.sessions / 10).max(1);
    let total_sessions = args.sessions;
    let warmup = args.warmup;
    let wall = Instant::now();
    let mut tasks = Vec::with_capacity(args.sessions);
    let mut hostile_seq = 0usize;
    for i in 0..args.sessions {
        let kind = if args.hostile_every > 0 && i % args.hostile_every == args.hostile_every - 1 {
            let m = MODES[hostile_seq % MODES.len()];
            hostile_seq += 1;
            Kind::Hostile(m)
        } else {
            Kind::Normal
        };
        let permit = sem.clone().acquire_owned().await.expect("semaphore");
        let (halo, hostile, sim, form) = (halo.clone(), hostile.clone(), sim.clone(), form.clone());
        let (done, checkpoints) = (done.clone(), checkpoints.clone());
        let want = args.customers;
        tasks.push((
            kind,
            tokio::spawn(async move {
                let _permit = permit;
                let t = Instant::now();
                let outcome = match kind {
                    Kind::Normal => {
                        let (r, import) = session(&halo, form).await;
                        let (expected, detail) = match &r {
                            Ok(out) if out.customers.len() == want => (true, String::new()),
                            Ok(out) => (false, format!("imported {} customers, want {want}", out.customers.len())),
                            Err(e) => (false, e.to_string()),
                        };
                        Outcome { kind, expected, label: label(&r), detail, import, total: t.elapsed() }
                    }
                    Kind::Hostile(mode) => {
                        let pairs = vec![
                            ("mode".to_string(), mode.to_string()),
                            ("target_url".to_string(), sim.resource_url()),
                            ("secret".to_string(), HOSTILE_SECRET.to_string()),
                        ];
                        let (r, _) = session(&hostile, pairs).await;
                        let expected = hostile_expected(mode, &r);
                        let detail = match &r {
                            Ok(out) => format!("succeeded with {} customer(s)", out.customers.len()),
                            Err(e) => e.to_string(),
                        };
                        Outcome { kind, expected, label: label(&r), detail, import: None, total: t.elapsed() }
                    }
                };
                // The simulator logs every request; keep that log from
                // counting as the host's memory.
                sim.clear_requests();
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if n == warmup || n % tenth == 0 || n == total_sessions {
                    checkpoints.lock().unwrap().push((n, Mem::read()));
                    if n % tenth == 0 {
                        eprintln!("  {n}/{total_sessions} sessions done, {:.0} s", wall.elapsed().as_secs_f64());
                    }
                }
                outcome
            }),
        ));
    }
    let mut outcomes = Vec::with_capacity(tasks.len());
    let mut panics = 0usize;
    for (kind, task) in tasks {
        match task.await {
            Ok(o) => outcomes.push(o),
            Err(e) => {
                panics += 1;
                outcomes.push(Outcome {
                    kind,
                    expected: false,
                    label: "panic".into(),
                    detail: e.to_string(),
                    import: None,
                    total: Duration::ZERO,
                });
            }
        }
    }
    let wall = wall.elapsed();
    let end = Mem::read();
    drop((halo, hostile, host));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after_drop = Mem::read();

    // Normal sessions.
    let normal: Vec<&Outcome> = outcomes.iter().filter(|o| o.kind == Kind::Normal).collect();
    let normal_ok = normal.iter().filter(|o| o.expected).count();
    let mut imports: Vec<Duration> =
        normal.iter().filter(|o| o.expected).filter_map(|o| o.import).collect();
    imports.sort();
    let mut totals: Vec<Duration> = normal.iter().filter(|o| o.expected).map(|o| o.total).collect();
    totals.sort();
    let checkpoints = {
        let mut c = checkpoints.lock().unwrap().clone();
        c.sort_by_key(|(n, _)| *n);
        c
    };
    let warm = checkpoints.iter().find(|(n, _)| *n == warmup.min(total_sessions)).map(|(_, m)| *m).unwrap_or(ready);

    println!();
    println!("{:<28} {}", "wall time", secs(wall));
    println!("{:<28} {normal_ok} of {} ok", "normal imports", normal.len());
    println!(
        "{:<28} {:.2} /s  ({:.0} customers/s)",
        "throughput",
        normal_ok as f64 / wall.as_secs_f64(),
        (normal_ok * args.customers) as f64 / wall.as_secs_f64()
    );
    println!(
        "{:<28} p50 {}  p99 {}  max {}",
        "import time",
        secs(percentile(&imports, 50.0)),
        secs(percentile(&imports, 99.0)),
        secs(imports.last().copied().unwrap_or_default())
    );
    println!(
        "{:<28} p50 {}  p99 {}",
        "session time (open..close)",
        secs(percentile(&totals, 50.0)),
        secs(percentile(&totals, 99.0))
    );
    println!("{:<28} {}", "RSS at start", mib(start.rss_kib));
    println!("{:<28} {}  (simulator up, both connectors compiled)", "RSS ready", mib(ready.rss_kib));
    println!("{:<28} {}  (first {} sessions)", "RSS after warm-up", mib(warm.rss_kib), warmup.min(total_sessions));
    println!(
        "{:<28} {}  ({} vs warm-up, {} vs ready, {} vs start)",
        "RSS at end",
        mib(end.rss_kib),
        signed_mib(warm.rss_kib, end.rss_kib),
        signed_mib(ready.rss_kib, end.rss_kib),
        signed_mib(start.rss_kib, end.rss_kib)
    );
    println!("{:<28} {}", "RSS after dropping the host", mib(after_drop.rss_kib));
    println!("{:<28} {}", "peak RSS (VmHWM)", mib(end.hwm_kib));
    let curve: Vec<String> = checkpoints.iter().map(|(n, m)| format!("{n}:{:.0}", m.rss_kib as f64 / 1024.0)).collect();
    println!("{:<28} {}", "RSS MiB by sessions done", curve.join(" "));

    println!();
    println!("{:<14} {:>5} {:>9}  {:<10} outcomes", "hostile mode", "runs", "expected", "mean time");
    let mut by_mode: BTreeMap<&str, Vec<&Outcome>> = BTreeMap::new();
    for o in &outcomes {
        if let Kind::Hostile(m) = o.kind {
            by_mode.entry(m).or_default().push(o);
        }
    }
    for m in MODES {
        let Some(os) = by_mode.get(m) else { continue };
        let mut labels: BTreeMap<&str, usize> = BTreeMap::new();
        for o in os {
            *labels.entry(o.label.as_str()).or_default() += 1;
        }
        let labels: Vec<String> = labels.iter().map(|(l, n)| format!("{l} x{n}")).collect();
        let mean = os.iter().map(|o| o.total).sum::<Duration>() / os.len() as u32;
        println!(
            "{:<14} {:>5} {:>9}  {:<10} {}",
            m,
            os.len(),
            os.iter().filter(|o| o.expected).count(),
            format!("{:.2} s", mean.as_secs_f64()),
            labels.join(", ")
        );
    }

    let leaks = scan.leaks.load(Ordering::Relaxed);
    println!();
    println!("log events (INFO+): {}, containing a secret: {leaks}", scan.events.load(Ordering::Relaxed));
    if let Some(l) = scan.first_leak.lock().unwrap().as_ref() {
        println!("  first leak: {l}");
    }
    let unexpected: Vec<&Outcome> = outcomes.iter().filter(|o| !o.expected).collect();
    println!("unexpected outcomes: {} (panics: {panics})", unexpected.len());
    for o in unexpected.iter().take(10) {
        println!("  {:?}: {} — {}", o.kind, o.label, o.detail);
    }
    Ok(unexpected.is_empty() && leaks == 0)
}
