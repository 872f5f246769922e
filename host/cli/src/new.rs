//! `psa-host new NAME`: writes a connector project from the repository's
//! `template/`, ready to build and to pass `psa-host test`.
//!
//! The template's files are embedded in this binary (`include_str!`), so the
//! template folder stays the one source of truth: what the repository
//! builds, tests and documents is what `new` writes. Three edits make it a
//! project of its own, and nothing else is changed:
//!
//! - `src/lib.rs`: the block at its top that names the connector
//!   (`CONNECTOR_ID` and the `psa_name!` macro every label and message is
//!   built from): the one place an author renames the connector.
//! - `Cargo.toml`: the package name, the SDK dependency (one line: a `path`
//!   or a `git` dependency, the other form in the comment above it), and the
//!   `[workspace]` table and `[profile.release]` size settings, which the
//!   template carries commented out (in the repository the template is a
//!   member of the repository's workspace).
//! - `Cargo.lock`: the repository's own, so the project builds with the
//!   dependency versions the SDK and the template were tested with (and
//!   offline when cargo already holds them); cargo drops the entries the
//!   project does not use on its first build.
//!
//! Refusals (exit code 2, nothing written): a NAME that is not lower-case
//! letters, digits and `-`, a display name with control characters, a
//! directory that exists and is not empty, an SDK folder that is not the
//! SDK, and no SDK to point at when neither `--sdk-path` nor `--sdk-git` is
//! given: this binary's own checkout is gone, or it is cargo's copy of a git
//! checkout (`cargo install --git`: `.../git/checkouts/...`, which cargo
//! may delete or replace at any time).
//!
//! A `--sdk-git` URL is written into Cargo.toml as given (cargo needs it so),
//! but shown without its user info (`user:token@`): what `new` prints may
//! end up in a terminal log or a ticket.

use psa_host::escape::for_terminal as t;
use super::files::{toml_str, Target};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `psa-host new`'s arguments.
#[derive(clap::Args)]
pub struct NewArgs {
    /// The connector's id and its crate's name: lower-case letters, digits
    /// and `-`, starting with a letter (`acme-psa`).
    #[arg(value_name = "NAME")]
    name: String,
    /// The project's directory (default: ./NAME). It must not exist, or be
    /// empty.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The PSA's name in the connector's labels and messages (default: from
    /// NAME, `acme-psa` gives `Acme PSA`).
    #[arg(long, value_name = "TEXT")]
    display_name: Option<String>,
    /// Depend on the SDK in this folder (`plugin/sdk` in a checkout of the
    /// Optimize365 repository). Default: the SDK this psa-host was built
    /// from, when that folder still exists.
    #[arg(long, value_name = "PATH", conflicts_with = "sdk_git")]
    sdk_path: Option<PathBuf>,
    /// Depend on the SDK by git: the URL of the Optimize365 repository.
    #[arg(long, value_name = "URL")]
    sdk_git: Option<String>,
    /// With --sdk-git: the commit, tag or branch to pin the SDK (and so the
    /// contract version) to.
    #[arg(long, value_name = "REV", requires = "sdk_git")]
    sdk_rev: Option<String>,
}

/// The template's files, embedded: (path in the project, contents). A test
/// (`host/cli/tests/new_project`) checks that this is every file of
/// `template/`, so a file added there cannot be left out here.
const TEMPLATE: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../../../template/Cargo.toml")),
    ("src/lib.rs", include_str!("../../../template/src/lib.rs")),
    ("README.md", include_str!("../../../template/README.md")),
    (".gitignore", include_str!("../../../template/.gitignore")),
    ("fixtures/README.md", include_str!("../../../template/fixtures/README.md")),
    ("fixtures/connection.toml", include_str!("../../../template/fixtures/connection.toml")),
    ("fixtures/001-customers-page1.toml", include_str!("../../../template/fixtures/001-customers-page1.toml")),
    ("fixtures/002-customers-page2.toml", include_str!("../../../template/fixtures/002-customers-page2.toml")),
    ("fixtures/003-customers-page3.toml", include_str!("../../../template/fixtures/003-customers-page3.toml")),
];

