//! Zone discovery and authenticated calls, with Autotask's answers mapped
//! onto the contract's errors.
//!
//! - The zone (the API host of the user's database) is looked up once per
//!   session with `GET {lookup}/atservicesrest/v1.0/zoneInformation?user=`;
//!   its `url` is used only when it is https under `autotask.net` (or, with an
//!   advanced lookup URL, on the lookup's own host): [`zone_base`].
//! - Every call carries `UserName`, `Secret` and `ApiIntegrationCode`.
//! - A 401 looks the zone up again once (the database may have moved) and,
//!   when the zone changed, repeats the call there once.
//! - Autotask reports many failures as HTTP 500 with `{"errors": [...]}`:
//!   "does not have the adequate permissions" is `forbidden`, thread-limit
//!   and threshold texts are `rate-limited` (as is 429).

use psa_connector_sdk::http::{ErrorKind, HttpError, Method, Request, Response, Transport};
use psa_connector_sdk::Error;
use serde_json::Value;

use crate::config::Config;
use crate::messages as msg;

/// The zone lookup's path.
pub const ZONE_PATH: &str = "/atservicesrest/v1.0/zoneInformation";
/// The body cap on one answer (a 500-company page is about 1-2 MB).
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// The API base of a zone, e.g. `https://webservices5.autotask.net/ATServicesRest`,
/// from the lookup's `url`, or why it is refused. Accepted: https, no user
/// info, the default port, a host under `autotask.net`; or, when the lookup
/// is not Autotask's own (`lookup_host`), that same host with the lookup's scheme.
pub fn zone_base(raw: &str, lookup: &str, lookup_host: Option<&str>) -> Option<String> {
    let u = url::Url::parse(raw.trim()).ok()?;
    if !u.username().is_empty() || u.password().is_some() || u.query().is_some() || u.fragment().is_some() {
        return None;
    }
    let host = u.host_str()?.to_ascii_lowercase();
    let autotask = u.scheme() == "https"
        && u.port().is_none()
        && matches!(u.host(), Some(url::Host::Domain(_)))
        && (host == "autotask.net" || host.ends_with(".autotask.net"));
    let same_as_lookup = lookup_host.is_some_and(|h| h.eq_ignore_ascii_case(&host))
        && url::Url::parse(lookup).is_ok_and(|l| l.scheme() == u.scheme());
    if !(autotask || same_as_lookup) {
        return None;
    }
    // `url` "already includes /ATServicesRest/"; cope with it missing or
    // with the version already on it.
    let mut path = u.path().trim_end_matches('/').to_string();
    for v in ["/v1.0", "/V1.0"] {
        if let Some(p) = path.strip_suffix(v) {
            path = p.to_string();
        }
    }
    if path.is_empty() {
        path = "/ATServicesRest".into();
    }
    Some(format!("{}{path}", u.origin().ascii_serialization()))
}

/// The client of one session: the config and the discovered zone.
pub struct Api {
    pub cfg: Config,
    /// The zone's API base, once discovered.
    pub zone: Option<String>,
}

impl Api {
    pub fn new(cfg: Config) -> Api {
        Api { cfg, zone: None }
    }

    /// The zone, looked up on first use.
    pub fn zone(&mut self, t: &mut dyn Transport) -> Result<String, Error> {
        if let Some(z) = &self.zone {
            return Ok(z.clone());
        }
        let z = self.discover(t)?;
        self.zone = Some(z.clone());
        Ok(z)
    }

    fn discover(&self, t: &mut dyn Transport) -> Result<String, Error> {
        let url = psa_connector_sdk::http::url(&self.cfg.lookup, ZONE_PATH, &[("user", &self.cfg.username)]);
        let plain = Request::get(url).header("Accept", "application/json").endpoint(ZONE_PATH);
        let mut resp = t.send(&plain).map_err(network)?;
        // In practice the lookup needs no headers; the swagger lists them as required.
        if resp.status == 401 {
            resp = t.send(&self.auth(plain.clone())).map_err(network)?;
        }
        match resp.status {
            200..=299 => {}
            404 | 500 => return Err(Error::config("username", msg::unknown_user(&self.cfg.username, resp.status))),
            _ => return Err(classify(&resp, ZONE_PATH)),
        }
        let v = json(&resp, ZONE_PATH)?;
        let raw = v.get("url").or_else(|| v.get("URL")).and_then(Value::as_str).unwrap_or_default();
        if raw.trim().is_empty() {
            return Err(Error::config("username", msg::no_zone_url(ZONE_PATH)));
        }
        let allowed = match &self.cfg.lookup_host {
            None => "autotask.net".to_string(),
            Some(h) => format!("autotask.net or on {}", msg::clip(h, 80)),
        };
        zone_base(raw, &self.cfg.lookup, self.cfg.lookup_host.as_deref())
            .ok_or_else(|| Error::protocol(ZONE_PATH, msg::zone_off_domain(raw, &allowed)))
    }

