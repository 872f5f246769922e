//! The contract-version layer: the only place that names types generated
//! from the WIT.
//!
//! Each released contract version (`wit/<version>/`) has a module here
//! ([`v0_1_0`], [`v0_2_0`]) that holds its `bindgen!` bindings, privately, and converts
//! between their types and the host's own ([`crate::types`]). The rest of
//! the host sees three things:
//! - [`ContractConnector`]: a component pre-instantiated against the
//!   version it exports, picked by [`ContractConnector::new`] from the
//!   names of the component's exports (`optimize365:psa-connector/connector@<version>`);
//!   a component that exports only versions this host does not run is
//!   refused with both versions named ([`HostError::UnsupportedContract`]);
//! - [`ContractInstance`]: one instance of it, in one store;
//! - [`ConnectorApi`]: the calls the host makes (`info`, `test-connection`,
//!   `session.open`, `session.list-customers`, `session.create-ticket`,
//!   closing a session, and 0.2.0's `session.list-customers-changed`,
//!   `session.find-open-ticket`, `session.add-note`,
//!   `session.ticket-options`), in host types, which both the per-version
//!   instances and the dispatching [`ContractInstance`] implement. An older
//!   version answers a call it lacks from what it has (0.1.0's
//!   `create-ticket` gets the body as HTML and the type and priority
//!   options) or with a typed "not supported" error; the session checks
//!   first and answers [`HostError::NotOffered`] without calling.
//!
//! The runtime (`crate::runtime`) runs these calls under its deadlines and
//! classifies their traps; it never matches on a version.
//!
//! # Adding a contract version (say 0.3.0)
//!
//! 1. Put the WIT in `wit/0.3.0/` (the released folders never change).
//! 2. Add `v0_3_0.rs` here: its `bindgen!` (path `../wit/0.3.0`, the same
//!    `exports`/`with` options as [`v0_2_0`]), `VERSION`, a `Pre` and an
//!    `Instance` wrapping the generated handles, `impl ConnectorApi for
//!    Instance`, and the conversions between its types and the host's. What
//!    0.3.0 adds that the host's types cannot carry yet becomes new host
//!    types or fields in `crate::types` (and, for a new call, a new
//!    [`ConnectorApi`] method that older versions answer from what they
//!    have, or with a typed "not supported" error; the session answers
//!    [`HostError::NotOffered`] before calling a version that lacks it).
//! 3. In this file: `mod v0_3_0;`, its `VERSION` first in
//!    [`SUPPORTED_CONTRACTS`], a variant in [`ContractConnector`] and in
//!    [`ContractInstance`], and one arm in [`ContractConnector::bind`],
//!    [`ContractConnector::version`], [`ContractConnector::instantiate`]
//!    and the `dispatch!` macro.
//! 4. A test guest built against 0.3.0 beside `tests/guests/tickets-v0_2_0` and
//!    `tests/guests/frozen-v0_1_0`; `tests/guests/future-contract` (now
//!    9.0.0) must stay newer than every version this host runs.
//!
//! 0.2.0 was added this way (`v0_2_0.rs`); 0.1.0 connectors keep running
//! through `v0_1_0.rs`, which never changes with the contract.
//!
//! Nothing in `crate::runtime`, `crate::import` or the CLI changes.

mod v0_1_0;
mod v0_2_0;

use crate::ctx::SessionState;
use crate::types::{
    CheckStep, ConnectorError, ConnectorInfo, CustomerPage, NewNote, NewTicket, NoteRef, OptionKind, TicketOption,
    TicketRef,
};
use crate::HostError;
use wasmtime::component::{Component, Linker, ResourceAny};
use wasmtime::{Engine, Store};

/// Contract versions this host runs, newest first.
pub const SUPPORTED_CONTRACTS: &[&str] = &[v0_2_0::VERSION, v0_1_0::VERSION];

/// The exported interface's name up to its version.
const EXPORT_PREFIX: &str = "optimize365:psa-connector/connector@";

