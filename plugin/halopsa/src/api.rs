//! Authenticated calls to Halo's resource server, and what Halo's answers mean.

use crate::answer::{check_json_body, extract_halo_message, is_html, refused_as_sent, retry_after, summary};
use crate::auth::{scrub, TokenCache};
use crate::config::Config;
use crate::error::Error;
use crate::http::{self, Method, Request, Response, Transport};
use crate::messages as msg;

/// Halo permission names, per endpoint.
pub const PERM_CUSTOMERS: &str = "read:customers";
pub const PERM_ADMIN: &str = "admin";
pub const PERM_TICKETS: &str = "edit:tickets";
pub const PERM_READ_TICKETS: &str = "read:tickets";

pub struct Api<'a> {
    pub cfg: &'a Config,
    pub tokens: &'a mut TokenCache,
    pub net: &'a mut dyn Transport,
}

impl Api<'_> {
    /// GET `{resource}{rel}{query}`; a 2xx answer's JSON body.
    /// `rel` is the endpoint without query (`/Client`), `query` starts with `?` or is empty.
    pub fn get(&mut self, rel: &str, query: &str, permission: &str) -> Result<Vec<u8>, Error> {
        self.get_with(rel, query, permission, true)
    }

    /// GET; `discover`: on a web page where the API belongs, ask Halo's
    /// authinfo once (false for endpoints whose absence is expected, such as
    /// the CSP integration's: the resource URL has already proven right).
    pub fn get_with(&mut self, rel: &str, query: &str, permission: &str, discover: bool) -> Result<Vec<u8>, Error> {
        let resp = self.send(Method::Get, rel, query, None)?;
        self.accept(resp, rel, permission, discover)
    }

    /// POST a JSON body; a 2xx answer's JSON body.
    pub fn post(&mut self, rel: &str, body: Vec<u8>, permission: &str) -> Result<Vec<u8>, Error> {
        let resp = self.send(Method::Post, rel, "", Some(body))?;
        self.accept(resp, rel, permission, true)
    }

    fn accept(&mut self, resp: Response, rel: &str, permission: &str, discover: bool) -> Result<Vec<u8>, Error> {
        let endpoint = self.cfg.endpoint(rel);
        let web_page = is_html(resp.content_type(), &resp.body)
            && (resp.status < 400 || matches!(resp.status, 404 | 405 | 410));
        if web_page && discover {
            let e = if (200..300).contains(&resp.status) {
                Error::protocol(&endpoint, msg::html_not_json(&endpoint))
            } else {
                Error::Upstream { status: resp.status, endpoint: endpoint.clone(), message: msg::html_error_page() }
            };
            return Err(crate::discover::annotate(e, self.cfg, self.net, crate::discover::Base::Origin, true));
        }
        if resp.status == 403 {
            return Err(forbidden_error(&endpoint, permission, self.tokens.granted()));
        }
        if !(200..300).contains(&resp.status) {
            let e = status_error(
                resp.status,
                resp.content_type(),
                resp.header("retry-after"),
                &resp.body,
                &endpoint,
                permission,
            );
            return Err(match e {
                Error::Upstream { status, endpoint, message } => {
                    let mut message = scrub(message, self.cfg);
                    if let Some(token) = self.tokens.fresh().filter(|t| t.len() >= 8) {
                        message = message.replace(&token, "<redacted>");
                    }
                    Error::Upstream { status, endpoint, message }
                }
                other => other,
            });
        }
        check_json_body(&endpoint, resp.content_type(), &resp.body)?;
        Ok(resp.body)
    }

    /// Send with the session's token; on 401, one fresh token and one retry.
    fn send(&mut self, method: Method, rel: &str, query: &str, body: Option<Vec<u8>>) -> Result<Response, Error> {
        let token = self.tokens.get(self.cfg, self.net)?;
        let req = self.request(method, rel, query, body.clone(), &token);
        let first = http::send(self.net, &req)?;
        if first.status != 401 {
            return Ok(first);
        }
        let token = self.tokens.renew(self.cfg, self.net)?;
        let req = self.request(method, rel, query, body, &token);
        let second = http::send(self.net, &req)?;
        if second.status == 401 {
            self.tokens.clear();
            return Err(Error::Unauthorized(msg::token_refused_by_api()));
        }
        Ok(second)
    }

    fn request(&self, method: Method, rel: &str, query: &str, body: Option<Vec<u8>>, token: &str) -> Request {
        let mut headers = vec![
            ("Authorization".to_string(), format!("Bearer {token}")),
            ("Accept".to_string(), "application/json".to_string()),
        ];
        if body.is_some() {
            headers.push(("Content-Type".to_string(), "application/json".to_string()));
        }
        Request {
            method,
            url: self.cfg.api_url(&format!("{rel}{query}")),
            headers,
            body,
            endpoint: self.cfg.endpoint(rel),
        }
    }
}

