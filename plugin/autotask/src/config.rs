//! The connection form and its parsed, checked form ([`Config`]).
//!
//! The zone lookup URL is an advanced field, empty in production. When set
//! (a simulator in tests, or a proxy) it must be https, or http on a loopback
//! host only, and then only the lookup's own host or a host under
//! `autotask.net` is accepted as the discovered zone (see [`crate::api`]).
//! The sandbox admits the form's URL fields and the declared
//! `https://*.autotask.net`, so the field widens nothing the admin did not
//! type.

use psa_connector_sdk::form::{self, Entry, FieldSpec, Form, FormProblem, UrlProblem};
use psa_connector_sdk::{ConfigEntry, Error, FieldKind};

use crate::messages as msg;

/// Autotask's own zone lookup host.
pub const DEFAULT_LOOKUP: &str = "https://webservices.autotask.net";
/// The tenant id field's default name.
pub const DEFAULT_UDF: &str = "Microsoft 365 Tenant ID";
/// The `all_companies` choice: active customers only (the default).
pub const ACTIVE_CUSTOMERS: &str = "active-customers";
/// The `all_companies` choice: every company.
pub const ALL_COMPANIES: &str = "all-companies";
/// The field choosing which companies to import. Its id is the one the
/// yes/no flag of contract 0.1.0 had, and the flag's values are still
/// accepted (on: all companies; off: active customers).
pub const COMPANIES: FieldSpec = FieldSpec::choice(
    "all_companies",
    "Companies to import",
    "Active customers only (company type Customer, active), or every company, including prospects, vendors and inactive ones.",
    &[(ACTIVE_CUSTOMERS, "Active customers only"), (ALL_COMPANIES, "All companies")],
)
.default_value(ACTIVE_CUSTOMERS);

/// The default queue of new tickets: a `queueID` (Autotask's references are
/// int32, notes B3).
pub const QUEUE: FieldSpec = FieldSpec::number(
    "ticket_queue_id",
    "Default ticket queue",
    "The id of the queue new tickets go to when none is chosen (the ticket options list the queues: Admin > Features & Settings > Service Desk (Tickets) > Queues). Empty: the queue Autotask marks as default.",
    1,
    i32::MAX as i64,
);
/// The `ticket_key_field` choice: the ticket's External ID (the default).
pub const KEY_EXTERNAL_ID: &str = "external-id";
/// The `ticket_key_field` choice: a `[key]` tag at the end of the title.
pub const KEY_TITLE: &str = "title";
/// Where tickets keep their deduplication key (see [`crate::tickets`] for why).
pub const KEY_FIELD: FieldSpec = FieldSpec::choice(
    "ticket_key_field",
    "Ticket key field",
    "Where the connector keeps the key that finds a finding's open ticket again: the ticket's External ID (hidden from the title; the default), or a [key] tag at the end of the title, for databases that do not let tickets be searched by External ID.",
    &[(KEY_EXTERNAL_ID, "External ID"), (KEY_TITLE, "Tag in the title")],
)
.default_value(KEY_EXTERNAL_ID);

/// The form, in display order.
pub const FIELDS: [FieldSpec; 8] = [
    FieldSpec::new(
        "username",
        "API user name",
        "The API user's user name (e.g. api@yourcompany.com): Autotask, Admin > Resources (Users), a user with the security level API User (system).",
        FieldKind::Text,
    )
    .required(),
    FieldSpec::new("secret", "Secret", "The API user's password (secret), set on the same user's Security tab.", FieldKind::Secret)
        .required(),
    FieldSpec::new(
        "integration_code",
        "API integration code",
        "The tracking identifier of the API user (Security tab > API Tracking Identifier); Autotask sends it as ApiIntegrationCode. A credential: stored encrypted and never shown back.",
        FieldKind::Secret,
    )
    .required(),
    FieldSpec::new(
        "tenant_udf",
        "Tenant id field",
        "The label of the company user-defined field holding the Microsoft 365 tenant id. Leave it blank for no tenant links.",
        FieldKind::Text,
    )
    .default_value(DEFAULT_UDF),
    COMPANIES,
    QUEUE,
    KEY_FIELD,
    FieldSpec::new(
        "zone_lookup_url",
        "Zone lookup URL (advanced)",
        "Leave empty: Autotask's own https://webservices.autotask.net is used. Only for test systems.",
        FieldKind::Url,
    ),
];

/// A checked form. Its Debug output holds no secret.
#[derive(Clone)]
pub struct Config {
    pub username: String,
    pub secret: String,
    pub integration_code: String,
    /// `None`: no tenant links.
    pub tenant_udf: Option<String>,
    pub all_companies: bool,
    /// Origin (and path, if any) of the zone lookup, without a trailing slash.
    pub lookup: String,
    /// The lookup's host when it is not Autotask's own (a zone there is accepted too).
    pub lookup_host: Option<String>,
    /// The default queue of new tickets (digits), if given.
    pub ticket_queue: Option<String>,
    /// Where tickets keep their deduplication key.
    pub key_field: crate::tickets::KeyField,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("username", &self.username)
            .field("tenant_udf", &self.tenant_udf)
            .field("all_companies", &self.all_companies)
            .field("lookup", &self.lookup)
            .finish_non_exhaustive()
    }
}

