//! With the `bundled-halopsa` feature, builds the HaloPSA connector
//! (`plugin/`) as a component so the library can embed it
//! (`psa_host::bundled`); without it, builds nothing.
//!
//! `PSA_HOST_SKIP_GUEST_BUILD=1` embeds an empty placeholder instead (for
//! `cargo check` and editors); loading the bundled connector then fails
//! with a clear error.

include!("../build-support/guests.rs");

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // Cargo reruns a build script when the package's features change.
    if std::env::var_os("CARGO_FEATURE_BUNDLED_HALOPSA").is_none() {
        return;
    }
    println!("cargo:rerun-if-env-changed=PSA_HOST_SKIP_GUEST_BUILD");
    let wasm = if std::env::var_os("PSA_HOST_SKIP_GUEST_BUILD").is_some() {
        let stub = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("placeholder.wasm");
        std::fs::write(&stub, b"").unwrap();
        stub
    } else {
        let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
        build_guests(manifest.parent().unwrap(), &["halopsa-connector"]).remove(0)
    };
    println!("cargo:rustc-env=PSA_HOST_BUNDLED_HALOPSA={}", wasm.display());
}
