//! `psa-bench`: what the sandbox costs, against a native client as the floor.
//!
//! In one process, interleaved run by run:
//! - **sandboxed**: a full import of `--customers` customers (1,000-row
//!   pages, or `--page-cap` rows when the simulator caps them)
//!   through the bundled HaloPSA connector in the host's sandbox;
//! - **native**: the same connector code (`halopsa_connector::session`,
//!   the same requests and JSON parsing) compiled natively into this
//!   process, over a plain hyper HTTP/1.1 client (a connection per request,
//!   as the host's transport makes), with no WebAssembly and no sandbox.
//!
//! The simulator runs in a child process (this binary, `--serve-sim`), so
//! its memory is not counted. Then: cold start (host creation, load from the
//! compiled cache, first session, first page), warm session open, and
//! `--concurrent` sessions importing `--concurrent-customers` each at once.
//!
//! ```text
//! cargo run --release -p psa-conformance --bin psa-bench
//! ```

use clap::Parser;
use halo_sim::{sample_customers, HaloSim, SimOptions};
use halopsa_connector::http as guest_http;
use psa_host::{ConnectionConfig, Connector, Host, HostOptions, Limits};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Benchmark of the PSA connector sandbox against a native client.
#[derive(Parser, Debug)]
#[command(name = "psa-bench")]
struct Args {
    /// Customers in the main import.
    #[arg(long, default_value_t = 10_000)]
    customers: usize,
    /// Interleaved runs of each variant.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Sessions importing at once in the concurrency figure (0: skip).
    #[arg(long, default_value_t = 100)]
    concurrent: usize,
    /// Customers each concurrent session imports.
    #[arg(long, default_value_t = 1_000)]
    concurrent_customers: usize,
    /// Session opens timed for the warm figure.
    #[arg(long, default_value_t = 1_000)]
    opens: usize,
    /// Benchmark this component instead of the bundled connector (for
    /// example a build that keeps its name section, to profile).
    #[arg(long)]
    plugin: Option<std::path::PathBuf>,
    /// Write a perf map (`/tmp/perf-<pid>.map`) so that
    /// `perf record -g target/release/psa-bench --perf-map` names the
    /// connector's functions.
    #[arg(long)]
    perf_map: bool,
    /// Most rows the simulator serves a page (0: no cap; the connector asks
    /// for 1,000).
    #[arg(long, default_value_t = 0)]
    page_cap: usize,
    /// Internal: serve a simulator with this many customers on stdin/stdout.
    #[arg(long, hide = true)]
    serve_sim: Option<usize>,
    /// Internal: one import (`sandboxed` or `native`) in this fresh
    /// process, the form as JSON on stdin, the compiled cache in
    /// `--probe-cache`; prints the customers imported and the peak RSS.
    #[arg(long, hide = true)]
    import_once: Option<String>,
    #[arg(long, hide = true)]
    probe_cache: Option<std::path::PathBuf>,
}

fn main() {
    let args = Args::parse();
    if let Some(n) = args.serve_sim {
        serve_sim(n, args.page_cap);
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    if let Some(variant) = args.import_once.clone() {
        rt.block_on(import_once(&variant, &args));
        return;
    }
    rt.block_on(bench(args));
}

/// The child of [`fresh_process_rss`]: a host, the connector from the cache
/// (or nothing but the native client), one import, the peak RSS.
async fn import_once(variant: &str, args: &Args) {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).expect("the form on stdin");
    let form: Vec<(String, String)> = serde_json::from_str(&line).expect("the form is JSON");
    let cache = args.probe_cache.as_deref().expect("--probe-cache");
    let host = Host::new(host_options(cache, false)).expect("host");
    let n = match variant {
        "sandboxed" => {
            let wasm = component(args);
            let c = host.load("halopsa", &wasm).await.expect("loads");
            assert_eq!(c.compiled_from(), psa_host::CompiledFrom::Cache, "the probe must load from the cache");
            sandboxed_import(&c, form).await
        }
        "native" => native_import(form, Arc::new(AtomicU64::new(0))).await,
        other => panic!("unknown variant {other}"),
    };
    println!("{n} {:.1}", rss_mib().1);
}

