//! The connector's error: one type for every connector, converted into the
//! contract's `connector-error` by [`export_connector!`](crate::export_connector).
//!
//! The variants are the contract's, with named fields, so a connector can
//! build, match and test them without the generated records. Every message
//! is a sentence a support engineer can act on, worded by the connector;
//! no variant may hold a secret (so `Debug` is derived).

use crate::{
    ConfigError, ConnectorError, ForbiddenError, NetworkStage, ProtocolError, RateLimitError, UnreachableError,
    UpstreamError,
};

/// What went wrong in a connector call, as the platform sorts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The connection form is wrong; `field` is the offending field's id.
    InvalidConfig {
        /// The field id (`base_url`).
        field: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The PSA could not be reached: name resolution, connection, TLS or a timeout.
    Unreachable {
        /// The host (and port) that could not be reached.
        host: String,
        /// Where reaching it failed.
        stage: NetworkStage,
        /// What failed and what to check.
        message: String,
    },
    /// The PSA refused the credentials.
    Unauthorized(String),
    /// The credentials are valid but lack a permission.
    Forbidden {
        /// The missing permission, in the PSA's own words (`read:customers`).
        permission: String,
        /// Where to grant it.
        message: String,
    },
    /// The PSA's rate limit was hit.
    RateLimited {
        /// Seconds the PSA asked to wait, when it said.
        retry_after: Option<u32>,
        /// What happened.
        message: String,
    },
    /// The PSA answered with an error status the connector has no better variant for.
    Upstream {
        /// The HTTP status.
        status: u16,
        /// The endpoint's path (`/api/Client`).
        endpoint: String,
        /// The PSA's own message, or a summary of its answer.
        message: String,
    },
    /// The PSA's answer is not what its API promises.
    Protocol {
        /// The endpoint's path.
        endpoint: String,
        /// What is wrong with the answer.
        message: String,
    },
    /// The ticket or customer the call names does not exist in the PSA
    /// (deleted or merged); the message names it.
    NotFound(String),
    /// The connector does not offer this call (its capability is not
    /// declared); the message says which call.
    NotSupported(String),
    /// A bug or unexpected state inside the connector.
    Internal(String),
}

impl Error {
    /// [`Error::InvalidConfig`] for `field`.
    pub fn config(field: &str, message: impl Into<String>) -> Error {
        Error::InvalidConfig { field: field.to_string(), message: message.into() }
    }

    /// [`Error::Unreachable`] for `host` at `stage`.
    pub fn unreachable(host: &str, stage: NetworkStage, message: impl Into<String>) -> Error {
        Error::Unreachable { host: host.to_string(), stage, message: message.into() }
    }

    /// [`Error::Unauthorized`].
    pub fn unauthorized(message: impl Into<String>) -> Error {
        Error::Unauthorized(message.into())
    }

    /// [`Error::Forbidden`] for a missing `permission`.
    pub fn forbidden(permission: &str, message: impl Into<String>) -> Error {
        Error::Forbidden { permission: permission.to_string(), message: message.into() }
    }

    /// [`Error::RateLimited`], with the wait the PSA asked for, if any.
    pub fn rate_limited(retry_after: Option<u32>, message: impl Into<String>) -> Error {
        Error::RateLimited { retry_after, message: message.into() }
    }

    /// [`Error::Upstream`] for `status` on `endpoint`.
    pub fn upstream(status: u16, endpoint: &str, message: impl Into<String>) -> Error {
        Error::Upstream { status, endpoint: endpoint.to_string(), message: message.into() }
    }

    /// [`Error::Protocol`] for `endpoint`.
    pub fn protocol(endpoint: &str, message: impl Into<String>) -> Error {
        Error::Protocol { endpoint: endpoint.to_string(), message: message.into() }
    }

    /// [`Error::Internal`].
    pub fn internal(message: impl Into<String>) -> Error {
        Error::Internal(message.into())
    }

    /// [`Error::NotFound`]: the ticket or customer named does not exist in
    /// the PSA; `message` names it and says what to do.
    ///
    /// ```
    /// # use psa_connector_sdk::Error;
    /// let e = Error::not_found("Ticket 4711 no longer exists in the PSA (deleted or merged).");
    /// assert!(matches!(e, Error::NotFound(_)));
    /// ```
    pub fn not_found(message: impl Into<String>) -> Error {
        Error::NotFound(message.into())
    }

    /// [`Error::NotSupported`]: the answer to a call whose capability the
    /// connector does not declare (`create-ticket` without
    /// [`Capability::CreateTicket`](crate::Capability::CreateTicket)), naming
    /// the call by its contract name. The [`Session`](crate::Session)
    /// trait's default bodies answer this.
    ///
    /// ```
    /// # use psa_connector_sdk::Error;
    /// let e = Error::not_supported("add-note");
    /// assert!(matches!(&e, Error::NotSupported(m) if m.contains("add-note")));
    /// ```
    pub fn not_supported(function: &str) -> Error {
        Error::NotSupported(format!(
            "This connector does not offer {function} (it does not declare the capability), so the platform should not call it."
        ))
    }

