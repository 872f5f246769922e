//! [`Session`]: an open connection to one PSA instance, in a store of its
//! own; one page of customers at a time (the page cap), tickets, and the
//! sandbox's refusals added to the connector's errors. A whole import,
//! page by page with retries, is [`Session::import_all`] (`crate::import`).

use super::instance::Instance;
use crate::contract::{ConnectorApi, SessionHandle};
use crate::retry::RetryPolicy;
use crate::types::{
    ConnectorError, ConnectorInfo, CustomerPage, NewNote, NewTicket, NoteRef, OptionKind, TicketOption, TicketRef,
};
use crate::{HostError, Limits};
use std::sync::Arc;

/// An open connection to one PSA instance, in a store of its own.
pub struct Session {
    inst: Instance,
    handle: Option<SessionHandle>,
    /// Whether the sandbox refused a request during the last failed call.
    refused_last_call: bool,
    /// The connector's self-description, as read at load.
    info: Arc<ConnectorInfo>,
    /// The contract version the connector runs under.
    contract: &'static str,
}

impl Session {
    /// A session on `inst`, whose guest opened `handle`.
    pub(crate) fn new(inst: Instance, handle: SessionHandle, info: Arc<ConnectorInfo>, contract: &'static str) -> Session {
        Session { inst, handle: Some(handle), refused_last_call: false, info, contract }
    }

    /// The connector's self-description, as read at load.
    pub fn info(&self) -> &ConnectorInfo {
        &self.info
    }

