//! `psa-host import --record DIR`: runs an import against a real instance
//! and writes its HTTP exchanges as fixtures `psa-host test --fixtures DIR`
//! replays (the format: [`crate::harness`]'s `fixture.rs`).
//!
//! ```sh
//! psa-host import --config halo.toml --record fixtures/ --output customers.json
//! psa-host test --fixtures fixtures/
//! ```
//!
//! The host's recorder ([`psa_host::record`]) sees every exchange the
//! sandbox let through and that was answered; once the import has
//! succeeded they are scrubbed, checked and written:
//!
//! - `connection.toml`: the form's values; each `secret` field holds a fake
//!   value (`recorded-secret-<field>`), and every origin (scheme, host,
//!   port) the form or the exchanges name is replaced by a placeholder
//!   (`https://<connector id>.example`, then `https://<id>-2.example`, ...),
//!   consistently in URLs, headers and bodies (also `host:port` and a host
//!   name on their own; the `Host` header is left out), so the replay's
//!   requests go where the fixtures say and the instance's name stays out
//!   of the fixtures. A `[harness] customer_ids` pointer is guessed
//!   from the first customer page (the first answer holding a list of
//!   objects with an `id`); without one it is a marked TODO.
//! - `NNN-<slug>.toml`: one exchange each, in the order they were sent
//!   (a JSON body indented when that changes only whitespace).
//!   `auth = true` marks a token exchange (a request body with
//!   `grant_type`, or an answer with an `access_token`) and every exchange
//!   before the first customer page (a zone lookup, a discovery call): the
//!   harness's typed-error checks then fault the first API call proper.
//!
//! Scrubbing, on the way to disk: `Authorization`, `Cookie`, `Set-Cookie`
//! and other credential-like headers ([`sensitive_name`]) are dropped from
//! answers and shown as `[scrubbed]` in the request comments; the values of
//! token-like fields (`access_token`, `refresh_token`, `id_token`, `token`,
//! `...secret`, `password`, in JSON, form-encoded bodies and queries) and
//! of credential headers become `recorded-token-N` everywhere they appear
//! (values of at least [`MIN_TOKEN_CHARS`] characters);
//! every configured secret value becomes its field's fake value wherever it
//! appears, raw, URL-encoded, JSON-escaped or base64-encoded on its own.
//!
//! Then the refusal: before anything is written, every file's text is
//! searched for every configured secret, raw, URL-encoded, JSON-escaped and
//! base64-encoded at each of the three byte alignments (so inside a longer
//! base64 text too, such as `Basic` credentials an answer echoes). If one
//! is found, nothing is written and the error names the exchange and the
//! place. Bodies that are not UTF-8 text (compressed, binary) are refused
//! likewise: the fixture format holds text.
//!
//! Retries: a failed attempt (HTTP 429, 502, 503 or 504, or an answer not
//! read to its end) that a later request with the same method, URL and
//! body replaced (the host retried the page, or the connector retried) is
//! left out, and stderr says how many: the harness replays the fixtures in
//! order and does not retry. Any other answer not read to its end refuses
//! the recording (its fixture would hold part of an answer), naming the
//! exchange.
//!
//! Limits: at most [`Recording::DEFAULT_MAX_EXCHANGES`] exchanges (the
//! fixture format's [`fixture::MAX_EXCHANGES`]; the hidden
//! `--record-max-exchanges N` lowers it, for tests) and
//! [`Recording::DEFAULT_MAX_BYTES`] together, response bodies counted as
//! they are copied; an import that makes more requests is not recorded
//! (no partial recording). A file over [`fixture::MAX_FILE_BYTES`] is
//! refused.
//!
//! All or nothing: the import's output (`--output FILE` or stdout) is
//! written only after the fixtures were. A refused recording (or a failed
//! import) leaves DIR as it was and writes no output; the fixtures are
//! written into a temporary sibling of DIR and renamed into place, so a
//! write that fails part-way leaves nothing either; if the output then
//! cannot be written, the fixtures are removed again.
//!
//! Exit codes: 2 when DIR is not empty or cannot be written (or the output
//! cannot be), 1 when the recording is refused (the import's own codes
//! otherwise).

