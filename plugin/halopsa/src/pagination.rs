//! The `/Client` paging loop: cursor, what an import has already returned,
//! duplicate and `record_count` checks, and when to stop.
//!
//! | rule | why |
//! |---|---|
//! | ask for `PAGE_SIZE` (1,000) rows a page | Halo allows 300 requests per 5 minutes; 10,000 customers take 10 pages, not 100 |
//! | stop when the import holds `record_count` distinct customers, or at an empty page | the page count is never computed from a page size; an empty page short of `record_count` is an error: never a silent partial import |
//! | a page shorter than asked while customers remain: continue at the size Halo gave, from the next row | Halo may cap pages (100 was seen); then page 2 at the asked size starts at row 1,000 on a server that counts offsets from the asked size, and rows 100..1,000 would be skipped. At the size served, asked and served size agree, so the offset is right however Halo computes it |
//! | the cursor carries the page number and the page size | the page after a capped one is numbered at the new size |
//! | a short page that brought nothing new (a cap that appears after page 1 on a server counting offsets from the served size) restarts at its own first row, at the size served | the size shrinks with each such page, so this ends; a full page of nothing new is an error (Halo ignores `page_no`) |
//! | a page is re-read when the host retries its cursor | what it returned before is not returned again |
//!
//! Where the next page starts when the size changes: at row `r` (the page's
//! first row plus the rows it brought), page `r / s + 1` at the largest size
//! `s` that divides `r` and is not above what Halo served. With a cap of 100,
//! 250 or 500 that is the cap itself; for the end of the data that only looks
//! like a cap (customers added during the import), it is the largest page
//! that starts exactly there.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::error::Error;
use crate::messages as msg;
use crate::tenants::RowTenants;
use crate::types::Warning;

/// Rows asked for per page until Halo serves fewer (CIPP asks for 999).
pub const PAGE_SIZE: u32 = 1000;
pub const W_DUPLICATE: &str = "duplicate-id";
pub const W_COUNT_CHANGED: &str = "record-count-changed";

const CURSOR_PREFIX: &str = "halopsa:p=";
const MAX_PAGE: u32 = 10_000_000;

/// Where a page is read: its number at its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PageAt {
    pub page: u32,
    pub size: u32,
}

impl PageAt {
    /// An import's first page.
    pub const FIRST: PageAt = PageAt { page: 1, size: PAGE_SIZE };

    /// The row this page starts at (0-based).
    fn start(self) -> u64 {
        u64::from(self.page.saturating_sub(1)) * u64::from(self.size)
    }
}

/// The cursor for a page: `halopsa:p=<page>,s=<size>`.
pub fn encode_cursor(at: PageAt) -> String {
    format!("{CURSOR_PREFIX}{},s={}", at.page, at.size)
}

/// The page in a cursor this connector issued.
pub fn decode_cursor(cursor: &str) -> Result<PageAt, Error> {
    let number = |d: &str, max_len: usize| {
        Some(d)
            .filter(|d| !d.is_empty() && d.len() <= max_len && d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<u32>().ok())
    };
    cursor
        .strip_prefix(CURSOR_PREFIX)
        .and_then(|rest| rest.split_once(",s="))
        .and_then(|(p, s)| Some(PageAt { page: number(p, 8)?, size: number(s, 4)? }))
        .filter(|at| (1..=MAX_PAGE).contains(&at.page) && (1..=PAGE_SIZE).contains(&at.size))
        .ok_or_else(|| Error::Internal(msg::bad_cursor()))
}

/// The query of one page of the import (every parameter explicit).
pub fn list_query(at: PageAt, include_inactive: bool) -> String {
    format!(
        "?pageinate=true&page_size={}&page_no={}&includeactive=true&includeinactive={include_inactive}&includeazuretenants=true",
        at.size, at.page
    )
}

/// The largest divisor of `row` not above `max` (`max` when `row` is 0;
/// at least 1). At most √row steps, only after a short page.
pub fn page_size_for(row: u64, max: u64) -> u64 {
    let max = max.max(1);
    if row == 0 {
        return max;
    }
    let mut best = 1;
    let mut i = 1u64;
    while i.saturating_mul(i) <= row {
        if row.is_multiple_of(i) {
            for d in [i, row / i] {
                if d <= max && d > best {
                    best = d;
                }
            }
        }
        i += 1;
    }
    best
}

/// What one import has returned so far.
#[derive(Default)]
pub struct ImportState {
    /// Customer id → the page it was returned on. (Hash maps here and in
    /// `RowTenants`: looked up for every row, never iterated; psa-bench
    /// found B-tree lookups, string compares in the guest, a hot spot.)
    emitted: HashMap<String, PageAt>,
    /// Pages already returned (a second request for one is a host retry).
    pages_done: BTreeSet<PageAt>,
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
    pub next: Option<PageAt>,
    /// Distinct customers returned by the import, this page included.
    pub fetched: u64,
    pub total: u64,
}

