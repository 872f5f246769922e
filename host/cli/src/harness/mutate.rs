//! Mutations: one fixture answer changed at a time, to check that the
//! connector answers hostile or broken PSA answers with a typed error (or a
//! correct result), never a trap or a hang.
//!
//! Every mutation applies to every exchange with a 2xx answer; the JSON
//! mutations only where the body is JSON. `slow` holds the answer back
//! longer than the harness's first-byte timeout, so the connector sees a
//! timeout from the sandbox and must turn it into a typed error.

use serde_json::Value;

/// One way to break an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// The body cut in half.
    Truncated,
    /// An HTML page where JSON belongs (status kept, `text/html`).
    Html,
    /// No body at all.
    Empty,
    /// Every string a number, every number a string, every bool a string.
    WrongTypes,
    /// The top-level object emptied (`{}`).
    MissingTopLevel,
    /// Every object inside an array emptied (records without fields).
    MissingRecordFields,
    /// Every number 2^64 (out of every integer type) and negative variants.
    HugeNumbers,
    /// Every string 100,000 characters long.
    HugeStrings,
    /// The answer held back past the first-byte timeout.
    Slow,
}

impl Mutation {
    pub const ALL: [Mutation; 9] = [
        Mutation::Truncated,
        Mutation::Html,
        Mutation::Empty,
        Mutation::WrongTypes,
        Mutation::MissingTopLevel,
        Mutation::MissingRecordFields,
        Mutation::HugeNumbers,
        Mutation::HugeStrings,
        Mutation::Slow,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mutation::Truncated => "truncated-body",
            Mutation::Html => "html-for-json",
            Mutation::Empty => "empty-body",
            Mutation::WrongTypes => "wrong-types",
            Mutation::MissingTopLevel => "missing-fields",
            Mutation::MissingRecordFields => "missing-record-fields",
            Mutation::HugeNumbers => "huge-numbers",
            Mutation::HugeStrings => "huge-strings",
            Mutation::Slow => "slow-answer",
        }
    }

    /// Whether it needs a JSON body.
    pub fn needs_json(self) -> bool {
        matches!(
            self,
            Mutation::WrongTypes
                | Mutation::MissingTopLevel
                | Mutation::MissingRecordFields
                | Mutation::HugeNumbers
                | Mutation::HugeStrings
        )
    }
}

type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// The mutated answer, and whether to hold it back.
pub fn apply(m: Mutation, (status, mut headers, body): Answer) -> (u16, Vec<(String, String)>, Vec<u8>, bool) {
    let json = || serde_json::from_slice::<Value>(&body).ok();
    let rewrite = |f: &dyn Fn(&mut Value)| -> Vec<u8> {
        match json() {
            Some(mut v) => {
                f(&mut v);
                serde_json::to_vec(&v).unwrap_or_default()
            }
            None => body.clone(),
        }
    };
    let out = match m {
        Mutation::Truncated => body[..body.len() / 2].to_vec(),
        Mutation::Html => {
            headers.retain(|(k, _)| k != "content-type");
            headers.push(("content-type".into(), "text/html; charset=utf-8".into()));
            b"<!DOCTYPE html><html><head><title>Sign in</title></head><body><h1>Please sign in</h1></body></html>".to_vec()
        }
        Mutation::Empty => Vec::new(),
        Mutation::WrongTypes => rewrite(&wrong_types),
        Mutation::MissingTopLevel => rewrite(&|v| {
            if let Value::Object(m) = v {
                m.clear();
            }
        }),
        Mutation::MissingRecordFields => rewrite(&empty_records),
        Mutation::HugeNumbers => rewrite(&huge_numbers),
        Mutation::HugeStrings => rewrite(&huge_strings),
        Mutation::Slow => body.clone(),
    };
    (status, headers, out, m == Mutation::Slow)
}

fn wrong_types(v: &mut Value) {
    match v {
        Value::String(_) => *v = Value::from(12345),
        Value::Number(n) => *v = Value::String(format!("n{n}")),
        Value::Bool(b) => *v = Value::String(if *b { "yes".into() } else { "no".into() }),
        Value::Array(a) => a.iter_mut().for_each(wrong_types),
        Value::Object(m) => m.values_mut().for_each(wrong_types),
        Value::Null => {}
    }
}

fn empty_records(v: &mut Value) {
    match v {
        Value::Array(a) => a.iter_mut().for_each(|x| match x {
            Value::Object(m) => m.clear(),
            other => empty_records(other),
        }),
        Value::Object(m) => m.values_mut().for_each(empty_records),
        _ => {}
    }
}

fn huge_numbers(v: &mut Value) {
    match v {
        Value::Number(n) => {
            // 2^64 (beyond u64), or below i64::MIN for negatives; serde_json
            // keeps them as f64, written as integers.
            let huge: Value = if n.as_f64().is_some_and(|f| f < 0.0) {
                serde_json::from_str("-18446744073709551616").unwrap_or(Value::Null)
            } else {
                serde_json::from_str("18446744073709551616").unwrap_or(Value::Null)
            };
            *v = huge;
        }
        Value::Array(a) => a.iter_mut().for_each(huge_numbers),
        Value::Object(m) => m.values_mut().for_each(huge_numbers),
        _ => {}
    }
}

fn huge_strings(v: &mut Value) {
    match v {
        Value::String(s) => *s = "x".repeat(100_000),
        Value::Array(a) => a.iter_mut().for_each(huge_strings),
        Value::Object(m) => m.values_mut().for_each(huge_strings),
        _ => {}
    }
}
