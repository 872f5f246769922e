//! Contract `optimize365:psa-connector@0.2.0` (the WIT in `wit/0.2.0/`):
//! its generated bindings, kept private to this module, and the conversions
//! between their types and the host's own ([`crate::types`]).
//!
//! What leaves this module is host types only: [`Pre`] and [`Instance`]
//! wrap the generated handles, and [`Instance`] answers through
//! [`ConnectorApi`]. Conversions do not scrub secrets nor check sizes: that
//! is the session's policy, applied to the host types after the call.

use super::{ConnectorApi, SessionHandle};
use crate::ctx::SessionState;
use crate::types::{
    CheckStep, ConfigField, ConnectorError, ConnectorInfo, Customer, CustomerPage, FieldChoice, FieldKind,
    NetworkStage, NewNote, NewTicket, NoteRef, NoteVisibility, NumberRange, OptionKind, RequestBudget, StepStatus,
    TenantLink, TicketOption, TicketRef, Warning,
};
use wasmtime::component::InstancePre;
use wasmtime::Store;

/// The generated bindings. `wasi:*` types come from wasmtime-wasi and
/// wasmtime-wasi-http, so the linker's WASI implementation serves them.
mod generated {
    wasmtime::component::bindgen!({
        path: "../wit/0.2.0",
        world: "psa-connector",
        exports: { default: async },
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        },
        require_store_data_send: true,
    });
}

use generated::optimize365::psa_connector::types as wit;

/// The version string, as in the exported interface's name
/// (`optimize365:psa-connector/connector@0.2.0`) and in `connector-info`.
pub(crate) const VERSION: &str = "0.2.0";

/// A component pre-instantiated against the 0.2.0 world.
#[derive(Clone)]
pub(crate) struct Pre(generated::PsaConnectorPre<SessionState>);

impl Pre {
    /// Fails when the component does not export the 0.2.0 `connector`
    /// interface with the expected types.
    pub(crate) fn new(pre: InstancePre<SessionState>) -> wasmtime::Result<Self> {
        generated::PsaConnectorPre::new(pre).map(Pre)
    }

    /// Instantiates the component in `store` (runs its start functions).
    pub(crate) async fn instantiate(&self, store: &mut Store<SessionState>) -> wasmtime::Result<Instance> {
        self.0.instantiate_async(store).await.map(Instance)
    }
}

/// An instance of a 0.2.0 connector.
pub(crate) struct Instance(generated::PsaConnector);

impl Instance {
    fn session(&self) -> generated::exports::optimize365::psa_connector::connector::GuestSession<'_> {
        self.0.optimize365_psa_connector_connector().session()
    }
}

impl ConnectorApi for Instance {
    async fn info(&self, store: &mut Store<SessionState>) -> wasmtime::Result<ConnectorInfo> {
        Ok(self.0.optimize365_psa_connector_connector().call_info(store).await?.into())
    }

    async fn test_connection(
        &self,
        store: &mut Store<SessionState>,
        config: &[(String, String)],
    ) -> wasmtime::Result<Vec<CheckStep>> {
        let steps = self.0.optimize365_psa_connector_connector().call_test_connection(store, &entries(config)).await?;
        Ok(steps.into_iter().map(CheckStep::from).collect())
    }

    async fn open_session(
        &self,
        store: &mut Store<SessionState>,
        config: &[(String, String)],
    ) -> wasmtime::Result<Result<SessionHandle, ConnectorError>> {
        let opened = self.session().call_open(store, &entries(config)).await?;
        Ok(opened.map(SessionHandle).map_err(ConnectorError::from))
    }

    async fn list_customers(
        &self,
        store: &mut Store<SessionState>,
        session: SessionHandle,
        cursor: Option<&str>,
    ) -> wasmtime::Result<Result<CustomerPage, ConnectorError>> {
        let page = self.session().call_list_customers(store, session.0, cursor).await?;
        Ok(page.map(CustomerPage::from).map_err(ConnectorError::from))
    }

    async fn list_customers_changed(
        &self,
        store: &mut Store<SessionState>,
        session: SessionHandle,
        since: u64,
        cursor: Option<&str>,
    ) -> wasmtime::Result<Result<CustomerPage, ConnectorError>> {
        let page = self.session().call_list_customers_changed(store, session.0, since, cursor).await?;
        Ok(page.map(CustomerPage::from).map_err(ConnectorError::from))
    }

    async fn create_ticket(
        &self,
        store: &mut Store<SessionState>,
        session: SessionHandle,
        ticket: &NewTicket,
    ) -> wasmtime::Result<Result<TicketRef, ConnectorError>> {
        let created = self.session().call_create_ticket(store, session.0, &ticket.into()).await?;
        Ok(created.map(TicketRef::from).map_err(ConnectorError::from))
    }

