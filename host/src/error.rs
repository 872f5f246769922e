//! Everything that can go wrong when the host runs a connector.

use crate::types::ConnectorError;
use std::time::Duration;

/// An error from the host. Each message names the connector and says what
/// to do; none contains a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The connector answered with one of the contract's typed errors.
    #[error("{connector}: {error}")]
    Connector {
        /// The connector, by its id (or the name it was loaded under).
        connector: String,
        /// The connector's error, scrubbed of secrets.
        error: ConnectorError,
    },
    /// The host itself could not be set up ([`Host::new`](crate::Host::new)):
    /// the engine, the TLS roots, the compiled-connector cache or its key.
    /// No connector is involved; every `Host::new` failure is this variant.
    #[error("could not set up the connector host: {message}")]
    Setup {
        /// What could not be set up, and the fix.
        message: String,
    },
    /// The component could not be read, compiled or linked.
    #[error("could not load connector {connector}: {message}")]
    Load {
        /// The connector, by its id (or the name it was loaded under).
        connector: String,
        /// Why, and what to do.
        message: String,
    },
    /// The component was built against a contract version this host does not run.
    #[error("connector {connector} was built against psa-connector contract {found}; this host supports {supported}. Rebuild the connector against a supported contract version")]
    UnsupportedContract {
        /// The connector, by its id (or the name it was loaded under).
        connector: String,
        /// The version the component was built against.
        found: String,
        /// The versions this host runs, comma-separated.
        supported: String,
    },
    /// The call ran past the per-call deadline (guest CPU or network time).
    #[error("connector {connector}: `{call}` did not finish within {} s and was stopped; the session is closed. If the PSA is slow, retry later; if it keeps happening, the connector may be stuck in a loop", deadline.as_secs())]
    DeadlineExceeded {
        /// The connector, by its id (or the name it was loaded under).
        connector: String,
        /// The export that was called (`session.list-customers`).
        call: String,
        /// The per-call deadline ([`Limits::call_timeout`](crate::Limits::call_timeout)).
        deadline: Duration,
    },
    /// The guest ran out of its memory allowance.
    #[error("connector {connector}: `{call}` exceeded its memory limit of {} MiB and was stopped; the session is closed", limit_bytes >> 20)]
    MemoryExhausted {
        /// The connector, by its id (or the name it was loaded under).
        connector: String,
        /// The export that was called (`session.list-customers`).
        call: String,
        /// The memory limit ([`Limits::memory_bytes`](crate::Limits::memory_bytes)).
        limit_bytes: usize,
    },
    /// The session reached a limit on what the host holds for it
    /// (resource handles, an import's accumulated data).
    #[error("connector {connector}: `{call}` {limit}")]
    HostLimit {
        /// The connector, by its id (or the name it was loaded under).
        connector: String,
        /// The export that was called (`session.list-customers`).
        call: String,
        /// Which limit, and its value.
        limit: crate::limits::HeldLimit,
    },
    /// The call used up its fuel (instruction budget).
    #[error("connector {connector}: `{call}` used up its instruction budget of {fuel} and was stopped; the session is closed")]
    OutOfFuel {
        /// The connector, by its id (or the name it was loaded under).
        connector: String,
        /// The export that was called (`session.list-customers`).
        call: String,
        /// The fuel each call gets ([`Limits::fuel`](crate::Limits::fuel)).
        fuel: u64,
    },
    /// The guest trapped (a crash inside the connector).
    #[error("connector {connector} crashed in `{call}`: {message}; the session is closed. This is a bug in the connector")]
    Trap {
        /// The connector, by its id (or the name it was loaded under).
        connector: String,
        /// The export that was called (`session.list-customers`).
        call: String,
        /// What the trap was, scrubbed of secrets.
        message: String,
    },
    /// A call on a session that an earlier failure closed.
    #[error("connector {connector}: session {session} is closed after an earlier failure ({reason}); open a new session")]
    SessionClosed {
        /// The connector, by its id (or the name it was loaded under).
        connector: String,
        /// The session's id.
        session: u64,
        /// The failure that closed it.
        reason: String,
    },
    /// Retries did not help: the last error, after the host retried.
    #[error("{last}. The host retried {attempts} time(s), waiting {} s in total for the PSA's rate limit, and gave up", waited.as_secs())]
    GaveUp {
        /// The connector, by its id (or the name it was loaded under).
        connector: String,
        /// Attempts made, the first one included.
        attempts: u32,
        /// Time spent waiting for the PSA's rate limit.
        waited: Duration,
        /// The last attempt's error.
        last: Box<HostError>,
    },
    /// The PSA asked for a wait (`Retry-After`) longer than what is left of
    /// the import's rate-limit budget: the import ends at once.
    #[error("{last}. The PSA asked to wait {} before the next request (Retry-After), longer than the {} left of this import's rate-limit budget, so the import stopped at once; run it again after that wait, or ask the PSA's administrator about the rate limit", human_duration(*asked), human_duration(*left))]
    WaitTooLong {
        /// The connector, by its id (or the name it was loaded under).
        connector: String,
        /// The wait the PSA asked for.
        asked: Duration,
        /// What was left of the import's rate-limit budget.
        left: Duration,
        /// The error that carried the request to wait.
        last: Box<HostError>,
    },
    /// Every session slot of the host is taken.
    #[error("connector {connector}: this host already runs {max} sessions at once (Limits::max_sessions); close finished sessions or raise the limit, then retry")]
    Busy {
        /// The connector, by its id (or the name it was loaded under).
        connector: String,
        /// [`Limits::max_sessions`](crate::Limits::max_sessions).
        max: u32,
    },
    /// What the caller asked for is not valid (a deduplication key with a
    /// character outside `[A-Za-z0-9._:-]`, say); the connector was not called.
    #[error("connector {connector}: `{call}` was not made: {message}")]
    InvalidInput {
        /// The connector, by its id (or the name it was loaded under).
        connector: String,
        /// The call that was not made (`session.create-ticket`).
        call: String,
        /// What is wrong, and what is accepted.
        message: String,
    },
    /// A call the connector does not offer: its contract version lacks it
    /// (0.1.0 has no `find-open-ticket`, `add-note`, `ticket-options`,
    /// `list-customers-changed`), or it does not list the capability. The
    /// host did not call the connector.
    #[error("connector {connector}: `{call}`: capability not offered by this connector (contract {contract}); {}", not_offered_hint(contract, capability))]
    NotOffered {
        /// The connector, by its id (or the name it was loaded under).
        connector: String,
        /// The call that was not made (`session.find-open-ticket`).
        call: String,
        /// The capability it needs (`ticket-dedup`).
        capability: String,
        /// The contract version the connector was built against.
        contract: String,
    },
    /// The connector broke the contract (for example, a cursor that never ends).
    #[error("connector {connector} broke the psa-connector contract: {message}")]
    Contract {
        /// The connector, by its id (or the name it was loaded under).
        connector: String,
        /// What it did.
        message: String,
    },
}

impl HostError {
    /// The typed connector error, when this is one (also the last attempt's
    /// of [`HostError::GaveUp`] and [`HostError::WaitTooLong`]).
    pub fn connector_error(&self) -> Option<&ConnectorError> {
        match self {
            HostError::Connector { error, .. } => Some(error),
            HostError::GaveUp { last, .. } | HostError::WaitTooLong { last, .. } => last.connector_error(),
            _ => None,
        }
    }
}

fn not_offered_hint(contract: &str, capability: &str) -> String {
    if contract == "0.1.0" {
        format!("it needs `{capability}`, which contract 0.1.0 does not have. Use a build of the connector against contract 0.2.0 or later")
    } else {
        format!("it needs `{capability}`, which the connector does not list among its capabilities (`psa-host info` shows them)")
    }
}

/// `90 s`, `2 h 5 min`, `more than 100 years`: a wait as people read it.
pub(crate) fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 100 * 365 * 24 * 3600 {
        "more than 100 years".to_string()
    } else if s >= 2 * 24 * 3600 {
        format!("{} days ({s} s)", s / 86_400)
    } else if s >= 3600 {
        format!("{} h {} min ({s} s)", s / 3600, (s % 3600) / 60)
    } else {
        format!("{s} s")
    }
}
