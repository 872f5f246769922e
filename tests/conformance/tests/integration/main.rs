//! The host's integration tests and the HaloPSA connector's end-to-end
//! tests, as one test binary.
//!
//! Each module was a test binary of its own; every such binary links all of
//! wasmtime, so eleven of them cost eleven links and several GB of disk
//! (a CI run once failed on a full disk). Run one module with
//! `cargo test -p psa-conformance --test integration sandbox::`.
//!
//! Every test uses real parts: the simulator or a raw server on 127.0.0.1,
//! components built from source by `build.rs`, and the real host.

mod common;

mod autotask;
mod autotask_tickets;
mod autotask_zones;
mod cache_integrity;
mod compiled_cache;
mod contract_versions;
mod diagnostics;
mod guest_output;
mod halo_errors;
mod halo_import;
mod halo_openapi;
mod halo_paging;
mod halo_resilience;
mod halo_tickets;
mod host_limits;
mod hostile_payloads;
mod hostile_servers;
mod private_ca;
mod refusals;
mod sandbox;
mod sandbox_network;
mod strict_server;
mod template;
