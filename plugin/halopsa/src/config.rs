//! The connection form: field definitions, normalisation and validation,
//! over the SDK's form helpers; the messages are Halo's.

use psa_connector_sdk::form::{self, FieldSpec, Form, FormProblem, UrlProblem};
use psa_connector_sdk::FieldKind;

use crate::error::Error;
use crate::messages as msg;

pub use psa_connector_sdk::form::{parse_flag, NormUrl};

pub const RESOURCE: &str = "resource_server_url";
pub const AUTH: &str = "authorization_server_url";
pub const CLIENT_ID: &str = "client_id";
pub const CLIENT_SECRET: &str = "client_secret";
pub const TENANT: &str = "tenant";
pub const SCOPE: &str = "scope";
pub const INCLUDE_INACTIVE: &str = "include_inactive";

/// The connection form, in display order.
pub const FIELDS: [FieldSpec; 7] = [
    FieldSpec {
        id: RESOURCE,
        label: "Resource Server URL",
        help: "In Halo: Configuration > Integrations > HaloPSA API > API Details, \"Resource Server\" (usually https://<instance>/api).",
        kind: FieldKind::Url,
        required: true,
        default: None,
        choices: &[],
        range: None,
    },
    FieldSpec {
        id: AUTH,
        label: "Authorization Server URL",
        help: "In Halo: Configuration > Integrations > HaloPSA API > API Details, \"Authorisation Server\" (usually https://<instance>/auth).",
        kind: FieldKind::Url,
        required: true,
        default: None,
        choices: &[],
        range: None,
    },
    FieldSpec {
        id: CLIENT_ID,
        label: "Client ID",
        help: "In Halo: Configuration > Integrations > HaloPSA API > View Applications, open the application (authentication method Client ID and Secret (Services), login type Agent) and copy its Client ID after saving it.",
        kind: FieldKind::Text,
        required: true,
        default: None,
        choices: &[],
        range: None,
    },
    FieldSpec {
        id: CLIENT_SECRET,
        label: "Client Secret",
        help: "Shown on the same application in Configuration > Integrations > HaloPSA API > View Applications; Halo shows it only once, so generate a new one if it is lost.",
        kind: FieldKind::Secret,
        required: true,
        default: None,
        choices: &[],
        range: None,
    },
    FieldSpec {
        id: TENANT,
        label: "Tenant",
        help: "Only for Halo-hosted instances, shown on the API Details page (Configuration > Integrations > HaloPSA API > API Details). Leave empty for a self-hosted Halo.",
        kind: FieldKind::Text,
        required: false,
        default: None,
        choices: &[],
        range: None,
    },
    FieldSpec {
        id: SCOPE,
        label: "Scope",
        help: "The permissions to request, separated by spaces. Leave it at \"all\" to get every permission the application has in Configuration > Integrations > HaloPSA API > View Applications > Permissions.",
        kind: FieldKind::Text,
        required: false,
        default: Some("all"),
        choices: &[],
        range: None,
    },
    FieldSpec {
        id: INCLUDE_INACTIVE,
        label: "Include inactive customers",
        help: "When on, customers marked inactive in Halo are imported too, with active set to false.",
        kind: FieldKind::Flag,
        required: false,
        default: Some("true"),
        choices: &[],
        range: None,
    },
];

/// A credential. Its `Debug` never shows the value.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The checked connection settings.
#[derive(Clone, Debug)]
pub struct Config {
    pub resource: NormUrl,
    /// The admin typed a URL without `/api` and it was added.
    pub api_assumed: bool,
    pub auth: NormUrl,
    pub client_id: String,
    pub client_secret: Secret,
    pub tenant: Option<String>,
    pub scope: String,
    pub include_inactive: bool,
}

impl Config {
    /// `{auth}/token`, without the tenant query.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.auth.url)
    }
    /// The token endpoint's path, for error messages (`/auth/token`).
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.auth.path)
    }
    /// An API endpoint's path without host or query (`/api/Client`).
    pub fn endpoint(&self, rel: &str) -> String {
        format!("{}{}", self.resource.path, rel)
    }
    /// The full URL of an API request (`rel` starts with `/`).
    pub fn api_url(&self, rel_with_query: &str) -> String {
        format!("{}{}", self.resource.url, rel_with_query)
    }
}

