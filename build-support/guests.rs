// Shared through `include!` by `host/build.rs` and
// `tests/conformance/build.rs` (build scripts: `build_guests`) and by the
// CLI's tests (`host/cli/tests/cli.rs`, at test time: `build_guests_into`).
//
// Builds workspace crates as `wasm32-wasip2` components with the `guest`
// profile. The nested cargo gets a target directory of its own,
// `<target>/guests`: it cannot share the outer build's directory, whose lock
// the outer cargo holds while build scripts run. Only the small guest
// dependencies (wit-bindgen, serde, url) are built there; wasmtime is built once,
// by the outer cargo.

use std::path::{Path, PathBuf};
use std::process::Command;

const GUEST_TARGET: &str = "wasm32-wasip2";

/// From a build script: builds `packages` into `<target>/guests` (found from
/// OUT_DIR), tells cargo what to watch, and returns the path of each
/// `.wasm`, in order. Panics (failing the build) when the build fails.
#[allow(dead_code)]
fn build_guests(workspace: &Path, packages: &[&str]) -> Vec<PathBuf> {
    ensure_guest_target(true).unwrap_or_else(|e| panic!("{e}"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    // OUT_DIR is <target>[/<triple>]/<profile>/build/<pkg>-<hash>/out.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .expect("OUT_DIR has the usual depth")
        .join("guests");
    let wasm = build_guests_into(workspace, &target_dir, packages).unwrap_or_else(|e| panic!("{e}"));
    // `template`: the template is a guest, and `tests/guests/buggy-template` copies its source.
    for dir in ["plugin", "wit", "tests/guests", "template"] {
        println!("cargo:rerun-if-changed={}", workspace.join(dir).display());
    }
    println!("cargo:rerun-if-changed={}", workspace.join("Cargo.lock").display());
    println!("cargo:rerun-if-changed={}", workspace.join("Cargo.toml").display());
    wasm
}

/// Settings meant for the host build that must not reach a wasm build
/// (its target, flags, wrappers and target directory).
pub const HOST_BUILD_VARS: [&str; 8] = [
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_TARGET",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
];

/// Builds `packages` of the workspace at `workspace` into `target_dir`
/// (cargo's output goes to this process's stderr) and returns the path of
/// each `.wasm`, in order; or a sentence saying what failed. Prints nothing
/// for cargo to read, so tests can call it too.
fn build_guests_into(workspace: &Path, target_dir: &Path, packages: &[&str]) -> Result<Vec<PathBuf>, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .args(["--target", GUEST_TARGET, "--profile", "guest"]);
    if std::env::var_os("CARGO_NET_OFFLINE").is_some() {
        cmd.arg("--offline");
    }
    for p in packages {
        cmd.args(["-p", p]);
    }
    for var in HOST_BUILD_VARS {
        cmd.env_remove(var);
    }
    cmd.env("CARGO_TARGET_DIR", target_dir);
    // Cargo's output to stderr, never to stdout, which a build script's
    // cargo reads for instructions.
    cmd.stdout(std::process::Stdio::null());
    let status = cmd
        .status()
        .map_err(|e| format!("could not run cargo to build the guest components {packages:?}: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building the guest components {packages:?} for {GUEST_TARGET} into {} failed (see the cargo output above)",
            target_dir.display()
        ));
    }
    Ok(packages
        .iter()
        .map(|p| {
            target_dir
                .join(GUEST_TARGET)
                .join("guest")
                .join(format!("{}.wasm", p.replace('-', "_")))
        })
        .collect())
}

/// Adds the `wasm32-wasip2` target to the active toolchain when it is
/// missing. `rust-toolchain.toml` lists it, but with `RUSTUP_AUTO_INSTALL=0`
/// rustup does not install it by itself. `build_script`: print cargo's
/// instructions (a build script's stdout); a test prints none.
///
/// Cargo replays a build script's `cargo:warning`s on every later build
/// that does not rerun the script, so the "installing" notice of the build
/// that installed the target came back on every build after it. The script
/// therefore also watches the target's directory in the sysroot: after an
/// install the directory is newer than that run, so the next build reruns
/// the script once, finds the target and replaces the replayed output with
/// one that has no notice. A removed target reruns it too, and installs
/// the target again.
fn ensure_guest_target(build_script: bool) -> Result<(), String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(sysroot) = &sysroot {
        let installed = sysroot.join("lib/rustlib").join(GUEST_TARGET);
        if build_script {
            println!("cargo:rerun-if-changed={}", installed.display());
        }
        if installed.exists() {
            return Ok(());
        }
    }
    let notice = format!(
        "installing the {GUEST_TARGET} target with rustup (missing from {})",
        sysroot.as_deref().map_or("the toolchain".to_string(), |s| s.display().to_string())
    );
    if build_script {
        println!("cargo:warning={notice}");
    } else {
        eprintln!("{notice}");
    }
    let status = Command::new("rustup").args(["target", "add", GUEST_TARGET]).status().map_err(|e| {
        format!("the {GUEST_TARGET} target is missing and rustup could not be run ({e}); run `rustup target add {GUEST_TARGET}`")
    })?;
    if !status.success() {
        return Err(format!("`rustup target add {GUEST_TARGET}` failed; run it by hand and build again"));
    }
    Ok(())
}
