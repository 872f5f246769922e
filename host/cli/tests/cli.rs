//! The `psa-host` binary end to end against the simulator: output formats,
//! exit codes, progress, and the client secret absent from every byte it
//! prints.

use halo_sim::{sample_customers, Faults, HaloSim, SimOptions};
use std::path::Path;
use std::process::{Command, Output};

mod harness;
mod record;
mod new_project;

const BIN: &str = env!("CARGO_BIN_EXE_psa-host");

/// The test connectors the CLI's tests run with `--plugin`: the
/// contract-version connectors `tests/guests/tickets-v0_2_0` and the frozen
/// `tests/guests/frozen-v0_1_0` (`ticket ...`, `import --since`, `info`),
/// and the template with six deliberate bugs `tests/guests/buggy-template`
/// (`psa-host test`, in `harness`).
///
/// Built here, at test time, once per test binary, into `<target>/guests`
/// beside the bundled connectors (one cargo run for the three; a no-op when
/// they are up to date). Not by a build script: building or installing the
/// CLI (`cargo install --path host/cli`) must not build its test suite. A
/// failed build fails every test that needs them, with cargo's output and
/// the sentence from `build_guests_into`.
mod test_guests {
    #![allow(dead_code)]
    include!("../../../build-support/guests.rs");

    use std::sync::OnceLock;

    const PACKAGES: [&str; 4] = ["tickets-v0_2_0-guest", "frozen-v0_1_0-guest", "buggy-template-guest", "hostile-guest"];

    /// `.wasm` paths, in the order of `PACKAGES`.
    fn built() -> &'static [String] {
        static BUILT: OnceLock<Result<Vec<String>, String>> = OnceLock::new();
        match BUILT.get_or_init(build) {
            Ok(paths) => paths,
            Err(e) => panic!("the CLI's test connectors could not be built: {e}"),
        }
    }

    fn build() -> Result<Vec<String>, String> {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        ensure_guest_target(false)?;
        let target = target_dir(&workspace)?.join("guests");
        let wasm = build_guests_into(&workspace, &target, &PACKAGES)?;
        wasm.into_iter()
            .map(|p| match p.is_file() {
                true => p.to_str().map(str::to_string).ok_or_else(|| format!("{} is not UTF-8", p.display())),
                false => Err(format!("cargo built {PACKAGES:?} but left no {}", p.display())),
            })
            .collect()
    }

    /// The workspace's target directory: the first folder above this test
    /// binary (`<target>[/<triple>]/<profile>/deps/cli-<hash>`) that cargo
    /// marked as one (`CACHEDIR.TAG`); else an absolute `CARGO_TARGET_DIR`,
    /// else `<workspace>/target`.
    fn target_dir(workspace: &Path) -> Result<PathBuf, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find this test binary's path: {e}"))?;
        if let Some(t) = exe.ancestors().skip(2).find(|d| d.join("CACHEDIR.TAG").is_file()) {
            return Ok(t.to_path_buf());
        }
        match std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
            Some(t) if t.is_absolute() => Ok(t),
            _ => Ok(workspace.join("target")),
        }
    }

    pub fn tickets_v0_2_0() -> &'static str {
        &built()[0]
    }

    pub fn frozen_v0_1_0() -> &'static str {
        &built()[1]
    }

    pub fn buggy_template() -> &'static str {
        &built()[2]
    }

    /// The conformance suite's hostile connector (its `fetch` mode reads
    /// only an answer's status).
    pub fn hostile() -> &'static str {
        &built()[3]
    }
}

fn write_config(dir: &Path, sim: &HaloSim, secret: Option<&str>) -> std::path::PathBuf {
    let o = sim.options();
    let secret_line = match secret {
        Some(s) => format!("client_secret = \"{s}\""),
        None => "client_secret_env = \"TEST_HALO_SECRET\"".to_string(),
    };
    let text = format!(
        "resource_server_url = \"{}\"\nauthorization_server_url = \"{}\"\nclient_id = \"{}\"\n{secret_line}\n",
        sim.resource_url(),
        sim.auth_url(),
        o.client_id
    );
    let p = dir.join("halo.toml");
    std::fs::write(&p, text).unwrap();
    p
}

async fn psa_host(args: Vec<String>, env: Vec<(&'static str, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut c = Command::new(BIN);
        c.args(&args);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().expect("run psa-host")
    })
    .await
    .unwrap()
}

