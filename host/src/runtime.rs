//! Loading connectors and running their sessions.
//!
//! A [`Host`] owns the wasmtime engine (with epoch interruption and a ticker
//! thread) and the linker (WASI 0.2 without sockets, plus `wasi:http` through
//! the sandbox's hooks). A [`Connector`] is a compiled, pre-linked component
//! whose self-description has been read and checked; it is cheap to clone
//! and opens any number of [`Session`]s, each in its own store, so a session
//! that traps, loops or exhausts its memory is closed without touching the
//! others.

use crate::allowed_hosts::{AllowedHosts, Origin};
use crate::bindings::v0_1_0::{wit, PsaConnector, PsaConnectorPre};
use crate::bindings::SUPPORTED_CONTRACTS;
use crate::cache::{CompiledCache, CompiledFrom};
use crate::config::ConnectionConfig;
use crate::egress::DnsOverrides;
use crate::ctx::SessionState;
use crate::hooks::{Denials, SandboxHooks};
use crate::outbound::{tls_config, Transport};
use crate::pacing::{Pacer, PacingClock, RateBudget};
use crate::retry::RetryPolicy;
use crate::types::{self, CheckStep, ConnectorInfo, CustomerPage, NewTicket};
use crate::{HostError, Limits};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{Component, Linker, ResourceAny};
use wasmtime::{Engine, Store, Trap};

/// How a [`Host`] runs connectors.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HostOptions {
    /// Sandbox limits.
    pub limits: Limits,
    /// Permit the loopback addresses `127.0.0.1` and `::1` (over http or
    /// https) for tests and local simulators; the rest of `127.0.0.0/8`,
    /// private, link-local and other internal addresses stay refused.
    pub allow_loopback: bool,
    /// Extra trusted root certificates (DER), for PSAs behind a private CA.
    pub extra_roots: Vec<Vec<u8>>,
    /// Requests per rolling window and PSA instance, shared by all sessions;
    /// `None` does not pace.
    pub rate_budget: Option<RateBudget>,
    /// How failed calls are retried during an import.
    pub retry: RetryPolicy,
    /// Fixed addresses for host names, consulted before DNS; the egress
    /// check applies to them as to any resolved address.
    pub dns_overrides: DnsOverrides,
    /// Where compiled connectors are cached ([`crate::cache`]); `None`
    /// compiles on every load. Defaults to [`crate::cache::default_dir`].
    /// [`Host::new`] refuses a directory that another user owns or may write.
    pub cache_dir: Option<std::path::PathBuf>,
    /// The key file that authenticates the cache's entries (32 random bytes,
    /// mode `0600`, made on first use, outside the cache directory); `None`:
    /// [`crate::cache::default_key_file`], `<cache_dir>.key` beside it.
    pub cache_key_file: Option<std::path::PathBuf>,
    /// Preallocate instance slots (wasmtime's pooling allocator, sized by
    /// [`Limits`]) so opening a session costs microseconds. On by default.
    /// A slot keeps what its sessions touched of their first 2 MiB of
    /// memory resident between sessions (no page faults on the next open),
    /// so the process holds up to that much per session it ran at once.
    pub pooling: bool,
    /// Write `/tmp/perf-<pid>.map` naming the compiled connector code, so
    /// `perf record`/`perf report` can attribute samples inside a
    /// connector (wasmtime's perf-map profiler). Off by default; for
    /// profiling only (a connector built without its name section shows as
    /// numbered functions).
    pub perf_map: bool,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            limits: Limits::default(),
            allow_loopback: false,
            extra_roots: Vec::new(),
            rate_budget: Some(RateBudget::default()),
            retry: RetryPolicy::default(),
            dns_overrides: DnsOverrides::default(),
            cache_dir: crate::cache::default_dir(),
            cache_key_file: None,
            pooling: true,
            perf_map: false,
        }
    }
}

