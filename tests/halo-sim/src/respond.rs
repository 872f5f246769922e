//! Small helpers to build responses and read form / query strings.

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

/// How a request declared its body: the `Content-Length` header as sent, and whether it came
/// chunked.
#[derive(Clone, Debug, Default)]
pub struct Framing {
    pub content_length: Option<String>,
    pub chunked: bool,
}

impl Framing {
    pub fn of(headers: &HeaderMap) -> Framing {
        let content_length = headers
            .get(header::CONTENT_LENGTH)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let chunked = headers
            .get_all(header::TRANSFER_ENCODING)
            .iter()
            .any(|v| String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase().contains("chunked"));
        Framing { content_length, chunked }
    }

    /// What a strict proxy refuses with 411: a body without a declared length (chunked), or a
    /// POST, PUT or PATCH without `Content-Length`.
    pub fn length_missing(&self, method: &str) -> bool {
        self.chunked || (self.content_length.is_none() && matches!(method, "POST" | "PUT" | "PATCH"))
    }
}

/// nginx's answer to a request it wants a length for.
pub const LENGTH_REQUIRED_HTML: &str = "<html>\r\n<head><title>411 Length Required</title></head>\r\n<body>\r\n<center><h1>411 Length Required</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

pub fn json(status: u16, body: serde_json::Value) -> Response {
    let mut r = (code(status), body.to_string()).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    r
}

pub fn html(status: u16, body: &str) -> Response {
    let mut r = (code(status), body.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    r
}

pub fn text(status: u16, body: &str) -> Response {
    let mut r = (code(status), body.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

pub fn empty(status: u16) -> Response {
    code(status).into_response()
}

fn code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// `application/x-www-form-urlencoded` pairs; keys lower-cased (ASP.NET binds them
/// case-insensitively); the first occurrence of a key wins.
pub fn form(raw: &[u8]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(raw) {
        out.entry(k.to_lowercase()).or_insert_with(|| v.into_owned());
    }
    out
}

pub const NOT_FOUND_HTML: &str = "<!DOCTYPE html>\n<html><head><title>404 - File or directory not found.</title></head>\n<body><h2>404 - File or directory not found.</h2>\n<p>The resource you are looking for might have been removed, had its name changed, or is temporarily unavailable.</p></body></html>\n";

pub const LOGIN_HTML: &str = "<!DOCTYPE html>\n<html><head><title>Halo - Login</title><meta charset=\"utf-8\"></head>\n<body><div id=\"root\"><form method=\"post\" action=\"/auth/Account/Login\"><input name=\"username\"><input name=\"password\" type=\"password\"><button>Log in</button></form></div></body></html>\n";

pub const BAD_GATEWAY_HTML: &str = "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n<center><h1>502 Bad Gateway</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n";

pub const RATE_LIMIT_TEXT: &str = "Rate Limit Reached - 300 Requests per rolling 5 minute window";

pub const UNAVAILABLE_HTML: &str = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\"\"http://www.w3.org/TR/html4/strict.dtd\">\n<HTML><HEAD><TITLE>Service Unavailable</TITLE>\n<META HTTP-EQUIV=\"Content-Type\" Content=\"text/html; charset=us-ascii\"></HEAD>\n<BODY><h2>Service Unavailable</h2>\n<hr><p>HTTP Error 503. The service is unavailable.</p>\n</BODY></HTML>\n";

pub const GATEWAY_TIMEOUT_HTML: &str = "<html>\n<head><title>504 Gateway Time-out</title></head>\n<body>\n<center><h1>504 Gateway Time-out</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n";

/// A 429 with a text body; `Retry-After` only when asked for.
pub fn rate_limited(body: &str, retry_after: Option<u32>) -> Response {
    let mut r = text(429, body);
    if let Some(n) = retry_after {
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(n));
    }
    r
}

/// A 200 JSON response whose chunked body breaks off: the head and a first chunk are sent, then
/// the body stream fails, so the server aborts the connection mid-body.
pub fn reset() -> Response {
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(b"{\"record_count\":")),
        Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "halo-sim: injected connection reset")),
    ];
    let body = axum::body::Body::from_stream(futures_util::stream::iter(chunks));
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    r
}
