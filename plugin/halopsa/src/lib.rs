//! HaloPSA connector: the contract's functions over the modules that decide.
//!
//! Everything that decides something lives in the other modules, which are
//! plain Rust over the SDK's [`Transport`](http::Transport) and unit-tested
//! natively with scripted answers; this file only connects them to the SDK's
//! [`Connector`] and [`Session`](psa_connector_sdk::Session) traits.
//!
//! Modules, leaves first: `messages` (every sentence), `field` (reading one
//! JSON field, Halo's ids), `answer` (reading Halo's answers: HTML, errors,
//! `Retry-After`), `config`, `http` (network failures in Halo's words),
//! `discover` (authinfo) < `auth` (tokens) < `api` (authenticated calls),
//! `tenants` < `customers`, `pagination`, `session`, `check`, `tickets`
//! (tickets opened once per finding, notes, option lists: its doc says
//! which Halo fields and calls, and why).

pub mod answer;
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

use psa_connector_sdk::{
    export_connector, form, Capability, CheckStep, ConfigEntry, Connector, ConnectorInfo, CustomerPage, NewNote,
    NewTicket, NoteRef, NoteVisibility, OptionKind, RequestBudget, TicketOption, TicketRef,
};
// The contract's data types, as the modules name them (`crate::types::Customer`).
pub(crate) use psa_connector_sdk as types;

pub use psa_connector_sdk::CONTRACT_VERSION;

use error::Error;

/// Halo's published rate limit: 300 requests in any 5 minutes per
/// instance; it sets no limit on requests in flight.
pub const BUDGET: RequestBudget = RequestBudget { requests: 300, window_seconds: 300, concurrency: None };

/// The connector.
pub struct HaloPsa;

impl Connector for HaloPsa {
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
                Capability::TicketDedup,
                Capability::TicketOptions,
                Capability::CustomersChangedSince,
            ],
            fields: form::fields(&config::FIELDS),
            allowed_hosts: Vec::new(),
            budget: Some(BUDGET),
            ticket_option_kinds: vec![OptionKind::TicketType, OptionKind::Priority, OptionKind::Status, OptionKind::Outcome],
        }
    }

    fn test_connection(config: Vec<ConfigEntry>) -> Vec<CheckStep> {
        check::run(&entries(config), &mut http::client())
    }
}

/// One open connection.
pub struct HaloSession {
    state: session::State,
}

impl psa_connector_sdk::Session for HaloSession {
    fn open(config: Vec<ConfigEntry>) -> Result<HaloSession, Error> {
        let cfg = config::parse(&entries(config))?;
        Ok(HaloSession { state: session::State::new(cfg) })
    }

    fn list_customers(&mut self, cursor: Option<String>) -> Result<CustomerPage, Error> {
        self.state.list_customers(&mut http::client(), cursor.as_deref())
    }

    fn list_customers_changed(&mut self, since_unix_seconds: u64, cursor: Option<String>) -> Result<CustomerPage, Error> {
        self.state.list_customers_changed(&mut http::client(), since_unix_seconds, cursor.as_deref())
    }

    fn create_ticket(&mut self, ticket: NewTicket) -> Result<TicketRef, Error> {
        let mut net = http::client();
        let draft = tickets::draft(&ticket)?;
        let id = tickets::create(&mut self.state.api(&mut net), &draft)?;
        Ok(self.ticket_ref(id))
    }

    fn find_open_ticket(&mut self, customer_id: &str, dedup_key: &str) -> Result<Option<TicketRef>, Error> {
        let mut net = http::client();
        let found = tickets::find_open(&mut self.state.api(&mut net), customer_id, dedup_key)?;
        Ok(found.map(|id| self.ticket_ref(id)))
    }

    fn add_note(&mut self, ticket_id: &str, note: NewNote) -> Result<NoteRef, Error> {
        let mut net = http::client();
        let private = note.visibility == NoteVisibility::Private;
        let id = tickets::add_note(
            &mut self.state.api(&mut net),
            ticket_id,
            &note.body.text,
            note.body.html.as_deref(),
            private,
            note.outcome_id.as_deref(),
        )?;
        Ok(NoteRef { id })
    }

    fn ticket_options(&mut self, kind: OptionKind) -> Result<Vec<TicketOption>, Error> {
        let halo_kind = tickets::HaloOption::of(kind)?;
        let mut net = http::client();
        let rows = tickets::options(&mut self.state.api(&mut net), halo_kind)?;
        Ok(rows.into_iter().map(|(id, name, is_default)| TicketOption { id, name, is_default }).collect())
    }
}

impl HaloSession {
    /// A ticket's reference: its id (also the number people see) and its link.
    fn ticket_ref(&self, id: String) -> TicketRef {
        let url = Some(tickets::ticket_url(&self.state.cfg().resource.url, &id));
        TicketRef { id, number: None, url }
    }
}

fn entries(config: Vec<ConfigEntry>) -> Vec<(String, String)> {
    config.into_iter().map(|e| (e.id, e.value)).collect()
}

export_connector!(HaloPsa);
