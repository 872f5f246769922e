//! A whole import, driven page by page by the host.
//!
//! The connector returns one page per call; the host loops, reports
//! progress, and checks the contract's promises: every customer exactly
//! once, and a cursor that moves on. An import either returns every
//! customer or fails with [`ImportFailure`], which says how far it got.
//!
//! An incremental import ([`Session::import_since`] with a time) pages
//! `list-customers-changed` when the connector has the
//! `customers-changed-since` capability, under the same checks, retries and
//! limits; otherwise it runs the full import and says so, and why, in
//! [`ImportOutcome::read`] ([`ImportRead::FellBack`]).

use crate::retry::{self, Attempts, GiveUp, Retryable};
use crate::runtime::Session;
use crate::types::{Customer, Warning};
use crate::limits::HeldLimit;
use crate::HostError;
use std::collections::HashSet;
use std::time::SystemTime;

/// An import's progress: after each page, and before each wait.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Pages fetched so far.
    pub pages: u32,
    /// Customers fetched so far.
    pub fetched: u64,
    /// Customers in all, when the PSA says (`None` while waiting).
    pub total: Option<u64>,
    /// Set while the host waits before retrying a page.
    pub waiting: Option<Waiting>,
}

/// A wait before a retry.
#[derive(Clone, Debug)]
pub struct Waiting {
    /// When the retry starts.
    pub until: SystemTime,
    /// True when the PSA's rate limit is the reason.
    pub rate_limit: bool,
    /// What failed, for people.
    pub reason: String,
    /// The retry this wait precedes (1 = first retry).
    pub attempt: u32,
}

/// A complete import.
#[derive(Clone, Debug)]
pub struct ImportOutcome {
    /// Every customer, each once, in the order the PSA gave them (for an
    /// incremental import: every customer changed since the time, and
    /// perhaps some that did not change, as the contract allows).
    pub customers: Vec<Customer>,
    /// Every page's warnings.
    pub warnings: Vec<Warning>,
    /// Pages fetched.
    pub pages: u32,
    /// How the customers were read: all of them, only the changed ones, or
    /// all of them because the connector could not read only the changed.
    pub read: ImportRead,
}

/// How an import read the customers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportRead {
    /// Every customer (`list-customers`), as asked.
    Full,
    /// Only customers changed since `since` (`list-customers-changed`).
    ChangedSince {
        /// Seconds since 1970-01-01 UTC.
        since: u64,
    },
    /// Changes since `since` were asked for, but the connector cannot read
    /// them: every customer was read (`list-customers`) instead.
    FellBack {
        /// Seconds since 1970-01-01 UTC.
        since: u64,
        /// Why the connector could not.
        reason: FallbackReason,
    },
}

/// Why an incremental import read every customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FallbackReason {
    /// The connector's contract version has no changed-since read (0.1.0).
    ContractLacksIt {
        /// The connector's contract version.
        contract: String,
    },
    /// The connector does not list the `customers-changed-since`
    /// capability (its PSA cannot filter customers by change time).
    NotOffered,
}

impl std::fmt::Display for FallbackReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FallbackReason::ContractLacksIt { contract } => write!(
                f,
                "the connector was built against contract {contract}, which cannot read only the customers changed since a time"
            ),
            FallbackReason::NotOffered => f.write_str(
                "the connector does not offer `customers-changed-since` (its PSA cannot filter customers by change time)",
            ),
        }
    }
}

impl ImportOutcome {
    /// Customers with at least one Microsoft 365 tenant.
    pub fn with_tenant(&self) -> usize {
        self.customers.iter().filter(|c| !c.m365_tenants.is_empty()).count()
    }
}

/// A failed import: nothing it fetched should be used as the customer list.
#[derive(Debug, thiserror::Error)]
#[error("import failed after {pages} page(s) and {fetched} customer(s): {error}")]
pub struct ImportFailure {
    /// What ended the import.
    pub error: HostError,
    /// Customers fetched before it ended.
    pub fetched: usize,
    /// Pages fetched before it ended.
    pub pages: u32,
}

/// How an import asked for `since` reads, for a connector that does or does
/// not offer `customers-changed-since`, built against `contract`.
fn plan(since: Option<u64>, offers_changed: bool, contract: &str) -> ImportRead {
    match since {
        None => ImportRead::Full,
        Some(since) if offers_changed => ImportRead::ChangedSince { since },
        // 0.1.0 has no changed-since read at all; a later version has one
        // the connector does not offer.
        Some(since) if contract == "0.1.0" => {
            ImportRead::FellBack { since, reason: FallbackReason::ContractLacksIt { contract: contract.to_string() } }
        }
        Some(since) => ImportRead::FellBack { since, reason: FallbackReason::NotOffered },
    }
}

/// Most pages one import may take (a cursor that never ends is a bug).
pub const MAX_PAGES: u32 = 100_000;

impl Session {
    /// Imports every customer, calling `progress` after each page.
    pub async fn import_all(&mut self, progress: impl FnMut(&Progress)) -> Result<ImportOutcome, ImportFailure> {
        self.import_since(None, progress).await
    }