    /// The contract version the connector runs under (`0.1.0`).
    pub fn contract_version(&self) -> &'static str {
        self.contract
    }

    /// Whether the connector offers `capability` (by the contract's name,
    /// `ticket-dedup`).
    pub fn offers(&self, capability: &str) -> bool {
        self.info.capabilities.iter().any(|c| c == capability)
    }

    /// [`HostError::NotOffered`] unless the connector lists `capability`;
    /// the call is then not made.
    pub(crate) fn require(&self, call: &str, capability: &str) -> Result<(), HostError> {
        if self.offers(capability) {
            return Ok(());
        }
        Err(HostError::NotOffered {
            connector: self.inst.name().to_string(),
            call: call.to_string(),
            capability: capability.to_string(),
            contract: self.contract.to_string(),
        })
    }

    /// The host-assigned id, as used in logs.
    pub fn id(&self) -> u64 {
        self.inst.id()
    }

    /// The connector's id.
    pub fn connector(&self) -> &str {
        self.inst.name()
    }

    /// Whether the sandbox refused a request in the last failed call (such a
    /// failure is policy, never worth a retry).
    pub(crate) fn refused_last_call(&self) -> bool {
        self.refused_last_call
    }

    /// The sandbox limits the session runs under.
    pub(crate) fn limits(&self) -> &Limits {
        self.inst.limits()
    }

    /// How [`Session::import_all`] retries.
    pub(crate) fn retry_policy(&self) -> RetryPolicy {
        self.inst.retry_policy().clone()
    }

    /// Refusals of the sandbox policy since the last call to this method.
    pub fn take_denials(&self) -> Vec<crate::Denial> {
        self.inst.take_denials()
    }

    /// What the connector printed to stdout and stderr since the last call
    /// to this method, one entry per call that printed (`call: text`), as
    /// the host logs it: the session's secret values replaced by
    /// `[redacted]`, control characters escaped, each call's output capped
    /// ([`Limits::guest_output_bytes`]). At most 64 KiB are kept between
    /// takes (a last entry counts what was not); the log has everything.
    /// Output held back at a call's end because it could begin a secret
    /// comes with the next call's, and at the session's end goes to the log
    /// only. What `session.open` printed comes with the first take (when
    /// `open` fails there is no session, and only the log has it).
    pub fn take_guest_output(&mut self) -> Vec<String> {
        self.inst.take_output()
    }

    fn handle(&self) -> Result<SessionHandle, HostError> {
        self.handle.ok_or_else(|| HostError::SessionClosed {
            connector: self.inst.name().to_string(),
            session: self.inst.id(),
            reason: "it was closed".into(),
        })
    }

    /// One page of customers; `None` starts an import.
    pub async fn list_customers(&mut self, cursor: Option<&str>) -> Result<CustomerPage, HostError> {
        let h = self.handle()?;
        let cursor = cursor.map(str::to_string);
        let res = self
            .inst
            .call("session.list-customers", move |c, s| {
                Box::pin(async move { c.list_customers(s, h, cursor.as_deref()).await })
            })
            .await?;
        self.checked_page(res)
    }

    /// A page within the page cap, scrubbed; or the connector's error with
    /// the sandbox's refusals.
    fn checked_page(&mut self, res: Result<CustomerPage, ConnectorError>) -> Result<CustomerPage, HostError> {
        let max = self.inst.limits().max_page_customers;
        match res {
            Ok(page) if page.customers.len() > max => Err(HostError::Contract {
                connector: self.inst.name().to_string(),
                message: format!("a page carried {} customers; a page may carry at most {max}", page.customers.len()),
            }),
            Ok(page) => Ok(page.scrub(self.inst.secrets())),
            Err(e) => Err(self.with_denials(self.inst.connector_error(e))),
        }
    }

    /// Customers changed since `since` (seconds since 1970-01-01 UTC), one
    /// page; `None` starts. Only for connectors with the
    /// `customers-changed-since` capability (else [`HostError::NotOffered`]);
    /// [`Session::import_since`] falls back to a full import.
    pub async fn list_customers_changed(&mut self, since: u64, cursor: Option<&str>) -> Result<CustomerPage, HostError> {
        const CALL: &str = "session.list-customers-changed";
        self.require(CALL, "customers-changed-since")?;
        let h = self.handle()?;
        let cursor = cursor.map(str::to_string);
        let res = self
            .inst
            .call(CALL, move |c, s| {
                Box::pin(async move { c.list_customers_changed(s, h, since, cursor.as_deref()).await })
            })
            .await?;
        self.checked_page(res)
    }

    /// Opens a ticket; answers the PSA's reference to the new ticket. A
    /// contract 0.1.0 connector gets the body as HTML (the text escaped when
    /// there is no HTML) and the ticket-type and priority options only; it
    /// cannot store the deduplication key, so use
    /// [`Session::open_ticket`] to open tickets once per finding.
    ///
    /// A deduplication key, when given, must be 1 to 100 characters of
    /// `[A-Za-z0-9._:-]` ([`HostError::InvalidInput`]). What the connector
    /// answers is checked (see `crate::tickets`); a reference that fails
    /// the checks is a [`HostError::Contract`] whose message says the
    /// ticket may have been created all the same.
    pub async fn create_ticket(&mut self, ticket: &NewTicket) -> Result<TicketRef, HostError> {
        const CALL: &str = "session.create-ticket";
        if !ticket.dedup_key.is_empty() {
            crate::tickets::check_dedup_key(&ticket.dedup_key).map_err(|m| self.invalid_input(CALL, m))?;
        }
        self.require(CALL, "create-ticket")?;
        let h = self.handle()?;
        let ticket = ticket.clone();
        let res = self
            .inst
            .call(CALL, move |c, s| Box::pin(async move { c.create_ticket(s, h, &ticket).await }))
            .await?;
        let created = res.map_err(|e| self.with_denials(self.inst.connector_error(e)))?;
        let created = self.scrub_ref(created);
        crate::tickets::check_ticket_ref(&created, self.limits()).map_err(|m| {
            self.contract_violation(format!(
                "`{CALL}` answered {m}. The ticket may have been created in the PSA all the same; look there before retrying"
            ))
        })?;
        Ok(created)
    }

    /// A ticket reference with the session's secrets scrubbed from it.
    fn scrub_ref(&self, t: TicketRef) -> TicketRef {
        let s = |v: &str| crate::redact::scrub(v, self.inst.secrets());
        TicketRef { id: s(&t.id), number: t.number.as_deref().map(s), url: t.url.as_deref().map(s) }
    }

    /// [`HostError::InvalidInput`] for `call`.
    pub(crate) fn invalid_input(&self, call: &str, message: String) -> HostError {
        HostError::InvalidInput { connector: self.inst.name().to_string(), call: call.to_string(), message }
    }

    /// [`HostError::Contract`]: the connector answered outside the contract
    /// or the host's limits.
    fn contract_violation(&self, message: String) -> HostError {
        HostError::Contract { connector: self.inst.name().to_string(), message }
    }

    /// The open ticket that a [`Session::create_ticket`] for `customer_id`
    /// and `dedup_key` opened, if one is still open. Needs `ticket-dedup`.
    pub async fn find_open_ticket(&mut self, customer_id: &str, dedup_key: &str) -> Result<Option<TicketRef>, HostError> {
        const CALL: &str = "session.find-open-ticket";
        self.require(CALL, "ticket-dedup")?;
        let h = self.handle()?;
        let (customer, key) = (customer_id.to_string(), dedup_key.to_string());
        let res = self
            .inst
            .call(CALL, move |c, s| Box::pin(async move { c.find_open_ticket(s, h, &customer, &key).await }))
            .await?;
        let found = res.map_err(|e| self.with_denials(self.inst.connector_error(e)))?.map(|t| self.scrub_ref(t));
        if let Some(t) = &found {
            crate::tickets::check_ticket_ref(t, self.limits())
                .map_err(|m| self.contract_violation(format!("`{CALL}` answered {m}")))?;
        }
        Ok(found)
    }

    /// Adds a note to a ticket ([`TicketRef::id`]). Needs `ticket-dedup`.
    pub async fn add_note(&mut self, ticket_id: &str, note: &NewNote) -> Result<NoteRef, HostError> {
        const CALL: &str = "session.add-note";
        crate::tickets::check_id("ticket id", ticket_id, self.limits()).map_err(|m| self.invalid_input(CALL, m))?;
        self.require(CALL, "ticket-dedup")?;
        let h = self.handle()?;
        let (ticket, note) = (ticket_id.to_string(), note.clone());
        let res = self
            .inst
            .call(CALL, move |c, s| Box::pin(async move { c.add_note(s, h, &ticket, &note).await }))
            .await?;
        let added = res.map_err(|e| self.with_denials(self.inst.connector_error(e)))?;
        let added = NoteRef { id: crate::redact::scrub(&added.id, self.inst.secrets()) };
        crate::tickets::check_id("note id", &added.id, self.limits()).map_err(|m| {
            self.contract_violation(format!(
                "`{CALL}` answered {m}. The note may have been added in the PSA all the same"
            ))
        })?;
        Ok(added)
    }

    /// The PSA's ticket options of `kind`. Needs `ticket-options`, and
    /// `kind` among [`ConnectorInfo::ticket_option_kinds`].
    pub async fn ticket_options(&mut self, kind: OptionKind) -> Result<Vec<TicketOption>, HostError> {
        const CALL: &str = "session.ticket-options";
        self.require(CALL, "ticket-options")?;
        if !self.info.ticket_option_kinds.contains(&kind) {
            return Err(HostError::NotOffered {
                connector: self.inst.name().to_string(),
                call: format!("{CALL}({kind})"),
                capability: format!("ticket-options (kind {kind})"),
                contract: self.contract.to_string(),
            });
        }
        let h = self.handle()?;
        let res = self
            .inst
            .call(CALL, move |c, s| Box::pin(async move { c.ticket_options(s, h, kind).await }))
            .await?;
        let listed = res.map_err(|e| self.with_denials(self.inst.connector_error(e)))?;
        crate::tickets::check_options(&listed, self.limits())
            .map_err(|m| self.contract_violation(format!("`{CALL}` for `{kind}`: {m}")))?;
        let s = |v: &str| crate::redact::scrub(v, self.inst.secrets());
        Ok(listed.into_iter().map(|o| TicketOption { id: s(&o.id), name: s(&o.name), is_default: o.is_default }).collect())
    }

    /// Adds the sandbox's refusals to a connector error's message, so the
    /// reader sees which host was refused and how to allow it.
    fn with_denials(&mut self, err: HostError) -> HostError {
        let denied = self.inst.take_denials();
        self.refused_last_call = !denied.is_empty();
        match err {
            HostError::Connector { connector, error } if !denied.is_empty() => {
                let extra = crate::hooks::sandbox_note(&denied);
                let error = match error {
                    ConnectorError::Unreachable { host, stage, message } => {
                        ConnectorError::Unreachable { host, stage, message: message + &extra }
                    }
                    other => other,
                };
                HostError::Connector { connector, error }
            }
            e => e,
        }
    }

    /// Releases the session's resource in the guest. Dropping a session
    /// without closing it is also safe.
    pub async fn close(mut self) {
        if let Some(h) = self.handle.take() {
            self.inst.close_session(h).await;
        }
    }
}
