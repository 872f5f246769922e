//! Halo's OAuth client-credentials exchange and the session's token cache.

use std::time::{Duration, Instant};

use crate::answer::{extract_halo_message, is_html, refused_as_sent, retry_after, summary};
use crate::config::{Config, Secret};
use crate::discover::{self, Base};
use crate::error::Error;
use crate::http::{Method, Request, Transport};
use crate::messages as msg;

/// Renew a token when fewer than this many seconds remain.
pub const RENEW_MARGIN_SECS: u64 = 60;
/// Lifetime assumed when Halo does not say.
pub const DEFAULT_LIFETIME_SECS: u64 = 3600;

struct Cached {
    value: Secret,
    obtained: Instant,
    lifetime_secs: u64,
    /// The scopes Halo says it granted (`scope` of the token answer), if it said.
    granted: Option<Vec<String>>,
}

/// A token answer: the token, its lifetime in seconds, the granted scopes.
pub type Issued = (String, u64, Option<Vec<String>>);

/// The session's access token. No `Debug`: it holds the token.
#[derive(Default)]
pub struct TokenCache {
    current: Option<Cached>,
}

impl TokenCache {
    /// The cached token, if it has at least `RENEW_MARGIN_SECS` left.
    pub fn fresh(&self) -> Option<String> {
        let c = self.current.as_ref()?;
        is_fresh(c.obtained.elapsed(), c.lifetime_secs).then(|| c.value.expose().to_string())
    }

    #[cfg(test)]
    pub fn store(&mut self, token: String, lifetime_secs: u64) {
        self.store_granted(token, lifetime_secs, None);
    }

    pub fn store_granted(&mut self, token: String, lifetime_secs: u64, granted: Option<Vec<String>>) {
        self.current = Some(Cached { value: Secret::new(token), obtained: Instant::now(), lifetime_secs, granted });
    }

    /// The scopes the current token was granted, when Halo said.
    pub fn granted(&self) -> Option<&[String]> {
        self.current.as_ref()?.granted.as_deref()
    }

    pub fn clear(&mut self) {
        self.current = None;
    }

    /// The cached token, or a new one from Halo.
    pub fn get(&mut self, cfg: &Config, net: &mut dyn Transport) -> Result<String, Error> {
        if let Some(t) = self.fresh() {
            return Ok(t);
        }
        self.renew(cfg, net)
    }

    /// Always asks Halo for a new token.
    pub fn renew(&mut self, cfg: &Config, net: &mut dyn Transport) -> Result<String, Error> {
        self.clear();
        let (token, lifetime, granted) = fetch(cfg, net)?;
        self.store_granted(token.clone(), lifetime, granted);
        Ok(token)
    }
}

/// Whether a token `elapsed` into a lifetime of `lifetime_secs` may still be used.
pub fn is_fresh(elapsed: Duration, lifetime_secs: u64) -> bool {
    lifetime_secs.saturating_sub(elapsed.as_secs()) >= RENEW_MARGIN_SECS
        && Duration::from_secs(lifetime_secs) > elapsed
}

/// `{auth}/token`, with `?tenant=` when a tenant is set.
pub fn token_request_url(cfg: &Config) -> String {
    match &cfg.tenant {
        Some(t) => {
            let q: String = url::form_urlencoded::Serializer::new(String::new()).append_pair("tenant", t).finish();
            format!("{}?{q}", cfg.token_url())
        }
        None => cfg.token_url(),
    }
}

/// The form body. It holds the secret: never log or show it.
pub fn token_request_body(cfg: &Config) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("client_id", &cfg.client_id)
        .append_pair("client_secret", cfg.client_secret.expose())
        .append_pair("scope", &cfg.scope)
        .finish()
}

