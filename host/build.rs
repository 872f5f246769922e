//! Builds the bundled HaloPSA connector (`plugin/`) as a component so the
//! `psa-host` binary and library can embed it (`psa_host::bundled`).
//!
//! `PSA_HOST_SKIP_GUEST_BUILD=1` embeds an empty placeholder instead (for
//! `cargo check` and editors); loading the bundled connector then fails
//! with a clear error.

include!("../build-support/guests.rs");

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
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