fn label(id: &str) -> &'static str {
    FIELDS.iter().find(|f| f.id == id).map_or("A field", |f| f.label)
}

/// The entries, with a 0.1.0 yes/no value of `all_companies` read as its choice.
fn legacy_flag(config: Vec<ConfigEntry>) -> Vec<ConfigEntry> {
    config
        .into_iter()
        .map(|mut e| {
            if e.id == COMPANIES.id {
                if let Some(all) = form::parse_flag(&e.value) {
                    e.value = (if all { ALL_COMPANIES } else { ACTIVE_CUSTOMERS }).to_string();
                }
            }
            e
        })
        .collect()
}

/// A form problem in Autotask's words.
fn form_error(p: FormProblem) -> Error {
    match p {
        FormProblem::Missing { field, label } => Error::config(field, msg::missing(label)),
        FormProblem::Unknown { field } => Error::config(&field, msg::unknown_field(&field)),
        FormProblem::NotAFlag { field, value } => Error::config(&field, msg::not_a_flag(label(&field), &value)),
        FormProblem::NotAChoice { field, label, value, choices } => Error::config(field, msg::not_a_choice(label, &value, &choices)),
        FormProblem::NotANumber { field, label, value } => Error::config(field, msg::not_a_number(label, &value)),
        FormProblem::OutOfRange { field, label, value, min, max } => Error::config(field, msg::out_of_range(label, value, min, max)),
    }
}

/// Check the form.
pub fn parse(config: Vec<ConfigEntry>) -> Result<Config, Error> {
    let form = Form::from_config(legacy_flag(config));
    form.check(&FIELDS).map_err(form_error)?;
    // Cleared reads as active customers, as the blank flag of 0.1.0 did.
    let all_companies = form.choice(&COMPANIES).map_err(form_error)? == Some(ALL_COMPANIES);
    // Absent: the default name. Cleared (an entry with a blank value): no
    // tenant links (contract 0.2.0, `config-entry`).
    let tenant_udf = match form.entry("tenant_udf") {
        Entry::Absent => Some(DEFAULT_UDF.to_string()),
        Entry::Cleared => None,
        Entry::Value(v) if v.chars().count() > 200 || v.chars().any(char::is_control) => {
            return Err(Error::config("tenant_udf", msg::bad_udf_name()))
        }
        Entry::Value(v) => Some(v.to_string()),
    };
    let (lookup, lookup_host) = match form.value("zone_lookup_url") {
        None => (DEFAULT_LOOKUP.to_string(), None),
        Some(raw) => lookup_url(raw)?,
    };
    let text = |id: &str| form.value(id).unwrap_or_default().to_string();
    let (username, integration_code) = (text("username"), text("integration_code"));
    for (id, v) in [("username", &username), ("integration_code", &integration_code)] {
        if v.chars().any(char::is_control) || v.len() > 256 {
            return Err(Error::config(id, format!("{} holds line breaks or is too long; paste it again.", label(id))));
        }
    }
    let secret = form.value("secret").unwrap_or_default().to_string();
    if secret.chars().any(char::is_control) {
        return Err(Error::config("secret", "The secret holds line breaks; paste it again.".to_string()));
    }
    let ticket_queue = form.number(&QUEUE).map_err(form_error)?.map(|n| n.to_string());
    // Cleared reads as the default, External ID.
    let key_field = match form.choice(&KEY_FIELD).map_err(form_error)? {
        Some(KEY_TITLE) => crate::tickets::KeyField::Title,
        _ => crate::tickets::KeyField::ExternalId,
    };
    Ok(Config { username, secret, integration_code, tenant_udf, all_companies, lookup, lookup_host, ticket_queue, key_field })
}

