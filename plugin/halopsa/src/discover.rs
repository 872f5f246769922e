//! Halo's unauthenticated `GET {instance}/api/authinfo`, asked once when a
//! failure suggests a wrong URL or tenant: what Halo itself says its
//! authorization server and tenant are.
//!
//! Discovery only ever adds a sentence to an error. When authinfo fails in
//! any way (network, status, HTML, not JSON) nothing is added, and the
//! original error is returned unchanged.

use crate::config::{normalise_url, Config};
use crate::error::Error;
use crate::http::{Method, Request, Transport};
use crate::messages as msg;

/// What authinfo answered, cleaned for display.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthInfo {
    /// `auth_url`, normalised (`https://acme.halopsa.com/auth`).
    pub auth_url: Option<String>,
    /// `tenant_id`, trimmed.
    pub tenant: Option<String>,
}

/// Where to ask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    /// `{resource URL}/authinfo`: the resource URL is trusted (a token failure).
    Resource,
    /// `{origin of the resource URL}/api/authinfo`: the resource URL itself
    /// served a web page, so only its origin is trusted.
    Origin,
}

/// The authinfo URL for `base`.
pub fn authinfo_url(cfg: &Config, base: Base) -> String {
    match base {
        Base::Resource => format!("{}/authinfo", cfg.resource.url),
        Base::Origin => format!("{}/api/authinfo", origin(cfg)),
    }
}

/// `scheme://host[:port]` of the resource URL.
pub fn origin(cfg: &Config) -> String {
    let url = &cfg.resource.url;
    let path = &cfg.resource.path;
    url.strip_suffix(path.as_str()).unwrap_or(url).to_string()
}

/// One authinfo request; `None` whenever it does not answer usable JSON.
pub fn ask(cfg: &Config, net: &mut dyn Transport, base: Base) -> Option<AuthInfo> {
    let req = Request {
        method: Method::Get,
        url: authinfo_url(cfg, base),
        headers: vec![("Accept".into(), "application/json".into())],
        body: None,
        endpoint: "/api/authinfo".into(),
    };
    let resp = net.send(&req).ok()?;
    if !(200..300).contains(&resp.status) || resp.is_html() {
        return None;
    }
    parse(&resp.body)
}

/// Read authinfo's body (pure).
pub fn parse(body: &[u8]) -> Option<AuthInfo> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let obj = v.as_object()?;
    let text = |k: &str| -> Option<String> {
        let s = match obj.get(k)? {
            serde_json::Value::String(s) => s.trim().to_string(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => return None,
        };
        let s: String = s.chars().filter(|c| !c.is_control()).collect();
        (!s.is_empty()).then_some(s)
    };
    let auth_url = text("auth_url").and_then(|raw| {
        let n = normalise_url("auth_url", "auth_url", &raw).ok()?;
        let url = n.url.strip_suffix("/token").map(str::to_string).unwrap_or(n.url);
        Some(msg::clip(&url, 200))
    });
    let tenant = text("tenant_id").map(|t| msg::clip(&t, 100));
    (auth_url.is_some() || tenant.is_some()).then_some(AuthInfo { auth_url, tenant })
}

impl AuthInfo {
    /// Whether it says something the admin's form does not already say.
    pub fn differs(&self, cfg: &Config) -> bool {
        self.auth_differs(cfg) || self.tenant_differs(cfg)
    }

    pub fn auth_differs(&self, cfg: &Config) -> bool {
        self.auth_url.as_deref().is_some_and(|a| !a.eq_ignore_ascii_case(&cfg.auth.url))
    }