/// The repository's lock file: the versions the SDK and the template were
/// built and tested with.
const LOCK: &str = include_str!("../../../Cargo.lock");

/// The SDK's package name, as the template's dependency line names it.
const SDK_PACKAGE: &str = "psa-connector-sdk";

/// Longest NAME and display name accepted.
const MAX_NAME: usize = 64;
const MAX_DISPLAY_NAME: usize = 60;

/// Words that the derived display name writes in capitals.
const ACRONYMS: &[&str] = &["psa", "bms", "crm", "erp", "rmm", "msp", "api", "it", "itsm", "hr", "cw"];

/// Names that are Rust keywords or the standard library's crates: as a
/// crate's name they do not build.
const RESERVED: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false", "fn",
    "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self",
    "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where", "while", "abstract", "become",
    "box", "do", "final", "gen", "macro", "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
    "std", "core", "alloc", "test", "proc-macro",
];

/// Where the SDK comes from.
enum Sdk {
    Path(PathBuf),
    /// `url` as given (for Cargo.toml), `shown` without user info.
    Git { url: String, shown: String, rev: Option<String> },
}

/// `psa-host new`: exit code 0 when written, 2 when refused or not written.
pub fn run(args: &NewArgs) -> ExitCode {
    match new_project(args) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", t(&e));
            ExitCode::from(2)
        }
    }
}

/// Checks everything, then writes; returns what to print.
fn new_project(args: &NewArgs) -> Result<String, String> {
    check_name(&args.name)?;
    let display = match &args.display_name {
        Some(d) => check_display_name(d)?,
        None => display_name(&args.name),
    };
    let sdk = sdk(args)?;
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(&args.name));
    let files = project_files(&args.name, &display, &sdk)?;
    check_dir(&dir)?;
    write_all(&dir, &files)?;
    Ok(next_steps(&args.name, &display, &dir, &sdk))
}

/// NAME: the connector's id and the crate's name.
fn check_name(name: &str) -> Result<(), String> {
    let fix = "give the connector's id: lower-case letters, digits and `-`, starting with a letter, e.g. acme-psa (it is also the crate's name)";
    if name.is_empty() {
        return Err(format!("the connector's name is empty; {fix}."));
    }
    // Shown in the sentence: escaped by `run`, and cut.
    let shown: String = name.chars().take(40).collect();
    let shown = if shown.len() < name.len() { format!("{shown}...") } else { shown };
    if name.chars().count() > MAX_NAME {
        return Err(format!("`{shown}` is longer than {MAX_NAME} characters; {fix}."));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
        return Err(format!("`{shown}` is not a connector name: it contains {c:?}; {fix}."));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!("`{shown}` is not a connector name: it must start with a letter; {fix}."));
    }
    if name.ends_with('-') || name.contains("--") {
        return Err(format!("`{shown}` is not a connector name: a `-` must stand between two letters or digits; {fix}."));
    }
    if RESERVED.contains(&name) {
        return Err(format!(
            "`{name}` cannot be a crate's name (Rust reserves it); choose another, e.g. {name}-psa."
        ));
    }
    Ok(())
}