use crate::harness::fixture;
use base64::Engine as _;
use crate::files::{toml_str, Target};
use psa_host::escape::for_terminal as t;
use psa_host::record::{Exchange, Recording};
use psa_host::{ConnectorInfo, FieldKind};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

/// A fixture directory's files, name and text, ready to be written.
pub type Files = Vec<(String, String)>;

/// `psa-host import --record DIR` (the import's other arguments as given;
/// `max_exchanges`: the hidden `--record-max-exchanges`, for tests).
pub async fn import(
    connect: &crate::ConnectArgs,
    dir: &Path,
    format: crate::Format,
    output: Option<std::path::PathBuf>,
    since: Option<u64>,
    max_exchanges: Option<u16>,
) -> ExitCode {
    if let Err(message) = check_empty(dir) {
        eprintln!("error: --record: {}", t(&message));
        return ExitCode::from(2);
    }
    let max = max_exchanges.map_or(Recording::DEFAULT_MAX_EXCHANGES, usize::from).min(fixture::MAX_EXCHANGES);
    let recording = Arc::new(Recording::new(max, Recording::DEFAULT_MAX_BYTES));
    let (connector, config) = match crate::prepare_with(connect, Some(recording.clone())).await {
        Ok(x) => x,
        Err(code) => return code,
    };
    // The import's output waits for the recording: a refused recording
    // writes nothing at all, neither fixtures nor output.
    let (outcome, took) = match crate::import_all(&connector, &config, since).await {
        Ok(x) => x,
        Err(code) => {
            eprintln!("error: --record: the import did not succeed, so nothing was recorded in {}", t(&dir.display().to_string()));
            return code;
        }
    };
    let (exchanges, replaced) = psa_host::record::drop_replaced(recording.take());
    if replaced > 0 {
        eprintln!(
            "--record: left out {replaced} failed attempt(s) (HTTP 429, 502-504, or an answer not read to its end) that a retry \
             of the same request replaced; the fixtures hold the retries"
        );
    }
    let built = build(connector.info(), config.entries(), &exchanges, recording.dropped(), max)
        .and_then(|files| refuse_secrets(&files, connector.info(), config.entries()).map(|()| files));
    let files = match built {
        Ok(f) => f,
        Err(message) => {
            eprintln!("error: --record: {}", t(&message));
            eprintln!("error: --record: the import's output was not written either; run it again without --record to get it");
            return ExitCode::from(1);
        }
    };
    if let Err(message) = write(dir, &files) {
        eprintln!("error: --record: {}", t(&message));
        eprintln!("error: --record: the import's output was not written either");
        return ExitCode::from(2);
    }
    let code = crate::write_import(&outcome, took, format, output);
    if code != ExitCode::SUCCESS {
        // The output could not be written: the fixtures go too, so the
        // command leaves all or nothing.
        let _ = std::fs::remove_dir_all(dir);
        eprintln!("error: --record: so the fixtures were removed from {} again", t(&dir.display().to_string()));
        return code;
    }
    // The same connector the recording was made with.
    let which = match &connect.plugin.plugin {
        Some(file) => format!("--plugin {}", file.display()),
        None => format!("--connector {}", connect.plugin.connector.id()),
    };
    eprintln!(
        "recorded {} exchange(s) in {}; check them with: psa-host test {} --fixtures {}",
        files.len() - 1,
        t(&dir.display().to_string()),
        t(&which),
        t(&dir.display().to_string())
    );
    ExitCode::SUCCESS
}

/// DIR must be absent or empty: a recording never mixes with other files.
pub fn check_empty(dir: &Path) -> Result<(), String> {
    match crate::files::inspect(dir) {
        Ok(Target::Absent | Target::Empty) => Ok(()),
        Ok(Target::NotEmpty { .. }) => Err(format!(
            "{} is not empty; record into a new or empty directory, so the fixtures hold only this recording",
            dir.display()
        )),
        Ok(Target::NotADirectory) => {
            Err(format!("{} is not a directory; record into a new or empty directory", dir.display()))
        }
        Err(e) => Err(format!("cannot read the directory {}: {e}", dir.display())),
    }
}

