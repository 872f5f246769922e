//! Drives the simulator over real HTTP on 127.0.0.1.

use halo_sim::*;
use serde_json::{json, Value};
use std::collections::HashSet;

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn start(opts: SimOptions) -> HaloSim {
    HaloSim::start(opts).await.expect("simulator starts")
}

async fn token_request(sim: &HaloSim, tenant: Option<&str>, form: &[(&str, &str)]) -> (u16, String, String) {
    let mut url = format!("{}/token", sim.auth_url());
    if let Some(t) = tenant {
        url = format!("{url}?tenant={t}");
    }
    let r = http().post(url).form(form).send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, ct, r.text().await.unwrap())
}

fn creds<'a>(o: &'a SimOptions, scope: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", o.client_id.as_str()),
        ("client_secret", o.client_secret.as_str()),
        ("scope", scope),
    ]
}

async fn token_with(sim: &HaloSim, scope: &str) -> String {
    let o = sim.options();
    let (status, _, body) = token_request(sim, o.tenant.as_deref(), &creds(&o, scope)).await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

async fn token(sim: &HaloSim) -> String {
    token_with(sim, "all").await
}

/// GET {resource}{path}; returns (status, content-type, body text).
async fn get(sim: &HaloSim, token: &str, path: &str) -> (u16, String, String) {
    let r = http().get(format!("{}{path}", sim.resource_url())).bearer_auth(token).send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, ct, r.text().await.unwrap())
}

