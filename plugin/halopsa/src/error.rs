//! The connector's error: the SDK's [`Error`], and how Halo words it as one
//! sentence.

pub use psa_connector_sdk::Error;
/// Where reaching a host failed (the contract's `network-stage`).
pub use psa_connector_sdk::NetworkStage as Stage;

/// The sentence a person acts on, used as a failed check step's message: the
/// error's message, with `Halo answered HTTP {status} on {endpoint}:` before
/// an upstream error's.
pub trait Describe {
    /// The sentence.
    fn describe(&self) -> String;
}

impl Describe for Error {
    fn describe(&self) -> String {
        match self {
            Error::Upstream { status, endpoint, message } => crate::messages::upstream_full(*status, endpoint, message),
            other => other.message().to_string(),
        }
    }
}