/// Writes the files into a temporary sibling of `dir`, then renames it
/// into place: `dir` ends up holding the whole recording or nothing (a
/// failed write removes what it wrote).
fn write(dir: &Path, files: &Files) -> Result<(), String> {
    check_empty(dir)?;
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "fixtures".to_string());
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let tmp = parent.join(format!(".{name}.recording-{}", std::process::id()));
    // Debug builds only: a write failing after N files, for the tests.
    #[cfg(debug_assertions)]
    let fail_after: Option<usize> = std::env::var("PSA_HOST_TEST_RECORD_FAIL_AFTER").ok().and_then(|v| v.parse().ok());
    #[cfg(not(debug_assertions))]
    let fail_after: Option<usize> = None;
    let written = (|| {
        std::fs::create_dir(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
        for (n, (file, text)) in files.iter().enumerate() {
            let path = tmp.join(file);
            if fail_after == Some(n) {
                return Err(format!("cannot write {}: a failure injected by PSA_HOST_TEST_RECORD_FAIL_AFTER", path.display()));
            }
            std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        // An empty DIR that exists is replaced by the written one.
        match std::fs::remove_dir(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(format!("cannot replace the empty directory {}: {e}", dir.display()));
            }
            _ => {}
        }
        std::fs::rename(&tmp, dir).map_err(|e| format!("cannot move the recording into {}: {e}", dir.display()))
    })();
    if let Err(message) = written {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(format!("{message}; nothing was left in {}", dir.display()));
    }
    Ok(())
}

/// Header names whose values are credentials (or carry them): dropped from
/// answers, shown as `[scrubbed]` among the request headers.
pub fn sensitive_name(name: &str) -> bool {
    let n: String = name.to_ascii_lowercase().chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    ["auth", "cookie", "token", "secret", "password", "apikey", "session", "signature", "credential", "integrationcode"]
        .iter()
        .any(|w| n.contains(w))
}

/// Keys (JSON, form, query) whose string values are tokens or secrets.
pub fn sensitive_key(key: &str) -> bool {
    let n: String = key.to_ascii_lowercase().chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let tokenish = n.contains("token") && !["type", "expires", "url", "uri", "endpoint"].iter().any(|w| n.contains(w));
    tokenish
        || ["secret", "password", "apikey", "jwt", "assertion", "sessionid", "signature"].iter().any(|w| n.contains(w))
}

/// Values shorter than this under token-like keys are left as they are.
pub const MIN_TOKEN_CHARS: usize = 8;

/// Response headers the harness's server writes itself (or that only
/// describe this one transfer).
const FRAMING: [&str; 6] = ["content-length", "transfer-encoding", "connection", "keep-alive", "date", "content-encoding"];

/// One replacement of the scrubber.
struct Rule {
    needle: String,
    replacement: String,
    /// An origin or host name: it must not continue into a longer name
    /// or port (`:4000` is not `:40001`).
    bounded: bool,
}

/// Every replacement, applied in one pass, longest needle first.
struct Scrubber {
    rules: Vec<Rule>,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == ':'
}

impl Scrubber {
    fn new(mut rules: Vec<Rule>) -> Scrubber {
        rules.retain(|r| !r.needle.is_empty() && r.needle != r.replacement);
        rules.sort_by(|a, b| b.needle.len().cmp(&a.needle.len()).then(a.needle.cmp(&b.needle)));
        rules.dedup_by(|a, b| a.needle == b.needle);
        Scrubber { rules }
    }

    fn scrub(&self, text: &str) -> String {
        let mut first = [false; 256];
        for r in &self.rules {
            first[r.needle.as_bytes()[0] as usize] = true;
        }
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        'outer: while i < text.len() {
            let rest = &text[i..];
            if !first[rest.as_bytes()[0] as usize] {
                let c = rest.chars().next().unwrap_or('\0');
                out.push(c);
                i += c.len_utf8().max(1);
                continue;
            }
            for r in &self.rules {
                if rest.starts_with(&r.needle) {
                    let after = rest[r.needle.len()..].chars().next();
                    let before = text[..i].chars().next_back();
                    if r.bounded && (after.is_some_and(is_name_char) || before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')) {
                        continue;
                    }
                    out.push_str(&r.replacement);
                    i += r.needle.len();
                    continue 'outer;
                }
            }
            let c = rest.chars().next().unwrap_or('\0');
            out.push(c);
            i += c.len_utf8().max(1);
        }
        out
    }
}