async fn get_json(sim: &HaloSim, token: &str, path: &str) -> Value {
    let (status, _, body) = get(sim, token, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn small(n: usize) -> SimOptions {
    SimOptions { customers: sample_customers(n, 3), ..Default::default() }
}

#[tokio::test]
async fn token_success_and_failures() {
    let sim = start(small(20)).await;
    let o = sim.options();
    let (status, ct, body) = token_request(&sim, None, &creds(&o, "all")).await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("application/json"));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
    assert_eq!(v["id_token"], "");
    assert!(v["access_token"].as_str().unwrap().len() >= 32);
    assert!(v["refresh_token"].is_string());
    assert!(v["scope"].as_str().unwrap().contains("read:customers"));

    // Empty ?tenant= and a non-empty one are tolerated when no tenant is configured.
    assert_eq!(token_request(&sim, Some(""), &creds(&o, "all")).await.0, 200);
    assert_eq!(token_request(&sim, Some("whatever"), &creds(&o, "all")).await.0, 200);

    let (s, _, body) = token_request(
        &sim,
        None,
        &[("grant_type", "client_credentials"), ("client_id", &o.client_id), ("client_secret", "wrong"), ("scope", "all")],
    )
    .await;
    assert_eq!(s, 401);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"], "invalid_client");
    let (s, _, body) = token_request(
        &sim,
        None,
        &[("grant_type", "client_credentials"), ("client_id", "nobody"), ("client_secret", &o.client_secret)],
    )
    .await;
    assert_eq!(s, 401);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"], "invalid_client");

    let (s, _, body) = token_request(&sim, None, &creds(&o, "read:customers read:nonsense")).await;
    assert_eq!(s, 400);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"], "invalid_scope");

    let (s, _, body) = token_request(
        &sim,
        None,
        &[("grant_type", "password"), ("client_id", &o.client_id), ("client_secret", &o.client_secret)],
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"], "unsupported_grant_type");

    // Anything else on the auth listener is a 404 HTML page.
    let r = http().get(format!("{}/token", sim.auth_url())).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
}

#[tokio::test]
async fn tenant_failures() {
    for (failure, want_status) in
        [(TenantFailure::InvalidClient, 401), (TenantFailure::BadRequest, 400), (TenantFailure::NotFoundHtml, 404)]
    {
        let sim = start(SimOptions {
            tenant: Some("acme".into()),
            tenant_failure: failure,
            ..small(5)
        })
        .await;
        let o = sim.options();
        for tenant in [None, Some(""), Some("other")] {
            let (s, ct, body) = token_request(&sim, tenant, &creds(&o, "all")).await;
            assert_eq!(s, want_status, "{failure:?} {tenant:?}");
            match failure {
                TenantFailure::InvalidClient => {
                    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"], "invalid_client")
                }
                TenantFailure::BadRequest => {
                    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"], "invalid_request")
                }
                TenantFailure::NotFoundHtml => assert!(ct.starts_with("text/html")),
            }
        }
        assert_eq!(token_request(&sim, Some("acme"), &creds(&o, "all")).await.0, 200);
        // authinfo tells the tenant.
        let r: Value = http().get(format!("{}/authinfo", sim.resource_url())).send().await.unwrap().json().await.unwrap();
        assert_eq!(r["tenant_id"], "acme");
        assert_eq!(r["auth_url"], sim.auth_url());
    }
}

#[tokio::test]
async fn paging_cap_record_count_and_defaults() {
    let sim = start(SimOptions::default()).await;
    let t = token(&sim).await;
    let customers = sim.options().customers;
    let active = customers.iter().filter(|c| !c.inactive).count();
    assert!(active < customers.len());

    // Ask for 1000, get 100; record_count is the total; includeinactive defaults to false.
    let v = get_json(&sim, &t, "/Client?pageinate=true&page_size=1000&page_no=1").await;
    assert_eq!(v["clients"].as_array().unwrap().len(), 100);
    assert_eq!(v["page_size"], 100);
    assert_eq!(v["page_no"], 1);
    assert_eq!(v["record_count"], active);

    // Paging through every page with includeinactive yields each customer once.
    let mut seen = HashSet::new();
    let mut page_no = 1;
    loop {
        let v = get_json(
            &sim,
            &t,
            &format!("/Client?pageinate=true&page_size=1000&page_no={page_no}&includeactive=true&includeinactive=true"),
        )
        .await;
        assert_eq!(v["record_count"], customers.len());
        let rows = v["clients"].as_array().unwrap();
        if rows.is_empty() {
            break;
        }
        for r in rows {
            assert!(r["id"].is_i64());
            assert!(r.get("azure_tenants").is_none());
            assert!(seen.insert(r["id"].as_i64().unwrap()));
        }
        page_no += 1;
    }
    assert_eq!(seen.len(), customers.len());
    assert_eq!(page_no, 4);

    // Without pageinate, page_size is ignored; count limits.
    let v = get_json(&sim, &t, "/Client?page_size=10&includeinactive=true").await;
    assert_eq!(v["clients"].as_array().unwrap().len(), customers.len());
    let v = get_json(&sim, &t, "/Client?count=7").await;
    assert_eq!(v["clients"].as_array().unwrap().len(), 7);
    // Only inactive.
    let v = get_json(&sim, &t, "/Client?includeactive=false&includeinactive=true").await;
    assert_eq!(v["record_count"], customers.len() - active);
    // Search is case-insensitive on the name; Unicode works.
    let v = get_json(&sim, &t, "/Client?search=m%C3%BCLLER").await;
    assert_eq!(v["clients"][0]["name"], "Müller & Söhne GmbH");
    // Paths are case-insensitive.
    assert_eq!(get(&sim, &t, "/client?count=1").await.0, 200);

    // record_count follows set_customers.
    sim.set_customers(sample_customers(12, 1));
    let v = get_json(&sim, &t, "/Client?pageinate=true&includeinactive=true").await;
    assert_eq!(v["record_count"], 12);
}

#[tokio::test]
async fn azure_tenants_presence() {
    for links in [TenantLinks::OnRows, TenantLinks::Both, TenantLinks::CspOnly, TenantLinks::None] {
        let sim = start(SimOptions { tenant_links: links, ..small(30) }).await;
        let t = token(&sim).await;
        let v = get_json(&sim, &t, "/Client?includeinactive=true&includeazuretenants=true").await;
        let rows = v["clients"].as_array().unwrap();
        let visible = matches!(links, TenantLinks::OnRows | TenantLinks::Both);
        for r in rows {
            assert_eq!(r.get("azure_tenants").is_some(), visible, "{links:?}");
        }
        if visible {
            let total: usize = rows.iter().map(|r| r["azure_tenants"].as_array().unwrap().len()).sum();
            let expected: usize = sim.options().customers.iter().map(|c| c.tenants.len()).sum();
            assert_eq!(total, expected);
            assert!(rows.iter().any(|r| r["azure_tenants"].as_array().unwrap().is_empty()));
            let row = rows.iter().find(|r| !r["azure_tenants"].as_array().unwrap().is_empty()).unwrap();
            let link = &row["azure_tenants"][0];
            assert_eq!(link["client_id"], row["id"]);
            for k in ["id", "client_name", "azure_tenant_id", "azure_tenant_name", "azure_tenant_domain", "details_id"] {
                assert!(link.get(k).is_some(), "{k}");
            }
            // Single record with includedetails.
            let one = get_json(&sim, &t, &format!("/Client/{}?includedetails=true", row["id"])).await;
            assert_eq!(one["azure_tenants"], row["azure_tenants"]);
        }
        // Never without includeazuretenants.
        let v = get_json(&sim, &t, "/Client").await;
        assert!(v["clients"].as_array().unwrap().iter().all(|r| r.get("azure_tenants").is_none()));
    }
}

#[tokio::test]
async fn client_by_id() {
    let sim = start(small(20)).await;
    let t = token(&sim).await;
    let c = &sim.options().customers[4];
    let v = get_json(&sim, &t, &format!("/Client/{}", c.id)).await;
    assert_eq!(v["id"], c.id);
    assert_eq!(v["name"], c.name);
    assert!(v.get("azure_tenants").is_none());
    let (s, _, body) = get(&sim, &t, "/Client/999999").await;
    assert_eq!(s, 404, "{body}");
}

fn mappings_of(v: &Value) -> Vec<Value> {
    v["mappings_client"].as_array().unwrap().clone()
}

#[tokio::test]
async fn csp_connection_shapes() {
    let expected: usize = sample_customers(40, 3).iter().map(|c| c.tenants.len()).sum();
    for shape in [CspListShape::BareArray, CspListShape::SingleObject, CspListShape::Wrapped] {
        let sim = start(SimOptions { tenant_links: TenantLinks::CspOnly, csp_list_shape: shape, ..small(40) }).await;
        let t = token(&sim).await;
        let v = get_json(&sim, &t, "/AzureADConnection?type=2").await;
        let ids: Vec<i64> = match shape {
            CspListShape::BareArray => v.as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect(),
            CspListShape::SingleObject => {
                assert!(v.is_object());
                assert_eq!(v["type"], 2);
                vec![v["id"].as_i64().unwrap()]
            }
            CspListShape::Wrapped => {
                assert_eq!(v["record_count"], 2);
                v["connections"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect()
            }
        };
        let mut all = Vec::new();
        for id in &ids {
            let c = get_json(&sim, &t, &format!("/AzureADConnection/{id}?type=2&includedetails=true&includetenants=true"))
                .await;
            assert_eq!(c["id"], *id);
            let m = mappings_of(&c);
            if ids.len() > 1 {
                assert!(!m.is_empty() && m.len() < expected, "mappings are split across connections");
            }
            all.extend(m);
        }
        assert_eq!(all.len(), expected, "{shape:?}");
        for m in &all {
            assert!(m["client_id"].is_i64());
            assert!(m["azure_tenant_id"].is_string());
        }
        assert_eq!(get(&sim, &t, "/AzureADConnection/77?type=2&includetenants=true").await.0, 404);
    }
    // Links on rows only: no connections, in each shape.
    for (shape, empty) in [
        (CspListShape::BareArray, json!([])),
        (CspListShape::Wrapped, json!({"record_count": 0, "connections": []})),
    ] {
        let sim = start(SimOptions { tenant_links: TenantLinks::OnRows, csp_list_shape: shape, ..small(10) }).await;
        let t = token(&sim).await;
        assert_eq!(get_json(&sim, &t, "/AzureADConnection?type=2").await, empty);
        assert_eq!(get(&sim, &t, "/AzureADConnection/1?type=2&includetenants=true").await.0, 404);
    }
}

#[tokio::test]
async fn default_data_has_conflicts_and_garbage_in_csp() {
    let sim = start(SimOptions { tenant_links: TenantLinks::Both, ..Default::default() }).await;
    let t = token(&sim).await;
    let mut all = Vec::new();
    for id in [1, 2] {
        let c = get_json(&sim, &t, &format!("/AzureADConnection/{id}?type=2&includedetails=true&includetenants=true")).await;
        all.extend(mappings_of(&c));
    }
    let tenant_ids: Vec<&str> = all.iter().map(|m| m["azure_tenant_id"].as_str().unwrap()).collect();
    assert!(tenant_ids.contains(&"not-a-guid"));
    assert!(tenant_ids.iter().any(|t| t.starts_with('{')));
    let unique: HashSet<&&str> = tenant_ids.iter().collect();
    assert_eq!(unique.len(), tenant_ids.len() - 1, "one tenant is on two customers");
}

#[tokio::test]
async fn permissions() {
    // The application lacks read:customers.
    let sim = start(SimOptions { app_permissions: vec!["read:tickets".into(), "edit:tickets".into()], ..small(5) }).await;
    let t = token(&sim).await;
    let (s, _, body) = get(&sim, &t, "/Client").await;
    assert_eq!(s, 403);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["ClassName"], "UnauthorizedAccessException");
    assert_eq!(get(&sim, &t, "/AzureADConnection?type=2").await.0, 403);
    assert_eq!(get(&sim, &t, "/Tickets").await.0, 200);

    // The seed's app: no admin, so no AzureADConnection; edit:customers implies read:customers.
    let sim = start(SimOptions {
        app_permissions: vec!["edit:customers".into(), "edit:tickets".into()],
        tenant_links: TenantLinks::Both,
        ..small(5)
    })
    .await;
    let t = token(&sim).await;
    assert_eq!(get(&sim, &t, "/Client").await.0, 200);
    assert_eq!(get(&sim, &t, "/AzureADConnection?type=2").await.0, 403);
    assert_eq!(get(&sim, &t, "/AzureADConnection/1?type=2&includetenants=true").await.0, 403);

    // A token asking only for read:tickets cannot read customers even though the app may.
    let sim = start(small(5)).await;
    let t = token_with(&sim, "read:tickets").await;
    assert_eq!(get(&sim, &t, "/Client").await.0, 403);
    let t = token_with(&sim, "admin").await;
    assert_eq!(get(&sim, &t, "/Client").await.0, 200);

    // Not an Agent login: everything is 403.
    let sim = start(SimOptions { agent_login: false, ..small(5) }).await;
    let t = token(&sim).await;
    assert_eq!(get(&sim, &t, "/Client").await.0, 403);
    assert_eq!(get(&sim, &t, "/Tickets").await.0, 403);
}

#[tokio::test]
async fn token_expiry() {
    let sim = start(small(5)).await;
    let t = token(&sim).await;
    assert_eq!(get(&sim, &t, "/Client").await.0, 200);
    sim.expire_all_tokens();
    assert_eq!(get(&sim, &t, "/Client").await.0, 401);
    let t2 = token(&sim).await;
    assert_eq!(get(&sim, &t2, "/Client").await.0, 200);
    // Missing and unknown tokens.
    let r = http().get(format!("{}/Client", sim.resource_url())).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(get(&sim, "garbage", "/Client").await.0, 401);

    // Real-time expiry.
    let sim = start(SimOptions { token_ttl_secs: 1, ..small(5) }).await;
    let t = token(&sim).await;
    assert_eq!(get(&sim, &t, "/Client").await.0, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(get(&sim, &t, "/Client").await.0, 401);
}

#[tokio::test]
async fn faults() {
    let sim = start(small(5)).await;
    let t = token(&sim).await;

    sim.set_faults(Faults { rate_limit_next: 2, ..Default::default() });
    for _ in 0..2 {
        let r = http().get(format!("{}/Client", sim.resource_url())).bearer_auth(&t).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 429);
        assert!(r.headers().get("retry-after").is_none());
        assert!(r.text().await.unwrap().contains("Rate Limit Reached"));
    }
    assert_eq!(get(&sim, &t, "/Client").await.0, 200);

    sim.set_faults(Faults { rate_limit_next: 1, retry_after: Some(7), ..Default::default() });
    let r = http().get(format!("{}/Client", sim.resource_url())).bearer_auth(&t).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "7");

    sim.set_faults(Faults { server_error_next: 1, ..Default::default() });
    let (s, ct, _) = get(&sim, &t, "/Client").await;
    assert_eq!((s, ct.starts_with("text/html")), (502, true));
    assert_eq!(get(&sim, &t, "/Client").await.0, 200);

    sim.set_faults(Faults { html_login_page: true, ..Default::default() });
    let (s, ct, body) = get(&sim, &t, "/Client").await;
    assert_eq!(s, 200);
    assert!(ct.starts_with("text/html"));
    assert!(body.starts_with("<!DOCTYPE html>") && body.contains("Halo - Login"));

    sim.set_faults(Faults { latency_ms: 150, ..Default::default() });
    let start = std::time::Instant::now();
    token(&sim).await;
    assert_eq!(get(&sim, &t, "/Client").await.0, 200);
    assert!(start.elapsed() >= std::time::Duration::from_millis(300));
}

#[tokio::test]
async fn tickets() {
    let sim = start(small(10)).await;
    let t = token(&sim).await;
    let cid = sim.options().customers[2].id;
    let post = |body: Value| {
        let url = format!("{}/Tickets", sim.resource_url());
        let t = t.clone();
        async move {
            let r = http().post(url).bearer_auth(t).json(&body).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (s, v) = post(json!([{"client_id": cid, "summary": "Alert: MFA disabled", "details_html": "<p>x</p>",
        "usertype": 1, "userlookup": {"id": -1}, "_novalidate": true}]))
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["id"], 1001);
    assert_eq!(v["client_id"], cid);
    assert_eq!(v["summary"], "Alert: MFA disabled");
    let (s, v) = post(json!([{"client_id": cid, "summary": "second"}])).await;
    assert_eq!((s, v["id"].clone()), (201, json!(1002)));

    let (s, v) = post(json!([{"client_id": 95.0, "summary": "x"}])).await;
    assert_eq!(s, 400);
    assert_eq!(v["[0].client_id"], "The value 95.0 is not valid for client_id.");
    let (s, v) = post(json!([{"client_id": 1, "summary": "x"}])).await;
    assert_eq!((s, v["[0].client_id"].clone()), (400, json!("Client not found")));
    let (s, v) = post(json!([{"client_id": cid}])).await;
    assert_eq!(s, 400);
    assert!(v.get("[0].summary").is_some());
    let (s, _) = post(json!({"client_id": cid, "summary": "not an array"})).await;
    assert_eq!(s, 400);

    assert_eq!(sim.tickets().len(), 2);
    let v = get_json(&sim, &t, &format!("/Tickets?client_id={cid}")).await;
    assert_eq!(v["record_count"], 2);
    let v = get_json(&sim, &t, "/Tickets?client_id=1").await;
    assert_eq!(v["record_count"], 0);
    assert_eq!(get_json(&sim, &t, "/Tickets/1001").await["summary"], "Alert: MFA disabled");

    // Without edit:tickets, posting is forbidden.
    let t_read = token_with(&sim, "read:tickets read:customers").await;
    let r = http()
        .post(format!("{}/Tickets", sim.resource_url()))
        .bearer_auth(t_read)
        .json(&json!([{"client_id": cid, "summary": "x"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
}

#[tokio::test]
async fn request_log_and_unknown_paths() {
    let sim = start(small(5)).await;
    let t = token(&sim).await;
    assert_eq!(get(&sim, &t, "/Client?pageinate=true&page_no=1").await.0, 200);
    let (s, _, body) = get(&sim, &t, "/NoSuchThing").await;
    assert_eq!(s, 404);
    assert!(body.contains("No HTTP resource was found"));
    let r = http().get(format!("{}/index.html", sim.instance_url())).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);

    let log = sim.requests();
    assert_eq!(log.len(), 4);
    assert_eq!(log[0].listener, Listener::Auth);
    assert_eq!((log[0].method.as_str(), log[0].path.as_str(), log[0].status), ("POST", "/auth/token", 200));
    assert_eq!(log[1].listener, Listener::Resource);
    assert_eq!((log[1].method.as_str(), log[1].path.as_str()), ("GET", "/api/Client"));
    assert_eq!(log[1].query, "pageinate=true&page_no=1");
    assert_eq!(log[1].status, 200);
    assert_eq!((log[2].path.as_str(), log[2].status), ("/api/NoSuchThing", 404));
    assert_eq!((log[3].path.as_str(), log[3].status), ("/index.html", 404));
    sim.clear_requests();
    assert!(sim.requests().is_empty());
}

#[tokio::test]
async fn drop_stops_listeners() {
    let sim = start(small(3)).await;
    let url = format!("{}/authinfo", sim.resource_url());
    assert_eq!(http().get(&url).send().await.unwrap().status().as_u16(), 200);
    drop(sim);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    // A fresh client so no pooled connection is reused.
    assert!(reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap().get(&url).send().await.is_err());
}

// ---------------------------------------------------------------------------------------------
// Rolling rate limit, fault schedule, new counters, authinfo switch, TLS.

use std::time::{Duration, Instant};

async fn authinfo_status(sim: &HaloSim) -> (u16, Option<String>, String) {
    let r = http().get(format!("{}/authinfo", sim.resource_url())).send().await.unwrap();
    let status = r.status().as_u16();
    let retry = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    (status, retry, r.text().await.unwrap())
}

#[tokio::test]
async fn rolling_rate_limit() {
    let window = Duration::from_secs(2);
    let sim = start(SimOptions { rate_limit: Some(RateLimit { max_requests: 5, window }), ..small(3) }).await;
    let text = "Rate Limit Reached - 5 Requests per rolling 2 second window";
    let t0 = Instant::now();
    for _ in 0..5 {
        assert_eq!(authinfo_status(&sim).await.0, 200);
    }
    let (s, retry, body) = authinfo_status(&sim).await;
    assert_eq!((s, retry, body.as_str()), (429, None, text));
    // The auth listener shares the window.
    let o = sim.options();
    assert_eq!(token_request(&sim, None, &creds(&o, "all")).await.0, 429);
    assert!(t0.elapsed() < window, "the machine was too slow for this test");
    // A refusal in the middle of the window must not extend it.
    tokio::time::sleep(Duration::from_millis(1000).saturating_sub(t0.elapsed())).await;
    assert_eq!(authinfo_status(&sim).await.0, 429);
    let log = sim.requests();
    assert_eq!(log.iter().filter(|r| r.fault.as_deref() == Some("rate-limit")).count(), 3);
    assert!(log[..5].iter().all(|r| r.fault.is_none() && r.status == 200));
    assert_eq!(log[6].listener, Listener::Auth);

    // Once the first five are older than the window, five more pass (the refused ones did not
    // count), then the sixth is refused again, with Retry-After when asked for.
    tokio::time::sleep((window + Duration::from_millis(100)).saturating_sub(t0.elapsed())).await;
    for _ in 0..5 {
        assert_eq!(authinfo_status(&sim).await.0, 200);
    }
    sim.set_faults(Faults { retry_after: Some(3), ..Default::default() });
    let (s, retry, body) = authinfo_status(&sim).await;
    assert_eq!((s, retry.as_deref(), body.as_str()), (429, Some("3"), text));

    // Lifting the limit lets everything through; a minute-sized window is said in minutes.
    sim.set_rate_limit(None);
    assert_eq!(authinfo_status(&sim).await.0, 200);
    assert_eq!(
        RateLimit { max_requests: 300, window: Duration::from_secs(300) }.message(),
        "Rate Limit Reached - 300 Requests per rolling 5 minute window"
    );
    assert_eq!(RateLimit::halo_hosted().message(), RateLimit { max_requests: 300, window: Duration::from_secs(300) }.message());
    sim.set_rate_limit(Some(RateLimit { max_requests: 1, window: Duration::from_secs(60) }));
    sim.set_faults(Faults::default());
    let (s, _, body) = authinfo_status(&sim).await;
    assert_eq!((s, body.as_str()), (429, "Rate Limit Reached - 1 Requests per rolling 1 minute window"));
}

/// GET /api/Client; `Err(())` when the connection broke before the body was complete.
async fn try_get(sim: &HaloSim, token: &str) -> Result<(u16, String, String), ()> {
    let r = http().get(format!("{}/Client", sim.resource_url())).bearer_auth(token).send().await.map_err(|_| ())?;
    let status = r.status().as_u16();
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let body = r.text().await.map_err(|_| ())?;
    Ok((status, ct, body))
}

#[tokio::test]
async fn fault_schedule() {
    let sim = start(small(5)).await;
    let t = token(&sim).await;
    // Requests before set_faults do not count.
    assert_eq!(get(&sim, &t, "/Client").await.0, 200);
    let hang = Duration::from_millis(400);
    let kinds = [
        FaultKind::BadGateway,
        FaultKind::Unavailable,
        FaultKind::GatewayTimeout,
        FaultKind::RateLimited,
        FaultKind::HtmlLoginPage,
        FaultKind::Reset,
        FaultKind::Hang(hang),
    ];
    let schedule = kinds.iter().enumerate().map(|(i, k)| ScheduledFault { nth: 2 * i as u64 + 2, kind: k.clone() }).collect();
    sim.set_faults(Faults { schedule, ..Default::default() });
    sim.clear_requests();
    for (i, kind) in kinds.iter().enumerate() {
        // Odd-numbered requests are normal.
        assert_eq!(try_get(&sim, &t).await.unwrap().0, 200, "request {}", 2 * i + 1);
        let started = Instant::now();
        let got = try_get(&sim, &t).await;
        match kind {
            FaultKind::Reset => assert!(got.is_err(), "reset: the client must see the connection break: {got:?}"),
            FaultKind::Hang(d) => {
                assert_eq!(got.unwrap().0, 200);
                assert!(started.elapsed() >= *d);
            }
            _ => {
                let (s, ct, body) = got.unwrap();
                let want = match kind {
                    FaultKind::BadGateway => 502,
                    FaultKind::Unavailable => 503,
                    FaultKind::GatewayTimeout => 504,
                    FaultKind::RateLimited => 429,
                    _ => 200,
                };
                assert_eq!(s, want, "{kind:?}");
                if *kind == FaultKind::RateLimited {
                    assert_eq!(body, "Rate Limit Reached - 300 Requests per rolling 5 minute window");
                } else {
                    assert!(ct.starts_with("text/html"), "{kind:?} {ct}");
                }
            }
        }
    }
    assert_eq!(try_get(&sim, &t).await.unwrap().0, 200);
    let log = sim.requests();
    let faults: Vec<(u16, Option<&str>)> = log.iter().map(|r| (r.status, r.fault.as_deref())).collect();
    let mut want = Vec::new();
    for (status, name) in [
        (502, "bad-gateway"),
        (503, "unavailable"),
        (504, "gateway-timeout"),
        (429, "rate-limited"),
        (200, "html-login-page"),
        (200, "reset"),
        (200, "hang"),
    ] {
        want.push((200, None));
        want.push((status, Some(name)));
    }
    want.push((200, None));
    assert_eq!(faults, want);

    // set_faults restarts the count.
    sim.set_faults(Faults { schedule: vec![ScheduledFault { nth: 1, kind: FaultKind::BadGateway }], ..Default::default() });
    assert_eq!(try_get(&sim, &t).await.unwrap().0, 502);
    assert_eq!(try_get(&sim, &t).await.unwrap().0, 200);
}

#[tokio::test]
async fn new_fault_counters() {
    let sim = start(small(5)).await;
    let t = token(&sim).await;
    sim.set_faults(Faults { unavailable_next: 2, gateway_timeout_next: 1, reset_next: 1, ..Default::default() });
    sim.clear_requests();
    let (s, ct, _) = try_get(&sim, &t).await.unwrap();
    assert_eq!((s, ct.starts_with("text/html")), (503, true));
    assert_eq!(try_get(&sim, &t).await.unwrap().0, 503);
    let (s, ct, body) = try_get(&sim, &t).await.unwrap();
    assert_eq!((s, ct.starts_with("text/html")), (504, true));
    assert!(body.contains("504 Gateway Time-out"));
    assert!(try_get(&sim, &t).await.is_err());
    assert_eq!(try_get(&sim, &t).await.unwrap().0, 200);
    let names: Vec<Option<String>> = sim.requests().into_iter().map(|r| r.fault).collect();
    let s = |x: &str| Some(x.to_string());
    assert_eq!(names, vec![s("unavailable"), s("unavailable"), s("gateway-timeout"), s("reset"), None]);
    assert_eq!(sim.requests()[3].status, 200);
}

#[tokio::test]
async fn authinfo_switch() {
    let sim = start(SimOptions { authinfo: false, ..small(3) }).await;
    let (s, _, body) = authinfo_status(&sim).await;
    assert_eq!(s, 404);
    assert!(body.contains("No HTTP resource was found"));
    let t = token(&sim).await;
    assert_eq!(get(&sim, &t, "/authinfo").await.0, 404);
    let sim = start(small(3)).await;
    assert_eq!(authinfo_status(&sim).await.0, 200);
}

fn tls_client(trust: Option<&[u8]>) -> reqwest::Client {
    let mut b = reqwest::Client::builder().use_rustls_tls().tls_built_in_root_certs(false);
    if let Some(der) = trust {
        b = b.add_root_certificate(reqwest::Certificate::from_der(der).unwrap());
    }
    b.build().unwrap()
}

#[tokio::test]
async fn tls_listeners() {
    for (name, (identity, trust)) in
        [("ca", test_ca(&["localhost", "127.0.0.1"])), ("self-signed", self_signed_tls(&["localhost"]))]
    {
        let sim = start(SimOptions { tls: Some(identity), ..small(4) }).await;
        let port = |u: &str| u.rsplit(':').next().unwrap().split('/').next().unwrap().to_string();
        assert!(sim.auth_url().starts_with("https://localhost:") && sim.auth_url().ends_with("/auth"));
        assert!(sim.resource_url().starts_with("https://localhost:") && sim.resource_url().ends_with("/api"));
        assert_eq!(sim.instance_url(), format!("https://localhost:{}", port(&sim.resource_url())));

        let good = tls_client(Some(&trust));
        let o = sim.options();
        let r = good.post(format!("{}/token", sim.auth_url())).form(&creds(&o, "all")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{name}");
        let v: Value = r.json().await.unwrap();
        let t = v["access_token"].as_str().unwrap().to_string();
        let r = good.get(format!("{}/Client?count=2", sim.resource_url())).bearer_auth(&t).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["clients"].as_array().unwrap().len(), 2);
        let info: Value = good.get(format!("{}/authinfo", sim.resource_url())).send().await.unwrap().json().await.unwrap();
        assert_eq!(info["auth_url"], sim.auth_url());

        // Faults work over TLS too (the reset breaks the TLS stream).
        sim.set_faults(Faults { reset_next: 1, ..Default::default() });
        let broke = match good.get(format!("{}/Client", sim.resource_url())).bearer_auth(&t).send().await {
            Err(_) => true,
            Ok(r) => r.text().await.is_err(),
        };
        assert!(broke, "{name}");

        // A client that does not trust the certificate fails the handshake, on both listeners.
        let bad = tls_client(None);
        let e = bad.post(format!("{}/token", sim.auth_url())).form(&creds(&o, "all")).send().await.unwrap_err();
        assert!(e.is_connect(), "{name}: {e:?}");
        assert!(bad.get(format!("{}/authinfo", sim.resource_url())).send().await.is_err());
        // Another CA does not help either.
        let (_, other) = test_ca(&["localhost"]);
        assert!(tls_client(Some(&other)).get(format!("{}/authinfo", sim.resource_url())).send().await.is_err());
        // Plain HTTP to the HTTPS port gets no HTTP answer.
        let plain = format!("http://127.0.0.1:{}/api/authinfo", port(&sim.resource_url()));
        assert!(http().get(plain).send().await.is_err());

        let url = format!("{}/authinfo", sim.resource_url());
        drop(sim);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let fresh = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_der(&trust).unwrap())
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        assert!(fresh.get(url).send().await.is_err(), "{name}: dropped sim still answers");
    }
}

/// The ids of `/Client` page `page_no` at `page_size` (active and inactive).
async fn page_ids(sim: &HaloSim, t: &str, page_no: usize, page_size: usize) -> Vec<i64> {
    let q = format!("/Client?pageinate=true&page_size={page_size}&page_no={page_no}&includeactive=true&includeinactive=true");
    let v = get_json(sim, t, &q).await;
    v["clients"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn three_paging_servers() {
    let customers = sample_customers(2345, 4);
    // The order the simulator lists customers in: by name, then id.
    let mut order: Vec<&SimCustomer> = customers.iter().collect();
    order.sort_by_cached_key(|c| (c.name.to_lowercase(), c.id));
    let ids = |range: std::ops::Range<usize>| order[range].iter().map(|c| c.id).collect::<Vec<_>>();

    // No cap: what is asked for.
    let sim = start(SimOptions { customers: customers.clone(), page_cap: usize::MAX, ..Default::default() }).await;
    let t = token(&sim).await;
    assert_eq!(page_ids(&sim, &t, 3, 1000).await, ids(2000..2345));

    // A cap of 100, offsets from the served size: page 2 at 1000 is rows 100..200.
    let sim = start(SimOptions { customers: customers.clone(), page_cap: 100, ..Default::default() }).await;
    let t = token(&sim).await;
    assert_eq!(page_ids(&sim, &t, 2, 1000).await, ids(100..200));
    assert_eq!(page_ids(&sim, &t, 24, 100).await, ids(2300..2345));

    // A cap of 100, offsets from the asked size: page 2 at 1000 is rows 1000..1100.
    let sim = start(SimOptions {
        customers: customers.clone(),
        page_cap: 100,
        page_offsets: PageOffsets::FromAskedSize,
        ..Default::default()
    })
    .await;
    let t = token(&sim).await;
    let v = get_json(&sim, &t, "/Client?pageinate=true&page_size=1000&page_no=2&includeinactive=true").await;
    assert_eq!(v["page_size"], 100, "the size served");
    assert_eq!(page_ids(&sim, &t, 2, 1000).await, ids(1000..1100));
    assert_eq!(page_ids(&sim, &t, 2, 100).await, ids(100..200));
    assert!(page_ids(&sim, &t, 4, 1000).await.is_empty());
    // Huge or odd numbers do not overflow.
    assert!(page_ids(&sim, &t, usize::MAX >> 1, 1000).await.is_empty());
}

/// A request written by hand: `chunked` sends the body with `Transfer-Encoding: chunked`,
/// `length` with `Content-Length`. Returns the status and the whole answer.
async fn raw_post(addr: &str, path: &str, body: &str, chunked: bool, length: bool) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n");
    if length {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    if chunked {
        req.push_str(&format!("Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n", body.len()));
    } else {
        req.push_str("\r\n");
        req.push_str(body);
    }
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text)
}

#[tokio::test]
async fn strict_mode_wants_a_length() {
    for strict in [false, true] {
        let sim = start(SimOptions { require_content_length: strict, ..small(5) }).await;
        let o = sim.options();
        let form = format!("grant_type=client_credentials&client_id={}&client_secret={}&scope=all", o.client_id, o.client_secret);
        let auth = sim.auth_url().trim_start_matches("http://").trim_end_matches("/auth").to_string();
        let api = sim.instance_url().trim_start_matches("http://").to_string();

        let (status, text) = raw_post(&auth, "/auth/token", &form, true, false).await;
        assert_eq!(status, if strict { 411 } else { 200 }, "chunked token request, strict {strict}: {text}");
        if strict {
            assert!(text.contains("<title>411 Length Required</title>"), "{text}");
        }
        let (status, _) = raw_post(&auth, "/auth/token", &form, false, true).await;
        assert_eq!(status, 200, "a token request with Content-Length");
        let (status, _) = raw_post(&api, "/api/Tickets", "[]", true, false).await;
        assert_eq!(status, if strict { 411 } else { 401 }, "chunked ticket, strict {strict}");
        // GETs without a body pass.
        let t = token(&sim).await;
        assert_eq!(get(&sim, &t, "/Client?count=1").await.0, 200);

        let log = sim.requests();
        assert!(log[0].chunked && log[0].content_length.is_none(), "{:?}", log[0]);
        assert_eq!(log[0].fault.as_deref(), strict.then_some("length-required"));
        assert!(!log[1].chunked);
        assert_eq!(log[1].content_length.as_deref(), Some(form.len().to_string().as_str()));
        assert_eq!((log[2].listener, log[2].chunked), (Listener::Resource, true));
        // reqwest sends a form with its length.
        assert_eq!(log[3].content_length.as_deref().map(|l| l != "0"), Some(true));
        assert!(!log[4].chunked && log[4].content_length.is_none(), "a GET: {:?}", log[4]);
    }
}

async fn post_json(sim: &HaloSim, token: &str, path: &str, body: &Value) -> (u16, Value) {
    let r = http().post(format!("{}{path}", sim.resource_url())).bearer_auth(token).json(body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json::<Value>().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn tickets_by_key_close_delete_and_strict_ids() {
    for filter in [FilterSupport::Filters, FilterSupport::Ignored] {
        let sim = start(SimOptions { ticket_key_filter: filter, ..small(10) }).await;
        let t = token(&sim).await;
        let cid = sim.options().customers[1].id;
        let other = sim.options().customers[2].id;
        let ticket = |client: i64, key: &str| {
            json!([{"client_id": client, "summary": format!("Finding {key}"), "details": "d", "usertype": 1,
                "userlookup": {"id": -1}, "_novalidate": true, "third_party_id_string": key}])
        };
        let (s, a) = post_json(&sim, &t, "/Tickets", &ticket(cid, "o365:mfa")).await;
        assert_eq!(s, 201, "{a}");
        assert_eq!(a["third_party_id_string"], "o365:mfa");
        assert_eq!(a["hasbeenclosed"], false);
        assert_eq!(a["user_name"], "General User");
        assert!(a.get("_novalidate").is_none() && a.get("userlookup").is_none());
        let (_, b) = post_json(&sim, &t, "/Tickets", &ticket(cid, "o365:other")).await;
        post_json(&sim, &t, "/Tickets", &ticket(other, "o365:mfa")).await;

        let v = get_json(&sim, &t, &format!("/Tickets?client_id={cid}&open_only=true&third_party_id_string=o365:mfa")).await;
        let want = if filter == FilterSupport::Filters { 1 } else { 2 };
        assert_eq!(v["record_count"], want, "{filter:?}: {v}");
        let v = get_json(&sim, &t, &format!("/Tickets?client_id={cid}&search_summary=FINDING%20O365:OTH")).await;
        assert_eq!(v["tickets"][0]["third_party_id_string"], "o365:other");
        assert_eq!(v["tickets"][0]["id"], b["id"]);

        // Closed: out of open_only, hasbeenclosed on the ticket; deleted: no id.
        let id = a["id"].as_i64().unwrap();
        assert!(sim.close_ticket(id));
        let v = get_json(&sim, &t, &format!("/Tickets?client_id={cid}&open_only=true")).await;
        assert_eq!(v["record_count"], 1);
        assert_eq!(get_json(&sim, &t, &format!("/Tickets/{id}")).await["hasbeenclosed"], true);
        assert!(sim.delete_ticket(id));
        assert!(get_json(&sim, &t, &format!("/Tickets/{id}")).await.get("id").is_none());
        assert_eq!(get(&sim, &t, "/Tickets/999999").await.0, 404);
        assert_eq!(get_json(&sim, &t, &format!("/Tickets?client_id={cid}")).await["record_count"], 1);
    }

    let sim = start(SimOptions { page_cap: usize::MAX, ..small(10) }).await;
    let t = token(&sim).await;
    let cid = sim.options().customers[1].id;
    for bad in [json!(95.0), json!(cid.to_string()), json!(null), json!(true)] {
        let (s, v) = post_json(&sim, &t, "/Tickets", &json!([{"client_id": bad, "summary": "x"}])).await;
        assert_eq!(s, 400, "{bad}: {v}");
        assert!(v.get("[0].client_id").is_some(), "{v}");
    }
    let (s, v) = post_json(&sim, &t, "/Tickets", &json!([{"client_id": cid, "summary": "x", "priority_id": 2.0}])).await;
    assert_eq!((s, v["[0].priority_id"].clone()), (400, json!("The value 2.0 is not valid for priority_id.")));
    // Ticket type 21 has mandatory fields: only _novalidate skips them.
    let (s, v) = post_json(&sim, &t, "/Tickets", &json!([{"client_id": cid, "summary": "x", "tickettype_id": 21}])).await;
    assert_eq!((s, v["[0].category_1"].is_string()), (400, true));
    let (s, _) = post_json(&sim, &t, "/Tickets", &json!([{"client_id": cid, "summary": "x", "tickettype_id": 21, "_novalidate": true}])).await;
    assert_eq!(s, 201);
    // A real user needs a site.
    let (s, v) = post_json(&sim, &t, "/Tickets", &json!([{"client_id": cid, "summary": "x", "userlookup": {"id": 5}}])).await;
    assert_eq!((s, v["[0].site_id"].is_string()), (400, true));
    assert_eq!(sim.tickets().len(), 1);
    assert_eq!(sim.posted("/api/tickets").len(), 8);

    // Paging: at most 100 a page for tickets, whatever is asked.
    let many: Vec<Value> = (0..130).map(|i| json!({"client_id": cid, "summary": format!("t{i}")})).collect();
    let (s, v) = post_json(&sim, &t, "/Tickets", &Value::Array(many)).await;
    assert_eq!((s, v.as_array().map(|a| a.len())), (201, Some(130)));
    let v = get_json(&sim, &t, "/Tickets?pageinate=true&page_size=1000&page_no=1").await;
    assert_eq!((v["record_count"].clone(), v["tickets"].as_array().unwrap().len()), (json!(131), 100));
}

#[tokio::test]
async fn actions_need_an_outcome_the_agent_may_run() {
    let sim = start(SimOptions { restricted_outcomes: vec![15], ..small(5) }).await;
    let t = token(&sim).await;
    let cid = sim.options().customers[0].id;
    let (_, tk) = post_json(&sim, &t, "/Tickets", &json!([{"client_id": cid, "summary": "x"}])).await;
    let id = tk["id"].as_i64().unwrap();
    let (s, v) = post_json(&sim, &t, "/Actions", &json!([{"ticket_id": id, "note": "n"}])).await;
    assert_eq!((s, v["[0].outcome"].clone()), (400, json!("An Outcome must be entered for this Action")));
    let (s, v) = post_json(&sim, &t, "/Actions", &json!([{"ticket_id": id, "outcome_id": 15, "note": "n"}])).await;
    assert_eq!((s, v["Message"].clone()), (400, json!("You do not have access to this Action at the moment")));
    let (s, v) = post_json(&sim, &t, "/Actions", &json!({"ticket_id": id, "outcome_id": 7})).await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = post_json(&sim, &t, "/Actions", &json!([{"ticket_id": 1, "outcome_id": 7}])).await;
    assert_eq!((s, v["[0].ticket_id"].clone()), (400, json!("Ticket not found")));
    let (s, v) = post_json(
        &sim,
        &t,
        "/Actions",
        &json!([{"ticket_id": id, "outcome_id": 7, "hiddenfromuser": true, "note_html": "<p>again</p>"}]),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!((v["id"].clone(), v["outcome"].clone(), v["hiddenfromuser"].clone()), (json!(5001), json!("Private Note"), json!(true)));
    assert_eq!(sim.actions().len(), 1);
    let v = get_json(&sim, &t, &format!("/Actions?ticket_id={id}")).await;
    assert_eq!(v["record_count"], 1);
    // The Close outcome closes the ticket.
    let (s, _) = post_json(&sim, &t, "/Actions", &json!([{"ticket_id": id, "outcome": "close", "note": "done"}])).await;
    assert_eq!(s, 201);
    assert_eq!(get_json(&sim, &t, &format!("/Tickets/{id}")).await["hasbeenclosed"], true);

    // Reading needs read:tickets, writing edit:tickets.
    let t_read = token_with(&sim, "read:tickets").await;
    let (s, _) = post_json(&sim, &t_read, "/Actions", &json!([{"ticket_id": id, "outcome_id": 7}])).await;
    assert_eq!(s, 403);
    let t_cust = token_with(&sim, "read:customers").await;
    for path in ["/Tickets", "/Actions?ticket_id=1", "/TicketType?showall=true", "/Priority", "/Outcome", "/Status"] {
        assert_eq!(get(&sim, &t_cust, path).await.0, 403, "{path}");
        assert_eq!(get(&sim, &t_read, path).await.0, 200, "{path}");
    }
}

#[tokio::test]
async fn ticket_lookups() {
    let sim = start(small(3)).await;
    let t = token(&sim).await;
    let types = get_json(&sim, &t, "/TicketType?showall=true").await;
    assert!(types.is_array());
    assert_eq!(types.as_array().unwrap().len(), 4);
    assert_eq!(get_json(&sim, &t, "/TicketType").await.as_array().unwrap().len(), 3);
    let prios = get_json(&sim, &t, "/Priority").await;
    let p = &prios[0];
    assert!(p["id"].is_string() && p["priorityid"].is_i64(), "{p}");
    assert_eq!(prios.as_array().unwrap().len(), 10, "five priorities in each of two SLAs");
    assert_eq!(get_json(&sim, &t, "/Priority?slaid=2").await.as_array().unwrap().len(), 5);
    let outcomes = get_json(&sim, &t, "/Outcome").await;
    assert!(outcomes.as_array().unwrap().iter().any(|o| o["id"] == 7 && o["buttonname"] == "Internal Note"));
    assert!(get_json(&sim, &t, "/Outcome?excludesystemactions=true").await.as_array().unwrap().iter().all(|o| o["hidden"] == false));
    let statuses = get_json(&sim, &t, "/Status?excludeclosed=true").await;
    assert!(statuses.as_array().unwrap().iter().all(|s| s["name"] != "Closed"));
    // Teams (queues) have no list in the notes: not simulated.
    assert_eq!(get(&sim, &t, "/Team").await.0, 404);
}

#[tokio::test]
async fn clients_changed_since() {
    for filter in [FilterSupport::Filters, FilterSupport::Ignored] {
        let sim = start(SimOptions { client_lastupdate_filter: filter, ..small(30) }).await;
        let t = token(&sim).await;
        let ids: Vec<i64> = sim.options().customers.iter().filter(|c| !c.inactive).take(4).map(|c| c.id).collect();
        assert_eq!(sim.touch_customers(&ids), 4);
        assert_eq!(sim.touch_customers(&[-5]), 0);
        let v = get_json(&sim, &t, "/Client?includeinactive=true&lastupdatefromdate=2025-01-01T00:00:00").await;
        let n = v["record_count"].as_u64().unwrap();
        match filter {
            FilterSupport::Filters => assert_eq!(n, 4),
            FilterSupport::Ignored => assert_eq!(n, 30),
        }
        // Before the default last update: everything.
        let v = get_json(&sim, &t, "/Client?includeinactive=true&lastupdatefromdate=2023-06-01T00:00:00").await;
        assert_eq!(v["record_count"], 30);
        // The spec's bool is not a time and filters nothing.
        let v = get_json(&sim, &t, "/Client?includeinactive=true&lastupdatefromdate=true").await;
        assert_eq!(v["record_count"], 30);
        let (s, _, _) = get(&sim, &t, "/Client?lastupdatefromdate=yesterday").await;
        assert_eq!(s, if filter == FilterSupport::Filters { 400 } else { 200 });
    }
}

#[tokio::test]
async fn posted_bodies_are_kept_for_api_not_for_tokens() {
    let sim = start(small(3)).await;
    let t = token(&sim).await;
    let cid = sim.options().customers[0].id;
    post_json(&sim, &t, "/Tickets", &json!([{"client_id": cid, "summary": "x"}])).await;
    let log = sim.requests();
    let secret = sim.options().client_secret;
    assert!(log.iter().filter(|r| r.listener == Listener::Auth).all(|r| r.body.is_none()));
    assert!(log.iter().all(|r| !r.body.as_deref().unwrap_or("").contains(&secret)));
    assert_eq!(sim.posted("/api/Tickets"), vec![json!([{"client_id": cid, "summary": "x"}])]);
}

#[tokio::test]
async fn ticket_rows_can_leave_out_the_key() {
    let sim = start(SimOptions { ticket_rows_omit_key: true, ..small(3) }).await;
    let t = token(&sim).await;
    let cid = sim.options().customers[0].id;
    let (_, a) = post_json(&sim, &t, "/Tickets", &json!([{"client_id": cid, "summary": "x", "third_party_id_string": "k"}])).await;
    let v = get_json(&sim, &t, "/Tickets?third_party_id_string=k").await;
    assert_eq!(v["record_count"], 1);
    assert!(v["tickets"][0].get("third_party_id_string").is_none());
    assert_eq!(get_json(&sim, &t, &format!("/Tickets/{}", a["id"])).await["third_party_id_string"], "k");
}
