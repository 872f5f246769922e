//! Full imports through the real host, the real component and the simulator.

use crate::common::*;
use halo_sim::{sample_customers, CspListShape, Listener, SimOptions, TenantLinks};
use std::collections::BTreeSet;

async fn import_and_verify(links: TenantLinks, shape: CspListShape, n: usize) {
    let customers = sample_customers(n, 11);
    let sim = start(SimOptions {
        customers: customers.clone(),
        tenant_links: links,
        csp_list_shape: shape,
        page_cap: 100,
        ..Default::default()
    })
    .await;
    let halo = halo().await;
    let mut session = halo.open_session(&config(&halo, form(&sim))).await.expect("open");
    let mut pages_seen = 0;
    let out = session.import_all(|p| pages_seen = p.pages).await.expect("import");

    // Every id exactly once (the host also enforces this), and no other ids.
    let got: BTreeSet<String> = out.customers.iter().map(|c| c.id.clone()).collect();
    let want: BTreeSet<String> = customers.iter().map(|c| c.id.to_string()).collect();
    assert_eq!(got.len(), out.customers.len(), "duplicates in the import");
    assert_eq!(got, want, "imported ids differ from Halo's");
    assert_eq!(out.pages as usize, n.div_ceil(100), "one page per 100 customers");

    // Fields carried over.
    for sc in &customers {
        let c = out.customers.iter().find(|c| c.id == sc.id.to_string()).unwrap();
        assert_eq!(c.name, sc.name, "name of {}", sc.id);
        assert_eq!(c.active, !sc.inactive, "active flag of {}", sc.id);
        assert_eq!(c.parent_id, sc.toplevel_id.filter(|&t| t != 0).map(|t| t.to_string()), "parent of {}", sc.id);
    }

    // Tenant links: exactly the GUID ones, conflicting tenants on nobody...
    let (want_links, conflicts) = expected_tenants(&customers);
    assert!(!conflicts.is_empty(), "the sample data should contain a conflict");
    for c in &out.customers {
        let mut got = tenant_ids(c);
        // ...except that with links on list rows, a conflict can only be seen
        // once its second customer's page arrives; the first keeps the link
        // and a warning says so.
        if links == TenantLinks::OnRows {
            got.retain(|g| !conflicts.contains(g));
        }
        assert_eq!(&got, &want_links[&c.id], "tenant links of customer {} ({})", c.id, c.name);
    }
    for g in &conflicts {
        let holders = out.customers.iter().filter(|c| tenant_ids(c).contains(g)).count();
        assert!(holders <= 1, "conflicting tenant {g} on {holders} customers");
        assert!(
            out.warnings.iter().any(|w| w.code == "tenant-on-several-customers" && w.message.contains(g.as_str())),
            "no warning for conflicting tenant {g}: {:?}",
            out.warnings
        );
    }
    assert!(out.warnings.iter().any(|w| w.code == "invalid-tenant-id"), "non-GUID tenant not reported");

    // Request budget: one token, one request per page, CSP lookups only when needed.
    let log = sim.requests();
    let tokens = log.iter().filter(|r| r.listener == Listener::Auth).count();
    let pages = log.iter().filter(|r| r.path.eq_ignore_ascii_case("/api/Client")).count();
    let csp = log.iter().filter(|r| r.path.to_ascii_lowercase().starts_with("/api/azureadconnection")).count();
    assert_eq!(tokens, 1, "token requests");
    assert_eq!(pages, n.div_ceil(100), "page requests");
    match links {
        TenantLinks::OnRows => assert_eq!(csp, 0, "CSP endpoints asked although rows carry tenants"),
        _ => assert!(csp >= 2 && csp <= 3, "CSP requests: {csp}"),
    }
    assert!(log.iter().all(|r| r.status < 400), "an error answer: {:?}", log.iter().find(|r| r.status >= 400));
    session.close().await;
}

#[tokio::test]
async fn imports_1234_customers_with_tenants_on_rows() {
    import_and_verify(TenantLinks::OnRows, CspListShape::BareArray, 1234).await;
}

#[tokio::test]
async fn imports_1234_customers_with_tenants_from_csp_mappings() {
    import_and_verify(TenantLinks::CspOnly, CspListShape::BareArray, 1234).await;
}

#[tokio::test]
async fn csp_list_wrapped_in_an_object() {
    import_and_verify(TenantLinks::CspOnly, CspListShape::Wrapped, 300).await;
}

#[tokio::test]
async fn csp_list_as_a_single_object() {
    import_and_verify(TenantLinks::CspOnly, CspListShape::SingleObject, 300).await;
}

