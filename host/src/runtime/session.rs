//! [`Session`]: an open connection to one PSA instance, in a store of its
//! own; one page of customers at a time (the page cap), tickets, and the
//! sandbox's refusals added to the connector's errors. A whole import,
//! page by page with retries, is [`Session::import_all`] (`crate::import`).

use super::instance::Instance;
use crate::contract::{ConnectorApi, SessionHandle};
use crate::retry::RetryPolicy;
use crate::types::{ConnectorError, CustomerPage, NewTicket};
use crate::{HostError, Limits};

/// An open connection to one PSA instance, in a store of its own.
pub struct Session {
    inst: Instance,
    handle: Option<SessionHandle>,
    /// Whether the sandbox refused a request during the last failed call.
    refused_last_call: bool,
}

impl Session {
    /// A session on `inst`, whose guest opened `handle`.
    pub(crate) fn new(inst: Instance, handle: SessionHandle) -> Session {
        Session { inst, handle: Some(handle), refused_last_call: false }
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

    /// Opens a ticket; answers the PSA's id of the new ticket.
    pub async fn create_ticket(&mut self, ticket: &NewTicket) -> Result<String, HostError> {
        let h = self.handle()?;
        let ticket = ticket.clone();
        let res = self
            .inst
            .call("session.create-ticket", move |c, s| {
                Box::pin(async move { c.create_ticket(s, h, &ticket).await })
            })
            .await?;
        match res {
            Ok(id) => Ok(id),
            Err(e) => Err(self.with_denials(self.inst.connector_error(e))),
        }
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
