//! The `psa-host` crate's own integration tests, as one test binary (each
//! test binary links all of wasmtime; see
//! `tests/conformance/tests/integration/main.rs`).

mod cli;
mod compiled_cache;
