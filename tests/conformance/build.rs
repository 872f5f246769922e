//! Builds the hostile test connector (`tests/guests/hostile`) as a
//! component for the sandbox tests, like wasmtime's test programs.

include!("../../build-support/guests.rs");

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest.parent().unwrap().parent().unwrap();
    let wasm = build_guests(workspace, &["hostile-guest"]).remove(0);
    println!("cargo:rustc-env=PSA_TEST_HOSTILE_WASM={}", wasm.display());
    println!("cargo:rerun-if-changed=build.rs");
}