impl HostOptions {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn allow_loopback(mut self, yes: bool) -> Self {
        self.allow_loopback = yes;
        self
    }
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    pub fn rate_budget(mut self, budget: Option<RateBudget>) -> Self {
        self.rate_budget = budget;
        self
    }
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }
    pub fn dns_overrides(mut self, overrides: DnsOverrides) -> Self {
        self.dns_overrides = overrides;
        self
    }
    pub fn cache_dir(mut self, dir: Option<std::path::PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }
    pub fn cache_key_file(mut self, path: Option<std::path::PathBuf>) -> Self {
        self.cache_key_file = path;
        self
    }
    pub fn pooling(mut self, yes: bool) -> Self {
        self.pooling = yes;
        self
    }
    pub fn perf_map(mut self, yes: bool) -> Self {
        self.perf_map = yes;
        self
    }
}

struct HostInner {
    engine: Engine,
    cache: Option<CompiledCache>,
    linker: Linker<SessionState>,
    options: HostOptions,
    tls: Arc<rustls::ClientConfig>,
    dns: Arc<DnsOverrides>,
    pacer: Arc<Pacer>,
    stop_ticker: Arc<AtomicBool>,
    next_session: AtomicU64,
}

impl Drop for HostInner {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

/// The runtime the platform embeds: one per process is enough.
#[derive(Clone)]
pub struct Host {
    inner: Arc<HostInner>,
}

impl Host {
    /// Creates the engine and linker, opens the compiled-connector cache
    /// and starts the epoch ticker. Fails with [`HostError::Setup`].
    pub fn new(options: HostOptions) -> Result<Host, HostError> {
        let load_err = |e: wasmtime::Error| HostError::Setup { message: format!("{e:#}") };
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.max_wasm_stack(512 << 10);
        config.consume_fuel(options.limits.fuel.is_some());
        if options.pooling {
            config.allocation_strategy(pooling_config(&options.limits));
            // Slots as large as the memory cap, not wasmtime's 4 GiB default,
            // so a thousand of them fit comfortably in the address space.
            config.memory_reservation(options.limits.memory_bytes as u64);
        }
        if options.perf_map {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(load_err)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(load_err)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(load_err)?;
        let roots: Vec<_> = options
            .extra_roots
            .iter()
            .map(|der| rustls::pki_types::CertificateDer::from(der.clone()))
            .collect();
        let tls = tls_config(&roots).map_err(|e| HostError::Setup { message: e.to_string() })?;
        let cache = match options.cache_dir.clone() {
            Some(dir) => Some(
                CompiledCache::open(&engine, dir, options.cache_key_file.clone())
                    .map_err(|e| HostError::Setup { message: e.to_string() })?,
            ),
            None => None,
        };
        let stop = Arc::new(AtomicBool::new(false));
        {
            let engine = engine.clone();
            let stop = stop.clone();
            let tick = options.limits.epoch_tick;
            std::thread::Builder::new()
                .name("psa-host-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(tick);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| HostError::Setup { message: format!("could not start the epoch thread: {e}") })?;
        }
        Ok(Host {
            inner: Arc::new(HostInner {
                cache,
                engine,
                linker,
                pacer: Arc::new(Pacer::new(options.rate_budget, options.retry.rate_limit_max_wait)),
                dns: Arc::new(options.dns_overrides.clone()),
                options,
                tls,
                stop_ticker: stop,
                next_session: AtomicU64::new(1),
            }),
        })
    }

    /// The options this host runs with.
    pub fn options(&self) -> &HostOptions {
        &self.inner.options
    }

    /// Loads a component only if its SHA-256 is `sha256_hex`, so the
    /// platform runs exactly the connector it reviewed.
    pub async fn load_pinned(&self, name: &str, bytes: &[u8], sha256_hex: &str) -> Result<Connector, HostError> {
        let actual = sha256_hex_of(bytes);
        let expected = sha256_hex.trim().to_ascii_lowercase();
        if actual != expected {
            return Err(HostError::Load {
                connector: name.to_string(),
                message: format!("its SHA-256 is {actual}, but {expected} was pinned; refusing to run a connector that is not the one reviewed"),
            });
        }
        self.load_hashed(name, bytes, Some(actual)).await
    }

    /// Loads a connector from a `.wasm` file.
    pub async fn load_file(&self, path: &Path) -> Result<Connector, HostError> {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string());
        let bytes = std::fs::read(path).map_err(|e| HostError::Load {
            connector: name.clone(),
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        self.load(&name, &bytes).await
    }

    /// Compiles a component, links it, reads its self-description and checks
    /// its contract version. `name` is used in messages until the
    /// connector's own id is known.
    pub async fn load(&self, name: &str, bytes: &[u8]) -> Result<Connector, HostError> {
        self.load_hashed(name, bytes, None).await
    }

    /// [`Host::load`], given the SHA-256 of `bytes` when it is known already.
    async fn load_hashed(&self, name: &str, bytes: &[u8], sha256: Option<String>) -> Result<Connector, HostError> {
        let load_err = |message: String| HostError::Load { connector: name.to_string(), message };
        let engine = &self.inner.engine;
        let compile = || Component::new(engine, bytes);
        let (component, compiled_from) = match &self.inner.cache {
            Some(cache) => cache.get_or_compile(engine, &sha256.unwrap_or_else(|| sha256_hex_of(bytes)), compile),
            None => compile().map(|c| (c, CompiledFrom::Compiled)),
        }
        .map_err(|e| {
            let text = format!("{e:#}");
            load_err(if text.contains("pooling allocator") {
                format!("it needs more than this host's limits allow (Limits: max_instances, max_tables, max_memories, memory_bytes): {text}")
            } else {
                format!("not a valid WebAssembly component: {text}")
            })
        })?;
        // The contract version is part of the exported interface's name.
        let exported: Vec<String> = component
            .component_type()
            .exports(&self.inner.engine)
            .filter_map(|(n, _)| n.strip_prefix("optimize365:psa-connector/connector@").map(str::to_string))
            .collect();
        if let Some(found) = exported.iter().find(|v| !SUPPORTED_CONTRACTS.contains(&v.as_str())) {
            if !exported.iter().any(|v| SUPPORTED_CONTRACTS.contains(&v.as_str())) {
                return Err(HostError::UnsupportedContract {
                    connector: name.to_string(),
                    found: found.clone(),
                    supported: SUPPORTED_CONTRACTS.join(", "),
                });
            }
        }
        let pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(|e| load_err(format!("it imports something this sandbox does not provide: {e:#}")))?;
        let pre = PsaConnectorPre::new(pre).map_err(|e| {
            load_err(format!(
                "it does not export the psa-connector contract this host supports ({}): {e:#}",
                SUPPORTED_CONTRACTS.join(", ")
            ))
        })?;
        let mut connector = Connector {
            inner: Arc::new(ConnectorInner {
                host: self.clone(),
                name: name.to_string(),
                pre,
                compiled_from,
                info: ConnectorInfo {
                    id: name.to_string(),
                    display_name: name.to_string(),
                    version: String::new(),
                    contract_version: String::new(),
                    capabilities: vec![],
                    fields: vec![],
                    allowed_hosts: vec![],
                },
                declared: vec![],
            }),
        };
        let info: ConnectorInfo = {
            // A throwaway instance with an empty allow-list: `info` is pure.
            let mut inst = connector.instantiate(AllowedHosts::default(), vec![]).await?;
            inst.call("info", |b, s| Box::pin(async move { b.optimize365_psa_connector_connector().call_info(s).await }))
                .await?
                .into()
        };
        if !SUPPORTED_CONTRACTS.contains(&info.contract_version.as_str()) {
            return Err(HostError::UnsupportedContract {
                connector: info.id.clone(),
                found: info.contract_version.clone(),
                supported: SUPPORTED_CONTRACTS.join(", "),
            });
        }
        let declared = info
            .allowed_hosts
            .iter()
            .map(|h| Origin::from_declared(h))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| load_err(format!("its allowed-hosts list is invalid: {m}")))?;
        // The declared hosts are read this once and frozen: every session's
        // allow-list is built from `declared`, and `info()` shows exactly
        // these entries, so no later answer of the connector can change them.
        let mut info = info;
        info.allowed_hosts = declared.iter().map(|o| o.to_string()).collect();
        let inner = Arc::get_mut(&mut connector.inner).expect("not shared yet");
        // The id names the connector in every message and log line.
        inner.name = crate::escape::for_terminal(&info.id).into_owned();
        inner.info = info;
        inner.declared = declared;
        Ok(connector)
    }
}

/// Bytes of each pooled linear memory and table kept resident between
/// sessions (see [`pooling_config`]).
const KEEP_RESIDENT: usize = 2 << 20;
const KEEP_RESIDENT_TABLES: usize = 64 << 10;

/// The pooling allocator's slots, sized from the sandbox limits: room for
/// `max_sessions` instances of a component with the per-session maxima.
/// Slots are address space; only what a session touched of its first
/// [`KEEP_RESIDENT`] bytes stays resident after it ends.
fn pooling_config(limits: &Limits) -> wasmtime::InstanceAllocationStrategy {
    let sessions = limits.max_sessions.max(1);
    let per = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let mut p = wasmtime::PoolingAllocationConfig::default();
    p.total_component_instances(sessions)
        // A Rust wasip2 component has a handful of core instances, one
        // memory and a couple of tables; the per-component maxima bound a
        // hungrier one, the totals leave room for typical ones.
        .max_core_instances_per_component(per(limits.max_instances))
        .max_memories_per_component(per(limits.max_memories))
        .max_tables_per_component(per(limits.max_tables))
        .total_core_instances(sessions.saturating_mul(8))
        .total_memories(sessions.saturating_mul(2))
        .total_tables(sessions.saturating_mul(4))
        .total_stacks(sessions)
        .max_memory_size(limits.memory_bytes)
        .table_elements(limits.max_table_elements)
        .max_memories_per_module(per(limits.max_memories))
        .max_tables_per_module(per(limits.max_tables))
        // A slot's first pages are reset in place when its session closes
        // rather than returned to the kernel, so the next session does not
        // fault them in again; with PAGEMAP_SCAN (Linux 6.7+) only the pages
        // the session touched are reset, so no untouched page becomes
        // resident. psa-bench: a warm open 50 us and a close 12 us, against
        // 113-139 us and 30 us with neither setting. The cost: what sessions
        // touched in the first 2 MiB (a Rust guest's 1 MiB stack, its data,
        // the start of its heap) stays resident per slot used at once (100
        // sessions at once: +48 MiB after they end).
        .linear_memory_keep_resident(KEEP_RESIDENT.min(limits.memory_bytes))
        .table_keep_resident(KEEP_RESIDENT_TABLES)
        .pagemap_scan(wasmtime::Enabled::Auto);
    wasmtime::InstanceAllocationStrategy::Pooling(p)
}

/// The SHA-256 of `bytes`, as lower-case hex.
pub fn sha256_hex_of(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

struct ConnectorInner {
    host: Host,
    name: String,
    pre: PsaConnectorPre<SessionState>,
    compiled_from: CompiledFrom,
    info: ConnectorInfo,
    declared: Vec<Origin>,
}

/// A loaded connector. Clone it freely; every clone shares the compiled code.
#[derive(Clone)]
pub struct Connector {
    inner: Arc<ConnectorInner>,
}

impl Connector {
    /// The connector's self-description.
    pub fn info(&self) -> &ConnectorInfo {
        &self.inner.info
    }

    /// The connector's id, as used in messages.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Whether this load compiled the component or mapped it from the cache.
    pub fn compiled_from(&self) -> CompiledFrom {
        self.inner.compiled_from
    }

    /// The hosts the connector declared in its self-description, read once
    /// at load and frozen (also in [`Connector::info`]'s `allowed_hosts`).
    pub fn declared_hosts(&self) -> &[Origin] {
        &self.inner.declared
    }

    /// The origins a session with this configuration may reach.
    pub fn allowed_hosts(&self, config: &ConnectionConfig) -> AllowedHosts {
        AllowedHosts::new(config.url_values(&self.inner.info), &self.inner.declared)
    }

    async fn instantiate(&self, allowed: AllowedHosts, secrets: Vec<String>) -> Result<Instance, HostError> {
        let host = &self.inner.host.inner;
        let id = host.next_session.fetch_add(1, Ordering::Relaxed);
        let secrets: Arc<[String]> = secrets.into();
        let denials = Denials::new(secrets.clone());
        let paced = Arc::new(PacingClock::new(host.options.limits.max_pacing_credit));
        let hooks = SandboxHooks {
            connector: self.inner.name.clone(),
            allowed,
            transport: Transport {
                limits: host.options.limits.clone(),
                allow_loopback: host.options.allow_loopback,
                tls: host.tls.clone(),
                dns: host.dns.clone(),
            },
            denials: denials.clone(),
            pacer: host.pacer.clone(),
            paced: paced.clone(),
            rate_limit_hold: host.options.retry.rate_limit_first_wait,
            in_flight: Default::default(),
            max_in_flight: host.options.limits.max_requests_in_flight,
        };
        let mut store = Store::new(&host.engine, SessionState::new(hooks, &host.options.limits));
        store.limiter(|s| &mut s.limits);
        // Every epoch tick the guest yields to the executor (so a guest that
        // spins cannot hold a worker thread) and is interrupted once the
        // call's wall-clock deadline, pushed back by its pacing credit, has
        // passed. A tick runs only while the guest runs its own code, so it
        // also tells the pacing clock that the guest is not blocked.
        let clock = paced.clone();
        store.epoch_deadline_callback(move |ctx| {
            clock.set_in_host(false);
            let Some(deadline) = ctx.data().call_deadline else {
                return Ok(wasmtime::UpdateDeadline::Interrupt);
            };
            let deadline = deadline.checked_add(clock.credit()).unwrap_or(deadline);
            if std::time::Instant::now() < deadline {
                Ok(wasmtime::UpdateDeadline::Yield(1))
            } else {
                Ok(wasmtime::UpdateDeadline::Interrupt)
            }
        });
        // Pacing credit accrues only while the guest is inside a host call
        // (for a connector, blocked on I/O): wasm calling the host and
        // returning to it, and the host calling into wasm (such as
        // `cabi_realloc` while lowering a result) and returning.
        let clock = paced.clone();
        store.call_hook(move |_, hook| {
            use wasmtime::CallHook;
            match hook {
                CallHook::CallingHost | CallHook::ReturningFromWasm => clock.set_in_host(true),
                CallHook::ReturningFromHost | CallHook::CallingWasm => clock.set_in_host(false),
            }
            Ok(())
        });
        store.set_epoch_deadline(1);
        let mut inst = Instance {
            connector: self.clone(),
            id,
            store,
            bindings: None,
            closed: None,
            secrets,
            denials,
            paced,
        };
        let pre = self.inner.pre.clone();
        let b = inst
            .guarded("instantiate", |store| Box::pin(async move { pre.instantiate_async(store).await }))
            .await?;
        inst.bindings = Some(Arc::new(b));
        Ok(inst)
    }

    /// Runs the connector's connection test. Never fails for problems the
    /// connector can diagnose (those are failed steps); fails only when the
    /// connector itself crashes or runs out of time.
    pub async fn test_connection(&self, config: &ConnectionConfig) -> Result<Vec<CheckStep>, HostError> {
        let mut inst = self.instantiate(self.allowed_hosts(config), config.secret_values()).await?;
        let entries = entries(config);
        let steps = inst
            .call("test-connection", move |b, s| {
                Box::pin(async move { b.optimize365_psa_connector_connector().call_test_connection(s, &entries).await })
            })
            .await?;
        let denied = inst.denials.take();
        let mut steps: Vec<CheckStep> = steps.into_iter().map(|st| types::check_step(st, &inst.secrets)).collect();
        if !denied.is_empty() {
            if let Some(step) = steps.iter_mut().find(|s| s.status == types::StepStatus::Failed) {
                step.message.push_str(&format!(" (Sandbox: {})", denied.join("; ")));
            }
        }
        Ok(steps)
    }

    /// Opens a session: the connector checks the form; no network I/O yet.
    pub async fn open_session(&self, config: &ConnectionConfig) -> Result<Session, HostError> {
        let mut inst = self.instantiate(self.allowed_hosts(config), config.secret_values()).await?;
        let entries = entries(config);
        let res = inst
            .call("session.open", move |b, s| {
                Box::pin(async move { b.optimize365_psa_connector_connector().session().call_open(s, &entries).await })
            })
            .await?;
        match res {
            Ok(handle) => Ok(Session { inst, handle: Some(handle), refused_last_call: false }),
            Err(e) => Err(inst.connector_error(e)),
        }
    }
}

fn entries(config: &ConnectionConfig) -> Vec<wit::ConfigEntry> {
    config
        .entries()
        .iter()
        .map(|(k, v)| wit::ConfigEntry { id: k.clone(), value: v.clone() })
        .collect()
}

type CallFuture<'a, R> = std::pin::Pin<Box<dyn std::future::Future<Output = wasmtime::Result<R>> + Send + 'a>>;

/// One instance in its own store.
struct Instance {
    connector: Connector,
    id: u64,
    store: Store<SessionState>,
    bindings: Option<Arc<PsaConnector>>,
    closed: Option<String>,
    /// Shared with `denials`: one copy of the session's secret values.
    secrets: Arc<[String]>,
    denials: Denials,
    paced: Arc<PacingClock>,
}

impl Drop for Instance {
    /// What the guest printed and a drain held back (it could have begun a
    /// secret) is logged, counted, at the session's end.
    fn drop(&mut self) {
        if let Some(text) = self.store.data().output.finish(&self.secrets) {
            tracing::info!(target: "psa_host::guest", connector = %self.name(), session = self.id, call = "(session end)", "{text}");
        }
    }
}

impl Instance {
    fn name(&self) -> &str {
        &self.connector.inner.name
    }

    /// Runs `f` on the store under the per-call deadline, turning traps,
    /// interrupts and memory exhaustion into [`HostError`]s that close the
    /// instance.
    async fn guarded<R: Send>(
        &mut self,
        call: &str,
        f: impl for<'a> FnOnce(&'a mut Store<SessionState>) -> CallFuture<'a, R>,
    ) -> Result<R, HostError> {
        if let Some(reason) = &self.closed {
            return Err(HostError::SessionClosed {
                connector: self.name().to_string(),
                session: self.id,
                reason: reason.clone(),
            });
        }
        let limits = self.connector.inner.host.inner.options.limits.clone();
        let paced = self.paced.clone();
        paced.start_call();
        self.denials.start_call();
        let start = std::time::Instant::now();
        let state = self.store.data_mut();
        state.call_deadline = Some(start.checked_add(limits.call_timeout).unwrap_or(start));
        self.store.set_epoch_deadline(1);
        if let Some(fuel) = limits.fuel {
            let _ = self.store.set_fuel(fuel);
        }
        // The epoch deadline stops guest code; this stops waiting on I/O.
        // Both are pushed back by the call's pacing credit (see `pacing`).
        let grace = limits.epoch_tick.saturating_mul(10);
        let timeout = limits.call_timeout.saturating_add(grace);
        let outcome = {
            let mut fut = std::pin::pin!(f(&mut self.store));
            let start = tokio::time::Instant::now();
            let far = |d: Duration| start.checked_add(d).unwrap_or(start + Duration::from_secs(86_400 * 365));
            let mut deadline = far(timeout);
            loop {
                tokio::select! {
                    r = &mut fut => break Some(r),
                    _ = tokio::time::sleep_until(deadline) => {
                        let extended = far(timeout.saturating_add(paced.credit()));
                        if extended > deadline {
                            deadline = extended;
                        } else {
                            break None;
                        }
                    }
                }
            }
        };
        self.flush_output(call);
        let unlogged = self.denials.end_call();
        if unlogged > 0 {
            tracing::warn!(connector = %self.name(), session = self.id, call, "sandbox: {unlogged} more refusal(s) during this call were not logged");
        }
        let err = match outcome {
            Some(Ok(r)) => return Ok(r),
            Some(Err(e)) => self.classify(call, e, &limits),
            None => HostError::DeadlineExceeded {
                connector: self.name().to_string(),
                call: call.to_string(),
                deadline: limits.call_timeout,
            },
        };
        self.closed = Some(match &err {
            HostError::DeadlineExceeded { .. } => format!("`{call}` ran past its deadline"),
            HostError::MemoryExhausted { .. } => format!("`{call}` ran out of memory"),
            HostError::OutOfFuel { .. } => format!("`{call}` used up its instruction budget"),
            HostError::HostLimit { .. } => format!("`{call}` reached a limit on what the host holds for it"),
            _ => format!("`{call}` crashed"),
        });
        tracing::warn!(connector = %self.name(), session = self.id, "{}", crate::escape::for_terminal(&err.to_string()));
        Err(err)
    }

    /// Calls an export on the instantiated bindings.
    async fn call<R: Send + 'static>(
        &mut self,
        call: &str,
        f: impl for<'a> FnOnce(Arc<PsaConnector>, &'a mut Store<SessionState>) -> CallFuture<'a, R> + Send + 'static,
    ) -> Result<R, HostError> {
        let bindings = self.bindings.clone().ok_or_else(|| HostError::SessionClosed {
            connector: self.name().to_string(),
            session: self.id,
            reason: "it was never instantiated".into(),
        })?;
        self.guarded(call, move |store| f(bindings, store)).await
    }

