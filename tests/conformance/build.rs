//! Builds the test connectors as components for the integration tests, like
//! wasmtime's test programs: the hostile connector (`tests/guests/hostile`)
//! for the sandbox tests, a connector built against an unsupported contract
//! version (`tests/guests/future-contract`), and the connector template
//! (`template/`) and the Autotask connector (`plugin/autotask`), which must
//! pass the conformance suite.

include!("../../build-support/guests.rs");

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest.parent().unwrap().parent().unwrap();
    let wasm = build_guests(
        workspace,
        &["hostile-guest", "psa-connector-template", "future-contract-guest", "autotask-connector"],
    );
    println!("cargo:rustc-env=PSA_TEST_HOSTILE_WASM={}", wasm[0].display());
    println!("cargo:rustc-env=PSA_TEST_TEMPLATE_WASM={}", wasm[1].display());
    println!("cargo:rustc-env=PSA_TEST_FUTURE_CONTRACT_WASM={}", wasm[2].display());
    println!("cargo:rustc-env=PSA_TEST_AUTOTASK_WASM={}", wasm[3].display());
    // build_guests watches plugin/, wit/ and tests/guests/; the template lives elsewhere.
    println!("cargo:rerun-if-changed={}", workspace.join("template").display());
    println!("cargo:rerun-if-changed=build.rs");
}
