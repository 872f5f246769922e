//! The connection form: field definitions, reading the filled-in values,
//! URLs, yes/no flags, choices, numbers and GUIDs.
//!
//! Problems come back typed ([`FormProblem`], [`UrlProblem`]): the
//! connector words the message for its admins, naming its own fields.
//!
//! Absent and cleared (contract 0.2.0, `config-entry`): a field without an
//! entry was never filled in, and its default applies; an entry with an
//! empty (or blank) value was cleared by the admin, and the default must
//! not be substituted. [`Form::entry`] tells the three cases apart, and
//! [`Form::value_or_default`], [`Form::choice`] and [`Form::number`] apply
//! the rule.
//!
//! ```
//! use psa_connector_sdk::form::{Entry, FieldSpec, Form};
//! use psa_connector_sdk::FieldKind;
//! const UDF: FieldSpec = FieldSpec::new("udf", "Tenant field", "", FieldKind::Text).default_value("Tenant ID");
//! let form = |pairs: &[(&str, &str)]| Form::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
//! assert_eq!(form(&[]).value_or_default(&UDF), Some("Tenant ID")); // never filled in
//! assert_eq!(form(&[("udf", " ")]).value_or_default(&UDF), None); // cleared
//! assert_eq!(form(&[("udf", " M365 ")]).entry("udf"), Entry::Value("M365"));
//! ```

use crate::{ConfigEntry, ConfigField, FieldChoice, FieldKind, NumberRange};

/// One field of the connection form, as a constant.
///
/// ```
/// use psa_connector_sdk::{form::FieldSpec, FieldKind};
/// const FIELDS: [FieldSpec; 2] = [
///     FieldSpec::new("base_url", "PSA URL", "https://psa.example.com", FieldKind::Url).required(),
///     FieldSpec::new("include_inactive", "Include inactive", "Also import inactive customers.", FieldKind::Flag).default_value("true"),
/// ];
/// let fields = psa_connector_sdk::form::fields(&FIELDS);
/// assert_eq!((fields[0].required, fields[1].default_value.as_deref()), (true, Some("true")));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct FieldSpec {
    /// The field id: the key of the config entry (`base_url`).
    pub id: &'static str,
    /// The label a person sees.
    pub label: &'static str,
    /// Where to find the value.
    pub help: &'static str,
    /// URL, text, secret or flag. A `url` field is what lets the sandbox
    /// reach that host; a `secret` is stored encrypted and scrubbed from logs.
    pub kind: FieldKind,
    /// Whether the form is incomplete without it.
    pub required: bool,
    /// The value the platform pre-fills, applied by the connector only when
    /// the field has no entry at all (see the module docs).
    pub default: Option<&'static str>,
    /// A `choice` field's options as `(value, label)`, in display order;
    /// empty for every other kind.
    pub choices: &'static [(&'static str, &'static str)],
    /// A `number` field's bounds `(min, max)`, both inclusive; `None` for
    /// every other kind.
    pub range: Option<(i64, i64)>,
}

impl FieldSpec {
    /// An optional field without a default.
    pub const fn new(id: &'static str, label: &'static str, help: &'static str, kind: FieldKind) -> FieldSpec {
        FieldSpec { id, label, help, kind, required: false, default: None, choices: &[], range: None }
    }

    /// An optional `choice` field among `choices` (`(value, label)` pairs, at
    /// least one, in display order). Give it a default with
    /// [`FieldSpec::default_value`] (one of the values).
    ///
    /// ```
    /// use psa_connector_sdk::form::{FieldSpec, Form, FormProblem};
    /// const WHICH: FieldSpec = FieldSpec::choice("which", "Companies to import", "",
    ///     &[("active-customers", "Active customers only"), ("all-companies", "All companies")])
    ///     .default_value("active-customers");
    /// let f = WHICH.to_contract();
    /// assert_eq!((f.choices.len(), f.choices[1].label.as_str()), (2, "All companies"));
    /// let form = Form::new([("which".to_string(), "All-Companies".to_string())]);
    /// assert_eq!(form.choice(&WHICH), Ok(Some("all-companies")));
    /// let form = Form::new([("which".to_string(), "some".to_string())]);
    /// assert!(matches!(form.choice(&WHICH), Err(FormProblem::NotAChoice { field: "which", .. })));
    /// ```
    pub const fn choice(
        id: &'static str,
        label: &'static str,
        help: &'static str,
        choices: &'static [(&'static str, &'static str)],
    ) -> FieldSpec {
        FieldSpec { id, label, help, kind: FieldKind::Choice, required: false, default: None, choices, range: None }
    }