    fn classify(&self, call: &str, e: wasmtime::Error, limits: &Limits) -> HostError {
        let connector = self.name().to_string();
        let call = call.to_string();
        if e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some() {
            return HostError::Busy { connector, max: limits.max_sessions };
        }
        if matches!(e.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
            return HostError::DeadlineExceeded { connector, call, deadline: limits.call_timeout };
        }
        if let (Some(Trap::OutOfFuel), Some(fuel)) = (e.downcast_ref::<Trap>(), limits.fuel) {
            return HostError::OutOfFuel { connector, call, fuel };
        }
        if let Some(wasmtime_wasi_http::FieldMapError::TotalSizeTooBig | wasmtime_wasi_http::FieldMapError::TooManyFields) =
            e.downcast_ref()
        {
            let limit = crate::limits::HeldLimit::HeaderBytes { max: limits.max_header_bytes };
            return HostError::HostLimit { connector, call, limit };
        }
        if let Some(wasmtime::component::ResourceTableError::Full) = e.downcast_ref() {
            let limit = crate::limits::HeldLimit::ResourceHandles { max: limits.max_resource_handles };
            return HostError::HostLimit { connector, call, limit };
        }
        let text = format!("{e:?}");
        if text.contains("growing memory") || text.contains("memory minimum size") || matches!(e.downcast_ref::<Trap>(), Some(Trap::AllocationTooLarge)) {
            return HostError::MemoryExhausted { connector, call, limit_bytes: limits.memory_bytes };
        }
        let message = match e.downcast_ref::<Trap>() {
            Some(Trap::StackOverflow) => "stack overflow (runaway recursion)".to_string(),
            // Rust and C guests keep part of their stack in linear memory;
            // overflowing it lands outside memory.
            Some(Trap::MemoryOutOfBounds) => {
                "out-of-bounds memory access (its stack in linear memory overflowed, or it has a memory bug)".to_string()
            }
            Some(t) => format!("{t}"),
            None => format!("{e:#}"),
        };
        HostError::Trap { connector, call, message: crate::redact::scrub(&message, &self.secrets) }
    }

