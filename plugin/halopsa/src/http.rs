//! A small synchronous client over the generated `wasi:http` 0.2.12 bindings,
//! behind the `Transport` trait so the rest of the connector can be tested
//! natively with scripted answers.

use crate::error::{Error, Stage};
use crate::messages as msg;
use crate::wasi::http::outgoing_handler;
use crate::wasi::http::types::{
    ErrorCode, Fields, IncomingBody, Method as WasiMethod, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use crate::wasi::io::streams::StreamError;

/// Largest body read into memory; the host caps bodies too.
const MAX_BODY: usize = 64 * 1024 * 1024;
const SECOND_NS: u64 = 1_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// An outgoing request. No `Debug`: its headers may hold a bearer token.
pub struct Request {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// Only for POST: a GET must not open an outgoing body at all.
    pub body: Option<Vec<u8>>,
    /// The endpoint's path, for error messages (`/api/Client`).
    pub endpoint: String,
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }
}

pub trait Transport {
    fn send(&mut self, req: &Request) -> Result<Response, Error>;
}

/// The request's header fields as `wasi:http` takes them.
///
/// A request with a body carries `content-length`: written through
/// `outgoing-body` without it, the body goes out chunked
/// (`Transfer-Encoding: chunked`), and a strict reverse proxy or web
/// application firewall in front of Halo answers that with 411 Length
/// Required. Every mainstream client (curl, PowerShell, the HaloAPI module)
/// sends the length of a body it already holds; so does this one. wasi:http
/// then checks that exactly that many bytes are written.
pub fn header_entries(req: &Request) -> Vec<(String, Vec<u8>)> {
    let mut entries: Vec<(String, Vec<u8>)> = req
        .headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("content-length"))
        .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
        .collect();
    if let Some(body) = &req.body {
        entries.push(("content-length".to_string(), body.len().to_string().into_bytes()));
    }
    entries
}

/// The real network, through `wasi:http/outgoing-handler`.
pub struct WasiHttp;

impl Transport for WasiHttp {
    fn send(&mut self, req: &Request) -> Result<Response, Error> {
        let parsed = url::Url::parse(&req.url).map_err(|_| Error::Internal(msg::request_not_built("bad URL")))?;
        let host = parsed.host_str().unwrap_or_default().to_string();
        let authority = match parsed.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        let scheme = match parsed.scheme() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => Scheme::Other(other.to_string()),
        };
        let mut path = parsed.path().to_string();
        if let Some(q) = parsed.query() {
            path.push('?');
            path.push_str(q);
        }
        let fields = Fields::from_list(&header_entries(req)).map_err(|_| Error::Internal(msg::request_not_built("headers")))?;
        let request = OutgoingRequest::new(fields);
        let method = match req.method {
            Method::Get => WasiMethod::Get,
            Method::Post => WasiMethod::Post,
        };
        let built = request.set_method(&method).is_ok()
            && request.set_scheme(Some(&scheme)).is_ok()
            && request.set_authority(Some(&authority)).is_ok()
            && request.set_path_with_query(Some(&path)).is_ok();
        if !built {
            return Err(Error::Internal(msg::request_not_built("method, scheme, authority or path")));
        }
        let options = RequestOptions::new();
        let _ = options.set_connect_timeout(Some(10 * SECOND_NS));
        let _ = options.set_first_byte_timeout(Some(30 * SECOND_NS));
        let _ = options.set_between_bytes_timeout(Some(30 * SECOND_NS));

        // Only a request with a body opens the outgoing body (see the module doc
        // of the toolchain notes: hyper resets GETs whose body was opened).
        let out_body = match &req.body {
            Some(_) => Some(request.body().map_err(|_| Error::Internal(msg::request_not_built("body")))?),
            None => None,
        };
        let future = outgoing_handler::handle(request, Some(options))
            .map_err(|e| map_error_code(&authority, &req.endpoint, &e))?;

        let mut write_failed = false;
        if let (Some(ob), Some(bytes)) = (out_body, &req.body) {
            match ob.write() {
                Ok(stream) => {
                    for chunk in bytes.chunks(4096) {
                        if stream.blocking_write_and_flush(chunk).is_err() {
                            write_failed = true;
                            break;
                        }
                    }
                    drop(stream);
                }
                Err(()) => write_failed = true,
            }
            if !write_failed && OutgoingBody::finish(ob, None).is_err() {
                write_failed = true;
            }
        }