/// The calls the host makes on a connector instance, in the host's own
/// types. An `Err` of the outer `wasmtime::Result` is a trap or an
/// interrupt (classified by the runtime); the inner `Result` carries the
/// connector's typed error. Nothing returned here is scrubbed of secrets yet.
pub(crate) trait ConnectorApi {
    /// The connector's self-description (`info`).
    async fn info(&self, store: &mut Store<SessionState>) -> wasmtime::Result<ConnectorInfo>;

    /// The connection test (`test-connection`), given the form's values.
    async fn test_connection(
        &self,
        store: &mut Store<SessionState>,
        config: &[(String, String)],
    ) -> wasmtime::Result<Vec<CheckStep>>;

    /// Opens a session (`session.open`), given the form's values.
    async fn open_session(
        &self,
        store: &mut Store<SessionState>,
        config: &[(String, String)],
    ) -> wasmtime::Result<Result<SessionHandle, ConnectorError>>;

    /// One page of customers (`session.list-customers`); `None` starts.
    async fn list_customers(
        &self,
        store: &mut Store<SessionState>,
        session: SessionHandle,
        cursor: Option<&str>,
    ) -> wasmtime::Result<Result<CustomerPage, ConnectorError>>;

    /// Customers changed since `since` (seconds since the epoch), one page
    /// (`session.list-customers-changed`, 0.2.0).
    async fn list_customers_changed(
        &self,
        store: &mut Store<SessionState>,
        session: SessionHandle,
        since: u64,
        cursor: Option<&str>,
    ) -> wasmtime::Result<Result<CustomerPage, ConnectorError>>;

    /// Opens a ticket (`session.create-ticket`). A 0.1.0 connector gets the
    /// body as HTML and the ticket type and priority options only.
    async fn create_ticket(
        &self,
        store: &mut Store<SessionState>,
        session: SessionHandle,
        ticket: &NewTicket,
    ) -> wasmtime::Result<Result<TicketRef, ConnectorError>>;

    /// The open ticket for a customer and deduplication key
    /// (`session.find-open-ticket`, 0.2.0).
    async fn find_open_ticket(
        &self,
        store: &mut Store<SessionState>,
        session: SessionHandle,
        customer_id: &str,
        dedup_key: &str,
    ) -> wasmtime::Result<Result<Option<TicketRef>, ConnectorError>>;

    /// Adds a note to a ticket (`session.add-note`, 0.2.0).
    async fn add_note(
        &self,
        store: &mut Store<SessionState>,
        session: SessionHandle,
        ticket_id: &str,
        note: &NewNote,
    ) -> wasmtime::Result<Result<NoteRef, ConnectorError>>;

    /// The PSA's options of one kind (`session.ticket-options`, 0.2.0).
    async fn ticket_options(
        &self,
        store: &mut Store<SessionState>,
        session: SessionHandle,
        kind: OptionKind,
    ) -> wasmtime::Result<Result<Vec<TicketOption>, ConnectorError>>;

    /// Releases the session's resource in the guest.
    async fn close(&self, store: &mut Store<SessionState>, session: SessionHandle) -> wasmtime::Result<()>;
}

/// A guest's session resource, valid in the store that opened it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SessionHandle(ResourceAny);

/// A component pre-instantiated (imports resolved, exports typed) against
/// the contract version it exports. Cheap to clone.
#[derive(Clone)]
pub(crate) enum ContractConnector {
    /// `optimize365:psa-connector@0.2.0`.
    V0_2_0(v0_2_0::Pre),
    /// `optimize365:psa-connector@0.1.0`.
    V0_1_0(v0_1_0::Pre),
}

