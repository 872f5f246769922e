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
    let wanted: Vec<(&str, &str)> = [
        ("CARGO_FEATURE_BUNDLED_HALOPSA", "halopsa-connector", "PSA_HOST_BUNDLED_HALOPSA"),
        ("CARGO_FEATURE_BUNDLED_AUTOTASK", "autotask-connector", "PSA_HOST_BUNDLED_AUTOTASK"),
    ]
    .into_iter()
    .filter(|(feature, _, _)| std::env::var_os(feature).is_some())
    .map(|(_, package, var)| (package, var))
    .collect();
    if wanted.is_empty() {
        return;
    }
    println!("cargo:rerun-if-env-changed=PSA_HOST_SKIP_GUEST_BUILD");
    let wasm: Vec<PathBuf> = if std::env::var_os("PSA_HOST_SKIP_GUEST_BUILD").is_some() {
        let stub = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("placeholder.wasm");
        std::fs::write(&stub, b"").unwrap();
        wanted.iter().map(|_| stub.clone()).collect()
    } else {
        let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
        let packages: Vec<&str> = wanted.iter().map(|(p, _)| *p).collect();
        build_guests(manifest.parent().unwrap(), &packages)
    };
    for ((_, var), path) in wanted.iter().zip(wasm) {
        println!("cargo:rustc-env={var}={}", path.display());
    }
}
