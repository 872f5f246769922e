//! Drives the simulator over real HTTP on 127.0.0.1 with a plain client.

use autotask_sim::*;
use serde_json::{json, Value};
use std::collections::HashSet;

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn start(opts: SimOptions) -> AutotaskSim {
    AutotaskSim::start(opts).await.expect("simulator starts")
}

fn small(n: usize) -> SimOptions {
    SimOptions { companies: sample_companies(n, 3), ..Default::default() }
}

/// (status, body as JSON or Null, headers).
async fn send(rb: reqwest::RequestBuilder) -> (u16, Value, reqwest::header::HeaderMap) {
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null), headers)
}

fn authed(sim: &AutotaskSim, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    let o = sim.options();
    rb.header("UserName", o.username).header("Secret", o.secret).header("ApiIntegrationCode", o.integration_code)
}

/// The zone's API root from the lookup (`…/ATServicesRest/`), with `V1.0/` appended.
async fn discover(sim: &AutotaskSim) -> String {
    let user = sim.options().username;
    let (s, v, _) =
        send(http().get(format!("{}/ATServicesRest/V1.0/zoneInformation", sim.lookup_url())).query(&[("user", user)])).await;
    assert_eq!(s, 200, "{v}");
    format!("{}V1.0/", v["url"].as_str().unwrap())
}

async fn post_query(sim: &AutotaskSim, api: &str, body: Value) -> (u16, Value, reqwest::header::HeaderMap) {
    send(authed(sim, http().post(format!("{api}Companies/query"))).json(&body)).await
}

fn customers_filter() -> Value {
    json!([{"op":"and","items":[{"op":"eq","field":"isactive","value":true},{"op":"eq","field":"companyType","value":"1"}]}])
}

/// Follows nextPageUrl to the end; returns the items and the number of pages.
async fn all_pages(sim: &AutotaskSim, api: &str, body: Value) -> (Vec<Value>, usize) {
    let (s, mut page, _) = post_query(sim, api, body).await;
    assert_eq!(s, 200, "{page}");
    let mut items = Vec::new();
    let mut pages = 1;
    loop {
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["pageDetails"].get("nextPageUrl").and_then(Value::as_str).filter(|u| !u.is_empty()) {
            None => break,
            Some(u) => {
                assert!(u.starts_with(api.trim_end_matches("ATServicesRest/V1.0/")), "{u} off the zone {api}");
                let (s, v, _) = send(authed(sim, http().get(u))).await;
                assert_eq!(s, 200, "{v}");
                page = v;
                pages += 1;
                assert!(pages < 1000, "paging does not end");
            }
        }
    }
    (items, pages)
}

#[tokio::test]
async fn zone_lookup() {
    let sim = start(small(5)).await;
    let o = sim.options();
    let (s, v, _) = send(
        http().get(format!("{}/atservicesrest/v1.0/zoneInformation?user={}", sim.lookup_url(), o.username.to_uppercase())),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["url"], sim.zone_url(0).unwrap());
    assert!(v["url"].as_str().unwrap().ends_with("/ATServicesRest/"));
    assert!(v["zoneName"].is_string() && v["webUrl"].is_string() && v["ci"].is_number());

    for user in ["nobody@example.com", ""] {
        let (s, v, _) =
            send(http().get(format!("{}/ATServicesRest/V1.0/zoneInformation?user={user}", sim.lookup_url()))).await;
        assert_eq!(s, 500);
        assert!(v["errors"][0].is_string(), "{v}");
    }
    let (s, v, _) = send(http().get(format!("{}/ATServicesRest/versionInformation", sim.lookup_url()))).await;
    assert_eq!((s, v), (200, json!({"apiVersions": ["1.0"]})));

    // Only the exact `ATServicesRest` spelling when the path is case-sensitive.
    let sim = start(SimOptions { case_sensitive_path: true, ..small(5) }).await;
    let lookup = |p: &str| http().get(format!("{}/{p}/V1.0/zoneInformation?user={}", sim.lookup_url(), o.username));
    assert_eq!(send(lookup("atservicesrest")).await.0, 404);
    assert_eq!(send(lookup("ATServicesRest")).await.0, 200);
    let api = discover(&sim).await;
    assert_eq!(send(authed(&sim, http().get(format!("{api}ThresholdInformation")))).await.0, 200);
    let lower = api.replace("ATServicesRest", "atservicesrest");
    assert_eq!(send(authed(&sim, http().get(format!("{lower}ThresholdInformation")))).await.0, 404);

    let sim = start(SimOptions { unknown_user: UnknownUser::NotFound, ..small(5) }).await;
    let (s, v, _) = send(http().get(format!("{}/ATServicesRest/V1.0/zoneInformation?user=x", sim.lookup_url()))).await;
    assert_eq!(s, 404);
    assert!(v["errors"].is_array());
    // The lookup needs no auth headers; the log says none were sent.
    assert!(sim.requests().iter().all(|r| r.listener == Listener::Lookup && r.auth_headers.is_empty()));
}

