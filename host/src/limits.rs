//! Every number that bounds a connector, with its default, in one place.
//!
//! | limit | default | what happens when it is hit |
//! |---|---|---|
//! | `call_timeout` | 120 s | the call fails with [`HostError::DeadlineExceeded`]; the session is dead |
//! | `memory_bytes` | 128 MiB per session, all its linear memories together | the guest's allocation fails; the call traps with [`HostError::MemoryExhausted`] |
//! | `max_resource_handles` | 1 000 per session | a `wasi` call that would hold one more handle (header set, request, response, stream, pollable) traps with [`HostError::HostLimit`] |
//! | `max_header_bytes` | 32 KiB per header set | the `fields` call that would pass it traps with [`HostError::HostLimit`] (wasi-http traps there) |
//! | `max_requests_in_flight` | 16 per session | the next request is refused (`http-request-denied`) until a response is read or dropped |
//! | `max_import_bytes` | 256 MiB per import | [`Session::import_all`](crate::Session::import_all) stops with [`HostError::HostLimit`] |
//! | `max_pacing_credit` | 10 min per call | the most a call's deadline is pushed back for time the guest spent blocked on requests held back by the pacer |
//! | `max_instances` / `max_tables` / `max_memories` | 16 / 16 / 4 | instantiation fails |
//! | `max_sessions` | 1 000 at once per host | opening one more fails with [`HostError::Busy`] until a session closes (the pooling allocator's slots) |
//! | `max_table_elements` | 100 000 | instantiation or `table.grow` fails |
//! | `max_response_body_bytes` | 32 MiB | the guest reads an error (`http-response-body-size`) |
//! | `max_response_header_bytes` | 64 KiB | the response fails (`http-protocol-error`) |
//! | `max_request_body_bytes` | 4 MiB | the request fails (`http-request-body-size`); the upload is cut there |
//! | `connect_timeout` | 10 s | the guest sees `connection-timeout` |
//! | `first_byte_timeout` | 60 s | the guest sees `connection-read-timeout` |
//! | `between_bytes_timeout` | 30 s | the guest sees `connection-read-timeout` mid-body |
//! | `guest_output_bytes` | 16 KiB per call | further guest stdout/stderr is dropped (and counted) |
//! | kept guest output | 64 KiB per session between takes (fixed) | further output is not kept for [`Session::take_guest_output`](crate::Session::take_guest_output) (a last entry counts it); the log still has it |
//! | `epoch_tick` | 1 ms | granularity of the CPU deadline; a running guest yields to the executor every tick, so one that spins cannot hold a worker thread |
//! | `max_page_customers` | 10 000 | a larger page is refused as a contract violation |
//! | `max_ticket_options` | 1 000 per kind | `Session::ticket_options` fails with [`HostError::Contract`]: a longer list is refused, not cut |
//! | `max_ticket_text_bytes` | 1 KiB | a ticket or note id, ticket number, option id or option name the connector returns that is longer (or an empty id) fails the call with [`HostError::Contract`] |
//! | `max_ticket_url_bytes` | 2 KiB | a longer ticket link (or one that is not `http`/`https`) fails the call with [`HostError::Contract`] |
//! | declared request budget | requests clamped to 1..=100 000, window to 1 s..=1 day, concurrency to 1..=`max_requests_in_flight` | see `RateBudget::from_declared`: a connector's `connector-info.budget` can only slow its own sessions down, never lift the host's budget |
//! | `fuel` | off | with `Some(n)`, each call may execute about `n` wasm instructions (deterministic, for tests) |
//!
//! Together these bound what one session can make the host hold: its linear
//! memories (`memory_bytes`), the handles and header bytes behind them
//! (`max_resource_handles` × `max_header_bytes` at most), the requests in
//! flight with their capped heads and bodies, its output (`guest_output_bytes`
//! per call) and refusals (a fixed number kept per call), and an import's
//! customers (`max_import_bytes`).
//!
//! A connector may ask for shorter HTTP timeouts through `wasi:http`'s
//! request options; it can never get longer ones than these (wasmtime's own
//! default is 600 s each).
//!
//! [`HostError::DeadlineExceeded`]: crate::HostError::DeadlineExceeded
//! [`HostError::MemoryExhausted`]: crate::HostError::MemoryExhausted
//! [`HostError::Busy`]: crate::HostError::Busy
//! [`HostError::HostLimit`]: crate::HostError::HostLimit
//! [`HostError::Contract`]: crate::HostError::Contract

use std::time::Duration;

