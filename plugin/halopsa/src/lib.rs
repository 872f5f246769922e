//! HaloPSA connector: wit-bindgen glue and the exported functions.
//!
//! Everything that decides something lives in the other modules, which are
//! plain Rust and unit-tested natively; this file only converts between the
//! contract's generated types and the connector's own ones.

wit_bindgen::generate!({
    path: "../wit/0.1.0",
    world: "psa-connector",
    generate_all,
});

pub mod api;
pub mod auth;
mod check;
pub mod config;
pub mod customers;
mod discover;
pub mod error;
pub mod field;
pub mod http;
mod messages;
pub mod pagination;
pub mod session;
pub mod tenants;
mod tickets;

use std::cell::RefCell;

use exports::optimize365::psa_connector::connector::{Guest, GuestSession, Session};
pub(crate) use optimize365::psa_connector::types;
use types::{
    Capability, CheckStep, ConfigEntry, ConfigError, ConfigField, ConnectorError, ConnectorInfo,
    CustomerPage, FieldKind, ForbiddenError, NetworkStage, NewTicket, ProtocolError,
    RateLimitError, TicketRef, UnreachableError, UpstreamError,
};

/// The contract version this connector implements (the folder `wit/0.1.0`).
pub const CONTRACT_VERSION: &str = "0.1.0";

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Component;

impl Guest for Component {
    type Session = HaloSession;

    fn info() -> ConnectorInfo {
        ConnectorInfo {
            id: "halopsa".into(),
            display_name: "HaloPSA".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            contract_version: CONTRACT_VERSION.into(),
            capabilities: vec![
                Capability::TestConnection,
                Capability::ListCustomers,
                Capability::M365TenantLinks,
                Capability::CreateTicket,
            ],
            fields: config::FIELDS
                .iter()
                .map(|f| ConfigField {
                    id: f.id.into(),
                    label: f.label.into(),
                    help: f.help.into(),
                    kind: match f.kind {
                        config::Kind::Url => FieldKind::Url,
                        config::Kind::Text => FieldKind::Text,
                        config::Kind::Secret => FieldKind::Secret,
                        config::Kind::Flag => FieldKind::Flag,
                    },
                    required: f.required,
                    default_value: f.default.map(Into::into),
                })
                .collect(),
            allowed_hosts: Vec::new(),
        }
    }

    fn test_connection(config: Vec<ConfigEntry>) -> Vec<CheckStep> {
        check::run(&entries(config), &mut http::WasiHttp)
    }
}

/// One open connection; the contract's calls on a session never overlap, the
/// `RefCell` only gives the `&self` methods mutable access.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct HaloSession {
    state: RefCell<session::State>,
}

impl GuestSession for HaloSession {
    fn open(config: Vec<ConfigEntry>) -> Result<Session, ConnectorError> {
        let cfg = config::parse(&entries(config)).map_err(to_contract)?;
        Ok(Session::new(HaloSession { state: RefCell::new(session::State::new(cfg)) }))
    }

    fn list_customers(&self, cursor: Option<String>) -> Result<CustomerPage, ConnectorError> {
        let mut state = self
            .state
            .try_borrow_mut()
            .map_err(|_| ConnectorError::Internal(messages::session_busy()))?;
        state.list_customers(&mut http::WasiHttp, cursor.as_deref()).map_err(to_contract)
    }

    fn create_ticket(&self, ticket: NewTicket) -> Result<TicketRef, ConnectorError> {
        let mut state = self
            .state
            .try_borrow_mut()
            .map_err(|_| ConnectorError::Internal(messages::session_busy()))?;
        state.create_ticket(&mut http::WasiHttp, &ticket).map(|id| TicketRef { id }).map_err(to_contract)
    }
}

fn entries(config: Vec<ConfigEntry>) -> Vec<(String, String)> {
    config.into_iter().map(|e| (e.id, e.value)).collect()
}

fn to_contract(e: error::Error) -> ConnectorError {
    use error::{Error, Stage};
    match e {
        Error::InvalidConfig { field, message } => ConnectorError::InvalidConfig(ConfigError { field, message }),
        Error::Unreachable { host, stage, message } => ConnectorError::Unreachable(UnreachableError {
            host,
            stage: match stage {
                Stage::Dns => NetworkStage::Dns,
                Stage::Connect => NetworkStage::Connect,
                Stage::Tls => NetworkStage::Tls,
                Stage::Timeout => NetworkStage::Timeout,
            },
            message,
        }),
        Error::Unauthorized(m) => ConnectorError::Unauthorized(m),
        Error::Forbidden { permission, message } => ConnectorError::Forbidden(ForbiddenError { permission, message }),
        Error::RateLimited { retry_after, message } => {
            ConnectorError::RateLimited(RateLimitError { retry_after_seconds: retry_after, message })
        }
        Error::Upstream { status, endpoint, message } => {
            ConnectorError::Upstream(UpstreamError { status, endpoint, message })
        }
        Error::Protocol { endpoint, message } => ConnectorError::Protocol(ProtocolError { endpoint, message }),
        Error::Internal(m) => ConnectorError::Internal(m),
    }
}

// Natively (unit tests, `cargo build --workspace` on the host) the exports are
// left out: their names (`optimize365:psa-connector/connector@0.1.0#info`) are
// not valid in a native shared library's symbol list.
#[cfg(target_arch = "wasm32")]
export!(Component);