    fn flush_output(&self, call: &str) {
        if let Some(text) = self.store.data().output.drain(&self.secrets) {
            tracing::info!(target: "psa_host::guest", connector = %self.name(), session = self.id, call, "{text}");
        }
    }

    fn connector_error(&self, e: wit::ConnectorError) -> HostError {
        HostError::Connector {
            connector: self.name().to_string(),
            error: types::connector_error(e, &self.secrets),
        }
    }
}

/// An open connection to one PSA instance, in a store of its own.
pub struct Session {
    inst: Instance,
    handle: Option<ResourceAny>,
    /// Whether the sandbox refused a request during the last failed call.
    refused_last_call: bool,
}

impl Session {
    /// The host-assigned id, as used in logs.
    pub fn id(&self) -> u64 {
        self.inst.id
    }

    /// The connector's id.
    pub fn connector(&self) -> &str {
        self.inst.name()
    }

    /// Whether the sandbox refused a request in the last failed call (such a
    /// failure is policy, never worth a retry).
    pub(crate) fn refused_last_call(&self) -> bool {
        self.refused_last_call
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.inst.connector.inner.host.inner.options.limits
    }

    pub(crate) fn retry_policy(&self) -> RetryPolicy {
        self.inst.connector.inner.host.inner.options.retry.clone()
    }