impl ImportState {
    /// Decide what the page read `at` returns. `rows` are (id, name) in
    /// Halo's order. Nothing is recorded when this fails, so a retry starts clean.
    pub fn accept(&mut self, endpoint: &str, at: PageAt, record_count: u64, rows: &[(String, String)]) -> Result<Plan, Error> {
        let page_no = at.page;
        let mut warnings = Vec::new();
        if let Some(before) = self.last_count.filter(|c| *c != record_count) {
            warnings.push(Warning {
                code: W_COUNT_CHANGED.into(),
                message: msg::warn_record_count_changed(before, record_count),
                customer_id: None,
            });
        }
        let reread = self.pages_done.contains(&at);
        let mut keep = Vec::new();
        let mut on_page: HashSet<&str> = HashSet::new();
        let mut new_warned = Vec::new();
        // Rows this page brought: new ones, and on a retry the ones it
        // returned the first time.
        let mut own = 0usize;
        for (i, (id, name)) in rows.iter().enumerate() {
            let earlier = match self.emitted.get(id) {
                Some(p) => Some(*p),
                None if on_page.contains(id.as_str()) => Some(at),
                None => None,
            };
            match earlier {
                // A retried page: what it returned before is not returned again.
                Some(p) if p == at && reread && !on_page.contains(id.as_str()) => own += 1,
                Some(p) => {
                    let key = (id.clone(), page_no);
                    if !self.warned.contains(&key) && !new_warned.contains(&key) {
                        warnings.push(Warning {
                            code: W_DUPLICATE.into(),
                            message: msg::warn_duplicate(name, id, p.page, page_no),
                            customer_id: Some(id.clone()),
                        });
                        new_warned.push(key);
                    }
                }
                None => {
                    keep.push(i);
                    own += 1;
                }
            }
            on_page.insert(id.as_str());
        }

        let distinct_before = self.emitted.len() as u64;
        let distinct_after = distinct_before + keep.len() as u64;
        let pages_read = self.pages_done.len() as u32 + u32::from(!reread);
        let served = rows.len() as u64;
        // Halo served fewer rows than asked while customers remain: it caps pages.
        let capped = served < u64::from(at.size) && distinct_after < record_count;
        let next = if rows.is_empty() {
            if distinct_before < record_count {
                return Err(Error::protocol(
                    endpoint,
                    msg::incomplete_import(record_count, distinct_before, pages_read.saturating_sub(1)),
                ));
            }
            None
        } else if keep.is_empty() && !reread && !capped {
            return Err(Error::protocol(endpoint, msg::page_repeated(page_no)));
        } else if distinct_after >= record_count || page_no >= MAX_PAGE {
            None
        } else if capped {
            // Continue at the size Halo gave, from the row after the last
            // one this page brought (from its own first row when it brought
            // none), numbered at that size.
            let row = at.start() + if own == 0 { 0 } else { served };
            let size = page_size_for(row, served);
            let page = u32::try_from(row / size + 1).ok().filter(|p| *p <= MAX_PAGE);
            let size = u32::try_from(size).ok();
            match (page, size) {
                (Some(page), Some(size)) => Some(PageAt { page, size }),
                _ => {
                    return Err(Error::protocol(endpoint, msg::incomplete_import(record_count, distinct_after, pages_read)))
                }
            }
        } else {
            Some(PageAt { page: page_no + 1, size: at.size })
        };

        for &i in &keep {
            if let Some((id, _)) = rows.get(i) {
                self.emitted.insert(id.clone(), at);
            }
        }
        self.pages_done.insert(at);
        self.first_count.get_or_insert(record_count);
        self.last_count = Some(record_count);
        self.warned.extend(new_warned);
        Ok(Plan { keep, warnings, next, fetched: self.emitted.len() as u64, total: record_count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(ids: &[u32]) -> Vec<(String, String)> {
        ids.iter().map(|i| (i.to_string(), format!("C{i}"))).collect()
    }

    fn ids(range: std::ops::Range<u32>) -> Vec<(String, String)> {
        rows(&range.collect::<Vec<_>>())
    }

    const fn at(page: u32, size: u32) -> PageAt {
        PageAt { page, size }
    }

    #[test]
    fn cursors() {
        assert_eq!(encode_cursor(at(3, 100)), "halopsa:p=3,s=100");
        assert_eq!(decode_cursor("halopsa:p=3,s=100").unwrap(), at(3, 100));
        assert_eq!(decode_cursor(&encode_cursor(PageAt::FIRST)).unwrap(), PageAt::FIRST);
        for bad in [
            "", "p=3", "halopsa:p=", "halopsa:p=3", "halopsa:p=0,s=100", "halopsa:p=-1,s=100", "halopsa:p=3x,s=100",
            "halopsa:p=99999999999,s=100", "HALOPSA:p=3,s=100", "halopsa:p=3,s=0", "halopsa:p=3,s=1001",
            "halopsa:p=3,s=", "halopsa:p=3,s=+10", "halopsa:p=3,s=100,s=100", "halopsa:p=3;s=100",
        ] {
            match decode_cursor(bad) {
                Err(Error::Internal(m)) => assert!(m.contains("not one this connector issued")),
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert_eq!(
            list_query(at(2, 1000), false),
            "?pageinate=true&page_size=1000&page_no=2&includeactive=true&includeinactive=false&includeazuretenants=true"
        );
    }

    #[test]
    fn full_pages_continue_at_the_same_size() {
        let mut s = ImportState::default();
        let p = s.accept("/api/Client", PageAt::FIRST, 2345, &ids(0..1000)).unwrap();
        assert_eq!((p.keep.len(), p.next, p.fetched, p.total), (1000, Some(at(2, 1000)), 1000, 2345));
        let p = s.accept("/api/Client", at(2, 1000), 2345, &ids(1000..2000)).unwrap();
        assert_eq!(p.next, Some(at(3, 1000)));
        let p = s.accept("/api/Client", at(3, 1000), 2345, &ids(2000..2345)).unwrap();
        assert_eq!((p.next, p.fetched), (None, 2345));
    }

    #[test]
    fn a_capped_first_page_switches_to_the_size_halo_gave() {
        let mut s = ImportState::default();
        // Asked for 1,000, got 100: page 2 at 100 starts at row 100 on
        // either kind of server.
        let p = s.accept("/api/Client", PageAt::FIRST, 250, &ids(0..100)).unwrap();
        assert_eq!((p.keep.len(), p.next, p.fetched), (100, Some(at(2, 100)), 100));
        let p = s.accept("/api/Client", at(2, 100), 250, &ids(100..200)).unwrap();
        assert_eq!(p.next, Some(at(3, 100)));
        let p = s.accept("/api/Client", at(3, 100), 250, &ids(200..250)).unwrap();
        assert_eq!((p.next, p.fetched), (None, 250));
        // A cap that does not divide the rows so far: the next page starts
        // exactly after them, at a size that divides them.
        let mut s = ImportState::default();
        s.accept("/api/Client", at(1, 1000), 5000, &ids(0..1000)).unwrap();
        let p = s.accept("/api/Client", at(2, 1000), 5000, &ids(1000..1300)).unwrap();
        assert_eq!(p.next, Some(at(6, 260)), "row 1,300 is page 6 at 260");
    }

    #[test]
    fn page_sizes_that_start_at_a_row() {
        assert_eq!(page_size_for(100, 100), 100);
        assert_eq!(page_size_for(1300, 300), 260);
        assert_eq!(page_size_for(2345, 345), 335);
        assert_eq!(page_size_for(1999, 999), 1, "a prime");
        assert_eq!(page_size_for(0, 50), 50);
        assert_eq!(page_size_for(7, 0), 1);
        assert_eq!(page_size_for(10_000_000_000, 1000), 1000);
        for (row, max) in [(12345u64, 77u64), (1_000_000_007, 1000), (9_999_999_000, 999)] {
            let s = page_size_for(row, max);
            assert!(row % s == 0 && s <= max, "{row} {max} -> {s}");
            assert!((s + 1..=max).all(|d| row % d != 0), "{row} {max} -> {s} is not the largest");
        }
    }

    #[test]
    fn a_cap_after_page_1() {
        // Offsets from the asked size: page 2 at 1,000 gave rows 1,000..1,100.
        let mut s = ImportState::default();
        s.accept("/api/Client", PageAt::FIRST, 3000, &ids(0..1000)).unwrap();
        let p = s.accept("/api/Client", at(2, 1000), 3000, &ids(1000..1100)).unwrap();
        assert_eq!(p.next, Some(at(12, 100)), "row 1,100 is page 12 at 100");
        // Offsets from the served size: page 2 at 1,000 gave rows 100..200,
        // nothing new; start again at row 1,000, at 100 a page.
        let mut s = ImportState::default();
        s.accept("/api/Client", PageAt::FIRST, 3000, &ids(0..1000)).unwrap();
        let p = s.accept("/api/Client", at(2, 1000), 3000, &ids(100..200)).unwrap();
        assert!(p.keep.is_empty());
        assert_eq!(p.next, Some(at(11, 100)), "row 1,000 is page 11 at 100");
        let p = s.accept("/api/Client", at(11, 100), 3000, &ids(1000..1100)).unwrap();
        assert_eq!((p.keep.len(), p.next), (100, Some(at(12, 100))));
    }

    #[test]
    fn a_retried_short_page_continues_as_before() {
        let mut s = ImportState::default();
        s.accept("/api/Client", PageAt::FIRST, 250, &ids(0..100)).unwrap();
        let p = s.accept("/api/Client", PageAt::FIRST, 250, &ids(0..100)).unwrap();
        assert!(p.keep.is_empty() && p.warnings.is_empty());
        assert_eq!(p.next, Some(at(2, 100)));
    }

    #[test]
    fn duplicates_and_retries() {
        let mut s = ImportState::default();
        s.accept("/api/Client", at(1, 2), 4, &rows(&[1, 2])).unwrap();
        let p = s.accept("/api/Client", at(2, 2), 4, &rows(&[2, 3])).unwrap();
        assert_eq!(p.keep, vec![1]);
        assert_eq!(p.warnings.len(), 1);
        assert_eq!(p.warnings[0].code, "duplicate-id");
        assert!(p.warnings[0].message.contains("page 2 after already arriving on page 1"));
        assert_eq!(p.fetched, 3);
        // Host retries page 2: nothing emitted twice, no repeated warning.
        let p = s.accept("/api/Client", at(2, 2), 4, &rows(&[2, 3])).unwrap();
        assert!(p.keep.is_empty() && p.warnings.is_empty());
        assert_eq!((p.fetched, p.next), (3, Some(at(3, 2))));
        // A retry that now shows a new row returns just that one.
        let p = s.accept("/api/Client", at(2, 2), 4, &rows(&[3, 4])).unwrap();
        assert_eq!(p.keep, vec![1]);
        assert_eq!(p.next, None);
        // Same id twice on one page.
        let mut s = ImportState::default();
        let p = s.accept("/api/Client", PageAt::FIRST, 2, &rows(&[7, 7, 8])).unwrap();
        assert_eq!(p.keep, vec![0, 2]);
        assert_eq!(p.warnings.len(), 1);
    }

    #[test]
    fn record_count_changes() {
        let mut s = ImportState::default();
        s.accept("/api/Client", at(1, 2), 3, &rows(&[1, 2])).unwrap();
        let p = s.accept("/api/Client", at(2, 2), 4, &rows(&[3])).unwrap();
        assert_eq!(p.warnings[0].code, "record-count-changed");
        assert!(p.warnings[0].message.contains("from 3 to 4"));
        assert_eq!((p.next, p.total), (Some(at(4, 1)), 4));
    }

    #[test]
    fn empty_page_before_record_count_is_an_error() {
        let mut s = ImportState::default();
        s.accept("/api/Client", at(1, 100), 250, &ids(1..101)).unwrap();
        s.accept("/api/Client", at(2, 100), 250, &ids(101..201)).unwrap();
        match s.accept("/api/Client", at(3, 100), 250, &[]) {
            Err(Error::Protocol { message, .. }) => assert_eq!(
                message,
                "Halo reported 250 customers but only 200 distinct customers came back over 2 pages; the import is incomplete, run it again."
            ),
            other => panic!("{:?}", other.map(|p| p.keep)),
        }
        // An empty first page with nothing to import is simply the end.
        let p = ImportState::default().accept("/api/Client", PageAt::FIRST, 0, &[]).unwrap();
        assert_eq!((p.next, p.fetched, p.total), (None, 0, 0));
    }

    #[test]
    fn halo_ignoring_page_no_is_caught() {
        let mut s = ImportState::default();
        s.accept("/api/Client", at(1, 3), 300, &rows(&[1, 2, 3])).unwrap();
        assert!(matches!(s.accept("/api/Client", at(2, 3), 300, &rows(&[1, 2, 3])), Err(Error::Protocol { .. })));
        // Also behind a cap: the size shrinks once, then the repeat is caught.
        let mut s = ImportState::default();
        let p = s.accept("/api/Client", PageAt::FIRST, 300, &ids(0..100)).unwrap();
        assert_eq!(p.next, Some(at(2, 100)));
        assert!(matches!(s.accept("/api/Client", at(2, 100), 300, &ids(0..100)), Err(Error::Protocol { .. })));
    }

    /// A server that repeats short pages: every page shrinks the size, so
    /// the import ends (with an error) instead of looping.
    #[test]
    fn short_repeated_pages_end() {
        let mut s = ImportState::default();
        let mut next = Some(PageAt::FIRST);
        let mut requests = 0;
        let mut failed = false;
        while let Some(page) = next {
            requests += 1;
            assert!(requests < 100, "no end in sight at {page:?}");
            let served = (page.size / 2).max(1);
            match s.accept("/api/Client", page, 5000, &ids(0..served)) {
                Ok(p) => next = p.next,
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        assert!(failed, "it must not end as a success");
    }
}
