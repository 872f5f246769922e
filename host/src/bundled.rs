//! The HaloPSA connector, built from `plugin/` by this crate's `build.rs`
//! and embedded, so a host works without a connector file of its own.
//!
//! Only with the `bundled-halopsa` feature (off by default: without it the
//! library builds no guest component). The `psa-host` CLI and the
//! conformance suite turn it on.
//!
//! ```no_run
//! # async fn demo() -> Result<(), psa_host::HostError> {
//! let host = psa_host::Host::new(psa_host::HostOptions::default())?;
//! let halo = host.load("halopsa", psa_host::bundled::HALOPSA).await?;
//! println!("{} {}", halo.info().display_name, halo.info().version);
//! # Ok(()) }
//! ```

/// The bundled HaloPSA connector component (`halopsa_connector.wasm`).
pub const HALOPSA: &[u8] = include_bytes!(env!("PSA_HOST_BUNDLED_HALOPSA"));