#[tokio::test]
async fn header_auth() {
    let sim = start(small(5)).await;
    let api = discover(&sim).await;
    let o = sim.options();
    let url = format!("{api}ThresholdInformation");
    let (s, v, _) = send(authed(&sim, http().get(&url))).await;
    assert_eq!(s, 200, "{v}");
    // Header names are case-insensitive (HTTP), the user name too.
    let (s, _, _) = send(
        http().get(&url).header("username", o.username.to_uppercase()).header("secret", &o.secret).header("apiintegrationcode", &o.integration_code),
    )
    .await;
    assert_eq!(s, 200);
    let wrong_secret = http().get(&url).header("UserName", &o.username).header("Secret", "wrong").header("ApiIntegrationCode", &o.integration_code);
    assert_eq!(send(wrong_secret).await.0, 401);
    let wrong_user = http().get(&url).header("UserName", "x@y").header("Secret", &o.secret).header("ApiIntegrationCode", &o.integration_code);
    assert_eq!(send(wrong_user).await.0, 401);
    assert_eq!(send(http().get(&url)).await.0, 401);
    let no_code = || http().get(&url).header("UserName", &o.username).header("Secret", &o.secret);
    let (s, v, _) = send(no_code()).await;
    assert_eq!(s, 500);
    assert!(v["errors"][0].as_str().unwrap().contains("IntegrationCode"), "{v}");
    let (s, _, _) = send(no_code().header("ApiIntegrationCode", "WRONG")).await;
    assert_eq!(s, 500);

    // The log names the headers present, never their values.
    let log = sim.requests();
    let first_zone = log.iter().find(|r| matches!(r.listener, Listener::Zone(0))).unwrap();
    assert_eq!(first_zone.auth_headers, ["UserName", "Secret", "ApiIntegrationCode"]);
    assert!(!format!("{log:?}").contains(&o.secret));
    assert_eq!(log.iter().filter(|r| r.fault.as_deref() == Some("unauthorized")).count(), 3);

    let sim = start(SimOptions { bad_integration_code: BadIntegrationCode::Unauthorized, ..small(5) }).await;
    let api = discover(&sim).await;
    let (s, _, _) = send(http().get(format!("{api}ThresholdInformation")).header("UserName", &o.username).header("Secret", &o.secret)).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn filters() {
    let sim = start(small(300)).await;
    let cs = sim.options().companies;
    let api = discover(&sim).await;
    let count = |v: &Value| v["items"].as_array().unwrap().len();

    let (s, v, _) = post_query(&sim, &api, json!({"MaxRecords": 500, "filter": customers_filter()})).await;
    assert_eq!(s, 200, "{v}");
    let want: Vec<i64> = cs.iter().filter(|c| c.is_active_customer()).map(|c| c.id).collect();
    let got: Vec<i64> = v["items"].as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()).collect();
    assert_eq!(got, want);

    // The GET ?search= form answers the same.
    let search = json!({"filter": customers_filter()}).to_string();
    let (s, v2, _) = send(authed(&sim, http().get(format!("{api}Companies/query")).query(&[("search", search)]))).await;
    assert_eq!(s, 200);
    assert_eq!(v2["items"], v["items"]);

    // The other real form: a flat list (implicit and), PascalCase keys.
    let (_, v, _) = post_query(
        &sim,
        &api,
        json!({"Filter":[{"field":"CompanyType","op":"eq","value":1},{"field":"IsActive","op":"eq","value":true}]}),
    )
    .await;
    assert_eq!(count(&v), want.len());

    let (_, v, _) = post_query(&sim, &api, json!({"filter":[{"op":"in","field":"id","value":[cs[1].id, cs[7].id]}]})).await;
    assert_eq!(count(&v), 2);
    let (_, v, _) = post_query(&sim, &api, json!({"filter":[{"op":"gt","field":"id","value":cs[289].id}]})).await;
    assert_eq!(count(&v), 10);
    let (_, v, _) = post_query(&sim, &api, json!({"filter":[{"op":"noteq","field":"companyType","value":1}]})).await;
    assert_eq!(count(&v), cs.iter().filter(|c| c.company_type != 1).count());
    let (_, v, _) = post_query(
        &sim,
        &api,
        json!({"filter":[{"op":"or","items":[{"op":"lt","field":"id","value":cs[2].id},{"op":"eq","field":"isActive","value":false}]}]}),
    )
    .await;
    assert_eq!(count(&v), cs.iter().filter(|c| c.id < cs[2].id || !c.is_active).count());
    let (_, v, _) = post_query(&sim, &api, json!({"filter":[{"op":"gte","field":"lastActivityDate","value":"2025-01-01T00:00:00Z"}]})).await;
    assert_eq!(count(&v), cs.iter().filter(|c| c.last_activity_date.as_str() >= "2025-01-01").count());
    let (_, v, _) = post_query(&sim, &api, json!({"filter":[{"op":"exist","field":TENANT_UDF,"udf":true}]})).await;
    assert_eq!(count(&v), cs.iter().filter(|c| c.tenant_udf().is_some()).count());

    // UDFs: an empty one is left out; no values at all: no userDefinedFields.
    let (_, v, _) = post_query(&sim, &api, json!({"filter":[{"op":"gte","field":"id","value":0}]})).await;
    for (item, c) in v["items"].as_array().unwrap().iter().zip(&cs) {
        let udfs = item.get("userDefinedFields");
        let tenant = udfs.and_then(|u| u.as_array().unwrap().iter().find(|x| x["name"] == TENANT_UDF)).map(|x| x["value"].clone());
        assert_eq!(tenant, c.tenant_udf().map(|t| json!(t)));
        if c.udfs.iter().all(|(_, v)| v.is_none()) {
            assert!(udfs.is_none(), "{item}");
        }
    }
    // IncludeFields keeps only the named fields.
    let (_, v, _) = post_query(&sim, &api, json!({"IncludeFields":["id","companyName"],"filter":[{"op":"eq","field":"id","value":cs[0].id}]})).await;
    assert_eq!(v["items"][0].as_object().unwrap().len(), 2);

    // Errors: an unknown field, no condition, two UDFs: 500 with errors.
    for body in [
        json!({"filter":[{"op":"eq","field":"tenantId","value":"x"}]}),
        json!({"MaxRecords": 10}),
        json!({"filter":[{"op":"exist","field":"A","udf":true},{"op":"exist","field":"B","udf":true}]}),
    ] {
        let (s, v, _) = post_query(&sim, &api, body.clone()).await;
        assert_eq!(s, 500, "{body}");
        assert!(v["errors"][0].is_string(), "{v}");
    }

    // Entity information: the UDF definitions and the company type picklist.
    let (s, v, _) = send(authed(&sim, http().get(format!("{api}Companies/entityInformation/userDefinedFields")))).await;
    assert_eq!(s, 200);
    assert!(v["fields"].as_array().unwrap().iter().any(|f| f["name"] == TENANT_UDF));
    let (_, v, _) = send(authed(&sim, http().get(format!("{api}Companies/entityInformation/fields")))).await;
    let ct = v["fields"].as_array().unwrap().iter().find(|f| f["name"] == "companyType").unwrap();
    assert!(ct["picklistValues"].as_array().unwrap().iter().any(|p| p["value"] == "1" && p["label"] == "Customer"));
    let (_, v, _) = send(authed(&sim, http().get(format!("{api}Companies/{}", cs[4].id)))).await;
    assert_eq!(v["item"]["companyName"], cs[4].company_name);
    let (_, v, _) = send(authed(&sim, http().post(format!("{api}Companies/query/count")).json(&json!({"filter": customers_filter()})))).await;
    assert_eq!(v["queryCount"], want.len());
}

