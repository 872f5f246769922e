//! `psa-host test` end to end: the bundled HaloPSA connector against its
//! committed fixtures (`plugin/halopsa/fixtures`) through the real sandbox,
//! and broken copies of those fixtures that must make the right check FAIL
//! with a sentence naming the problem. A submodule of `cli.rs`, so no
//! second test binary links wasmtime.

use super::{psa_host, s};
use std::path::{Path, PathBuf};

fn halo_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugin/halopsa/fixtures")
}

/// A copy of the HaloPSA fixtures in a temporary directory.
fn copy_fixtures() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(halo_fixtures()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    dir
}

fn body_of(text: &str) -> &str {
    &text[text.find("body = '''").expect("an exchange with a body")..]
}

async fn run_test(dir: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let mut args = s(&["test", "--no-cache", "--fixtures", dir.to_str().unwrap()]);
    args.extend(s(extra));
    let out = psa_host(args, vec![]).await;
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn halopsa_passes_the_harness_from_its_fixtures() {
    let (code, stdout, stderr) = run_test(&halo_fixtures(), &["--format", "json"]).await;
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    let checks = doc["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["check"].as_str().unwrap()).collect();
    for want in [
        "self-description",
        "config-errors",
        "paging-ends",
        "no-duplicates",
        "none-lost",
        "fetched-cumulative",
        "total-consistent",
        "tenant-ids",
        "fixtures-cover-requests",
        "allow-list",
        "typed-error-401",
        "typed-error-403",
        "typed-error-429",
        "typed-error-500",
        "same-cursor",
        "no-secrets",
        "mutations",
    ] {
        assert!(names.contains(&want), "no check {want} in {stdout}");
    }
    // The harness's first run found one bug here: a 100,000-character
    // access token (the huge-strings mutation of the token answer) went into
    // an `Authorization` header past the host's 32 KiB cap, and the host
    // stopped the call. The connector now refuses such a token as a wrong
    // answer (`plugin/halopsa/src/auth.rs`, MAX_TOKEN_BYTES).
    for c in checks {
        assert_eq!(c["status"], "PASS", "{c}");
    }
    let m = &doc["summary"]["mutations"];
    // 9 mutations of the token answer and of each of the 3 pages.
    assert_eq!(m["tried"], 36, "{m}");
    assert_eq!(m["hangs"], 0, "{m}");
    assert_eq!(m["traps"], 0, "{m}");
    assert_eq!(m["other"], 0, "{m}");
    assert_eq!(m["typed_errors"].as_u64().unwrap() + m["completed"].as_u64().unwrap(), 36, "{m}");
    let runs = m["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 36, "{m}");
    // Every slow answer (past the harness's 2 s first-byte timeout) is the
    // connector's typed `unreachable`, never a hang.
    let slow: Vec<_> = runs.iter().filter(|r| r["mutation"] == "slow-answer").collect();
    assert_eq!(slow.len(), 4, "{m}");
    assert!(slow.iter().all(|r| r["ending"] == "typed-error" && r["error_kind"] == "unreachable"), "{m}");
    assert_eq!(code, Some(0), "every check passed");
    assert!(!stdout.contains("fixture-secret-7c1d9e42b8a3") && !stderr.contains("fixture-secret-7c1d9e42b8a3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_repeats_customers_fails_paging() {
    // Page 3 answers with page 2's customers (a Halo that ignores page_no).
    let dir = copy_fixtures();
    let p2 = std::fs::read_to_string(dir.path().join("003-clients-page2.toml")).unwrap();
    let p3_path = dir.path().join("004-clients-page3.toml");
    let p3 = std::fs::read_to_string(&p3_path).unwrap();
    let head = &p3[..p3.find("body = '''").unwrap()];
    std::fs::write(&p3_path, format!("{head}{}", body_of(&p2))).unwrap();
    let (code, stdout, stderr) = run_test(dir.path(), &["--no-mutations"]).await;
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    let line = stdout.lines().find(|l| l.contains(" paging-ends: ")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.starts_with("FAIL paging-ends: the import failed on page 3 after 6 customer(s)"), "{line}");
    assert!(line.contains("Page 3 held only customers already imported from earlier pages"), "{line}");
    // The other checks are not blamed.
    assert!(stdout.contains("PASS no-duplicates:") && stdout.contains("PASS allow-list:"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_the_import_loses_are_named() {
    // Halo's record_count says 6 of the 8 customers: the connector stops
    // after page 2, and the harness names what never arrived.
    let dir = copy_fixtures();
    for f in ["002-clients-page1.toml", "003-clients-page2.toml", "004-clients-page3.toml"] {
        let p = dir.path().join(f);
        let text = std::fs::read_to_string(&p).unwrap().replace("\"record_count\": 8", "\"record_count\": 6");
        std::fs::write(&p, text).unwrap();
    }
    let (code, stdout, stderr) = run_test(dir.path(), &["--no-mutations"]).await;
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    let line = stdout.lines().find(|l| l.contains(" none-lost: ")).unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(
        line,
        "FAIL none-lost: customer 18 (in 004-clients-page3.toml) never arrived, and that answer was never requested; \
         customer 21 (in 004-clients-page3.toml) never arrived, and that answer was never requested"
    );
    assert_eq!(stdout.lines().filter(|l| l.starts_with("FAIL ")).count(), 1, "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixtures_without_a_harness_table_are_refused() {
    let dir = copy_fixtures();
    let p = dir.path().join("connection.toml");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, &text[..text.find("[harness]").unwrap()]).unwrap();
    let (code, stdout, stderr) = run_test(dir.path(), &["--no-mutations"]).await;
    assert_eq!(code, Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("has no [harness] table; add one with customer_ids"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_in_any_output_fails_no_secrets_even_where_the_host_scrubs_it() {
    // The client secret in a customer's name (passed through as it is) and
    // as a tenant id (the connector's warning quotes it; the host scrubs
    // warnings, and the harness sees its `[redacted]` mark).
    let dir = copy_fixtures();
    let p = dir.path().join("002-clients-page1.toml");
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replacen("\"name\": \"Adventure LLC\"", "\"name\": \"Adventure LLC fixture-secret-7c1d9e42b8a3\"", 1)
        .replacen("\"azure_tenant_id\": \"1ed6af10-b865-4edd-9d04-3f7bd2e19339\"", "\"azure_tenant_id\": \"fixture-secret-7c1d9e42b8a3\"", 1);
    std::fs::write(&p, text).unwrap();
    let (code, stdout, stderr) = run_test(dir.path(), &["--no-mutations"]).await;
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    let line = stdout.lines().find(|l| l.contains(" no-secrets: ")).unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(
        line,
        "FAIL no-secrets: the full import: warning `invalid-tenant-id` on page 1 carried a configured secret (the host \
         replaced it by [redacted]); the full import: customer 24 contains the value of `client_secret`"
    );
    assert!(!stdout.contains("fixture-secret-7c1d9e42b8a3"), "the report itself names the field, never the value");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_no_fixture_answers_is_named() {
    let dir = copy_fixtures();
    std::fs::remove_file(dir.path().join("004-clients-page3.toml")).unwrap();
    let (code, stdout, stderr) = run_test(dir.path(), &["--no-mutations"]).await;
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    let line = stdout.lines().find(|l| l.contains(" fixtures-cover-requests: ")).unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(
        line,
        "FAIL fixtures-cover-requests: no fixture answers GET https://halo.example/api/Client?pageinate=true&page_size=3\
         &page_no=3&includeactive=true&includeinactive=true&includeazuretenants=true"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autotask_passes_the_harness_from_its_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugin/autotask/fixtures");
    let (code, stdout, stderr) = run_test(&dir, &["--connector", "autotask"]).await;
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("PASS ")).count(), 17, "{stdout}");
    assert!(stdout.contains("PASS typed-error-500: 500 on 002-companies-page1.toml gives upstream"), "{stdout}");
    // 9 mutations of each of the three answers (zone lookup and two pages).
    assert!(stdout.contains("mutations: 27 tried,") && stdout.contains(" 0 traps, 0 hangs"), "{stdout}");
    assert!(!stdout.contains("fixture-secret-2f7a61c0d94e") && !stderr.contains("fixture-secret-2f7a61c0d94e"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_of_the_wrong_kind_fails_its_typed_error_check() {
    // Without `auth = true` on the token exchange the harness answers the
    // token request itself; Halo's connector reports a 403 there as
    // `upstream` (a token endpoint's 403 names no permission), which the
    // typed-error check must call out as not `forbidden`.
    let dir = copy_fixtures();
    let p = dir.path().join("001-token.toml");
    std::fs::write(&p, std::fs::read_to_string(&p).unwrap().replace("\nauth = true\n", "\n")).unwrap();
    let (code, stdout, stderr) = run_test(dir.path(), &["--no-mutations"]).await;
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    let line = stdout.lines().find(|l| l.contains(" typed-error-403: ")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.starts_with("FAIL typed-error-403: 403 on 001-token.toml gives upstream instead of forbidden: "), "{line}");
    assert!(stdout.contains("PASS typed-error-401: 401 on 001-token.toml gives unauthorized"), "{stdout}");
}
