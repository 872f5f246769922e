//! A connector that exports `optimize365:psa-connector/connector@9.0.0`, a
//! contract version no host supports yet. The host must refuse to load it
//! and name both versions.

wit_bindgen::generate!({ path: "wit", world: "psa-connector" });

use exports::optimize365::psa_connector::connector::{Guest, GuestSession, Session};
use optimize365::psa_connector::types::*;

struct Future;

impl Guest for Future {
    type Session = Nothing;
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            id: "future".into(),
            display_name: "Future contract".into(),
            version: "0.1.0".into(),
            contract_version: "9.0.0".into(),
            capabilities: vec![],
            fields: vec![],
            allowed_hosts: vec![],
        }
    }
    fn test_connection(_: Vec<ConfigEntry>) -> Vec<CheckStep> {
        Vec::new()
    }
}

struct Nothing;

impl GuestSession for Nothing {
    fn open(_: Vec<ConfigEntry>) -> Result<Session, ConnectorError> {
        Err(ConnectorError::Internal("not implemented".into()))
    }
    fn list_customers(&self, _: Option<String>) -> Result<CustomerPage, ConnectorError> {
        Err(ConnectorError::Internal("not implemented".into()))
    }
    fn create_ticket(&self, _: NewTicket) -> Result<TicketRef, ConnectorError> {
        Err(ConnectorError::Internal("not implemented".into()))
    }
}

#[cfg(target_arch = "wasm32")]
export!(Future);
