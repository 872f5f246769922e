//! Reading Halo's answers: HTML where JSON belongs, Halo's own error
//! messages, `Retry-After`, and the statuses a proxy in front of Halo sends.
//!
//! A leaf: the token exchange (`auth`), authinfo (`discover`) and the
//! authenticated calls (`api`) all read answers with it.

use serde_json::Value;

use crate::error::Error;
use crate::messages as msg;

pub use psa_connector_sdk::http::{is_html, retry_after_at};

/// Statuses that refuse a request for its form, not its content: they come
/// from a reverse proxy, load balancer or WAF in front of Halo (Halo's own
/// API and login service answer with 400, 401, 403, 404 or 429). 411 Length
/// Required, 413 Content Too Large, 414 URI Too Long, 415 Unsupported Media
/// Type, 417 Expectation Failed, 431 Request Header Fields Too Large, and 406
/// Not Acceptable (Halo always answers JSON, which the connector accepts).
/// Not 405: a POST to a page that is not Halo's token endpoint (IIS, nginx
/// serving a web page) answers 405, so on the token endpoint it means a wrong
/// URL (`auth::interpret`).
pub const REFUSED_AS_SENT: [u16; 7] = [406, 411, 413, 414, 415, 417, 431];

pub fn refused_as_sent(status: u16) -> bool {
    REFUSED_AS_SENT.contains(&status)
}

/// A 2xx body must be JSON: not empty, not HTML.
pub fn check_json_body(endpoint: &str, content_type: Option<&str>, body: &[u8]) -> Result<(), Error> {
    if is_html(content_type, body) {
        return Err(Error::protocol(endpoint, msg::html_not_json(endpoint)));
    }
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::protocol(endpoint, msg::empty_body(endpoint)));
    }
    Ok(())
}

/// Parse a checked body as JSON.
pub fn parse_value(endpoint: &str, body: &[u8]) -> Result<Value, Error> {
    serde_json::from_slice(body).map_err(|_| Error::protocol(endpoint, msg::not_json(endpoint)))
}

/// `Retry-After` in its integer form.
pub fn retry_after(header: Option<&str>) -> Option<u32> {
    retry_after_at(header?, std::time::SystemTime::now())
}

/// A short description of a body Halo's own message could not be read from.
pub fn summary(status: u16, content_type: Option<&str>, body: &[u8]) -> String {
    if is_html(content_type, body) {
        return msg::body_summary_html(status);
    }
    let text = String::from_utf8_lossy(body);
    // Control characters become spaces before trimming: a body of only
    // control characters is as empty as a blank one.
    let one_line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let one_line = one_line.trim();
    if one_line.is_empty() {
        return msg::body_summary_empty(status);
    }
    msg::clip(one_line, 200)
}

/// Halo's own error message from the JSON shapes it uses.
pub fn extract_halo_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let found = message_of(&v)?;
    let found = found.trim();
    (!found.is_empty()).then(|| msg::clip(found, 300))
}

fn message_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(message_of).collect();
            (!parts.is_empty()).then(|| parts.join("; "))
        }
        Value::Object(map) => {
            let text = |k: &str| map.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
            if let Some(m) = text("Message").or_else(|| text("message")).or_else(|| text("errorMessage")) {
                return Some(m.to_string());
            }
            if let Some(d) = text("error_description") {
                return Some(match text("error") {
                    Some(code) => format!("{d} ({code})"),
                    None => d.to_string(),
                });
            }
            if let Some(e) = text("error").or_else(|| text("title")).or_else(|| text("detail")) {
                return Some(e.to_string());
            }
            // `{"errors": {...}}` (ASP.NET) or field-path keys: `{"[0].client_id": "..."}`.
            if let Some(inner @ (Value::Object(_) | Value::Array(_))) = map.get("errors") {
                return message_of(inner);
            }
            let parts: Vec<String> = map
                .iter()
                .filter_map(|(k, v)| {
                    let m = match v {
                        Value::String(s) => s.trim().to_string(),
                        Value::Array(a) => a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "),
                        _ => return None,
                    };
                    (!m.is_empty()).then(|| format!("{k}: {m}"))
                })
                .collect();
            (!parts.is_empty()).then(|| parts.join("; "))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(body: &str) -> Option<String> {
        extract_halo_message(body.as_bytes())
    }

    #[test]
    fn halo_error_shapes() {
        assert_eq!(m(r#"{"Message":"An error has occurred."}"#).as_deref(), Some("An error has occurred."));
        assert_eq!(m(r#"{"message":"nope"}"#).as_deref(), Some("nope"));
        assert_eq!(m(r#"{"ClassName":"System.Exception","Message":"Boom"}"#).as_deref(), Some("Boom"));
        assert_eq!(m(r#"{"resultCode":1,"errorMessage":"Bad client"}"#).as_deref(), Some("Bad client"));
        assert_eq!(
            m(r#"{"error":"invalid_request","error_description":"Missing scope"}"#).as_deref(),
            Some("Missing scope (invalid_request)")
        );
        assert_eq!(m(r#"{"error":"invalid_client"}"#).as_deref(), Some("invalid_client"));
        assert_eq!(
            m(r#"{"[0].client_id": "Client not found"}"#).as_deref(),
            Some("[0].client_id: Client not found")
        );
        assert_eq!(m(r#"{"errors":{"summary":["Required"]}}"#).as_deref(), Some("summary: Required"));
        assert_eq!(m(r#""plain""#).as_deref(), Some("plain"));
        assert_eq!(m(r#"{"Message":"  "}"#), None);
        assert_eq!(m("<html>"), None);
        assert_eq!(m("{}"), None);
    }

    /// Found by fuzzing (fuzz target `halo_error_body`, minimised input `[0x01]`):
    /// a body of control characters gave a blank message.
    #[test]
    fn control_character_body_is_summarised_as_empty() {
        assert_eq!(summary(500, None, b"\x01"), msg::body_summary_empty(500));
        assert_eq!(summary(502, None, b"   \r\n\x01\0\0\0\0\0\0\x06"), msg::body_summary_empty(502));
        assert_eq!(summary(500, None, b"\x01oops\tthere\x7f"), "oops there");
    }

    #[test]
    fn html_detection() {
        assert!(is_html(None, b"  \n<!DOCTYPE html>"));
        assert!(is_html(Some("text/html; charset=utf-8"), b"{}"));
        assert!(!is_html(Some("application/json"), b"{\"a\":1}"));
        assert!(!is_html(None, b""));
        match check_json_body("/api/Client", None, b"<html></html>") {
            Err(Error::Protocol { endpoint, message }) => {
                assert_eq!(endpoint, "/api/Client");
                assert!(message.contains("HTML page where JSON belongs"));
            }
            other => panic!("{other:?}"),
        }
    }

}
