//! Runs PSA connectors, WebAssembly components implementing the
//! `optimize365:psa-connector` contract (`wit/`), in a wasmtime sandbox.
//!
//! A [`Host`] owns the engine and the sandbox's settings ([`HostOptions`],
//! [`Limits`]). [`Host::load`] compiles a component (once per machine: the
//! compiled code is cached and authenticated on disk, see [`CompiledFrom`])
//! and checks its self-description, giving a [`Connector`]. A connector
//! runs its connection test ([`Connector::test_connection`]) and opens
//! [`Session`]s, each in a store of its own, from a [`ConnectionConfig`]
//! (the values of the connector's form). A session lists customers page by
//! page ([`Session::list_customers`]), imports them all with retries and
//! pacing ([`Session::import_all`]) or only those changed since a time
//! ([`Session::import_since`], falling back to a full import, and saying
//! so, where the connector cannot), and opens tickets once per finding
//! ([`Session::open_ticket`]: a note on the open ticket with the same
//! deduplication key, else a new ticket). Every failure is a [`HostError`]
//! whose message names the connector and what to do.
//!
//! # Contract versions
//!
//! The host runs connectors built against every version in
//! [`SUPPORTED_CONTRACTS`] (0.2.0 and 0.1.0), side by side in one host. A
//! call a connector's version lacks, or whose capability it does not list
//! ([`ConnectorInfo::capabilities`]), is not made: it is answered
//! [`HostError::NotOffered`] ("capability not offered by this connector
//! (contract 0.1.0)"). A 0.1.0 connector still opens tickets
//! ([`Session::create_ticket`]: the body as HTML, type and priority from
//! the options) but cannot deduplicate them, list ticket options or read
//! changed customers. A connector's declared request budget
//! ([`ConnectorInfo::budget`], 0.2.0) is clamped and kept besides the host's
//! own ([`Connector::pacing`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use psa_host::{Host, HostOptions, ConnectionConfig};
//! let host = Host::new(HostOptions::default())?;
//! let halo = host.load_file(std::path::Path::new("halopsa_connector.wasm")).await?;
//! let config = ConnectionConfig::from_toml(&std::fs::read_to_string("halo.toml")?, halo.info(), |k| std::env::var(k).ok())?;
//! let mut session = halo.open_session(&config).await?;
//! let import = session.import_all(|p| eprintln!("{} customers", p.fetched)).await?;
//! # Ok(()) }
//! ```
//!
//! With the cargo feature `bundled-halopsa`, `psa_host::bundled::HALOPSA`
//! holds the HaloPSA connector built from `plugin/halopsa` (the `psa-host`
//! CLI turns it on); without it the library builds no connector.
//!
//! # The sandbox
//!
//! A connector is not trusted. What it may do is decided in these
//! (private) modules of `host/src/`:
//!
//! - `allowed_hosts.rs`: which origins a session may reach: the scheme,
//!   host and port of its URL fields, plus the hosts the connector declares
//!   ([`Connector::declared_hosts`], [`Connector::allowed_hosts`]);
//! - `egress.rs`: which addresses, checked after DNS, so a name that
//!   resolves to loopback, a private network or a metadata address is never
//!   dialled ([`DnsOverrides`] answer names without DNS and are checked
//!   alike);
//! - `hooks.rs`: the policy applied in `wasi:http`'s send hook; each
//!   refusal is a [`Denial`], logged (at most [`LOGGED_REFUSALS_PER_CALL`]
//!   per call), added to the failed call's error and kept for
//!   [`Session::take_denials`]; headers a connector may not set are
//!   [`FORBIDDEN_REQUEST_HEADERS`];
//! - `outbound.rs`: the vetted connection (TLS, timeouts, size caps);
//! - `limits.rs`: every limit and its default ([`Limits`], [`HeldLimit`]);
//! - `pacing.rs`: requests per PSA instance kept below its rate limit
//!   ([`RateBudget`]) and a connector's declared budget and concurrency
//!   ([`Pacing`]);
//! - `retry.rs`: which failed calls an import retries, and after how long
//!   ([`RetryPolicy`]);
//! - `ctx.rs`: a session's store state (no files, no environment, no
//!   sockets; memory, tables and handles bounded);
//! - `guest_output.rs` and `redact.rs`: what a connector prints goes to the
//!   log, capped, with secrets scrubbed ([`redact::scrub`]), and is kept,
//!   bounded, for [`Session::take_guest_output`];
//! - [`record`]: the exchanges the sandbox let through, handed to an
//!   embedder's recorder ([`HostOptions::recorder`]) when one is set;
//! - `cache.rs`: compiled connectors cached on disk, authenticated with an
//!   HMAC before they run.
//!
//! Text from a PSA or a connector is escaped wherever it reaches a terminal,
//! a log line or a CSV file: [`escape`].
//!
//! # The rest
//!
//! - `runtime/`: loading connectors and running sessions: `options.rs`
//!   ([`HostOptions`]), `host.rs` (the engine, the pooling allocator,
//!   loading), `connector.rs`, `instance.rs` (a session's store, the
//!   per-call deadlines and trap classification) and `session.rs`;
//! - `contract/`: the contract-version layer: one module per contract
//!   version ([`SUPPORTED_CONTRACTS`]) with its generated bindings and their
//!   conversions to the host's own types, behind a dispatch enum; the only
//!   code that names generated types;
//! - `import.rs` drives a whole import (full or since a time), `tickets.rs`
//!   opens tickets once per deduplication key and checks what the ticket
//!   calls return, `config.rs` reads connection forms, `types.rs` holds the
//!   host's own contract types.

#![deny(missing_docs)]

mod allowed_hosts;
#[cfg(any(feature = "bundled-halopsa", feature = "bundled-autotask"))]
pub mod bundled;
mod cache;
mod config;
mod contract;
mod ctx;
mod egress;
mod error;
pub mod escape;
mod guest_output;
mod hooks;
mod import;
mod limits;
mod outbound;
mod pacing;
pub mod record;
pub mod redact;
mod retry;
mod runtime;
mod tickets;
mod types;

// Loading connectors and running sessions.
pub use error::HostError;
pub use contract::SUPPORTED_CONTRACTS;
pub use runtime::{sha256_hex_of, Connector, Host, HostOptions, Session};

// Settings of a host.
pub use egress::{DnsOverrideError, DnsOverrides};
pub use limits::{HeldLimit, Limits};
pub use pacing::{Pacing, RateBudget, MAX_DECLARED_REQUESTS, MAX_DECLARED_WINDOW};
pub use retry::RetryPolicy;

// Connection forms.
pub use config::{ConfigError, ConnectionConfig};

// The contract's data, in the host's own types.
pub use types::{
    CheckStep, ConfigField, ConnectorError, ConnectorInfo, Customer, CustomerPage, FieldChoice, FieldKind,
    NetworkStage, NewNote, NewTicket, NoteRef, NoteVisibility, NumberRange, OptionChoice, OptionKind, RequestBudget,
    StepStatus, TenantLink, TicketBody, TicketOption, TicketRef, Warning,
};

// Tickets opened once per finding.
pub use tickets::{check_dedup_key, TicketOutcome, MAX_DEDUP_KEY_CHARS};

// Whole imports.
pub use import::{FallbackReason, ImportFailure, ImportOutcome, ImportRead, Progress, Waiting};

// What the sandbox allowed, refused, and where a connector's code came from.
pub use allowed_hosts::{AllowedHosts, Origin};
pub use cache::CompiledFrom;
pub use hooks::{Denial, FORBIDDEN_REQUEST_HEADERS, LOGGED_REFUSALS_PER_CALL};
