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
//! - tickets (contract 0.2.0): `POST Tickets` with one object, answered
//!   only `{"itemId"}`; picklist ids differ per database, so the option sets
//!   come from `entityInformation/fields`; plain-text bodies; the
//!   deduplication key in the ticket's `externalID`, or a `[key]` title tag
//!   where a database does not let tickets be found by `externalID` (see
//!   [`tickets`] for the reasons);
//! - customers changed since a time: either of the company's change dates
//!   (`lastTrackedModifiedDateTime`, `lastActivityDate`); where Autotask lets
//!   a query filter on only one of them, every company is read instead (one
//!   date alone could miss a change, such as a tenant id field edited without
//!   an activity), with a warning: complete, not cheaper. Unless every
//!   company is imported, a changed import returns the changed companies that
//!   are not active customers (vendors, prospects, a customer retyped or
//!   deactivated) as inactive customers, so that a customer whose type
//!   changed away from Customer reaches the platform as no longer active;
//! - tickets are never opened or offered with the Complete status (such a
//!   ticket would never be found open again); find-open reads every page of
//!   matches (up to 20, then an error) and re-checks each row's company,
//!   status and key rather than trust the server's filter; picklists longer
//!   than the platform takes ([`psa_connector_sdk::MAX_TICKET_OPTIONS`]) are
//!   an error, never cut;
//! - the connection test's tickets step also checks that the form's queue,
//!   or else the queue Autotask marks as default, is an active queue.
//!
//! Modules, leaves first: `messages` (every sentence), `config` (the form),
//! `api` (zone discovery, authenticated calls, errors), `customers` (the
//! query, rows, tenant links, paging, changed-since), `tickets` (tickets,
//! notes, option sets), `check` (`test-connection`). All of
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
    export_connector, form, Capability, CheckStep, ConfigEntry, Connector, ConnectorInfo, CustomerPage, Error, NewNote,
    NewTicket, NoteRef, NoteVisibility, OptionKind, RequestBudget, TicketOption, TicketRef, CONTRACT_VERSION,
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
            allowed_hosts: vec![ALLOWED_HOSTS.into()],
            budget: Some(BUDGET),
            ticket_option_kinds: tickets::Kind::ALL.iter().map(|k| option_kind(*k)).collect(),
        }
    }

    fn test_connection(config: Vec<ConfigEntry>) -> Vec<CheckStep> {
        check::run(config, &mut client())
    }
}

/// One open connection: the zone is looked up on its first call, the
/// ticket picklists on the first ticket call that needs them.
pub struct AutotaskSession {
    api: api::Api,
    import: customers::Import,
    tickets: tickets::Tickets,
}

/// The contract's option kind of a ticket option kind.
fn option_kind(k: tickets::Kind) -> OptionKind {
    match k {
        tickets::Kind::TicketType => OptionKind::TicketType,
        tickets::Kind::Priority => OptionKind::Priority,
        tickets::Kind::Queue => OptionKind::Queue,
        tickets::Kind::Status => OptionKind::Status,
        tickets::Kind::Outcome => OptionKind::Outcome,
    }
}

fn kind_of(k: OptionKind) -> tickets::Kind {
    match k {
        OptionKind::TicketType => tickets::Kind::TicketType,
        OptionKind::Priority => tickets::Kind::Priority,
        OptionKind::Queue => tickets::Kind::Queue,
        OptionKind::Status => tickets::Kind::Status,
        OptionKind::Outcome => tickets::Kind::Outcome,
    }
}

impl psa_connector_sdk::Session for AutotaskSession {
    fn open(config: Vec<ConfigEntry>) -> Result<AutotaskSession, Error> {
        let cfg = config::parse(config)?;
        let tickets = tickets::Tickets::new(cfg.key_field, cfg.ticket_queue.clone());
        Ok(AutotaskSession { api: api::Api::new(cfg), import: customers::Import::default(), tickets })
    }

    fn list_customers(&mut self, cursor: Option<String>) -> Result<CustomerPage, Error> {
        self.import.page(&mut self.api, &mut client(), cursor.as_deref())
    }

    fn list_customers_changed(&mut self, since_unix_seconds: u64, cursor: Option<String>) -> Result<CustomerPage, Error> {
        self.import.page_changed(&mut self.api, &mut client(), since_unix_seconds, cursor.as_deref())
    }

    fn create_ticket(&mut self, t: NewTicket) -> Result<TicketRef, Error> {
        let options = t.options.iter().map(|o| (kind_of(o.kind), o.id.clone())).collect();
        let nt = tickets::NewTicket {
            customer_id: &t.customer_id,
            summary: &t.summary,
            // Autotask stores plain text: the HTML form is not sent.
            text: &t.details.text,
            dedup_key: &t.dedup_key,
            options,
        };
        let f = self.tickets.create(&mut self.api, &mut client(), &nt)?;
        Ok(TicketRef { id: f.id, number: f.number, url: None })
    }

    fn find_open_ticket(&mut self, customer_id: &str, dedup_key: &str) -> Result<Option<TicketRef>, Error> {
        let f = self.tickets.find_open(&mut self.api, &mut client(), customer_id, dedup_key)?;
        Ok(f.map(|f| TicketRef { id: f.id, number: f.number, url: None }))
    }

    fn add_note(&mut self, ticket_id: &str, note: NewNote) -> Result<NoteRef, Error> {
        let public = note.visibility == NoteVisibility::Public;
        let id = self.tickets.add_note(&mut self.api, &mut client(), ticket_id, &note.body.text, public, note.outcome_id.as_deref())?;
        Ok(NoteRef { id })
    }

    fn ticket_options(&mut self, kind: OptionKind) -> Result<Vec<TicketOption>, Error> {
        let list = self.tickets.lists.options(&mut self.api, &mut client(), kind_of(kind))?;
        Ok(list.into_iter().map(|o| TicketOption { id: o.id, name: o.name, is_default: o.is_default }).collect())
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
        // The integration code authenticates like the secret: the host scrubs it, the platform never shows it back.
        let code = i.fields.iter().find(|f| f.id == "integration_code").unwrap();
        assert_eq!(code.kind, psa_connector_sdk::FieldKind::Secret);
        for c in [Capability::CreateTicket, Capability::TicketDedup, Capability::TicketOptions, Capability::CustomersChangedSince] {
            assert!(i.capabilities.contains(&c), "{c:?}");
        }
        assert_eq!(i.ticket_option_kinds.len(), 5);
        let key = i.fields.iter().find(|f| f.id == "ticket_key_field").unwrap();
        assert_eq!(key.choices.iter().map(|c| c.value.as_str()).collect::<Vec<_>>(), ["external-id", "title"]);
        let queue = i.fields.iter().find(|f| f.id == "ticket_queue_id").unwrap();
        assert_eq!((queue.kind, queue.range.map(|r| (r.min, r.max))), (psa_connector_sdk::FieldKind::Number, Some((1, 2_147_483_647))));
        assert_eq!(i.contract_version, "0.2.0");
        let b = i.budget.expect("a budget");
        assert_eq!((b.requests, b.window_seconds, b.concurrency), (10_000, 3_600, Some(3)));
        let companies = i.fields.iter().find(|f| f.id == "all_companies").unwrap();
        assert_eq!(companies.kind, psa_connector_sdk::FieldKind::Choice);
        assert_eq!(companies.choices.iter().map(|c| c.value.as_str()).collect::<Vec<_>>(), ["active-customers", "all-companies"]);
        assert_eq!(companies.default_value.as_deref(), Some("active-customers"));
    }
}