        let response = loop {
            match future.get() {
                Some(Ok(Ok(r))) => break r,
                Some(Ok(Err(code))) => return Err(map_error_code(&authority, &req.endpoint, &code)),
                Some(Err(())) => return Err(Error::Internal(msg::request_not_built("response read twice"))),
                None => future.subscribe().block(),
            }
        };
        if write_failed {
            return Err(Error::Unreachable { stage: Stage::Connect, message: msg::unreachable_broken(&authority), host: authority.clone() });
        }

        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
            .collect();
        let incoming = response.consume().map_err(|_| Error::Internal(msg::request_not_built("response body")))?;
        let mut body = Vec::new();
        {
            let stream = incoming.stream().map_err(|_| Error::Internal(msg::request_not_built("response stream")))?;
            loop {
                match stream.blocking_read(64 * 1024) {
                    Ok(chunk) => {
                        body.extend_from_slice(&chunk);
                        if body.len() > MAX_BODY {
                            return Err(Error::protocol(&req.endpoint, msg::too_large(&req.endpoint)));
                        }
                    }
                    Err(StreamError::Closed) => break,
                    Err(StreamError::LastOperationFailed(e)) => {
                        let code = crate::wasi::http::types::http_error_code(&e)
                            .or_else(|| body_error_from_text(&e.to_debug_string()));
                        return Err(match code {
                            Some(code) => map_error_code(&authority, &req.endpoint, &code),
                            None => Error::Unreachable {
                                stage: Stage::Connect,
                                message: msg::unreachable_broken(&authority),
                                host: authority.clone(),
                            },
                        });
                    }
                }
            }
        }
        let _ = IncomingBody::finish(incoming);
        Ok(Response { status, headers, body })
    }
}

/// The cause of a failed body read when the host gives no error code.
///
/// wasmtime 48 reports errors inside a response body as a plain io error
/// (`http-error-code` returns `none`); only its debug text names the cause.
/// The two a host imposes mid-body are recognised: the body-size cap and the
/// between-bytes timeout. Anything else stays a broken connection.
pub fn body_error_from_text(text: &str) -> Option<ErrorCode> {
    let t = text.to_ascii_lowercase();
    if t.contains("body size") {
        Some(ErrorCode::HttpResponseBodySize(None))
    } else if t.contains("timeout") || t.contains("timed out") {
        Some(ErrorCode::ConnectionReadTimeout)
    } else {
        None
    }
}

/// A `wasi:http` error code as the connector's error.
pub fn map_error_code(host: &str, endpoint: &str, code: &ErrorCode) -> Error {
    use ErrorCode as E;
    let un = |stage: Stage, message: String| Error::Unreachable { host: host.to_string(), stage, message };
    match code {
        E::DnsTimeout | E::DnsError(_) | E::DestinationNotFound => un(Stage::Dns, msg::unreachable_dns(host)),
        E::HttpRequestDenied => un(Stage::Connect, msg::sandbox_denied(host)),
        E::DestinationIpProhibited => un(Stage::Connect, msg::ip_prohibited(host)),
        E::DestinationUnavailable
        | E::DestinationIpUnroutable
        | E::ConnectionRefused
        | E::ConnectionLimitReached => un(Stage::Connect, msg::unreachable_connect(host)),
        E::ConnectionTerminated | E::HttpResponseIncomplete | E::HttpProtocolError | E::HttpUpgradeFailed => {
            un(Stage::Connect, msg::unreachable_broken(host))
        }
        E::ConnectionTimeout | E::ConnectionReadTimeout | E::ConnectionWriteTimeout | E::HttpResponseTimeout => {
            un(Stage::Timeout, msg::unreachable_timeout(host))
        }
        E::TlsCertificateError => un(Stage::Tls, msg::unreachable_tls(host)),
        E::TlsProtocolError | E::TlsAlertReceived(_) => un(Stage::Tls, msg::unreachable_tls_protocol(host)),
        E::HttpResponseBodySize(_)
        | E::HttpResponseHeaderSectionSize(_)
        | E::HttpResponseHeaderSize(_)
        | E::HttpResponseTrailerSectionSize(_)
        | E::HttpResponseTrailerSize(_) => Error::protocol(endpoint, msg::too_large(endpoint)),
        E::InternalError(Some(detail)) => un(Stage::Connect, msg::network_other(host, detail)),
        other => un(Stage::Connect, msg::network_other(host, &short_code(other))),
    }
}

/// The error code's WIT name, without pulling in `Debug` formatting.
fn short_code(code: &ErrorCode) -> String {
    use ErrorCode as E;
    match code {
        E::HttpRequestLengthRequired => "http-request-length-required",
        E::HttpRequestBodySize(_) => "http-request-body-size",
        E::HttpRequestMethodInvalid => "http-request-method-invalid",
        E::HttpRequestUriInvalid => "http-request-uri-invalid",
        E::HttpRequestUriTooLong => "http-request-uri-too-long",
        E::HttpRequestHeaderSectionSize(_) => "http-request-header-section-size",
        E::HttpRequestHeaderSize(_) => "http-request-header-size",
        E::HttpRequestTrailerSectionSize(_) => "http-request-trailer-section-size",
        E::HttpRequestTrailerSize(_) => "http-request-trailer-size",
        E::HttpResponseTransferCoding(_) => "http-response-transfer-coding",
        E::HttpResponseContentCoding(_) => "http-response-content-coding",
        E::LoopDetected => "loop-detected",
        E::ConfigurationError => "configuration-error",
        _ => "internal-error",
    }
    .to_string()
}

