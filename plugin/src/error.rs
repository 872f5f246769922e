//! The connector's own error type; `lib.rs` maps it onto `connector-error`.
//! No variant ever holds a secret, so `Debug` is safe to derive.

/// Where reaching a host failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Dns,
    Connect,
    Tls,
    Timeout,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    InvalidConfig { field: String, message: String },
    Unreachable { host: String, stage: Stage, message: String },
    Unauthorized(String),
    Forbidden { permission: String, message: String },
    RateLimited { retry_after: Option<u32>, message: String },
    Upstream { status: u16, endpoint: String, message: String },
    Protocol { endpoint: String, message: String },
    Internal(String),
}

impl Error {
    pub fn protocol(endpoint: &str, message: impl Into<String>) -> Error {
        Error::Protocol { endpoint: endpoint.to_string(), message: message.into() }
    }

    pub fn config(field: &str, message: impl Into<String>) -> Error {
        Error::InvalidConfig { field: field.to_string(), message: message.into() }
    }

    /// The sentence a person acts on (used as a failed check step's message).
    pub fn message(&self) -> String {
        match self {
            Error::InvalidConfig { message, .. }
            | Error::Unreachable { message, .. }
            | Error::Unauthorized(message)
            | Error::Forbidden { message, .. }
            | Error::RateLimited { message, .. }
            | Error::Protocol { message, .. }
            | Error::Internal(message) => message.clone(),
            Error::Upstream { status, endpoint, message } => {
                crate::messages::upstream_full(*status, endpoint, message)
            }
        }
    }
}