impl ContractConnector {
    /// Reads the contract version from the component's exports and binds
    /// the component to it. `name` names the connector in errors.
    ///
    /// Refuses a component that exports only contract versions this host
    /// does not run ([`HostError::UnsupportedContract`]), one that imports
    /// what the sandbox does not provide, and one whose `connector` export
    /// does not match its version's types ([`HostError::Load`]).
    pub(crate) fn new(
        name: &str,
        engine: &Engine,
        linker: &Linker<SessionState>,
        component: &Component,
    ) -> Result<Self, HostError> {
        let load_err = |message: String| HostError::Load { connector: name.to_string(), message };
        // The contract version is part of the exported interface's name.
        let exported: Vec<String> = component
            .component_type()
            .exports(engine)
            .filter_map(|(n, _)| n.strip_prefix(EXPORT_PREFIX).map(str::to_string))
            .collect();
        if let Some(found) = exported.iter().find(|v| !SUPPORTED_CONTRACTS.contains(&v.as_str())) {
            if !exported.iter().any(|v| SUPPORTED_CONTRACTS.contains(&v.as_str())) {
                return Err(HostError::UnsupportedContract {
                    connector: name.to_string(),
                    found: found.clone(),
                    supported: SUPPORTED_CONTRACTS.join(", "),
                });
            }
        }
        let pre = linker
            .instantiate_pre(component)
            .map_err(|e| load_err(format!("it imports something this sandbox does not provide: {e:#}")))?;
        // The newest version it exports; one that exports none is bound to
        // the newest this host runs, so the error says what is missing.
        let version = SUPPORTED_CONTRACTS
            .iter()
            .find(|v| exported.iter().any(|e| e == *v))
            .or(SUPPORTED_CONTRACTS.first())
            .copied()
            .unwrap_or_default();
        match Self::bind(version, pre) {
            Some(Ok(bound)) => Ok(bound),
            Some(Err(e)) => Err(load_err(format!(
                "it does not export the psa-connector contract this host supports ({}): {e:#}",
                SUPPORTED_CONTRACTS.join(", ")
            ))),
            None => Err(load_err(format!("this host has no bindings for contract {version} (a bug in the host)"))),
        }
    }

    /// The bindings of `version`, or `None` for a version without a module.
    fn bind(version: &str, pre: wasmtime::component::InstancePre<SessionState>) -> Option<wasmtime::Result<Self>> {
        match version {
            v0_2_0::VERSION => Some(v0_2_0::Pre::new(pre).map(ContractConnector::V0_2_0)),
            v0_1_0::VERSION => Some(v0_1_0::Pre::new(pre).map(ContractConnector::V0_1_0)),
            _ => None,
        }
    }

    /// The contract version the component is bound to.
    pub(crate) fn version(&self) -> &'static str {
        match self {
            ContractConnector::V0_2_0(_) => v0_2_0::VERSION,
            ContractConnector::V0_1_0(_) => v0_1_0::VERSION,
        }
    }

    /// Instantiates the component in `store`.
    pub(crate) async fn instantiate(&self, store: &mut Store<SessionState>) -> wasmtime::Result<ContractInstance> {
        Ok(match self {
            ContractConnector::V0_2_0(pre) => ContractInstance::V0_2_0(pre.instantiate(store).await?),
            ContractConnector::V0_1_0(pre) => ContractInstance::V0_1_0(pre.instantiate(store).await?),
        })
    }
}

/// An instance of a connector, of whichever contract version it was built
/// against; it answers through [`ConnectorApi`].
pub(crate) enum ContractInstance {
    /// `optimize365:psa-connector@0.2.0`.
    V0_2_0(v0_2_0::Instance),
    /// `optimize365:psa-connector@0.1.0`.
    V0_1_0(v0_1_0::Instance),
}

/// Calls the same [`ConnectorApi`] method on whichever version `$self` is.
macro_rules! dispatch {
    ($self:ident, $api:ident => $call:expr) => {
        match $self {
            ContractInstance::V0_2_0($api) => $call,
            ContractInstance::V0_1_0($api) => $call,
        }
    };
}