async fn paging_to_the_end(opts: SimOptions, max_records: Option<u64>) {
    let cap = opts.page_cap;
    let sim = start(opts).await;
    let cs = sim.options().companies;
    let api = discover(&sim).await;
    let mut body = json!({"filter":[{"op":"gte","field":"id","value":0}]});
    if let Some(m) = max_records {
        body["MaxRecords"] = json!(m);
    }
    sim.clear_requests();
    let (items, pages) = all_pages(&sim, &api, body).await;
    let ids: Vec<i64> = items.iter().map(|i| i["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), cs.len());
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), cs.len(), "every company once");
    assert_eq!(ids, cs.iter().map(|c| c.id).collect::<Vec<_>>());
    assert_eq!(pages, cs.len().div_ceil(cap));
    assert_eq!(sim.requests().len(), pages, "one request per page");
    assert!(sim.requests()[1..].iter().all(|r| r.method == "GET" && r.path.ends_with("/Companies/query/next")));

    // Active customers under the same cap.
    let (items, _) = all_pages(&sim, &api, json!({"MaxRecords": 500, "filter": customers_filter()})).await;
    assert_eq!(items.len(), cs.iter().filter(|c| c.is_active_customer()).count());
}

#[tokio::test]
async fn paging_cap_500() {
    paging_to_the_end(SimOptions::default(), Some(500)).await;
}

