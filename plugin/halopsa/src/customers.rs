//! Halo's `/Client` answer → the contract's `customer`.

use serde::Deserialize;
use serde_json::Value;

use crate::error::Error;
use crate::field::{parse_count, Field};
use crate::messages as msg;
use crate::tenants::RawLink;
use crate::types::Customer;

/// One `/Client` page as Halo sends it. Only the fields used are read; the
/// others (a `logo` can be a large base64 string) are skipped unparsed
/// (serde_json skips them iteratively: no recursion, however deep).
#[derive(Deserialize)]
struct RawPage<'a> {
    #[serde(default, borrow, deserialize_with = "rows")]
    clients: Option<Vec<RawRow<'a>>>,
    #[serde(default)]
    record_count: Option<Value>,
}

/// A `/Client` row: its text borrowed from the page body where it can be.
#[derive(Deserialize, Default)]
pub struct RawRow<'a> {
    #[serde(default, borrow)]
    pub id: Field<'a>,
    #[serde(default, borrow)]
    pub name: Field<'a>,
    #[serde(default, borrow)]
    pub inactive: Field<'a>,
    #[serde(default, borrow)]
    pub toplevel_id: Field<'a>,
    #[serde(default, borrow)]
    pub toplevel_name: Field<'a>,
    #[serde(default, borrow)]
    pub website: Field<'a>,
    #[serde(default, borrow)]
    pub domain: Field<'a>,
    /// `None` when absent or null: Halo did not include tenants.
    #[serde(default, deserialize_with = "crate::tenants::row_links")]
    pub azure_tenants: Option<Vec<RawLink>>,
}

/// A page: Halo's `record_count` and its rows.
pub struct Page<'a> {
    pub record_count: u64,
    pub rows: Vec<RawRow<'a>>,
}

/// Read a `/Client` page body (already checked to be non-HTML).
pub fn parse_page<'a>(endpoint: &str, page_no: u32, body: &'a [u8]) -> Result<Page<'a>, Error> {
    // serde would also read a struct from an array: insist on an object.
    let is_object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if !is_object {
        return Err(Error::protocol(endpoint, NOT_A_PAGE.to_string()));
    }
    ROW.with(|r| r.set(0));
    let parsed = serde_json::from_slice::<RawPage>(body);
    let row = ROW.with(|r| r.replace(0));
    let raw = match parsed {
        Ok(p) => p,
        Err(e) if row > 0 => return Err(Error::protocol(endpoint, msg::row_problem(row, page_no, &row_error(&e)))),
        Err(e) => return Err(Error::protocol(endpoint, diagnose(body, &e))),
    };
    let rows = raw
        .clients
        .ok_or_else(|| Error::protocol(endpoint, msg::field_problem("clients", "is missing")))?;
    let record_count = match raw.record_count {
        None | Some(Value::Null) => {
            return Err(Error::protocol(endpoint, msg::field_problem("record_count", "is missing")))
        }
        Some(v) => parse_count(&v).ok_or_else(|| {
            Error::protocol(endpoint, msg::field_problem("record_count", "is not a whole number of 0 or more"))
        })?,
    };
    Ok(Page { record_count, rows })
}

const NOT_A_PAGE: &str = "the answer is not a JSON object with \"clients\" and \"record_count\".";

thread_local! {
    /// The 1-based position of the `clients` row being read (0: none), so
    /// that a parse error inside a row can name it.
    static ROW: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// `clients`: null, or an array whose every item is a JSON object (serde
/// would otherwise read a row such as `[95, "Acme"]` positionally).
fn rows<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<RawRow<'de>>>, D::Error> {
    use serde::de::{self, MapAccess, SeqAccess, Visitor};
    use std::fmt;

    struct Rows;
    impl<'de> Visitor<'de> for Rows {
        type Value = Option<Vec<RawRow<'de>>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of customer rows")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            loop {
                ROW.with(|r| r.set(out.len() + 1));
                match seq.next_element::<ObjectRow<'de>>()? {
                    Some(ObjectRow(row)) => out.push(row),
                    None => break,
                }
            }
            ROW.with(|r| r.set(0));
            Ok(Some(out))
        }
    }

    struct ObjectRow<'a>(RawRow<'a>);
    impl<'de> Deserialize<'de> for ObjectRow<'de> {
        fn deserialize<D2: serde::Deserializer<'de>>(d: D2) -> Result<Self, D2::Error> {
            struct Obj;
            impl<'de> Visitor<'de> for Obj {
                type Value = ObjectRow<'de>;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<ObjectRow<'de>, M::Error> {
                    RawRow::deserialize(de::value::MapAccessDeserializer::new(map)).map(ObjectRow)
                }
            }
            d.deserialize_map(Obj)
        }
    }

    d.deserialize_any(Rows)
}

