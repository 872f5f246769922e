//! One connector instance in its own store, and everything that bounds a
//! call into it: the store's limits, the **per-call deadlines** (the epoch
//! ticker and callback for guest CPU, the outer timer for network waits,
//! both pushed back by the call's pacing credit), the call hook that feeds
//! the pacing clock, and the **trap classification** that turns a failed
//! call into a [`HostError`] and closes the instance.

use crate::allowed_hosts::AllowedHosts;
use crate::contract::{ContractConnector, ContractInstance};
use crate::ctx::SessionState;
use crate::egress::DnsOverrides;
use crate::hooks::{Denials, SandboxHooks};
use crate::outbound::Transport;
use crate::pacing::{Pacer, Pacing, PacingClock};
use crate::retry::RetryPolicy;
use crate::types::ConnectorError;
use crate::{HostError, Limits};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::{Engine, Store, Trap};

/// What every instance of one host is made from: the engine, the sandbox's
/// limits and network policy, the pacer shared by all sessions. Shared by
/// the [`Host`](super::Host) and the connectors it loaded, so a connector
/// outliving its host keeps the engine and its epoch ticker running.
pub(crate) struct Sandbox {
    pub(crate) engine: Engine,
    /// Kept for its `Drop`: the ticker runs while anything uses the engine.
    pub(crate) _ticker: EpochTicker,
    pub(crate) limits: Limits,
    pub(crate) allow_loopback: bool,
    pub(crate) tls: Arc<rustls::ClientConfig>,
    pub(crate) dns: Arc<DnsOverrides>,
    pub(crate) pacer: Arc<Pacer>,
    /// Whether connectors' declared budgets pace their sessions
    /// ([`HostOptions::declared_budgets`](crate::HostOptions::declared_budgets)).
    pub(crate) declared_budgets: bool,
    pub(crate) retry: RetryPolicy,
    /// Sees each answered exchange ([`HostOptions::recorder`](crate::HostOptions::recorder)).
    pub(crate) recorder: Option<Arc<dyn crate::record::ExchangeRecorder>>,
    /// The next instance's id (session ids in logs).
    pub(crate) next_instance: AtomicU64,
}

/// The thread that advances the engine's epoch every
/// [`Limits::epoch_tick`]; stops when dropped.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    /// Starts the thread.
    pub(crate) fn start(engine: &Engine, tick: Duration) -> std::io::Result<EpochTicker> {
        let stop = Arc::new(AtomicBool::new(false));
        let engine = engine.clone();
        let stopped = stop.clone();
        std::thread::Builder::new().name("psa-host-epoch".into()).spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                engine.increment_epoch();
            }
        })?;
        Ok(EpochTicker { stop })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A boxed call into the guest, borrowing its store.
pub(crate) type CallFuture<'a, R> =
    std::pin::Pin<Box<dyn std::future::Future<Output = wasmtime::Result<R>> + Send + 'a>>;

impl Sandbox {
    /// A new instance of `contract` in a store of its own, reaching only
    /// `allowed`, with `secrets` scrubbed from what it prints and returns,
    /// its requests paced by the host's budget and `pacing`.
    /// `connector` names it in messages and log lines.
    pub(crate) async fn instantiate(
        self: &Arc<Self>,
        connector: &str,
        contract: &ContractConnector,
        allowed: AllowedHosts,
        secrets: Vec<String>,
        pacing: Pacing,
    ) -> Result<Instance, HostError> {
        let id = self.next_instance.fetch_add(1, Ordering::Relaxed);
        let secrets: Arc<[String]> = secrets.into();
        let denials = Denials::new(secrets.clone());
        let paced = Arc::new(PacingClock::new(self.limits.max_pacing_credit));
        let hooks = SandboxHooks {
            connector: connector.to_string(),
            allowed,
            transport: Transport {
                limits: self.limits.clone(),
                allow_loopback: self.allow_loopback,
                tls: self.tls.clone(),
                dns: self.dns.clone(),
                recorder: self.recorder.clone(),
            },
            denials: denials.clone(),
            pacer: self.pacer.clone(),
            paced: paced.clone(),
            pacing,
            rate_limit_hold: self.retry.rate_limit_first_wait,
            in_flight: Default::default(),
            max_in_flight: self.limits.max_requests_in_flight,
        };
        let mut store = Store::new(&self.engine, SessionState::new(hooks, &self.limits));
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
            sandbox: self.clone(),
            connector: connector.to_string(),
            id,
            store,
            contract: None,
            closed: None,
            secrets,
            denials,
            paced,
            kept_output: Default::default(),
        };
        let pre = contract.clone();
        let c = inst
            .guarded("instantiate", |store| Box::pin(async move { pre.instantiate(store).await }))
            .await?;
        inst.contract = Some(Arc::new(c));
        Ok(inst)
    }
}