/// `acme-psa` -> `Acme PSA`.
fn display_name(name: &str) -> String {
    name.split('-')
        .map(|w| {
            if ACRONYMS.contains(&w) {
                w.to_ascii_uppercase()
            } else {
                let mut c = w.chars();
                c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `--display-name`: one line of text, written into a Rust string literal.
fn check_display_name(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("--display-name is empty; give the PSA's name as its users know it, e.g. \"Acme PSA\".".into());
    }
    if t(text) != text {
        return Err("--display-name contains a control character (a line break, a tab or a bidi control); give the PSA's name on one line of plain text.".into());
    }
    if text.chars().count() > MAX_DISPLAY_NAME {
        return Err(format!("--display-name is longer than {MAX_DISPLAY_NAME} characters; give the PSA's name as its users know it."));
    }
    Ok(text.to_string())
}

/// The SDK dependency: `--sdk-path`, `--sdk-git`, or the SDK this binary was
/// built from.
fn sdk(args: &NewArgs) -> Result<Sdk, String> {
    if let Some(url) = &args.sdk_git {
        // Not echoed: text that is not a URL may still hold a token.
        let parsed = url::Url::parse(url).map_err(|e| {
            format!("--sdk-git is not a URL ({e}); give the Optimize365 repository's git URL, e.g. https://github.com/<owner>/<repository>.")
        })?;
        let shown = without_user_info(&parsed);
        if !["https", "http", "ssh", "git", "file"].contains(&parsed.scheme()) {
            return Err(format!("--sdk-git `{shown}` is not a git URL (https, ssh, git or file); give the Optimize365 repository's git URL."));
        }
        if let Some(rev) = &args.sdk_rev {
            let ok = !rev.is_empty() && rev.len() <= 100 && rev.chars().all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c));
            if !ok {
                return Err(format!("--sdk-rev `{rev}` is not a commit, tag or branch name (letters, digits, `.`, `_`, `/`, `-`)."));
            }
        }
        return Ok(Sdk::Git { url: url.clone(), shown, rev: args.sdk_rev.clone() });
    }
    if let Some(path) = &args.sdk_path {
        let dir = path.canonicalize().map_err(|e| {
            format!("--sdk-path {}: {e}; give the SDK's folder (plugin/sdk in a checkout of the Optimize365 repository).", path.display())
        })?;
        if !is_sdk(&dir) {
            return Err(format!(
                "--sdk-path {} is not the SDK's folder: it has no Cargo.toml of the package {SDK_PACKAGE} (in a checkout of the Optimize365 repository the SDK is plugin/sdk).",
                path.display()
            ));
        }
        return utf8(dir).map(Sdk::Path);
    }
    built_from_sdk().map(Sdk::Path)
}

/// The SDK this binary was built from (`plugin/sdk` beside its source), when
/// a project can depend on it by path.
fn built_from_sdk() -> Result<PathBuf, String> {
    sdk_beside(Path::new(env!("CARGO_MANIFEST_DIR")))
}

/// `plugin/sdk` beside the CLI's source folder `cli_dir` (`host/cli`): there,
/// the SDK, not in cargo's git checkouts, and a path Cargo.toml can name.
fn sdk_beside(cli_dir: &Path) -> Result<PathBuf, String> {
    let options = "pass --sdk-git URL --sdk-rev REV (the Optimize365 repository's git URL and the commit to pin) or --sdk-path DIR (plugin/sdk in a checkout of that repository)";
    let dir = match cli_dir.join("../../plugin/sdk").canonicalize() {
        Ok(dir) if is_sdk(&dir) => dir,
        _ => {
            return Err(format!(
                "this psa-host was built from {}, and the SDK beside it (plugin/sdk) is gone, so the project has no SDK to depend on; {options}; nothing was written.",
                cli_dir.display()
            ))
        }
    };
    if in_cargo_git_checkout(&dir) {
        return Err(format!(
            "this psa-host was installed from git, and the SDK it was built from, {}, is cargo's own copy of that git checkout, which cargo may delete or replace at any time, so a project must not depend on it by path; {options}; nothing was written.",
            dir.display()
        ));
    }
    utf8(dir)
}

/// Whether `dir` is inside cargo's git checkouts
/// (`$CARGO_HOME/git/checkouts/<repository>-<hash>/<commit>/...`).
fn in_cargo_git_checkout(dir: &Path) -> bool {
    let parts: Vec<_> = dir.components().map(|c| c.as_os_str()).collect();
    parts.windows(2).any(|w| w[0] == "git" && w[1] == "checkouts")
}

/// A URL as shown: without user info, which may be a token
/// (`https://user:token@host/...`, or a token alone as the user name).
fn without_user_info(url: &url::Url) -> String {
    let mut shown = url.clone();
    if !url.username().is_empty() || url.password().is_some() {
        // Fails only for URLs that cannot have user info.
        let _ = shown.set_password(None);
        let _ = shown.set_username("");
    }
    shown.to_string()
}

/// Whether `dir` holds the SDK's package.
fn is_sdk(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join("Cargo.toml")) else { return false };
    let Ok(doc) = text.parse::<toml::Table>() else { return false };
    doc.get("package").and_then(|p| p.get("name")).and_then(|n| n.as_str()) == Some(SDK_PACKAGE)
}

