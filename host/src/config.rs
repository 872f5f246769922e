//! A filled-in connection form, and reading one from a TOML file.
//!
//! The file's keys are the connector's field ids. Any value may instead come
//! from an environment variable, named by `<field>_env`, so a secret need not
//! sit in a file:
//!
//! ```toml
//! resource_server_url = "https://acme.halopsa.com/api"
//! authorization_server_url = "https://acme.halopsa.com/auth"
//! client_id = "3f1e…"
//! client_secret_env = "HALO_CLIENT_SECRET"
//! include_inactive = true
//! ```
//!
//! Unknown keys, a field given twice, an unset variable and a missing
//! required field are errors that name the field.

use crate::types::{ConnectorInfo, FieldKind};
use std::fmt;

/// A connection form's values, by field id. `Debug` never shows values of
/// `secret` fields.
#[derive(Clone, Default)]
pub struct ConnectionConfig {
    entries: Vec<(String, String)>,
    secret_ids: Vec<String>,
}

/// Why a configuration file could not be read; each message names the
/// key or field and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The text is not TOML.
    #[error("the config file is not valid TOML: {detail}")]
    NotToml {
        /// The TOML parser's description of the problem.
        detail: String,
    },
    /// A key that is not one of the connector's field ids (nor one with `_env`).
    #[error("unknown key `{key}` in the config file; {connector} accepts: {} (each may also be given as `<key>_env` naming an environment variable)", accepted.join(", "))]
    UnknownKey {
        /// The key as written.
        key: String,
        /// The connector's display name.
        connector: String,
        /// The field ids it accepts.
        accepted: Vec<String>,
    },
    /// A field given both directly and through `<field>_env`.
    #[error("`{field}` is given twice (directly and through `{field}_env`); keep one")]
    GivenTwice {
        /// The field id.
        field: String,
    },
    /// A value that is neither a string, a boolean nor an integer.
    #[error("`{key}` must be a string or a boolean, not {found}")]
    WrongType {
        /// The key as written.
        key: String,
        /// The TOML type it has (`array`, `table`, ...).
        found: &'static str,
    },
    /// `<field>_env` names an environment variable that is not set.
    #[error("`{key}` names the environment variable `{variable}`, which is not set")]
    UnsetVariable {
        /// The field id.
        field: String,
        /// The key as written (`<field>_env`).
        key: String,
        /// The variable's name.
        variable: String,
    },
    /// A `choice` field's value is not one of its choices.
    #[error("`{field}` is {value:?}, which is not one of its choices: {}", choices.join(", "))]
    NotAChoice {
        /// The field id.
        field: String,
        /// The value given (escaped for a terminal).
        value: String,
        /// The values it accepts.
        choices: Vec<String>,
    },
    /// A `number` field's value is not a whole number within its range.
    #[error("`{field}` is {value:?}; it takes a whole number from {min} to {max}")]
    NotInRange {
        /// The field id.
        field: String,
        /// The value given (escaped for a terminal).
        value: String,
        /// The smallest value accepted.
        min: i64,
        /// The largest value accepted.
        max: i64,
    },
    /// A required field is missing or empty.
    #[error("required field `{field}` ({label}) is missing from the config file; {help}")]
    MissingRequired {
        /// The field id.
        field: String,
        /// Its label on the form.
        label: String,
        /// Its help text.
        help: String,
    },
}

impl ConfigError {
    /// The key or field concerned, when one is.
    pub fn field(&self) -> Option<&str> {
        match self {
            ConfigError::NotToml { .. } => None,
            ConfigError::UnknownKey { key, .. } | ConfigError::WrongType { key, .. } => Some(key),
            ConfigError::GivenTwice { field }
            | ConfigError::NotAChoice { field, .. }
            | ConfigError::NotInRange { field, .. }
            | ConfigError::UnsetVariable { field, .. }
            | ConfigError::MissingRequired { field, .. } => Some(field),
        }
    }
}