/// `value` URL-encoded (form style with `+`, and with `%20`) and
/// JSON-escaped, besides itself.
fn text_forms(value: &str) -> Vec<String> {
    let form: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    let json = serde_json::to_string(value).unwrap_or_default();
    let json = json.get(1..json.len().saturating_sub(1)).unwrap_or("").to_string();
    vec![value.to_string(), form.replace('+', "%20"), form, json]
}

/// `value` base64-encoded on its own (standard and URL-safe alphabets,
/// without padding).
fn base64_alone(value: &str) -> Vec<String> {
    let std = base64::engine::general_purpose::STANDARD_NO_PAD.encode(value);
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value);
    vec![std, url]
}

/// The base64 text `value` becomes inside any longer base64 text, for each
/// of the three byte alignments: the characters that depend only on its
/// bytes. Shorter than 4 characters: not searched (it would match by
/// chance).
pub fn base64_embedded(value: &str) -> Vec<String> {
    let n = value.len();
    let mut out = Vec::new();
    for k in 0..3usize {
        let mut bytes = vec![0u8; k];
        bytes.extend_from_slice(value.as_bytes());
        for engine in [&base64::engine::general_purpose::STANDARD_NO_PAD, &base64::engine::general_purpose::URL_SAFE_NO_PAD] {
            let enc = engine.encode(&bytes);
            let start = (4 * k).div_ceil(3);
            let end = (8 * (k + n)) / 6;
            if let Some(s) = enc.get(start..end) {
                if s.len() >= 4 {
                    out.push(s.to_string());
                }
            }
        }
    }
    out
}

/// `(field id, value, fake value)` of each secret field with a value.
fn secrets<'a>(info: &ConnectorInfo, entries: &'a [(String, String)]) -> Vec<(String, &'a str, String)> {
    entries
        .iter()
        .filter(|(k, v)| !v.is_empty() && info.field(k).is_some_and(|f| f.kind == FieldKind::Secret))
        .map(|(k, v)| (k.clone(), v.as_str(), format!("recorded-secret-{}", slug(k, 40))))
        .collect()
}

/// Lower-case letters, digits and single dashes, at most `max` characters.
fn slug(text: &str, max: usize) -> String {
    let mut s = String::new();
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            s.push(c);
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
        if s.len() >= max {
            break;
        }
    }
    let s = s.trim_end_matches('-').to_string();
    if s.is_empty() { "x".to_string() } else { s }
}

/// The origin of a URL as written (`scheme://authority`), and its
/// normalised forms.
fn origin_texts(u: &str) -> Option<(url::Url, Vec<String>)> {
    let parsed = url::Url::parse(u).ok()?;
    parsed.host_str()?;
    let mut texts = Vec::new();
    if let Some(end) = u.find("://").map(|i| i + 3) {
        let auth_end = u[end..].find(['/', '?', '#']).map(|j| end + j).unwrap_or(u.len());
        texts.push(u[..auth_end].to_string());
    }
    let host = parsed.host_str().unwrap_or("");
    let port = parsed.port_or_known_default().unwrap_or(0);
    texts.push(format!("{}://{host}:{port}", parsed.scheme()));
    if parsed.port().is_none() {
        texts.push(format!("{}://{host}", parsed.scheme()));
    }
    Some((parsed, texts))
}

/// Token values found in a JSON value under sensitive keys.
fn json_tokens(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match x {
                    serde_json::Value::String(s) if sensitive_key(k) => out.push(s.clone()),
                    _ => json_tokens(x, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|x| json_tokens(x, out)),
        _ => {}
    }
}

/// Token values in form-encoded text (`a=b&c=d`) under sensitive keys.
fn form_tokens(text: &str, out: &mut Vec<String>) {
    for (k, v) in url::form_urlencoded::parse(text.as_bytes()) {
        if sensitive_key(&k) {
            out.push(v.into_owned());
        }
    }
}

/// Token values in request and response headers.
fn header_tokens(headers: &[(String, String)], out: &mut Vec<String>) {
    for (k, v) in headers {
        if !sensitive_name(k) {
            continue;
        }
        out.push(v.clone());
        // `Bearer abc`, `Basic abc`: the credential alone, too.
        if let Some((_, cred)) = v.trim().split_once(' ') {
            out.push(cred.trim().to_string());
        }
        // Cookies: each value.
        if !k.contains("cookie") {
            continue;
        }
        for part in v.split(';') {
            if let Some((_, val)) = part.split_once('=') {
                out.push(val.trim().to_string());
            }
        }
    }
}