    /// With `since` (seconds since 1970-01-01 UTC), imports the customers
    /// changed since then, when the connector can read them
    /// ([`ImportRead::ChangedSince`]); else every customer, saying why
    /// ([`ImportRead::FellBack`]). Without, the same as
    /// [`Session::import_all`]. Either way every page is checked as in a
    /// full import: no customer twice, a cursor that moves on, the limits.
    pub async fn import_since(
        &mut self,
        since: Option<u64>,
        mut progress: impl FnMut(&Progress),
    ) -> Result<ImportOutcome, ImportFailure> {
        let read = plan(since, self.offers("customers-changed-since"), self.contract_version());
        if let ImportRead::FellBack { reason, .. } = &read {
            tracing::info!(connector = %self.connector(), session = self.id(), "incremental import falls back to a full import: {reason}");
        }
        let changed_since = match read {
            ImportRead::ChangedSince { since } => Some(since),
            _ => None,
        };
        let call = if changed_since.is_some() { "session.list-customers-changed" } else { "session.list-customers" };
        let mut customers: Vec<Customer> = Vec::new();
        let mut warnings = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut cursors: HashSet<String> = HashSet::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0u32;
        let policy = self.retry_policy();
        let mut attempts = Attempts::default();
        let mut retries = 0u32;
        let max_bytes = self.limits().max_import_bytes;
        let mut held = 0u64;
        loop {
            let fail = |error, customers: &Vec<Customer>, pages| ImportFailure { error, fetched: customers.len(), pages };
            let page = loop {
                let fetched = match changed_since {
                    Some(since) => self.list_customers_changed(since, cursor.as_deref()).await,
                    None => self.list_customers(cursor.as_deref()).await,
                };
                match fetched {
                    Ok(p) => {
                        attempts.succeeded();
                        break p;
                    }
                    Err(e) => {
                        let why = if self.refused_last_call() { None } else { retry::retryable(&e) };
                        let Some(why) = why else {
                            return Err(fail(e, &customers, pages));
                        };
                        let wait = match attempts.next_wait(&policy, &why) {
                            Ok(wait) => wait,
                            Err(GiveUp::WaitTooLong { asked, left }) => {
                                let e = HostError::WaitTooLong {
                                    connector: self.connector().to_string(),
                                    asked,
                                    left,
                                    last: Box::new(e),
                                };
                                return Err(fail(e, &customers, pages));
                            }
                            Err(GiveUp::BudgetSpent | GiveUp::RetriesSpent) => {
                                let gave_up = HostError::GaveUp {
                                    connector: self.connector().to_string(),
                                    attempts: retries + 1,
                                    waited: attempts.rate_waited(),
                                    last: Box::new(e),
                                };
                                return Err(fail(gave_up, &customers, pages));
                            }
                        };
                        retries += 1;
                        let (rate_limit, reason) = match &why {
                            Retryable::RateLimited { .. } => (true, "the PSA's rate limit (HTTP 429)".to_string()),
                            Retryable::Transient { reason } => (false, reason.clone()),
                        };
                        tracing::warn!(
                            connector = %self.connector(), session = self.id(), page = pages + 1, retry = retries,
                            wait_s = wait.as_secs_f64(), "retrying a page after {}", crate::escape::for_terminal(&reason)
                        );
                        progress(&Progress {
                            pages,
                            fetched: customers.len() as u64,
                            total: None,
                            waiting: Some(Waiting { until: SystemTime::now() + wait, rate_limit, reason, attempt: retries }),
                        });
                        tokio::time::sleep(wait).await;
                    }
                }
            };
            pages += 1;
            let page_bytes = page.customers.iter().map(Customer::held_bytes).sum::<u64>()
                + page.warnings.iter().map(Warning::held_bytes).sum::<u64>();
            held = held.saturating_add(page_bytes);
            if held > max_bytes {
                let e = HostError::HostLimit {
                    connector: self.connector().to_string(),
                    call: call.to_string(),
                    limit: HeldLimit::ImportBytes { max: max_bytes },
                };
                return Err(fail(e, &customers, pages));
            }
            for c in page.customers {
                if !seen.insert(c.id.clone()) {
                    let e = self.contract_error(format!("customer id {} was returned twice", c.id));
                    return Err(fail(e, &customers, pages));
                }
                customers.push(c);
            }
            warnings.extend(page.warnings);
            progress(&Progress { pages, fetched: customers.len() as u64, total: page.total, waiting: None });
            match page.next_cursor {
                None => break,
                Some(next) => {
                    if !cursors.insert(next.clone()) || pages >= MAX_PAGES {
                        let e = self.contract_error(format!("the page cursor did not move on after {pages} pages"));
                        return Err(fail(e, &customers, pages));
                    }
                    cursor = Some(next);
                }
            }
        }
        Ok(ImportOutcome { customers, warnings, pages, read })
    }

    fn contract_error(&self, message: String) -> HostError {
        HostError::Contract { connector: self.connector().to_string(), message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incremental_import_reads_the_changes_only_where_it_can_and_says_why_not() {
        assert_eq!(plan(None, true, "0.2.0"), ImportRead::Full);
        assert_eq!(plan(Some(7), true, "0.2.0"), ImportRead::ChangedSince { since: 7 });
        let lacks = plan(Some(7), false, "0.1.0");
        assert_eq!(lacks, ImportRead::FellBack { since: 7, reason: FallbackReason::ContractLacksIt { contract: "0.1.0".into() } });
        let ImportRead::FellBack { reason, .. } = plan(Some(7), false, "0.2.0") else { panic!() };
        assert_eq!(reason, FallbackReason::NotOffered);
        assert!(reason.to_string().contains("does not offer `customers-changed-since`"), "{reason}");
    }
}
