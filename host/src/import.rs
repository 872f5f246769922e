//! A whole import, driven page by page by the host.
//!
//! The connector returns one page per call; the host loops, reports
//! progress, and checks the contract's promises: every customer exactly
//! once, and a cursor that moves on. An import either returns every
//! customer or fails with [`ImportFailure`], which says how far it got.

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
    /// Every customer, each once, in the order the PSA gave them.
    pub customers: Vec<Customer>,
    /// Every page's warnings.
    pub warnings: Vec<Warning>,
    /// Pages fetched.
    pub pages: u32,
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

/// Most pages one import may take (a cursor that never ends is a bug).
pub const MAX_PAGES: u32 = 100_000;

impl Session {
    /// Imports every customer, calling `progress` after each page.
    pub async fn import_all(&mut self, mut progress: impl FnMut(&Progress)) -> Result<ImportOutcome, ImportFailure> {
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
                match self.list_customers(cursor.as_deref()).await {
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
                    call: "session.list-customers".to_string(),
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
        Ok(ImportOutcome { customers, warnings, pages })
    }

    fn contract_error(&self, message: String) -> HostError {
        HostError::Contract { connector: self.connector().to_string(), message }
    }
}
