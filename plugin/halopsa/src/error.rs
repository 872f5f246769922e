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

    /// The same error with `note` appended to its message.
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
            Error::Internal(m) => Error::Internal(add(m)),
        }
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
