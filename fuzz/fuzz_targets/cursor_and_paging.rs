//! Cursors (`decode_cursor`) and a whole import: a sequence of pages, as the
//! host may request them (next cursor, retries, restarts, stale or forged
//! cursors), through `ImportState::accept` and the cross-page tenant
//! resolution, checked against a model of what was already returned.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use arbitrary::Arbitrary;
use halopsa_connector::customers::{self, RawRow};
use halopsa_connector::field::Field;
use halopsa_connector::error::Error;
use halopsa_connector::pagination::{decode_cursor, encode_cursor, page_size_for, ImportState, PageAt, PAGE_SIZE};
use halopsa_connector::tenants::{self, RawLink};
use libfuzzer_sys::fuzz_target;

mod common;
use common::{assert_canonical_id, assert_protocol};

const ENDPOINT: &str = "/api/Client";
const MAX_PAGE: u32 = 10_000_000;
const GUIDS: [&str; 4] = [
    "8b2a1c3d-0000-4000-8000-000000000001",
    "{8B2A1C3D-0000-4000-8000-000000000002}",
    "8b2a1c3d-0000-4000-8000-000000000003",
    "not-a-guid",
];

#[derive(Arbitrary, Debug)]
enum Goto {
    /// The cursor the last page returned (a new import when it had none).
    Next,
    /// The same page again (a host retry).
    Retry,
    /// No cursor: a new import.
    Restart,
    /// A cursor string the host sent.
    Cursor(String),
    /// The cursor of some page at some size.
    Page(u32, u16),
}

#[derive(Arbitrary, Debug)]
struct Step {
    goto: Goto,
    record_count: u16,
    /// (id selector, tenant selector) per row.
    rows: Vec<(u8, u8)>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    cursors: Vec<String>,
    steps: Vec<Step>,
}

fn check_cursor(c: &str) -> Option<PageAt> {
    match decode_cursor(c) {
        Ok(p) => {
            assert!((1..=MAX_PAGE).contains(&p.page), "cursor {c:?} gave page {}", p.page);
            assert!((1..=PAGE_SIZE).contains(&p.size), "cursor {c:?} gave size {}", p.size);
            let rest = c.strip_prefix("halopsa:p=").unwrap_or_else(|| panic!("cursor {c:?} accepted"));
            let (page, size) = rest.split_once(",s=").unwrap_or_else(|| panic!("cursor {c:?} accepted without a size"));
            for (digits, n) in [(page, p.page), (size, p.size)] {
                assert!(digits.bytes().all(|b| b.is_ascii_digit()) && digits.parse::<u32>().ok() == Some(n), "cursor {c:?}");
            }
            assert_eq!(decode_cursor(&encode_cursor(p)).ok(), Some(p));
            Some(p)
        }
        Err(e) => {
            assert!(matches!(e, Error::Internal(_)), "{e:?}");
            common::assert_error_sane(&e, None);
            None
        }
    }
}

#[derive(Default)]
struct Model {
    /// id → page it was returned on.
    emitted: BTreeMap<String, PageAt>,
    pages_done: BTreeSet<PageAt>,
    /// tenant → the customer that was returned with it.
    owner: BTreeMap<String, String>,
}