impl ConnectionConfig {
    /// A configuration from `(field id, value)` pairs, as the platform holds
    /// them. `secret_ids` are the fields whose values are scrubbed from output.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>, info: &ConnectorInfo) -> Self {
        ConnectionConfig {
            entries: pairs.into_iter().collect(),
            secret_ids: secret_ids(info),
        }
    }

    /// Parses a TOML config file's text for this connector.
    /// `env` looks up environment variables (`std::env::var` in the CLI).
    pub fn from_toml(
        text: &str,
        info: &ConnectorInfo,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let table: toml::Table =
            text.parse().map_err(|e: toml::de::Error| ConfigError::NotToml { detail: e.message().to_string() })?;
        let known: Vec<&str> = info.fields.iter().map(|f| f.id.as_str()).collect();
        let mut entries: Vec<(String, String)> = Vec::new();
        for (key, value) in &table {
            let (field, from_env) = match key.strip_suffix("_env") {
                Some(f) if known.contains(&f) => (f, true),
                _ => (key.as_str(), false),
            };
            if !known.contains(&field) {
                return Err(ConfigError::UnknownKey {
                    key: key.clone(),
                    connector: info.display_name.clone(),
                    accepted: known.iter().map(|k| k.to_string()).collect(),
                });
            }
            if entries.iter().any(|(k, _)| k == field) {
                return Err(ConfigError::GivenTwice { field: field.to_string() });
            }
            let text = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Integer(i) => i.to_string(),
                other => {
                    return Err(ConfigError::WrongType { key: key.clone(), found: other.type_str() })
                }
            };
            let text = if from_env {
                env(&text).ok_or_else(|| ConfigError::UnsetVariable {
                    field: field.to_string(),
                    key: key.clone(),
                    variable: text.clone(),
                })?
            } else {
                text
            };
            entries.push((field.to_string(), text));
        }
        for (k, v) in &entries {
            if let Some(f) = info.field(k) {
                check_kind(f, v)?;
            }
        }
        for f in &info.fields {
            let given = entries.iter().any(|(k, v)| k == &f.id && !v.trim().is_empty());
            if f.required && !given {
                return Err(ConfigError::MissingRequired {
                    field: f.id.clone(),
                    label: f.label.clone(),
                    help: f.help.clone(),
                });
            }
        }
        Ok(ConnectionConfig { entries, secret_ids: secret_ids(info) })
    }

    /// The value of a field.
    pub fn get(&self, id: &str) -> Option<&str> {
        self.entries.iter().find(|(k, _)| k == id).map(|(_, v)| v.as_str())
    }

    /// All `(field id, value)` pairs.
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }

    /// Values of the `url` fields, for the sandbox's allow-list.
    pub fn url_values<'a>(&'a self, info: &'a ConnectorInfo) -> impl Iterator<Item = &'a str> + 'a {
        self.entries.iter().filter_map(move |(k, v)| {
            (info.field(k).map(|f| f.kind) == Some(FieldKind::Url)).then_some(v.as_str())
        })
    }

    /// The values to scrub from everything a person sees.
    pub fn secret_values(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(k, v)| self.secret_ids.contains(k) && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// A `choice` value among the field's choices, a `number` value a whole
/// number within its range; an empty value is a cleared field and passes
/// (contract 0.2.0 passes it on as cleared).
fn check_kind(f: &crate::types::ConfigField, value: &str) -> Result<(), ConfigError> {
    if value.is_empty() {
        return Ok(());
    }
    let shown = || crate::escape::for_terminal(value).into_owned();
    match f.kind {
        // The SDK's rule: a choice matches trimmed and in any ASCII case.
        FieldKind::Choice if !f.choices.iter().any(|c| c.value.eq_ignore_ascii_case(value.trim())) => Err(ConfigError::NotAChoice {
            field: f.id.clone(),
            value: shown(),
            choices: f.choices.iter().map(|c| crate::escape::for_terminal(&c.value).into_owned()).collect(),
        }),
        FieldKind::Number => {
            let (min, max) = f.range.map_or((i64::MIN, i64::MAX), |r| (r.min, r.max));
            match value.trim().parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(()),
                _ => Err(ConfigError::NotInRange { field: f.id.clone(), value: shown(), min, max }),
            }
        }
        _ => Ok(()),
    }
}

fn secret_ids(info: &ConnectorInfo) -> Vec<String> {
    info.fields.iter().filter(|f| f.kind == FieldKind::Secret).map(|f| f.id.clone()).collect()
}

