//! One field of a Halo answer, read without building a `serde_json::Value`.
//!
//! A `/Client` page is parsed once per page of every import, so its rows are
//! read into [`Field`]s: text borrowed from the page body when it has no
//! escapes, numbers and booleans as they are, and arrays or objects skipped
//! (their content is not kept, but their nesting is still bounded by
//! serde_json's depth limit). Whole numbers are read as Halo may send them:
//! `95`, `95.0` or `"95"` ([`int_of_number`], [`int_of_text`]), the same
//! rules [`parse_int`] applies to a `Value` (ids and counts in the answers
//! that are read as `Value`s: CSP mappings, tickets, `record_count`).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

/// A JSON value as a row field; [`Field::Null`] when absent or `null`.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Field<'a> {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    Text(Cow<'a, str>),
    /// An array or an object.
    Nested,
}

impl Field<'_> {
    /// A whole number: `1234`, `1234.0`, `"1234"`.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Field::Number(n) => int_of_number(n),
            Field::Text(s) => int_of_text(s),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Field::Text(s) => Some(s),
            _ => None,
        }
    }

    /// Non-blank text, trimmed.
    pub fn text(&self) -> Option<&str> {
        self.as_str().map(str::trim).filter(|s| !s.is_empty())
    }
}

/// An integer, or a float with no fractional part that converts exactly.
pub fn int_of_number(n: &Number) -> Option<i64> {
    n.as_i64().or_else(|| n.as_f64().and_then(integral))
}

/// A whole number written as text, surrounding blanks ignored.
pub fn int_of_text(s: &str) -> Option<i64> {
    let s = s.trim();
    s.parse::<i64>().ok().or_else(|| s.parse::<f64>().ok().and_then(integral))
}

/// A non-negative whole number: `1234`, `"1234"`, `1234.0`.
pub fn parse_count(v: &Value) -> Option<u64> {
    parse_int(v).and_then(|n| u64::try_from(n).ok())
}

/// A whole number as Halo may send it: integer, integral float, numeric string.
pub fn parse_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => int_of_number(n),
        Value::String(s) => int_of_text(s),
        _ => None,
    }
}

/// Halo's id in canonical form (`"95"`).
pub fn parse_id(v: &Value) -> Option<String> {
    parse_int(v).map(|n| n.to_string())
}

fn integral(f: f64) -> Option<i64> {
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor(PhantomData))
    }
}

struct FieldVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for FieldVisitor<'a> {
    type Value = Field<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Field<'a>, E> {
        Ok(Field::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Field<'a>, E> {
        Ok(Field::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Field<'a>, D::Error> {
        Field::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Field<'a>, E> {
        Ok(Field::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Field<'a>, E> {
        Ok(Field::Number(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Field<'a>, E> {
        Ok(Field::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Field<'a>, E> {
        Ok(Number::from_f64(v).map_or(Field::Null, Field::Number))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Field<'a>, E> {
        Ok(Field::Text(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Field<'a>, E> {
        Ok(Field::Text(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Field<'a>, E> {
        Ok(Field::Text(Cow::Owned(v)))
    }
    // Nested values are read as fields too (not skipped as `IgnoredAny`),
    // so serde_json's depth limit still refuses a field nested too deep.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Field<'a>, A::Error> {
        while seq.next_element::<Field>()?.is_some() {}
        Ok(Field::Nested)
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Field<'a>, M::Error> {
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value::<Field>()?;
        }
        Ok(Field::Nested)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids() {
        assert_eq!(parse_id(&json!(95)).as_deref(), Some("95"));
        assert_eq!(parse_id(&json!("95")).as_deref(), Some("95"));
        assert_eq!(parse_id(&json!(" 0095 ")).as_deref(), Some("95"));
        assert_eq!(parse_id(&json!(95.0)).as_deref(), Some("95"));
        assert_eq!(parse_id(&json!("95.0")).as_deref(), Some("95"));
        assert_eq!(parse_id(&json!(95.5)), None);
        assert_eq!(parse_id(&json!("abc")), None);
        assert_eq!(parse_id(&json!(null)), None);
        assert_eq!(parse_id(&json!(true)), None);
        assert_eq!(parse_count(&json!(1234.0)), Some(1234));
        assert_eq!(parse_count(&json!("1234")), Some(1234));
        assert_eq!(parse_count(&json!(-1)), None);
        assert_eq!(parse_count(&json!(1e300)), None);
    }


    fn field(json: &str) -> Field<'_> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn fields_borrow_plain_text_and_read_numbers_loosely() {
        assert!(matches!(field(r#""Acme""#), Field::Text(Cow::Borrowed("Acme"))));
        assert!(matches!(field(r#""A\"cme""#), Field::Text(Cow::Owned(ref s)) if s == "A\"cme"));
        assert_eq!(field("null"), Field::Null);
        assert_eq!(field("true"), Field::Bool(true));
        assert_eq!(field("[1, {\"a\": [2]}]"), Field::Nested);
        for (json, n) in [("95", Some(95)), ("95.0", Some(95)), (r#"" 0095 ""#, Some(95)), (r#""95.0""#, Some(95)), ("95.5", None), ("-3", Some(-3)), ("1e300", None), (r#""abc""#, None), ("true", None)] {
            assert_eq!(field(json).as_int(), n, "{json}");
        }
        assert_eq!(field(r#""  x ""#).text(), Some("x"));
        assert_eq!(field(r#""   ""#).text(), None);
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(serde_json::from_str::<Field>(&deep).unwrap_err().to_string().contains("recursion limit"));
    }
}