impl ConnectorApi for ContractInstance {
    async fn info(&self, store: &mut Store<SessionState>) -> wasmtime::Result<ConnectorInfo> {
        dispatch!(self, api => api.info(store).await)
    }

    async fn test_connection(
        &self,
        store: &mut Store<SessionState>,
        config: &[(String, String)],
    ) -> wasmtime::Result<Vec<CheckStep>> {
        dispatch!(self, api => api.test_connection(store, config).await)
    }

    async fn open_session(
        &self,
        store: &mut Store<SessionState>,
        config: &[(String, String)],
    ) -> wasmtime::Result<Result<SessionHandle, ConnectorError>> {
        dispatch!(self, api => api.open_session(store, config).await)
    }

    async fn list_customers(
        &self,
        store: &mut Store<SessionState>,
        session: SessionHandle,
        cursor: Option<&str>,
    ) -> wasmtime::Result<Result<CustomerPage, ConnectorError>> {
        dispatch!(self, api => api.list_customers(store, session, cursor).await)
    }

    async fn list_customers_changed(
        &self,
        store: &mut Store<SessionState>,
        session: SessionHandle,
        since: u64,
        cursor: Option<&str>,
    ) -> wasmtime::Result<Result<CustomerPage, ConnectorError>> {
        dispatch!(self, api => api.list_customers_changed(store, session, since, cursor).await)
    }

    async fn create_ticket(
        &self,
        store: &mut Store<SessionState>,
        session: SessionHandle,
        ticket: &NewTicket,
    ) -> wasmtime::Result<Result<TicketRef, ConnectorError>> {
        dispatch!(self, api => api.create_ticket(store, session, ticket).await)
    }

    async fn find_open_ticket(
        &self,
        store: &mut Store<SessionState>,
        session: SessionHandle,
        customer_id: &str,
        dedup_key: &str,
    ) -> wasmtime::Result<Result<Option<TicketRef>, ConnectorError>> {
        dispatch!(self, api => api.find_open_ticket(store, session, customer_id, dedup_key).await)
    }

    async fn add_note(
        &self,
        store: &mut Store<SessionState>,
        session: SessionHandle,
        ticket_id: &str,
        note: &NewNote,
    ) -> wasmtime::Result<Result<NoteRef, ConnectorError>> {
        dispatch!(self, api => api.add_note(store, session, ticket_id, note).await)
    }

    async fn ticket_options(
        &self,
        store: &mut Store<SessionState>,
        session: SessionHandle,
        kind: OptionKind,
    ) -> wasmtime::Result<Result<Vec<TicketOption>, ConnectorError>> {
        dispatch!(self, api => api.ticket_options(store, session, kind).await)
    }

    async fn close(&self, store: &mut Store<SessionState>, session: SessionHandle) -> wasmtime::Result<()> {
        dispatch!(self, api => api.close(store, session).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_version_has_bindings_newest_first() {
        assert!(!SUPPORTED_CONTRACTS.is_empty());
        let engine = Engine::default();
        let linker = Linker::<SessionState>::new(&engine);
        // An empty component: its `InstancePre` fails every version's
        // export check, but `bind` must know the version.
        let component = Component::from_binary(&engine, b"\0asm\x0d\x00\x01\x00").unwrap();
        for v in SUPPORTED_CONTRACTS {
            let pre = linker.instantiate_pre(&component).unwrap();
            assert!(matches!(ContractConnector::bind(v, pre), Some(Err(_))), "no bindings for {v}");
        }
        let pre = linker.instantiate_pre(&component).unwrap();
        assert!(ContractConnector::bind("0.0.0-none", pre).is_none());
        let semver = |v: &str| v.split('.').map(|n| n.parse::<u32>().unwrap()).collect::<Vec<_>>();
        let mut sorted: Vec<_> = SUPPORTED_CONTRACTS.to_vec();
        sorted.sort_by_key(|v| std::cmp::Reverse(semver(v)));
        assert_eq!(sorted, SUPPORTED_CONTRACTS, "newest first");
    }
}
