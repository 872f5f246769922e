//! Writes `OUT_DIR/buggy.rs`: the template's source (`template/src/lib.rs`)
//! with each deliberate bug applied as an exact textual edit. Every edit's
//! anchor must occur exactly once, so a change of the template that breaks
//! an edit fails this build and names the edit to update, instead of
//! quietly testing a copy without that bug.
//!
//! The anchors are in the body of the template (`test_connection`'s result,
//! `list_customers`, `fetch_page`'s status mapping and tenant-id code), not
//! in its header (the PSA's name and id, the form).

use std::path::PathBuf;

/// The switch every bug tests: the API key starts `bug-<name>-`.
const SWITCH: &str = r#"

/// Which deliberate bug runs: the API key `bug-<name>-...` switches on
/// bug `<name>` (see the crate's docs); any other key, none.
fn bug(cfg: &Config, name: &str) -> bool {
    cfg.api_key.strip_prefix("bug-").and_then(|r| r.strip_prefix(name)).is_some_and(|r| r.starts_with('-'))
}

/// Calls of `list_customers` in this instance (one instance per session).
static BUG_CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
"#;

/// (the bug, the anchor, what replaces it).
const EDITS: &[(&str, &str, &str)] = &[
    (
        "tenant-ids",
        "Some(tenant_id) => tenants.push(TenantLink { tenant_id, name: None, domain: None }),",
        "Some(tenant_id) => tenants.push(TenantLink {
                    tenant_id: if bug(cfg, \"tenant-ids\") { raw.trim().to_string() } else { tenant_id },
                    name: None,
                    domain: None,
                }),",
    ),
    (
        "fetched",
        "let fetched = self.progress.page(cursor.as_deref(), result.customers.len(), result.next_cursor.as_deref());",
        "let fetched = self.progress.page(cursor.as_deref(), result.customers.len(), result.next_cursor.as_deref());
        let bug_page_len = result.customers.len() as u64;
        let fetched = if bug(&self.config, \"fetched\") { bug_page_len } else { fetched };",
    ),
    ("total", "total: None,", "total: if bug(&self.config, \"total\") { Some(bug_page_len) } else { None },"),
    (
        "errors, secret (message)",
        "let resp = net.send(&request).map_err(network_error)?;",
        "let resp = net.send(&request).map_err(network_error)?;
    if bug(cfg, \"errors\") {
        match resp.status {
            401 => return Err(Error::forbidden(\"customers:read\", \"The API key may not read customers (HTTP 401).\")),
            403 => return Err(Error::unauthorized(\"The API key was rejected (HTTP 403).\")),
            429 => return Err(Error::upstream(429, &endpoint, \"The PSA answered HTTP 429.\")),
            500..=599 => return Err(Error::protocol(&endpoint, \"The answer is not the JSON the PSA sends.\")),
            _ => {}
        }
    }
    if bug(cfg, \"secret\") && resp.status == 401 {
        return Err(Error::unauthorized(format!(\"The API key {} was rejected (HTTP 401).\", cfg.api_key)));
    }",
    ),
    (
        "secret (check step)",
        "vec![form, api]",
        "let mut api = api;
        if bug(&cfg, \"secret\") {
            eprintln!(\"debug: tested the connection with key {}\", cfg.api_key);
            api.message = format!(\"{} (key {})\", api.message, cfg.api_key);
        }
        vec![form, api]",
    ),
    (
        "secret (warning, stdout, stderr)",
        "warnings: result.warnings,",
        "warnings: {
                let mut w = result.warnings;
                if bug(&self.config, \"secret\") {
                    println!(\"debug: listing customers with key {}\", self.config.api_key);
                    eprintln!(\"debug: key {}\", self.config.api_key);
                    w.push(Warning { code: \"debug\".into(), message: format!(\"read with key {}\", self.config.api_key), customer_id: None });
                }
                w
            },",
    ),
    (
        "reread, skip, cursor-state",
        "let result = fetch_page(&self.config, &mut WasiHttp::new(), page)?;",
        "let asked = page;
        let page = if bug(&self.config, \"reread\") && asked == 2 {
            1
        } else if bug(&self.config, \"skip\") && asked == 2 {
            3
        } else if bug(&self.config, \"cursor-state\") {
            BUG_CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed).saturating_add(1)
        } else {
            page
        };
        let mut result = fetch_page(&self.config, &mut WasiHttp::new(), page)?;
        if bug(&self.config, \"reread\") && asked == 2 {
            result.next_cursor = Some(\"3\".into());
        }",
    ),
];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let template = manifest.join("../../../template/src/lib.rs");
    println!("cargo:rerun-if-changed={}", template.display());
    println!("cargo:rerun-if-changed=build.rs");
    let source = std::fs::read_to_string(&template)
        .unwrap_or_else(|e| panic!("cannot read the template's source {}: {e}", template.display()));
    // Inner attributes and doc comments cannot stand in an `include!`d file.
    assert!(
        !source.lines().any(|l| l.trim_start().starts_with("#![")),
        "template/src/lib.rs has an inner attribute (`#![...]`); move it, or strip it in tests/guests/buggy-template/build.rs"
    );
    let mut text: String = source.lines().filter(|l| !l.trim_start().starts_with("//!")).map(|l| format!("{l}\n")).collect();
    for (bug, anchor, replacement) in EDITS {
        let n = text.matches(anchor).count();
        assert!(
            n == 1,
            "the edit for bug `{bug}` expects its anchor exactly once in template/src/lib.rs, found {n} times; \
             update the anchor in tests/guests/buggy-template/build.rs:\n{anchor}"
        );
        text = text.replacen(anchor, replacement, 1);
    }
    text.push_str(SWITCH);
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("buggy.rs");
    std::fs::write(&out, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}