#[tokio::test]
async fn paging_cap_100() {
    // MaxRecords 500 under a cap of 100: clamped to 100 per page.
    paging_to_the_end(SimOptions { page_cap: 100, ..Default::default() }, Some(500)).await;
    paging_to_the_end(SimOptions { page_cap: 100, count_rule: CountRule::TotalMatching, ..Default::default() }, None).await;
}

#[tokio::test]
async fn page_details_options() {
    let sim = start(small(250)).await;
    let api = discover(&sim).await;
    let body = json!({"MaxRecords": 200, "filter":[{"op":"gte","field":"id","value":0}]});
    let (_, v, _) = post_query(&sim, &api, body.clone()).await;
    let d = &v["pageDetails"];
    assert_eq!((d["count"].as_u64(), d["requestCount"].as_u64()), (Some(200), Some(200)));
    assert!(d["prevPageUrl"].is_null());
    let next = d["nextPageUrl"].as_str().unwrap();
    assert!(next.starts_with(&sim.zone_base(0).unwrap()), "{next}");
    let (_, v, _) = send(authed(&sim, http().get(next))).await;
    assert_eq!(v["pageDetails"]["count"], 50);
    assert!(v["pageDetails"].as_object().unwrap().contains_key("nextPageUrl") && v["pageDetails"]["nextPageUrl"].is_null());
    // A tampered paging token: 500 with errors.
    let (s, v, _) = send(authed(&sim, http().get(format!("{}zz", next)))).await;
    assert_eq!(s, 500, "{v}");

    let sim = start(SimOptions { last_page: LastPage::Omitted, count_rule: CountRule::TotalMatching, ..small(250) }).await;
    let api = discover(&sim).await;
    let (_, v, _) = post_query(&sim, &api, body.clone()).await;
    assert_eq!(v["pageDetails"]["count"], 250);
    let (_, v, _) = send(authed(&sim, http().get(v["pageDetails"]["nextPageUrl"].as_str().unwrap()))).await;
    assert!(!v["pageDetails"].as_object().unwrap().contains_key("nextPageUrl"));
    assert_eq!(v["items"].as_array().unwrap().len(), 50);

    let sim = start(SimOptions { over_cap: OverCap::Reject, page_cap: 100, ..small(250) }).await;
    let api = discover(&sim).await;
    assert_eq!(post_query(&sim, &api, body.clone()).await.0, 500);
    assert_eq!(post_query(&sim, &api, json!({"MaxRecords": 100, "filter": body["filter"]})).await.0, 200);
}

#[tokio::test]
async fn off_host_next_page() {
    let sim = start(SimOptions { next_page_host: Some("http://attacker.example:81".into()), ..small(250) }).await;
    let api = discover(&sim).await;
    let (_, v, _) = post_query(&sim, &api, json!({"MaxRecords": 100, "filter":[{"op":"gte","field":"id","value":0}]})).await;
    let next = v["pageDetails"]["nextPageUrl"].as_str().unwrap();
    assert!(next.starts_with("http://attacker.example:81/ATServicesRest/V1.0/Companies/query/next?paging="), "{next}");
    // The same path and query on the real zone still works (only the host is hostile).
    let on_zone = next.replace("http://attacker.example:81", &sim.zone_base(0).unwrap());
    assert_eq!(send(authed(&sim, http().get(on_zone))).await.0, 200);
}

#[tokio::test]
async fn moved_database() {
    let sim = start(small(50)).await;
    let old = discover(&sim).await;
    let body = json!({"MaxRecords": 20, "filter":[{"op":"gte","field":"id","value":0}]});
    let (_, first, _) = post_query(&sim, &old, body.clone()).await;
    let next = first["pageDetails"]["nextPageUrl"].as_str().unwrap().to_string();
    sim.move_database(1);
    assert_eq!(sim.database_zone(), 1);
    let (s, _, _) = post_query(&sim, &old, body.clone()).await;
    assert_eq!(s, 401);
    assert_eq!(send(authed(&sim, http().get(&next))).await.0, 401);
    let new = discover(&sim).await;
    assert_ne!(new, old);
    assert_eq!(new, format!("{}V1.0/", sim.zone_url(1).unwrap()));
    let (items, _) = all_pages(&sim, &new, body).await;
    assert_eq!(items.len(), 50);
    assert_eq!(sim.requests().iter().filter(|r| r.fault.as_deref() == Some("moved")).count(), 2);
}