/// What a serde_json error inside one row means, after "customer row n of page p".
fn row_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    if text.contains("expected a JSON object") {
        "is not a JSON object".to_string()
    } else {
        json_problem(&text).unwrap_or_else(|| format!("does not have the expected shape ({})", msg::clip(&text, 120)))
    }
}

/// A syntax-level problem, phrased after "the answer" or "customer row n of page p".
fn json_problem(serde_error: &str) -> Option<String> {
    let clipped = msg::clip(serde_error, 120);
    let what = if serde_error.contains("recursion limit") {
        "nests arrays or objects more than 128 levels deep"
    } else if serde_error.contains("unicode") || serde_error.contains("surrogate") || serde_error.contains("escape") {
        "holds text that is not valid UTF-8"
    } else if serde_error.contains("number out of range") {
        "holds a number out of range"
    } else if serde_error.contains("duplicate field") {
        "holds the same key twice"
    } else if serde_error.starts_with("invalid type") || serde_error.starts_with("invalid value") {
        return None;
    } else {
        "is not valid JSON"
    };
    Some(format!("{what} ({clipped})"))
}

/// Say precisely what is wrong with an object body the typed parse refused
/// outside any row.
fn diagnose(body: &[u8], e: &serde_json::Error) -> String {
    let text = e.to_string();
    if let Some(p) = json_problem(&text) {
        return format!("the answer {p}.");
    }
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return format!("the answer {}.", json_problem(&e.to_string()).unwrap_or_else(|| "is not valid JSON".into())),
    };
    let Some(obj) = v.as_object() else {
        return NOT_A_PAGE.to_string();
    };
    match obj.get("clients") {
        Some(Value::Array(_)) => format!("the answer does not have the expected shape ({}).", msg::clip(&text, 120)),
        Some(Value::Null) | None => msg::field_problem("clients", "is missing"),
        Some(_) => msg::field_problem("clients", "is not an array"),
    }
}

/// A row as a customer, without tenant links. `position` is 1-based.
pub fn to_customer(endpoint: &str, page_no: u32, position: usize, row: &RawRow) -> Result<Customer, Error> {
    let bad = |problem: &str| Error::protocol(endpoint, msg::row_problem(position, page_no, problem));
    let id = match &row.id {
        Field::Null => return Err(bad("has no \"id\"")),
        // Halo's ids start at 1; 0 and negatives are not customers.
        v => v
            .as_int()
            .filter(|n| *n > 0)
            .map(|n| n.to_string())
            .ok_or_else(|| bad("has an \"id\" that is not a positive whole number"))?,
    };
    let name = match &row.name {
        Field::Null => String::new(),
        Field::Text(s) => s.to_string(),
        _ => return Err(bad("has a \"name\" that is not text")),
    };
    let inactive = match &row.inactive {
        Field::Null => false,
        Field::Bool(b) => *b,
        v => match v.as_int() {
            Some(0) => false,
            Some(1) => true,
            _ => match v.as_str().and_then(psa_connector_sdk::form::parse_flag) {
                Some(b) => b,
                None => return Err(bad("has an \"inactive\" that is neither true nor false")),
            },
        },
    };
    let parent_id = row.toplevel_id.as_int().filter(|n| *n != 0).map(|n| n.to_string());
    let parent_name = row.toplevel_name.text().map(str::to_string);
    let website = row.website.text().map(str::to_string);
    let domains = domains(row.domain.text(), website.as_deref());
    Ok(Customer {
        id,
        name,
        active: !inactive,
        parent_id,
        parent_name,
        website,
        domains,
        m365_tenants: Vec::new(),
    })
}

