//! The host's own view of what connectors exchange, independent of the
//! contract version a connector was built against. Serialisable: the CLI
//! writes these as JSON, NDJSON and CSV.

use crate::bindings::v0_1_0::wit;
use serde::Serialize;

/// What kind of input a form field takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    Url,
    Text,
    Secret,
    Flag,
}

/// One field of the connection form.
#[derive(Clone, Debug, Serialize)]
pub struct ConfigField {
    pub id: String,
    pub label: String,
    pub help: String,
    pub kind: FieldKind,
    pub required: bool,
    pub default_value: Option<String>,
}

/// A connector's self-description.
#[derive(Clone, Debug, Serialize)]
pub struct ConnectorInfo {
    pub id: String,
    pub display_name: String,
    pub version: String,
    pub contract_version: String,
    pub capabilities: Vec<String>,
    pub fields: Vec<ConfigField>,
    pub allowed_hosts: Vec<String>,
}

impl ConnectorInfo {
    /// The field with this id.
    pub fn field(&self, id: &str) -> Option<&ConfigField> {
        self.fields.iter().find(|f| f.id == id)
    }
}

/// Outcome of one connection-test step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Passed,
    Failed,
    Skipped,
}

/// One step of a connection test.
#[derive(Clone, Debug, Serialize)]
pub struct CheckStep {
    pub id: String,
    pub label: String,
    pub status: StepStatus,
    pub message: String,
}

/// A Microsoft 365 tenant linked to a customer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TenantLink {
    pub tenant_id: String,
    pub name: Option<String>,
    pub domain: Option<String>,
}

/// A customer; serialises with exactly the keys of the import format.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub active: bool,
    pub parent_id: Option<String>,
    pub parent_name: Option<String>,
    pub website: Option<String>,
    pub domains: Vec<String>,
    pub m365_tenants: Vec<TenantLink>,
}

impl Customer {
    /// Roughly the bytes this customer occupies in the host: its text plus
    /// a fixed allowance per value.
    pub fn held_bytes(&self) -> u64 {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, |s| s.len());
        let text = self.id.len()
            + self.name.len()
            + opt(&self.parent_id)
            + opt(&self.parent_name)
            + opt(&self.website)
            + self.domains.iter().map(|d| d.len() + 24).sum::<usize>()
            + self.m365_tenants.iter().map(|t| t.tenant_id.len() + opt(&t.name) + opt(&t.domain) + 72).sum::<usize>();
        (text + std::mem::size_of::<Customer>()) as u64
    }
}

/// Something worth knowing about an import.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub code: String,
    pub message: String,
    pub customer_id: Option<String>,
}

impl Warning {
    /// Roughly the bytes this warning occupies in the host.
    pub fn held_bytes(&self) -> u64 {
        let text = self.code.len() + self.message.len() + self.customer_id.as_ref().map_or(0, |s| s.len());
        (text + std::mem::size_of::<Warning>()) as u64
    }
}

/// One page of customers.
#[derive(Clone, Debug)]
pub struct CustomerPage {
    pub customers: Vec<Customer>,
    pub warnings: Vec<Warning>,
    pub next_cursor: Option<String>,
    pub fetched: u64,
    pub total: Option<u64>,
}

/// A ticket to open.
#[derive(Clone, Debug, Default)]
pub struct NewTicket {
    pub customer_id: String,
    pub summary: String,
    pub details_html: String,
    pub ticket_type_id: Option<String>,
    pub priority_id: Option<String>,
}

/// Where reaching a host failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkStage {
    Dns,
    Connect,
    Tls,
    Timeout,
}

/// A connector's typed error (the contract's `connector-error`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ConnectorError {
    InvalidConfig { field: String, message: String },
    Unreachable { host: String, stage: NetworkStage, message: String },
    Unauthorized { message: String },
    Forbidden { permission: String, message: String },
    RateLimited { retry_after_seconds: Option<u32>, message: String },
    Upstream { status: u16, endpoint: String, message: String },
    Protocol { endpoint: String, message: String },
    Internal { message: String },
}

