//! Helpers shared by the fuzz targets (included with `mod common;`).
#![allow(dead_code)]

use halopsa_connector::config::{self, Config};
use halopsa_connector::error::{Describe, Error};

/// Client secrets the targets configure; none overlaps the connector's own
/// message text or the `<redacted>` marker, so finding one in a message is a leak.
pub const SECRETS: [&str; 3] = ["Zq9-SECRET-x7Lw", "p&ss=w0rd;Zq9+Kx", "sëcrét-ünï-çødé"];

/// The standard form with the given secret and tenant.
pub fn config(secret: &str, tenant: Option<&str>) -> Config {
    let mut form = vec![
        (config::RESOURCE.to_string(), "https://acme.halopsa.com/api".to_string()),
        (config::AUTH.to_string(), "https://acme.halopsa.com/auth".to_string()),
        (config::CLIENT_ID.to_string(), "fuzz-client".to_string()),
        (config::CLIENT_SECRET.to_string(), secret.to_string()),
    ];
    if let Some(t) = tenant {
        form.push((config::TENANT.to_string(), t.to_string()));
    }
    config::parse(&form).expect("the standard form parses")
}

/// An id as `parse_id` produces it: a canonical (round-tripping) integer.
pub fn assert_canonical_id(id: &str) {
    let n: i64 = id.parse().unwrap_or_else(|_| panic!("id {id:?} is not an integer"));
    assert_eq!(n.to_string(), id, "id {id:?} is not canonical");
}

/// A tenant id as `normalise_guid` produces it: 36 chars, lower-case hex, 8-4-4-4-12.
pub fn assert_guid(t: &str) {
    assert_eq!(t.len(), 36, "guid {t:?} is not 36 bytes");
    for (i, b) in t.bytes().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            assert_eq!(b, b'-', "guid {t:?}");
        } else {
            assert!(b.is_ascii_digit() || (b'a'..=b'f').contains(&b), "guid {t:?} is not lower-case hex");
        }
    }
}

/// Every error carries a message a person can act on; texts never contain `secret`.
pub fn assert_error_sane(e: &Error, secret: Option<&str>) {
    let message = e.describe();
    assert!(!message.trim().is_empty(), "empty message in {e:?}");
    let texts: Vec<&str> = match e {
        Error::InvalidConfig { field, message } => vec![field, message],
        Error::Unreachable { host, message, .. } => vec![host, message],
        Error::Unauthorized(m) | Error::NotFound(m) | Error::NotSupported(m) | Error::Internal(m) => vec![m],
        Error::Forbidden { permission, message } => vec![permission, message],
        Error::RateLimited { message, .. } => vec![message],
        Error::Upstream { endpoint, message, .. } | Error::Protocol { endpoint, message } => vec![endpoint, message],
    };
    if let Some(s) = secret {
        for t in texts.iter().copied().chain([message.as_str()]) {
            assert!(!t.contains(s), "the client secret leaked into {e:?}");
        }
    }
}

pub fn assert_protocol(e: &Error, endpoint: &str) {
    match e {
        Error::Protocol { endpoint: ep, .. } => assert_eq!(ep, endpoint),
        other => panic!("expected a protocol error on {endpoint}, got {other:?}"),
    }
    assert_error_sane(e, None);
}
