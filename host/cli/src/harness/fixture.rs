//! The fixture format of `psa-host test`: a directory an author can read and
//! write by hand.
//!
//! ```text
//! fixtures/
//!   connection.toml        the connection form, plus a [harness] table
//!   001-token.toml         one file per HTTP exchange, read in file-name order
//!   002-clients-page1.toml
//!   ...
//!   README.md              (anything not *.toml besides is ignored)
//! ```
//!
//! `connection.toml` holds the form's values keyed by the connector's field
//! ids (as `psa-host check --config` reads them). URL fields use placeholder
//! origins (`https://psa.example/api`): the harness serves every origin the
//! fixtures name from its own HTTPS listener on 127.0.0.1 (a certificate
//! from a throwaway CA made for the run), reached through the real sandbox.
//! Secrets are fixed fake values; the harness knows which values are secret
//! because the connector declares those fields `secret`, and checks that
//! none reaches a message. The `[harness]` table is the harness's own:
//!
//! ```toml
//! [harness]
//! # Where the customer ids are in the answers: a JSON pointer with `*` for
//! # every element of an array. Every id found there in any fixture answer
//! # must arrive exactly once in a full import.
//! customer_ids = "/clients/*/id"
//! ```
//!
//! An exchange file:
//!
//! ```toml
//! # The token exchange (comments are free text for the reader).
//! auth = true                      # optional: authentication or discovery, not an API call
//! [request]
//! method = "POST"
//! url = "https://psa.example/auth/token"   # origin + path + query
//! body_contains = ["grant_type=client_credentials"]   # optional
//! [response]
//! status = 200
//! headers = { content-type = "application/json" }
//! body = '''{"access_token": "fixture-token", "expires_in": 3600}'''
//! ```
//!
//! `auth = true` marks a step that precedes the API proper: a token
//! exchange, a zone lookup. The typed-error checks answer the first request
//! *not* so marked with 401, 403, 429 and 500 (a PSA's token endpoint or
//! zone lookup has its own rules: Autotask's answers 500 for an unknown
//! user, which a connector rightly reports as that field).
//!
//! Why matched, not served in order: a request is answered by the exchange
//! with the same method, host, path and query (query parameters compared as
//! a set, percent-decoded, in any order), so the harness can replay a cursor
//! twice, start several sessions and inject faults without the fixtures
//! knowing the order of every run. When several exchanges match one
//! request they answer in file-name order and the last one repeats (a server
//! whose answer changes). A request no exchange matches gets a 404 whose
//! JSON body says so, and is reported. Why TOML: multi-line literal strings
//! keep a JSON body verbatim and readable, comments explain each exchange,
//! and no parser of our own is needed.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Most exchange files one fixture directory may hold.
pub const MAX_EXCHANGES: usize = 1_000;
/// Largest fixture file read.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// A loaded fixture directory.
#[derive(Clone, Debug)]
pub struct Fixtures {
    pub dir: PathBuf,
    /// `connection.toml` without its `[harness]` table, as TOML text.
    pub form_toml: String,
    /// The JSON pointer (with `*`) of customer ids in the answers.
    pub customer_ids: String,
    pub exchanges: Vec<Exchange>,
}

/// One recorded HTTP exchange.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// The file it came from (`002-clients-page1.toml`).
    pub file: String,
    pub auth: bool,
    pub method: String,
    /// Lower-case host name of the request's URL.
    pub host: String,
    pub port: u16,
    pub path: String,
    /// Percent-decoded query pairs, sorted.
    pub query: Vec<(String, String)>,
    pub body_contains: Vec<String>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExchange {
    #[serde(default)]
    auth: bool,
    request: RawRequest,
    response: RawResponse,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    method: String,
    url: String,
    #[serde(default)]
    body_contains: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResponse {
    status: u16,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: String,
}

/// The sorted, percent-decoded query pairs of a URL.
pub fn query_pairs(url: &url::Url) -> Vec<(String, String)> {
    let mut q: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    q.sort();
    q
}

fn read(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("{} is {} bytes; a fixture file may hold at most {MAX_FILE_BYTES}", path.display(), meta.len()));
    }
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