    fn auth(&self, req: Request) -> Request {
        req.header("UserName", &self.cfg.username)
            .header("Secret", &self.cfg.secret)
            .header("ApiIntegrationCode", &self.cfg.integration_code)
            .header("Accept", "application/json")
    }

    /// Send a request built for a zone base by `build` (base → request),
    /// authenticated; on a 401 look the zone up again once and, if it moved,
    /// send once more there. Returns the zone used and the successful answer's JSON.
    pub fn call(&mut self, t: &mut dyn Transport, build: &dyn Fn(&str) -> Request) -> Result<(String, Value), Error> {
        let zone = self.zone(t)?;
        let req = self.auth(build(&zone));
        let resp = t.send(&req).map_err(network)?;
        if resp.status != 401 {
            return finish(&resp, &req.endpoint).map(|v| (zone, v));
        }
        let moved = self.discover(t)?;
        if moved == zone {
            return Err(Error::unauthorized(msg::unauthorized()));
        }
        self.zone = Some(moved.clone());
        let req = self.auth(build(&moved));
        let resp = t.send(&req).map_err(network)?;
        if resp.status == 401 {
            return Err(Error::unauthorized(msg::unauthorized()));
        }
        finish(&resp, &req.endpoint).map(|v| (moved, v))
    }
}

/// A POST with a JSON body ([`Request::post_json`]).
pub fn post_json(url: String, body: &Value, endpoint: &str) -> Request {
    Request::post_json(url, body).endpoint(endpoint)
}

/// A GET.
pub fn get(url: String, endpoint: &str) -> Request {
    let r = Request::get(url).endpoint(endpoint);
    debug_assert_eq!(r.method, Method::Get);
    r
}

fn finish(resp: &Response, endpoint: &str) -> Result<Value, Error> {
    if !resp.is_success() {
        return Err(classify(resp, endpoint));
    }
    json(resp, endpoint)
}

fn json(resp: &Response, endpoint: &str) -> Result<Value, Error> {
    if resp.is_html() {
        return Err(Error::protocol(endpoint, msg::html(endpoint)));
    }
    serde_json::from_slice(&resp.body).map_err(|_| Error::protocol(endpoint, msg::not_json(endpoint)))
}

/// The texts of an `{"errors": [...]}` body (strings, or objects with a
/// `message`; at most 20): the SDK's [`psa_connector_sdk::http::error_messages`].
pub fn error_texts(body: &[u8]) -> Vec<String> {
    psa_connector_sdk::http::error_messages(body)
}

/// A failed answer as the contract's error.
pub fn classify(resp: &Response, endpoint: &str) -> Error {
    let texts = error_texts(&resp.body);
    let joined = texts.join("; ");
    let lower = joined.to_ascii_lowercase();
    if resp.status == 401 {
        return Error::unauthorized(msg::unauthorized());
    }
    if resp.status == 403 || lower.contains("adequate permission") || lower.contains("not have permission") {
        return Error::forbidden(msg::SECURITY_LEVEL, msg::forbidden(endpoint, &joined));
    }
    let limited = ["thread", "threshold", "exceeded", "itgenatr005", "too many requests", "rate limit"];
    if resp.status == 429 || (resp.status >= 400 && limited.iter().any(|w| lower.contains(w))) {
        let detail = if joined.is_empty() { format!("HTTP {}", resp.status) } else { joined };
        return Error::rate_limited(resp.retry_after(), msg::rate_limited(endpoint, &detail));
    }
    Error::upstream(resp.status, endpoint, msg::upstream(resp.status, endpoint, &joined))
}