    /// An optional `number` field: a whole number from `min` to `max`, both
    /// inclusive.
    ///
    /// ```
    /// use psa_connector_sdk::form::{FieldSpec, Form, FormProblem};
    /// const SIZE: FieldSpec = FieldSpec::number("page_size", "Page size", "", 1, 500).default_value("100");
    /// assert_eq!(SIZE.to_contract().range.map(|r| (r.min, r.max)), Some((1, 500)));
    /// assert_eq!(Form::new([]).number(&SIZE), Ok(Some(100)));
    /// let form = Form::new([("page_size".to_string(), "900".to_string())]);
    /// assert!(matches!(form.number(&SIZE), Err(FormProblem::OutOfRange { field: "page_size", value: 900, .. })));
    /// ```
    pub const fn number(id: &'static str, label: &'static str, help: &'static str, min: i64, max: i64) -> FieldSpec {
        FieldSpec { id, label, help, kind: FieldKind::Number, required: false, default: None, choices: &[], range: Some((min, max)) }
    }

    /// The field, required.
    pub const fn required(mut self) -> FieldSpec {
        self.required = true;
        self
    }

    /// The field with a default value.
    pub const fn default_value(mut self, value: &'static str) -> FieldSpec {
        self.default = Some(value);
        self
    }

    /// The field as the contract describes it.
    pub fn to_contract(&self) -> ConfigField {
        ConfigField {
            id: self.id.into(),
            label: self.label.into(),
            help: self.help.into(),
            kind: self.kind,
            required: self.required,
            default_value: self.default.map(Into::into),
            choices: self.choices.iter().map(|(value, label)| FieldChoice { value: (*value).into(), label: (*label).into() }).collect(),
            range: self.range.map(|(min, max)| NumberRange { min, max }),
        }
    }
}

/// The fields for `connector-info`, in display order.
pub fn fields(specs: &[FieldSpec]) -> Vec<ConfigField> {
    specs.iter().map(FieldSpec::to_contract).collect()
}

/// What is wrong with a filled-in form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormProblem {
    /// An entry whose id is not one of the form's fields.
    Unknown {
        /// The entry's id.
        field: String,
    },
    /// A required field left empty.
    Missing {
        /// The field's id.
        field: &'static str,
        /// The field's label.
        label: &'static str,
    },
    /// A flag whose value is not yes or no ([`parse_flag`]).
    NotAFlag {
        /// The field's id.
        field: String,
        /// The value as entered.
        value: String,
    },
    /// A `choice` field whose value is not one of its choices.
    NotAChoice {
        /// The field's id.
        field: &'static str,
        /// The field's label.
        label: &'static str,
        /// The value as entered (trimmed).
        value: String,
        /// The values it accepts, in display order.
        choices: Vec<&'static str>,
    },
    /// A `number` field whose value is not a whole number.
    NotANumber {
        /// The field's id.
        field: &'static str,
        /// The field's label.
        label: &'static str,
        /// The value as entered (trimmed).
        value: String,
    },
    /// A `number` field whose value is outside its range.
    OutOfRange {
        /// The field's id.
        field: &'static str,
        /// The field's label.
        label: &'static str,
        /// The value as entered.
        value: i64,
        /// The smallest value accepted.
        min: i64,
        /// The largest value accepted.
        max: i64,
    },
}

impl FormProblem {
    /// The id of the field the problem is about.
    pub fn field(&self) -> &str {
        match self {
            FormProblem::Unknown { field } | FormProblem::NotAFlag { field, .. } => field,
            FormProblem::Missing { field, .. }
            | FormProblem::NotAChoice { field, .. }
            | FormProblem::NotANumber { field, .. }
            | FormProblem::OutOfRange { field, .. } => field,
        }
    }
}