#[tokio::test]
async fn the_database_moves_after_n_company_pages() {
    let sim = start(small(50)).await;
    sim.set_faults(Faults { move_after_pages: Some(MoveAfter { pages: 2, to: 1 }), ..Default::default() });
    let old = discover(&sim).await;
    let body = json!({"MaxRecords": 10, "filter":[{"op":"gte","field":"id","value":0}]});
    let (s, first, _) = post_query(&sim, &old, body.clone()).await;
    assert_eq!((s, sim.database_zone()), (200, 0));
    let next = first["pageDetails"]["nextPageUrl"].as_str().unwrap().to_string();
    let (s, second, _) = send(authed(&sim, http().get(&next))).await;
    assert_eq!((s, sim.database_zone()), (200, 1), "moved after the second page");
    let next = second["pageDetails"]["nextPageUrl"].as_str().unwrap().to_string();
    assert_eq!(send(authed(&sim, http().get(&next))).await.0, 401, "the old zone refuses");
    // The same cursor on the new zone continues where it was.
    let new = discover(&sim).await;
    let moved = next.replace(&sim.zone_base(0).unwrap(), &sim.zone_base(1).unwrap());
    let (s, third, _) = send(authed(&sim, http().get(&moved))).await;
    assert_eq!(s, 200);
    assert!(new.starts_with(&sim.zone_base(1).unwrap()));
    let ids = |v: &Value| v["items"].as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()).collect::<Vec<_>>();
    assert!(ids(&third)[0] > *ids(&second).last().unwrap());
    // Once only.
    assert!(sim.options().companies.len() > 30 && send(authed(&sim, http().get(third["pageDetails"]["nextPageUrl"].as_str().unwrap()))).await.0 == 200);
    assert_eq!(sim.database_zone(), 1);
}

#[tokio::test]
async fn zones_over_https_under_autotask_names() {
    let (zone_tls, ca) = ZoneTls::autotask();
    let sim = start(SimOptions { zone_tls: Some(zone_tls), ..small(30) }).await;
    assert_eq!(sim.zone_count(), 2);
    assert_eq!(sim.zone_url(0).as_deref(), Some("https://webservices5.autotask.net/ATServicesRest/"));
    assert_eq!(sim.zone_url(1).as_deref(), Some("https://webservices15.autotask.net/ATServicesRest/"));
    let api = discover(&sim).await;
    assert_eq!(api, "https://webservices5.autotask.net/ATServicesRest/V1.0/");
    // reqwest maps names, not ports: the URL names the listener's port.
    let addr = sim.zone_addr(0).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_der(&ca).unwrap())
        .resolve("webservices5.autotask.net", addr)
        .build()
        .unwrap();
    let api = format!("https://webservices5.autotask.net:{}/ATServicesRest/V1.0/", addr.port());
    let body = json!({"MaxRecords": 10, "filter":[{"op":"gte","field":"id","value":0}]});
    let (s, page, _) = send(authed(&sim, client.post(format!("{api}Companies/query"))).json(&body)).await;
    assert_eq!(s, 200, "{page}");
    let next = page["pageDetails"]["nextPageUrl"].as_str().unwrap();
    assert!(next.starts_with("https://webservices5.autotask.net/ATServicesRest/V1.0/Companies/query/next?paging="), "{next}");
    // Without the CA: no answer at all.
    let untrusting = reqwest::Client::builder().resolve("webservices5.autotask.net", addr).build().unwrap();
    assert!(untrusting.post(format!("{api}Companies/query")).send().await.is_err());
}

#[tokio::test]
async fn the_lookup_can_answer_a_hostile_zone() {
    let sim = start(SimOptions { lookup_answers_url: Some("http://evil.example/ATServicesRest/".into()), ..small(5) }).await;
    assert_eq!(discover(&sim).await, "http://evil.example/ATServicesRest/V1.0/");
}

