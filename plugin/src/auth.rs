//! Halo's OAuth client-credentials exchange and the session's token cache.

use std::time::{Duration, Instant};

use crate::api::{extract_halo_message, is_html, retry_after};
use crate::config::{Config, Secret};
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
}

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

    pub fn store(&mut self, token: String, lifetime_secs: u64) {
        self.current = Some(Cached { value: Secret::new(token), obtained: Instant::now(), lifetime_secs });
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
        let (token, lifetime) = fetch(cfg, net)?;
        self.store(token.clone(), lifetime);
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

/// One token exchange: the token and its lifetime in seconds.
pub fn fetch(cfg: &Config, net: &mut dyn Transport) -> Result<(String, u64), Error> {
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
    let resp = net.send(&req)?;
    match interpret(cfg, resp.status, resp.content_type(), &resp.body) {
        Err(Error::RateLimited { .. }) => {
            let ra = retry_after(resp.header("retry-after"));
            Err(Error::RateLimited { retry_after: ra, message: msg::rate_limited(ra) })
        }
        other => other,
    }
}

/// Read the token endpoint's answer (pure).
pub fn interpret(cfg: &Config, status: u16, content_type: Option<&str>, body: &[u8]) -> Result<(String, u64), Error> {
    let endpoint = cfg.token_endpoint();
    let html = is_html(content_type, body);
    if status == 404 || html {
        let answered = if html {
            format!("with an HTML page (HTTP {status})")
        } else {
            "HTTP 404 (not found)".to_string()
        };
        return Err(Error::protocol(&endpoint, msg::auth_not_halo(&cfg.token_url(), &answered, cfg.tenant.as_deref())));
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
        let lifetime = obj.get("expires_in").and_then(lifetime_secs).unwrap_or(DEFAULT_LIFETIME_SECS);
        return Ok((token, lifetime));
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
            let message = extract_halo_message(body).unwrap_or_else(|| crate::api::summary(status, content_type, body));
            Err(Error::Upstream { status, endpoint, message: scrub(message, cfg) })
        }
    }
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
    use crate::http::fake::Fake;

    fn cfg(tenant: Option<&str>) -> Config {
        let mut f: Vec<(String, String)> = [
            ("resource_server_url", "https://acme.halopsa.com/api"),
            ("authorization_server_url", "https://acme.halopsa.com/auth"),
            ("client_id", "my id"),
            ("client_secret", "p&ss=word"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        if let Some(t) = tenant {
            f.push(("tenant".into(), t.into()));
        }
        crate::config::parse(&f).unwrap()
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
        assert_eq!(interpret(&c, 200, None, br#"{"access_token":"t","expires_in":1800}"#).unwrap(), ("t".into(), 1800));
        assert_eq!(interpret(&c, 200, None, br#"{"access_token":"t","expires_in":"1800"}"#).unwrap().1, 1800);
        assert_eq!(interpret(&c, 200, None, br#"{"access_token":"t"}"#).unwrap().1, 3600);
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
        assert!(matches!(interpret(&c, 503, None, b""), Err(Error::Upstream { status: 503, .. })));
        match interpret(&c, 500, None, br#"{"Message":"bad p&ss=word"}"#) {
            Err(Error::Upstream { message, .. }) => assert!(!message.contains("p&ss=word")),
            other => panic!("{other:?}"),
        }
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