    /// The old name of [`Error::not_supported`] (contract 0.1.0 had no
    /// `not-supported` error and answered `internal`).
    #[deprecated(note = "use Error::not_supported")]
    pub fn not_offered(function: &str) -> Error {
        Error::not_supported(function)
    }

    /// The message as it stands, without the variant's other fields.
    pub fn message(&self) -> &str {
        match self {
            Error::InvalidConfig { message, .. }
            | Error::Unreachable { message, .. }
            | Error::Unauthorized(message)
            | Error::Forbidden { message, .. }
            | Error::RateLimited { message, .. }
            | Error::Upstream { message, .. }
            | Error::Protocol { message, .. }
            | Error::NotFound(message)
            | Error::NotSupported(message)
            | Error::Internal(message) => message,
        }
    }

    /// The same error with `note` appended to its message as a further
    /// sentence (a `.` is put between them when the message lacks one).
    pub fn with_note(self, note: &str) -> Error {
        let add = |m: String| {
            if note.is_empty() {
                m
            } else if m.trim_end().ends_with(['.', '!', '?']) {
                format!("{} {note}", m.trim_end())
            } else {
                format!("{}. {note}", m.trim_end())
            }
        };
        match self {
            Error::InvalidConfig { field, message } => Error::InvalidConfig { field, message: add(message) },
            Error::Unreachable { host, stage, message } => Error::Unreachable { host, stage, message: add(message) },
            Error::Unauthorized(m) => Error::Unauthorized(add(m)),
            Error::Forbidden { permission, message } => Error::Forbidden { permission, message: add(message) },
            Error::RateLimited { retry_after, message } => Error::RateLimited { retry_after, message: add(message) },
            Error::Upstream { status, endpoint, message } => Error::Upstream { status, endpoint, message: add(message) },
            Error::Protocol { endpoint, message } => Error::Protocol { endpoint, message: add(message) },
            Error::NotFound(m) => Error::NotFound(add(m)),
            Error::NotSupported(m) => Error::NotSupported(add(m)),
            Error::Internal(m) => Error::Internal(add(m)),
        }
    }
}

impl From<Error> for ConnectorError {
    fn from(e: Error) -> ConnectorError {
        match e {
            Error::InvalidConfig { field, message } => ConnectorError::InvalidConfig(ConfigError { field, message }),
            Error::Unreachable { host, stage, message } => {
                ConnectorError::Unreachable(UnreachableError { host, stage, message })
            }
            Error::Unauthorized(m) => ConnectorError::Unauthorized(m),
            Error::Forbidden { permission, message } => ConnectorError::Forbidden(ForbiddenError { permission, message }),
            Error::RateLimited { retry_after, message } => {
                ConnectorError::RateLimited(RateLimitError { retry_after_seconds: retry_after, message })
            }
            Error::Upstream { status, endpoint, message } => {
                ConnectorError::Upstream(UpstreamError { status, endpoint, message })
            }
            Error::Protocol { endpoint, message } => ConnectorError::Protocol(ProtocolError { endpoint, message }),
            Error::NotFound(m) => ConnectorError::NotFound(m),
            Error::NotSupported(m) => ConnectorError::NotSupported(m),
            Error::Internal(m) => ConnectorError::Internal(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_join_as_sentences() {
        let e = Error::protocol("/x", "Base");
        assert_eq!(e.clone().with_note("More.").message(), "Base. More.");
        assert_eq!(Error::protocol("/x", "Base. ").with_note("More.").message(), "Base. More.");
        assert_eq!(e.clone().with_note(""), e);
    }

    #[test]
    fn converts_into_the_contract_error() {
        match ConnectorError::from(Error::rate_limited(Some(30), "slow down")) {
            ConnectorError::RateLimited(r) => assert_eq!((r.retry_after_seconds, r.message.as_str()), (Some(30), "slow down")),
            other => panic!("{other:?}"),
        }
        match ConnectorError::from(Error::unreachable("h.example:8443", NetworkStage::Tls, "m")) {
            ConnectorError::Unreachable(u) => assert_eq!((u.host.as_str(), u.stage), ("h.example:8443", NetworkStage::Tls)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(ConnectorError::from(Error::not_supported("create-ticket")), ConnectorError::NotSupported(m) if m.contains("create-ticket")));
        assert!(matches!(ConnectorError::from(Error::not_found("Ticket 7 is gone.")), ConnectorError::NotFound(m) if m == "Ticket 7 is gone."));
        assert_eq!(Error::not_found("Ticket 7 is gone").with_note("Open a new one.").message(), "Ticket 7 is gone. Open a new one.");
        #[allow(deprecated)]
        let old = Error::not_offered("create-ticket");
        assert_eq!(old, Error::not_supported("create-ticket"));
    }
}