/// Cargo.toml takes the path as text.
fn utf8(dir: PathBuf) -> Result<PathBuf, String> {
    match dir.to_str() {
        Some(_) => Ok(dir),
        None => Err(format!("the SDK's folder {} is not valid UTF-8, which Cargo.toml cannot name; pass --sdk-path with another folder, or --sdk-git.", dir.display())),
    }
}

/// A TOML string.
/// The dependency line for `sdk`, and the other form for the comment.
fn sdk_lines(sdk: &Sdk) -> (String, String) {
    let git_example = format!("{SDK_PACKAGE} = {{ git = \"https://github.com/<owner>/<repository>\", rev = \"<commit>\" }}");
    match sdk {
        Sdk::Path(dir) => {
            let line = format!("{SDK_PACKAGE} = {{ path = {} }}", toml_str(dir.to_str().unwrap_or_default()));
            (line, git_example)
        }
        Sdk::Git { url, rev, .. } => {
            let rev = rev.as_ref().map(|r| format!(", rev = {}", toml_str(r))).unwrap_or_default();
            let line = format!("{SDK_PACKAGE} = {{ git = {}{rev} }}", toml_str(url));
            let other = match built_from_sdk() {
                Ok(dir) => format!("{SDK_PACKAGE} = {{ path = {} }}", toml_str(dir.to_str().unwrap_or_default())),
                Err(_) => format!("{SDK_PACKAGE} = {{ path = \"<plugin/sdk in a checkout of the Optimize365 repository>\" }}"),
            };
            (line, other)
        }
    }
}

/// Replaces the one line of `text` that starts with `prefix`; a template
/// without exactly one such line is a bug of this binary, reported as such.
fn replace_line(text: &str, file: &str, prefix: &str, new: &str) -> Result<String, String> {
    let n = text.lines().filter(|l| l.starts_with(prefix)).count();
    if n != 1 {
        return Err(format!(
            "the template built into this psa-host has {n} lines starting `{prefix}` in {file}, not one; this is a bug in psa-host (template/{file}), nothing was written."
        ));
    }
    Ok(text.lines().map(|l| if l.starts_with(prefix) { format!("{new}\n") } else { format!("{l}\n") }).collect())
}

/// Every file of the project, in memory.
fn project_files(name: &str, display: &str, sdk: &Sdk) -> Result<Vec<(&'static str, String)>, String> {
    let mut files = Vec::new();
    for (path, text) in TEMPLATE {
        let text = match *path {
            "Cargo.toml" => cargo_toml(text, name, sdk)?,
            "src/lib.rs" => {
                let text = replace_line(text, path, "const CONNECTOR_ID: &str = ", &format!("const CONNECTOR_ID: &str = \"{name}\";"))?;
                // `{:?}`: a Rust string literal (display names have no
                // control characters; quotes and backslashes are escaped).
                replace_line(&text, path, "macro_rules! psa_name {", &format!("macro_rules! psa_name {{ () => {{ {display:?} }}; }}"))?
            }
            _ => text.to_string(),
        };
        files.push((*path, text));
    }
    files.push(("Cargo.lock", LOCK.to_string()));
    Ok(files)
}