fuzz_target!(|input: Input| {
    for c in input.cursors.iter().take(8) {
        check_cursor(c);
    }

    let mut state = ImportState::default();
    let mut model = Model::default();
    let mut current: Option<PageAt> = None;
    let mut next: Option<PageAt> = None;
    for step in input.steps.iter().take(64) {
        let page_no = match &step.goto {
            Goto::Next => next,
            Goto::Retry => current,
            Goto::Restart => None,
            Goto::Cursor(c) => match check_cursor(c) {
                Some(p) => Some(p),
                None => continue,
            },
            Goto::Page(p, size) => match check_cursor(&encode_cursor(PageAt { page: *p, size: u32::from(*size) })) {
                Some(p) => Some(p),
                None => continue,
            },
        };
        // Without a cursor the session starts a new import on page 1.
        let at = match page_no {
            Some(p) => p,
            None => {
                state = ImportState::default();
                model = Model::default();
                PageAt::FIRST
            }
        };
        let page_no = at.page;
        current = Some(at);
        let record_count = u64::from(step.record_count);

        // Customers as the session builds them (canonical ids).
        let mut built = Vec::new();
        for (sel, tsel) in step.rows.iter().take(256) {
            let row = RawRow {
                id: Field::Number((i64::from(*sel) + 1).into()),
                name: Field::Text(format!("Customer {sel}").into()),
                ..RawRow::default()
            };
            let c = customers::to_customer(ENDPOINT, page_no, built.len() + 1, &row).expect("a plain row");
            assert_canonical_id(&c.id);
            built.push((c, *tsel));
        }
        let ids: Vec<(String, String)> = built.iter().map(|(c, _)| (c.id.clone(), c.name.clone())).collect();

        let reread = model.pages_done.contains(&at);
        let mut expected_keep = Vec::new();
        // Rows the page brought: new, or (a retry) first returned by it.
        let mut own = 0;
        let mut on_page = BTreeSet::new();
        for (i, (id, _)) in ids.iter().enumerate() {
            let first_on_page = on_page.insert(id.as_str());
            match model.emitted.get(id) {
                None if first_on_page => {
                    expected_keep.push(i);
                    own += 1;
                }
                Some(p) if *p == at && reread && first_on_page => own += 1,
                _ => {}
            }
        }
        let after = (model.emitted.len() + expected_keep.len()) as u64;
        let capped = ids.len() < at.size as usize && after < record_count;
        let should_fail = (ids.is_empty() && (model.emitted.len() as u64) < record_count)
            || (!ids.is_empty() && expected_keep.is_empty() && !reread && !capped);

        let plan = match state.accept(ENDPOINT, at, record_count, &ids) {
            Ok(plan) => plan,
            Err(e) => {
                assert_protocol(&e, ENDPOINT);
                // Besides the model's failures: after a short page, the next
                // page's number (at the largest size that divides the rows so
                // far and fits the page served) would pass what a cursor holds.
                let row = u64::from(page_no - 1) * u64::from(at.size) + if own == 0 { 0 } else { ids.len() as u64 };
                let size = page_size_for(row, ids.len() as u64);
                assert!(size >= 1 && row % size == 0);
                let too_far = capped && page_no < MAX_PAGE && !ids.is_empty() && row / size + 1 > u64::from(MAX_PAGE);
                assert!(should_fail || too_far, "page {page_no} refused: {e:?}");
                // Nothing recorded: the model stays as it was.
                next = None;
                continue;
            }
        };
        assert!(!should_fail, "page {page_no} accepted though it should fail");
        assert_eq!(plan.keep, expected_keep, "page {page_no}");
        for &i in &expected_keep {
            model.emitted.insert(ids[i].0.clone(), at);
        }
        model.pages_done.insert(at);
        assert_eq!(plan.fetched, model.emitted.len() as u64);
        assert_eq!(plan.total, record_count);
        let done = ids.is_empty() || plan.fetched >= record_count || page_no >= MAX_PAGE;
        let start = |p: PageAt| u64::from(p.page - 1) * u64::from(p.size);
        match plan.next {
            None => assert!(done, "page {at:?} ended the import early"),
            Some(n) if !capped => {
                assert!(!done);
                assert_eq!(n, PageAt { page: page_no + 1, size: at.size });
            }
            // A short page: the next starts right after the rows it brought
            // (at its own start when it brought none), at most at the size
            // served, and a cursor can carry it.
            Some(n) => {
                assert!(!done);
                let want = start(at) + if own == 0 { 0 } else { ids.len() as u64 };
                assert_eq!(start(n), want, "page {at:?} served {} rows, {own} its own; next {n:?}", ids.len());
                assert!(n.size >= 1 && n.size as usize <= ids.len(), "next {n:?} after {} rows", ids.len());
                assert_eq!(check_cursor(&encode_cursor(n)), Some(n));
            }
        }
        for w in &plan.warnings {
            assert!(w.code == "duplicate-id" || w.code == "record-count-changed", "{}", w.code);
            if let Some(id) = &w.customer_id {
                assert!(ids.iter().any(|(i, _)| i == id));
            }
        }
        next = plan.next;

        // Tenant links on the returned customers, resolved across pages.
        let mut out = Vec::new();
        for &i in &plan.keep {
            let (c, tsel) = &built[i];
            let mut c = c.clone();
            let raw: Vec<RawLink> = (0..2)
                .map(|k| (tsel >> (4 * k)) & 0xF)
                .filter_map(|n| GUIDS.get(usize::from(n)))
                .map(|g| RawLink { tenant_id: (*g).to_string(), ..RawLink::default() })
                .collect();
            let (links, _) = tenants::clean_links(&c.id, &c.name, &raw);
            c.m365_tenants = links;
            out.push(c);
        }
        let _ = state.row_tenants.resolve_page(&mut out);
        let mut on_this_page: BTreeMap<&str, &str> = BTreeMap::new();
        for c in &out {
            for l in &c.m365_tenants {
                common::assert_guid(&l.tenant_id);
                assert!(on_this_page.insert(&l.tenant_id, &c.id).is_none(), "tenant {} twice on a page", l.tenant_id);
                if let Some(o) = model.owner.get(&l.tenant_id) {
                    assert_eq!(o, &c.id, "tenant {} given to a second customer", l.tenant_id);
                }
                model.owner.insert(l.tenant_id.clone(), c.id.clone());
            }
        }
    }
});
