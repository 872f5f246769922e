//! Loading connectors and running their sessions.
//!
//! A [`Host`] owns the wasmtime engine and the linker; a [`Connector`] is a
//! compiled component bound to its contract version, whose self-description
//! has been read and checked; it is cheap to clone and opens any number of
//! [`Session`]s, each in its own store, so a session that traps, loops or
//! exhausts its memory is closed without touching the others.
//!
//! Where things are:
//!
//! | file | what it holds |
//! |---|---|
//! | `options.rs` | [`HostOptions`] |
//! | `host.rs` | [`Host`]: engine configuration, the pooling allocator's sizing, the linker, TLS roots, the compiled-connector cache, compiling a component, SHA-256 pinning |
//! | `connector.rs` | [`Connector`]: binding a component to its contract version, reading and checking `info`, the frozen declared hosts, the allow-list per configuration, `test_connection`, `open_session` |
//! | `instance.rs` | one instance in its own store: the store's hooks and limits, the epoch ticker, **the per-call deadlines** (guest CPU and network waits, pacing credit) and **trap classification** into [`HostError`](crate::HostError)s |
//! | `session.rs` | [`Session`]: pages of customers (the page cap), tickets, refusals added to errors, closing |
//!
//! Calls into the guest go through `crate::contract`, the only code that
//! names a contract version's generated types; nothing here matches on a
//! version.

mod connector;
mod host;
mod instance;
mod options;
mod session;

pub use connector::Connector;
pub use host::{sha256_hex_of, Host};
pub use options::HostOptions;
pub use session::Session;
