//! The `/Client` paging loop: cursor, what an import has already returned,
//! duplicate and `record_count` checks, and when to stop.
//!
//! Halo may cap a page below the size asked for, so the page count is never
//! computed from the page size: the import stops when it holds as many
//! distinct customers as `record_count`, or when a page comes back empty (an
//! error when customers are still missing: never a silent partial import).

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::error::Error;
use crate::messages as msg;
use crate::tenants::RowTenants;
use crate::types::Warning;

pub const PAGE_SIZE: u32 = 100;
pub const W_DUPLICATE: &str = "duplicate-id";
pub const W_COUNT_CHANGED: &str = "record-count-changed";

const CURSOR_PREFIX: &str = "halopsa:p=";
const MAX_PAGE: u32 = 10_000_000;

/// The cursor for page `page`.
pub fn encode_cursor(page: u32) -> String {
    format!("{CURSOR_PREFIX}{page}")
}

/// The page number in a cursor this connector issued.
pub fn decode_cursor(cursor: &str) -> Result<u32, Error> {
    cursor
        .strip_prefix(CURSOR_PREFIX)
        .filter(|d| !d.is_empty() && d.len() <= 8 && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse::<u32>().ok())
        .filter(|p| (1..=MAX_PAGE).contains(p))
        .ok_or_else(|| Error::Internal(msg::bad_cursor()))
}

/// The query of one page of the import (every parameter explicit).
pub fn list_query(page: u32, include_inactive: bool) -> String {
    format!(
        "?pageinate=true&page_size={PAGE_SIZE}&page_no={page}&includeactive=true&includeinactive={include_inactive}&includeazuretenants=true"
    )
}

/// What one import has returned so far.
#[derive(Default)]
pub struct ImportState {
    /// Customer id → the page it was returned on. (Hash maps here and in
    /// `RowTenants`: looked up for every row, never iterated; psa-bench
    /// found B-tree lookups, string compares in the guest, a hot spot.)
    emitted: HashMap<String, u32>,
    /// Pages already returned (a second request for one is a host retry).
    pages_done: BTreeSet<u32>,
    first_count: Option<u64>,
    last_count: Option<u64>,
    /// (id, page) duplicates already reported.
    warned: BTreeSet<(String, u32)>,
    /// Whether this import already carried the tenant-source warnings.
    pub source_warnings_sent: bool,
    pub row_tenants: RowTenants,
}

/// The outcome of one page.
pub struct Plan {
    /// Positions (0-based) of the rows to return.
    pub keep: Vec<usize>,
    pub warnings: Vec<Warning>,
    pub next_page: Option<u32>,
    /// Distinct customers returned by the import, this page included.
    pub fetched: u64,
    pub total: u64,
}

