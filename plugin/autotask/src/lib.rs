//! Autotask PSA connector, built on `psa-connector-sdk` only, the way a
//! third-party author writes one.
//!
//! How Autotask differs from HaloPSA, and how this crate copes:
//! - no OAuth: three static headers on every call (`UserName`, `Secret`,
//!   `ApiIntegrationCode`);
//! - the API host is discovered at run time: the zone lookup
//!   (`webservices.autotask.net`) names the database's zone, used only when it
//!   is https under `autotask.net` (the declared allowed host
//!   `https://*.autotask.net`), looked up again once on a 401;
//! - companies come from `POST Companies/query` with a JSON filter, 500 per
//!   page, with absolute next-page URLs that must stay on the zone;
//! - no Microsoft 365 tenant field: the admin names the company
//!   user-defined field that holds it;
//! - errors often arrive as HTTP 500 with an `errors` array (permissions,
//!   thread and request thresholds).
//!
//! Modules, leaves first: `messages` (every sentence), `config` (the form),
//! `api` (zone discovery, authenticated calls, errors), `customers` (the
//! query, rows, tenant links, paging), `check` (`test-connection`). All of
//! them run natively over the SDK's [`Transport`](psa_connector_sdk::http::Transport)
//! and are tested with scripted answers.
//!
//! The advanced form field `zone_lookup_url` (empty in production) points
//! the zone lookup elsewhere, for a simulator. It is safe: it must be https
//! (http only on a loopback host, which the platform's sandbox refuses in
//! production anyway), it is a URL field the admin types (the sandbox admits
//! exactly what the admin typed), and the zone it names is accepted only on
//! that same host or under `autotask.net`: it cannot widen where the
//! credentials go beyond what the admin entered.

pub mod api;
mod check;
pub mod config;
pub mod customers;
mod messages;
pub mod tickets;

use psa_connector_sdk::http::WasiHttp;
use psa_connector_sdk::{
    export_connector, form, Capability, CheckStep, ConfigEntry, Connector, ConnectorInfo, CustomerPage, Error,
    RequestBudget, CONTRACT_VERSION,
};

/// The host every zone (and the zone lookup) is under.
pub const ALLOWED_HOSTS: &str = "https://*.autotask.net";

/// Autotask's published limits: 10,000 requests an hour per database, and
/// 3 requests in flight at once per endpoint (the thread threshold).
pub const BUDGET: RequestBudget = RequestBudget { requests: 10_000, window_seconds: 3_600, concurrency: Some(3) };

/// The connector.
pub struct Autotask;

impl Connector for Autotask {
    type Session = AutotaskSession;

    fn info() -> ConnectorInfo {
        ConnectorInfo {
            id: "autotask".into(),
            display_name: "Autotask PSA".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            contract_version: CONTRACT_VERSION.into(),
            capabilities: vec![Capability::TestConnection, Capability::ListCustomers, Capability::M365TenantLinks],
            fields: form::fields(&config::FIELDS),
            allowed_hosts: vec![ALLOWED_HOSTS.into()],
            budget: Some(BUDGET),
            ticket_option_kinds: Vec::new(),
        }
    }

    fn test_connection(config: Vec<ConfigEntry>) -> Vec<CheckStep> {
        check::run(config, &mut client())
    }
}

/// One open connection: the zone is looked up on its first call.
pub struct AutotaskSession {
    api: api::Api,
    import: customers::Import,
}

impl psa_connector_sdk::Session for AutotaskSession {
    fn open(config: Vec<ConfigEntry>) -> Result<AutotaskSession, Error> {
        let cfg = config::parse(config)?;
        Ok(AutotaskSession { api: api::Api::new(cfg), import: customers::Import::default() })
    }

    fn list_customers(&mut self, cursor: Option<String>) -> Result<CustomerPage, Error> {
        self.import.page(&mut self.api, &mut client(), cursor.as_deref())
    }
}

fn client() -> WasiHttp {
    WasiHttp::new().max_body(api::MAX_BODY)
}

export_connector!(Autotask);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_declares_the_zone_hosts() {
        let i = Autotask::info();
        assert_eq!(i.allowed_hosts, vec!["https://*.autotask.net".to_string()]);
        assert_eq!(i.fields.len(), 8);
        assert!(!i.capabilities.contains(&Capability::CreateTicket));
        assert_eq!(i.contract_version, "0.2.0");
        let b = i.budget.expect("a budget");
        assert_eq!((b.requests, b.window_seconds, b.concurrency), (10_000, 3_600, Some(3)));
        let companies = i.fields.iter().find(|f| f.id == "all_companies").unwrap();
        assert_eq!(companies.kind, psa_connector_sdk::FieldKind::Choice);
        assert_eq!(companies.choices.iter().map(|c| c.value.as_str()).collect::<Vec<_>>(), ["active-customers", "all-companies"]);
        assert_eq!(companies.default_value.as_deref(), Some("active-customers"));
    }
}