/// The template's Cargo.toml made a project's: name, SDK line, and the
/// commented `[workspace]` and `[profile.release]` from `# [workspace]` on
/// uncommented.
fn cargo_toml(text: &str, name: &str, sdk: &Sdk) -> Result<String, String> {
    let file = "Cargo.toml";
    let text = replace_line(text, file, "name = ", &format!("name = \"{name}\""))?;
    let (line, other) = sdk_lines(sdk);
    let text = replace_line(&text, file, &format!("# {SDK_PACKAGE} = "), &format!("# {other}"))?;
    let text = replace_line(&text, file, &format!("{SDK_PACKAGE} = "), &line)?;
    let Some(start) = text.find("\n# [workspace]\n") else {
        return Err("the template built into this psa-host has no `# [workspace]` line in Cargo.toml; this is a bug in psa-host (template/Cargo.toml), nothing was written.".into());
    };
    let (head, tail) = text.split_at(start + 1);
    let tail: String = tail
        .lines()
        .map(|l| format!("{}\n", l.strip_prefix("# ").or(l.strip_prefix('#')).unwrap_or(l)))
        .collect();
    Ok(format!("{head}{tail}"))
}

/// The directory must be new or empty.
fn check_dir(dir: &Path) -> Result<(), String> {
    match super::files::inspect(dir) {
        Ok(Target::Absent | Target::Empty) => Ok(()),
        Ok(Target::NotADirectory) => {
            Err(format!("{} exists and is not a directory; nothing was written. Choose another --dir.", dir.display()))
        }
        Ok(Target::NotEmpty { first }) => Err(format!(
            "{} is not empty (it holds {first:?}); psa-host new writes only into a new or empty directory, so nothing was written. Choose another directory with --dir, or move its contents away.",
            dir.display()
        )),
        Err(e) => Err(format!("cannot look at {}: {e}; choose another --dir.", dir.display())),
    }
}

/// Writes every file, never over an existing one; on a failure, removes
/// what it wrote.
fn write_all(dir: &Path, files: &[(&str, String)]) -> Result<(), String> {
    let created = !dir.exists();
    let mut written: Vec<PathBuf> = Vec::new();
    let result = (|| -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        for (path, text) in files {
            let full = dir.join(path);
            if let Some(parent) = full.parent() {
                if !parent.exists() {
                    std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
                    written.push(parent.to_path_buf());
                }
            }
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&full)
                .map_err(|e| format!("cannot create {}: {e}", full.display()))?;
            written.push(full.clone());
            f.write_all(text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", full.display()))?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let cleaned = if created {
            std::fs::remove_dir_all(dir).is_ok()
        } else {
            written.iter().rev().all(|p| if p.is_dir() { std::fs::remove_dir(p).is_ok() } else { std::fs::remove_file(p).is_ok() })
        };
        let after = if cleaned {
            "what was written is removed again".to_string()
        } else {
            format!("remove what was written in {} by hand", dir.display())
        };
        return Err(format!("{e}; the project was not written ({after})."));
    }
    Ok(())
}