#[tokio::test]
async fn inactive_customers_follow_the_flag() {
    let customers = sample_customers(400, 3);
    let inactive = customers.iter().filter(|c| c.inactive).count();
    assert!(inactive > 0);
    let sim = start(SimOptions { customers: customers.clone(), ..Default::default() }).await;
    let halo = halo().await;

    let mut s = halo.open_session(&config(&halo, form(&sim))).await.unwrap();
    let all = s.import_all(|_| {}).await.unwrap();
    assert_eq!(all.customers.len(), 400);
    assert_eq!(all.customers.iter().filter(|c| !c.active).count(), inactive);

    let mut f = form(&sim);
    set(&mut f, "include_inactive", "false");
    let mut s = halo.open_session(&config(&halo, f)).await.unwrap();
    let active = s.import_all(|_| {}).await.unwrap();
    assert_eq!(active.customers.len(), 400 - inactive);
    assert!(active.customers.iter().all(|c| c.active));
}

#[tokio::test]
async fn token_expiring_mid_import_is_renewed_once() {
    let sim = start(SimOptions { customers: sample_customers(500, 5), ..Default::default() }).await;
    let halo = halo().await;
    let mut s = halo.open_session(&config(&halo, form(&sim))).await.unwrap();
    let first = s.list_customers(None).await.unwrap();
    sim.expire_all_tokens();
    let mut cursor = first.next_cursor.clone();
    let mut n = first.customers.len();
    while let Some(c) = cursor {
        let p = s.list_customers(Some(&c)).await.expect("page after expiry");
        n += p.customers.len();
        cursor = p.next_cursor;
    }
    assert_eq!(n, 500);
    let log = sim.requests();
    assert_eq!(log.iter().filter(|r| r.listener == Listener::Auth).count(), 2, "one fresh token");
    assert_eq!(log.iter().filter(|r| r.status == 401).count(), 1, "exactly one refused request");
}

#[tokio::test]
async fn a_token_is_reused_across_calls() {
    let sim = start(SimOptions { customers: sample_customers(50, 5), ..Default::default() }).await;
    let halo = halo().await;
    let mut s = halo.open_session(&config(&halo, form(&sim))).await.unwrap();
    s.import_all(|_| {}).await.unwrap();
    s.import_all(|_| {}).await.unwrap();
    let tokens = sim.requests().iter().filter(|r| r.listener == Listener::Auth).count();
    assert_eq!(tokens, 1);
}

#[tokio::test]
async fn pasted_urls_are_normalised() {
    let sim = start(SimOptions { customers: sample_customers(30, 5), ..Default::default() }).await;
    let halo = halo().await;
    let mut f = form(&sim);
    // Surrounding spaces, trailing slash, bare instance URL without /api.
    set(&mut f, "resource_server_url", &format!("  {}/  ", sim.instance_url()));
    set(&mut f, "authorization_server_url", &format!(" {}/ ", sim.auth_url()));
    let mut s = halo.open_session(&config(&halo, f)).await.unwrap();
    assert_eq!(s.import_all(|_| {}).await.unwrap().customers.len(), 30);
}

#[tokio::test]
async fn hosted_instance_with_the_right_tenant() {
    let sim = start(SimOptions { tenant: Some("acme".into()), customers: sample_customers(20, 1), ..Default::default() }).await;
    let halo = halo().await;
    let mut s = halo.open_session(&config(&halo, form(&sim))).await.unwrap();
    assert_eq!(s.import_all(|_| {}).await.unwrap().customers.len(), 20);
    assert!(sim.requests().iter().any(|r| r.listener == Listener::Auth && r.query.contains("tenant=acme")));
}

#[tokio::test]
async fn a_ticket_is_opened() {
    let customers = sample_customers(20, 1);
    let sim = start(SimOptions { customers: customers.clone(), ..Default::default() }).await;
    let halo = halo().await;
    let mut s = halo.open_session(&config(&halo, form(&sim))).await.unwrap();
    let ticket = psa_host::NewTicket {
        customer_id: customers[3].id.to_string(),
        summary: "MFA disabled for 3 admins".into(),
        details: psa_host::TicketBody { text: "Found by Optimize365".into(), html: Some("<p>Found by Optimize365</p>".into()) },
        ..Default::default()
    };
    let id = s.create_ticket(&ticket).await.expect("ticket").id;
    let stored = sim.tickets();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["id"].to_string(), id);
    assert_eq!(stored[0]["client_id"], serde_json::json!(customers[3].id));
    assert_eq!(stored[0]["summary"], "MFA disabled for 3 admins");
}