/// One field's entry in a filled-in form: the contract's three cases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry<'a> {
    /// No entry: never filled in; the default applies.
    Absent,
    /// An entry with an empty or blank value: cleared by the admin; the
    /// default must not be substituted.
    Cleared,
    /// A value, trimmed.
    Value(&'a str),
}

/// The filled-in form: entries as the platform passed them.
#[derive(Clone, Default)]
pub struct Form {
    entries: Vec<(String, String)>,
}

/// No values: they may hold secrets.
impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Form").field("ids", &self.entries.iter().map(|(k, _)| k).collect::<Vec<_>>()).finish()
    }
}

impl Form {
    /// A form from `(id, value)` pairs.
    pub fn new(entries: impl IntoIterator<Item = (String, String)>) -> Form {
        Form { entries: entries.into_iter().collect() }
    }

    /// A form from the contract's entries.
    pub fn from_config(config: Vec<ConfigEntry>) -> Form {
        Form::new(config.into_iter().map(|e| (e.id, e.value)))
    }

    /// The entries as given.
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }

    /// The value of field `id`, trimmed; `None` when absent or blank (see
    /// [`Form::entry`] to tell the two apart). When an id is given twice, the
    /// last entry wins.
    pub fn value(&self, id: &str) -> Option<&str> {
        match self.entry(id) {
            Entry::Value(v) => Some(v),
            Entry::Absent | Entry::Cleared => None,
        }
    }

    /// Field `id` as absent, cleared (an entry with a blank value) or a
    /// trimmed value. When an id is given twice, the last entry wins.
    pub fn entry(&self, id: &str) -> Entry<'_> {
        match self.entries.iter().rev().find(|(k, _)| k == id).map(|(_, v)| v.trim()) {
            None => Entry::Absent,
            Some("") => Entry::Cleared,
            Some(v) => Entry::Value(v),
        }
    }

    /// The field's value; its default when it has no entry; `None` when it
    /// was cleared (or is absent without a default).
    pub fn value_or_default(&self, spec: &FieldSpec) -> Option<&str> {
        match self.entry(spec.id) {
            Entry::Value(v) => Some(v),
            Entry::Absent => spec.default,
            Entry::Cleared => None,
        }
    }

    /// A `choice` field: the chosen value as the spec spells it (matched
    /// without regard to case), the default when absent, `None` when
    /// cleared; [`FormProblem::NotAChoice`] for any other value.
    pub fn choice(&self, spec: &FieldSpec) -> Result<Option<&'static str>, FormProblem> {
        let Some(raw) = self.value_or_default(spec) else { return Ok(None) };
        match spec.choices.iter().find(|(value, _)| value.eq_ignore_ascii_case(raw)) {
            Some((value, _)) => Ok(Some(*value)),
            None => Err(FormProblem::NotAChoice {
                field: spec.id,
                label: spec.label,
                value: raw.to_string(),
                choices: spec.choices.iter().map(|(value, _)| *value).collect(),
            }),
        }
    }

    /// A `number` field: a whole number in decimal (an optional sign, no
    /// fraction, no exponent) within the spec's range; the default when
    /// absent, `None` when cleared. [`FormProblem::NotANumber`] or
    /// [`FormProblem::OutOfRange`] otherwise.
    pub fn number(&self, spec: &FieldSpec) -> Result<Option<i64>, FormProblem> {
        let Some(raw) = self.value_or_default(spec) else { return Ok(None) };
        let digits = raw.strip_prefix(['+', '-']).unwrap_or(raw);
        let value = (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| raw.parse::<i64>().ok())
            .flatten();
        let (min, max) = spec.range.unwrap_or((i64::MIN, i64::MAX));
        match value {
            // Too many digits for an i64 is out of range, not "not a number".
            None if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => Err(FormProblem::OutOfRange {
                field: spec.id,
                label: spec.label,
                value: if raw.starts_with('-') { i64::MIN } else { i64::MAX },
                min,
                max,
            }),
            None => Err(FormProblem::NotANumber { field: spec.id, label: spec.label, value: raw.to_string() }),
            Some(v) if v < min || v > max => {
                Err(FormProblem::OutOfRange { field: spec.id, label: spec.label, value: v, min, max })
            }
            Some(v) => Ok(Some(v)),
        }
    }

    /// The value of a field, or its [`FormProblem::Missing`].
    pub fn required(&self, spec: &FieldSpec) -> Result<&str, FormProblem> {
        self.value(spec.id).ok_or(FormProblem::Missing { field: spec.id, label: spec.label })
    }

    /// A yes/no field: its value read by [`parse_flag`]; `default` when
    /// absent or cleared (a flag has no "nothing" value: a connector that
    /// wants a cleared flag to mean something else reads [`Form::entry`]).
    pub fn flag(&self, id: &str, default: bool) -> Result<bool, FormProblem> {
        match self.value(id) {
            None => Ok(default),
            Some(v) => parse_flag(v).ok_or_else(|| FormProblem::NotAFlag { field: id.to_string(), value: v.to_string() }),
        }
    }

    /// The first entry that is not one of `specs`, then the first required
    /// field (in the order of `specs`) left empty, then the first `choice`
    /// or `number` field whose value is not acceptable ([`Form::choice`],
    /// [`Form::number`]).
    pub fn check(&self, specs: &[FieldSpec]) -> Result<(), FormProblem> {
        if let Some((id, _)) = self.entries.iter().find(|(id, _)| !specs.iter().any(|s| s.id == id)) {
            return Err(FormProblem::Unknown { field: id.clone() });
        }
        for spec in specs.iter().filter(|s| s.required) {
            self.required(spec)?;
        }
        for spec in specs {
            match spec.kind {
                FieldKind::Choice => {
                    self.choice(spec)?;
                }
                FieldKind::Number => {
                    self.number(spec)?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// `true`/`false`, `yes`/`no`, `1`/`0`, `on`/`off`, any case, blanks around ignored.
///
/// ```
/// use psa_connector_sdk::form::parse_flag;
/// assert_eq!(parse_flag(" Yes "), Some(true));
/// assert_eq!(parse_flag("0"), Some(false));
/// assert_eq!(parse_flag("maybe"), None);
/// ```
pub fn parse_flag(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Some(true),
        "false" | "no" | "0" | "off" => Some(false),
        _ => None,
    }
}

/// A URL from the form, normalised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NormUrl {
    /// `scheme://host[:port][/path]`: lower-case scheme and host, default
    /// port dropped, no trailing slash (`https://acme.halopsa.com/api`).
    pub url: String,
    /// The host (international names in their `xn--` form).
    pub host: String,
    /// The path without a trailing slash (`/api`, or empty).
    pub path: String,
}

/// Why a URL from the form is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlProblem {
    /// Nothing was entered.
    Empty,
    /// It does not parse as a URL.
    NotAUrl,
    /// Its host name is not a valid international domain name.
    NonAsciiHost,
    /// Its scheme is not http or https (the scheme given).
    Scheme(String),
    /// It holds a user name or password.
    UserInfo,
    /// It holds a query string (`?…`).
    Query,
    /// It holds a fragment (`#…`).
    Fragment,
    /// It has no host name.
    NoHost,
}

/// Trim, add `https://` when no scheme was typed, drop trailing slashes and
/// a default port; refuse schemes other than http(s), user info, queries and
/// fragments.
///
/// ```
/// use psa_connector_sdk::form::{normalise_url, UrlProblem};
/// let n = normalise_url("  Acme.HaloPSA.com/api/ ").unwrap();
/// assert_eq!((n.url.as_str(), n.host.as_str(), n.path.as_str()), ("https://acme.halopsa.com/api", "acme.halopsa.com", "/api"));
/// assert_eq!(normalise_url("ftp://files.example.com"), Err(UrlProblem::Scheme("ftp".into())));
/// ```
pub fn normalise_url(raw: &str) -> Result<NormUrl, UrlProblem> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(UrlProblem::Empty);
    }
    let with_scheme = if has_scheme(raw) { raw.to_string() } else { format!("https://{raw}") };
    let url = url::Url::parse(&with_scheme).map_err(|e| match e {
        url::ParseError::IdnaError if !with_scheme.is_ascii() => UrlProblem::NonAsciiHost,
        _ => UrlProblem::NotAUrl,
    })?;
    match url.scheme() {
        "https" | "http" => {}
        other => return Err(UrlProblem::Scheme(other.to_string())),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlProblem::UserInfo);
    }
    if url.query().is_some_and(|q| !q.is_empty()) {
        return Err(UrlProblem::Query);
    }
    if url.fragment().is_some_and(|f| !f.is_empty()) {
        return Err(UrlProblem::Fragment);
    }
    let host = match url.host_str() {
        Some(h) if !h.is_empty() => h.to_string(),
        _ => return Err(UrlProblem::NoHost),
    };
    let path = url.path().trim_end_matches('/').to_string();
    let origin = url.origin().ascii_serialization();
    Ok(NormUrl { url: format!("{origin}{path}"), host, path })
}