/// A path as one shell word.
fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "._/-+=:@".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// What `new` prints: what was written and the exact next commands.
fn next_steps(name: &str, display: &str, dir: &Path, sdk: &Sdk) -> String {
    let dir_text = t(&dir.display().to_string()).into_owned();
    let wasm = format!("target/wasm32-wasip2/release/{}.wasm", name.replace('-', "_"));
    let sdk_text = t(&match sdk {
        Sdk::Path(p) => format!("a path dependency on {}", p.display()),
        Sdk::Git { shown, rev: Some(r), .. } => format!("a git dependency on {shown} at {r}"),
        Sdk::Git { shown, rev: None, .. } => format!("a git dependency on {shown} (its default branch; pin it with rev = \"<commit>\")"),
    })
    .into_owned();
    let mut out = format!(
        "Wrote the {display} connector `{name}` in {dir_text}:\n\
         \x20 src/lib.rs   the connector; its id and the PSA's name are set at the top (CONNECTOR_ID, psa_name!)\n\
         \x20 Cargo.toml   the SDK is one line: {sdk_text}\n\
         \x20 fixtures/    recorded HTTP exchanges of the example API, for `psa-host test`\n\
         \x20 README.md    the author's guide\n"
    );
    if let Sdk::Path(p) = sdk {
        if in_cargo_git_checkout(p) {
            out.push_str("Note: that SDK folder is cargo's own copy of a git checkout, which cargo may remove; make the project last by switching Cargo.toml to the git dependency in the comment above the SDK line.\n");
        }
    }
    out.push_str(&format!(
        "\nNext (build once with `rustup target add wasm32-wasip2` if that target is missing):\n\
         \x20 cd {}\n\
         \x20 cargo build --target wasm32-wasip2 --release\n\
         \x20 psa-host test --plugin {wasm} --fixtures fixtures\n",
        t(&shell_word(&dir.display().to_string()))
    ));
    out
}

// Compiled into the CLI's test binary (`host/cli/tests/new_project` includes
// this file), as the binary has no unit-test build of its own.
#[cfg(test)]
mod tests {
    use super::*;

    /// `<root>/host/cli` beside `<root>/plugin/sdk`, a folder holding the
    /// SDK's Cargo.toml.
    fn checkout(root: &Path) -> PathBuf {
        let sdk = root.join("plugin/sdk");
        std::fs::create_dir_all(&sdk).unwrap();
        std::fs::write(sdk.join("Cargo.toml"), "[package]\nname = \"psa-connector-sdk\"\n").unwrap();
        let cli = root.join("host/cli");
        std::fs::create_dir_all(&cli).unwrap();
        cli
    }

    /// `cargo install --git`: the binary is built in
    /// `$CARGO_HOME/git/checkouts/<repository>-<hash>/<commit>`.
    #[test]
    fn the_sdk_in_a_cargo_git_checkout_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let cli = checkout(&tmp.path().join(".cargo/git/checkouts/optimize365-3f2a1b0c9d8e7f60/1a2b3c4"));
        let err = sdk_beside(&cli).unwrap_err();
        for part in ["installed from git", "git/checkouts/optimize365-3f2a1b0c9d8e7f60/1a2b3c4/plugin/sdk", "cargo may delete",
            "pass --sdk-git URL --sdk-rev REV", "or --sdk-path DIR", "nothing was written"] {
            assert!(err.contains(part), "no {part:?} in: {err}");
        }
        // The same SDK in an author's own checkout is the default.
        let cli = checkout(&tmp.path().join("src/optimize365"));
        assert_eq!(sdk_beside(&cli).unwrap(), tmp.path().join("src/optimize365/plugin/sdk").canonicalize().unwrap());
        // Gone: the other sentence.
        let err = sdk_beside(&tmp.path().join("elsewhere/host/cli")).unwrap_err();
        assert!(err.contains("is gone") && err.contains("pass --sdk-git URL --sdk-rev REV"), "{err}");
    }

    #[test]
    fn cargo_git_checkouts_are_recognised_by_two_folder_names() {
        assert!(in_cargo_git_checkout(Path::new("/home/a/.cargo/git/checkouts/o-1/abc/plugin/sdk")));
        assert!(in_cargo_git_checkout(Path::new("/opt/cargo-home/git/checkouts/o-1/abc/plugin/sdk")));
        assert!(!in_cargo_git_checkout(Path::new("/home/a/git/optimize365/plugin/sdk")));
        assert!(!in_cargo_git_checkout(Path::new("/home/a/checkouts/git/plugin/sdk")));
        assert!(!in_cargo_git_checkout(Path::new("/home/a/my-git/checkouts/plugin/sdk")));
    }
}
