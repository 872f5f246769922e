//! A `/api/Client` response body through the connector's own path:
//! 2xx body check, page parse, rows → customers, paging plan, tenant links
//! from rows, and the per-page tenant conflict resolution.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use halopsa_connector::pagination::{ImportState, PageAt, PAGE_SIZE};
use halopsa_connector::{answer, customers, tenants};
use libfuzzer_sys::fuzz_target;

mod common;
use common::{assert_canonical_id, assert_guid, assert_protocol};

const ENDPOINT: &str = "/api/Client";

fuzz_target!(|data: &[u8]| {
    if let Err(e) = answer::check_json_body(ENDPOINT, Some("application/json"), data) {
        assert_protocol(&e, ENDPOINT);
        return;
    }
    let page = match customers::parse_page(ENDPOINT, 1, data) {
        Ok(p) => p,
        Err(e) => {
            assert_protocol(&e, ENDPOINT);
            return;
        }
    };

    // The session stops at the first bad row; every row is still converted
    // here so later rows get exercised too.
    let mut built = Vec::new();
    let mut all_ok = true;
    for (i, row) in page.rows.iter().enumerate() {
        match customers::to_customer(ENDPOINT, 1, i + 1, row) {
            Ok(c) => {
                assert_canonical_id(&c.id);
                assert!(c.id.parse::<i64>().is_ok_and(|n| n > 0), "id {:?} is not positive", c.id);
                if let Some(p) = &c.parent_id {
                    assert_canonical_id(p);
                    assert_ne!(p, "0");
                }
                for text in [&c.parent_name, &c.website].into_iter().flatten() {
                    assert!(!text.is_empty() && text.trim() == text, "untrimmed text {text:?}");
                }
                let distinct: BTreeSet<&String> = c.domains.iter().collect();
                assert_eq!(distinct.len(), c.domains.len(), "duplicate domains {:?}", c.domains);
                for d in &c.domains {
                    assert!(customers::looks_like_domain(d), "bad domain {d:?}");
                    assert!(!d.starts_with("www."), "www. kept in {d:?}");
                }
                assert!(c.m365_tenants.is_empty());
                built.push(Some(c));
            }
            Err(e) => {
                assert_protocol(&e, ENDPOINT);
                all_ok = false;
                built.push(None);
            }
        }
        // Tenant links carried by the row, whatever the row's other fields.
        if let Some(raw) = &row.azure_tenants {
            let (links, warnings) = tenants::clean_links("1", "n", raw);
            let nonempty = raw.iter().filter(|r| !r.tenant_id.is_empty()).count();
            assert!(links.len() + warnings.len() <= nonempty);
            let distinct: BTreeSet<&str> = links.iter().map(|l| l.tenant_id.as_str()).collect();
            assert_eq!(distinct.len(), links.len(), "duplicate tenant links");
            for l in &links {
                assert_guid(&l.tenant_id);
                if let Some(d) = &l.domain {
                    assert_eq!(d, &d.to_ascii_lowercase());
                }
            }
            for w in &warnings {
                assert_eq!(w.code, tenants::W_INVALID);
            }
        }
    }
    if !all_ok {
        return;
    }

    let built: Vec<_> = built.into_iter().flatten().collect();
    let ids: Vec<(String, String)> = built.iter().map(|c| (c.id.clone(), c.name.clone())).collect();
    let mut state = ImportState::default();
    let plan = match state.accept(ENDPOINT, PageAt::FIRST, page.record_count, &ids) {
        Ok(plan) => plan,
        Err(e) => {
            assert_protocol(&e, ENDPOINT);
            // Only an empty page short of record_count, or nothing new, fails.
            assert!(ids.is_empty() && page.record_count > 0);
            return;
        }
    };
    assert!(plan.keep.windows(2).all(|w| w[0] < w[1]), "keep not increasing");
    assert!(plan.keep.iter().all(|&i| i < ids.len()));
    let kept: BTreeSet<&str> = plan.keep.iter().map(|&i| ids[i].0.as_str()).collect();
    let all: BTreeSet<&str> = ids.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(kept, all, "every distinct id of a first page is returned once");
    assert_eq!(plan.fetched, kept.len() as u64);
    assert_eq!(plan.total, page.record_count);
    // Page 2 follows at the size Halo served when it served fewer than asked.
    let size = (ids.len() as u32).min(PAGE_SIZE);
    assert_eq!(plan.next, (plan.fetched < page.record_count && !ids.is_empty()).then_some(PageAt { page: 2, size }));

    // Links for the kept rows, then the per-page conflict resolution.
    let mut slots: Vec<_> = built.into_iter().map(Some).collect();
    let mut out = Vec::new();
    for &i in &plan.keep {
        let Some(mut c) = slots[i].take() else { panic!("row {i} kept twice") };
        if let Some(raw) = &page.rows[i].azure_tenants {
            let (links, _) = tenants::clean_links(&c.id, &c.name, raw);
            c.m365_tenants = links;
        }
        out.push(c);
    }
    let before: BTreeMap<String, usize> = {
        let mut m = BTreeMap::new();
        for c in &out {
            for l in &c.m365_tenants {
                *m.entry(l.tenant_id.clone()).or_insert(0) += 1;
            }
        }
        m
    };
    let warnings = state.row_tenants.resolve_page(&mut out);
    let mut holder: BTreeMap<&str, &str> = BTreeMap::new();
    for c in &out {
        for l in &c.m365_tenants {
            assert_guid(&l.tenant_id);
            assert_eq!(before.get(&l.tenant_id), Some(&1), "tenant {} kept though several customers hold it", l.tenant_id);
            assert!(holder.insert(&l.tenant_id, &c.id).is_none(), "tenant {} on two customers", l.tenant_id);
        }
    }
    let conflicts = before.values().filter(|n| **n > 1).count();
    assert_eq!(warnings.len(), conflicts);
    for w in &warnings {
        assert_eq!(w.code, tenants::W_CONFLICT);
    }
});
