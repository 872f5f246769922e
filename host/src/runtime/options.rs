//! [`HostOptions`]: how a [`Host`](super::Host) runs connectors (limits,
//! network policy, pacing, retries, the compiled-connector cache).

use crate::egress::DnsOverrides;
use crate::pacing::RateBudget;
use crate::retry::RetryPolicy;
use crate::Limits;

/// How a [`Host`](super::Host) runs connectors.
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
    /// `None` does not pace by the host's own budget.
    pub rate_budget: Option<RateBudget>,
    /// Whether a connector's declared request budget and concurrency
    /// (`connector-info.budget`: the PSA's published limit) pace its
    /// sessions, besides [`HostOptions::rate_budget`]. On by default; off
    /// only for simulators on loopback, which have no such limit and serve
    /// many tests from one process.
    pub declared_budgets: bool,
    /// How failed calls are retried during an import.
    pub retry: RetryPolicy,
    /// Fixed addresses for host names, consulted before DNS; the egress
    /// check applies to them as to any resolved address. Tests may also map
    /// a name and port to a loopback listener
    /// ([`DnsOverrides::connect_to`], applied after the allow-list).
    pub dns_overrides: DnsOverrides,
    /// Where compiled connectors are cached (authenticated entries, see
    /// [`CompiledFrom`](crate::CompiledFrom)); `None` compiles on every load.
    /// Defaults to `$XDG_CACHE_HOME/psa-host`, else `$HOME/.cache/psa-host`.
    /// [`Host::new`](super::Host::new) refuses a directory that another user owns or may write.
    pub cache_dir: Option<std::path::PathBuf>,
    /// The key file that authenticates the cache's entries (32 random bytes,
    /// mode `0600`, made on first use, outside the cache directory); `None`:
    /// `<cache_dir>.key` beside the cache directory.
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
    /// Sees every HTTP exchange the sandbox lets through and that is
    /// answered, secrets included ([`crate::record`]); `None` (the
    /// default) copies nothing.
    pub recorder: Option<std::sync::Arc<dyn crate::record::ExchangeRecorder>>,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            limits: Limits::default(),
            allow_loopback: false,
            extra_roots: Vec::new(),
            rate_budget: Some(RateBudget::default()),
            declared_budgets: true,
            retry: RetryPolicy::default(),
            dns_overrides: DnsOverrides::default(),
            cache_dir: crate::cache::default_dir(),
            cache_key_file: None,
            pooling: true,
            perf_map: false,
            recorder: None,
        }
    }
}

impl HostOptions {
    /// The defaults (same as [`HostOptions::default`]).
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets [`HostOptions::allow_loopback`].
    pub fn allow_loopback(mut self, yes: bool) -> Self {
        self.allow_loopback = yes;
        self
    }
    /// Sets [`HostOptions::limits`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    /// Sets [`HostOptions::rate_budget`].
    pub fn rate_budget(mut self, budget: Option<RateBudget>) -> Self {
        self.rate_budget = budget;
        self
    }
    /// Sets [`HostOptions::declared_budgets`].
    pub fn declared_budgets(mut self, yes: bool) -> Self {
        self.declared_budgets = yes;
        self
    }
    /// Sets [`HostOptions::retry`].
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }
    /// Sets [`HostOptions::dns_overrides`].
    pub fn dns_overrides(mut self, overrides: DnsOverrides) -> Self {
        self.dns_overrides = overrides;
        self
    }
    /// Sets [`HostOptions::cache_dir`].
    pub fn cache_dir(mut self, dir: Option<std::path::PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }
    /// Sets [`HostOptions::cache_key_file`].
    pub fn cache_key_file(mut self, path: Option<std::path::PathBuf>) -> Self {
        self.cache_key_file = path;
        self
    }
    /// Sets [`HostOptions::pooling`].
    pub fn pooling(mut self, yes: bool) -> Self {
        self.pooling = yes;
        self
    }
    /// Sets [`HostOptions::recorder`].
    pub fn recorder(mut self, recorder: Option<std::sync::Arc<dyn crate::record::ExchangeRecorder>>) -> Self {
        self.recorder = recorder;
        self
    }
    /// Sets [`HostOptions::perf_map`].
    pub fn perf_map(mut self, yes: bool) -> Self {
        self.perf_map = yes;
        self
    }
}