/// One token exchange. When Halo's answer suggests a wrong URL or tenant,
/// one `authinfo` request adds what Halo reports about both.
pub fn fetch(cfg: &Config, net: &mut dyn Transport) -> Result<Issued, Error> {
    let req = Request {
        method: Method::Post,
        url: token_request_url(cfg),
        headers: vec![
            ("Content-Type".into(), "application/x-www-form-urlencoded".into()),
            ("Accept".into(), "application/json".into()),
        ],
        body: Some(token_request_body(cfg).into_bytes()),
        endpoint: cfg.token_endpoint(),
    };
    let resp = crate::http::send(net, &req)?;
    match interpret(cfg, resp.status, resp.content_type(), &resp.body) {
        Err(Error::RateLimited { .. }) => {
            let ra = retry_after(resp.header("retry-after"));
            Err(Error::RateLimited { retry_after: ra, message: msg::rate_limited(ra) })
        }
        // 404, 405 or a web page: the URL or (hosted) the tenant is wrong.
        Err(e @ Error::Protocol { .. })
            if matches!(resp.status, 404 | 405) || is_html(resp.content_type(), &resp.body) =>
        {
            let Some(info) = discover::ask(cfg, net, Base::Resource) else { return Err(e) };
            let e = if info.auth_differs(cfg) {
                // Halo names another authorization server: that explains the
                // answer, so no guess about the tenant.
                let html = is_html(resp.content_type(), &resp.body);
                Error::protocol(
                    &cfg.token_endpoint(),
                    msg::auth_not_halo(&cfg.token_url(), &answered(resp.status, html), cfg.tenant.as_deref(), false),
                )
            } else {
                e
            };
            Err(e.with_note(&info.note(cfg)))
        }
        // invalid_client (or a 400 such as "the tenant is not valid"): add
        // what Halo reports only when it differs from the form.
        Err(e @ Error::Unauthorized(_)) if resp.status == 400 || resp.status == 401 => {
            Err(discover::annotate(e, cfg, net, Base::Resource, false))
        }
        Err(e @ Error::Upstream { status: 400, .. }) => Err(discover::annotate(e, cfg, net, Base::Resource, false)),
        other => other,
    }
}

/// The longest access token accepted (Halo's are JWTs of one or two KiB).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Read the token endpoint's answer (pure).
pub fn interpret(cfg: &Config, status: u16, content_type: Option<&str>, body: &[u8]) -> Result<Issued, Error> {
    let endpoint = cfg.token_endpoint();
    let html = is_html(content_type, body);
    // Before the web-page test: a proxy's refusal usually comes as an HTML
    // page, and is not a sign of a wrong URL.
    if refused_as_sent(status) {
        let message = msg::refused_as_sent(status, &endpoint, Some("application/x-www-form-urlencoded"));
        return Err(Error::Upstream { status, endpoint, message });
    }
    if status == 404 || status == 405 || html {
        return Err(Error::protocol(&endpoint, msg::auth_not_halo(&cfg.token_url(), &answered(status, html), cfg.tenant.as_deref(), true)));
    }
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    if (200..300).contains(&status) {
        let obj = json.as_ref().and_then(|v| v.as_object());
        let Some(obj) = obj else {
            return Err(Error::protocol(&endpoint, msg::token_missing("the answer is not a JSON object")));
        };
        let token = match obj.get("access_token") {
            Some(serde_json::Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(Error::protocol(&endpoint, msg::token_missing("no \"access_token\" string"))),
        };
        // The token goes into every request's `Authorization` header: one
        // too long for a header (the host caps a request's headers at
        // 32 KiB) or with bytes a header cannot carry is refused here, as
        // a wrong answer, not sent to fail later.
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Error::protocol(&endpoint, msg::token_missing(&format!("a token of {} bytes, longer than the {MAX_TOKEN_BYTES} a request header can carry", token.len()))));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::protocol(&endpoint, msg::token_missing("the token holds spaces or characters a request header cannot carry")));
        }
        let lifetime = obj.get("expires_in").and_then(lifetime_secs).unwrap_or(DEFAULT_LIFETIME_SECS);
        return Ok((token, lifetime, obj.get("scope").and_then(granted_scopes)));
    }
    let code = json
        .as_ref()
        .and_then(|v| v.get("error"))
        .and_then(|v| v.as_str())
        .map(|s| s.to_ascii_lowercase());
    let auth_host = cfg.auth.host.as_str();
    match (status, code.as_deref()) {
        (_, Some("invalid_scope")) => Err(Error::config(crate::config::SCOPE, msg::invalid_scope(&cfg.scope))),
        (_, Some(c @ ("unauthorized_client" | "invalid_grant" | "unsupported_grant_type"))) => {
            Err(Error::Unauthorized(msg::wrong_grant(c)))
        }
        (400 | 401, Some("invalid_client")) | (401, _) => {
            Err(Error::Unauthorized(msg::wrong_credentials(cfg.tenant.as_deref(), auth_host)))
        }
        (429, _) => Err(Error::RateLimited { retry_after: None, message: msg::rate_limited(None) }),
        _ => {
            let message = extract_halo_message(body).unwrap_or_else(|| summary(status, content_type, body));
            Err(Error::Upstream { status, endpoint, message: scrub(message, cfg) })
        }
    }
}