    async fn find_open_ticket(
        &self,
        store: &mut Store<SessionState>,
        session: SessionHandle,
        customer_id: &str,
        dedup_key: &str,
    ) -> wasmtime::Result<Result<Option<TicketRef>, ConnectorError>> {
        let found = self.session().call_find_open_ticket(store, session.0, customer_id, dedup_key).await?;
        Ok(found.map(|t| t.map(TicketRef::from)).map_err(ConnectorError::from))
    }

    async fn add_note(
        &self,
        store: &mut Store<SessionState>,
        session: SessionHandle,
        ticket_id: &str,
        note: &NewNote,
    ) -> wasmtime::Result<Result<NoteRef, ConnectorError>> {
        let added = self.session().call_add_note(store, session.0, ticket_id, &note.into()).await?;
        Ok(added.map(|n| NoteRef { id: n.id }).map_err(ConnectorError::from))
    }

    async fn ticket_options(
        &self,
        store: &mut Store<SessionState>,
        session: SessionHandle,
        kind: OptionKind,
    ) -> wasmtime::Result<Result<Vec<TicketOption>, ConnectorError>> {
        let listed = self.session().call_ticket_options(store, session.0, kind.into()).await?;
        Ok(listed
            .map(|l| l.into_iter().map(|o| TicketOption { id: o.id, name: o.name, is_default: o.is_default }).collect())
            .map_err(ConnectorError::from))
    }

    async fn close(&self, store: &mut Store<SessionState>, session: SessionHandle) -> wasmtime::Result<()> {
        session.0.resource_drop_async(store).await
    }
}

// ---- conversions: contract 0.2.0 -> host ----

fn entries(config: &[(String, String)]) -> Vec<wit::ConfigEntry> {
    config.iter().map(|(k, v)| wit::ConfigEntry { id: k.clone(), value: v.clone() }).collect()
}

impl From<wit::FieldKind> for FieldKind {
    fn from(k: wit::FieldKind) -> Self {
        match k {
            wit::FieldKind::Url => FieldKind::Url,
            wit::FieldKind::Text => FieldKind::Text,
            wit::FieldKind::Secret => FieldKind::Secret,
            wit::FieldKind::Flag => FieldKind::Flag,
            wit::FieldKind::Choice => FieldKind::Choice,
            wit::FieldKind::Number => FieldKind::Number,
        }
    }
}

impl From<wit::OptionKind> for OptionKind {
    fn from(k: wit::OptionKind) -> Self {
        match k {
            wit::OptionKind::TicketType => OptionKind::TicketType,
            wit::OptionKind::Priority => OptionKind::Priority,
            wit::OptionKind::Queue => OptionKind::Queue,
            wit::OptionKind::Status => OptionKind::Status,
            wit::OptionKind::Outcome => OptionKind::Outcome,
        }
    }
}

impl From<wit::ConnectorInfo> for ConnectorInfo {
    fn from(i: wit::ConnectorInfo) -> Self {
        ConnectorInfo {
            id: i.id,
            display_name: i.display_name,
            version: i.version,
            contract_version: i.contract_version,
            capabilities: i
                .capabilities
                .into_iter()
                .map(|c| {
                    match c {
                        wit::Capability::TestConnection => "test-connection",
                        wit::Capability::ListCustomers => "list-customers",
                        wit::Capability::M365TenantLinks => "m365-tenant-links",
                        wit::Capability::CreateTicket => "create-ticket",
                        wit::Capability::TicketDedup => "ticket-dedup",
                        wit::Capability::TicketOptions => "ticket-options",
                        wit::Capability::CustomersChangedSince => "customers-changed-since",
                    }
                    .to_string()
                })
                .collect(),
            fields: i
                .fields
                .into_iter()
                .map(|f| ConfigField {
                    id: f.id,
                    label: f.label,
                    help: f.help,
                    kind: f.kind.into(),
                    required: f.required,
                    default_value: f.default_value,
                    choices: f.choices.into_iter().map(|c| FieldChoice { value: c.value, label: c.label }).collect(),
                    range: f.range.map(|r| NumberRange { min: r.min, max: r.max }),
                })
                .collect(),
            allowed_hosts: i.allowed_hosts,
            budget: i.budget.map(|b| RequestBudget {
                requests: b.requests,
                window_seconds: b.window_seconds,
                concurrency: b.concurrency,
            }),
            ticket_option_kinds: i.ticket_option_kinds.into_iter().map(OptionKind::from).collect(),
        }
    }
}