#[tokio::test]
async fn thresholds() {
    use std::time::Duration;
    let budget = Budget { max_requests: 5, window: Duration::from_secs(3600) };
    let sim = start(SimOptions { budget: Some(budget.clone()), ..small(10) }).await;
    let api = discover(&sim).await;
    let url = format!("{api}ThresholdInformation");
    let (s, v, _) = send(authed(&sim, http().get(&url))).await;
    assert_eq!(s, 200);
    assert_eq!(v, json!({"externalRequestThreshold": 5, "requestThresholdTimeframe": 60, "currentTimeframeRequestCount": 1}));
    for _ in 0..4 {
        assert_eq!(send(authed(&sim, http().get(&url))).await.0, 200);
    }
    let (s, v, _) = send(authed(&sim, http().get(&url))).await;
    assert_eq!(s, 429);
    assert!(v["errors"][0].as_str().unwrap().contains("threshold"), "{v}");
    // The zone lookup is not counted.
    discover(&sim).await;
    sim.reset_budget();
    assert_eq!(send(authed(&sim, http().get(&url))).await.0, 200);

    // Retry-After when asked for; a 500 answer as the other option; the injected fault.
    let sim = start(SimOptions { budget: Some(budget), budget_answer: LimitAnswer::ServerError, ..small(10) }).await;
    let api = discover(&sim).await;
    let url = format!("{api}ThresholdInformation");
    sim.set_faults(Faults { threshold_next: 1, ..Default::default() });
    let (s, v, _) = send(authed(&sim, http().get(&url))).await;
    assert_eq!(s, 500);
    assert!(v["errors"][0].as_str().unwrap().contains("threshold"));
    assert_eq!(send(authed(&sim, http().get(&url))).await.0, 200);

    let sim = start(small(10)).await;
    let api = discover(&sim).await;
    sim.set_faults(Faults { threshold_next: 1, retry_after: Some(7), ..Default::default() });
    let (s, _, h) = send(authed(&sim, http().get(format!("{api}ThresholdInformation")))).await;
    assert_eq!(s, 429);
    assert_eq!(h["retry-after"], "7");
    assert_eq!(sim.requests().iter().filter(|r| r.fault.as_deref() == Some("threshold")).count(), 1);
}

async fn four_at_once(sim: &AutotaskSim, api: &str) -> Vec<(u16, Value)> {
    let body = json!({"filter":[{"op":"gte","field":"id","value":0}]});
    let futs = (0..4).map(|_| {
        let rb = authed(sim, http().post(format!("{api}Companies/query"))).json(&body);
        async move {
            let (s, v, _) = send(rb).await;
            (s, v)
        }
    });
    futures_join(futs.collect()).await
}

