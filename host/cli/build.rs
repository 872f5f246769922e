//! Builds the contract-version test connectors (`tests/guests/tickets-v0_2_0`
//! and the frozen `tests/guests/frozen-v0_1_0`) and the template with six
//! deliberate bugs (`tests/guests/buggy-template`, one component, each bug
//! switched on at run time) for the CLI's tests (`tests/cli.rs` runs
//! `psa-host ticket ...` and `import --since` with `--plugin` on the first
//! two, `psa-host test` on the third), and the conformance suite's hostile
//! guest (`tests/guests/hostile`, for `import --record`). They are small and built once, in
//! one cargo run, into
//! `<target>/guests`, beside the bundled connectors; the binary does not
//! embed them.
//!
//! `PSA_HOST_SKIP_GUEST_BUILD=1` skips it (for `cargo check` and editors);
//! the tests then fail to load the placeholder.

include!("../../build-support/guests.rs");

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PSA_HOST_SKIP_GUEST_BUILD");
    let packages = ["tickets-v0_2_0-guest", "frozen-v0_1_0-guest", "buggy-template-guest", "hostile-guest"];
    let wasm = if std::env::var_os("PSA_HOST_SKIP_GUEST_BUILD").is_some() {
        let stub = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("placeholder.wasm");
        std::fs::write(&stub, b"").unwrap();
        vec![stub.clone(), stub.clone(), stub.clone(), stub]
    } else {
        let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
        let workspace = manifest.parent().unwrap().parent().unwrap();
        build_guests(workspace, &packages)
    };
    println!("cargo:rustc-env=PSA_TEST_TICKETS_V0_2_0_WASM={}", wasm[0].display());
    println!("cargo:rustc-env=PSA_TEST_FROZEN_V0_1_0_WASM={}", wasm[1].display());
    println!("cargo:rustc-env=PSA_TEST_BUGGY_TEMPLATE_WASM={}", wasm[2].display());
    // `import --record` refuses an answer the connector did not read to its
    // end (the hostile guest's `fetch` mode reads only the status).
    println!("cargo:rustc-env=PSA_TEST_HOSTILE_WASM={}", wasm[3].display());
}
