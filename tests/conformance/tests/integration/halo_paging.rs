//! Requests per import: the connector asks `/Client` for 1,000 rows a page
//! and, when Halo serves fewer while customers remain, continues at the size
//! Halo gave. Three simulated servers: no cap; a cap of 100 with offsets
//! from the size served; a cap of 100 with offsets from the size asked
//! (`page_no=2&page_size=1000` gives rows 1,000..1,100, which loses rows for
//! a client that keeps asking for 1,000). Every customer must arrive exactly
//! once from each, and the requests are counted from the simulator's log.

use crate::common::*;
use halo_sim::{sample_customers, HaloSim, Listener, PageOffsets, SimOptions, TenantLinks};
use std::collections::BTreeSet;

/// (token requests, `/api/Client` requests, every other request).
fn requests(sim: &HaloSim) -> (usize, usize, usize) {
    let log = sim.requests();
    let tokens = log.iter().filter(|r| r.listener == Listener::Auth).count();
    let pages = log.iter().filter(|r| r.listener == Listener::Resource && r.path.eq_ignore_ascii_case("/api/Client")).count();
    (tokens, pages, log.len() - tokens - pages)
}

fn server(n: usize, cap: Option<usize>, offsets: PageOffsets) -> SimOptions {
    SimOptions {
        customers: sample_customers(n, 23),
        tenant_links: TenantLinks::OnRows,
        page_cap: cap.unwrap_or(usize::MAX),
        page_offsets: offsets,
        ..Default::default()
    }
}

/// A full import of 2,345 customers (not a multiple of 100, with parents and
/// tenant links): every id once, fields and links right. Returns the
/// requests made.
async fn import_every_customer_once(opts: SimOptions) -> (usize, usize, usize) {
    let customers = opts.customers.clone();
    assert_eq!(customers.len(), 2345);
    let sim = start(opts).await;
    let halo = halo().await;
    let mut s = halo.open_session(&config(&halo, form(&sim))).await.expect("open");
    let out = s.import_all(|_| {}).await.expect("import");
    s.close().await;

    let got: Vec<String> = out.customers.iter().map(|c| c.id.clone()).collect();
    let distinct: BTreeSet<&String> = got.iter().collect();
    assert_eq!(distinct.len(), got.len(), "a customer came twice");
    let want: BTreeSet<String> = customers.iter().map(|c| c.id.to_string()).collect();
    assert_eq!(distinct.into_iter().cloned().collect::<BTreeSet<_>>(), want, "the imported ids differ from Halo's");
    assert!(!out.warnings.iter().any(|w| w.code == "duplicate-id"), "{:?}", out.warnings);

    let parents = customers.iter().filter(|c| c.toplevel_id.is_some_and(|t| t != 0)).count();
    assert!(parents > 100, "the sample should have parent links ({parents})");
    let (want_links, conflicts) = expected_tenants(&customers);
    for sc in &customers {
        let c = out.customers.iter().find(|c| c.id == sc.id.to_string()).expect("imported");
        assert_eq!(c.name, sc.name);
        assert_eq!(c.parent_id, sc.toplevel_id.filter(|&t| t != 0).map(|t| t.to_string()), "parent of {}", sc.id);
        let mut links = tenant_ids(c);
        // With links on rows, the first holder of a conflicting tenant keeps
        // it (a warning says so).
        links.retain(|g| !conflicts.contains(g));
        assert_eq!(links, want_links[&c.id], "tenant links of {}", c.id);
    }
    let log = sim.requests();
    assert!(log.iter().all(|r| r.status == 200), "{:?}", log.iter().find(|r| r.status != 200));
    let counts = requests(&sim);
    println!("2,345 customers: {} token + {} pages + {} other requests", counts.0, counts.1, counts.2);
    counts
}

#[tokio::test]
async fn every_customer_once_without_a_cap() {
    let counts = import_every_customer_once(server(2345, None, PageOffsets::FromServedSize)).await;
    assert_eq!(counts, (1, 3, 0), "1 token + 3 pages of 1,000");
}

#[tokio::test]
async fn every_customer_once_when_halo_counts_offsets_from_the_served_size() {
    let counts = import_every_customer_once(server(2345, Some(100), PageOffsets::FromServedSize)).await;
    assert_eq!(counts, (1, 24, 0), "1 token + 24 pages of 100");
}

#[tokio::test]
async fn every_customer_once_when_halo_counts_offsets_from_the_asked_size() {
    let counts = import_every_customer_once(server(2345, Some(100), PageOffsets::FromAskedSize)).await;
    assert_eq!(counts, (1, 24, 0), "1 token + 24 pages of 100");
}

/// The page sizes asked for, in order, from the simulator's log.
fn sizes_asked(sim: &HaloSim) -> Vec<String> {
    sim.requests()
        .iter()
        .filter(|r| r.path.eq_ignore_ascii_case("/api/Client"))
        .map(|r| {
            let get = |k: &str| {
                r.query.split('&').filter_map(|p| p.split_once('=')).find(|(n, _)| *n == k).map_or("", |(_, v)| v)
            };
            format!("{}@{}", get("page_no"), get("page_size"))
        })
        .collect()
}

/// Hosted Halo allows 300 requests per 5 minutes: 10,000 customers take 1
/// token request and 10 pages without a cap, and no more than 1 + 101 under
/// a cap of 100 however Halo counts offsets.
#[tokio::test]
async fn request_budget_for_10000_customers() {
    let halo = halo().await;
    let mut report = Vec::new();
    for (name, cap, offsets) in [
        ("no cap", None, PageOffsets::FromServedSize),
        ("cap 100, offsets from the size served", Some(100), PageOffsets::FromServedSize),
        ("cap 100, offsets from the size asked", Some(100), PageOffsets::FromAskedSize),
    ] {
        let sim = start(server(10_000, cap, offsets)).await;
        let mut s = halo.open_session(&config(&halo, form(&sim))).await.expect("open");
        let out = s.import_all(|_| {}).await.expect("import");
        s.close().await;
        let ids: BTreeSet<&str> = out.customers.iter().map(|c| c.id.as_str()).collect();
        assert_eq!((out.customers.len(), ids.len()), (10_000, 10_000), "{name}: every customer once");
        let (tokens, pages, other) = requests(&sim);
        let sizes = sizes_asked(&sim);
        report.push(format!("{name}: {tokens} token + {pages} pages + {other} other = {}", tokens + pages + other));
        assert_eq!((tokens, other), (1, 0), "{name}");
        match cap {
            None => {
                assert_eq!(pages, 10, "{name}: {sizes:?}");
                assert!(sizes.iter().all(|s| s.ends_with("@1000")), "{name}: {sizes:?}");
            }
            Some(_) => {
                assert!(pages <= 101, "{name}: {pages} pages");
                assert_eq!(sizes.first().map(String::as_str), Some("1@1000"), "{name}");
                assert_eq!(sizes.get(1).map(String::as_str), Some("2@100"), "{name}: the size Halo gave");
            }
        }
    }
    println!("requests per import of 10,000 customers:\n  {}", report.join("\n  "));
}