/// Runs the futures concurrently on the current task set.
async fn futures_join(futs: Vec<impl std::future::Future<Output = (u16, Value)> + Send + 'static>) -> Vec<(u16, Value)> {
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn thread_limit() {
    let sim = start(small(10)).await;
    let api = discover(&sim).await;
    sim.set_faults(Faults { latency_ms: 700, ..Default::default() });
    let answers = four_at_once(&sim, &api).await;
    let refused: Vec<_> = answers.iter().filter(|(s, _)| *s != 200).collect();
    assert_eq!(refused.len(), 1, "{answers:?}");
    assert_eq!(refused[0].0, 500);
    let msg = refused[0].1["errors"][0].as_str().unwrap();
    assert!(msg.contains("Itgenatr005") && msg.contains("thread threshold"), "{msg}");
    // Another endpoint has its own slots; and after they finish, the slots are free again.
    assert_eq!(send(authed(&sim, http().get(format!("{api}ThresholdInformation")))).await.0, 200);
    sim.set_faults(Faults::default());
    let answers = four_at_once(&sim, &api).await;
    assert!(answers.iter().all(|(s, _)| *s == 200));

    let sim = start(SimOptions { thread_answer: LimitAnswer::TooManyRequests, ..small(10) }).await;
    let api = discover(&sim).await;
    sim.set_faults(Faults { latency_ms: 700, ..Default::default() });
    let answers = four_at_once(&sim, &api).await;
    assert_eq!(answers.iter().filter(|(s, _)| *s == 429).count(), 1, "{answers:?}");
    assert_eq!(sim.requests().iter().filter(|r| r.fault.as_deref() == Some("thread-limit")).count(), 1);
}

#[tokio::test]
async fn permission_fault() {
    let sim = start(small(10)).await;
    let api = discover(&sim).await;
    sim.set_faults(Faults { permission_denied: true, ..Default::default() });
    let (s, v, _) = post_query(&sim, &api, json!({"filter": customers_filter()})).await;
    assert_eq!(s, 500);
    assert!(v["errors"][0].as_str().unwrap().contains("does not have the adequate permissions"), "{v}");
    // Wrong credentials still answer 401 first.
    let (s, _, _) = send(http().post(format!("{api}Companies/query")).json(&json!({}))).await;
    assert_eq!(s, 401);
    sim.set_faults(Faults::default());
    assert_eq!(post_query(&sim, &api, json!({"filter": customers_filter()})).await.0, 200);
}

#[tokio::test]
async fn empty_udf_options() {
    for (opt, want) in [(EmptyUdfs::Null, Value::Null), (EmptyUdfs::EmptyString, json!(""))] {
        let sim = start(SimOptions { empty_udfs: opt, ..small(20) }).await;
        let api = discover(&sim).await;
        let cs = sim.options().companies;
        let (_, v, _) = post_query(&sim, &api, json!({"filter":[{"op":"gte","field":"id","value":0}]})).await;
        let i = cs.iter().position(|c| c.tenant_udf().is_none()).unwrap();
        let udfs = v["items"][i]["userDefinedFields"].as_array().unwrap();
        assert_eq!(udfs.iter().find(|u| u["name"] == TENANT_UDF).unwrap()["value"], want);
    }
}

fn ticket(company: i64) -> Value {
    json!({"id": 0, "companyID": company, "title": "[O365] MFA off", "description": "plain text", "status": 1, "priority": 2,
           "queueID": 29682833, "ticketType": 5, "source": 8, "externalID": "o365:mfa:1"})
}

#[tokio::test]
async fn tickets_notes_and_picklists() {
    let sim = start(small(10)).await;
    let api = discover(&sim).await;
    let company = sim.options().companies[2].id;
    // One object, not an array; the answer is only the id.
    let (s, v, _) = send(authed(&sim, http().post(format!("{api}Tickets"))).json(&json!([ticket(company)]))).await;
    assert_eq!(s, 500, "{v}");
    let (s, v, _) = send(authed(&sim, http().post(format!("{api}Tickets"))).json(&ticket(company))).await;
    assert_eq!(s, 200, "{v}");
    let id = v["itemId"].as_i64().unwrap();
    assert_eq!(v.as_object().unwrap().len(), 1);
    assert_eq!(sim.tickets()[0].posted, ticket(company));
    let (s, v, _) = send(authed(&sim, http().get(format!("{api}Tickets/{id}")))).await;
    assert_eq!((s, v["item"]["ticketNumber"].as_str()), (200, Some("T20261130.0001")));
    // Required fields, picklists, companies.
    for (k, bad) in [("queueID", Value::Null), ("status", json!(99)), ("queueID", json!(29682835)), ("companyID", json!(1))] {
        let mut b = ticket(company);
        b[k] = bad;
        let (s, v, _) = send(authed(&sim, http().post(format!("{api}Tickets"))).json(&b)).await;
        assert_eq!(s, 500, "{k}: {v}");
        assert!(v["errors"][0].as_str().unwrap().contains(k), "{v}");
    }
    // Find-open: companyID eq, status noteq 5, externalID eq.
    let find = json!({"filter": [{"op": "and", "items": [
        {"op": "eq", "field": "companyID", "value": company},
        {"op": "noteq", "field": "status", "value": 5},
        {"op": "eq", "field": "externalID", "value": "o365:mfa:1"}]}]});
    let (s, v, _) = send(authed(&sim, http().post(format!("{api}Tickets/query"))).json(&find)).await;
    assert_eq!((s, v["items"].as_array().unwrap().len()), (200, 1), "{v}");
    sim.set_ticket_status(id, 5);
    let (_, v, _) = send(authed(&sim, http().post(format!("{api}Tickets/query"))).json(&find)).await;
    assert_eq!(v["items"].as_array().unwrap().len(), 0, "a completed ticket is not open");
    // Notes.
    let note = json!({"title": "Seen again", "description": "again", "noteType": 3, "publish": 2});
    let (s, v, _) = send(authed(&sim, http().post(format!("{api}Tickets/{id}/Notes"))).json(&note)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!((sim.notes()[0].ticket_id, sim.notes()[0].publish), (id, 2));
    let (s, v, _) = send(authed(&sim, http().post(format!("{api}Tickets/999999/Notes"))).json(&note)).await;
    assert!(s == 500 && v["errors"][0].as_str().unwrap().contains("No matching records"), "{v}");
    let long = json!({"title": "t", "description": "x".repeat(32001), "noteType": 3, "publish": 2});
    assert_eq!(send(authed(&sim, http().post(format!("{api}Tickets/{id}/Notes"))).json(&long)).await.0, 500);
    // Picklists.
    let (_, v, _) = send(authed(&sim, http().get(format!("{api}Tickets/entityInformation/fields")))).await;
    let queue = v["fields"].as_array().unwrap().iter().find(|f| f["name"] == "queueID").unwrap();
    assert_eq!(queue["picklistValues"].as_array().unwrap().len(), 3);
    let (_, v, _) = send(authed(&sim, http().get(format!("{api}TicketNotes/entityInformation/fields")))).await;
    assert_eq!(v["fields"][1]["name"], "publish");
}

#[tokio::test]
async fn ticket_permissions_and_external_id_queryability() {
    let sim = start(SimOptions { external_id_queryable: false, ..small(5) }).await;
    let api = discover(&sim).await;
    let find = json!({"filter": [{"op": "eq", "field": "externalID", "value": "k"}]});
    let (s, v, _) = send(authed(&sim, http().post(format!("{api}Tickets/query"))).json(&find)).await;
    assert!(s == 500 && v["errors"][0].as_str().unwrap().contains("externalID"), "{v}");
    sim.set_faults(Faults { tickets_read_denied: true, ..Default::default() });
    let by_company = json!({"filter": [{"op": "eq", "field": "companyID", "value": 1}]});
    let (s, v, _) = send(authed(&sim, http().post(format!("{api}Tickets/query"))).json(&by_company)).await;
    assert!(s == 500 && v["errors"][0].as_str().unwrap().contains(PERMISSION_TEXT), "{v}");
    let company = sim.options().companies[0].id;
    assert_eq!(send(authed(&sim, http().post(format!("{api}Tickets"))).json(&ticket(company))).await.0, 200, "writes allowed");
    sim.set_faults(Faults { tickets_write_denied: true, ..Default::default() });
    assert_eq!(send(authed(&sim, http().post(format!("{api}Tickets"))).json(&ticket(company))).await.0, 500);
    assert_eq!(send(authed(&sim, http().post(format!("{api}Tickets/query"))).json(&by_company)).await.0, 200, "reads allowed");
}

/// A server whose ticket query ignores `companyID` (a hostile option): another company's
/// ticket with the key is served too.
#[tokio::test]
async fn a_ticket_query_that_ignores_the_company() {
    let sim = start(SimOptions { ticket_query_ignores_company: true, ..small(5) }).await;
    let api = discover(&sim).await;
    let (a, b) = (sim.options().companies[0].id, sim.options().companies[1].id);
    for company in [a, b] {
        let mut t = ticket(company);
        t["externalID"] = json!("k");
        assert_eq!(send(authed(&sim, http().post(format!("{api}Tickets"))).json(&t)).await.0, 200);
    }
    let find = json!({"filter": [{"op": "and", "items": [
        {"op": "eq", "field": "companyID", "value": a},
        {"op": "eq", "field": "externalID", "value": "k"}]}]});
    let (s, v, _) = send(authed(&sim, http().post(format!("{api}Tickets/query"))).json(&find)).await;
    assert_eq!((s, v["items"].as_array().unwrap().len()), (200, 2), "{v}");
}

#[tokio::test]
async fn companies_changed_since_on_either_date() {
    let sim = start(small(40)).await;
    let api = discover(&sim).await;
    let ids: Vec<i64> = sim.options().companies.iter().take(4).map(|c| c.id).collect();
    sim.touch_companies(&ids[..2], "2027-01-02T03:04:05Z", Touch::Both);
    sim.touch_companies(&ids[2..3], "2027-01-02T03:04:05Z", Touch::Modified);
    sim.touch_companies(&ids[3..], "2027-01-02T03:04:05Z", Touch::Activity);
    let count = |field: &str| json!({"filter": [{"op": "gte", "field": field, "value": "2027-01-01T00:00:00Z"}]});
    let (_, v, _) = post_query(&sim, &api, count("lastTrackedModifiedDateTime")).await;
    assert_eq!(v["items"].as_array().unwrap().len(), 3);
    let (_, v, _) = post_query(&sim, &api, count("lastActivityDate")).await;
    assert_eq!(v["items"].as_array().unwrap().len(), 3);
    let sim = start(SimOptions { change_fields: ChangeFields::LastActivityDateOnly, ..small(5) }).await;
    let api = discover(&sim).await;
    let (s, v, _) = post_query(&sim, &api, count("lastTrackedModifiedDateTime")).await;
    assert!(s == 500 && v["errors"][0].as_str().unwrap().contains("lastTrackedModifiedDateTime"), "{v}");
}