/// A network failure in the connector's words.
pub fn network(e: HttpError) -> Error {
    let what = match &e.kind {
        ErrorKind::TooLarge => return Error::protocol(&e.endpoint, msg::too_large(&e.endpoint)),
        ErrorKind::Denied => "the platform's sandbox refused the host (it admits https://*.autotask.net and the form's URL)".to_string(),
        ErrorKind::Dns => "the name did not resolve".to_string(),
        ErrorKind::Timeout => "the request timed out".to_string(),
        ErrorKind::TlsCertificate => "its certificate is not trusted".to_string(),
        ErrorKind::TlsProtocol => "the TLS handshake failed".to_string(),
        ErrorKind::Refused => "the connection was refused".to_string(),
        ErrorKind::Broken => "the connection broke off".to_string(),
        ErrorKind::Prohibited => "the name resolves to an address the platform does not connect to".to_string(),
        _ => "the request failed".to_string(),
    };
    Error::unreachable(&e.host, e.kind.network_stage(), msg::network(&e.host, &what))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The SDK's scripted transport (answers in order, requests recorded).
    pub type Script = psa_connector_sdk::http::Scripted;

    /// Autotask's zone lookup answer, scripted.
    pub trait ZoneAnswer {
        /// Then a zone lookup answer naming `url`.
        fn zone(self, url: &str) -> Script;
    }

    impl ZoneAnswer for Script {
        fn zone(self, url: &str) -> Script {
            self.json(200, serde_json::json!({"zoneName": "Z", "url": url, "webUrl": "https://ww5.autotask.net/", "ci": 1}))
        }
    }

    pub fn cfg() -> Config {
        crate::config::parse(crate::config::tests::entries(&crate::config::tests::BASE)).unwrap()
    }

    pub const Z5: &str = "https://webservices5.autotask.net/ATServicesRest/";

    #[test]
    fn zone_hosts() {
        let l = crate::config::DEFAULT_LOOKUP;
        assert_eq!(zone_base(Z5, l, None).as_deref(), Some("https://webservices5.autotask.net/ATServicesRest"));
        assert_eq!(zone_base("https://webservices5.autotask.net/", l, None).as_deref(), Some("https://webservices5.autotask.net/ATServicesRest"));
        assert_eq!(zone_base("https://webservices5.autotask.net/ATServicesRest/V1.0/", l, None).as_deref(), Some("https://webservices5.autotask.net/ATServicesRest"));
        for bad in [
            "http://webservices5.autotask.net/ATServicesRest/",
            "https://webservices5.autotask.net:8443/ATServicesRest/",
            "https://user:pw@webservices5.autotask.net/",
            "https://autotask.net.evil.com/",
            "https://evilautotask.net/",
            "https://127.0.0.1/",
            "not a url",
        ] {
            assert_eq!(zone_base(bad, l, None), None, "{bad}");
        }
        // An advanced lookup URL admits its own host (any port), same scheme.
        let sim = "http://127.0.0.1:9000";
        assert_eq!(zone_base("http://127.0.0.1:9001/ATServicesRest/", sim, Some("127.0.0.1")).as_deref(), Some("http://127.0.0.1:9001/ATServicesRest"));
        assert_eq!(zone_base("http://10.0.0.1:9001/", sim, Some("127.0.0.1")), None);
        assert_eq!(zone_base("https://127.0.0.1:9001/", sim, Some("127.0.0.1")), None);
    }

    #[test]
    fn discovery_once_and_refusals() {
        let mut t = Script::new().zone(Z5);
        let mut api = Api::new(cfg());
        assert_eq!(api.zone(&mut t).unwrap(), "https://webservices5.autotask.net/ATServicesRest");
        assert_eq!(api.zone(&mut t).unwrap(), "https://webservices5.autotask.net/ATServicesRest");
        assert_eq!(t.sent.len(), 1);
        assert_eq!(t.sent[0].url, "https://webservices.autotask.net/atservicesrest/v1.0/zoneInformation?user=api%40acme.com");
        assert_eq!(t.header(0, "Secret"), None);

        let mut t = Script::new().zone("https://webservices5.autotask.net.evil.com/ATServicesRest/");
        let e = Api::new(cfg()).zone(&mut t).unwrap_err();
        assert!(matches!(&e, Error::Protocol { .. }) && e.message().contains("autotask.net.evil.com"), "{e:?}");

        for status in [500, 404] {
            let mut t = Script::new().json(status, serde_json::json!({"errors": ["Zone information could not be determined"]}));
            let e = Api::new(cfg()).zone(&mut t).unwrap_err();
            assert!(matches!(&e, Error::InvalidConfig { field, .. } if field == "username"), "{e:?}");
            assert!(e.message().contains("api@acme.com"));
        }
        let mut t = Script::new().json(200, serde_json::json!({"url": null}));
        assert!(matches!(Api::new(cfg()).zone(&mut t), Err(Error::InvalidConfig { .. })));
        // A lookup that wants the headers gets them on a second try.
        let mut t = Script::new().json(401, serde_json::json!({})).zone(Z5);
        Api::new(cfg()).zone(&mut t).unwrap();
        assert_eq!(t.header(1, "ApiIntegrationCode"), Some("TRACK1"));
        let mut t = Script::new().fail(ErrorKind::Dns);
        assert!(matches!(Api::new(cfg()).zone(&mut t), Err(Error::Unreachable { .. })));
    }

    fn build(base: &str) -> Request {
        post_json(format!("{base}/V1.0/Companies/query"), &serde_json::json!({}), "/V1.0/Companies/query")
    }

    #[test]
    fn a_401_rediscovers_once() {
        let z6 = "https://webservices6.autotask.net/ATServicesRest/";
        let mut t = Script::new().zone(Z5).json(401, serde_json::json!({})).zone(z6).json(200, serde_json::json!({"items": []}));
        let mut api = Api::new(cfg());
        let (zone, _) = api.call(&mut t, &build).unwrap();
        assert_eq!(zone, "https://webservices6.autotask.net/ATServicesRest");
        assert_eq!(t.sent[3].url, "https://webservices6.autotask.net/ATServicesRest/V1.0/Companies/query");
        assert_eq!((t.header(3, "UserName"), t.header(3, "Secret")), (Some("api@acme.com"), Some("s3cret")));
        // Same zone again: wrong credentials, no second retry.
        let mut t = Script::new().zone(Z5).json(401, serde_json::json!({})).zone(Z5);
        let e = Api::new(cfg()).call(&mut t, &build).unwrap_err();
        assert!(matches!(&e, Error::Unauthorized(m) if m.contains("ApiIntegrationCode") && m.contains("UserName")), "{e:?}");
        assert!(!e.message().contains("s3cret"));
        // Moved, and refused there too: one retry only.
        let mut t = Script::new().zone(Z5).json(401, serde_json::json!({})).zone(z6).json(401, serde_json::json!({}));
        assert!(matches!(Api::new(cfg()).call(&mut t, &build), Err(Error::Unauthorized(_))));
        assert_eq!(t.sent.len(), 4);
    }

    #[test]
    fn errors_map_onto_the_contract() {
        let run = |status: u16, body: Value| {
            let mut t = Script::new().zone(Z5).json(status, body);
            Api::new(cfg()).call(&mut t, &build).unwrap_err()
        };
        let e = run(500, serde_json::json!({"errors": ["The logged in Resource does not have the adequate permissions to query this entity type."]}));
        assert!(matches!(&e, Error::Forbidden { permission, .. } if permission.contains("API User (system)")), "{e:?}");
        let e = run(500, serde_json::json!({"errors": ["Itgenatr005: thread threshold of 3 exceeded for this endpoint"]}));
        assert!(matches!(e, Error::RateLimited { .. }), "{e:?}");
        let e = run(500, serde_json::json!({"errors": ["Request threshold exceeded: 10000 requests per hour"]}));
        assert!(matches!(e, Error::RateLimited { .. }), "{e:?}");
        let mut t = Script::new().zone(Z5).json(429, serde_json::json!({})).with_header("Retry-After", "30");
        assert!(matches!(Api::new(cfg()).call(&mut t, &build), Err(Error::RateLimited { retry_after: Some(30), .. })));
        let e = run(500, serde_json::json!({"errors": ["Object reference not set\u{1b}[31m"]}));
        assert!(matches!(&e, Error::Upstream { status: 500, .. }) && !e.message().contains('\u{1b}'), "{e:?}");
        let mut t = Script::new().zone(Z5);
        t.answers.push_back(Ok(Response { status: 200, headers: vec![("content-type".into(), "text/html".into())], body: b"<html>".to_vec() }));
        assert!(matches!(Api::new(cfg()).call(&mut t, &build), Err(Error::Protocol { .. })));
    }
}