/// The advanced lookup URL: https anywhere, http only on a loopback host.
fn lookup_url(raw: &str) -> Result<(String, Option<String>), Error> {
    let bad = |why: &str| Error::config("zone_lookup_url", msg::bad_lookup_url(why));
    let n = form::normalise_url(raw).map_err(|p| match p {
        UrlProblem::Scheme(s) => bad(&format!("it starts with {}:// where https:// belongs", msg::clip(&s, 20))),
        UrlProblem::UserInfo => bad("it holds a user name or password"),
        _ => bad("it is not a web address"),
    })?;
    let loopback = matches!(n.host.as_str(), "127.0.0.1" | "[::1]" | "localhost");
    if n.url.starts_with("http://") && !loopback {
        return Err(bad("it must start with https://"));
    }
    if n.host == "webservices.autotask.net" && n.url.starts_with("https://") && n.path.is_empty() {
        return Ok((n.url, None));
    }
    Ok((n.url, Some(n.host)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn entries(pairs: &[(&str, &str)]) -> Vec<ConfigEntry> {
        pairs.iter().map(|(k, v)| ConfigEntry { id: k.to_string(), value: v.to_string() }).collect()
    }
    pub const BASE: [(&str, &str); 3] = [("username", "api@acme.com"), ("secret", "s3cret"), ("integration_code", "TRACK1")];

    fn with(extra: &[(&str, &str)]) -> Result<Config, Error> {
        let mut p = BASE.to_vec();
        p.extend_from_slice(extra);
        parse(entries(&p))
    }

    fn field(e: Error) -> String {
        match e {
            Error::InvalidConfig { field, .. } => field,
            other => panic!("not a config error: {other:?}"),
        }
    }

    #[test]
    fn defaults_and_flags() {
        let c = with(&[]).unwrap();
        assert_eq!(c.tenant_udf.as_deref(), Some(DEFAULT_UDF));
        assert!(!c.all_companies);
        assert_eq!((c.lookup.as_str(), c.lookup_host.as_deref()), (DEFAULT_LOOKUP, None));
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(with(&[("tenant_udf", "  ")]).unwrap().tenant_udf, None);
        assert_eq!(with(&[("tenant_udf", " M365 ")]).unwrap().tenant_udf.as_deref(), Some("M365"));
        assert!(with(&[("all_companies", "yes")]).unwrap().all_companies);
        assert_eq!(field(with(&[("all_companies", "perhaps")]).unwrap_err()), "all_companies");
        // The choice, and what the 0.1.0 flag's values mean in it.
        assert!(with(&[("all_companies", "all-companies")]).unwrap().all_companies);
        assert!(!with(&[("all_companies", " Active-Customers ")]).unwrap().all_companies);
        assert!(with(&[("all_companies", "true")]).unwrap().all_companies);
        assert!(!with(&[("all_companies", "off")]).unwrap().all_companies);
        assert!(!with(&[("all_companies", "")]).unwrap().all_companies);
        let e = with(&[("all_companies", "perhaps")]).unwrap_err();
        assert!(e.message().contains("active-customers, all-companies"), "{e:?}");
        // The tenant id field: cleared is no links even when entered twice; the last entry wins.
        assert_eq!(with(&[("tenant_udf", "X"), ("tenant_udf", "")]).unwrap().tenant_udf, None);
        assert_eq!(with(&[("tenant_udf", "")]).unwrap().tenant_udf, None);
        assert_eq!(field(parse(entries(&BASE[..2])).unwrap_err()), "integration_code");
        assert_eq!(field(with(&[("bogus", "1")]).unwrap_err()), "bogus");
        assert_eq!(field(with(&[("tenant_udf", "a\nb")]).unwrap_err()), "tenant_udf");
    }

    #[test]
    fn ticket_fields() {
        let c = with(&[]).unwrap();
        assert_eq!((c.ticket_queue, c.key_field), (None, crate::tickets::KeyField::ExternalId));
        let c = with(&[("ticket_queue_id", " 29682833 "), ("ticket_key_field", "Title")]).unwrap();
        assert_eq!((c.ticket_queue.as_deref(), c.key_field), (Some("29682833"), crate::tickets::KeyField::Title));
        for bad in ["abc", "-1", "0", "2147483648", "1234567890123456789012"] {
            assert_eq!(field(with(&[("ticket_queue_id", bad)]).unwrap_err()), "ticket_queue_id", "{bad}");
        }
        assert_eq!(field(with(&[("ticket_key_field", "udf")]).unwrap_err()), "ticket_key_field");
        assert_eq!(with(&[("ticket_key_field", "External-ID")]).unwrap().key_field, crate::tickets::KeyField::ExternalId);
        assert_eq!(with(&[("ticket_key_field", "")]).unwrap().key_field, crate::tickets::KeyField::ExternalId);
        assert_eq!(with(&[("ticket_queue_id", "")]).unwrap().ticket_queue, None);
    }

    #[test]
    fn lookup_override() {
        let c = with(&[("zone_lookup_url", "http://127.0.0.1:8080/")]).unwrap();
        assert_eq!((c.lookup.as_str(), c.lookup_host.as_deref()), ("http://127.0.0.1:8080", Some("127.0.0.1")));
        assert_eq!(field(with(&[("zone_lookup_url", "http://lookup.example.com")]).unwrap_err()), "zone_lookup_url");
        assert_eq!(field(with(&[("zone_lookup_url", "https://u:p@x.example.com")]).unwrap_err()), "zone_lookup_url");
        let c = with(&[("zone_lookup_url", "webservices.autotask.net")]).unwrap();
        assert_eq!(c.lookup_host, None);
    }
}
