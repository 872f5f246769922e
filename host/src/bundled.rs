//! The HaloPSA connector, built from `plugin/` by this crate's `build.rs`
//! and embedded, so the host works without a `--plugin` file.

/// The bundled HaloPSA connector component.
pub const HALOPSA: &[u8] = include_bytes!(env!("PSA_HOST_BUNDLED_HALOPSA"));
