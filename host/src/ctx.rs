//! The state one session's store holds, and the views wasmtime-wasi and
//! wasmtime-wasi-http use to reach it. Every session has its own store, so
//! nothing here is shared between sessions.

use crate::guest_output::GuestOutput;
use crate::hooks::SandboxHooks;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// The `T` of a session's `Store<T>`.
pub(crate) struct SessionState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    pub(crate) hooks: SandboxHooks,
    pub(crate) limits: SessionLimiter,
    pub(crate) output: GuestOutput,
    /// Wall-clock deadline of the call in progress.
    pub(crate) call_deadline: Option<std::time::Instant>,
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
        // Everything the guest makes the host hold through `wasi` handles
        // lives in this table: a handle count and a size per header set
        // bound it (`Limits`).
        let mut table = ResourceTable::new();
        table.set_max_capacity(limits.max_resource_handles);
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(limits.max_header_bytes);
        SessionState {
            wasi,
            http,
            table,
            hooks,
            limits: SessionLimiter::new(limits),
            output,
            call_deadline: None,
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

/// The store's resource limiter: wasmtime's [`StoreLimits`] for counts and
/// each memory's size, plus the sum of all linear memories, which
/// `StoreLimits` caps one by one only.
pub(crate) struct SessionLimiter {
    each: StoreLimits,
    memory_cap: usize,
    /// Bytes of every linear memory of the store, as granted so far.
    memory_total: usize,
}

impl SessionLimiter {
    pub(crate) fn new(limits: &crate::Limits) -> Self {
        let each = StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes)
            .instances(limits.max_instances)
            .tables(limits.max_tables)
            .memories(limits.max_memories)
            .table_elements(limits.max_table_elements)
            .trap_on_grow_failure(true)
            .build();
        SessionLimiter { each, memory_cap: limits.memory_bytes, memory_total: 0 }
    }
}

impl ResourceLimiter for SessionLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.memory_total.saturating_sub(current).saturating_add(desired);
        if total > self.memory_cap {
            // The words `growing memory` are what `runtime` classifies as
            // memory exhaustion, as for wasmtime's own per-memory message.
            return Err(wasmtime::format_err!(
                "forcing trap when growing memory to {desired} bytes: the session's memories would hold {total} bytes together, over its {} bytes",
                self.memory_cap
            ));
        }
        let granted = self.each.memory_growing(current, desired, maximum)?;
        if granted {
            self.memory_total = total;
        }
        Ok(granted)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.each.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.each.instances()
    }

    fn tables(&self) -> usize {
        self.each.tables()
    }

    fn memories(&self) -> usize {
        self.each.memories()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::{Engine, Module, Store};

    /// A core module with `n` memories of 48 MiB (768 pages) each, encoded
    /// by hand (no text-format parser needed for one section).
    fn memories(n: u8) -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        m.extend([5, 1 + 3 * n, n]);
        for _ in 0..n {
            m.extend([0x00, 0x80, 0x06]);
        }
        m
    }

    /// A real store with the real limiter: three memories of 48 MiB each
    /// are each under the 128 MiB cap, but not together.
    #[test]
    fn the_memory_cap_holds_for_all_memories_together() {
        let engine = Engine::default();
        let limits = crate::Limits::default();
        let instantiate = |n| {
            let module = Module::new(&engine, memories(n)).unwrap();
            let mut store = Store::new(&engine, SessionLimiter::new(&limits));
            store.limiter(|l| l);
            wasmtime::Instance::new(&mut store, &module, &[]).map(|_| ())
        };
        let err = instantiate(3).unwrap_err();
        assert!(format!("{err:?}").contains("would hold"), "{err:?}");
        instantiate(2).unwrap();
    }
}