fn has_scheme(raw: &str) -> bool {
    match raw.find("://") {
        Some(i) => raw.get(..i).is_some_and(|s| {
            !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.')
        }),
        None => false,
    }
}

/// A GUID (a Microsoft 365 tenant id) as the contract wants it: lower-case
/// `8-4-4-4-12` hex; braces around it and blanks are allowed; `None` for
/// anything else.
///
/// ```
/// use psa_connector_sdk::form::normalise_guid;
/// assert_eq!(normalise_guid("{6F1C2A3B-0D4E-4F5A-8B9C-0D1E2F3A4B5C}").as_deref(), Some("6f1c2a3b-0d4e-4f5a-8b9c-0d1e2f3a4b5c"));
/// assert_eq!(normalise_guid("not-a-guid"), None);
/// ```
pub fn normalise_guid(raw: &str) -> Option<String> {
    let t = raw.trim();
    let t = t.strip_prefix('{').and_then(|s| s.strip_suffix('}')).unwrap_or(t);
    let groups: Vec<&str> = t.split('-').collect();
    let ok = groups.len() == 5
        && groups.iter().zip([8usize, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
    ok.then(|| t.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: [FieldSpec; 3] = [
        FieldSpec::new("url", "PSA URL", "", FieldKind::Url).required(),
        FieldSpec::new("key", "API key", "", FieldKind::Secret).required(),
        FieldSpec::new("flag", "Flag", "", FieldKind::Flag).default_value("true"),
    ];

    fn form(pairs: &[(&str, &str)]) -> Form {
        Form::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn values_checks_and_flags() {
        let f = form(&[("url", " a "), ("key", "x"), ("url", " b "), ("flag", "  ")]);
        assert_eq!(f.value("url"), Some("b"));
        assert_eq!(f.value("flag"), None);
        assert_eq!(f.check(&SPECS), Ok(()));
        assert_eq!(f.flag("flag", true), Ok(true));
        assert_eq!(form(&[("flag", "OFF")]).flag("flag", true), Ok(false));
        assert_eq!(
            form(&[("flag", "maybe")]).flag("flag", true),
            Err(FormProblem::NotAFlag { field: "flag".into(), value: "maybe".into() })
        );
        assert_eq!(form(&[("colour", "x")]).check(&SPECS), Err(FormProblem::Unknown { field: "colour".into() }));
        assert_eq!(form(&[("key", "x")]).check(&SPECS), Err(FormProblem::Missing { field: "url", label: "PSA URL" }));
        assert_eq!(form(&[("url", "u"), ("key", "   ")]).check(&SPECS), Err(FormProblem::Missing { field: "key", label: "API key" }));
        let debug = format!("{:?}", form(&[("key", "s3cr3t")]));
        assert!(!debug.contains("s3cr3t"), "{debug}");
        let c = Form::from_config(vec![ConfigEntry { id: "key".into(), value: "v".into() }]);
        assert_eq!(c.entries(), &[("key".to_string(), "v".to_string())]);
    }

    #[test]
    fn urls_are_normalised() {
        let u = |s: &str| normalise_url(s).map(|n| n.url);
        assert_eq!(u("  https://acme.halopsa.com/api/  ").as_deref(), Ok("https://acme.halopsa.com/api"));
        assert_eq!(u("acme.halopsa.com/auth").as_deref(), Ok("https://acme.halopsa.com/auth"));
        assert_eq!(u("HTTPS://Acme.HaloPSA.com/auth//").as_deref(), Ok("https://acme.halopsa.com/auth"));
        assert_eq!(u("http://halo.local:8080/api").as_deref(), Ok("http://halo.local:8080/api"));
        assert_eq!(u("https://acme.halopsa.com:443/").as_deref(), Ok("https://acme.halopsa.com"));
        assert_eq!(u("acme.halopsa.com:8443").as_deref(), Ok("https://acme.halopsa.com:8443"));
        let n = normalise_url("https://münchen.example/api").unwrap();
        assert_eq!(n.host, "xn--mnchen-3ya.example");
    }

    #[test]
    fn bad_urls_are_refused_with_the_reason() {
        for (raw, want) in [
            ("", UrlProblem::Empty),
            ("ftp://acme.halopsa.com/api", UrlProblem::Scheme("ftp".into())),
            ("https://user:pw@acme.halopsa.com/api", UrlProblem::UserInfo),
            ("https://u@h.example", UrlProblem::UserInfo),
            ("https://acme.halopsa.com/api?x=1", UrlProblem::Query),
            ("https://acme.halopsa.com/api#top", UrlProblem::Fragment),
            ("https://", UrlProblem::NotAUrl),
            ("https://exa mple.com", UrlProblem::NotAUrl),
            ("https://h.example:x", UrlProblem::NotAUrl),
        ] {
            assert_eq!(normalise_url(raw), Err(want), "{raw}");
        }
        let e = normalise_url("https://a\u{0301}\u{200d}b.example/api");
        assert!(matches!(e, Err(UrlProblem::NonAsciiHost | UrlProblem::NotAUrl)) || e.as_ref().is_ok_and(|n| n.host.starts_with("xn--")), "{e:?}");
    }

    #[test]
    fn guids() {
        let g = "0a1b2c3d-4e5f-6789-abcd-ef0123456789";
        assert_eq!(normalise_guid(g).as_deref(), Some(g));
        assert_eq!(normalise_guid(&format!(" {{{}}} ", g.to_uppercase())).as_deref(), Some(g));
        for bad in ["", "0a1b2c3d4e5f6789abcdef0123456789", "0a1b2c3d-4e5f-6789-abcd-ef012345678", "0a1b2c3d-4e5f-6789-abcd-ef012345678g", "{0a1b2c3d-4e5f-6789-abcd-ef0123456789", "0a1b2c3d-4e5f-6789-abcd-ef0123456789-"] {
            assert_eq!(normalise_guid(bad), None, "{bad}");
        }
    }

    #[test]
    fn fields_describe_the_form() {
        let f = fields(&SPECS);
        assert_eq!(f.len(), 3);
        assert_eq!((f[0].id.as_str(), f[0].required, f[0].kind), ("url", true, FieldKind::Url));
        assert_eq!(f[2].default_value.as_deref(), Some("true"));
        assert!(f.iter().all(|f| f.choices.is_empty() && f.range.is_none()));
        let c = CHOICE.to_contract();
        assert_eq!((c.kind, c.choices.len(), c.choices[0].value.as_str(), c.range.is_none()), (FieldKind::Choice, 2, "active", true));
        assert_eq!(c.choices[1].label, "All");
        let n = NUMBER.to_contract();
        assert_eq!((n.kind, n.choices.len(), n.range.map(|r| (r.min, r.max))), (FieldKind::Number, 0, Some((1, 500))));
        assert_eq!(n.default_value.as_deref(), Some("100"));
    }

    const CHOICE: FieldSpec =
        FieldSpec::choice("which", "Companies", "", &[("active", "Active only"), ("all", "All")]).default_value("active");
    const NUMBER: FieldSpec = FieldSpec::number("size", "Page size", "", 1, 500).default_value("100");
    const NO_DEFAULT: FieldSpec = FieldSpec::new("udf", "Tenant field", "", FieldKind::Text);
    const TEXT: FieldSpec = FieldSpec::new("udf", "Tenant field", "", FieldKind::Text).default_value("Tenant ID");

    #[test]
    fn absent_is_told_from_cleared() {
        assert_eq!(form(&[]).entry("udf"), Entry::Absent);
        assert_eq!(form(&[("udf", "")]).entry("udf"), Entry::Cleared);
        assert_eq!(form(&[("udf", " \t ")]).entry("udf"), Entry::Cleared);
        assert_eq!(form(&[("udf", " x ")]).entry("udf"), Entry::Value("x"));
        // The last entry wins, also when it clears the field.
        assert_eq!(form(&[("udf", "x"), ("udf", "")]).entry("udf"), Entry::Cleared);
        // Absent: the default; cleared: no default substituted.
        assert_eq!(form(&[]).value_or_default(&TEXT), Some("Tenant ID"));
        assert_eq!(form(&[("udf", "")]).value_or_default(&TEXT), None);
        assert_eq!(form(&[("udf", " M365 ")]).value_or_default(&TEXT), Some("M365"));
        assert_eq!(form(&[]).value_or_default(&NO_DEFAULT), None);
        // The same rule for choices and numbers.
        assert_eq!(form(&[]).choice(&CHOICE), Ok(Some("active")));
        assert_eq!(form(&[("which", " ")]).choice(&CHOICE), Ok(None));
        assert_eq!(form(&[]).number(&NUMBER), Ok(Some(100)));
        assert_eq!(form(&[("size", "")]).number(&NUMBER), Ok(None));
        assert_eq!(form(&[]).number(&FieldSpec::number("n", "N", "", 0, 9)), Ok(None));
    }

    #[test]
    fn choices() {
        assert_eq!(form(&[("which", " ALL ")]).choice(&CHOICE), Ok(Some("all")));
        let e = form(&[("which", "some")]).choice(&CHOICE).unwrap_err();
        assert_eq!(
            e,
            FormProblem::NotAChoice { field: "which", label: "Companies", value: "some".into(), choices: vec!["active", "all"] }
        );
        assert_eq!(e.field(), "which");
        // `check` refuses it too, naming the field.
        assert_eq!(form(&[("which", "some")]).check(&[CHOICE]).map_err(|p| p.field().to_string()), Err("which".into()));
        assert_eq!(form(&[("which", "all")]).check(&[CHOICE]), Ok(()));
        // A default that is not a choice is the connector's bug, still reported.
        let bad = FieldSpec::choice("c", "C", "", &[("a", "A")]).default_value("b");
        assert!(matches!(form(&[]).choice(&bad), Err(FormProblem::NotAChoice { field: "c", .. })));
    }

    #[test]
    fn numbers() {
        for (raw, want) in [("1", 1), (" 500 ", 500), ("+42", 42), ("007", 7)] {
            assert_eq!(form(&[("size", raw)]).number(&NUMBER), Ok(Some(want)), "{raw}");
        }
        for raw in ["1.5", "1e3", "ten", "-", "+", "0x10", "1 000", "５"] {
            let e = form(&[("size", raw)]).number(&NUMBER).unwrap_err();
            assert_eq!(e, FormProblem::NotANumber { field: "size", label: "Page size", value: raw.trim().into() }, "{raw}");
        }
        for (raw, value) in [("0", 0), ("501", 501), ("-3", -3), ("99999999999999999999", i64::MAX), ("-99999999999999999999", i64::MIN)] {
            let e = form(&[("size", raw)]).number(&NUMBER).unwrap_err();
            assert_eq!(e, FormProblem::OutOfRange { field: "size", label: "Page size", value, min: 1, max: 500 }, "{raw}");
            assert_eq!(e.field(), "size");
        }
        assert!(matches!(form(&[("size", "x")]).check(&[NUMBER]), Err(FormProblem::NotANumber { field: "size", .. })));
        assert!(matches!(form(&[("size", "0")]).check(&[NUMBER]), Err(FormProblem::OutOfRange { field: "size", .. })));
        assert_eq!(form(&[("size", "")]).check(&[NUMBER]), Ok(()));
    }
}
