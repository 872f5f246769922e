//! Runs PSA connectors, WebAssembly components implementing the
//! `optimize365:psa-connector` contract (`wit/`), in a wasmtime sandbox.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use psa_host::{Host, HostOptions, ConnectionConfig};
//! let host = Host::new(HostOptions::default())?;
//! let halo = host.load("halopsa", psa_host::bundled::HALOPSA).await?;
//! let config = ConnectionConfig::from_toml(&std::fs::read_to_string("halo.toml")?, halo.info(), |k| std::env::var(k).ok())?;
//! let mut session = halo.open_session(&config).await?;
//! let import = session.import_all(|p| eprintln!("{} customers", p.fetched)).await?;
//! # Ok(()) }
//! ```
//!
//! The sandbox, module by module:
//! - [`allowed_hosts`]: which origins a session may reach (its URL fields);
//! - [`egress`]: which addresses, checked after DNS (no internal networks);
//! - [`hooks`]: the policy applied in `wasi:http`'s send hook;
//! - [`outbound`]: the vetted connection, with timeouts and size caps;
//! - [`limits`]: every limit and its default;
//! - [`pacing`]: requests per PSA instance kept below its rate limit;
//! - [`retry`]: which failed calls are retried, and after how long;
//! - [`ctx`]: a session's store state (no files, no env, no sockets);
//! - [`guest_output`] and [`redact`]: guest output to the log, secrets scrubbed;
//! - [`escape`]: PSA and connector text made safe for terminals, logs and CSV.
//!
//! [`runtime`] loads connectors and runs sessions; [`import`] drives a whole
//! import; [`config`] reads connection forms; `contract` holds one module
//! per contract version (its generated bindings and their conversions to
//! [`types`]) behind a dispatch enum, and is the only code that names
//! generated types.

pub mod allowed_hosts;
pub mod bundled;
pub mod cache;
pub mod config;
mod contract;
pub mod ctx;
pub mod egress;
mod error;
pub mod escape;
pub mod guest_output;
pub mod hooks;
pub mod import;
pub mod limits;
pub mod outbound;
pub mod pacing;
pub mod redact;
pub mod retry;
pub mod runtime;
pub mod types;

pub use cache::CompiledFrom;
pub use config::{ConfigError, ConnectionConfig};
pub use contract::SUPPORTED_CONTRACTS;
pub use error::HostError;
pub use import::{ImportFailure, ImportOutcome, Progress, Waiting};
pub use egress::DnsOverrides;
pub use limits::{HeldLimit, Limits};
pub use pacing::RateBudget;
pub use retry::RetryPolicy;
pub use runtime::{sha256_hex_of, Connector, Host, HostOptions, Session};
pub use types::*;
