//! [`Connector`]: a compiled component bound to its contract version, whose
//! self-description has been read and checked once at load; its
//! allow-list per configuration, its connection test, and opening
//! [`Session`]s.

use super::instance::{Instance, Sandbox};
use super::Session;
use crate::allowed_hosts::{AllowedHosts, Origin};
use crate::cache::CompiledFrom;
use crate::config::ConnectionConfig;
use crate::contract::{ConnectorApi, ContractConnector, SUPPORTED_CONTRACTS};
use crate::ctx::SessionState;
use crate::pacing::{Pacing, RateBudget};
use crate::types::{CheckStep, ConnectorInfo, OptionKind, StepStatus};
use crate::HostError;
use std::sync::Arc;
use wasmtime::component::{Component, Linker};

/// A loaded connector. Clone it freely; every clone shares the compiled code.
#[derive(Clone)]
pub struct Connector {
    inner: Arc<ConnectorInner>,
}

struct ConnectorInner {
    sandbox: Arc<Sandbox>,
    /// The connector's id, escaped for terminals: names it in messages.
    name: String,
    contract: ContractConnector,
    compiled_from: CompiledFrom,
    /// Shared with every session, which checks capabilities against it.
    info: Arc<ConnectorInfo>,
    declared: Vec<Origin>,
    /// The declared budget and concurrency, clamped, for every session.
    pacing: Pacing,
}