/// The component benched: `--plugin`, else the bundled connector.
fn component(args: &Args) -> Vec<u8> {
    match &args.plugin {
        Some(path) => std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display())),
        None => psa_host::bundled::HALOPSA.to_vec(),
    }
}

/// Peak RSS of a fresh process that imports once (`variant`): host, connector
/// mapped from the cache, the import and nothing else.
fn fresh_process_rss(variant: &str, form: &[(String, String)], cache: &std::path::Path, plugin: Option<&std::path::Path>) -> (usize, f64) {
    let mut cmd = Command::new(std::env::current_exe().expect("own path"));
    cmd.args(["--import-once", variant, "--probe-cache"]).arg(cache);
    if let Some(p) = plugin {
        cmd.arg("--plugin").arg(p);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the probe process");
    writeln!(child.stdin.take().unwrap(), "{}", serde_json::to_string(form).unwrap()).unwrap();
    let out = child.wait_with_output().expect("the probe ends");
    assert!(out.status.success(), "the {variant} probe failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    let n = parts.next().and_then(|p| p.parse().ok()).expect("customers");
    let rss = parts.next().and_then(|p| p.parse().ok()).expect("peak RSS");
    (n, rss)
}

// ---------------------------------------------------------------- simulator

/// The child: starts a simulator, prints its connection form as one JSON
/// line, then answers `count` with the number of requests since the last
/// `count`, until stdin closes.
fn serve_sim(customers: usize, page_cap: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let sim = rt.block_on(async {
        let page_cap = if page_cap == 0 { usize::MAX } else { page_cap };
        HaloSim::start(SimOptions { customers: sample_customers(customers, 7), page_cap, ..SimOptions::default() })
            .await
            .expect("simulator starts")
    });
    println!("{}", serde_json::to_string(&sim.connection_form()).unwrap());
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim() == "count" {
            let n = sim.requests().len();
            sim.clear_requests();
            println!("{n}");
        }
    }
}

struct SimProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    form: Vec<(String, String)>,
}