/// Check and normalise the filled-in form.
pub fn parse(entries: &[(String, String)]) -> Result<Config, Error> {
    let form = Form::new(entries.iter().cloned());
    // Unknown ids first, then the required fields in display order.
    form.check(&FIELDS).map_err(form_error)?;
    let required = |id: &str| form.value(id).unwrap_or_default();

    let resource_raw = required(RESOURCE);
    let auth_raw = required(AUTH);
    let client_id = required(CLIENT_ID).to_string();
    let client_secret = Secret::new(required(CLIENT_SECRET));

    let mut resource = normalise_url(RESOURCE, "Resource Server URL", resource_raw)?;
    let mut api_assumed = false;
    if !resource.path.to_ascii_lowercase().ends_with("/api") {
        resource.path.push_str("/api");
        resource.url.push_str("/api");
        api_assumed = true;
    }
    let auth = normalise_url(AUTH, "Authorization Server URL", auth_raw)?;

    let tenant = form.value(TENANT).map(str::to_string);
    // Contract 0.2.0 tells a cleared field from an absent one, but neither
    // field has a "nothing" meaning here: Halo's token request needs a scope,
    // and a flag is on or off. A cleared scope or flag reads as its default,
    // as it did under 0.1.0.
    let scope = form.value(SCOPE).unwrap_or("all").to_string();
    let include_inactive = form.flag(INCLUDE_INACTIVE, true).map_err(form_error)?;

    Ok(Config { resource, api_assumed, auth, client_id, client_secret, tenant, scope, include_inactive })
}

/// A form problem in Halo's words.
fn form_error(p: FormProblem) -> Error {
    match p {
        FormProblem::Unknown { field } => Error::config(&field, msg::unknown_field(&field)),
        FormProblem::Missing { field, label } => Error::config(field, msg::missing_field(label)),
        FormProblem::NotAFlag { field, value } => Error::config(&field, msg::bad_flag(&value)),
        // Halo's form has no choice or number fields; worded all the same.
        FormProblem::NotAChoice { field, label, value, choices } => {
            Error::config(field, msg::bad_choice(label, &value, &choices))
        }
        FormProblem::NotANumber { field, label, value } => Error::config(field, msg::bad_number(label, &value)),
        FormProblem::OutOfRange { field, label, value, min, max } => {
            Error::config(field, msg::number_out_of_range(label, value, min, max))
        }
    }
}

/// Trim, add `https://` when no scheme was typed, drop trailing slashes;
/// refuse schemes other than http(s), user info, queries and fragments
/// ([`form::normalise_url`]); the refusal names `field` and its `label`.
pub fn normalise_url(field: &str, label: &str, raw: &str) -> Result<NormUrl, Error> {
    form::normalise_url(raw).map_err(|problem| {
        let scheme;
        let why = match &problem {
            UrlProblem::Empty | UrlProblem::NotAUrl => "it is not a valid URL",
            UrlProblem::NonAsciiHost => msg::NON_ASCII_HOST,
            UrlProblem::Scheme(other) => {
                scheme = format!("it starts with {other}:// where https:// belongs");
                scheme.as_str()
            }
            UrlProblem::UserInfo => "it contains a user name or password; credentials go in their own fields",
            UrlProblem::Query => "it contains a query string (the part after ?)",
            UrlProblem::Fragment => "it contains a fragment (the part after #)",
            UrlProblem::NoHost => "it has no host name",
        };
        Error::config(field, msg::bad_url(label, raw.trim(), why))
    })
}