/// One instance in its own store.
pub(crate) struct Instance {
    sandbox: Arc<Sandbox>,
    /// The connector's name, for messages and log lines.
    connector: String,
    id: u64,
    store: Store<SessionState>,
    contract: Option<Arc<ContractInstance>>,
    /// Why the instance is closed, once a call failed.
    closed: Option<String>,
    /// Shared with `denials`: one copy of the session's secret values.
    secrets: Arc<[String]>,
    denials: Denials,
    paced: Arc<PacingClock>,
    /// What the guest printed, drained and scrubbed, kept for the embedder
    /// (bounded: see `guest_output.rs`).
    kept_output: crate::guest_output::Kept,
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
    /// The connector's name, as used in messages.
    pub(crate) fn name(&self) -> &str {
        &self.connector
    }

    /// The host-assigned id, as used in logs.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The sandbox limits it runs under.
    pub(crate) fn limits(&self) -> &Limits {
        &self.sandbox.limits
    }

    /// How an import on this instance retries.
    pub(crate) fn retry_policy(&self) -> &RetryPolicy {
        &self.sandbox.retry
    }

    /// The secret values scrubbed from what it prints and returns.
    pub(crate) fn secrets(&self) -> &[String] {
        &self.secrets
    }

    /// Refusals of the sandbox policy since the last take.
    pub(crate) fn take_denials(&self) -> Vec<crate::Denial> {
        self.denials.take_denials()
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
        let limits = self.sandbox.limits.clone();
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

    /// Calls an export through [`ConnectorApi`](crate::contract::ConnectorApi),
    /// under [`Instance::guarded`]. `call` names the export in errors and logs.
    pub(crate) async fn call<R: Send + 'static>(
        &mut self,
        call: &str,
        f: impl for<'a> FnOnce(Arc<ContractInstance>, &'a mut Store<SessionState>) -> CallFuture<'a, R> + Send + 'static,
    ) -> Result<R, HostError> {
        let contract = self.contract.clone().ok_or_else(|| HostError::SessionClosed {
            connector: self.name().to_string(),
            session: self.id,
            reason: "it was never instantiated".into(),
        })?;
        self.guarded(call, move |store| f(contract, store)).await
    }

    /// Releases a guest session resource, unless an earlier failure closed
    /// the instance (its store may be in any state then).
    pub(crate) async fn close_session(&mut self, session: crate::contract::SessionHandle) {
        use crate::contract::ConnectorApi;
        if self.closed.is_some() {
            return;
        }
        if let Some(contract) = self.contract.clone() {
            let _ = contract.close(&mut self.store, session).await;
        }
    }

    /// What a failed call means: which limit it hit, or how it crashed.
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

    fn flush_output(&mut self, call: &str) {
        if let Some(text) = self.store.data().output.drain(&self.secrets) {
            tracing::info!(target: "psa_host::guest", connector = %self.name(), session = self.id, call, "{text}");
            self.kept_output.push(call, &text);
        }
    }

    /// What the guest printed since the last take, one entry per call
    /// (`call: text`), scrubbed and escaped as in the log; bounded.
    pub(crate) fn take_output(&mut self) -> Vec<String> {
        self.kept_output.take()
    }

    /// The connector's typed error, scrubbed, as a [`HostError`].
    pub(crate) fn connector_error(&self, e: ConnectorError) -> HostError {
        HostError::Connector { connector: self.name().to_string(), error: e.scrub(&self.secrets) }
    }
}
