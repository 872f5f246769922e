//! Generated bindings, one module per released contract version (the WIT in
//! `wit/<version>/`). The rest of the host never names these types outside
//! [`crate::types`]'s conversions, so supporting a new contract version is a
//! new module here plus its conversions.

pub mod v0_1_0;

/// Contract versions this host can run.
pub const SUPPORTED_CONTRACTS: &[&str] = &["0.1.0"];