impl SimProcess {
    fn start(customers: usize, page_cap: usize) -> SimProcess {
        let mut child = Command::new(std::env::current_exe().expect("own path"))
            .args(["--serve-sim", &customers.to_string(), "--page-cap", &page_cap.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the simulator process");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).expect("simulator's form");
        let form = serde_json::from_str(&line).expect("simulator's form is JSON");
        SimProcess { child, stdin, stdout, form }
    }

    /// Requests the simulator answered since the last call.
    fn requests(&mut self) -> usize {
        writeln!(self.stdin, "count").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line.trim().parse().unwrap()
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- memory

/// Resets the kernel's peak-RSS mark of this process (Linux).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// (current, peak) resident set in MiB.
fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

// ---------------------------------------------------------------- native floor

/// The connector's `Transport` over a plain hyper HTTP/1.1 client, without
/// the sandbox: the floor a hand-written native client would reach. Like
/// the host's own transport, it opens a connection per request (with
/// `TCP_NODELAY`) and speaks HTTP/1.1 through hyper; it leaves out what
/// only the sandbox needs (allow-list, address checks, timeouts, caps).
/// The simulator is plain http on loopback, so there is no TLS in either.
struct NativeNet {
    rt: tokio::runtime::Handle,
    bytes: Arc<AtomicU64>,
}

/// One request on a fresh connection: status, headers, body.
async fn native_send(
    method: http::Method,
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Result<(u16, Vec<(String, String)>, Vec<u8>), String> {
    use http_body_util::BodyExt;
    let uri: http::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("{url}: the native floor speaks plain http to the simulator only"));
    }
    let host = uri.host().ok_or_else(|| format!("{url}: no host"))?;
    let port = uri.port_u16().unwrap_or(80);
    let tcp = tokio::net::TcpStream::connect((host.trim_start_matches('[').trim_end_matches(']'), port))
        .await
        .map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let authority = uri.authority().map(|a| a.as_str().to_string()).unwrap_or_default();
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut b = http::Request::builder().method(method).uri(path).header(http::header::HOST, authority);
    for (k, v) in headers {
        b = b.header(k, v);
    }
    let request = b.body(http_body_util::Full::new(bytes::Bytes::from(body))).map_err(|e| e.to_string())?;
    let resp = sender.send_request(request).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes().to_vec();
    Ok((status, headers, body))
}

impl guest_http::Transport for NativeNet {
    fn send(&mut self, req: &guest_http::Request) -> Result<guest_http::Response, guest_http::HttpError> {
        let method = match req.method {
            guest_http::Method::Get => http::Method::GET,
            guest_http::Method::Post => http::Method::POST,
            guest_http::Method::Put => http::Method::PUT,
            guest_http::Method::Patch => http::Method::PATCH,
        };
        let (url, headers, body) = (req.url.clone(), req.headers.clone(), req.body.clone().unwrap_or_default());
        let (status, headers, body) = self
            .rt
            .block_on(async move { native_send(method, &url, &headers, body).await })
            .map_err(|m| guest_http::HttpError::new(req, guest_http::Phase::Request, guest_http::ErrorKind::Other(m)))?;
        self.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
        Ok(guest_http::Response { status, headers, body })
    }
}

/// A full import by the native client; returns customers imported.
async fn native_import(form: Vec<(String, String)>, bytes: Arc<AtomicU64>) -> usize {
    let rt = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let cfg = halopsa_connector::config::parse(&form).expect("the form is valid");
        let mut state = halopsa_connector::session::State::new(cfg);
        let mut net = NativeNet { rt, bytes };
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = state.list_customers(&mut net, cursor.as_deref()).unwrap_or_else(|_| panic!("native import failed"));
            all.extend(page.customers);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        all.len()
    })
    .await
    .unwrap()
}

async fn sandboxed_import(c: &Connector, form: Vec<(String, String)>) -> usize {
    let cfg = ConnectionConfig::from_pairs(form, c.info());
    let mut s = c.open_session(&cfg).await.expect("session opens");
    let out = s.import_all(|_| {}).await.unwrap_or_else(|f| panic!("sandboxed import failed: {}", f.error));
    s.close().await;
    out.customers.len()
}

// ---------------------------------------------------------------- statistics

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> String {
    format!("{:.0} us", d.as_secs_f64() * 1e6)
}

fn spread(v: &[Duration]) -> String {
    let min = v.iter().min().copied().unwrap_or_default();
    let max = v.iter().max().copied().unwrap_or_default();
    format!("{}..{}", ms(min), ms(max))
}

// ---------------------------------------------------------------- the bench

fn host_options(cache: &std::path::Path, perf_map: bool) -> HostOptions {
    let mut limits = Limits::default();
    limits.call_timeout = Duration::from_secs(300);
    // No pacing: the simulator has no rate limit, and the floor has none.
    HostOptions::default().allow_loopback(true).rate_budget(None).declared_budgets(false).limits(limits).cache_dir(Some(cache.to_path_buf())).perf_map(perf_map)
}

/// Rows a page holds: what the connector asks for, or the simulator's cap.
fn page_rows(args: &Args) -> usize {
    let asked = halopsa_connector::pagination::PAGE_SIZE as usize;
    if args.page_cap == 0 { asked } else { args.page_cap.min(asked) }
}

async fn bench(args: Args) {
    let cache_tmp = tempfile::tempdir().expect("temporary cache directory");
    // Inside the temporary directory, so the cache's key file (`<dir>.key`,
    // beside it) goes with it.
    let cache = cache_tmp.path().join("compiled");
    let wasm = component(&args);
    let wasm = wasm.as_slice();
    let which = args.plugin.as_ref().map_or("halopsa_connector.wasm, bundled".to_string(), |p| p.display().to_string());
    println!("psa-bench: {} customers, {}-row pages, {} interleaved runs", args.customers, page_rows(&args), args.runs);
    println!("machine: {} CPUs; {}", std::thread::available_parallelism().map_or(0, |n| n.get()), cpu_model());
    println!("component: {} bytes ({which})", wasm.len());

    // Compile once (fills the cache).
    let t = Instant::now();
    let host = Host::new(host_options(&cache, args.perf_map)).expect("host");
    let connector = host.load("halopsa", wasm).await.expect("the connector loads");
    println!("first load, compiling into the cache: {}", ms(t.elapsed()));

    let mut sim = SimProcess::start(args.customers, args.page_cap);

    // Cold start from the cache: a new host each time.
    let (mut host_new, mut load, mut open, mut first) = (vec![], vec![], vec![], vec![]);
    for _ in 0..10 {
        let t = Instant::now();
        let h = Host::new(host_options(&cache, args.perf_map)).expect("host");
        host_new.push(t.elapsed());
        let t = Instant::now();
        let c = h.load("halopsa", wasm).await.expect("loads from the cache");
        load.push(t.elapsed());
        assert_eq!(c.compiled_from(), psa_host::CompiledFrom::Cache);
        let cfg = ConnectionConfig::from_pairs(sim.form.clone(), c.info());
        let t = Instant::now();
        let mut s = c.open_session(&cfg).await.expect("session");
        open.push(t.elapsed());
        let t = Instant::now();
        s.list_customers(None).await.expect("first page");
        first.push(t.elapsed());
        s.close().await;
    }
    sim.requests();
    println!();
    println!("cold start (median of 10, each on a new host):");
    println!("  Host::new (engine, pool, linker)      {}", ms(median(&mut host_new)));
    println!("  load from cache (MAC + info() call)   {}", ms(median(&mut load)));
    println!("  first session open                    {}", us(median(&mut open)));
    println!("  first page (token + {} customers)   {}", page_rows(&args).min(args.customers), ms(median(&mut first)));

    // Warm session open.
    let cfg = ConnectionConfig::from_pairs(sim.form.clone(), connector.info());
    let (mut opens, mut closes) = (Vec::with_capacity(args.opens), Vec::with_capacity(args.opens));
    for _ in 0..args.opens {
        let t = Instant::now();
        let s = connector.open_session(&cfg).await.expect("session");
        opens.push(t.elapsed());
        let t = Instant::now();
        s.close().await;
        closes.push(t.elapsed());
    }
    let mut sorted = opens.clone();
    sorted.sort();
    println!(
        "warm session open ({}): median {}, p99 {}; close: median {}",
        args.opens,
        us(median(&mut opens)),
        us(sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)]),
        us(median(&mut closes))
    );

    // Interleaved imports.
    let (mut sandboxed, mut native) = (vec![], vec![]);
    let (mut sandboxed_rss, mut native_rss) = (0f64, 0f64);
    // Resident before each import (the process: engine, compiled code, the
    // heap the first compile left), so the import's own growth shows too.
    let (mut sandboxed_before, mut native_before) = (0f64, 0f64);
    let (mut sandboxed_req, mut native_req) = (0usize, 0usize);
    let bytes = Arc::new(AtomicU64::new(0));
    for run in 0..args.runs {
        for variant in if run % 2 == 0 { [0, 1] } else { [1, 0] } {
            reset_peak_rss();
            let before = rss_mib().0;
            let t = Instant::now();
            let n = if variant == 0 {
                sandboxed_import(&connector, sim.form.clone()).await
            } else {
                bytes.store(0, Ordering::Relaxed);
                native_import(sim.form.clone(), bytes.clone()).await
            };
            let took = t.elapsed();
            let peak = rss_mib().1;
            let requests = sim.requests();
            assert_eq!(n, args.customers, "an import returned {n} customers");
            if variant == 0 {
                sandboxed.push(took);
                if peak > sandboxed_rss {
                    (sandboxed_rss, sandboxed_before) = (peak, before);
                }
                sandboxed_req = requests;
            } else {
                native.push(took);
                if peak > native_rss {
                    (native_rss, native_before) = (peak, before);
                }
                native_req = requests;
            }
        }
    }
    let (sm, nm) = (median(&mut sandboxed.clone()), median(&mut native.clone()));
    println!();
    println!("full import of {} customers ({} runs each, interleaved):", args.customers, args.runs);
    println!("  variant     median     spread (min..max)      requests  peak RSS (before the import)");
    let rss = |peak: f64, before: f64| format!("{peak:.1} MiB ({before:.1} MiB, +{:.1})", peak - before);
    println!("  sandboxed   {:<10} {:<22} {:<9} {}", ms(sm), spread(&sandboxed), sandboxed_req, rss(sandboxed_rss, sandboxed_before));
    println!("  native      {:<10} {:<22} {:<9} {}", ms(nm), spread(&native), native_req, rss(native_rss, native_before));
    println!(
        "  ratio sandboxed/native: {:.3}; response bytes per import: {} ({:.1} MiB)",
        sm.as_secs_f64() / nm.as_secs_f64(),
        bytes.load(Ordering::Relaxed),
        bytes.load(Ordering::Relaxed) as f64 / (1 << 20) as f64
    );
    println!(
        "  minimum requests: 1 token + {} pages = {}",
        args.customers.div_ceil(page_rows(&args)),
        1 + args.customers.div_ceil(page_rows(&args))
    );
    // This process also holds the first compile's heap, the simulator
    // client and the earlier phases: a fresh process shows the import alone.
    let (sn, srss) = fresh_process_rss("sandboxed", &sim.form, &cache, args.plugin.as_deref());
    let (nn, nrss) = fresh_process_rss("native", &sim.form, &cache, None);
    assert_eq!((sn, nn), (args.customers, args.customers));
    sim.requests();
    println!("  peak RSS of a fresh process that loads the connector from the cache and imports them once:");
    println!("    sandboxed {srss:.1} MiB, native {nrss:.1} MiB");
    drop(sim);

    if args.concurrent > 0 {
        let mut small = SimProcess::start(args.concurrent_customers, args.page_cap);
        let form = small.form.clone();
        let mut single = vec![];
        for _ in 0..3 {
            let t = Instant::now();
            sandboxed_import(&connector, form.clone()).await;
            single.push(t.elapsed());
        }
        let one = median(&mut single);
        small.requests();
        reset_peak_rss();
        let t = Instant::now();
        let tasks: Vec<_> = (0..args.concurrent)
            .map(|_| {
                let c = connector.clone();
                let f = form.clone();
                tokio::spawn(async move { sandboxed_import(&c, f).await })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), args.concurrent_customers);
        }
        let total = t.elapsed();
        let peak = rss_mib().1;
        let requests = small.requests();
        println!();
        println!("{} sessions at once, {} customers each:", args.concurrent, args.concurrent_customers);
        println!(
            "  total {}; one session alone {} x {} = {}; ratio {:.2}; {} requests; peak RSS {:.1} MiB",
            ms(total),
            ms(one),
            args.concurrent,
            ms(one * args.concurrent as u32),
            total.as_secs_f64() / (one.as_secs_f64() * args.concurrent as f64),
            requests,
            peak
        );
    }
    let (now, _) = rss_mib();
    println!();
    println!("RSS at the end: {now:.1} MiB");
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string()))
        .unwrap_or_else(|| "unknown CPU".into())
}