fn has_key(v: &serde_json::Value, key: &str) -> bool {
    match v {
        serde_json::Value::Object(m) => m.iter().any(|(k, x)| k.eq_ignore_ascii_case(key) || has_key(x, key)),
        serde_json::Value::Array(items) => items.iter().any(|x| has_key(x, key)),
        _ => false,
    }
}

/// The pointer (with `*`) of the ids in the shallowest array of objects
/// that carry an `id`, or `None`.
pub fn guess_customer_ids(v: &serde_json::Value) -> Option<String> {
    let mut queue = std::collections::VecDeque::from([(v, String::new())]);
    while let Some((v, path)) = queue.pop_front() {
        match v {
            serde_json::Value::Array(items) => {
                let id_key = items.iter().find_map(|x| {
                    x.as_object().and_then(|m| m.keys().find(|k| k.eq_ignore_ascii_case("id")).cloned())
                });
                if let Some(k) = id_key {
                    return Some(format!("{path}/*/{k}"));
                }
            }
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    queue.push_back((x, format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"))));
                }
            }
            _ => {}
        }
    }
    None
}

/// A JSON body indented for the reader when that changes nothing but
/// whitespace: when it is exactly the compact form of what it parses to
/// (so no number, escape or key order is rewritten). Anything else verbatim.
fn readable(body: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(v) if serde_json::to_string(&v).is_ok_and(|compact| compact == body) => {
            serde_json::to_string_pretty(&v).map(|p| p + "\n").unwrap_or_else(|_| body.to_string())
        }
        _ => body.to_string(),
    }
}

/// A TOML string: a multi-line literal string when the text allows it
/// (readable JSON), else a basic string with escapes.
fn toml_text(s: &str) -> String {
    let literal_ok = !s.contains("'''")
        && !s.ends_with('\'')
        && !s.chars().any(|c| (c.is_control() && c != '\n' && c != '\t') || c == '\u{7f}');
    if literal_ok {
        format!("'''\n{s}'''")
    } else {
        toml::Value::String(s.to_string()).to_string()
    }
}

/// A key: bare when it may be, else quoted.
fn toml_key(k: &str) -> String {
    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        k.to_string()
    } else {
        toml_str(k)
    }
}

