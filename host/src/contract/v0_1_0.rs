//! Contract `optimize365:psa-connector@0.1.0` (the WIT in `wit/0.1.0/`):
//! its generated bindings, kept private to this module, and the conversions
//! between their types and the host's own ([`crate::types`]).
//!
//! What leaves this module is host types only: [`Pre`] and [`Instance`]
//! wrap the generated handles, and [`Instance`] answers through
//! [`ConnectorApi`]. Conversions do not scrub secrets: that is the
//! session's policy, applied to the host types after the call.

use super::{ConnectorApi, SessionHandle};
use crate::ctx::SessionState;
use crate::types::{
    CheckStep, ConfigField, ConnectorError, ConnectorInfo, Customer, CustomerPage, FieldKind, NetworkStage, NewNote,
    NewTicket, NoteRef, OptionKind, StepStatus, TenantLink, TicketOption, TicketRef, Warning,
};
use wasmtime::component::InstancePre;
use wasmtime::Store;

/// The generated bindings. `wasi:*` types come from wasmtime-wasi and
/// wasmtime-wasi-http, so the linker's WASI implementation serves them.
mod generated {
    wasmtime::component::bindgen!({
        path: "../wit/0.1.0",
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
/// (`optimize365:psa-connector/connector@0.1.0`) and in `connector-info`.
pub(crate) const VERSION: &str = "0.1.0";

/// A component pre-instantiated against the 0.1.0 world.
#[derive(Clone)]
pub(crate) struct Pre(generated::PsaConnectorPre<SessionState>);

impl Pre {
    /// Fails when the component does not export the 0.1.0 `connector`
    /// interface with the expected types.
    pub(crate) fn new(pre: InstancePre<SessionState>) -> wasmtime::Result<Self> {
        generated::PsaConnectorPre::new(pre).map(Pre)
    }

    /// Instantiates the component in `store` (runs its start functions).
    pub(crate) async fn instantiate(&self, store: &mut Store<SessionState>) -> wasmtime::Result<Instance> {
        self.0.instantiate_async(store).await.map(Instance)
    }
}

/// An instance of a 0.1.0 connector.
pub(crate) struct Instance(generated::PsaConnector);

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
        let opened = self.0.optimize365_psa_connector_connector().session().call_open(store, &entries(config)).await?;
        Ok(opened.map(SessionHandle).map_err(ConnectorError::from))
    }

    async fn list_customers(
        &self,
        store: &mut Store<SessionState>,
        session: SessionHandle,
        cursor: Option<&str>,
    ) -> wasmtime::Result<Result<CustomerPage, ConnectorError>> {
        let page = self
            .0
            .optimize365_psa_connector_connector()
            .session()
            .call_list_customers(store, session.0, cursor)
            .await?;
        Ok(page.map(CustomerPage::from).map_err(ConnectorError::from))
    }

    async fn create_ticket(
        &self,
        store: &mut Store<SessionState>,
        session: SessionHandle,
        ticket: &NewTicket,
    ) -> wasmtime::Result<Result<TicketRef, ConnectorError>> {
        let created = self
            .0
            .optimize365_psa_connector_connector()
            .session()
            .call_create_ticket(store, session.0, &ticket.into())
            .await?;
        Ok(created.map(|r| TicketRef { id: r.id, number: None, url: None }).map_err(ConnectorError::from))
    }

    // 0.1.0 has none of the following calls. The session answers them with
    // `HostError::NotOffered` before it gets here; these answers only keep
    // a caller that skipped that check from reaching the guest.

    async fn list_customers_changed(
        &self,
        _: &mut Store<SessionState>,
        _: SessionHandle,
        _: u64,
        _: Option<&str>,
    ) -> wasmtime::Result<Result<CustomerPage, ConnectorError>> {
        Ok(Err(not_in_0_1_0("session.list-customers-changed")))
    }

    async fn find_open_ticket(
        &self,
        _: &mut Store<SessionState>,
        _: SessionHandle,
        _: &str,
        _: &str,
    ) -> wasmtime::Result<Result<Option<TicketRef>, ConnectorError>> {
        Ok(Err(not_in_0_1_0("session.find-open-ticket")))
    }

    async fn add_note(
        &self,
        _: &mut Store<SessionState>,
        _: SessionHandle,
        _: &str,
        _: &NewNote,
    ) -> wasmtime::Result<Result<NoteRef, ConnectorError>> {
        Ok(Err(not_in_0_1_0("session.add-note")))
    }

    async fn ticket_options(
        &self,
        _: &mut Store<SessionState>,
        _: SessionHandle,
        _: OptionKind,
    ) -> wasmtime::Result<Result<Vec<TicketOption>, ConnectorError>> {
        Ok(Err(not_in_0_1_0("session.ticket-options")))
    }

    async fn close(&self, store: &mut Store<SessionState>, session: SessionHandle) -> wasmtime::Result<()> {
        session.0.resource_drop_async(store).await
    }
}

fn not_in_0_1_0(call: &str) -> ConnectorError {
    ConnectorError::NotSupported {
        message: format!("`{call}`: capability not offered by this connector (contract {VERSION})"),
    }
}

// ---- conversions: contract 0.1.0 -> host ----

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
                    choices: Vec::new(),
                    range: None,
                })
                .collect(),
            allowed_hosts: i.allowed_hosts,
            budget: None,
            ticket_option_kinds: Vec::new(),
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
        }
    }
}

// ---- conversions: host -> contract 0.1.0 ----

/// 0.1.0's ticket carries an HTML body and two options only: the body is
/// the HTML form, or the text escaped as HTML; the ticket type and priority
/// come from the chosen options, and the other kinds and the deduplication
/// key are dropped (a 0.1.0 connector cannot deduplicate).
impl From<&NewTicket> for wit::NewTicket {
    fn from(t: &NewTicket) -> Self {
        wit::NewTicket {
            customer_id: t.customer_id.clone(),
            summary: t.summary.clone(),
            details_html: t.details.to_html(),
            ticket_type_id: t.option(OptionKind::TicketType).map(str::to_string),
            priority_id: t.option(OptionKind::Priority).map(str::to_string),
        }
    }
}