impl ImportState {
    /// Decide what page `page_no` returns. `rows` are (id, name) in Halo's
    /// order. Nothing is recorded when this fails, so a retry starts clean.
    pub fn accept(&mut self, endpoint: &str, page_no: u32, record_count: u64, rows: &[(String, String)]) -> Result<Plan, Error> {
        let mut warnings = Vec::new();
        if let Some(before) = self.last_count.filter(|c| *c != record_count) {
            warnings.push(Warning {
                code: W_COUNT_CHANGED.into(),
                message: msg::warn_record_count_changed(before, record_count),
                customer_id: None,
            });
        }
        let reread = self.pages_done.contains(&page_no);
        let mut keep = Vec::new();
        let mut on_page: HashSet<&str> = HashSet::new();
        let mut new_warned = Vec::new();
        for (i, (id, name)) in rows.iter().enumerate() {
            let earlier = match self.emitted.get(id) {
                Some(p) => Some(*p),
                None if on_page.contains(id.as_str()) => Some(page_no),
                None => None,
            };
            match earlier {
                // A retried page: what it returned before is not returned again.
                Some(p) if p == page_no && reread && !on_page.contains(id.as_str()) => {}
                Some(p) => {
                    let key = (id.clone(), page_no);
                    if !self.warned.contains(&key) && !new_warned.contains(&key) {
                        warnings.push(Warning {
                            code: W_DUPLICATE.into(),
                            message: msg::warn_duplicate(name, id, p, page_no),
                            customer_id: Some(id.clone()),
                        });
                        new_warned.push(key);
                    }
                }
                None => keep.push(i),
            }
            on_page.insert(id.as_str());
        }

        let distinct_before = self.emitted.len() as u64;
        let distinct_after = distinct_before + keep.len() as u64;
        let next_page = if rows.is_empty() {
            if distinct_before < record_count {
                return Err(Error::protocol(
                    endpoint,
                    msg::incomplete_import(record_count, distinct_before, page_no.saturating_sub(1)),
                ));
            }
            None
        } else if keep.is_empty() && !reread {
            return Err(Error::protocol(endpoint, msg::page_repeated(page_no)));
        } else if distinct_after >= record_count || page_no >= MAX_PAGE {
            None
        } else {
            Some(page_no + 1)
        };

        for &i in &keep {
            if let Some((id, _)) = rows.get(i) {
                self.emitted.insert(id.clone(), page_no);
            }
        }
        self.pages_done.insert(page_no);
        self.first_count.get_or_insert(record_count);
        self.last_count = Some(record_count);
        self.warned.extend(new_warned);
        Ok(Plan { keep, warnings, next_page, fetched: self.emitted.len() as u64, total: record_count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(ids: &[u32]) -> Vec<(String, String)> {
        ids.iter().map(|i| (i.to_string(), format!("C{i}"))).collect()
    }

    #[test]
    fn cursors() {
        assert_eq!(encode_cursor(3), "halopsa:p=3");
        assert_eq!(decode_cursor("halopsa:p=3").unwrap(), 3);
        for bad in ["", "p=3", "halopsa:p=", "halopsa:p=0", "halopsa:p=-1", "halopsa:p=3x", "halopsa:p=99999999999", "HALOPSA:p=3"] {
            match decode_cursor(bad) {
                Err(Error::Internal(m)) => assert!(m.contains("not one this connector issued")),
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert_eq!(
            list_query(2, false),
            "?pageinate=true&page_size=100&page_no=2&includeactive=true&includeinactive=false&includeazuretenants=true"
        );
    }

    #[test]
    fn capped_pages_continue_until_record_count() {
        let mut s = ImportState::default();
        // Asked for 100, got 2: keep paging.
        let p = s.accept("/api/Client", 1, 5, &rows(&[1, 2])).unwrap();
        assert_eq!((p.keep.len(), p.next_page, p.fetched, p.total), (2, Some(2), 2, 5));
        let p = s.accept("/api/Client", 2, 5, &rows(&[3, 4])).unwrap();
        assert_eq!(p.next_page, Some(3));
        let p = s.accept("/api/Client", 3, 5, &rows(&[5])).unwrap();
        assert_eq!((p.next_page, p.fetched), (None, 5));
    }

    #[test]
    fn duplicates_and_retries() {
        let mut s = ImportState::default();
        s.accept("/api/Client", 1, 4, &rows(&[1, 2])).unwrap();
        let p = s.accept("/api/Client", 2, 4, &rows(&[2, 3])).unwrap();
        assert_eq!(p.keep, vec![1]);
        assert_eq!(p.warnings.len(), 1);
        assert_eq!(p.warnings[0].code, "duplicate-id");
        assert!(p.warnings[0].message.contains("page 2 after already arriving on page 1"));
        assert_eq!(p.fetched, 3);
        // Host retries page 2: nothing emitted twice, no repeated warning.
        let p = s.accept("/api/Client", 2, 4, &rows(&[2, 3])).unwrap();
        assert!(p.keep.is_empty() && p.warnings.is_empty());
        assert_eq!((p.fetched, p.next_page), (3, Some(3)));
        // A retry that now shows a new row returns just that one.
        let p = s.accept("/api/Client", 2, 4, &rows(&[3, 4])).unwrap();
        assert_eq!(p.keep, vec![1]);
        assert_eq!(p.next_page, None);
        // Same id twice on one page.
        let mut s = ImportState::default();
        let p = s.accept("/api/Client", 1, 2, &rows(&[7, 7, 8])).unwrap();
        assert_eq!(p.keep, vec![0, 2]);
        assert_eq!(p.warnings.len(), 1);
    }

    #[test]
    fn record_count_changes() {
        let mut s = ImportState::default();
        s.accept("/api/Client", 1, 3, &rows(&[1, 2])).unwrap();
        let p = s.accept("/api/Client", 2, 4, &rows(&[3])).unwrap();
        assert_eq!(p.warnings[0].code, "record-count-changed");
        assert!(p.warnings[0].message.contains("from 3 to 4"));
        assert_eq!((p.next_page, p.total), (Some(3), 4));
    }

    #[test]
    fn empty_page_before_record_count_is_an_error() {
        let mut s = ImportState::default();
        s.accept("/api/Client", 1, 250, &rows(&(1..=100).collect::<Vec<_>>())).unwrap();
        s.accept("/api/Client", 2, 250, &rows(&(101..=200).collect::<Vec<_>>())).unwrap();
        match s.accept("/api/Client", 3, 250, &[]) {
            Err(Error::Protocol { message, .. }) => assert_eq!(
                message,
                "Halo reported 250 customers but only 200 distinct customers came back over 2 pages; the import is incomplete, run it again."
            ),
            other => panic!("{:?}", other.map(|p| p.keep)),
        }
        // An empty first page with nothing to import is simply the end.
        let p = ImportState::default().accept("/api/Client", 1, 0, &[]).unwrap();
        assert_eq!((p.next_page, p.fetched, p.total), (None, 0, 0));
    }

    #[test]
    fn halo_ignoring_page_no_is_caught() {
        let mut s = ImportState::default();
        s.accept("/api/Client", 1, 300, &rows(&[1, 2, 3])).unwrap();
        assert!(matches!(s.accept("/api/Client", 2, 300, &rows(&[1, 2, 3])), Err(Error::Protocol { .. })));
    }
}