/// The fixture files of a recording: `connection.toml` first, then one
/// file per exchange. `dropped`: exchanges the recording could not keep;
/// `max_exchanges`: the most it keeps (for the message).
pub fn build(
    info: &ConnectorInfo,
    entries: &[(String, String)],
    exchanges: &[Exchange],
    dropped: usize,
    max_exchanges: usize,
) -> Result<Files, String> {
    if dropped > 0 {
        return Err(format!(
            "the recording was refused and nothing was written: the import made more requests than a recording holds \
             ({} exchanges kept, {dropped} more not; at most {max_exchanges} exchanges and {} MiB). Record against an \
             instance (or a filter) with fewer customers",
            exchanges.len(),
            Recording::DEFAULT_MAX_BYTES >> 20
        ));
    }
    if exchanges.is_empty() {
        return Err("the import made no HTTP request, so there is nothing to record".to_string());
    }
    // (At most `max_exchanges` <= fixture::MAX_EXCHANGES were kept.)
    if let Some((i, e)) = exchanges.iter().enumerate().find(|(_, e)| !e.response_complete) {
        let path = url::Url::parse(&e.url).map(|u| u.path().to_string()).unwrap_or_default();
        return Err(format!(
            "the recording was refused and nothing was written: exchange {} ({} {}, HTTP {}) was not read to its end \
             (the connector stopped reading the answer, or the body failed), so its fixture would hold only part of it. \
             Check that the connector reads every answer it uses to the end, then record again",
            i + 1,
            e.method,
            path,
            e.status
        ));
    }
    let secrets = secrets(info, entries);

    // Origins: the form's URL fields first, then those the exchanges name.
    let id = slug(&info.id, 30);
    let mut origins: Vec<((String, String, u16), Vec<String>)> = Vec::new();
    let mut add_origin = |u: &str| {
        if let Some((parsed, texts)) = origin_texts(u) {
            let key = (parsed.scheme().to_string(), parsed.host_str().unwrap_or("").to_ascii_lowercase(), parsed.port_or_known_default().unwrap_or(0));
            match origins.iter_mut().find(|(k, _)| *k == key) {
                Some((_, t)) => t.extend(texts),
                None => origins.push((key, texts)),
            }
        }
    };
    for f in &info.fields {
        if f.kind == FieldKind::Url {
            if let Some((_, v)) = entries.iter().find(|(k, v)| k == &f.id && !v.is_empty()) {
                add_origin(v);
            }
        }
    }
    for e in exchanges {
        add_origin(&e.url);
    }
    let mut rules = Vec::new();
    for (i, ((_, host, _), texts)) in origins.iter().enumerate() {
        let placeholder_host = if i == 0 { format!("{id}.example") } else { format!("{id}-{}.example", i + 1) };
        let placeholder = format!("https://{placeholder_host}");
        for text in texts {
            rules.push(Rule { needle: text.clone(), replacement: placeholder.clone(), bounded: true });
            rules.push(Rule { needle: text.replace('/', "\\/"), replacement: placeholder.replace('/', "\\/"), bounded: true });
        }
        // `host:port` without the scheme (a `Host` header, a body).
        if let Some(port) = texts.iter().find_map(|t| url::Url::parse(t).ok().and_then(|u| u.port())) {
            rules.push(Rule { needle: format!("{host}:{port}"), replacement: placeholder_host.clone(), bounded: true });
        }
        // A host name (not an address) on its own, e.g. in a body.
        if host.contains('.') && host.parse::<std::net::IpAddr>().is_err() && !host.starts_with('[') {
            rules.push(Rule { needle: host.clone(), replacement: placeholder_host.clone(), bounded: true });
        }
    }

    // Tokens: wherever they were found, replaced everywhere.
    let mut tokens = Vec::new();
    for e in exchanges {
        header_tokens(&e.request_headers, &mut tokens);
        header_tokens(&e.response_headers, &mut tokens);
        for body in [&e.request_body, &e.response_body] {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
                json_tokens(&v, &mut tokens);
            } else if let Ok(text) = std::str::from_utf8(body) {
                form_tokens(text, &mut tokens);
            }
        }
        if let Ok(u) = url::Url::parse(&e.url) {
            form_tokens(u.query().unwrap_or(""), &mut tokens);
        }
    }
    let secret_values: Vec<&str> = secrets.iter().map(|(_, v, _)| *v).collect();
    // A shorter value under a token-like key is not taken for a credential
    // (it would be replaced wherever the same text appears).
    tokens.retain(|tok| tok.len() >= MIN_TOKEN_CHARS && !secret_values.contains(&tok.as_str()));
    tokens.sort();
    tokens.dedup();
    for (i, tok) in tokens.iter().enumerate() {
        let placeholder = format!("recorded-token-{}", i + 1);
        for form in text_forms(tok) {
            rules.push(Rule { needle: form, replacement: placeholder.clone(), bounded: false });
        }
    }
    // Secrets last in the list, but applied longest first like the rest.
    for (_, value, fake) in &secrets {
        for form in text_forms(value).into_iter().chain(base64_alone(value)) {
            rules.push(Rule { needle: form, replacement: fake.clone(), bounded: false });
        }
    }
    let scrubber = Scrubber::new(rules);

    // Which exchange is the first customer page, and its pointer.
    let mut first_page = None;
    for (i, e) in exchanges.iter().enumerate() {
        if !(200..300).contains(&e.status) || is_token_exchange(e) {
            continue;
        }
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&e.response_body) {
            if let Some(p) = guess_customer_ids(&v) {
                first_page = Some((i, p));
                break;
            }
        }
    }

    let mut files = Vec::new();
    files.push(("connection.toml".to_string(), connection_toml(info, entries, &secrets, &scrubber, first_page.as_ref())));
    let width = exchanges.len().to_string().len().max(3);
    let mut slugs: Vec<String> = Vec::new();
    for (i, e) in exchanges.iter().enumerate() {
        let auth = is_token_exchange(e) || first_page.as_ref().is_none_or(|(p, _)| i < *p);
        let base = exchange_slug(e);
        let seen = slugs.iter().filter(|s| **s == base).count();
        slugs.push(base.clone());
        let name = if seen == 0 { format!("{:0width$}-{base}.toml", i + 1) } else { format!("{:0width$}-{base}-{}.toml", i + 1, seen + 1) };
        let text = exchange_toml(e, auth, &scrubber, &name)?;
        if text.len() as u64 > fixture::MAX_FILE_BYTES {
            return Err(format!("{name} would be {} bytes; a fixture file may hold at most {}", text.len(), fixture::MAX_FILE_BYTES));
        }
        files.push((name, text));
    }
    Ok(files)
}

