//! The network, through the SDK's client: its types re-exported for the
//! other modules, and its typed failures worded as Halo's errors.

pub use psa_connector_sdk::http::{ErrorKind, HttpError, Method, Phase, Request, Response, Transport, WasiHttp};

use crate::error::{Error, Stage};
use crate::messages as msg;

/// Largest body read into memory; the host caps bodies too.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// The real network, with the connector's body cap.
pub fn client() -> WasiHttp {
    WasiHttp::new().max_body(MAX_BODY)
}

/// Send `req`; a failure as the connector's error.
pub fn send(net: &mut dyn Transport, req: &Request) -> Result<Response, Error> {
    net.send(req).map_err(network_error)
}

/// A network failure in Halo's words: the host (with its port) and the
/// stage for `unreachable`, too-large answers as `protocol`, requests that
/// could not be built as `internal`.
pub fn network_error(e: HttpError) -> Error {
    let host = e.host.as_str();
    let un = |stage: Stage, message: String| Error::Unreachable { host: host.to_string(), stage, message };
    match &e.kind {
        ErrorKind::Dns => un(Stage::Dns, msg::unreachable_dns(host)),
        ErrorKind::Denied => un(Stage::Connect, msg::sandbox_denied(host)),
        ErrorKind::Prohibited => un(Stage::Connect, msg::ip_prohibited(host)),
        ErrorKind::Refused => un(Stage::Connect, msg::unreachable_connect(host)),
        ErrorKind::Broken => un(Stage::Connect, msg::unreachable_broken(host)),
        ErrorKind::Timeout => un(Stage::Timeout, msg::unreachable_timeout(host)),
        ErrorKind::TlsCertificate => un(Stage::Tls, msg::unreachable_tls(host)),
        ErrorKind::TlsProtocol => un(Stage::Tls, msg::unreachable_tls_protocol(host)),
        ErrorKind::TooLarge => Error::protocol(&e.endpoint, msg::too_large(&e.endpoint)),
        ErrorKind::InvalidRequest(what) => Error::Internal(msg::request_not_built(what)),
        ErrorKind::Other(detail) => un(Stage::Connect, msg::network_other(host, detail)),
        _ => un(Stage::Connect, msg::network_other(host, "internal-error")),
    }
}

#[cfg(test)]
pub mod fake {
    //! Scripted answers for native tests.
    use super::*;
    use std::collections::VecDeque;

    #[derive(Default)]
    pub struct Fake {
        pub answers: VecDeque<Result<Response, HttpError>>,
        /// (method, url, authorization header, body) of every request sent.
        pub sent: Vec<(Method, String, Option<String>, Option<String>)>,
    }

    impl Fake {
        pub fn new() -> Fake {
            Fake::default()
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
        fn send(&mut self, req: &Request) -> Result<Response, HttpError> {
            let auth = req.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization")).map(|(_, v)| v.clone());
            let body = req.body.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
            self.sent.push((req.method, req.url.clone(), auth, body));
            self.answers
                .pop_front()
                .unwrap_or_else(|| Err(HttpError::new(req, Phase::Request, ErrorKind::Other("no scripted answer".into()))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(phase: Phase, kind: ErrorKind) -> Error {
        network_error(HttpError { host: "acme.halopsa.com".into(), endpoint: "/api/Client".into(), phase, kind })
    }

    #[test]
    fn failures_map_to_stages_and_halos_words() {
        let stage = |kind: ErrorKind| match failure(Phase::Head, kind) {
            Error::Unreachable { stage, host, .. } => {
                assert_eq!(host, "acme.halopsa.com");
                Some(stage)
            }
            _ => None,
        };
        assert_eq!(stage(ErrorKind::Dns), Some(Stage::Dns));
        assert_eq!(stage(ErrorKind::Refused), Some(Stage::Connect));
        assert_eq!(stage(ErrorKind::TlsCertificate), Some(Stage::Tls));
        assert_eq!(stage(ErrorKind::Timeout), Some(Stage::Timeout));
        assert_eq!(stage(ErrorKind::Denied), Some(Stage::Connect));
        assert_eq!(stage(ErrorKind::TooLarge), None);
        match failure(Phase::Head, ErrorKind::Denied) {
            Error::Unreachable { message, .. } => assert!(message.contains("sandbox refused")),
            other => panic!("{other:?}"),
        }
        // A timeout while the body is read is a timeout, not a refused connection.
        match failure(Phase::Body, ErrorKind::Timeout) {
            Error::Unreachable { stage, message, .. } => {
                assert_eq!(stage, Stage::Timeout);
                assert_eq!(message, msg::unreachable_timeout("acme.halopsa.com"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(failure(Phase::Body, ErrorKind::TooLarge), Error::Protocol { endpoint, .. } if endpoint == "/api/Client"));
        assert!(matches!(failure(Phase::Request, ErrorKind::InvalidRequest("headers")), Error::Internal(_)));
    }
}