impl Connector {
    /// Binds a compiled component to its contract version, reads its
    /// self-description in a throwaway instance, checks the contract version
    /// it claims and freezes the hosts it declares.
    pub(crate) async fn load(
        sandbox: &Arc<Sandbox>,
        linker: &Linker<SessionState>,
        name: &str,
        component: &Component,
        compiled_from: CompiledFrom,
    ) -> Result<Connector, HostError> {
        let contract = ContractConnector::new(name, &sandbox.engine, linker, component)?;
        let info: ConnectorInfo = {
            // An empty allow-list: `info` is pure.
            let mut inst =
                sandbox.instantiate(name, &contract, AllowedHosts::default(), vec![], Pacing::default()).await?;
            inst.call("info", |c, s| Box::pin(async move { c.info(s).await })).await?
        };
        if !SUPPORTED_CONTRACTS.contains(&info.contract_version.as_str()) {
            return Err(HostError::UnsupportedContract {
                connector: info.id.clone(),
                found: info.contract_version.clone(),
                supported: SUPPORTED_CONTRACTS.join(", "),
            });
        }
        let declared = info
            .allowed_hosts
            .iter()
            .map(|h| Origin::from_declared(h))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| HostError::Load {
                connector: name.to_string(),
                message: format!("its allowed-hosts list is invalid: {m}"),
            })?;
        // The declared hosts are read this once and frozen: every session's
        // allow-list is built from `declared`, and `info()` shows exactly
        // these entries, so no later answer of the connector can change them.
        let mut info = info;
        info.allowed_hosts = declared.iter().map(|o| o.to_string()).collect();
        // Each kind once: callers ask the connector once per listed kind.
        info.ticket_option_kinds = distinct_kinds(&info.ticket_option_kinds);
        Ok(Connector {
            inner: Arc::new(ConnectorInner {
                sandbox: sandbox.clone(),
                // The id names the connector in every message and log line.
                name: crate::escape::for_terminal(&info.id).into_owned(),
                contract,
                compiled_from,
                pacing: if sandbox.declared_budgets {
                    Pacing::from_declared(info.budget.as_ref(), sandbox.limits.max_requests_in_flight)
                } else {
                    Pacing::default()
                },
                info: Arc::new(info),
                declared,
            }),
        })
    }

    /// The connector's self-description.
    pub fn info(&self) -> &ConnectorInfo {
        &self.inner.info
    }

    /// The connector's id, as used in messages.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The contract version the connector was built against, as the host
    /// runs it (the version its exports name).
    pub fn contract_version(&self) -> &'static str {
        self.inner.contract.version()
    }

    /// Whether this load compiled the component or mapped it from the cache.
    pub fn compiled_from(&self) -> CompiledFrom {
        self.inner.compiled_from
    }

    /// The hosts the connector declared in its self-description, read once
    /// at load and frozen (also in [`Connector::info`]'s `allowed_hosts`).
    pub fn declared_hosts(&self) -> &[Origin] {
        &self.inner.declared
    }

    /// How this connector's sessions are paced besides the host's own budget
    /// ([`HostOptions::rate_budget`](crate::HostOptions::rate_budget)): its
    /// declared budget and concurrency, clamped (see `pacing.rs`). Both
    /// budgets hold, so the stricter one wins wherever they differ.
    pub fn pacing(&self) -> Pacing {
        self.inner.pacing
    }

    /// The budgets every request of this connector's sessions is held to:
    /// the host's (if it paces) and the connector's declared one, clamped.
    pub fn rate_budgets(&self) -> Vec<RateBudget> {
        [self.inner.sandbox.pacer.budget(), self.inner.pacing.declared].into_iter().flatten().collect()
    }

    /// The origins a session with this configuration may reach.
    pub fn allowed_hosts(&self, config: &ConnectionConfig) -> AllowedHosts {
        AllowedHosts::new(config.url_values(&self.inner.info), &self.inner.declared)
    }

    /// A new instance for `config`: its allow-list and its secrets.
    async fn instantiate(&self, config: &ConnectionConfig) -> Result<Instance, HostError> {
        let allowed = self.allowed_hosts(config);
        let secrets = config.secret_values();
        self.inner.sandbox.instantiate(&self.inner.name, &self.inner.contract, allowed, secrets, self.inner.pacing).await
    }

    /// Runs the connector's connection test. Never fails for problems the
    /// connector can diagnose (those are failed steps); fails only when the
    /// connector itself crashes or runs out of time.
    pub async fn test_connection(&self, config: &ConnectionConfig) -> Result<Vec<CheckStep>, HostError> {
        self.test_connection_with_output(config).await.0
    }

    /// [`Connector::test_connection`], and what the connector printed to
    /// stdout and stderr during it, as [`Session::take_guest_output`] gives
    /// it (scrubbed, escaped, bounded); also when the call failed.
    pub async fn test_connection_with_output(
        &self,
        config: &ConnectionConfig,
    ) -> (Result<Vec<CheckStep>, HostError>, Vec<String>) {
        let mut inst = match self.instantiate(config).await {
            Ok(i) => i,
            Err(e) => return (Err(e), Vec::new()),
        };
        let entries = config.entries().to_vec();
        let res = inst
            .call("test-connection", move |c, s| Box::pin(async move { c.test_connection(s, &entries).await }))
            .await;
        let output = inst.take_output();
        let steps = match res {
            Ok(steps) => steps,
            Err(e) => return (Err(e), output),
        };
        let denied = inst.take_denials();
        let mut steps: Vec<CheckStep> = steps.into_iter().map(|st| st.scrub(inst.secrets())).collect();
        if !denied.is_empty() {
            if let Some(step) = steps.iter_mut().find(|s| s.status == StepStatus::Failed) {
                step.message.push_str(&crate::hooks::sandbox_note(&denied));
            }
        }
        (Ok(steps), output)
    }

    /// Opens a session: the connector checks the form; no network I/O yet.
    pub async fn open_session(&self, config: &ConnectionConfig) -> Result<Session, HostError> {
        let mut inst = self.instantiate(config).await?;
        let entries = config.entries().to_vec();
        let res = inst
            .call("session.open", move |c, s| Box::pin(async move { c.open_session(s, &entries).await }))
            .await?;
        match res {
            Ok(handle) => Ok(Session::new(inst, handle, self.inner.info.clone(), self.inner.contract.version())),
            Err(e) => Err(inst.connector_error(e)),
        }
    }
}

/// The kinds, each once, in the order first listed (a connector may list
/// one a million times; there are five).
fn distinct_kinds(kinds: &[OptionKind]) -> Vec<OptionKind> {
    let mut out = Vec::new();
    for k in kinds {
        if !out.contains(k) {
            out.push(*k);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_kinds_are_kept_once_each_in_order() {
        let listed: Vec<OptionKind> =
            std::iter::repeat_n([OptionKind::Priority, OptionKind::TicketType], 100_000).flatten().collect();
        assert_eq!(distinct_kinds(&listed), [OptionKind::Priority, OptionKind::TicketType]);
        assert!(distinct_kinds(&[]).is_empty());
    }
}