/// A token exchange: `grant_type` in the request body, or an
/// `access_token` in the answer.
fn is_token_exchange(e: &Exchange) -> bool {
    String::from_utf8_lossy(&e.request_body).contains("grant_type")
        || serde_json::from_slice::<serde_json::Value>(&e.response_body).is_ok_and(|v| has_key(&v, "access_token"))
}

/// `token` for a token exchange, else the last path segment (with the
/// method when it is not GET).
fn exchange_slug(e: &Exchange) -> String {
    if is_token_exchange(e) {
        return "token".to_string();
    }
    let segment = url::Url::parse(&e.url)
        .ok()
        .and_then(|u| u.path_segments().and_then(|mut s| s.rfind(|x| !x.is_empty()).map(str::to_string)))
        .unwrap_or_else(|| "root".to_string());
    let base = slug(&segment, 32);
    if e.method.eq_ignore_ascii_case("GET") { base } else { format!("{}-{base}", slug(&e.method, 8)) }
}

fn connection_toml(
    info: &ConnectorInfo,
    entries: &[(String, String)],
    secrets: &[(String, &str, String)],
    scrubber: &Scrubber,
    first_page: Option<&(usize, String)>,
) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "# The connection form of `{}`, recorded by `psa-host import --record`.\n\
         # Origins are placeholders (the harness serves them from loopback); secret\n\
         # fields hold fake values, which the harness checks no message shows.\n",
        t(&info.id)
    ));
    for f in &info.fields {
        let Some((_, value)) = entries.iter().find(|(k, _)| k == &f.id) else { continue };
        let value = match secrets.iter().find(|(k, _, _)| k == &f.id) {
            Some((_, _, fake)) => fake.clone(),
            None => scrubber.scrub(value),
        };
        s.push_str(&format!("{} = {}\n", toml_key(&f.id), toml_str(&value)));
    }
    s.push_str("\n[harness]\n");
    match first_page {
        Some((i, pointer)) => {
            s.push_str(&format!("# Guessed from the first customer page (exchange {}): check it.\n", i + 1));
            s.push_str(&format!("customer_ids = {}\n", toml_str(pointer)));
        }
        None => {
            s.push_str(
                "# TODO: no answer held a list of objects with an `id`, so where the customer ids\n\
                 # are could not be guessed. Set this JSON pointer (`*` for every array element).\n\
                 customer_ids = \"/TODO/*/id\"\n",
            );
        }
    }
    s
}