    /// Refusals of the sandbox policy since the last call to this method.
    pub fn take_denials(&self) -> Vec<crate::Denial> {
        self.inst.denials.take_denials()
    }

    fn handle(&self) -> Result<ResourceAny, HostError> {
        self.handle.ok_or_else(|| HostError::SessionClosed {
            connector: self.inst.name().to_string(),
            session: self.inst.id,
            reason: "it was closed".into(),
        })
    }

    /// One page of customers; `None` starts an import.
    pub async fn list_customers(&mut self, cursor: Option<&str>) -> Result<CustomerPage, HostError> {
        let h = self.handle()?;
        let cursor = cursor.map(str::to_string);
        let res = self
            .inst
            .call("session.list-customers", move |b, s| {
                Box::pin(async move {
                    b.optimize365_psa_connector_connector().session().call_list_customers(s, h, cursor.as_deref()).await
                })
            })
            .await?;
        let max = self.inst.connector.inner.host.inner.options.limits.max_page_customers;
        match res {
            Ok(page) if page.customers.len() > max => Err(HostError::Contract {
                connector: self.inst.name().to_string(),
                message: format!("a page carried {} customers; a page may carry at most {max}", page.customers.len()),
            }),
            Ok(page) => Ok(types::customer_page(page, &self.inst.secrets)),
            Err(e) => Err(self.with_denials(self.inst.connector_error(e))),
        }
    }

