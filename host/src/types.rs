//! The host's own view of what connectors exchange, independent of the
//! contract version a connector was built against: each version's module in
//! `crate::contract` converts its generated types into these (this file
//! names none of them). Serialisable: the CLI writes these as JSON, NDJSON
//! and CSV.

use serde::Serialize;

/// What kind of input a form field takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    /// A URL; its origin joins the session's allow-list.
    Url,
    /// Plain text.
    Text,
    /// A secret: scrubbed from every log line, error and output.
    Secret,
    /// A yes/no switch (`true`/`false`).
    Flag,
}

/// One field of the connection form.
#[derive(Clone, Debug, Serialize)]
pub struct ConfigField {
    /// The stable id values are stored under (`client_secret`).
    pub id: String,
    /// The label a form shows.
    pub label: String,
    /// Where the value is found, for the person filling in the form.
    pub help: String,
    /// What kind of input it takes.
    pub kind: FieldKind,
    /// Whether the connection needs a value.
    pub required: bool,
    /// The value used when none is given.
    pub default_value: Option<String>,
}

/// A connector's self-description.
#[derive(Clone, Debug, Serialize)]
pub struct ConnectorInfo {
    /// A stable identifier (`halopsa`); names the connector in messages.
    pub id: String,
    /// The name people read (`HaloPSA`).
    pub display_name: String,
    /// The connector's own version.
    pub version: String,
    /// The psa-connector contract version it was built against (`0.1.0`).
    pub contract_version: String,
    /// What it can do, by the contract's names (`list-customers`, ...).
    pub capabilities: Vec<String>,
    /// Its connection form.
    pub fields: Vec<ConfigField>,
    /// Hosts it may reach besides its URL fields' origins, as read once at
    /// load and normalised by the host.
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
    /// The step worked.
    Passed,
    /// The step failed; its message says why and what to do.
    Failed,
    /// The step was not tried (an earlier one failed, or it does not apply).
    Skipped,
}

/// One step of a connection test.
#[derive(Clone, Debug, Serialize)]
pub struct CheckStep {
    /// A stable id of the step (`credentials-accepted`).
    pub id: String,
    /// What the step checks, for people.
    pub label: String,
    /// How it went.
    pub status: StepStatus,
    /// The finding; for a failure, the likely fix.
    pub message: String,
}

/// A Microsoft 365 tenant linked to a customer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TenantLink {
    /// The tenant id: a GUID in lower case.
    pub tenant_id: String,
    /// The tenant's name, when the PSA knows it.
    pub name: Option<String>,
    /// The tenant's primary domain, when the PSA knows it.
    pub domain: Option<String>,
}

/// A customer; serialises with exactly the keys of the import format.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Customer {
    /// The PSA's id of the customer.
    pub id: String,
    /// The customer's name.
    pub name: String,
    /// Whether the PSA marks the customer active.
    pub active: bool,
    /// The id of the group the customer belongs to.
    pub parent_id: Option<String>,
    /// The name of that group.
    pub parent_name: Option<String>,
    /// Its website, as the PSA holds it.
    pub website: Option<String>,
    /// E-mail or web domains the PSA holds for it, lower case.
    pub domains: Vec<String>,
    /// The Microsoft 365 tenants the PSA links to it.
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
    /// A stable machine code (`duplicate-id`, `invalid-tenant-id`, ...).
    pub code: String,
    /// What happened and what it means, for people.
    pub message: String,
    /// The customer it concerns, if one.
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
    /// This page's customers.
    pub customers: Vec<Customer>,
    /// Warnings about this page.
    pub warnings: Vec<Warning>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
    /// Customers returned so far in this import, this page included.
    pub fetched: u64,
    /// Customers in all, when the PSA says.
    pub total: Option<u64>,
}

/// A ticket to open.
#[derive(Clone, Debug, Default)]
pub struct NewTicket {
    /// The PSA's id of the customer the ticket is for.
    pub customer_id: String,
    /// The ticket's subject line.
    pub summary: String,
    /// The ticket's body, as HTML.
    pub details_html: String,
    /// The PSA's ticket type, when not its default.
    pub ticket_type_id: Option<String>,
    /// The PSA's priority, when not its default.
    pub priority_id: Option<String>,
}

/// Where reaching a host failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkStage {
    /// The name did not resolve.
    Dns,
    /// No TCP connection (refused, no route, or denied by the sandbox).
    Connect,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// The host did not answer in time.
    Timeout,
}

/// A connector's typed error (the contract's `connector-error`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ConnectorError {
    /// A form value is missing or wrong.
    InvalidConfig {
        /// The field's id.
        field: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A host could not be reached.
    Unreachable {
        /// The host (and port) tried.
        host: String,
        /// Where reaching it failed.
        stage: NetworkStage,
        /// Details, and the sandbox's refusal when there was one.
        message: String,
    },
    /// The PSA rejected the credentials.
    Unauthorized {
        /// What was rejected and what to check.
        message: String,
    },
    /// The credentials lack a permission.
    Forbidden {
        /// The permission needed (`read:customers`).
        permission: String,
        /// Where to grant it.
        message: String,
    },
    /// The PSA's rate limit was hit.
    RateLimited {
        /// The PSA's `Retry-After`, when it sent one.
        retry_after_seconds: Option<u32>,
        /// Details.
        message: String,
    },
    /// The PSA answered with an HTTP error status.
    Upstream {
        /// The HTTP status.
        status: u16,
        /// The request's endpoint (no query, no secrets).
        endpoint: String,
        /// Details.
        message: String,
    },
    /// The PSA's answer could not be read.
    Protocol {
        /// The request's endpoint.
        endpoint: String,
        /// What was wrong with the answer.
        message: String,
    },
    /// A bug in the connector.
    Internal {
        /// Details.
        message: String,
    },
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
    pub(crate) fn scrub(self, secrets: &[String]) -> Self {
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

impl CheckStep {
    /// Its texts scrubbed of `secrets` (a connector may echo a form value).
    pub(crate) fn scrub(self, secrets: &[String]) -> Self {
        let s = |m: &str| crate::redact::scrub(m, secrets);
        CheckStep { id: s(&self.id), label: s(&self.label), status: self.status, message: s(&self.message) }
    }
}

impl CustomerPage {
    /// Its warnings' messages scrubbed of `secrets`.
    pub(crate) fn scrub(mut self, secrets: &[String]) -> Self {
        for w in &mut self.warnings {
            w.message = crate::redact::scrub(&w.message, secrets);
        }
        self
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
