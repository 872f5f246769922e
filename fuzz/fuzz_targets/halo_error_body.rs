//! Error bodies: Halo's message extraction, HTML detection, the summary used
//! when no message can be read, and the status → error mapping.
#![no_main]

use halopsa_connector::{answer, api};
use halopsa_connector::error::Error;
use libfuzzer_sys::fuzz_target;

mod common;
use common::assert_error_sane;

const ENDPOINT: &str = "/api/Client";
const CONTENT_TYPES: [Option<&str>; 5] =
    [None, Some("application/json"), Some("TEXT/HTML; charset=utf-8"), Some("text/plain"), Some("application/problem+json")];
const STATUSES: [u16; 9] = [400, 401, 403, 404, 409, 422, 429, 500, 503];

fuzz_target!(|data: &[u8]| {
    let sniffed = data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<');
    let extracted = answer::extract_halo_message(data);
    if let Some(m) = &extracted {
        assert!(!m.is_empty());
        assert!(!m.starts_with(char::is_whitespace), "untrimmed {m:?}");
        assert!(m.chars().count() <= 301, "not clipped: {} chars", m.chars().count());
        assert!(serde_json::from_slice::<serde_json::Value>(data).is_ok(), "a message from invalid JSON");
    }
    // Retry-After from the body's first line, as a header value would be.
    let header = std::str::from_utf8(data).ok().and_then(|s| s.lines().next());
    // Digits are seconds, saturating at u32::MAX (a wait too long to make
    // is still one); anything else that is read is an HTTP-date.
    if let Some(ra) = answer::retry_after(header) {
        let h = header.map(str::trim).unwrap_or_default();
        if !h.is_empty() && h.bytes().all(|b| b.is_ascii_digit()) {
            assert_eq!(h.parse::<u32>().unwrap_or(u32::MAX), ra);
        } else {
            assert!(httpdate::parse_http_date(h).is_ok(), "{h:?} read as {ra}");
        }
    }

    for ct in CONTENT_TYPES {
        let html = answer::is_html(ct, data);
        assert_eq!(html, sniffed || ct.is_some_and(|c| c.to_ascii_lowercase().contains("text/html")));

        let summary = answer::summary(500, ct, data);
        assert!(!summary.trim().is_empty());
        assert!(summary.chars().count() <= 201, "summary not clipped");
        assert!(!summary.contains(char::is_control), "control character in summary {summary:?}");

        match answer::check_json_body(ENDPOINT, ct, data) {
            Ok(()) => assert!(!html && !data.iter().all(u8::is_ascii_whitespace)),
            Err(e) => {
                assert!(html || data.iter().all(u8::is_ascii_whitespace));
                common::assert_protocol(&e, ENDPOINT);
            }
        }

        for status in STATUSES {
            let e = api::status_error(status, ct, header, data, ENDPOINT, "read:customers");
            assert_error_sane(&e, None);
            match (&e, status) {
                (Error::Unauthorized(_), 401) | (Error::Forbidden { .. }, 403) | (Error::RateLimited { .. }, 429) => {}
                (Error::Upstream { status: s, endpoint, message }, _) => {
                    assert_eq!(*s, status);
                    assert_eq!(endpoint, ENDPOINT);
                    if !html {
                        if let Some(m) = &extracted {
                            assert_eq!(message, m);
                        }
                    }
                }
                (other, s) => panic!("HTTP {s} gave {other:?}"),
            }
        }
    }
});
