//! `psa-host import --record DIR` end to end: a real import against the
//! Halo simulator on loopback through the real sandbox, written as fixtures
//! that `psa-host test --fixtures DIR` (the bundled HaloPSA connector)
//! replays and passes; secrets and tokens scrubbed; the recording refused
//! when a secret would remain; a non-empty DIR refused. A submodule of
//! `cli.rs`, so no second test binary links wasmtime.

use super::{all_output, psa_host, s, write_config};
use halo_sim::{sample_customers, FaultKind, Faults, HaloSim, ScheduledFault, SimOptions};
use std::path::Path;

/// Every file of a directory, name and text, sorted.
fn files_of(dir: &Path) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), std::fs::read_to_string(e.path()).unwrap())
        })
        .collect();
    v.sort();
    v
}

/// 8 customers, 3 a page: the simulator the committed HaloPSA fixtures
/// came from.
async fn small_sim() -> HaloSim {
    HaloSim::start(SimOptions { customers: sample_customers(8, 7), page_cap: 3, ..Default::default() }).await.unwrap()
}

async fn record(sim: &HaloSim, dir: &Path, out: &Path) -> std::process::Output {
    record_with(sim, dir, out, &[]).await
}

/// [`record`] with more arguments; the import's output goes to
/// `dir/customers.json`.
async fn record_with(sim: &HaloSim, dir: &Path, out: &Path, more: &[&str]) -> std::process::Output {
    let cfg = write_config(dir, sim, Some(&sim.options().client_secret));
    let customers = dir.join("customers.json");
    let mut args = vec![
        "import", "--allow-loopback", "--config", cfg.to_str().unwrap(), "--output",
        customers.to_str().unwrap(), "--record", out.to_str().unwrap(),
    ];
    args.extend_from_slice(more);
    psa_host(s(&args), vec![]).await
}

