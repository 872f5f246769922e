//! Builds the test connectors as components for the integration tests, like
//! wasmtime's test programs: the hostile connector (`tests/guests/hostile`)
//! for the sandbox tests, a connector built against an unsupported contract
//! version (`tests/guests/future-contract`), and the connector template
//! (`template/`) and the Autotask connector (`plugin/autotask`), which must
//! pass the conformance suite, and the contract-version guests: a frozen
//! 0.1.0 connector (`tests/guests/frozen-v0_1_0`) and a 0.2.0 one
//! (`tests/guests/tickets-v0_2_0`).

include!("../../build-support/guests.rs");

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest.parent().unwrap().parent().unwrap();
    let wasm = build_guests(
        workspace,
        &[
            "hostile-guest",
            "psa-connector-template",
            "future-contract-guest",
            "autotask-connector",
            "frozen-v0_1_0-guest",
            "tickets-v0_2_0-guest",
        ],
    );
    println!("cargo:rustc-env=PSA_TEST_HOSTILE_WASM={}", wasm[0].display());
    println!("cargo:rustc-env=PSA_TEST_TEMPLATE_WASM={}", wasm[1].display());
    println!("cargo:rustc-env=PSA_TEST_FUTURE_CONTRACT_WASM={}", wasm[2].display());
    println!("cargo:rustc-env=PSA_TEST_AUTOTASK_WASM={}", wasm[3].display());
    println!("cargo:rustc-env=PSA_TEST_FROZEN_V0_1_0_WASM={}", wasm[4].display());
    println!("cargo:rustc-env=PSA_TEST_TICKETS_V0_2_0_WASM={}", wasm[5].display());
    // build_guests watches plugin/, wit/ and tests/guests/; the template lives elsewhere.
    println!("cargo:rerun-if-changed={}", workspace.join("template").display());
    println!("cargo:rerun-if-changed=build.rs");
}