/// A parsed configuration for unit tests: the standard form with `overrides`
/// replacing (or adding) fields.
#[cfg(test)]
pub(crate) fn test_config(overrides: &[(&str, &str)]) -> Config {
    let mut f: Vec<(String, String)> = [
        ("resource_server_url", "https://acme.halopsa.com/api"),
        ("authorization_server_url", "https://acme.halopsa.com/auth"),
        ("client_id", "id"),
        ("client_secret", "sec"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in overrides {
        f.retain(|(key, _)| key != k);
        f.push((k.to_string(), v.to_string()));
    }
    parse(&f).expect("test configuration parses")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    pub fn good() -> Vec<(String, String)> {
        form(&[
            (RESOURCE, "https://acme.halopsa.com/api"),
            (AUTH, "https://acme.halopsa.com/auth"),
            (CLIENT_ID, "cid"),
            (CLIENT_SECRET, "s3cr3t-value"),
        ])
    }

    #[test]
    fn an_international_host_name_is_converted_and_an_invalid_one_explained() {
        let ok = normalise_url(RESOURCE, "Resource Server URL", "https://münchen.example/api").unwrap();
        assert_eq!(ok.host, "xn--mnchen-3ya.example");
        let e = normalise_url(RESOURCE, "Resource Server URL", "https://a\u{0301}\u{200d}b.example/api").unwrap_err();
        let text = format!("{e:?}");
        assert!(text.contains("xn--") || text.contains("not a valid URL"), "{text}");
    }

    #[test]
    fn urls_are_normalised() {
        let n = normalise_url("f", "L", "  https://acme.halopsa.com/api/  ").unwrap();
        assert_eq!(n.url, "https://acme.halopsa.com/api");
        assert_eq!(n.host, "acme.halopsa.com");
        assert_eq!(n.path, "/api");
        assert_eq!(normalise_url("f", "L", "acme.halopsa.com/auth").unwrap().url, "https://acme.halopsa.com/auth");
        assert_eq!(normalise_url("f", "L", "HTTPS://Acme.HaloPSA.com/auth//").unwrap().url, "https://acme.halopsa.com/auth");
        assert_eq!(normalise_url("f", "L", "http://halo.local:8080/api").unwrap().url, "http://halo.local:8080/api");
        assert_eq!(normalise_url("f", "L", "https://acme.halopsa.com:443/").unwrap().url, "https://acme.halopsa.com");
        assert_eq!(normalise_url("f", "L", "acme.halopsa.com:8443").unwrap().url, "https://acme.halopsa.com:8443");
    }

    #[test]
    fn bad_urls_are_refused() {
        for raw in [
            "ftp://acme.halopsa.com/api",
            "https://user:pw@acme.halopsa.com/api",
            "https://acme.halopsa.com/api?x=1",
            "https://acme.halopsa.com/api#top",
            "https://",
            "https://exa mple.com",
        ] {
            let e = normalise_url("resource_server_url", "Resource Server URL", raw).unwrap_err();
            match e {
                Error::InvalidConfig { field, .. } => assert_eq!(field, "resource_server_url"),
                other => panic!("{raw}: {other:?}"),
            }
        }
    }

    #[test]
    fn bare_instance_gets_api() {
        let mut f = good();
        f[0].1 = " acme.halopsa.com/ ".into();
        let c = parse(&f).unwrap();
        assert_eq!(c.resource.url, "https://acme.halopsa.com/api");
        assert_eq!(c.endpoint("/Client"), "/api/Client");
        assert!(c.api_assumed);
        let c = parse(&good()).unwrap();
        assert!(!c.api_assumed);
        assert_eq!(c.token_url(), "https://acme.halopsa.com/auth/token");
        assert_eq!(c.token_endpoint(), "/auth/token");
        assert_eq!(c.scope, "all");
        assert!(c.include_inactive);
        assert!(c.tenant.is_none());
        // Cleared (0.2.0): still the defaults, since neither has a "nothing" value.
        let mut f = good();
        f.extend([("scope".to_string(), " ".to_string()), ("include_inactive".to_string(), String::new())]);
        let c = parse(&f).unwrap();
        assert_eq!((c.scope.as_str(), c.include_inactive), ("all", true));
    }

    #[test]
    fn config_errors_name_the_field() {
        let mut f = good();
        f.push(("colour".into(), "x".into()));
        assert!(matches!(parse(&f), Err(Error::InvalidConfig { field, .. }) if field == "colour"));

        let f: Vec<_> = good().into_iter().filter(|(k, _)| k != CLIENT_SECRET).collect();
        match parse(&f) {
            Err(Error::InvalidConfig { field, message }) => {
                assert_eq!(field, CLIENT_SECRET);
                assert!(message.contains("Client Secret"));
            }
            other => panic!("{other:?}"),
        }
        let mut f = good();
        f[2].1 = "   ".into();
        assert!(matches!(parse(&f), Err(Error::InvalidConfig { field, .. }) if field == CLIENT_ID));

        let mut f = good();
        f.push((INCLUDE_INACTIVE.into(), "maybe".into()));
        assert!(matches!(parse(&f), Err(Error::InvalidConfig { field, .. }) if field == INCLUDE_INACTIVE));
    }

    #[test]
    fn optional_fields() {
        let mut f = good();
        f.push((TENANT.into(), "  acme ".into()));
        f.push((SCOPE.into(), " read:customers edit:tickets ".into()));
        f.push((INCLUDE_INACTIVE.into(), "No".into()));
        let c = parse(&f).unwrap();
        assert_eq!(c.tenant.as_deref(), Some("acme"));
        assert_eq!(c.scope, "read:customers edit:tickets");
        assert!(!c.include_inactive);
        for (v, want) in [("TRUE", true), ("yes", true), ("1", true), ("false", false), ("0", false)] {
            assert_eq!(parse_flag(v), Some(want));
        }
        let mut f = good();
        f.push((TENANT.into(), "  ".into()));
        assert!(parse(&f).unwrap().tenant.is_none());
    }

    #[test]
    fn debug_hides_the_secret() {
        let c = parse(&good()).unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t-value"));
    }
}