impl fmt::Debug for ConnectionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.entries {
            if self.secret_ids.contains(k) {
                m.entry(k, &"[redacted]");
            } else {
                m.entry(k, v);
            }
        }
        m.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ConfigField;

    fn info() -> ConnectorInfo {
        let f = |id: &str, kind, required| ConfigField {
            id: id.into(),
            label: id.to_uppercase(),
            help: format!("help for {id}"),
            kind,
            required,
            default_value: None,
            choices: vec![],
            range: None,
        };
        ConnectorInfo {
            id: "x".into(),
            display_name: "X".into(),
            version: "1".into(),
            contract_version: "0.1.0".into(),
            capabilities: vec![],
            fields: vec![
                f("url", FieldKind::Url, true),
                f("secret", FieldKind::Secret, true),
                f("flag", FieldKind::Flag, false),
                ConfigField {
                    choices: vec![
                        crate::types::FieldChoice { value: "all".into(), label: "All".into() },
                        crate::types::FieldChoice { value: "active".into(), label: "Active".into() },
                    ],
                    ..f("scope", FieldKind::Choice, false)
                },
                ConfigField {
                    range: Some(crate::types::NumberRange { min: 1, max: 500 }),
                    ..f("page_size", FieldKind::Number, false)
                },
            ],
            allowed_hosts: vec![],
            budget: None,
            ticket_option_kinds: vec![],
        }
    }

    #[test]
    fn reads_values_and_env() {
        let c = ConnectionConfig::from_toml(
            "url = 'https://a/api'\nsecret_env = 'S'\nflag = false\n",
            &info(),
            |k| (k == "S").then(|| "hunter2-secret".to_string()),
        )
        .unwrap();
        assert_eq!(c.get("secret"), Some("hunter2-secret"));
        assert_eq!(c.get("flag"), Some("false"));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("[redacted]"));
        assert_eq!(c.secret_values(), vec!["hunter2-secret".to_string()]);
    }

    #[test]
    fn errors_name_the_field() {
        let e = ConnectionConfig::from_toml("url='x'\nsecret='y'\nbogus=1", &info(), |_| None).unwrap_err();
        assert_eq!(e.field(), Some("bogus"));
        assert!(e.to_string().contains("unknown key `bogus`"), "{e}");
        let e = ConnectionConfig::from_toml("url='x'", &info(), |_| None).unwrap_err();
        assert_eq!(e.field(), Some("secret"));
        assert!(e.to_string().contains("required field `secret`"), "{e}");
        let e = ConnectionConfig::from_toml("url='x'\nsecret_env='NOPE'", &info(), |_| None).unwrap_err();
        assert!(e.to_string().contains("`NOPE`, which is not set"), "{e}");
        let e = ConnectionConfig::from_toml("url='x'\nsecret='a'\nsecret_env='S'", &info(), |_| Some("b".into())).unwrap_err();
        assert!(e.to_string().contains("given twice"), "{e}");
        let e = ConnectionConfig::from_toml("url = [", &info(), |_| None).unwrap_err();
        assert!(e.to_string().contains("not valid TOML"), "{e}");
    }

    #[test]
    fn choice_and_number_fields_take_only_their_values() {
        let base = "url = 'https://a/api'\nsecret = 's'\n";
        let read = |extra: &str| ConnectionConfig::from_toml(&format!("{base}{extra}"), &info(), |_| None);
        assert!(read("scope = 'active'\npage_size = 500\n").is_ok());
        assert!(read("scope = ' Active '\n").is_ok(), "a choice matches as the SDK matches it: trimmed, any case");
        assert!(read("scope = ''\npage_size = ''\n").is_ok(), "cleared fields pass");
        let e = read("scope = 'some\\u001b'\n").unwrap_err();
        assert!(matches!(&e, ConfigError::NotAChoice { field, .. } if field == "scope"), "{e:?}");
        assert!(e.to_string().contains("all, active") && !e.to_string().contains('\u{1b}'), "{e}");
        for bad in ["0", "501", "ten", "1.5"] {
            let e = read(&format!("page_size = '{bad}'\n")).unwrap_err();
            assert!(e.to_string().contains("a whole number from 1 to 500"), "{bad}: {e}");
        }
    }
}