/// Domains from Halo's `domain` field (several, separated by `,` `;` or
/// spaces) and the website's host: lower case, no `www.`, no duplicates.
pub fn domains(domain: Option<&str>, website: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let tokens = domain
        .unwrap_or("")
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .chain(website);
    for token in tokens {
        if let Some(d) = host_of(token) {
            if !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out
}

/// The domain in `acme.com`, `www.acme.com`, `https://acme.com/x`, `it@acme.com`.
fn host_of(token: &str) -> Option<String> {
    host_of_with(token, true)
}

/// [`host_of`]; `shortcut` reads a plain host without `url` ([`plain_host`];
/// the tests check both ways agree).
fn host_of_with(token: &str, shortcut: bool) -> Option<String> {
    let t = token.trim();
    if t.is_empty() {
        return None;
    }
    let t = t.rsplit('@').next().unwrap_or(t);
    let t = t.strip_prefix("*.").unwrap_or(t);
    let host = match plain_host(t).filter(|_| shortcut) {
        Some(host) => host.trim_end_matches('.').to_ascii_lowercase(),
        None => {
            let with_scheme = if t.contains("://") { t.to_string() } else { format!("http://{t}") };
            let url = url::Url::parse(&with_scheme).ok()?;
            url.domain()?.trim_end_matches('.').to_ascii_lowercase()
        }
    };
    // Every leading `www.` (the fuzzer found `www.www.flt.org`).
    let mut bare = host.as_str();
    while let Some(rest) = bare.strip_prefix("www.") {
        bare = rest;
    }
    looks_like_domain(bare).then(|| bare.to_string())
}

/// The host of `t` when `url` would read it as it is, bar letter case: an
/// optional `http://` or `https://`, then ASCII letters, digits, dots and
/// hyphens, ending the token or followed by `/`, `?` or `#`, with no
/// punycode (`xn--`) label. Anything else (ports, escapes, other schemes,
/// non-ASCII) is left to `url`. Most of Halo's `website` and `domain` values
/// are plain, and parsing each as a URL was a tenth of the guest's time per page.
fn plain_host(t: &str) -> Option<&str> {
    let scheme_end = t.find("://").map(|i| i + 3);
    let rest = match scheme_end {
        Some(end) => {
            let scheme = &t[..end];
            if !(scheme.eq_ignore_ascii_case("http://") || scheme.eq_ignore_ascii_case("https://")) {
                return None;
            }
            &t[end..]
        }
        None => t,
    };
    let host = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let plain = !host.is_empty()
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && !host.split('.').any(|label| label.len() >= 4 && label[..4].eq_ignore_ascii_case("xn--"));
    plain.then_some(host)
}

/// At least two labels of letters, digits and hyphens; an alphabetic top level.
pub fn looks_like_domain(d: &str) -> bool {
    if d.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = d.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    let tld = labels.last().copied().unwrap_or("");
    labels.iter().all(label_ok)
        && tld.len() >= 2
        && (tld.bytes().all(|b| b.is_ascii_lowercase()) || tld.starts_with("xn--"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(v: serde_json::Value) -> RawRow<'static> {
        serde_json::from_str(String::leak(v.to_string())).unwrap()
    }

    #[test]
    fn rows() {
        let c = to_customer(
            "/api/Client",
            1,
            1,
            &row(json!({"id": 95.0, "name": "Acme", "inactive": 1, "toplevel_id": 3, "toplevel_name": "Group A",
                        "website": "https://www.Acme.com/", "domain": "acme.com; ACME.co.uk,  it@acme.org", "logo": "AAAA"})),
        )
        .unwrap();
        assert_eq!(c.id, "95");
        assert_eq!(c.name, "Acme");
        assert!(!c.active);
        assert_eq!(c.parent_id.as_deref(), Some("3"));
        assert_eq!(c.parent_name.as_deref(), Some("Group A"));
        assert_eq!(c.website.as_deref(), Some("https://www.Acme.com/"));
        assert_eq!(c.domains, vec!["acme.com", "acme.co.uk", "acme.org"]);

        let c = to_customer("/api/Client", 1, 1, &row(json!({"id": "7", "name": null, "inactive": null, "toplevel_id": 0, "website": "", "domain": null}))).unwrap();
        assert_eq!(c.name, "");
        assert!(c.active);
        assert!(c.parent_id.is_none() && c.website.is_none() && c.domains.is_empty());

        match to_customer("/api/Client", 2, 5, &row(json!({"name": "x"}))) {
            Err(Error::Protocol { endpoint, message }) => {
                assert_eq!(endpoint, "/api/Client");
                assert!(message.contains("row 5 of page 2"));
            }
            other => panic!("{:?}", other.map(|c| c.id)),
        }
        assert!(to_customer("/api/Client", 1, 1, &row(json!({"id": 9.5}))).is_err());
        assert!(to_customer("/api/Client", 1, 1, &row(json!({"id": 9, "inactive": "maybe"}))).is_err());
        assert!(!to_customer("/api/Client", 1, 1, &row(json!({"id": 9, "inactive": true}))).unwrap().active);
    }

    #[test]
    fn domain_rules() {
        assert_eq!(domains(Some("not a domain, localhost, 10.0.0.1, -bad-.com, acme.com"), None), vec!["acme.com"]);
        assert_eq!(domains(None, Some("www.example.org")), vec!["example.org"]);
        assert_eq!(domains(Some("www.www.flt.org, www.com"), Some("https://WWW.www.flt.org/")), vec!["flt.org"]);
        assert_eq!(domains(Some("Example.ORG"), Some("http://example.org/contact")), vec!["example.org"]);
        assert!(looks_like_domain("xn--bcher-kva.de"));
        assert!(!looks_like_domain("acme.c"));
        assert!(!looks_like_domain("acme..com"));
    }

    #[test]
    fn the_plain_host_shortcut_agrees_with_url() {
        let pieces = [
            "a", "B", "z", "0", "9", "42", ".", "..", "-", "/", "?", "#", ":", ":8080", "@", "%41", "%", "\\", " ", "\t",
            "xn--", "XN--bcher-kva", "xn--bcher-kva", "http://", "https://", "HTTPS://", "ftp://", "mailto:", "www.", "WWW.",
            "é", "_", "*.", "acme", "example", ".com", ".co.uk", "0x1f", "1.2.3.4", "[::1]", "localhost", ".example.",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut plain = 0;
        for _ in 0..200_000 {
            let n = 1 + next() % 7;
            let token: String = (0..n).map(|_| pieces[(next() % pieces.len() as u64) as usize]).collect();
            assert_eq!(host_of_with(&token, true), host_of_with(&token, false), "{token:?}");
            let t = token.trim();
            let t = t.rsplit('@').next().unwrap_or(t);
            if plain_host(t.strip_prefix("*.").unwrap_or(t)).is_some() {
                plain += 1;
            }
        }
        // The shortcut was taken often enough for the comparison to mean something.
        assert!(plain > 20_000, "only {plain} plain tokens");
        for t in ["https://www.Acme.example/x", "acme.example", "www.acme.example", "HTTP://acme.example?x#y", "acme.example."] {
            assert!(plain_host(t).is_some(), "{t}");
            assert_eq!(host_of(t).as_deref(), Some("acme.example"), "{t}");
        }
        for t in ["acme.example:8080", "xn--bcher-kva.example", "ftp://acme.example", "acme%2eexample", "acmé.example", "acme.example\\x"] {
            assert!(plain_host(t).is_none(), "{t}");
        }
    }

    #[test]
    fn pages() {
        let p = parse_page("/api/Client", 1, br#"{"record_count":"2","clients":[{"id":1},{"id":2}]}"#).unwrap();
        assert_eq!(p.record_count, 2);
        assert_eq!(p.rows.len(), 2);
        let err = |body: &str| match parse_page("/api/Client", 1, body.as_bytes()) {
            Err(Error::Protocol { message, .. }) => message,
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("accepted {body}"),
        };
        assert!(err(r#"{"record_count":2}"#).contains("\"clients\" is missing"));
        assert!(err(r#"{"record_count":2,"clients":{}}"#).contains("\"clients\" is not an array"));
        assert!(err(r#"{"clients":[]}"#).contains("\"record_count\" is missing"));
        assert!(err(r#"{"clients":[],"record_count":1.5}"#).contains("not a whole number"));
        assert!(err(r#"{"clients":[1],"record_count":1}"#).contains("row 1 of page 1 is not a JSON object"));
        assert!(err(r#"{"clients":[1],"record_count":1}"#).contains("row 1 of page 1"));
        assert!(err(r#"[]"#).contains("not a JSON object"));
    }

    #[test]
    fn hostile_pages_name_the_row_and_the_problem() {
        let err = |body: &[u8]| match parse_page("/api/Client", 3, body) {
            Err(Error::Protocol { message, .. }) => message,
            Err(other) => panic!("{other:?}"),
            Ok(p) => panic!("accepted {} rows of {}", p.rows.len(), String::from_utf8_lossy(body)),
        };
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        // Invalid UTF-8 and lone surrogates inside a row's string.
        let m = err(b"{\"record_count\":2,\"clients\":[{\"id\":1},{\"id\":2,\"name\":\"A\xffB\"}]}");
        assert!(m.starts_with("customer row 2 of page 3 holds text that is not valid UTF-8"), "{m}");
        assert!(err(br#"{"record_count":1,"clients":[{"id":1,"name":"\ud800"}]}"#).contains("row 1 of page 3 holds text that is not valid UTF-8"));
        // Nesting beyond serde_json's limit, in a row and at the top.
        let m = err(format!(r#"{{"record_count":1,"clients":[{{"id":1,"name":{}}}]}}"#, deep(100_000)).as_bytes());
        assert!(m.starts_with("customer row 1 of page 3 nests arrays or objects more than 128 levels deep"), "{m}");
        assert!(err(format!(r#"{{"record_count":{},"clients":[]}}"#, deep(100_000)).as_bytes()).starts_with("the answer nests"));
        assert!(err(deep(100_000).as_bytes()).contains("not a JSON object"));
        // ... but an unused field is skipped however deep.
        let body = format!(r#"{{"record_count":1,"clients":[{{"id":1,"logo":{}}}]}}"#, deep(100_000));
        let p = parse_page("/api/Client", 1, body.as_bytes()).unwrap();
        assert_eq!(p.rows.len(), 1);
        // Duplicate keys, numbers out of range, rows that are arrays.
        assert!(err(br#"{"record_count":1,"clients":[{"id":1,"id":2}]}"#).contains("row 1 of page 3 holds the same key twice (duplicate field `id`"));
        assert!(err(br#"{"record_count":1,"record_count":2,"clients":[]}"#).starts_with("the answer holds the same key twice (duplicate field `record_count`"));
        assert!(err(br#"{"record_count":2,"clients":[{"id":1},{"id":1e400}]}"#).starts_with("customer row 2 of page 3 holds a number out of range"));
        assert!(err(br#"{"record_count":1,"clients":[[95,"Acme"]]}"#).contains("row 1 of page 3 is not a JSON object"));
        assert!(err(br#"{"record_count":2,"clients":[{"id":1},null]}"#).contains("row 2 of page 3 is not a JSON object"));
        assert!(err(br#"{"record_count":-1,"clients":[]}"#).contains("\"record_count\" is not a whole number of 0 or more"));
        assert!(err(br#"{"record_count":1,"clients":[{"id":1}]} x"#).starts_with("the answer is not valid JSON"));
        assert!(err(b"null").contains("not a JSON object"));
        // Negative and zero ids are not customers.
        for id in [json!(-1), json!(0), json!("-5"), json!(1e300)] {
            match to_customer("/api/Client", 1, 4, &row(json!({ "id": id }))) {
                Err(Error::Protocol { message, .. }) => assert!(message.contains("row 4 of page 1 has an \"id\" that is not a positive whole number"), "{message}"),
                other => panic!("{id}: {:?}", other.map(|c| c.id)),
            }
        }
    }
}