fn exchange_toml(e: &Exchange, auth: bool, scrubber: &Scrubber, name: &str) -> Result<String, String> {
    let url = scrubber.scrub(&e.url);
    let parsed = url::Url::parse(&url).map_err(|err| format!("{name}: the request URL does not parse after scrubbing ({err})"))?;
    let body = std::str::from_utf8(&e.response_body).map_err(|_| {
        format!(
            "{name}: the answer's body is not UTF-8 text ({} bytes, content-type {:?}); the fixture format holds text bodies",
            e.response_body.len(),
            e.response_headers.iter().find(|(k, _)| k == "content-type").map(|(_, v)| v.as_str()).unwrap_or("none")
        )
    })?;
    let body = readable(&scrubber.scrub(body));
    let mut s = String::new();
    s.push_str(&format!("# {} {} answered HTTP {}, recorded by `psa-host import --record`.\n", t(&e.method), t(parsed.path()), e.status));
    if !e.request_headers.is_empty() {
        s.push_str("# Request headers the connector sent:\n");
        for (k, v) in e.request_headers.iter().filter(|(k, _)| k != "host") {
            let v = if sensitive_name(k) { "[scrubbed]".to_string() } else { scrubber.scrub(v) };
            s.push_str(&format!("#   {}: {}\n", t(k), t(&v)));
        }
    }
    if auth {
        s.push_str("auth = true\n");
    }
    s.push_str("\n[request]\n");
    s.push_str(&format!("method = {}\n", toml_str(&e.method)));
    s.push_str(&format!("url = {}\n", toml_str(&url)));
    let contains = body_contains(e, scrubber);
    if !contains.is_empty() {
        let items: Vec<String> = contains.iter().map(|c| toml_str(c)).collect();
        s.push_str(&format!("body_contains = [{}]\n", items.join(", ")));
    }
    s.push_str("\n[response]\n");
    s.push_str(&format!("status = {}\n", e.status));
    let headers: Vec<String> = e
        .response_headers
        .iter()
        .filter(|(k, _)| !FRAMING.contains(&k.as_str()) && !sensitive_name(k))
        .map(|(k, v)| format!("{} = {}", toml_key(k), toml_str(&scrubber.scrub(v))))
        .collect();
    if !headers.is_empty() {
        s.push_str(&format!("headers = {{ {} }}\n", headers.join(", ")));
    }
    s.push_str(&format!("body = {}\n", toml_text(&body)));
    // The text must read back as what was meant.
    let back: toml::Table = s.parse().map_err(|err: toml::de::Error| format!("{name}: the recorded file is not TOML ({})", err.message()))?;
    let back_body = back.get("response").and_then(|r| r.get("body")).and_then(|b| b.as_str());
    if back_body != Some(body.as_str()) {
        return Err(format!("{name}: the recorded body does not read back as it was answered"));
    }
    Ok(s)
}

/// For a form-encoded request body: its `key=value` pairs that are not
/// sensitive and that scrubbing left alone (at most 8).
fn body_contains(e: &Exchange, scrubber: &Scrubber) -> Vec<String> {
    let form = e
        .request_headers
        .iter()
        .any(|(k, v)| k == "content-type" && v.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    let Ok(text) = std::str::from_utf8(&e.request_body) else { return Vec::new() };
    if !form {
        return Vec::new();
    }
    text.split('&')
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or("");
            !pair.is_empty() && pair.len() <= 200 && !sensitive_key(key) && scrubber.scrub(pair) == *pair
        })
        .take(8)
        .map(str::to_string)
        .collect()
}

/// Nothing is written while any file still holds a configured secret, in
/// any of the forms searched (see the module docs); the error names the
/// file, the place and the field.
pub fn refuse_secrets(files: &Files, info: &ConnectorInfo, entries: &[(String, String)]) -> Result<(), String> {
    let secrets = secrets(info, entries);
    for (name, text) in files {
        for (field, value, _) in &secrets {
            let forms: Vec<(String, &str)> = text_forms(value)
                .into_iter()
                .map(|f| (f, "as text"))
                .chain(base64_embedded(value).into_iter().map(|f| (f, "base64-encoded")))
                .collect();
            for (form, how) in forms {
                if form.is_empty() {
                    continue;
                }
                if let Some(at) = text.find(&form) {
                    return Err(format!(
                        "the recording was refused and nothing was written: {name} would still hold the value of the secret field \
                         `{field}` ({how}) in {} after scrubbing. The PSA echoed it where the scrubber does not look; record \
                         against an instance that does not, or write this exchange by hand",
                        place(text, at)
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Where in a fixture file an offset is: the response body (the last
/// key of an exchange file), a request-header comment, a response header,
/// or the key of its line.
fn place(text: &str, at: usize) -> String {
    if text.find("\nbody = ").is_some_and(|b| b < at) {
        return "the response body".to_string();
    }
    let line_start = text[..at].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line = text[line_start..].lines().next().unwrap_or("");
    let table = text[..line_start].lines().rev().find(|l| l.starts_with('[')).unwrap_or("");
    let key = line.split('=').next().unwrap_or("").trim();
    if line.starts_with('#') {
        "a comment (the request headers)".to_string()
    } else if table == "[response]" && key == "headers" {
        let header = line[..at - line_start].rsplit([',', '{']).next().unwrap_or("").split('=').next().unwrap_or("").trim();
        format!("the response header {}", t(header))
    } else if table.is_empty() {
        format!("the form field {}", t(key))
    } else {
        format!("{} {}", table.trim_matches(['[', ']']), t(key))
    }
}