/// Limits applied to every session of a [`crate::Host`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Limits {
    /// Wall-clock deadline of one call into a connector: guest CPU (epoch
    /// interruption) and host I/O (an outer timeout) alike.
    pub call_timeout: Duration,
    /// Linear memory a session's instance may grow to, all its memories
    /// together.
    pub memory_bytes: usize,
    /// Core instances per session.
    pub max_instances: usize,
    /// Tables per session.
    pub max_tables: usize,
    /// Elements per table.
    pub max_table_elements: usize,
    /// Linear memories per session.
    pub max_memories: usize,
    /// Sessions (instances) alive at once in one host, loading included;
    /// sizes the pooling allocator.
    pub max_sessions: u32,
    /// Bytes of one HTTP response body.
    pub max_response_body_bytes: u64,
    /// Bytes of one HTTP response's status line and headers.
    pub max_response_header_bytes: usize,
    /// Bytes of one HTTP request body a connector sends.
    pub max_request_body_bytes: u64,
    /// Upper bound on connecting (DNS, TCP and TLS) to a PSA host.
    pub connect_timeout: Duration,
    /// Upper bound on waiting for the response head.
    pub first_byte_timeout: Duration,
    /// Upper bound on a pause inside a response body.
    pub between_bytes_timeout: Duration,
    /// Guest stdout plus stderr kept per call; the rest is dropped.
    pub guest_output_bytes: usize,
    /// How often the engine's epoch advances.
    pub epoch_tick: Duration,
    /// Customers one page may carry.
    pub max_page_customers: usize,
    /// Instruction budget per call; `None` disables fuel metering.
    pub fuel: Option<u64>,
    /// Resource handles (`wasi` header sets, requests, responses, bodies,
    /// streams, pollables) one session may hold at once.
    pub max_resource_handles: usize,
    /// Bytes of one header set (`fields`) a connector builds, roughly as
    /// held in memory.
    pub max_header_bytes: usize,
    /// Requests of one session in flight at once: sent and not yet answered,
    /// or answered and their body not yet dropped.
    pub max_requests_in_flight: usize,
    /// Bytes of customer and warning text one import may accumulate.
    pub max_import_bytes: u64,
    /// Most a call's deadline is pushed back for pacing waits.
    pub max_pacing_credit: Duration,
    /// Options one `ticket-options` answer may list.
    pub max_ticket_options: usize,
    /// Bytes of one id, ticket number or option name a connector returns
    /// from the ticket calls.
    pub max_ticket_text_bytes: usize,
    /// Bytes of one ticket link a connector returns.
    pub max_ticket_url_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            call_timeout: Duration::from_secs(120),
            memory_bytes: 128 << 20,
            max_instances: 16,
            max_tables: 16,
            max_table_elements: 100_000,
            max_memories: 4,
            max_sessions: 1_000,
            max_response_body_bytes: 32 << 20,
            max_response_header_bytes: 64 << 10,
            max_request_body_bytes: 4 << 20,
            connect_timeout: Duration::from_secs(10),
            first_byte_timeout: Duration::from_secs(60),
            between_bytes_timeout: Duration::from_secs(30),
            guest_output_bytes: 16 << 10,
            epoch_tick: Duration::from_millis(1),
            max_page_customers: 10_000,
            fuel: None,
            max_resource_handles: 1_000,
            max_header_bytes: 32 << 10,
            max_requests_in_flight: 16,
            max_import_bytes: 256 << 20,
            max_pacing_credit: Duration::from_secs(600),
            max_ticket_options: 1_000,
            max_ticket_text_bytes: 1 << 10,
            max_ticket_url_bytes: 2 << 10,
        }
    }
}

impl Limits {
    /// The guest's requested timeout, capped by ours.
    pub(crate) fn cap(requested: Option<Duration>, ours: Duration) -> Duration {
        requested.map_or(ours, |r| r.min(ours))
    }
}

/// Which of the limits on what the host holds for a session was reached.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeldLimit {
    /// [`Limits::max_resource_handles`].
    ResourceHandles {
        /// The limit.
        max: usize,
    },
    /// [`Limits::max_header_bytes`].
    HeaderBytes {
        /// The limit.
        max: usize,
    },
    /// [`Limits::max_import_bytes`].
    ImportBytes {
        /// The limit.
        max: u64,
    },
}

impl std::fmt::Display for HeldLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeldLimit::ResourceHandles { max } => write!(
                f,
                "tried to make the host hold more than {max} handles at once (header sets, requests, responses, \
                 streams; Limits::max_resource_handles) and was stopped; the session is closed. The connector keeps \
                 handles it no longer needs: a bug in the connector"
            ),
            HeldLimit::HeaderBytes { max } => write!(
                f,
                "built a header set larger than {} KiB (Limits::max_header_bytes) and was stopped; the session is \
                 closed. No PSA needs headers that large: a bug in the connector",
                max >> 10
            ),
            HeldLimit::ImportBytes { max } => write!(
                f,
                "the import gathered more than {} MiB of customer data (Limits::max_import_bytes) and was stopped; \
                 nothing was imported. If the PSA really holds that much, raise the limit",
                max >> 20
            ),
        }
    }
}
