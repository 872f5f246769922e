//! The state one session's store holds, and the views wasmtime-wasi and
//! wasmtime-wasi-http use to reach it. Every session has its own store, so
//! nothing here is shared between sessions.

use crate::guest_output::GuestOutput;
use crate::hooks::SandboxHooks;
use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// The `T` of a session's `Store<T>`.
pub struct SessionState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    pub(crate) hooks: SandboxHooks,
    pub(crate) limits: StoreLimits,
    pub(crate) output: GuestOutput,
    /// Wall-clock deadline of the call in progress.
    pub(crate) call_deadline: Option<std::time::Instant>,
    /// The session's pacing total when the call started.
    pub(crate) paced_at_start: std::time::Duration,
}

impl SessionState {
    pub(crate) fn new(hooks: SandboxHooks, limits: &crate::Limits) -> Self {
        let output = GuestOutput::new(limits.guest_output_bytes);
        // No arguments, no environment, no preopened directories, no
        // sockets; stdin closed; stdout and stderr captured.
        let wasi = WasiCtx::builder()
            .stdout(output.clone())
            .stderr(output.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let store_limits = StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes)
            .instances(limits.max_instances)
            .tables(limits.max_tables)
            .memories(limits.max_memories)
            .table_elements(limits.max_table_elements)
            .trap_on_grow_failure(true)
            .build();
        SessionState {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks,
            limits: store_limits,
            output,
            call_deadline: None,
            paced_at_start: std::time::Duration::ZERO,
        }
    }
}

impl WasiView for SessionState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for SessionState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}
