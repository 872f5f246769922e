//! The filled-in form → `config::parse`, plus `normalise_url` and
//! `parse_flag` on every value.
//!
//! Input: NUL-separated id/value pairs. An id segment of one byte below 0xF0
//! names one of the 7 known fields; any other segment is taken as the id
//! itself (junk ids, or a known id spelled out).
#![no_main]

use halopsa_connector::config::{self, NormUrl};
use halopsa_connector::error::Error;
use libfuzzer_sys::fuzz_target;

mod common;

const IDS: [&str; 7] = [
    config::RESOURCE,
    config::AUTH,
    config::CLIENT_ID,
    config::CLIENT_SECRET,
    config::TENANT,
    config::SCOPE,
    config::INCLUDE_INACTIVE,
];

fn check_norm(field: &str, n: &NormUrl) {
    assert!(n.url.starts_with("https://") || n.url.starts_with("http://"), "{n:?}");
    assert!(!n.host.is_empty(), "{n:?}");
    assert!(!n.path.ends_with('/'), "{n:?}");
    assert!(n.url.ends_with(&n.path), "{n:?}");
    assert!(!n.url.contains(['?', '#']), "{n:?}");
    let parsed = url::Url::parse(&n.url).unwrap_or_else(|e| panic!("normalised {:?} does not parse: {e}", n.url));
    assert_eq!(parsed.host_str(), Some(n.host.as_str()));
    // Normalising is idempotent: the stored URL normalises to itself.
    match config::normalise_url(field, "Label", &n.url) {
        Ok(again) => assert_eq!(&again, n, "normalising {:?} again changed it", n.url),
        Err(e) => panic!("normalised {:?} is refused: {e:?}", n.url),
    }
}

fn entries(data: &[u8]) -> Vec<(String, String)> {
    let segments: Vec<&[u8]> = data.split(|b| *b == 0).collect();
    segments
        .chunks(2)
        .take(32)
        .map(|pair| {
            let id = match pair[0] {
                [b] if *b < 0xF0 => IDS[usize::from(*b) % IDS.len()].to_string(),
                other => String::from_utf8_lossy(other).into_owned(),
            };
            let value = pair.get(1).map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default();
            (id, value)
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let form = entries(data);

    for (id, value) in &form {
        if let Ok(n) = config::normalise_url(id, "Label", value) {
            check_norm(id, &n);
        }
        if let Some(b) = config::parse_flag(value) {
            let v = value.trim().to_ascii_lowercase();
            assert_eq!(b, matches!(v.as_str(), "true" | "yes" | "1" | "on"), "flag {value:?}");
        }
    }

    let result = config::parse(&form);
    match &result {
        Ok(cfg) => {
            check_norm(config::RESOURCE, &cfg.resource);
            check_norm(config::AUTH, &cfg.auth);
            assert!(cfg.resource.path.to_ascii_lowercase().ends_with("/api"), "{:?}", cfg.resource);
            assert_eq!(cfg.endpoint("/Client"), format!("{}/Client", cfg.resource.path));
            assert!(cfg.api_url("/Client?x").starts_with(&cfg.resource.url));
            assert!(cfg.token_url().starts_with(&cfg.auth.url));
            let last = |id: &str| form.iter().rev().find(|(k, _)| k == id).map(|(_, v)| v.trim().to_string());
            assert_eq!(Some(&cfg.client_id), last(config::CLIENT_ID).as_ref());
            assert_eq!(Some(cfg.client_secret.expose().to_string()), last(config::CLIENT_SECRET));
            assert!(!cfg.client_id.is_empty() && !cfg.client_secret.expose().is_empty() && !cfg.scope.is_empty());
            if let Some(t) = &cfg.tenant {
                assert!(!t.is_empty() && t.trim() == t);
            }
        }
        Err(e) => {
            common::assert_error_sane(e, None);
            match e {
                Error::InvalidConfig { field, .. } => {
                    assert!(IDS.contains(&field.as_str()) || form.iter().any(|(k, _)| k == field), "field {field:?}")
                }
                other => panic!("config gave {other:?}"),
            }
        }
    }

    // Nothing the form check says depends on the secret's value: the same form
    // with another (still non-blank) secret gives the same answer.
    let swapped: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| {
            let v = if k == config::CLIENT_SECRET && !v.trim().is_empty() { "SENTINEL".to_string() } else { v.clone() };
            (k.clone(), v)
        })
        .collect();
    match (&result, &config::parse(&swapped)) {
        (Ok(a), Ok(b)) => {
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "Debug of a Config shows the secret");
        }
        (Err(a), Err(b)) => assert_eq!(a, b, "a config error depends on the secret's value"),
        (a, b) => panic!("the secret's value decided the outcome: {a:?} vs {b:?}"),
    }
});
