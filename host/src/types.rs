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
    /// One of a fixed list of values ([`ConfigField::choices`]); contract
    /// 0.2.0 and later.
    Choice,
    /// A whole number within [`ConfigField::range`], in decimal; contract
    /// 0.2.0 and later.
    Number,
}

/// One option of a [`FieldKind::Choice`] field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldChoice {
    /// The value stored and passed to the connector.
    pub value: String,
    /// What the admin sees.
    pub label: String,
}

/// The bounds of a [`FieldKind::Number`] field, both inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct NumberRange {
    /// The smallest value accepted.
    pub min: i64,
    /// The largest value accepted.
    pub max: i64,
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
    /// The value the platform pre-fills, if any (from contract 0.2.0 a
    /// suggestion only: a cleared value is passed as the empty string).
    pub default_value: Option<String>,
    /// For a [`FieldKind::Choice`] field, its options in display order;
    /// empty for every other kind.
    pub choices: Vec<FieldChoice>,
    /// For a [`FieldKind::Number`] field, the values it accepts.
    pub range: Option<NumberRange>,
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
    /// The PSA's published request budget, if the connector declares one
    /// (contract 0.2.0 and later; always `None` for 0.1.0). The host paces
    /// the connector's sessions at the lower of it and its own budget.
    pub budget: Option<RequestBudget>,
    /// The kinds of ticket options [`Session::ticket_options`](crate::Session::ticket_options) lists
    /// (contract 0.2.0 and later).
    pub ticket_option_kinds: Vec<OptionKind>,
}

/// A PSA's request budget as a connector declares it (the contract's
/// `request-budget`), unchecked: the host clamps it before use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RequestBudget {
    /// Requests allowed in each window.
    pub requests: u32,
    /// The window's length in seconds.
    pub window_seconds: u32,
    /// Requests the PSA allows in flight at once, if it limits them.
    pub concurrency: Option<u32>,
}

/// A kind of ticket option a PSA offers (the contract's `option-kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptionKind {
    /// The ticket type.
    TicketType,
    /// The priority.
    Priority,
    /// The queue or board a ticket lands in.
    Queue,
    /// The status a new ticket gets.
    Status,
    /// What a note records (its outcome or note type).
    Outcome,
}

impl OptionKind {
    /// Every kind, in the contract's order.
    pub const ALL: [OptionKind; 5] =
        [OptionKind::TicketType, OptionKind::Priority, OptionKind::Queue, OptionKind::Status, OptionKind::Outcome];

    /// The contract's name (`ticket-type`).
    pub fn as_str(self) -> &'static str {
        match self {
            OptionKind::TicketType => "ticket-type",
            OptionKind::Priority => "priority",
            OptionKind::Queue => "queue",
            OptionKind::Status => "status",
            OptionKind::Outcome => "outcome",
        }
    }

    /// The kind named `name` (the contract's name, `ticket-type`).
    pub fn parse(name: &str) -> Option<OptionKind> {
        OptionKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl std::fmt::Display for OptionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One option of a kind, as the PSA lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TicketOption {
    /// The PSA's id, passed back in [`OptionChoice::id`].
    pub id: String,
    /// The PSA's name for it.
    pub name: String,
    /// Whether the PSA marks it as the default of its kind.
    pub is_default: bool,
}

/// A chosen option for a new ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OptionChoice {
    /// Which kind.
    pub kind: OptionKind,
    /// A [`TicketOption::id`] of that kind.
    pub id: String,
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

/// The body of a ticket or note: plain text always, HTML when the platform
/// has it. A connector uses the form its PSA stores.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TicketBody {
    /// The body as plain text (lines separated by `\n`).
    pub text: String,
    /// The same body as HTML.
    pub html: Option<String>,
}

impl TicketBody {
    /// The body as HTML: the HTML form when there is one, else the text
    /// escaped for HTML with its line breaks kept (`<br>`).
    pub fn to_html(&self) -> String {
        if let Some(html) = &self.html {
            return html.clone();
        }
        let mut out = String::with_capacity(self.text.len());
        for ch in self.text.chars() {
            match ch {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&#39;"),
                '\n' => out.push_str("<br>"),
                '\r' => {}
                c => out.push(c),
            }
        }
        out
    }
}

/// A ticket to open.
#[derive(Clone, Debug, Default)]
pub struct NewTicket {
    /// The PSA's id of the customer the ticket is for.
    pub customer_id: String,
    /// The ticket's subject line.
    pub summary: String,
    /// The ticket's body.
    pub details: TicketBody,
    /// The platform's stable name for the finding (at most 100 characters
    /// of `[A-Za-z0-9._:-]`). A connector with the `ticket-dedup` capability
    /// stores it in the PSA; a contract 0.1.0 connector cannot, so tickets
    /// opened through one cannot be found again by key.
    pub dedup_key: String,
    /// Chosen options, one per kind at most; the PSA's defaults apply to
    /// the others.
    pub options: Vec<OptionChoice>,
}

impl NewTicket {
    /// The chosen option of `kind`, if any.
    pub fn option(&self, kind: OptionKind) -> Option<&str> {
        self.options.iter().find(|o| o.kind == kind).map(|o| o.id.as_str())
    }
}

/// A ticket in the PSA.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TicketRef {
    /// The PSA's id of the ticket, used in calls.
    pub id: String,
    /// The number people see, when it differs from the id.
    pub number: Option<String>,
    /// A link that opens the ticket in the PSA's web interface (checked by
    /// the host: `http` or `https` only).
    pub url: Option<String>,
}

/// Who may read a note.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoteVisibility {
    /// The MSP's technicians only.
    #[default]
    Private,
    /// Also the customer's contacts (the PSA may e-mail them).
    Public,
}

/// A note to add to a ticket.
#[derive(Clone, Debug, Default)]
pub struct NewNote {
    /// The note's body.
    pub body: TicketBody,
    /// Who may read it.
    pub visibility: NoteVisibility,
    /// The note's outcome or type (an [`OptionKind::Outcome`] id), if chosen.
    pub outcome_id: Option<String>,
}

/// A note the PSA stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NoteRef {
    /// The PSA's id of the note.
    pub id: String,
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
    /// The ticket or customer the call names does not exist in the PSA
    /// (contract 0.2.0 and later).
    NotFound {
        /// What was not found.
        message: String,
    },
    /// The connector does not offer this call (contract 0.2.0 and later;
    /// the host also answers a call it does not make with
    /// [`HostError::NotOffered`](crate::HostError::NotOffered)).
    NotSupported {
        /// Which call.
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
            ConnectorError::NotFound { .. } => "not-found",
            ConnectorError::NotSupported { .. } => "not-supported",
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
            ConnectorError::NotFound { message } => ConnectorError::NotFound { message: s(message) },
            ConnectorError::NotSupported { message } => ConnectorError::NotSupported { message: s(message) },
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
            ConnectorError::NotFound { message } => write!(f, "not found in the PSA: {message}"),
            ConnectorError::NotSupported { message } => write!(f, "the connector does not offer this call: {message}"),
        }
    }
}