impl ConnectorError {
    /// The contract's name of the variant.
    pub fn kind(&self) -> &'static str {
        match self {
            ConnectorError::InvalidConfig { .. } => "invalid-config",
            ConnectorError::Unreachable { .. } => "unreachable",
            ConnectorError::Unauthorized { .. } => "unauthorized",
            ConnectorError::Forbidden { .. } => "forbidden",
            ConnectorError::RateLimited { .. } => "rate-limited",
            ConnectorError::Upstream { .. } => "upstream",
            ConnectorError::Protocol { .. } => "protocol",
            ConnectorError::Internal { .. } => "internal",
        }
    }

    /// Every text field scrubbed: a connector may put a secret in any of
    /// them (a host name built from a secret, say), not only the message.
    fn scrub(self, secrets: &[String]) -> Self {
        let s = |m: String| crate::redact::scrub(&m, secrets);
        match self {
            ConnectorError::InvalidConfig { field, message } => ConnectorError::InvalidConfig { field: s(field), message: s(message) },
            ConnectorError::Unreachable { host, stage, message } => {
                ConnectorError::Unreachable { host: s(host), stage, message: s(message) }
            }
            ConnectorError::Unauthorized { message } => ConnectorError::Unauthorized { message: s(message) },
            ConnectorError::Forbidden { permission, message } => {
                ConnectorError::Forbidden { permission: s(permission), message: s(message) }
            }
            ConnectorError::RateLimited { retry_after_seconds, message } => ConnectorError::RateLimited { retry_after_seconds, message: s(message) },
            ConnectorError::Upstream { status, endpoint, message } => {
                ConnectorError::Upstream { status, endpoint: s(endpoint), message: s(message) }
            }
            ConnectorError::Protocol { endpoint, message } => ConnectorError::Protocol { endpoint: s(endpoint), message: s(message) },
            ConnectorError::Internal { message } => ConnectorError::Internal { message: s(message) },
        }
    }
}

impl std::fmt::Display for ConnectorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectorError::InvalidConfig { field, message } => write!(f, "invalid configuration, field `{field}`: {message}"),
            ConnectorError::Unreachable { host, stage, message } => {
                let stage = match stage {
                    NetworkStage::Dns => "DNS lookup failed",
                    NetworkStage::Connect => "could not connect",
                    NetworkStage::Tls => "TLS handshake failed",
                    NetworkStage::Timeout => "timed out",
                };
                write!(f, "{host} unreachable ({stage}): {message}")
            }
            ConnectorError::Unauthorized { message } => write!(f, "credentials rejected: {message}"),
            ConnectorError::Forbidden { permission, message } => write!(f, "permission `{permission}` missing: {message}"),
            ConnectorError::RateLimited { retry_after_seconds: Some(s), message } => write!(f, "rate limited (retry after {s} s): {message}"),
            ConnectorError::RateLimited { retry_after_seconds: None, message } => write!(f, "rate limited: {message}"),
            ConnectorError::Upstream { status, endpoint, message } => write!(f, "the PSA answered HTTP {status} on {endpoint}: {message}"),
            ConnectorError::Protocol { endpoint, message } => write!(f, "unexpected answer from {endpoint}: {message}"),
            ConnectorError::Internal { message } => write!(f, "connector internal error: {message}"),
        }
    }
}

// ---- conversions from contract 0.1.0 ----

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
                })
                .collect(),
            allowed_hosts: i.allowed_hosts,
        }
    }
}

pub(crate) fn check_step(s: wit::CheckStep, secrets: &[String]) -> CheckStep {
    CheckStep {
        id: crate::redact::scrub(&s.id, secrets),
        label: crate::redact::scrub(&s.label, secrets),
        status: match s.status {
            wit::StepStatus::Passed => StepStatus::Passed,
            wit::StepStatus::Failed => StepStatus::Failed,
            wit::StepStatus::Skipped => StepStatus::Skipped,
        },
        message: crate::redact::scrub(&s.message, secrets),
    }
}

pub(crate) fn customer_page(p: wit::CustomerPage, secrets: &[String]) -> CustomerPage {
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
            .map(|w| Warning { code: w.code, message: crate::redact::scrub(&w.message, secrets), customer_id: w.customer_id })
            .collect(),
        next_cursor: p.next_cursor,
        fetched: p.fetched,
        total: p.total,
    }
}

pub(crate) fn connector_error(e: wit::ConnectorError, secrets: &[String]) -> ConnectorError {
    let e = match e {
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
        wit::ConnectorError::RateLimited(r) => ConnectorError::RateLimited { retry_after_seconds: r.retry_after_seconds, message: r.message },
        wit::ConnectorError::Upstream(u) => ConnectorError::Upstream { status: u.status, endpoint: u.endpoint, message: u.message },
        wit::ConnectorError::Protocol(p) => ConnectorError::Protocol { endpoint: p.endpoint, message: p.message },
        wit::ConnectorError::Internal(m) => ConnectorError::Internal { message: m },
    };
    e.scrub(secrets)
}

pub(crate) fn new_ticket(t: &NewTicket) -> wit::NewTicket {
    wit::NewTicket {
        customer_id: t.customer_id.clone(),
        summary: t.summary.clone(),
        details_html: t.details_html.clone(),
        ticket_type_id: t.ticket_type_id.clone(),
        priority_id: t.priority_id.clone(),
    }
}