impl From<wit::CheckStep> for CheckStep {
    fn from(s: wit::CheckStep) -> Self {
        CheckStep {
            id: s.id,
            label: s.label,
            status: match s.status {
                wit::StepStatus::Passed => StepStatus::Passed,
                wit::StepStatus::Failed => StepStatus::Failed,
                wit::StepStatus::Skipped => StepStatus::Skipped,
            },
            message: s.message,
        }
    }
}

impl From<wit::CustomerPage> for CustomerPage {
    fn from(p: wit::CustomerPage) -> Self {
        CustomerPage {
            customers: p
                .customers
                .into_iter()
                .map(|c| Customer {
                    id: c.id,
                    name: c.name,
                    active: c.active,
                    parent_id: c.parent_id,
                    parent_name: c.parent_name,
                    website: c.website,
                    domains: c.domains,
                    m365_tenants: c
                        .m365_tenants
                        .into_iter()
                        .map(|t| TenantLink { tenant_id: t.tenant_id, name: t.name, domain: t.domain })
                        .collect(),
                })
                .collect(),
            warnings: p
                .warnings
                .into_iter()
                .map(|w| Warning { code: w.code, message: w.message, customer_id: w.customer_id })
                .collect(),
            next_cursor: p.next_cursor,
            fetched: p.fetched,
            total: p.total,
        }
    }
}

impl From<wit::TicketRef> for TicketRef {
    fn from(t: wit::TicketRef) -> Self {
        TicketRef { id: t.id, number: t.number, url: t.url }
    }
}

impl From<wit::ConnectorError> for ConnectorError {
    fn from(e: wit::ConnectorError) -> Self {
        match e {
            wit::ConnectorError::InvalidConfig(c) => ConnectorError::InvalidConfig { field: c.field, message: c.message },
            wit::ConnectorError::Unreachable(u) => ConnectorError::Unreachable {
                host: u.host,
                stage: match u.stage {
                    wit::NetworkStage::Dns => NetworkStage::Dns,
                    wit::NetworkStage::Connect => NetworkStage::Connect,
                    wit::NetworkStage::Tls => NetworkStage::Tls,
                    wit::NetworkStage::Timeout => NetworkStage::Timeout,
                },
                message: u.message,
            },
            wit::ConnectorError::Unauthorized(m) => ConnectorError::Unauthorized { message: m },
            wit::ConnectorError::Forbidden(f) => ConnectorError::Forbidden { permission: f.permission, message: f.message },
            wit::ConnectorError::RateLimited(r) => {
                ConnectorError::RateLimited { retry_after_seconds: r.retry_after_seconds, message: r.message }
            }
            wit::ConnectorError::Upstream(u) => {
                ConnectorError::Upstream { status: u.status, endpoint: u.endpoint, message: u.message }
            }
            wit::ConnectorError::Protocol(p) => ConnectorError::Protocol { endpoint: p.endpoint, message: p.message },
            wit::ConnectorError::Internal(m) => ConnectorError::Internal { message: m },
            wit::ConnectorError::NotFound(m) => ConnectorError::NotFound { message: m },
            wit::ConnectorError::NotSupported(m) => ConnectorError::NotSupported { message: m },
        }
    }
}

// ---- conversions: host -> contract 0.2.0 ----

impl From<OptionKind> for wit::OptionKind {
    fn from(k: OptionKind) -> Self {
        match k {
            OptionKind::TicketType => wit::OptionKind::TicketType,
            OptionKind::Priority => wit::OptionKind::Priority,
            OptionKind::Queue => wit::OptionKind::Queue,
            OptionKind::Status => wit::OptionKind::Status,
            OptionKind::Outcome => wit::OptionKind::Outcome,
        }
    }
}

fn body(b: &crate::types::TicketBody) -> wit::TicketBody {
    wit::TicketBody { text: b.text.clone(), html: b.html.clone() }
}

impl From<&NewTicket> for wit::NewTicket {
    fn from(t: &NewTicket) -> Self {
        wit::NewTicket {
            customer_id: t.customer_id.clone(),
            summary: t.summary.clone(),
            details: body(&t.details),
            dedup_key: t.dedup_key.clone(),
            options: t.options.iter().map(|o| wit::OptionChoice { kind: o.kind.into(), id: o.id.clone() }).collect(),
        }
    }
}

impl From<&NewNote> for wit::NewNote {
    fn from(n: &NewNote) -> Self {
        wit::NewNote {
            body: body(&n.body),
            visibility: match n.visibility {
                NoteVisibility::Private => wit::NoteVisibility::Private,
                NoteVisibility::Public => wit::NoteVisibility::Public,
            },
            outcome_id: n.outcome_id.clone(),
        }
    }
}