/// How the token endpoint answered, for `auth_not_halo`.
fn answered(status: u16, html: bool) -> String {
    match (status, html) {
        (_, true) => format!("with an HTML page (HTTP {status})"),
        // A web server's answer to a POST to a page: not Halo's token endpoint.
        (405, false) => "HTTP 405 (method not allowed: it takes no POST)".to_string(),
        _ => "HTTP 404 (not found)".to_string(),
    }
}

/// `scope` as Halo sends it (space-separated), or as an array of names.
fn granted_scopes(v: &serde_json::Value) -> Option<Vec<String>> {
    let names: Vec<String> = match v {
        serde_json::Value::String(s) => s.split_whitespace().map(str::to_string).collect(),
        serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str()).flat_map(str::split_whitespace).map(str::to_string).collect(),
        _ => return None,
    };
    Some(names.into_iter().map(|n| msg::clip(&n, 60)).take(100).collect())
}

/// Whether `granted` covers `needed`: itself, `all`, `admin`, or `edit:X` for `read:X`.
pub fn grants(granted: &[String], needed: &str) -> bool {
    let edit = needed.strip_prefix("read:").map(|x| format!("edit:{x}"));
    granted.iter().any(|g| {
        let g = g.to_ascii_lowercase();
        g == needed || g == "all" || g == "admin" || edit.as_deref() == Some(g.as_str())
    })
}