/// 403: with the token's granted scopes known, say whether the application
/// lacks the permission or (it has it) the login type or the agent is at fault.
pub fn forbidden_error(endpoint: &str, permission: &str, granted: Option<&[String]>) -> Error {
    let message = match granted {
        None => msg::forbidden(endpoint, permission),
        Some(g) if crate::auth::grants(g, permission) => msg::forbidden_login_type(endpoint, permission),
        Some(g) => msg::forbidden_not_granted(endpoint, permission, g),
    };
    Error::Forbidden { permission: permission.to_string(), message }
}

/// The error for a non-2xx answer other than the 401 handled by the retry.
pub fn status_error(
    status: u16,
    content_type: Option<&str>,
    retry_after_header: Option<&str>,
    body: &[u8],
    endpoint: &str,
    permission: &str,
) -> Error {
    match status {
        401 => Error::Unauthorized(msg::token_refused_by_api()),
        403 => forbidden_error(endpoint, permission, None),
        429 => {
            let ra = retry_after(retry_after_header);
            Error::RateLimited { retry_after: ra, message: msg::rate_limited(ra) }
        }
        s if refused_as_sent(s) => Error::Upstream {
            status,
            endpoint: endpoint.to_string(),
            message: msg::refused_as_sent(status, endpoint, Some("application/json")),
        },
        _ => Error::Upstream {
            status,
            endpoint: endpoint.to_string(),
            message: if is_html(content_type, body) {
                msg::body_summary_html(status)
            } else {
                extract_halo_message(body).unwrap_or_else(|| summary(status, content_type, body))
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Describe;
    use crate::http::fake::Fake;

    fn cfg() -> Config {
        crate::config::test_config(&[])
    }

    /// Found by fuzzing (fuzz target `halo_error_body`, minimised input `[0x01]`):
    /// a body of control characters gave a blank message.
    #[test]
    fn a_control_character_body_still_gives_a_message() {
        match status_error(500, None, None, b"\x01", "/api/Client", PERM_CUSTOMERS) {
            Error::Upstream { message, .. } => assert!(!message.trim().is_empty()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn status_mapping() {
        match status_error(403, None, None, b"", "/api/Client", PERM_CUSTOMERS) {
            Error::Forbidden { permission, message } => {
                assert_eq!(permission, "read:customers");
                assert!(message.contains("login type must be Agent"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            status_error(429, None, Some(" 120 "), b"", "/api/Client", PERM_CUSTOMERS),
            Error::RateLimited { retry_after: Some(120), .. }
        ));
        assert!(matches!(
            status_error(429, None, Some("Wed, 21 Oct 2015 07:28:00 GMT"), b"", "/api/Client", PERM_CUSTOMERS),
            Error::RateLimited { retry_after: Some(0), .. }
        ));
        match status_error(500, Some("text/html"), None, b"<html>secret page</html>", "/api/Client", PERM_CUSTOMERS) {
            Error::Upstream { status, message, .. } => {
                assert_eq!(status, 500);
                assert_eq!(message, "an HTML page (HTTP 500)");
            }
            other => panic!("{other:?}"),
        }
        match status_error(400, None, None, br#"{"[0].client_id":"Unknown"}"#, "/api/Tickets", PERM_TICKETS) {
            Error::Upstream { message, endpoint, .. } => {
                assert_eq!(message, "[0].client_id: Unknown");
                assert_eq!(endpoint, "/api/Tickets");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(status_error(502, None, None, b"", "/x", "p"), Error::Upstream { message, .. } if message == "an empty answer (HTTP 502)"));
        // A proxy's refusal (an nginx page) says what it is, not "an HTML page".
        let nginx = b"<html><head><title>411 Length Required</title></head></html>";
        match status_error(411, Some("text/html"), None, nginx, "/api/Tickets", PERM_TICKETS) {
            e @ Error::Upstream { status: 411, .. } => {
                let m = e.describe();
                assert!(m.starts_with("Halo answered HTTP 411 on /api/Tickets: Length Required."), "{m}");
                assert!(m.contains("reverse proxy") && m.contains("Content-Length"), "{m}");
            }
            other => panic!("{other:?}"),
        }
        for s in crate::answer::REFUSED_AS_SENT {
            let m = status_error(s, Some("text/html"), None, b"<html></html>", "/api/Tickets", PERM_TICKETS).describe();
            assert!(m.contains("in front of Halo, not from Halo's own service: it refused the request as sent"), "{s}: {m}");
            assert!(!m.contains(": Refused."), "{s} has no reason phrase: {m}");
        }
    }

    #[test]
    fn one_retry_on_401() {
        let c = cfg();
        let mut tokens = TokenCache::default();
        let mut net = Fake::new();
        net.token().json(401, "").json(200, r#"{"access_token":"tok-2"}"#).json(200, "{}");
        let body = Api { cfg: &c, tokens: &mut tokens, net: &mut net }.get("/Client", "?a=1", PERM_CUSTOMERS).unwrap();
        assert_eq!(body, b"{}");
        let auths: Vec<_> = net.sent.iter().map(|s| s.2.clone()).collect();
        assert_eq!(auths, vec![None, Some("Bearer tok-1".into()), None, Some("Bearer tok-2".into())]);
        assert_eq!(net.sent[1].1, "https://acme.halopsa.com/api/Client?a=1");

        let mut net = Fake::new();
        net.json(401, "").json(200, r#"{"access_token":"tok-3"}"#).json(401, "");
        match (Api { cfg: &c, tokens: &mut tokens, net: &mut net }).get("/Client", "", PERM_CUSTOMERS) {
            Err(Error::Unauthorized(m)) => assert!(m.contains("refused by the resource server")),
            other => panic!("{:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn forbidden_uses_granted_scopes() {
        let c = cfg();
        let run = |token: &str| {
            let mut tokens = TokenCache::default();
            let mut net = Fake::new();
            net.json(200, token).json(403, r#"{"Message":"no"}"#);
            Api { cfg: &c, tokens: &mut tokens, net: &mut net }.get("/Client", "", PERM_CUSTOMERS).map(|_| ()).unwrap_err()
        };
        match run(r#"{"access_token":"tok-1","scope":"all"}"#) {
            Error::Forbidden { permission, message } => {
                assert_eq!(permission, "read:customers");
                assert!(message.contains("login type must be Agent"), "{message}");
                assert!(message.contains("not the problem"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        match run(r#"{"access_token":"tok-1","scope":"read:tickets"}"#) {
            Error::Forbidden { message, .. } => {
                assert!(message.contains("grants only read:tickets"), "{message}");
                assert!(!message.contains("not the problem"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        match run(r#"{"access_token":"tok-1"}"#) {
            Error::Forbidden { message, .. } => assert_eq!(message, msg::forbidden("/api/Client", "read:customers")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn web_page_asks_authinfo_once() {
        let c = cfg();
        let mut tokens = TokenCache::default();
        let mut net = Fake::new();
        net.token();
        net.answers.push_back(Ok(Response {
            status: 404,
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: b"<html>404</html>".to_vec(),
        }));
        net.json(200, r#"{"auth_url":"https://acme.halopsa.com/auth","tenant_id":"acme"}"#);
        let e = Api { cfg: &c, tokens: &mut tokens, net: &mut net }.get("/Client", "", PERM_CUSTOMERS).map(|_| ()).unwrap_err();
        assert!(matches!(e, Error::Upstream { status: 404, .. }), "{e:?}");
        assert!(e.describe().contains("Resource Server URL is probably wrong"), "{}", e.describe());
        assert!(e.describe().ends_with("tenant as \"acme\" (the Tenant field is empty). Correct the form to match, then test again."), "{}", e.describe());
        assert_eq!(net.urls()[2], "https://acme.halopsa.com/api/authinfo");
        assert_eq!(net.sent.len(), 3);
    }

    #[test]
    fn html_on_2xx_is_protocol() {
        let c = cfg();
        let mut tokens = TokenCache::default();
        let mut net = Fake::new();
        net.token();
        net.answers.push_back(Ok(Response {
            status: 200,
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: b"<!doctype html><title>Login</title>".to_vec(),
        }));
        let r = Api { cfg: &c, tokens: &mut tokens, net: &mut net }.get("/Client", "", PERM_CUSTOMERS);
        assert!(matches!(r, Err(Error::Protocol { endpoint, .. }) if endpoint == "/api/Client"));
    }
}
