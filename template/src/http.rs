//! A minimal synchronous HTTP client over `wasi:http/outgoing-handler`, the
//! connector's only way out of the sandbox: `get`, and `post_json` for a
//! connector that writes to the PSA. Copy it as is.

use crate::types::{ConnectorError, NetworkStage, ProtocolError, UnreachableError};
use crate::wasi::http::outgoing_handler;
use crate::wasi::http::types::{
    http_error_code, ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use crate::wasi::io::streams::StreamError;

/// Largest body the connector reads into memory (the host caps bodies too).
const MAX_BODY: usize = 8 << 20;
const SECOND_NS: u64 = 1_000_000_000;

pub struct Response {
    pub status: u16,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

/// GET `url` (an absolute `http(s)://` URL) with `Authorization: Bearer <token>`.
/// Network failures come back as `unreachable`, never as a panic.
pub fn get(url: &str, token: &str) -> Result<Response, ConnectorError> {
    send(url, token, None)
}

/// POST the JSON `body` to `url`, like `get` otherwise. The template's
/// connector only reads; keep this for a connector that writes.
#[allow(dead_code)]
pub fn post_json(url: &str, token: &str, body: &[u8]) -> Result<Response, ConnectorError> {
    send(url, token, Some(body))
}

fn send(url: &str, token: &str, body: Option<&[u8]>) -> Result<Response, ConnectorError> {
    let internal = |what: &str| ConnectorError::Internal(format!("The connector could not build its request ({what}). This is a bug in the connector; please report it."));
    let (scheme, rest) = url.split_once("://").ok_or_else(|| internal("URL without scheme"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let endpoint = path.split('?').next().unwrap_or(path);
    // Header values must not contain line breaks; `open` rejects such keys, and
    // the message here never repeats the key.
    let mut entries = vec![
        ("authorization".to_string(), format!("Bearer {token}").into_bytes()),
        ("accept".to_string(), b"application/json".to_vec()),
    ];
    // GOTCHA: a body goes out with its length. Without `content-length`
    // wasi:http sends it chunked, and strict proxies and firewalls in front
    // of a PSA answer 411 Length Required. wasi:http then checks that exactly
    // that many bytes are written.
    if let Some(body) = body {
        entries.push(("content-type".to_string(), b"application/json".to_vec()));
        entries.push(("content-length".to_string(), body.len().to_string().into_bytes()));
    }
    let headers = Fields::from_list(&entries)
        .map_err(|_| internal("headers; copy the API key again, without spaces or line breaks"))?;
    let request = OutgoingRequest::new(headers); // the method defaults to GET
    if body.is_some() && request.set_method(&Method::Post).is_err() {
        return Err(internal("method"));
    }
    let scheme = if scheme == "http" { Scheme::Http } else { Scheme::Https };
    if request.set_scheme(Some(&scheme)).is_err()
        || request.set_authority(Some(authority)).is_err()
        || request.set_path_with_query(Some(path)).is_err()
    {
        return Err(internal("scheme, host or path"));
    }
    // GOTCHA: do NOT call `request.body()` for a GET. Opening an outgoing body
    // makes the request carry one, and servers (hyper among them) reset a GET
    // with a body. Only POST/PUT/PATCH open, write and `finish` a body.
    let options = RequestOptions::new();
    let _ = options.set_connect_timeout(Some(10 * SECOND_NS));
    let _ = options.set_first_byte_timeout(Some(30 * SECOND_NS));
    let _ = options.set_between_bytes_timeout(Some(30 * SECOND_NS));

    let out_body = match body {
        Some(_) => Some(request.body().map_err(|_| internal("body"))?),
        None => None,
    };
    let future = outgoing_handler::handle(request, Some(options)).map_err(|e| network_error(authority, endpoint, &e))?;
    if let (Some(out), Some(bytes)) = (out_body, body) {
        // A write the host refuses shows up in the response below.
        if let Ok(stream) = out.write() {
            for chunk in bytes.chunks(4096) {
                if stream.blocking_write_and_flush(chunk).is_err() {
                    break;
                }
            }
        } // the stream must be dropped before its body is finished
        let _ = OutgoingBody::finish(out, None);
    }
    let response = loop {
        match future.get() {
            Some(Ok(Ok(r))) => break r,
            Some(Ok(Err(code))) => return Err(network_error(authority, endpoint, &code)),
            Some(Err(())) => return Err(internal("response read twice")),
            None => future.subscribe().block(),
        }
    };
    let status = response.status();
    let retry_after = response.headers().get("retry-after").first().map(|v| String::from_utf8_lossy(v).into_owned());
    let incoming = response.consume().map_err(|_| internal("response body"))?;
    let mut body = Vec::new();
    {
        let stream = incoming.stream().map_err(|_| internal("response stream"))?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => body.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    let code = http_error_code(&e).unwrap_or(ErrorCode::ConnectionTerminated);
                    return Err(network_error(authority, endpoint, &code));
                }
            }
            if body.len() > MAX_BODY {
                return Err(too_large(endpoint));
            }
        }
    } // the stream must be dropped before its body is finished
    let _ = IncomingBody::finish(incoming);
    Ok(Response { status, retry_after, body })
}

fn too_large(endpoint: &str) -> ConnectorError {
    ConnectorError::Protocol(ProtocolError {
        endpoint: endpoint.to_string(),
        message: format!("The answer of {endpoint} is larger than the connector accepts; check that base_url is the Example PSA API address."),
    })
}

/// A `wasi:http` error code as the contract's `unreachable` error, with the
/// stage (dns, connect, tls, timeout) and what the admin can do about it.
fn network_error(host: &str, endpoint: &str, code: &ErrorCode) -> ConnectorError {
    use ErrorCode as E;
    let (stage, message) = match code {
        E::DnsTimeout | E::DnsError(_) | E::DestinationNotFound => (
            NetworkStage::Dns,
            format!("The name {host} could not be resolved. Check the spelling of the Example PSA address in base_url."),
        ),
        // The sandbox refused the request: the host is not one of the
        // connection's URL fields, or plain http was used outside tests.
        E::HttpRequestDenied => (
            NetworkStage::Connect,
            format!("The sandbox refused the request to {host}: a connector may reach only the address in its URL fields, over https. Check base_url."),
        ),
        E::DestinationIpProhibited => (
            NetworkStage::Connect,
            format!("{host} resolves to an internal network address, which the platform does not connect to. Use the public address of Example PSA in base_url."),
        ),
        E::ConnectionTimeout | E::ConnectionReadTimeout | E::ConnectionWriteTimeout | E::HttpResponseTimeout => (
            NetworkStage::Timeout,
            format!("{host} did not answer in time. Check that Example PSA is up and reachable from the internet, then try again."),
        ),
        E::TlsProtocolError | E::TlsCertificateError | E::TlsAlertReceived(_) => (
            NetworkStage::Tls,
            format!("The secure connection to {host} failed: its certificate is not trusted, expired or issued for another name. Check base_url, or fix the server's certificate."),
        ),
        E::HttpResponseBodySize(_) => return too_large(endpoint),
        _ => (
            NetworkStage::Connect,
            format!("Could not connect to {host}. Check that base_url is right and that Example PSA is up and reachable from the internet."),
        ),
    };
    ConnectorError::Unreachable(UnreachableError { host: host.to_string(), stage, message })
}