/// `psa-host import --format csv --output CSV --config CFG` on loopback.
async fn import_csv(cfg: &Path, csv: &Path) -> Output {
    let args = ["import", "--allow-loopback", "--format", "csv", "--output", csv.to_str().unwrap(), "--config", cfg.to_str().unwrap()];
    psa_host(s(&args), vec![]).await
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn all_output(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_json_has_exactly_the_documented_keys_and_no_secret() {
    let sim = HaloSim::start(SimOptions { customers: sample_customers(321, 9), ..Default::default() }).await.unwrap();
    let secret = sim.options().client_secret;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &sim, None);
    let out = psa_host(
        s(&["--log", "trace", "import", "--allow-loopback", "--format", "json", "--config", cfg.to_str().unwrap()]),
        vec![("TEST_HALO_SECRET", secret.clone())],
    )
    .await;
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(!all_output(&out).contains(&secret), "the client secret was printed");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    let keys: Vec<&str> = doc.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(keys, ["customers", "warnings"]);
    let customers = doc["customers"].as_array().unwrap();
    assert_eq!(customers.len(), 321);
    let mut want = ["active", "domains", "id", "m365_tenants", "name", "parent_id", "parent_name", "website"];
    want.sort();
    for c in customers {
        let mut k: Vec<&str> = c.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        k.sort();
        assert_eq!(k, want);
        for t in c["m365_tenants"].as_array().unwrap() {
            let mut tk: Vec<&str> = t.as_object().unwrap().keys().map(|k| k.as_str()).collect();
            tk.sort();
            assert_eq!(tk, ["domain", "name", "tenant_id"]);
        }
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("imported 321 customers"), "{stderr}");
    assert!(stderr.contains("with a Microsoft 365 tenant"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_and_csv() {
    let sim = HaloSim::start(SimOptions { customers: sample_customers(120, 4), ..Default::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &sim, Some(&sim.options().client_secret));
    let out = psa_host(s(&["import", "--allow-loopback", "--format", "ndjson", "--config", cfg.to_str().unwrap()]), vec![]).await;
    assert!(out.status.success(), "{}", all_output(&out));
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), 120);
    for l in &lines {
        serde_json::from_str::<serde_json::Value>(l).expect("each line is JSON");
    }
    let csv_path = dir.path().join("out.csv");
    let out = import_csv(&cfg, &csv_path).await;
    assert!(out.status.success(), "{}", all_output(&out));
    let mut r = csv::Reader::from_path(&csv_path).unwrap();
    assert_eq!(r.headers().unwrap().iter().collect::<Vec<_>>(), ["id", "name", "active", "parent_id", "parent_name", "website", "domains", "m365_tenants"]);
    assert_eq!(r.records().count(), 120, "names with commas and quotes must not break rows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_with_a_wrong_secret_fails_with_exit_1_and_says_why() {
    let sim = HaloSim::start(SimOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wrong = "definitely-wrong-secret-42";
    let cfg = write_config(dir.path(), &sim, Some(wrong));
    let out = psa_host(s(&["check", "--allow-loopback", "--config", cfg.to_str().unwrap()]), vec![]).await;
    let text = all_output(&out);
    println!("{text}");
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("PASS") && text.contains("FAIL") && text.contains("SKIP"), "{text}");
    assert!(text.contains("Client Secret"), "{text}");
    assert!(!text.contains(wrong), "the secret was printed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_import_writes_no_output_file() {
    let sim = HaloSim::start(SimOptions { customers: sample_customers(250, 1), ..Default::default() }).await.unwrap();
    sim.set_faults(Faults { html_login_page: true, ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &sim, Some(&sim.options().client_secret));
    let target = dir.path().join("customers.json");
    let out = psa_host(
        s(&["import", "--allow-loopback", "--output", target.to_str().unwrap(), "--config", cfg.to_str().unwrap()]),
        vec![],
    )
    .await;
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("no output was written"), "{text}");
    assert!(!target.exists(), "an output file was written for a failed import");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_allow_loopback_the_simulator_is_refused() {
    let sim = HaloSim::start(SimOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &sim, Some(&sim.options().client_secret));
    let out = psa_host(s(&["check", "--config", cfg.to_str().unwrap()]), vec![]).await;
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("only https"), "{text}");
    assert!(sim.requests().is_empty(), "a request reached the simulator");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_errors_name_the_field_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(&p, "resource_server_url = \"https://a.halopsa.com\"\nclient_sercet = \"x\"\n").unwrap();
    let out = psa_host(s(&["check", "--config", p.to_str().unwrap()]), vec![]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(all_output(&out).contains("unknown key `client_sercet`"), "{}", all_output(&out));
    std::fs::write(&p, "resource_server_url = \"https://a.halopsa.com\"\n").unwrap();
    let out = psa_host(s(&["check", "--config", p.to_str().unwrap()]), vec![]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(all_output(&out).contains("required field `authorization_server_url`"), "{}", all_output(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_lists_the_halo_fields() {
    let out = psa_host(s(&["info"]), vec![]).await;
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for f in ["resource_server_url", "authorization_server_url", "client_id", "client_secret", "tenant", "scope", "include_inactive"] {
        assert!(text.contains(f), "{f} missing from {text}");
    }
    assert!(text.contains("optimize365:psa-connector@0.2.0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_prints_customers_with_tenants() {
    let out = psa_host(s(&["demo"]), vec![]).await;
    let text = all_output(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("250 customers"), "{text}");
    assert!(text.contains(".onmicrosoft.com"), "no tenant domains shown: {text}");
    assert!(!text.contains(&SimOptions::default().client_secret), "demo printed the secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectors_lists_both_bundled_connectors_with_their_hashes() {
    let out = psa_host(s(&["connectors"]), vec![]).await;
    let text = all_output(&out);
    assert!(out.status.success(), "{text}");
    for id in ["halopsa", "autotask"] {
        let line = text.lines().find(|l| l.starts_with(id)).unwrap_or_else(|| panic!("{id} missing: {text}"));
        let hash = line.split_whitespace().last().unwrap();
        assert!(hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()), "{line}");
        assert!(line.contains("0.1.0"), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_the_autotask_connector_against_its_simulator() {
    let out = psa_host(s(&["demo", "--connector", "autotask"]), vec![]).await;
    let text = all_output(&out);
    assert!(out.status.success(), "{text}");
    let active = autotask_sim::sample_companies(1200, 7).iter().filter(|c| c.is_active_customer()).count();
    assert!(text.contains(&format!("imported {active} customers")), "{text}");
    let o = autotask_sim::SimOptions::default();
    assert!(!text.contains(&o.secret) && !text.contains(&o.integration_code), "demo printed a secret");
    // --connector picks the bundled component for the other commands too.
    let info = psa_host(s(&["info", "--connector", "autotask"]), vec![]).await;
    assert!(String::from_utf8_lossy(&info.stdout).contains("zone_lookup_url"), "{}", all_output(&info));
}

/// `psa-host import --connector autotask --config at.toml` against the
/// Autotask simulator on loopback (its zones on the zone-lookup listener, the
/// form's URL, which `--allow-loopback` admits, as `demo --connector autotask`
/// does), 1,200 companies under a page cap of 100: the CSV holds every active
/// customer once, each with its tenant link; the secret is read from the
/// environment and printed nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_connector_autotask_with_a_config_file_writes_every_active_customer_with_tenant_links() {
    use std::collections::{BTreeMap, BTreeSet};
    let opts = autotask_sim::SimOptions { zones_on_lookup_listener: true, page_cap: 100, ..Default::default() };
    let sim = autotask_sim::AutotaskSim::start(opts).await.unwrap();
    let o = sim.options();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("at.toml");
    let text = format!(
        "username = \"{}\"\nsecret_env = \"TEST_AT_SECRET\"\nintegration_code_env = \"TEST_AT_CODE\"\ntenant_udf = \"{}\"\nzone_lookup_url = \"{}\"\n",
        o.username,
        autotask_sim::TENANT_UDF,
        sim.lookup_url()
    );
    std::fs::write(&cfg, text).unwrap();
    let csv_path = dir.path().join("customers.csv");
    let args = [
        "import", "--connector", "autotask", "--allow-loopback", "--format", "csv", "--output", csv_path.to_str().unwrap(), "--config",
        cfg.to_str().unwrap(),
    ];
    let out = psa_host(s(&args), vec![("TEST_AT_SECRET", o.secret.clone()), ("TEST_AT_CODE", o.integration_code.clone())]).await;
    let printed = all_output(&out);
    assert!(out.status.success(), "{printed}");
    assert!(!printed.contains(&o.secret) && !printed.contains(&o.integration_code), "a secret was printed");

    // The oracle: active customers, a GUID in the tenant UDF unless another active customer has it too.
    let active: Vec<_> = o.companies.iter().filter(|c| c.is_active_customer()).collect();
    let mut owners: BTreeMap<String, usize> = BTreeMap::new();
    for c in &active {
        if let Some(g) = c.tenant_guid() {
            *owners.entry(g).or_default() += 1;
        }
    }
    let want: BTreeMap<String, BTreeSet<String>> = active
        .iter()
        .map(|c| (c.id.to_string(), c.tenant_guid().filter(|g| owners[g] == 1).into_iter().collect()))
        .collect();
    let mut r = csv::Reader::from_path(&csv_path).unwrap();
    assert_eq!(r.headers().unwrap().iter().collect::<Vec<_>>(), ["id", "name", "active", "parent_id", "parent_name", "website", "domains", "m365_tenants"]);
    let mut got: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut rows = 0;
    for rec in r.records() {
        let rec = rec.unwrap();
        rows += 1;
        let tenants = rec[7].split(';').filter(|t| !t.is_empty()).map(|t| t.split('|').next().unwrap().to_string()).collect();
        assert!(got.insert(rec[0].to_string(), tenants).is_none(), "customer {} twice", &rec[0]);
        assert_eq!(&rec[2], "true", "only active customers");
    }
    assert_eq!(rows, want.len());
    assert_eq!(got, want, "every active customer once, with its tenant link");
    assert!(want.values().filter(|t| !t.is_empty()).count() > 100, "the data has tenant links to check");
    // One zone lookup, then one request a page.
    let pages = want.len().div_ceil(100);
    assert_eq!(sim.requests().len(), 1 + pages, "{:#?}", sim.requests());
}

/// PEM text of a DER certificate (base64 in 64-column lines).
fn pem(der: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_cert_makes_a_private_ca_instance_importable() {
    let (tls, ca_der) = halo_sim::test_ca(&["localhost"]);
    let sim = HaloSim::start(SimOptions { tls: Some(tls), customers: sample_customers(40, 2), ..Default::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &sim, Some(&sim.options().client_secret));
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pem(&ca_der)).unwrap();
    let without = psa_host(s(&["import", "--allow-loopback", "--config", cfg.to_str().unwrap()]), vec![]).await;
    assert_eq!(without.status.code(), Some(1), "{}", all_output(&without));
    assert!(all_output(&without).contains("not trusted"), "{}", all_output(&without));
    let with = psa_host(
        s(&["import", "--allow-loopback", "--ca-cert", ca.to_str().unwrap(), "--config", cfg.to_str().unwrap()]),
        vec![],
    )
    .await;
    assert!(with.status.success(), "{}", all_output(&with));
    assert!(String::from_utf8_lossy(&with.stderr).contains("imported 40 customers"), "{}", all_output(&with));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_sha256_refuses_a_different_component() {
    let out = psa_host(s(&["info", "--plugin-sha256", &"ab".repeat(32)]), vec![]).await;
    assert_eq!(out.status.code(), Some(4), "{}", all_output(&out));
    assert!(all_output(&out).contains("was pinned"), "{}", all_output(&out));
    let right = psa_host::sha256_hex_of(psa_host::bundled::HALOPSA);
    let out = psa_host(s(&["info", "--plugin-sha256", &right]), vec![]).await;
    assert!(out.status.success(), "{}", all_output(&out));
}

/// Customer names that attack whoever opens the output: a spreadsheet
/// formula, and control characters that forge lines or drive a terminal.
const FORMULA: &str = "=HYPERLINK(\"http://evil.example\",\"x\")";
const CONTROL: &str = "Evil\nName\r\x1b[31mred\u{202e}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_cells_are_not_formulas_and_printed_text_has_no_control_characters() {
    let mut customers = sample_customers(5, 3);
    customers[0].name = FORMULA.to_string();
    customers[1].name = CONTROL.to_string();
    customers[1].website = Some("-cmd|' /C calc'!A0".to_string());
    // A tenant link that is not a GUID: its warning quotes the name and the id.
    customers[1].tenants = vec![halo_sim::SimTenant { id: "not-a-guid\x1b[2J".to_string(), name: None, domain: None }];
    let (formula_id, control_id) = (customers[0].id.to_string(), customers[1].id.to_string());
    let sim = HaloSim::start(SimOptions { customers, ..Default::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &sim, Some(&sim.options().client_secret));
    let csv_path = dir.path().join("out.csv");
    let out = import_csv(&cfg, &csv_path).await;
    assert!(out.status.success(), "{}", all_output(&out));

    // CSV: the formula starts with a quote; the data is otherwise intact.
    let mut r = csv::Reader::from_path(&csv_path).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
    let row = |id: &str| rows.iter().find(|r| &r[0] == id).unwrap_or_else(|| panic!("no row {id}")).clone();
    assert_eq!(&row(&formula_id)[1], format!("'{FORMULA}"));
    assert_eq!(&row(&control_id)[1], CONTROL, "CSV quoting keeps the name as it is");
    assert!(row(&control_id)[5].starts_with("'-cmd"), "{:?}", row(&control_id));
    for r in &rows {
        for cell in r.iter() {
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "a formula-like cell: {cell:?}");
        }
    }

    // Human output (stderr: progress, summary, warnings): escaped.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Evil\\nName\\r\\u{1b}[31mred\\u{202e}"), "the name is not shown escaped:\n{stderr}");
    assert!(stderr.contains("not-a-guid\\u{1b}[2J"), "the tenant id is not shown escaped:\n{stderr}");
    for bad in ['\x1b', '\r', '\u{202e}'] {
        assert!(!stderr.contains(bad), "a raw {bad:?} reached stderr:\n{stderr}");
    }
    assert!(!stderr.contains("\nName"), "a PSA-made line break reached stderr:\n{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_shows_the_declared_hosts_fixed_at_load() {
    let out = psa_host(s(&["info"]), vec![]).await;
    assert!(out.status.success(), "{}", all_output(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("declared hosts (fixed at load, besides the URL fields): none"), "{text}");
    let out = psa_host(s(&["info", "--json"]), vec![]).await;
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["allowed_hosts"], serde_json::json!([]));
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_directory_others_can_write_stops_the_cli_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = psa_host(s(&["info", "--cache-dir", cache.to_str().unwrap()]), vec![]).await;
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains(&format!("chmod 700 {}", cache.display())) && text.contains("--no-cache"), "{text}");
    // No HOME and no XDG_CACHE_HOME: no cache at all, never a shared one
    // in the temporary directory.
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let t = tmp.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN).args(["--log", "info", "info"]).env_clear().env("TMPDIR", &t).output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(all_output(&out).contains("compiled connectors are not cached"), "{}", all_output(&out));
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "something was cached in the temporary directory");
}

/// The CLI's progress module, compiled in here to test its plain lines
/// with text no simulator sends.
#[allow(dead_code)]
#[path = "../src/progress.rs"]
mod progress;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piped_progress_is_plain_lines_with_the_total_and_the_rate_limit_wait() {
    let sim = HaloSim::start(SimOptions { customers: sample_customers(250, 5), ..Default::default() }).await.unwrap();
    // The first page is refused for the rate limit; Halo asks for one second.
    sim.set_faults(Faults { rate_limit_next: 1, retry_after: Some(1), ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &sim, Some(&sim.options().client_secret));
    let out = psa_host(s(&["import", "--allow-loopback", "--format", "ndjson", "--config", cfg.to_str().unwrap()]), vec![]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(!stderr.contains(['\r', '\x1b']), "a carriage return or an escape sequence in piped stderr:\n{stderr:?}");
    let lines: Vec<&str> = stderr.lines().collect();
    let wait = lines
        .iter()
        .find(|l| l.starts_with("importing: 0 customers so far; waiting for the PSA's rate limit (HTTP 429) until "))
        .unwrap_or_else(|| panic!("no line for the rate-limit wait:\n{stderr}"));
    assert!(wait.contains(" UTC, retry 1 (in "), "{wait}");
    for want in ["importing: page 1, 100 customers of 250", "importing: page 3, 250 customers of 250"] {
        assert!(lines.iter().any(|l| l.starts_with(want)), "no line starting {want:?}:\n{stderr}");
    }
    // Rate and time left, once a page has come (the simulator serves 100 a page).
    let second = lines.iter().find(|l| l.starts_with("importing: page 2,")).unwrap();
    assert!(second.contains("/s, ETA "), "no rate or ETA in {second:?}");
    assert!(stderr.contains("imported 250 customers"), "{stderr}");
}

#[test]
fn a_wait_reason_from_the_connector_is_escaped_in_the_progress_line() {
    let p = psa_host::Progress {
        pages: 2,
        fetched: 2000,
        total: None,
        waiting: Some(psa_host::Waiting {
            until: std::time::SystemTime::now() + std::time::Duration::from_secs(5),
            rate_limit: false,
            reason: "HTTP 502 from /api/Client\r\x1b[2Jforged\u{202e}".to_string(),
            attempt: 2,
        }),
    };
    let line = progress::plain_line(&p, 0.0, None);
    assert!(line.contains("retrying after HTTP 502 from /api/Client\\r\\u{1b}[2Jforged\\u{202e} at "), "{line}");
    assert!(line.contains(" UTC, retry 2 (in "), "{line}");
    assert!(!line.contains(['\r', '\x1b', '\u{202e}', '\n']), "{line:?}");
}

// ---- tickets and incremental imports, on the contract-version test
// connectors (tests/guests/tickets-v0_2_0, tests/guests/frozen-v0_1_0) and
// the mini PSA they talk to.

#[path = "../../../tests/guests/mini-psa.rs"]
mod mini_psa;

use test_guests::{frozen_v0_1_0 as frozen_wasm, tickets_v0_2_0 as tickets_wasm};

/// A config file for the test connectors: `base_url` plus `extra` lines.
fn mini_config(dir: &Path, psa: &mini_psa::MiniPsa, extra: &str) -> std::path::PathBuf {
    let p = dir.join("mini.toml");
    std::fs::write(&p, format!("base_url = \"{}\"\n{extra}", psa.base_url())).unwrap();
    p
}

/// `psa-host <cmd...> --allow-loopback --no-cache --plugin WASM --config CFG <rest...>`.
fn on_plugin(cmd: &[&str], wasm: &str, cfg: &Path, rest: &[&str]) -> Vec<String> {
    let mut a = s(cmd);
    a.extend(s(&["--allow-loopback", "--no-cache", "--plugin", wasm, "--config", cfg.to_str().unwrap()]));
    a.extend(s(rest));
    a
}

const OPEN: [&str; 2] = ["ticket", "open"];
const FINDING: [&str; 10] =
    ["--customer", "C2", "--summary", "MFA disabled", "--details", "3 admins without MFA", "--key", "m365:mfa:C2", "--priority", "10"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_open_twice_with_one_key_creates_then_notes_and_prints_id_number_and_link() {
    let psa = mini_psa::MiniPsa::start(5);
    let dir = tempfile::tempdir().unwrap();
    let cfg = mini_config(dir.path(), &psa, "");
    let first = psa_host(on_plugin(&OPEN, tickets_wasm(), &cfg, &FINDING), vec![]).await;
    assert!(first.status.success(), "{}", all_output(&first));
    let text = String::from_utf8_lossy(&first.stdout).to_string();
    assert!(text.starts_with("created: a new ticket was opened\n"), "{text}");
    assert!(text.contains("ticket id: 1001\n") && text.contains("number:    T-0001\n"), "{text}");
    assert!(text.contains(&format!("link:      {}/tickets/1001\n", psa.base_url())), "{text}");

    let second = psa_host(on_plugin(&OPEN, tickets_wasm(), &cfg, &FINDING), vec![]).await;
    assert!(second.status.success(), "{}", all_output(&second));
    let text = String::from_utf8_lossy(&second.stdout).to_string();
    assert!(text.starts_with("noted on existing ticket: an open ticket had this key; note 1001-1 was added to it\n"), "{text}");
    assert!(text.contains("ticket id: 1001\n"), "{text}");
    let tickets = psa.tickets();
    assert_eq!(tickets.len(), 1, "one ticket for one key");
    assert_eq!(tickets[0].body["priority"], "10");
    assert_eq!(tickets[0].notes.len(), 1);
    assert_eq!(tickets[0].notes[0]["private"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_open_refuses_a_bad_key_and_a_0_1_0_connector_with_exit_2() {
    let psa = mini_psa::MiniPsa::start(5);
    let dir = tempfile::tempdir().unwrap();
    let cfg = mini_config(dir.path(), &psa, "");
    let mut bad = FINDING;
    bad[7] = "has space";
    let out = psa_host(on_plugin(&OPEN, tickets_wasm(), &cfg, &bad), vec![]).await;
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    assert!(all_output(&out).contains("--key: the deduplication key contains ' '"), "{}", all_output(&out));
    let out = psa_host(on_plugin(&OPEN, frozen_wasm(), &cfg, &FINDING), vec![]).await;
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    assert!(all_output(&out).contains("capability not offered by this connector (contract 0.1.0)"), "{}", all_output(&out));
    assert!(psa.requests().is_empty(), "{:?}", psa.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_output_from_the_connector_is_escaped() {
    let psa = mini_psa::MiniPsa::start(5);
    let dir = tempfile::tempdir().unwrap();
    let cfg = mini_config(dir.path(), &psa, "behaviour = \"control-chars\"\n");
    let out = psa_host(on_plugin(&OPEN, tickets_wasm(), &cfg, &FINDING), vec![]).await;
    assert!(out.status.success(), "{}", all_output(&out));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!text.contains('\u{1b}') && !text.contains("\nforged"), "{text:?}");
    assert!(text.contains("number:    T-1\\u{1b}[31m\\nforged line\n"), "{text}");
    let out = psa_host(on_plugin(&["ticket", "options"], tickets_wasm(), &cfg, &[]), vec![]).await;
    assert!(out.status.success(), "{}", all_output(&out));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains("\nforged"), "{text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_options_lists_each_kind_as_a_table() {
    let psa = mini_psa::MiniPsa::start(5);
    let dir = tempfile::tempdir().unwrap();
    let cfg = mini_config(dir.path(), &psa, "");
    let out = psa_host(on_plugin(&["ticket", "options"], tickets_wasm(), &cfg, &[]), vec![]).await;
    assert!(out.status.success(), "{}", all_output(&out));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["kind", "id", "default", "name"]);
    assert!(rows.contains(&vec!["ticket-type", "1", "yes", "Incident"]), "{text}");
    assert!(rows.contains(&vec!["priority", "10", "P1", "Critical"]), "{text}");
    assert!(rows.contains(&vec!["priority", "20", "yes", "P3", "Normal"]), "{text}");
    assert!(rows.contains(&vec!["outcome", "n1", "yes", "Private", "Note"]), "{text}");
    let out = psa_host(on_plugin(&["ticket", "options"], tickets_wasm(), &cfg, &["--kind", "priority"]), vec![]).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3, "{}", all_output(&out));
    // A kind the connector does not list: exit 2, nothing asked of the PSA.
    let before = psa.requests().len();
    let out = psa_host(on_plugin(&["ticket", "options"], tickets_wasm(), &cfg, &["--kind", "queue"]), vec![]).await;
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    assert!(all_output(&out).contains("capability not offered by this connector (contract 0.2.0)"), "{}", all_output(&out));
    // A connector without ticket options at all says so, also without --kind.
    let out = psa_host(on_plugin(&["ticket", "options"], frozen_wasm(), &cfg, &[]), vec![]).await;
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    assert!(all_output(&out).contains("capability not offered by this connector (contract 0.1.0)"), "{}", all_output(&out));
    assert_eq!(psa.requests().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_since_reads_only_the_changed_or_says_it_fell_back() {
    let psa = mini_psa::MiniPsa::start(120);
    let dir = tempfile::tempdir().unwrap();
    let cfg = mini_config(dir.path(), &psa, "");
    // 1_700_000_111 = 2023-11-14T22:15:11Z: customers C111..C120 changed since.
    for since in ["2023-11-14T22:15:11Z", "2023-11-14T23:15:11+01:00", "1700000111"] {
        let out = psa_host(on_plugin(&["import"], tickets_wasm(), &cfg, &["--format", "ndjson", "--since", since]), vec![]).await;
        assert!(out.status.success(), "{since}: {}", all_output(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 10, "{since}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("read: only the customers changed since 1700000111"), "{since}: {err}");
    }
    let out = psa_host(on_plugin(&["import"], frozen_wasm(), &cfg, &["--format", "ndjson", "--since", "1700000111"]), vec![]).await;
    assert!(out.status.success(), "{}", all_output(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 120, "every customer");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("read: every customer, not only those changed since 1700000111: fell back to a full import because the connector was built against contract 0.1.0"), "{err}");
    for bad in ["yesterday", "2023-11-14", "1969-12-31T23:59:59Z", "99999999999999999999999"] {
        let out = psa_host(on_plugin(&["import"], tickets_wasm(), &cfg, &["--since", bad]), vec![]).await;
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", all_output(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--since"), "{bad}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_shows_the_budget_option_kinds_and_field_choices() {
    let out = psa_host(s(&["info", "--no-cache", "--plugin", tickets_wasm()]), vec![]).await;
    assert!(out.status.success(), "{}", all_output(&out));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("contract: optimize365:psa-connector@0.2.0"), "{text}");
    assert!(text.contains("request budget (declared; the host also keeps its own): 5 requests per 2 s, at most 2 at once"), "{text}");
    assert!(text.contains("ticket option kinds: ticket-type, priority, outcome"), "{text}");
    assert!(text.contains("choice javascript-url"), "{text}");
    assert!(text.contains("a whole number from 1 to 1000"), "{text}");
    let json = psa_host(s(&["info", "--json", "--no-cache", "--plugin", tickets_wasm()]), vec![]).await;
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["budget"]["requests"], 5);
    assert_eq!(doc["ticket_option_kinds"][2], "outcome");
    let out = psa_host(s(&["info", "--no-cache", "--plugin", frozen_wasm()]), vec![]).await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("request budget: none declared") && text.contains("ticket option kinds: none"), "{text}");
}

// ---- tickets on the bundled connectors, against the two simulators: the
// CLI session the issue asks for (open, run again with the same key: a note
// on the first ticket, not a second ticket).

/// `psa-host ticket open --config CFG --connector ID --allow-loopback` plus `rest`.
fn open_on(connector: &str, cfg: &Path, rest: &[&str]) -> Vec<String> {
    let mut a = s(&OPEN);
    a.extend(s(&["--connector", connector, "--allow-loopback", "--no-cache", "--config", cfg.to_str().unwrap()]));
    a.extend(s(rest));
    a
}

/// The value after `label` on its line of `text` (`ticket id: 7` -> `7`).
fn printed<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines().find_map(|l| l.strip_prefix(label)).map(str::trim).unwrap_or_else(|| panic!("no {label:?} in {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_open_on_halo_creates_once_then_notes_the_same_ticket() {
    let sim = HaloSim::start(SimOptions { customers: sample_customers(5, 1), ..Default::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &sim, None);
    let customer = sim.options().customers[0].id.to_string();
    let finding = ["--customer", &customer, "--summary", "MFA disabled for 3 admins", "--details", "Three global admins sign in without MFA.", "--key", "m365:mfa-admins"];
    let secret = sim.options().client_secret;
    let env = || vec![("TEST_HALO_SECRET", secret.clone())];

    let first = psa_host(open_on("halopsa", &cfg, &finding), env()).await;
    let text = String::from_utf8_lossy(&first.stdout).to_string();
    assert!(first.status.success(), "{}", all_output(&first));
    assert!(text.starts_with("created: a new ticket was opened\n"), "{text}");
    let id = printed(&text, "ticket id:").to_string();
    assert!(printed(&text, "link:").ends_with(&format!("/tickets?id={id}")), "{text}");

    let second = psa_host(open_on("halopsa", &cfg, &finding), env()).await;
    let again = String::from_utf8_lossy(&second.stdout).to_string();
    assert!(second.status.success(), "{}", all_output(&second));
    assert!(again.starts_with("noted on existing ticket"), "{again}");
    assert_eq!(printed(&again, "ticket id:"), id, "the note went to the first ticket");
    assert_eq!(sim.live_tickets().len(), 1, "one ticket for one key");
    let ticket = &sim.live_tickets()[0];
    assert_eq!(ticket["third_party_id_string"], "m365:mfa-admins", "the key is stored in Halo");
    let actions = sim.actions();
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(actions[0]["ticket_id"].to_string(), id);
    assert_eq!(actions[0]["hiddenfromuser"], true, "a private note");
    for o in [&first, &second] {
        assert!(!all_output(o).contains(&secret), "the secret was printed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_open_on_autotask_creates_once_then_notes_the_same_ticket() {
    let opts = autotask_sim::SimOptions { zones_on_lookup_listener: true, ..Default::default() };
    let sim = autotask_sim::AutotaskSim::start(opts).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("at.toml");
    let mut text = String::new();
    for (k, v) in sim.connection_form() {
        match k.as_str() {
            "secret" => text.push_str("secret_env = \"TEST_AT_SECRET\"\n"),
            "integration_code" => text.push_str("integration_code_env = \"TEST_AT_CODE\"\n"),
            _ => text.push_str(&format!("{k} = \"{v}\"\n")),
        }
    }
    text.push_str(&format!("zone_lookup_url = \"{}\"\n", sim.lookup_url()));
    std::fs::write(&cfg, text).unwrap();
    let o = sim.options();
    let env = || vec![("TEST_AT_SECRET", o.secret.clone()), ("TEST_AT_CODE", o.integration_code.clone())];
    let company = o.companies.iter().find(|c| c.is_active_customer()).unwrap().id.to_string();
    let finding = ["--customer", &company, "--summary", "MFA disabled for 3 admins", "--details", "Three global admins sign in without MFA.", "--key", "m365:mfa-admins"];

    let first = psa_host(open_on("autotask", &cfg, &finding), env()).await;
    let out = String::from_utf8_lossy(&first.stdout).to_string();
    assert!(first.status.success(), "{}", all_output(&first));
    assert!(out.starts_with("created: a new ticket was opened\n"), "{out}");
    let id = printed(&out, "ticket id:").to_string();
    assert!(printed(&out, "number:").starts_with('T'), "Autotask's ticket number is shown: {out}");

    let second = psa_host(open_on("autotask", &cfg, &finding), env()).await;
    let again = String::from_utf8_lossy(&second.stdout).to_string();
    assert!(second.status.success(), "{}", all_output(&second));
    assert!(again.starts_with("noted on existing ticket"), "{again}");
    assert_eq!(printed(&again, "ticket id:"), id, "the note went to the first ticket");
    let tickets = sim.tickets();
    assert_eq!(tickets.len(), 1, "one ticket for one key");
    assert_eq!(tickets[0].external_id.as_deref(), Some("m365:mfa-admins"), "the key is stored in Autotask");
    assert_eq!(sim.notes().len(), 1);
    for run in [&first, &second] {
        let all = all_output(run);
        assert!(!all.contains(&o.secret) && !all.contains(&o.integration_code), "a secret was printed");
    }
}
