//! `psa-host new`: the project it writes from `template/` (every file, the
//! names in one place, the SDK line), its refusals, and the author's path end
//! to end: `new`, the one build command, `psa-host test` passing every
//! check. A submodule of `cli.rs`, so no second test binary links wasmtime.

use super::BIN;

// new.rs's unit tests (the binary has no unit-test build) run here.
#[path = "../../src/new.rs"]
#[allow(dead_code)]
mod new_rs;
#[path = "../../src/files.rs"]
#[allow(dead_code)]
mod files;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn new(args: &[&str]) -> Output {
    Command::new(BIN).arg("new").args(args).output().expect("run psa-host new")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Every file under `dir`, as paths relative to it.
fn files(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out
}

/// The lines of `a` and `b` that differ (same line count required).
fn changed_lines(a: &str, b: &str) -> Vec<(String, String)> {
    assert_eq!(a.lines().count(), b.lines().count());
    a.lines().zip(b.lines()).filter(|(x, y)| x != y).map(|(x, y)| (x.to_string(), y.to_string())).collect()
}

#[test]
fn new_writes_the_template_with_the_names_in_one_place_and_the_sdk_on_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("acme-psa");
    let out = new(&["acme-psa", "--dir", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let template = repo().join("template");

    // Every file of template/ (the one source of truth), plus the lock file.
    let mut want = files(&template);
    want.insert("Cargo.lock".into());
    assert_eq!(files(&dir), want, "the project is not the template's files");
    for f in files(&template) {
        if f != "Cargo.toml" && f != "src/lib.rs" {
            assert_eq!(std::fs::read(dir.join(&f)).unwrap(), std::fs::read(template.join(&f)).unwrap(), "{f} changed");
        }
    }
    assert_eq!(std::fs::read(dir.join("Cargo.lock")).unwrap(), std::fs::read(repo().join("Cargo.lock")).unwrap());

    // src/lib.rs: only the naming block differs, and every label and
    // message is built from it.
    let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
    let template_lib = std::fs::read_to_string(template.join("src/lib.rs")).unwrap();
    assert_eq!(
        changed_lines(&template_lib, &lib),
        [
            ("const CONNECTOR_ID: &str = \"example-psa\";".to_string(), "const CONNECTOR_ID: &str = \"acme-psa\";".to_string()),
            (
                "macro_rules! psa_name { () => { \"Example PSA\" }; }".to_string(),
                "macro_rules! psa_name { () => { \"Acme PSA\" }; }".to_string()
            ),
        ]
    );
    let code: Vec<&str> = lib.lines().filter(|l| !l.trim_start().starts_with("//")).collect();
    assert!(!code.iter().any(|l| l.contains("Example PSA") || l.contains("example-psa")), "a name outside the block");

    // Cargo.toml: the package name, one SDK line (the other form in the
    // comment above it), a workspace of its own, the size settings.
    let toml_text = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let doc: toml::Table = toml_text.parse().unwrap();
    assert_eq!(doc["package"]["name"].as_str(), Some("acme-psa"));
    let sdk = repo().join("plugin/sdk");
    assert_eq!(doc["dependencies"]["psa-connector-sdk"]["path"].as_str(), Some(sdk.to_str().unwrap()));
    assert!(doc["workspace"].is_table());
    let release = &doc["profile"]["release"];
    assert_eq!((release["opt-level"].as_str(), release["lto"].as_bool(), release["panic"].as_str()), (Some("s"), Some(true), Some("abort")));
    let sdk_lines: Vec<&str> = toml_text.lines().filter(|l| l.contains("psa-connector-sdk = ")).collect();
    assert_eq!(
        sdk_lines,
        [
            "# psa-connector-sdk = { git = \"https://github.com/<owner>/<repository>\", rev = \"<commit>\" }".to_string(),
            format!("psa-connector-sdk = {{ path = \"{}\" }}", sdk.display()),
        ]
    );

    // The next steps: the exact commands.
    let printed = String::from_utf8_lossy(&out.stdout);
    for line in [
        format!("  cd {}", dir.display()),
        "  cargo build --target wasm32-wasip2 --release".to_string(),
        "  psa-host test --plugin target/wasm32-wasip2/release/acme_psa.wasm --fixtures fixtures".to_string(),
    ] {
        assert!(printed.lines().any(|l| l == line), "no line {line:?} in\n{printed}");
    }
}

#[test]
fn new_takes_a_display_name_and_a_git_sdk() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("x");
    let out = new(&[
        "syncro-bms",
        "--dir",
        dir.to_str().unwrap(),
        "--display-name",
        "Syncro \"Business\" Suite",
        "--sdk-git",
        "https://git.example/o/optimize365.git",
        "--sdk-rev",
        "v0.2.0",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
    assert!(lib.lines().any(|l| l == r#"macro_rules! psa_name { () => { "Syncro \"Business\" Suite" }; }"#), "{lib}");
    assert!(lib.lines().any(|l| l == r#"const CONNECTOR_ID: &str = "syncro-bms";"#));
    let toml_text = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let doc: toml::Table = toml_text.parse().unwrap();
    let dep = &doc["dependencies"]["psa-connector-sdk"];
    assert_eq!((dep["git"].as_str(), dep["rev"].as_str()), (Some("https://git.example/o/optimize365.git"), Some("v0.2.0")));
    // The comment shows the path form: the SDK this binary was built from.
    let comment = format!("# psa-connector-sdk = {{ path = \"{}\" }}", repo().join("plugin/sdk").display());
    assert!(toml_text.lines().any(|l| l == comment), "{toml_text}");
    // Derived names: acronyms in capitals.
    let dir2 = tmp.path().join("y");
    assert!(new(&["kaseya-bms", "--dir", dir2.to_str().unwrap()]).status.success());
    let lib = std::fs::read_to_string(dir2.join("src/lib.rs")).unwrap();
    assert!(lib.contains(r#"macro_rules! psa_name { () => { "Kaseya BMS" }; }"#));
}

/// A `--sdk-git` URL with user info (a token as password, or alone as the
/// user name) is written to Cargo.toml as given, and never printed.
#[test]
fn new_shows_a_git_url_without_its_user_info() {
    let tmp = tempfile::tempdir().unwrap();
    for (i, (url, shown)) in [
        ("https://ana:ghp_S3cretT0ken@git.example/o/optimize365.git", "https://git.example/o/optimize365.git"),
        ("https://ghp_S3cretT0ken@git.example/o/optimize365.git", "https://git.example/o/optimize365.git"),
        ("ssh://ana:ghp_S3cretT0ken@git.example:2222/o/optimize365.git", "ssh://git.example:2222/o/optimize365.git"),
    ]
    .into_iter()
    .enumerate()
    {
        let dir = tmp.path().join(format!("p{i}"));
        let out = new(&["acme-psa", "--dir", dir.to_str().unwrap(), "--sdk-git", url, "--sdk-rev", "v0.2.0"]);
        assert!(out.status.success(), "{}", text(&out));
        let printed = text(&out);
        assert!(!printed.contains("S3cret") && !printed.contains("ana"), "{printed}");
        assert!(printed.contains(&format!("a git dependency on {shown} at v0.2.0")), "{printed}");
        let doc: toml::Table = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap().parse().unwrap();
        assert_eq!(doc["dependencies"]["psa-connector-sdk"]["git"].as_str(), Some(url));
    }
    // Refused URLs are not echoed with their user info either.
    for url in ["ftp://ana:ghp_S3cretT0ken@git.example/o/r.git", "https://ana:ghp_S3cretT0ken@[git.example/o"] {
        let dir = tmp.path().join("refused");
        let out = new(&["acme-psa", "--dir", dir.to_str().unwrap(), "--sdk-git", url]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let printed = text(&out);
        assert!(printed.contains("--sdk-git") && !printed.contains("S3cret"), "{printed}");
        assert!(!dir.exists());
    }
}

#[test]
fn new_refuses_a_bad_name_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    for (name, says) in [
        ("Acme-PSA", "contains 'A'"),
        ("acme_psa", "contains '_'"),
        ("acme psa", "contains ' '"),
        ("../acme", "contains '.'"),
        ("1acme", "must start with a letter"),
        ("acme-", "between two letters or digits"),
        ("acme--psa", "between two letters or digits"),
        ("", "is empty"),
        ("test", "Rust reserves it"),
        (&"a".repeat(65), "longer than 64"),
    ] {
        let out = new(&[name, "--dir", dir.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{name:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says) && err.contains("e.g. "), "{name:?}: {err}");
        assert!(!dir.exists(), "{name:?}: something was written");
    }
    let out = new(&["acme-psa", "--dir", dir.to_str().unwrap(), "--display-name", "Acme\nPSA"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("control character"));
    assert!(!dir.exists());
}

#[test]
fn new_refuses_a_non_empty_directory_and_a_folder_that_is_not_the_sdk() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("taken");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let out = new(&["acme-psa", "--dir", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not empty") && err.contains("notes.txt") && err.contains("nothing was written"), "{err}");
    assert_eq!(files(&dir), BTreeSet::from(["notes.txt".to_string()]), "something was written");

    // An empty directory is fine.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(new(&["acme-psa", "--dir", empty.to_str().unwrap()]).status.success());

    let other = tmp.path().join("other");
    let out = new(&["acme-psa", "--dir", other.to_str().unwrap(), "--sdk-path", repo().join("plugin/halopsa").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not the SDK's folder"), "{}", text(&out));
    assert!(!other.exists());
}

/// `<target>`: the workspace's target directory, from this test binary's
/// path (`<target>/debug/deps/cli-<hash>`).
fn target_dir() -> PathBuf {
    std::env::current_exe().unwrap().ancestors().nth(3).unwrap().to_path_buf()
}

/// The author's path: `psa-host new acme-psa`, the one build command, and
/// `psa-host test` passing every check. Prints the time of each step.
#[test]
fn a_new_project_builds_with_one_command_and_passes_the_harness() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("acme-psa");

    let start = Instant::now();
    let out = new(&["acme-psa", "--dir", project.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let t_new = start.elapsed();

    // The build command the project's README and `new` give, plus:
    // - `--offline`: a test reaches no network. It works because `new`
    //   writes the repository's Cargo.lock into the project, so every
    //   version is one the workspace already built and cargo holds.
    // - CARGO_TARGET_DIR=<target>/author-kit: reruns reuse the dependencies
    //   (serde, wit-bindgen, ...) already built for wasm; the temporary
    //   project itself is built anew each time.
    // - The host build's flags removed, as build-support/guests.rs does:
    //   they are not meant for a wasm build.
    let target = target_dir().join("author-kit");
    let start = Instant::now();
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo.current_dir(&project).args(["build", "--offline", "--target", "wasm32-wasip2", "--release"]);
    for var in super::test_guests::HOST_BUILD_VARS {
        cargo.env_remove(var);
    }
    cargo.env("CARGO_TARGET_DIR", &target);
    let built = cargo.output().expect("run cargo");
    assert!(built.status.success(), "the generated project does not build:\n{}", text(&built));
    let t_build = start.elapsed();
    let wasm = target.join("wasm32-wasip2/release/acme_psa.wasm");
    assert!(wasm.is_file(), "no {}", wasm.display());

    let start = Instant::now();
    let fixtures = project.join("fixtures");
    let out = Command::new(BIN)
        .args(["test", "--no-cache", "--format", "json", "--plugin", wasm.to_str().unwrap(), "--fixtures", fixtures.to_str().unwrap()])
        .output()
        .unwrap();
    let t_test = start.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    let checks = doc["checks"].as_array().unwrap();
    assert!(checks.len() >= 17, "{stdout}");
    for c in checks {
        assert_eq!(c["status"], "PASS", "{c}");
    }
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // The names from the one block reach what the platform shows.
    let out = Command::new(BIN).args(["info", "--no-cache", "--json", "--plugin", wasm.to_str().unwrap()]).output().unwrap();
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    assert_eq!((info["id"].as_str(), info["display_name"].as_str()), (Some("acme-psa"), Some("Acme PSA")), "{info}");
    assert_eq!(info["fields"][0]["label"].as_str(), Some("Acme PSA URL"), "{info}");

    println!(
        "author kit: new {:.1} s, build {:.1} s, psa-host test {:.1} s, new to a passing harness {:.1} s",
        t_new.as_secs_f64(),
        t_build.as_secs_f64(),
        t_test.as_secs_f64(),
        (t_new + t_build + t_test).as_secs_f64()
    );
}