#[cfg(test)]
pub mod fake {
    //! Scripted answers for native tests.
    use super::*;
    use std::collections::VecDeque;

    pub struct Fake {
        pub answers: VecDeque<Result<Response, Error>>,
        /// (method, url, authorization header, body) of every request sent.
        pub sent: Vec<(Method, String, Option<String>, Option<String>)>,
    }

    impl Fake {
        pub fn new() -> Fake {
            Fake { answers: VecDeque::new(), sent: Vec::new() }
        }
        pub fn json(&mut self, status: u16, body: &str) -> &mut Fake {
            self.answers.push_back(Ok(Response {
                status,
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.as_bytes().to_vec(),
            }));
            self
        }
        pub fn token(&mut self) -> &mut Fake {
            self.json(200, r#"{"access_token":"tok-1","token_type":"Bearer","expires_in":3600}"#)
        }
        pub fn urls(&self) -> Vec<String> {
            self.sent.iter().map(|s| s.1.clone()).collect()
        }
    }

    impl Transport for Fake {
        fn send(&mut self, req: &Request) -> Result<Response, Error> {
            let auth = req.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization")).map(|(_, v)| v.clone());
            let body = req.body.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
            self.sent.push((req.method, req.url.clone(), auth, body));
            self.answers.pop_front().unwrap_or_else(|| Err(Error::Internal(format!("no scripted answer for {}", req.url))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wasi::http::types::DnsErrorPayload;

    #[test]
    fn a_body_goes_out_with_its_length() {
        let req = |body: Option<&[u8]>, headers: &[(&str, &str)]| Request {
            method: if body.is_some() { Method::Post } else { Method::Get },
            url: "https://acme.halopsa.com/auth/token".into(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: body.map(<[u8]>::to_vec),
            endpoint: "/auth/token".into(),
        };
        let length = |e: &[(String, Vec<u8>)]| -> Vec<String> {
            e.iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                .collect()
        };
        let post = header_entries(&req(Some(b"grant_type=client_credentials"), &[("Accept", "application/json")]));
        assert_eq!(length(&post), vec!["29"]);
        assert!(post.iter().any(|(k, _)| k == "Accept"));
        // An empty body still says so; a GET carries no length at all.
        assert_eq!(length(&header_entries(&req(Some(b""), &[]))), vec!["0"]);
        assert!(length(&header_entries(&req(None, &[("Accept", "application/json")]))).is_empty());
        // A length set by a caller never contradicts the body.
        assert_eq!(length(&header_entries(&req(Some(b"abc"), &[("Content-Length", "99")]))), vec!["3"]);
    }

    #[test]
    fn error_codes_map_to_stages() {
        let stage = |c: ErrorCode| match map_error_code("acme.halopsa.com", "/api/Client", &c) {
            Error::Unreachable { stage, host, .. } => {
                assert_eq!(host, "acme.halopsa.com");
                Some(stage)
            }
            _ => None,
        };
        assert_eq!(stage(ErrorCode::DnsError(DnsErrorPayload { rcode: None, info_code: None })), Some(Stage::Dns));
        assert_eq!(stage(ErrorCode::ConnectionRefused), Some(Stage::Connect));
        assert_eq!(stage(ErrorCode::TlsCertificateError), Some(Stage::Tls));
        assert_eq!(stage(ErrorCode::ConnectionTimeout), Some(Stage::Timeout));
        assert_eq!(stage(ErrorCode::HttpResponseTimeout), Some(Stage::Timeout));
        assert_eq!(stage(ErrorCode::HttpRequestDenied), Some(Stage::Connect));
        assert_eq!(stage(ErrorCode::HttpResponseBodySize(None)), None);
        // Body errors that arrive only as text (wasmtime 48's stream errors).
        assert!(matches!(
            body_error_from_text("HTTP response body size exceeds limit: 1048576 bytes"),
            Some(ErrorCode::HttpResponseBodySize(None))
        ));
        assert!(matches!(body_error_from_text("connection read timeout"), Some(ErrorCode::ConnectionReadTimeout)));
        assert!(body_error_from_text("connection reset by peer").is_none());
        match map_error_code("h.example", "/api/Client", &ErrorCode::HttpRequestDenied) {
            Error::Unreachable { message, .. } => assert!(message.contains("sandbox refused")),
            other => panic!("{other:?}"),
        }
    }
}
