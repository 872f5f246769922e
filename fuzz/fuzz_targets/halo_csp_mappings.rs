//! Microsoft CSP integration answers: the connection list
//! (`GET /AzureADConnection?type=2`) and connection details with
//! `mappings_client`, then the whole map with conflicts resolved.
//!
//! Input: NUL-separated bodies; the first is the connection list, the others
//! are details (when there are none, the first body is read as a detail too).
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use halopsa_connector::{answer, tenants};
use libfuzzer_sys::fuzz_target;

mod common;
use common::{assert_canonical_id, assert_guid, assert_protocol};

const LIST: &str = "/api/AzureADConnection";
const DETAIL: &str = "/api/AzureADConnection/1";

fuzz_target!(|data: &[u8]| {
    let mut bodies = data.split(|b| *b == 0);
    let list = bodies.next().unwrap_or_default();
    let mut details: Vec<&[u8]> = bodies.take(16).collect();
    if details.is_empty() {
        details.push(list);
    }

    match answer::parse_value(LIST, list) {
        Ok(v) => match tenants::connection_ids(&v) {
            Ok(ids) => {
                assert!(ids.len() <= tenants::MAX_CSP_CONNECTIONS, "{} connections", ids.len());
                let distinct: BTreeSet<&String> = ids.iter().collect();
                assert_eq!(distinct.len(), ids.len(), "duplicate connection ids {ids:?}");
                for id in &ids {
                    assert_canonical_id(id);
                    assert!(!id.starts_with('-') && id != "0", "connection id {id:?}");
                }
            }
            Err(problem) => assert!(!problem.trim().is_empty()),
        },
        Err(e) => assert_protocol(&e, LIST),
    }

    let mut all = Vec::new();
    for d in details {
        match answer::parse_value(DETAIL, d) {
            Ok(v) => {
                let found = match tenants::mappings(&v) {
                    Ok(found) => found,
                    Err(problem) => {
                        assert!(!problem.trim().is_empty());
                        continue;
                    }
                };
                for m in found {
                    assert_canonical_id(&m.client_id);
                    assert!(!m.client_id.starts_with('-') && m.client_id != "0", "client id {:?}", m.client_id);
                    assert_eq!(m.client_name, m.client_name.trim());
                    if let Some(dom) = &m.link.domain {
                        assert_eq!(dom, &dom.to_ascii_lowercase());
                    }
                    all.push(m);
                }
            }
            Err(e) => assert_protocol(&e, DETAIL),
        }
    }

    let csp = tenants::build_csp(&all);
    // Who maps each valid tenant, straight from the mappings.
    let mut holders: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for m in &all {
        if let Some(t) = tenants::normalise_guid(&m.link.tenant_id) {
            holders.entry(t).or_default().insert(&m.client_id);
        }
    }
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut total = 0;
    for (customer, links) in &csp.by_customer {
        assert!(!links.is_empty());
        total += links.len();
        for l in links {
            assert_guid(&l.tenant_id);
            assert!(seen.insert(&l.tenant_id), "tenant {} given twice", l.tenant_id);
            let h = &holders[&l.tenant_id];
            assert!(h.len() == 1 && h.contains(customer.as_str()), "tenant {} wrongly given to {customer}", l.tenant_id);
        }
    }
    assert_eq!(total, csp.links);
    for (t, h) in &holders {
        assert_eq!(seen.contains(t.as_str()), h.len() == 1, "tenant {t} held by {h:?}");
    }
    let conflicts = holders.values().filter(|h| h.len() > 1).count();
    assert_eq!(csp.warnings.iter().filter(|w| w.code == tenants::W_CONFLICT).count(), conflicts);
    for w in &csp.warnings {
        assert!(w.code == tenants::W_CONFLICT || w.code == tenants::W_INVALID, "warning {}", w.code);
        assert!(!w.message.trim().is_empty());
    }
});
