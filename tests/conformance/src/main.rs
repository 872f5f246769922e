//! `psa-conformance <component.wasm>`: runs the conformance suite on a
//! connector and exits non-zero when a check fails.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: psa-conformance <connector.wasm>");
        return ExitCode::from(2);
    };
    let wasm = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let checks = psa_conformance::run(&wasm).await;
    let failed = checks.iter().filter(|c| !c.passed).count();
    for c in &checks {
        println!("{}  {}: {}", if c.passed { "PASS" } else { "FAIL" }, c.name, c.detail);
    }
    println!("{} passed, {} failed", checks.len() - failed, failed);
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) }
}