impl Fixtures {
    /// Reads a fixture directory; the error is a sentence naming the file.
    pub fn load(dir: &Path) -> Result<Fixtures, String> {
        let conn_path = dir.join("connection.toml");
        let text = read(&conn_path)?;
        let mut table: toml::Table =
            text.parse().map_err(|e: toml::de::Error| format!("{} is not TOML: {}", conn_path.display(), e.message()))?;
        let harness = match table.remove("harness") {
            Some(toml::Value::Table(t)) => t,
            _ => return Err(format!("{} has no [harness] table; add one with customer_ids = \"/pointer/*/to/id\" (see the fixtures' README.md)", conn_path.display())),
        };
        let customer_ids = match harness.get("customer_ids") {
            Some(toml::Value::String(s)) if s.starts_with('/') => s.clone(),
            _ => return Err(format!("{}: [harness] customer_ids must be a JSON pointer such as \"/clients/*/id\"", conn_path.display())),
        };
        let form_toml = toml::to_string(&table).map_err(|e| format!("{}: {e}", conn_path.display()))?;

        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.file_name().is_some_and(|n| n != "connection.toml"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(format!("{} holds no exchange files (NNN-name.toml beside connection.toml)", dir.display()));
        }
        if files.len() > MAX_EXCHANGES {
            return Err(format!("{} holds {} exchange files; at most {MAX_EXCHANGES}", dir.display(), files.len()));
        }
        let mut exchanges = Vec::new();
        for path in files {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let raw: RawExchange =
                toml::from_str(&read(&path)?).map_err(|e| format!("{}: {}", path.display(), e.message()))?;
            let url = url::Url::parse(&raw.request.url)
                .map_err(|e| format!("{}: request.url {:?} is not an absolute URL ({e})", path.display(), raw.request.url))?;
            let host = url.host_str().ok_or_else(|| format!("{}: request.url has no host", path.display()))?.to_ascii_lowercase();
            let port = url.port_or_known_default().ok_or_else(|| format!("{}: request.url has no port", path.display()))?;
            if !(100..=599).contains(&raw.response.status) {
                return Err(format!("{}: response.status {} is not an HTTP status", path.display(), raw.response.status));
            }
            exchanges.push(Exchange {
                file: name,
                auth: raw.auth,
                method: raw.request.method.to_ascii_uppercase(),
                host,
                port,
                path: url.path().to_string(),
                query: query_pairs(&url),
                body_contains: raw.request.body_contains,
                status: raw.response.status,
                headers: raw.response.headers.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect(),
                body: raw.response.body.into_bytes(),
            });
        }
        Ok(Fixtures { dir: dir.to_path_buf(), form_toml, customer_ids, exchanges })
    }

    /// Every `(host, port)` the fixtures name, for the sandbox's test
    /// mapping to the replay server.
    pub fn origins(&self, form_urls: &[String]) -> Vec<(String, u16)> {
        let mut v: Vec<(String, u16)> = self.exchanges.iter().map(|e| (e.host.clone(), e.port)).collect();
        for u in form_urls {
            if let Ok(url) = url::Url::parse(u) {
                if let (Some(h), Some(p)) = (url.host_str(), url.port_or_known_default()) {
                    v.push((h.to_ascii_lowercase(), p));
                }
            }
        }
        v.sort();
        v.dedup();
        v
    }

    /// Customer ids in the fixture answers, with the file each came from,
    /// in file order (duplicates kept: a fixture may repeat a customer).
    pub fn customer_ids(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for e in &self.exchanges {
            if !(200..300).contains(&e.status) {
                continue;
            }
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&e.body) else { continue };
            let mut found = Vec::new();
            pointer_all(&v, &self.customer_ids, &mut found);
            out.extend(found.into_iter().map(|id| (id, e.file.clone())));
        }
        out
    }
}

/// Values at a JSON pointer whose `*` segments match every array element
/// (numbers and strings as text).
pub fn pointer_all(v: &serde_json::Value, pointer: &str, out: &mut Vec<String>) {
    let segments: Vec<&str> = pointer.split('/').skip(1).collect();
    walk(v, &segments, out);
}

fn walk(v: &serde_json::Value, rest: &[&str], out: &mut Vec<String>) {
    let Some((first, tail)) = rest.split_first() else {
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Number(n) => out.push(n.to_string()),
            _ => {}
        }
        return;
    };
    match (*first, v) {
        ("*", serde_json::Value::Array(items)) => items.iter().for_each(|i| walk(i, tail, out)),
        (key, serde_json::Value::Object(m)) => {
            let key = key.replace("~1", "/").replace("~0", "~");
            if let Some(x) = m.get(&key) {
                walk(x, tail, out);
            }
        }
        (idx, serde_json::Value::Array(items)) => {
            if let Some(x) = idx.parse::<usize>().ok().and_then(|i| items.get(i)) {
                walk(x, tail, out);
            }
        }
        _ => {}
    }
}
