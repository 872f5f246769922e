//! [`Host`]: the wasmtime engine (epoch interruption, the pooling
//! allocator, fuel), the linker (WASI 0.2 without sockets, plus `wasi:http`
//! through the sandbox's hooks), the TLS roots, the compiled-connector
//! cache, and loading a component into a [`Connector`].

use super::instance::{EpochTicker, Sandbox};
use super::{Connector, HostOptions};
use crate::cache::{CompiledCache, CompiledFrom};
use crate::ctx::SessionState;
use crate::outbound::tls_config;
use crate::pacing::Pacer;
use crate::{HostError, Limits};
use std::path::Path;
use std::sync::Arc;
use wasmtime::component::{Component, Linker};
use wasmtime::Engine;

/// The runtime the platform embeds: one per process is enough. Cheap to
/// clone; connectors it loads keep what they need of it alive.
#[derive(Clone)]
pub struct Host {
    inner: Arc<HostInner>,
}

struct HostInner {
    /// What every session's store is made from (shared with connectors).
    sandbox: Arc<Sandbox>,
    linker: Linker<SessionState>,
    cache: Option<CompiledCache>,
    options: HostOptions,
}

impl Host {
    /// Creates the engine and linker, opens the compiled-connector cache
    /// and starts the epoch ticker. Every failure is a
    /// [`HostError::Setup`], never a connector's load failure.
    pub fn new(options: HostOptions) -> Result<Host, HostError> {
        let setup_err = |what: &str, e: wasmtime::Error| HostError::Setup { message: format!("{what}: {e:#}") };
        let engine = Engine::new(&engine_config(&options)).map_err(|e| setup_err("the WebAssembly engine", e))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| setup_err("the WASI imports", e))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(|e| setup_err("the wasi:http imports", e))?;
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
        let ticker = EpochTicker::start(&engine, options.limits.epoch_tick)
            .map_err(|e| HostError::Setup { message: format!("could not start the epoch thread: {e}") })?;
        let sandbox = Sandbox {
            engine,
            _ticker: ticker,
            limits: options.limits.clone(),
            allow_loopback: options.allow_loopback,
            tls,
            dns: Arc::new(options.dns_overrides.clone()),
            pacer: Arc::new(Pacer::new(options.rate_budget, options.retry.rate_limit_max_wait)),
            declared_budgets: options.declared_budgets,
            retry: options.retry.clone(),
            recorder: options.recorder.clone(),
            next_instance: Default::default(),
        };
        Ok(Host { inner: Arc::new(HostInner { sandbox: Arc::new(sandbox), linker, cache, options }) })
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

    /// Compiles a component (or takes it from the cache), links it, reads
    /// its self-description and checks its contract version. `name` is used
    /// in messages until the connector's own id is known.
    pub async fn load(&self, name: &str, bytes: &[u8]) -> Result<Connector, HostError> {
        self.load_hashed(name, bytes, None).await
    }

    /// [`Host::load`], given the SHA-256 of `bytes` when it is known already.
    async fn load_hashed(&self, name: &str, bytes: &[u8], sha256: Option<String>) -> Result<Connector, HostError> {
        let (component, compiled_from) = self.compile(name, bytes, sha256)?;
        Connector::load(&self.inner.sandbox, &self.inner.linker, name, &component, compiled_from).await
    }

    /// The compiled component: from the cache when it holds an authentic
    /// entry, else compiled (and cached).
    fn compile(&self, name: &str, bytes: &[u8], sha256: Option<String>) -> Result<(Component, CompiledFrom), HostError> {
        let engine = &self.inner.sandbox.engine;
        let compile = || Component::new(engine, bytes);
        match &self.inner.cache {
            Some(cache) => cache.get_or_compile(engine, &sha256.unwrap_or_else(|| sha256_hex_of(bytes)), compile),
            None => compile().map(|c| (c, CompiledFrom::Compiled)),
        }
        .map_err(|e| {
            let text = format!("{e:#}");
            HostError::Load {
                connector: name.to_string(),
                message: if text.contains("pooling allocator") {
                    format!("it needs more than this host's limits allow (Limits: max_instances, max_tables, max_memories, memory_bytes): {text}")
                } else {
                    format!("not a valid WebAssembly component: {text}")
                },
            }
        })
    }
}

/// The engine's configuration: the component model, epoch interruption
/// (the per-call deadline), a 512 KiB native stack for guest code, fuel
/// when [`Limits::fuel`] is set, and the pooling allocator.
fn engine_config(options: &HostOptions) -> wasmtime::Config {
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
    config
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A host that cannot be set up says so as a setup error, not as the
    /// load failure of some connector.
    #[test]
    fn a_host_that_cannot_start_is_a_setup_error_naming_the_cause() {
        let options = HostOptions::default().cache_dir(None);
        let mut options = options;
        options.extra_roots = vec![b"not a certificate".to_vec()];
        let e = Host::new(options).err().expect("refused");
        assert!(matches!(e, HostError::Setup { .. }), "{e:?}");
        let text = e.to_string();
        assert!(text.starts_with("could not set up the connector host: "), "{text}");
        assert!(text.contains("extra CA certificate #1"), "{text}");
        assert!(!text.contains("could not load connector") && !text.contains("(host)"), "{text}");
    }
}
