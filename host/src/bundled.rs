//! The connectors built from `plugin/` by this crate's `build.rs` and
//! embedded, so a host works without a connector file of its own.
//!
//! Each only with its feature, `bundled-halopsa` ([`HALOPSA`]) or
//! `bundled-autotask` ([`AUTOTASK`]), both off by default: without them the
//! library builds no guest component. The `psa-host` CLI turns both on.
//!
//! ```no_run
//! # async fn demo() -> Result<(), psa_host::HostError> {
//! let host = psa_host::Host::new(psa_host::HostOptions::default())?;
//! let halo = host.load("halopsa", psa_host::bundled::HALOPSA).await?;
//! println!("{} {}", halo.info().display_name, halo.info().version);
//! # Ok(()) }
//! ```

/// The bundled HaloPSA connector component (`halopsa_connector.wasm`).
#[cfg(feature = "bundled-halopsa")]
pub const HALOPSA: &[u8] = include_bytes!(env!("PSA_HOST_BUNDLED_HALOPSA"));

/// The bundled Autotask connector component (`autotask_connector.wasm`).
#[cfg(feature = "bundled-autotask")]
pub const AUTOTASK: &[u8] = include_bytes!(env!("PSA_HOST_BUNDLED_AUTOTASK"));

/// Every bundled connector: its id (as in its self-description) and its
/// component.
pub const ALL: &[(&str, &[u8])] = &[
    #[cfg(feature = "bundled-halopsa")]
    ("halopsa", HALOPSA),
    #[cfg(feature = "bundled-autotask")]
    ("autotask", AUTOTASK),
];