    fn tenant_differs(&self, cfg: &Config) -> bool {
        match (&self.tenant, &cfg.tenant) {
            (Some(r), Some(e)) => !r.trim().eq_ignore_ascii_case(e.trim()),
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// The sentence for the error message.
    pub fn note(&self, cfg: &Config) -> String {
        let auth = self.auth_url.as_deref().map(|a| (a, self.auth_differs(cfg).then_some(cfg.auth.url.as_str())));
        let tenant = self.tenant.as_deref().map(|t| {
            let entered = match &cfg.tenant {
                None => Some(msg::TenantEntered::Empty),
                Some(e) if self.tenant_differs(cfg) => Some(msg::TenantEntered::Other(e)),
                Some(_) => None,
            };
            (t, entered)
        });
        msg::discovered(auth, tenant)
    }
}

/// `e` with what authinfo says appended, or `e` unchanged.
/// `always`: append even when authinfo only confirms the form.
pub fn annotate(e: Error, cfg: &Config, net: &mut dyn Transport, base: Base, always: bool) -> Error {
    let Some(info) = ask(cfg, net, base) else { return e };
    if !always && !info.differs(cfg) {
        return e;
    }
    let mut note = info.note(cfg);
    if base == Base::Origin {
        let api = format!("{}/api", origin(cfg));
        if !api.eq_ignore_ascii_case(&cfg.resource.url) {
            note.push(' ');
            note.push_str(&msg::resource_probably(&api));
        }
    }
    e.with_note(&note)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Describe;
    use crate::http::fake::Fake;

    fn cfg(resource: &str, tenant: Option<&str>) -> Config {
        match tenant {
            Some(t) => crate::config::test_config(&[("resource_server_url", resource), ("tenant", t)]),
            None => crate::config::test_config(&[("resource_server_url", resource)]),
        }
    }

    #[test]
    fn urls() {
        let c = cfg("https://acme.halopsa.com/portal", None);
        assert_eq!(authinfo_url(&c, Base::Resource), "https://acme.halopsa.com/portal/api/authinfo");
        assert_eq!(authinfo_url(&c, Base::Origin), "https://acme.halopsa.com/api/authinfo");
        let c = cfg("http://127.0.0.1:8080/api", None);
        assert_eq!(origin(&c), "http://127.0.0.1:8080");
    }

    #[test]
    fn parsing() {
        assert_eq!(
            parse(br#"{"auth_url":"https://Auth.HaloPSA.com/auth/","tenant_id":" acme "}"#),
            Some(AuthInfo { auth_url: Some("https://auth.halopsa.com/auth".into()), tenant: Some("acme".into()) })
        );
        assert_eq!(parse(br#"{"auth_url":"https://a.example/auth/token","tenant_id":""}"#).unwrap().auth_url.as_deref(), Some("https://a.example/auth"));
        assert_eq!(parse(br#"{"auth_url":"","tenant_id":""}"#), None);
        assert_eq!(parse(br#"{"tenant_id":"x\u0007y"}"#).unwrap().tenant.as_deref(), Some("xy"));
        assert_eq!(parse(b"<html>"), None);
        assert_eq!(parse(b"[]"), None);
    }

    #[test]
    fn notes() {
        let c = cfg("https://acme.halopsa.com/api", None);
        let i = AuthInfo { auth_url: Some("https://eu.halopsa.com/auth".into()), tenant: Some("acme".into()) };
        assert_eq!(
            i.note(&c),
            "Halo reports its authorization server as https://eu.halopsa.com/auth (you entered https://acme.halopsa.com/auth) and tenant as \"acme\" (the Tenant field is empty). Correct the form to match, then test again."
        );
        let c = cfg("https://acme.halopsa.com/api", Some("ACME"));
        let i = AuthInfo { auth_url: Some("https://acme.halopsa.com/auth".into()), tenant: Some("acme".into()) };
        assert!(!i.differs(&c));
        assert_eq!(i.note(&c), "Halo reports its authorization server as https://acme.halopsa.com/auth and tenant as \"acme\".");
        let i = AuthInfo { auth_url: None, tenant: Some("acme".into()) };
        let c = cfg("https://acme.halopsa.com/api", Some("acme-typo"));
        assert_eq!(i.note(&c), "Halo reports its tenant as \"acme\" (you entered \"acme-typo\"). Correct the form to match, then test again.");
    }

    #[test]
    fn annotate_adds_or_keeps() {
        let c = cfg("https://acme.halopsa.com/portal", None);
        let e = Error::protocol("/x", "Base.");
        let mut net = Fake::new();
        net.json(200, r#"{"auth_url":"https://acme.halopsa.com/auth","tenant_id":""}"#);
        let out = annotate(e.clone(), &c, &mut net, Base::Origin, true);
        assert_eq!(
            out.describe(),
            "Base. Halo reports its authorization server as https://acme.halopsa.com/auth. Halo's /api/authinfo answered at https://acme.halopsa.com/api, so the Resource Server URL is probably https://acme.halopsa.com/api."
        );
        assert_eq!(net.urls(), ["https://acme.halopsa.com/api/authinfo"]);
        // Failing authinfo: unchanged.
        let mut net = Fake::new();
        net.json(404, r#"{"Message":"no"}"#);
        assert_eq!(annotate(e.clone(), &c, &mut net, Base::Origin, true), e);
        let mut net = Fake::new();
        assert_eq!(annotate(e.clone(), &c, &mut net, Base::Resource, true), e);
        // Only confirming, and not `always`: unchanged.
        let mut net = Fake::new();
        net.json(200, r#"{"auth_url":"https://acme.halopsa.com/auth","tenant_id":""}"#);
        assert_eq!(annotate(e.clone(), &c, &mut net, Base::Resource, false), e);
    }
}