    /// Opens a ticket.
    pub async fn create_ticket(&mut self, ticket: &NewTicket) -> Result<String, HostError> {
        let h = self.handle()?;
        let t = types::new_ticket(ticket);
        let res = self
            .inst
            .call("session.create-ticket", move |b, s| {
                Box::pin(async move { b.optimize365_psa_connector_connector().session().call_create_ticket(s, h, &t).await })
            })
            .await?;
        match res {
            Ok(r) => Ok(r.id),
            Err(e) => Err(self.with_denials(self.inst.connector_error(e))),
        }
    }

    /// Adds the sandbox's refusals to a connector error's message, so the
    /// reader sees which host was refused and how to allow it.
    fn with_denials(&mut self, err: HostError) -> HostError {
        let denied = self.inst.denials.take();
        self.refused_last_call = !denied.is_empty();
        match err {
            HostError::Connector { connector, error } if !denied.is_empty() => {
                let extra = format!(" (Sandbox: {})", denied.join("; "));
                let error = match error {
                    types::ConnectorError::Unreachable { host, stage, message } => {
                        types::ConnectorError::Unreachable { host, stage, message: message + &extra }
                    }
                    other => other,
                };
                HostError::Connector { connector, error }
            }
            e => e,
        }
    }

    /// Releases the session's resource in the guest. Dropping a session
    /// without closing it is also safe.
    pub async fn close(mut self) {
        if let Some(h) = self.handle.take() {
            if self.inst.closed.is_none() {
                let _ = h.resource_drop_async(&mut self.inst.store).await;
            }
        }
    }
}