/// `expires_in` as a number or a numeric string.
fn lifetime_secs(v: &serde_json::Value) -> Option<u64> {
    let f = match v {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (f.is_finite() && f >= 0.0).then(|| f.min(1e9) as u64)
}

/// Remove the secret from a text Halo sent back, in case it echoes the request.
pub fn scrub(text: String, cfg: &Config) -> String {
    let secret = cfg.client_secret.expose();
    if secret.len() >= 4 && text.contains(secret) { text.replace(secret, "<redacted>") } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Describe;
    use crate::http::fake::Fake;

    fn cfg(tenant: Option<&str>) -> Config {
        let mut o = vec![("client_id", "my id"), ("client_secret", "p&ss=word")];
        if let Some(t) = tenant {
            o.push(("tenant", t));
        }
        crate::config::test_config(&o)
    }

    #[test]
    fn request_shape() {
        let c = cfg(Some("acme co"));
        assert_eq!(token_request_url(&c), "https://acme.halopsa.com/auth/token?tenant=acme+co");
        assert_eq!(token_request_url(&cfg(None)), "https://acme.halopsa.com/auth/token");
        assert_eq!(
            token_request_body(&c),
            "grant_type=client_credentials&client_id=my+id&client_secret=p%26ss%3Dword&scope=all"
        );
    }

    #[test]
    fn success() {
        let c = cfg(None);
        assert_eq!(interpret(&c, 200, None, br#"{"access_token":"t","expires_in":1800}"#).unwrap(), ("t".into(), 1800, None));
        assert_eq!(
            interpret(&c, 200, None, br#"{"access_token":"t","scope":"read:customers  edit:tickets"}"#).unwrap().2,
            Some(vec!["read:customers".to_string(), "edit:tickets".to_string()])
        );
        assert_eq!(interpret(&c, 200, None, br#"{"access_token":"t","scope":""}"#).unwrap().2, Some(vec![]));
        assert_eq!(interpret(&c, 200, None, br#"{"access_token":"t","expires_in":"1800"}"#).unwrap().1, 1800);
        assert_eq!(interpret(&c, 200, None, br#"{"access_token":"t"}"#).unwrap().1, 3600);
        let long = format!(r#"{{"access_token":"{}"}}"#, "a".repeat(MAX_TOKEN_BYTES + 1));
        match interpret(&c, 200, None, long.as_bytes()) {
            Err(Error::Protocol { message, .. }) => assert!(message.contains("longer than the 16384"), "{message}"),
            other => panic!("a token too long for a header is a protocol error: {other:?}"),
        }
        let fits = format!(r#"{{"access_token":"{}"}}"#, "a".repeat(MAX_TOKEN_BYTES));
        assert!(interpret(&c, 200, None, fits.as_bytes()).is_ok());
        assert!(matches!(interpret(&c, 200, None, br#"{"access_token":"a\u0000b"}"#), Err(Error::Protocol { .. })));
        assert!(matches!(interpret(&c, 200, None, br#"{"token":"t"}"#), Err(Error::Protocol { .. })));
        assert!(matches!(interpret(&c, 200, None, b"[]"), Err(Error::Protocol { .. })));
    }

    #[test]
    fn failures() {
        let c = cfg(None);
        match interpret(&c, 401, None, br#"{"error":"invalid_client"}"#) {
            Err(Error::Unauthorized(m)) => assert!(m.contains("Tenant field")),
            other => panic!("{other:?}"),
        }
        match interpret(&cfg(Some("acme")), 400, None, br#"{"error":"invalid_client"}"#) {
            Err(Error::Unauthorized(m)) => assert!(m.contains("\"acme\"")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(interpret(&c, 401, None, b""), Err(Error::Unauthorized(_))));
        match interpret(&c, 400, None, br#"{"error":"invalid_scope"}"#) {
            Err(Error::InvalidConfig { field, message }) => {
                assert_eq!(field, "scope");
                assert!(message.contains("\"all\""));
            }
            other => panic!("{other:?}"),
        }
        match interpret(&c, 400, None, br#"{"error":"unauthorized_client"}"#) {
            Err(Error::Unauthorized(m)) => assert!(m.contains("Client ID and Secret (Services)")),
            other => panic!("{other:?}"),
        }
        match interpret(&c, 404, None, b"") {
            Err(Error::Protocol { endpoint, message }) => {
                assert_eq!(endpoint, "/auth/token");
                assert!(message.contains("https://acme.halopsa.com/auth/token answered HTTP 404"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(interpret(&c, 200, Some("text/html"), b"<html>"), Err(Error::Protocol { .. })));
        match interpret(&c, 405, None, b"") {
            Err(Error::Protocol { message, .. }) => {
                assert!(message.contains("answered HTTP 405 (method not allowed: it takes no POST)"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(interpret(&c, 503, None, b""), Err(Error::Upstream { status: 503, .. })));
        match interpret(&c, 500, None, br#"{"Message":"bad p&ss=word"}"#) {
            Err(Error::Upstream { message, .. }) => assert!(!message.contains("p&ss=word")),
            other => panic!("{other:?}"),
        }
    }

    /// A proxy's 411 (nginx's HTML page) is not the wrong-URL message, and
    /// asks nobody about the URL (no authinfo request).
    #[test]
    fn refused_as_sent_is_not_a_wrong_url() {
        let c = cfg(None);
        let nginx = b"<html>\r\n<head><title>411 Length Required</title></head>\r\n<body>\r\n<center><h1>411 Length Required</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
        let mut net = Fake::new();
        net.answers.push_back(Ok(crate::http::Response {
            status: 411,
            headers: vec![("content-type".into(), "text/html".into())],
            body: nginx.to_vec(),
        }));
        let e = fetch(&c, &mut net).unwrap_err();
        assert_eq!(net.sent.len(), 1, "no authinfo request");
        match &e {
            Error::Upstream { status: 411, endpoint, message } => {
                assert_eq!(endpoint, "/auth/token");
                assert!(message.starts_with("Length Required."), "{message}");
                assert!(message.contains("Content-Length"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(!e.describe().contains("does not look like Halo's"), "{}", e.describe());
        match interpret(&c, 415, Some("text/html"), b"<html>") {
            Err(Error::Upstream { status: 415, message, .. }) => {
                assert!(message.contains("application/x-www-form-urlencoded"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn scope_coverage() {
        let g = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        assert!(grants(&g("read:customers"), "read:customers"));
        assert!(grants(&g("edit:customers"), "read:customers"));
        assert!(grants(&g("all"), "admin"));
        assert!(grants(&g("ADMIN"), "read:customers"));
        assert!(!grants(&g("read:tickets"), "read:customers"));
        assert!(!grants(&g("read:tickets"), "edit:tickets"));
        assert!(!grants(&g("read:customers"), "admin"));
        assert!(!grants(&[], "read:customers"));
    }

    #[test]
    fn discovery_on_404_and_not_on_scope() {
        let c = cfg(None);
        let mut net = Fake::new();
        net.answers.push_back(Ok(crate::http::Response {
            status: 404,
            headers: vec![("content-type".into(), "text/html".into())],
            body: b"<html>not found</html>".to_vec(),
        }));
        net.json(200, r#"{"auth_url":"https://eu.halopsa.com/auth","tenant_id":"acme"}"#);
        let e = fetch(&c, &mut net).unwrap_err();
        assert!(matches!(e, Error::Protocol { .. }));
        assert!(e.describe().ends_with(
            "Halo reports its authorization server as https://eu.halopsa.com/auth (you entered https://acme.halopsa.com/auth) and tenant as \"acme\" (the Tenant field is empty). Correct the form to match, then test again."
        ), "{}", e.describe());
        assert!(!e.describe().contains("Tenant field is probably missing"), "{}", e.describe());
        assert_eq!(net.urls()[1], "https://acme.halopsa.com/api/authinfo");

        let mut net = Fake::new();
        net.json(400, r#"{"error":"invalid_scope"}"#);
        assert!(matches!(fetch(&c, &mut net), Err(Error::InvalidConfig { .. })));
        assert_eq!(net.sent.len(), 1);

        // invalid_client, authinfo only confirming: no note, one authinfo request.
        let mut net = Fake::new();
        net.json(401, r#"{"error":"invalid_client"}"#).json(200, r#"{"auth_url":"https://acme.halopsa.com/auth","tenant_id":""}"#);
        let e = fetch(&c, &mut net).unwrap_err();
        assert!(!e.describe().contains("Halo reports"));
        assert_eq!(net.sent.len(), 2);
    }

    #[test]
    fn expiry() {
        assert!(is_fresh(Duration::from_secs(0), 3600));
        assert!(is_fresh(Duration::from_secs(3540), 3600));
        assert!(!is_fresh(Duration::from_secs(3541), 3600));
        assert!(!is_fresh(Duration::from_secs(0), 30));
        assert!(!is_fresh(Duration::from_secs(5000), 3600));
    }

    #[test]
    fn cache_reuses_and_renews() {
        let c = cfg(None);
        let mut net = Fake::new();
        net.token();
        let mut cache = TokenCache::default();
        assert_eq!(cache.get(&c, &mut net).unwrap(), "tok-1");
        assert_eq!(cache.get(&c, &mut net).unwrap(), "tok-1");
        assert_eq!(net.sent.len(), 1);
        cache.store("short".into(), 30);
        assert!(cache.fresh().is_none());
    }
}