/// Every check of the harness passes on the fixtures in `fx`.
async fn harness_passes(fx: &Path) {
    let out = psa_host(s(&["test", "--no-cache", "--fixtures", fx.to_str().unwrap(), "--format", "json"]), vec![]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let doc: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    for c in doc["checks"].as_array().unwrap() {
        assert_eq!(c["status"], "PASS", "{c}");
    }
    assert!(out.status.success(), "{stdout}");
}

/// The real proof: a recording of a real import passes every check of the
/// harness, and holds no secret, token or real origin. The simulator also
/// echoes the client secret in a header of every /api answer, which the
/// scrubber replaces by the fake value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_import_passes_the_harness_and_holds_no_secret_or_token() {
    let sim = small_sim().await;
    let secret = sim.options().client_secret;
    sim.set_faults(Faults { extra_headers: vec![("x-echo-client".into(), format!("secret={secret}"))], ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    let fx = dir.path().join("fixtures");
    let out = record(&sim, dir.path(), &fx).await;
    let printed = all_output(&out);
    assert!(out.status.success(), "{printed}");
    assert!(!printed.contains(&secret), "{printed}");
    assert!(printed.contains("recorded 4 exchange(s)"), "{printed}");
    // The hint names the connector the recording was made with.
    assert!(printed.contains("check them with: psa-host test --connector halopsa --fixtures "), "{printed}");

    let files = files_of(&fx);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["001-token.toml", "002-client.toml", "003-client-2.toml", "004-client-3.toml", "connection.toml"]);
    let port = |u: String| u.rsplit(':').next().unwrap().split('/').next().unwrap().to_string();
    let ports = [port(sim.auth_url()), port(sim.resource_url())];
    for (name, text) in &files {
        assert!(!text.contains(&secret), "{name} holds the secret:\n{text}");
        assert!(!text.contains("127.0.0.1") && !ports.iter().any(|p| text.contains(p.as_str())), "{name} names the real origin:\n{text}");
        assert!(!text.contains("Bearer "), "{name} holds a credential:\n{text}");
    }
    let text = |n: &str| files.iter().find(|(name, _)| name == n).unwrap().1.clone();
    let conn = text("connection.toml");
    assert!(conn.contains("client_secret = \"recorded-secret-client-secret\""), "{conn}");
    assert!(conn.contains("resource_server_url = \"https://halopsa.example/api\""), "{conn}");
    assert!(conn.contains("authorization_server_url = \"https://halopsa-2.example/auth\""), "{conn}");
    assert!(conn.contains("customer_ids = \"/clients/*/id\""), "{conn}");
    let token = text("001-token.toml");
    assert!(token.contains("auth = true"), "{token}");
    assert!(token.contains("\"access_token\": \"recorded-token-"), "the access token is a placeholder:\n{token}");
    assert!(token.contains("\"refresh_token\": \"recorded-token-"), "the refresh token is a placeholder:\n{token}");
    assert!(token.contains("body_contains = [\"grant_type=client_credentials\""), "{token}");
    let page = text("002-client.toml");
    assert!(!page.contains("auth = true"), "the first customer page is an API call:\n{page}");
    assert!(page.contains("authorization: [scrubbed]"), "{page}");
    assert!(page.contains("body = '''\n{\n  \"clients\": [\n"), "a JSON body is indented for the reader:\n{page}");
    assert!(page.contains("x-echo-client = \"secret=recorded-secret-client-secret\""), "{page}");

    // The recording replays: every check of the harness passes.
    let out = psa_host(s(&["test", "--no-cache", "--fixtures", fx.to_str().unwrap(), "--format", "json"]), vec![]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let doc: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    let checks = doc["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 17, "{stdout}");
    for c in checks {
        assert_eq!(c["status"], "PASS", "{c}");
    }
    assert!(out.status.success(), "{stdout}");
}

/// A secret the scrubber does not see (here base64-encoded inside a longer
/// text, in a header of the simulator's answers): nothing is written, and
/// the error names the exchange, the place and the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_the_scrubber_misses_refuses_the_whole_recording() {
    use base64::Engine as _;
    let sim = small_sim().await;
    let o = sim.options();
    let prefix = format!("{}@halo:", o.client_id); // 29 bytes: not a multiple of 3
    assert_ne!(prefix.len() % 3, 0, "the secret must sit at another alignment than its own encoding");
    let echoed = base64::engine::general_purpose::STANDARD.encode(format!("{prefix}{}", o.client_secret));
    sim.set_faults(Faults { extra_headers: vec![("x-request-echo".into(), echoed)], ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    let fx = dir.path().join("fixtures");
    let out = record(&sim, dir.path(), &fx).await;
    let printed = all_output(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    for want in [
        "the recording was refused and nothing was written",
        "002-client.toml",
        "`client_secret` (base64-encoded)",
        "the response header x-request-echo",
    ] {
        assert!(printed.contains(want), "no {want:?} in:\n{printed}");
    }
    assert!(!fx.exists(), "something was written");
    assert!(!dir.path().join("customers.json").exists(), "the import's output was written for a refused recording");
}

/// The host retries a page the PSA answered 503 once: the failed attempt
/// is left out (stderr says so), and the recording replays, where the
/// harness does not retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_the_host_retried_is_recorded_once_and_the_recording_replays() {
    let sim = small_sim().await;
    sim.set_faults(Faults { schedule: vec![ScheduledFault { nth: 2, kind: FaultKind::Unavailable }], ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    let fx = dir.path().join("fixtures");
    let out = record(&sim, dir.path(), &fx).await;
    let printed = all_output(&out);
    assert!(out.status.success(), "{printed}");
    assert_eq!(sim.requests().iter().filter(|r| r.fault.as_deref() == Some("unavailable")).count(), 1, "the fault was served");
    assert!(printed.contains("left out 1 failed attempt(s)"), "{printed}");
    assert!(printed.contains("recorded 4 exchange(s)"), "{printed}");
    assert!(files_of(&fx).iter().all(|(_, text)| !text.contains("status = 503")), "the failed attempt was kept");
    harness_passes(&fx).await;
}

/// A recording that is full (here: at most 2 exchanges, by the hidden
/// `--record-max-exchanges`) is refused, and nothing is written: neither
/// fixtures nor the import's output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_recording_is_refused_and_nothing_is_written() {
    let sim = small_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let fx = dir.path().join("fixtures");
    let out = record_with(&sim, dir.path(), &fx, &["--record-max-exchanges", "2"]).await;
    let printed = all_output(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    assert!(
        printed.contains("the recording was refused and nothing was written: the import made more requests than a recording holds (2 exchanges kept, 2 more not; at most 2 exchanges"),
        "{printed}"
    );
    assert!(!fx.exists(), "fixtures were written");
    assert!(!dir.path().join("customers.json").exists(), "the import's output was written");
}

/// An answer the connector did not read to its end (the hostile guest's
/// `fetch` mode reads only the status) refuses the recording, naming the
/// exchange; nothing is written, neither fixtures nor output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_not_read_to_its_end_refuses_the_recording() {
    let sim = small_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("hostile.toml");
    let target = format!("{}/Client", sim.resource_url());
    std::fs::write(&cfg, format!("target_url = \"{target}\"\nmode = \"fetch\"\nsecret = \"not-a-real-one\"\n")).unwrap();
    let fx = dir.path().join("fixtures");
    let customers = dir.path().join("customers.json");
    let args = [
        "import", "--allow-loopback", "--no-cache", "--plugin", super::test_guests::hostile(), "--config", cfg.to_str().unwrap(),
        "--output", customers.to_str().unwrap(), "--record", fx.to_str().unwrap(),
    ];
    let out = psa_host(s(&args), vec![]).await;
    let printed = all_output(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    assert!(printed.contains("the recording was refused and nothing was written: exchange 1 (GET /api/Client, HTTP"), "{printed}");
    assert!(printed.contains("was not read to its end"), "{printed}");
    assert!(!fx.exists(), "fixtures were written");
    assert!(!customers.exists(), "the import's output was written");
}

/// A write of the fixtures that fails part-way (here after two files, by
/// the debug builds' `PSA_HOST_TEST_RECORD_FAIL_AFTER`) leaves nothing:
/// neither DIR, nor the temporary directory beside it, nor the import's
/// output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_fails_part_way_leaves_nothing_in_the_record_directory() {
    let sim = small_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &sim, Some(&sim.options().client_secret));
    let fx = dir.path().join("fixtures");
    let customers = dir.path().join("customers.json");
    let args = [
        "import", "--allow-loopback", "--config", cfg.to_str().unwrap(), "--output", customers.to_str().unwrap(),
        "--record", fx.to_str().unwrap(),
    ];
    let out = psa_host(s(&args), vec![("PSA_HOST_TEST_RECORD_FAIL_AFTER", "2".to_string())]).await;
    let printed = all_output(&out);
    assert_eq!(out.status.code(), Some(2), "{printed}");
    assert!(printed.contains("a failure injected by PSA_HOST_TEST_RECORD_FAIL_AFTER; nothing was left in"), "{printed}");
    assert!(!fx.exists(), "a partial recording was left: {:?}", std::fs::read_dir(&fx).map(|d| d.count()));
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, [std::ffi::OsString::from("halo.toml")], "something besides the config was left");
}

/// A refusal names DIR escaped for the terminal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_record_directory_is_named_escaped() {
    let sim = small_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let fx = dir.path().join("fx\u{1b}[31mred");
    std::fs::create_dir(&fx).unwrap();
    std::fs::write(fx.join("notes.md"), "mine").unwrap();
    let out = record(&sim, dir.path(), &fx).await;
    let printed = all_output(&out);
    assert_eq!(out.status.code(), Some(2), "{printed}");
    assert!(printed.contains("is not empty"), "{printed}");
    assert!(!printed.contains('\u{1b}'), "an escape sequence reached the terminal: {printed:?}");
}

/// A directory that already holds a file is refused before anything is
/// sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_empty_record_directory_is_refused_before_any_request() {
    let sim = small_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let fx = dir.path().join("fixtures");
    std::fs::create_dir(&fx).unwrap();
    std::fs::write(fx.join("notes.md"), "mine").unwrap();
    let out = record(&sim, dir.path(), &fx).await;
    let printed = all_output(&out);
    assert_eq!(out.status.code(), Some(2), "{printed}");
    assert!(printed.contains("is not empty; record into a new or empty directory"), "{printed}");
    assert!(sim.requests().is_empty(), "{:?}", sim.requests());
    assert_eq!(files_of(&fx).len(), 1);
}

/// Autotask too: a zone lookup (marked `auth`, before the first customer
/// page), then the company pages; both secrets (the API user's secret and
/// the integration code, sent as headers) absent; the harness passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_autotask_import_passes_the_harness() {
    let opts = autotask_sim::SimOptions {
        zones_on_lookup_listener: true,
        page_cap: 5,
        companies: autotask_sim::sample_companies(12, 7),
        ..Default::default()
    };
    let sim = autotask_sim::AutotaskSim::start(opts).await.unwrap();
    let o = sim.options();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("at.toml");
    let text = format!(
        "username = \"{}\"\nsecret = \"{}\"\nintegration_code = \"{}\"\ntenant_udf = \"{}\"\nzone_lookup_url = \"{}\"\n",
        o.username,
        o.secret,
        o.integration_code,
        autotask_sim::TENANT_UDF,
        sim.lookup_url()
    );
    std::fs::write(&cfg, text).unwrap();
    let fx = dir.path().join("fixtures");
    let csv = dir.path().join("c.csv");
    let args = [
        "import", "--connector", "autotask", "--allow-loopback", "--format", "csv", "--output", csv.to_str().unwrap(),
        "--config", cfg.to_str().unwrap(), "--record", fx.to_str().unwrap(),
    ];
    let out = psa_host(s(&args), vec![]).await;
    let printed = all_output(&out);
    assert!(out.status.success(), "{printed}");
    let files = files_of(&fx);
    for (name, text) in &files {
        for secret in [&o.secret, &o.integration_code] {
            assert!(!text.contains(secret.as_str()), "{name} holds a secret:\n{text}");
        }
        assert!(!text.contains("127.0.0.1"), "{name} names the real origin:\n{text}");
    }
    let (first, text) = &files[0];
    assert!(first.starts_with("001-") && text.contains("auth = true"), "the zone lookup is marked auth: {first}\n{text}");
    let conn = &files.iter().find(|(n, _)| n == "connection.toml").unwrap().1;
    assert!(conn.contains("customer_ids = \"/items/*/id\""), "{conn}");

    let out = psa_host(
        s(&["test", "--no-cache", "--connector", "autotask", "--fixtures", fx.to_str().unwrap(), "--format", "json"]),
        vec![],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let doc: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    for c in doc["checks"].as_array().unwrap() {
        assert_eq!(c["status"], "PASS", "{c}\n{}", files.iter().map(|(n, t)| format!("== {n}\n{t}")).collect::<String>());
    }
    assert!(out.status.success(), "{stdout}");
}
