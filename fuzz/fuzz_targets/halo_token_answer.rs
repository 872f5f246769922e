//! The token endpoint's answer → `auth::interpret`.
//!
//! Input: byte 0 picks the HTTP status (a table of the interesting ones, or
//! any 100..599 with byte 1), byte 1 also picks the content type, the secret
//! and whether a tenant is configured; the rest is the body.
#![no_main]

use halopsa_connector::auth;
use halopsa_connector::error::Error;
use libfuzzer_sys::fuzz_target;

mod common;
use common::{assert_error_sane, SECRETS};

const STATUSES: [u16; 14] = [200, 201, 204, 400, 401, 403, 404, 405, 429, 500, 502, 503, 302, 410];
const CONTENT_TYPES: [Option<&str>; 4] =
    [Some("application/json; charset=utf-8"), None, Some("text/html"), Some("text/plain")];

fuzz_target!(|data: &[u8]| {
    let [b0, b1, body @ ..] = data else { return };
    let status = match STATUSES.get(usize::from(*b0)) {
        Some(s) => *s,
        None => 100 + u16::from_be_bytes([*b0, *b1]) % 500,
    };
    let content_type = CONTENT_TYPES[usize::from(b1 & 3)];
    let tenant = (b1 & 4 != 0).then_some("acme-tenant");
    let secret = SECRETS[usize::from(b1 >> 3) % SECRETS.len()];
    let cfg = common::config(secret, tenant);

    let html = halopsa_connector::answer::is_html(content_type, body);
    match auth::interpret(&cfg, status, content_type, body) {
        Ok((token, lifetime, scopes)) => {
            assert!((200..300).contains(&status), "a token from HTTP {status}");
            assert!(!html);
            assert!(!token.is_empty());
            assert!(lifetime <= 1_000_000_000, "lifetime {lifetime}");
            if let Some(scopes) = scopes {
                assert!(scopes.len() <= 100);
                for s in &scopes {
                    assert!(!s.is_empty() && !s.contains(char::is_whitespace), "scope {s:?}");
                    assert!(s.chars().count() <= 61, "scope not clipped: {s:?}");
                }
            }
        }
        Err(e) => {
            assert_error_sane(&e, Some(secret));
            // A proxy's refusal of the request as sent (411 and the like) is
            // named as such, HTML page or not; other HTML and 404s are a
            // wrong URL.
            if halopsa_connector::answer::refused_as_sent(status) {
                assert!(matches!(e, Error::Upstream { .. }), "{e:?}");
            } else if status == 404 || html {
                assert!(matches!(e, Error::Protocol { .. }), "{e:?}");
            }
            if let Error::Upstream { status: s, .. } = e {
                assert_eq!(s, status);
                assert!(!(200..300).contains(&status));
            }
            if (200..300).contains(&status) {
                assert!(matches!(e, Error::Protocol { .. }), "2xx gave {e:?}");
            }
        }
    }
});
