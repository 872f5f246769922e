//! A resource server that answers with malformed or adversarial JSON: the
//! HaloPSA connector, run in the real host, ends each case in a typed
//! connector error or imports exactly the right data. Never a trap, never a
//! hang (each case is bounded), never a silently wrong import.
//!
//! The token comes from the real simulator; `/api/...` from a raw loopback
//! server whose answers each test scripts.

use crate::common::*;
use halo_sim::SimOptions;
use psa_host::{ConnectorError, Host, HostError, HostOptions, ImportFailure, ImportOutcome, Limits};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

const BOUND: Duration = Duration::from_secs(20);
const T1: &str = "0a1b2c3d-4e5f-6789-abcd-ef0123456789";
const T2: &str = "11111111-2222-3333-4444-555555555555";

/// One scripted answer.
struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

fn ok(body: impl Into<Vec<u8>>) -> Reply {
    Reply {
        status: 200,
        content_type: "application/json",
        body: body.into(),
    }
}

fn not_found() -> Reply {
    Reply {
        status: 404,
        content_type: "application/json",
        body: br#"{"Message":"not found"}"#.to_vec(),
    }
}

type Script = Arc<dyn Fn(&str) -> Reply + Send + Sync>;

/// A loopback server answering each request with `script(path_and_query)`;
/// returns its `/api` base URL and a request counter.
async fn server(script: Script) -> (String, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    let addr = raw_server(move |head, mut sock| {
        let script = script.clone();
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let line = head;
            let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let r = script(&target);
            let reason = if r.status == 200 { "OK" } else { "X" };
            let mut out = format!(
                "HTTP/1.1 {} {reason}\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                r.status,
                r.content_type,
                r.body.len()
            )
            .into_bytes();
            out.extend_from_slice(&r.body);
            let _ = sock.write_all(&out).await;
            let _ = sock.shutdown().await;
        }
    })
    .await;
    (format!("http://{addr}/api"), count)
}

fn page_no(target: &str) -> u32 {
    target
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("page_no="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// `/api/Client` answered by `pages(page_no)`; the CSP endpoints 404.
fn clients(pages: impl Fn(u32) -> Vec<u8> + Send + Sync + 'static) -> Script {
    Arc::new(move |t: &str| {
        if t.starts_with("/api/Client?") {
            ok(pages(page_no(t)))
        } else {
            not_found()
        }
    })
}

/// Page 1 is `body`; later pages are empty.
fn one_page(body: impl Into<Vec<u8>>) -> Script {
    let body: Vec<u8> = body.into();
    clients(move |p| {
        if p == 1 {
            body.clone()
        } else {
            br#"{"record_count":0,"clients":[]}"#.to_vec()
        }
    })
}

struct Run {
    result: Result<ImportOutcome, ImportFailure>,
    took: Duration,
    requests: usize,
}

/// A whole import against `script`, bounded by [`BOUND`].
async fn run(script: Script) -> Run {
    let halo = halo().await;
    let sim = start(SimOptions::default()).await; // a real token endpoint
    let (url, count) = server(script).await;
    let mut f = form(&sim);
    set(&mut f, "resource_server_url", &url);
    let mut s = halo.open_session(&config(&halo, f)).await.expect("session");
    let t = Instant::now();
    let result = tokio::time::timeout(BOUND, s.import_all(|_| {}))
        .await
        .unwrap_or_else(|_| panic!("import did not finish within {BOUND:?} (hang or loop)"));
    Run {
        result,
        took: t.elapsed(),
        requests: count.load(Ordering::SeqCst),
    }
}

/// The import's protocol error: (endpoint, message). Anything else fails.
fn protocol(r: &Run) -> (String, String) {
    match &r.result {
        Err(ImportFailure {
            error:
                HostError::Connector {
                    error: ConnectorError::Protocol { endpoint, message },
                    ..
                },
            ..
        }) => {
            println!("  protocol error at {endpoint}: {message}  [{:?}]", r.took);
            (endpoint.clone(), message.clone())
        }
        Err(f) => panic!("expected a protocol error, got {:?}", f.error),
        Ok(o) => panic!("expected a protocol error, the import returned {} customers", o.customers.len()),
    }
}

fn client_error(r: &Run, needle: &str) -> String {
    let (endpoint, message) = protocol(r);
    assert_eq!(endpoint, "/api/Client");
    assert!(message.contains(needle), "{message:?} does not contain {needle:?}");
    message
}

fn imported(r: &Run) -> &ImportOutcome {
    match &r.result {
        Ok(o) => {
            println!(
                "  imported {} customers, {} warnings  [{:?}]",
                o.customers.len(),
                o.warnings.len(),
                r.took
            );
            o
        }
        Err(f) => panic!("expected a successful import, got {:?}", f.error),
    }
}

fn row_page(count: &str, rows: &str) -> Vec<u8> {
    format!(r#"{{"record_count":{count},"clients":[{rows}]}}"#).into_bytes()
}

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

// ----- strings and nesting ------------------------------------------------------

#[tokio::test]
async fn invalid_utf8_in_a_name_is_refused() {
    // Halo (.NET) always sends UTF-8: bytes that are not are a corrupted
    // body, and a name patched with U+FFFD would be imported silently wrong.
    let mut body = br#"{"record_count":1,"clients":[{"id":1,"name":"Ac"#.to_vec();
    body.extend_from_slice(b"\xff\xfeme\"}]}");
    let m = client_error(&run(one_page(body)).await, "UTF-8");
    assert!(m.contains("row 1 of page 1"), "{m}");
    // A lone surrogate escape is not a character either.
    client_error(
        &run(one_page(row_page("1", r#"{"id":1,"name":"A\ud800B"}"#))).await,
        "row 1 of page 1",
    );
}

#[tokio::test]
async fn deep_nesting_is_refused_without_a_trap() {
    let n = nested(100_000);
    client_error(
        &run(one_page(row_page("1", &format!(r#"{{"id":1,"name":{n}}}"#)))).await,
        "row 1 of page 1 nests",
    );
    client_error(
        &run(one_page(row_page("1", &format!(r#"{{"id":1,"azure_tenants":{n}}}"#)))).await,
        "row 1 of page 1 nests",
    );
    // A row that is itself a deep array is refused as not an object, unread.
    client_error(
        &run(one_page(format!(r#"{{"record_count":1,"clients":{n}}}"#))).await,
        "row 1 of page 1 is not a JSON object",
    );
    client_error(
        &run(one_page(format!(r#"{{"record_count":{n},"clients":[]}}"#))).await,
        "the answer nests",
    );
    let mut deep_obj = "{\"a\":".repeat(100_000);
    deep_obj.push('1');
    deep_obj.push_str(&"}".repeat(100_000));
    client_error(
        &run(one_page(row_page("1", &format!(r#"{{"id":1,"azure_tenants":{deep_obj}}}"#)))).await,
        "row 1 of page 1 nests",
    );
    // At the top level, a body that is not an object is refused unread.
    client_error(&run(one_page(n)).await, "not a JSON object");
}

#[tokio::test]
async fn deep_nesting_in_an_unused_field_is_skipped() {
    // `logo` is never read: serde skips it iteratively, without recursion.
    let r = run(one_page(row_page(
        "1",
        &format!(r#"{{"id":1,"name":"Acme","logo":{},"azure_tenants":[]}}"#, nested(100_000)),
    )))
    .await;
    let o = imported(&r);
    assert_eq!(o.customers.len(), 1);
    assert_eq!(o.customers[0].name, "Acme");
}

#[tokio::test]
async fn duplicate_keys_are_refused() {
    client_error(
        &run(one_page(row_page("1", r#"{"id":1,"id":2,"name":"A"}"#))).await,
        "duplicate field `id`",
    );
    client_error(
        &run(one_page(r#"{"record_count":1,"record_count":5,"clients":[{"id":1}]}"#)).await,
        "duplicate field `record_count`",
    );
}

// ----- ids -------------------------------------------------------------------

#[tokio::test]
async fn ids_as_strings_and_integral_floats_are_read() {
    let r = run(one_page(row_page("3", r#"{"id":"95","name":"A","azure_tenants":[]},{"id":96.0,"name":"B","azure_tenants":[]},{"id":" 97 ","name":"C","azure_tenants":[]}"#))).await;
    let ids: Vec<&str> = imported(&r).customers.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["95", "96", "97"]);
}

#[tokio::test]
async fn unusable_ids_are_refused_naming_the_row() {
    for (id, needle) in [
        ("95.5", "row 2 of page 1 has an \"id\" that is not"),
        ("-1", "row 2 of page 1 has an \"id\" that is not"),
        ("0", "row 2 of page 1 has an \"id\" that is not"),
        ("1e400", "row 2 of page 1"),
        ("\"1e400\"", "row 2 of page 1"),
        ("18446744073709551616", "row 2 of page 1"),
        ("null", "row 2 of page 1 has no \"id\""),
        ("{}", "row 2 of page 1 has an \"id\" that is not"),
    ] {
        println!("id {id}:");
        client_error(
            &run(one_page(row_page(
                "2",
                &format!(r#"{{"id":1,"name":"A"}},{{"id":{id},"name":"B"}}"#),
            )))
            .await,
            needle,
        );
    }
}

// ----- missing fields and nulls --------------------------------------------------

#[tokio::test]
async fn missing_fields_and_nulls() {
    client_error(&run(one_page(r#"{"record_count":1}"#)).await, "\"clients\" is missing");
    client_error(&run(one_page(r#"{"clients":[{"id":1}]}"#)).await, "\"record_count\" is missing");
    client_error(
        &run(one_page(r#"{"record_count":null,"clients":null}"#)).await,
        "\"clients\" is missing",
    );
    client_error(
        &run(one_page(r#"{"record_count":null,"clients":[]}"#)).await,
        "\"record_count\" is missing",
    );
    client_error(
        &run(one_page(r#"{"record_count":1,"clients":[null]}"#)).await,
        "row 1 of page 1 is not a JSON object",
    );
    // A row as an array would be read positionally by serde: refused.
    client_error(
        &run(one_page(r#"{"record_count":1,"clients":[[95,"Acme"]]}"#)).await,
        "row 1 of page 1 is not a JSON object",
    );
    // A row without a name, and a row of nulls: imported with an empty name
    // and nothing else (the contract's name is a string; Halo allows none).
    let r = run(one_page(row_page(
        "2",
        r#"{"id":1,"azure_tenants":[]},{"id":2,"name":null,"inactive":null,"toplevel_id":null,"toplevel_name":null,"website":null,"domain":null,"azure_tenants":null}"#,
    )))
    .await;
    let o = imported(&r);
    assert_eq!(o.customers.len(), 2);
    for c in &o.customers {
        assert_eq!(
            (c.name.as_str(), c.active, c.parent_id.is_none(), c.website.is_none()),
            ("", true, true, true)
        );
        assert!(c.domains.is_empty() && c.m365_tenants.is_empty());
    }
}

// ----- one huge page -------------------------------------------------------------

fn huge_page(n: usize) -> Script {
    let rows: Vec<String> = (1..=n)
        .map(|i| format!(r#"{{"id":{i},"name":"Customer {i}","inactive":false,"website":"https://c{i}.example.com","azure_tenants":[]}}"#))
        .collect();
    let body = row_page(&n.to_string(), &rows.join(","));
    println!("  {n} rows: body {} bytes", body.len());
    one_page(body)
}

#[tokio::test]
async fn fifty_thousand_rows_in_one_page() {
    const N: usize = 50_000;
    // The default host refuses a page of more than 10 000 customers: a
    // typed contract error, quickly, not a trap or an out-of-memory.
    let r = run(huge_page(N)).await;
    match &r.result {
        Err(ImportFailure {
            error: HostError::Contract { message, .. },
            ..
        }) => {
            println!("  default host: {message}  [{:?}]", r.took);
            assert!(
                message.contains("a page carried 50000 customers; a page may carry at most 10000"),
                "{message}"
            );
        }
        Err(f) => panic!("{:?}", f.error),
        Ok(o) => panic!("a {}-customer page passed the host's page cap", o.customers.len()),
    }
    // A host that allows such pages gets every row, within the guest's
    // 128 MiB memory limit.
    let mut limits = Limits::default();
    limits.max_page_customers = N;
    let host = Host::new(HostOptions::default().allow_loopback(true).limits(limits)).unwrap();
    let halo = host.load("halopsa", psa_host::bundled::HALOPSA).await.unwrap();
    let sim = start(SimOptions::default()).await;
    let (url, _) = server(huge_page(N)).await;
    let mut f = form(&sim);
    set(&mut f, "resource_server_url", &url);
    let mut s = halo.open_session(&config(&halo, f)).await.unwrap();
    let t = Instant::now();
    let o = tokio::time::timeout(BOUND, s.import_all(|_| {}))
        .await
        .expect("bounded")
        .expect("imports");
    println!("  host allowing {N}: imported {} customers in {:?}", o.customers.len(), t.elapsed());
    assert_eq!((o.customers.len(), o.pages), (N, 1));
    assert_eq!(o.customers[N - 1].id, N.to_string());
    assert_eq!(o.customers[N - 1].domains, vec![format!("c{N}.example.com")]);
}

#[tokio::test]
async fn ten_thousand_rows_in_one_page_at_the_default_cap() {
    let r = run(huge_page(10_000)).await;
    assert_eq!(imported(&r).customers.len(), 10_000);
}

// ----- record_count ---------------------------------------------------------------

#[tokio::test]
async fn record_count_lies() {
    // More than ever comes, later pages empty: the import is incomplete.
    let r = run(clients(|p| {
        row_page(
            "10",
            if p == 1 {
                r#"{"id":1,"azure_tenants":[]},{"id":2,"azure_tenants":[]}"#
            } else {
                ""
            },
        )
    }))
    .await;
    let m = client_error(&r, "import is incomplete");
    assert!(m.contains("Halo reported 10 customers but only 2"), "{m}");
    // The count falling to what came, on the empty page: accepted, with a warning.
    let r = run(one_page(row_page(
        "10",
        r#"{"id":1,"azure_tenants":[]},{"id":2,"azure_tenants":[]}"#,
    )))
    .await;
    let o = imported(&r);
    assert_eq!(o.customers.len(), 2);
    assert!(
        o.warnings
            .iter()
            .any(|w| w.code == "record-count-changed" && w.message.contains("from 10 to 0")),
        "{:?}",
        o.warnings
    );
    // More than ever comes, and every page repeats page 1: stops at page 2.
    let same = row_page("1000", r#"{"id":1,"azure_tenants":[]},{"id":2,"azure_tenants":[]}"#);
    let r = run(clients(move |_| same.clone())).await;
    client_error(&r, "Page 2 held only customers already imported");
    assert!(r.requests <= 4, "{} requests", r.requests);
    client_error(&run(one_page(row_page("-1", r#"{"id":1}"#))).await, "\"record_count\" is not");
    client_error(&run(one_page(row_page("\"many\"", r#"{"id":1}"#))).await, "\"record_count\" is not");
    client_error(&run(one_page(row_page("3.5", r#"{"id":1}"#))).await, "\"record_count\" is not");
    client_error(
        &run(one_page(row_page("1e400", r#"{"id":1}"#))).await,
        "the answer holds a number out of range",
    );
    // Tolerated: a count as a numeric string or an integral float.
    for count in ["\"2\"", "2.0"] {
        let r = run(one_page(row_page(
            count,
            r#"{"id":1,"azure_tenants":[]},{"id":2,"azure_tenants":[]}"#,
        )))
        .await;
        assert_eq!(imported(&r).customers.len(), 2);
    }
    // Smaller than what came: the rows of the page are all kept, none twice.
    let r = run(one_page(row_page(
        "1",
        r#"{"id":1,"azure_tenants":[]},{"id":2,"azure_tenants":[]}"#,
    )))
    .await;
    assert_eq!(imported(&r).customers.len(), 2);
}

#[tokio::test]
async fn a_page_repeating_the_previous_page_forever_stops() {
    // Page n repeats page n-1 after the first two pages moved on.
    let r = run(clients(|p| {
        let first = if p <= 2 { (p - 1) * 2 + 1 } else { 3 };
        row_page(
            "100",
            &format!(r#"{{"id":{},"azure_tenants":[]}},{{"id":{},"azure_tenants":[]}}"#, first, first + 1),
        )
    }))
    .await;
    client_error(&r, "Page 3 held only customers already imported");
    assert!(r.requests <= 5, "{} requests", r.requests);
}

// ----- not a page at all -------------------------------------------------------------

#[tokio::test]
async fn bodies_that_are_not_a_page() {
    let html: Script = Arc::new(|t: &str| {
        if t.starts_with("/api/Client") {
            ok("<!DOCTYPE html><html><body>Login</body></html>")
        } else {
            Reply {
                status: 404,
                content_type: "text/html",
                body: b"<html>404</html>".to_vec(),
            }
        }
    });
    client_error(&run(html).await, "HTML page where JSON belongs");
    client_error(&run(one_page("")).await, "empty body");
    client_error(&run(one_page("   \r\n ")).await, "empty body");
    client_error(&run(one_page("null")).await, "not a JSON object");
    client_error(&run(one_page(r#"[{"id":1}]"#)).await, "not a JSON object");
    client_error(&run(one_page(r#"[[{"id":1}],1]"#)).await, "not a JSON object");
    client_error(&run(one_page(r#""record_count""#)).await, "not a JSON object");
    client_error(
        &run(one_page(r#"{"record_count":1,"clients":[{"id":1}]} trailing"#)).await,
        "not valid JSON",
    );
}

// ----- CSP mappings --------------------------------------------------------------------

/// Rows without `azure_tenants` (so the connector reads the CSP mappings):
/// customers 5 and 6; `list` answers `/AzureADConnection?type=2`, `detail(id)`
/// each connection.
fn csp(list: impl Into<Vec<u8>>, detail: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Script {
    let list: Vec<u8> = list.into();
    Arc::new(move |t: &str| {
        if t.starts_with("/api/Client?") {
            ok(if page_no(t) == 1 {
                row_page("2", r#"{"id":5,"name":"Acme"},{"id":6,"name":"Beta"}"#)
            } else {
                row_page("2", "")
            })
        } else if t.starts_with("/api/AzureADConnection?") {
            ok(list.clone())
        } else if let Some(rest) = t.strip_prefix("/api/AzureADConnection/") {
            detail(rest.split('?').next().unwrap_or(""))
        } else {
            not_found()
        }
    })
}

fn mapping(client: &str, tenant: &str) -> String {
    format!(r#"{{"client_id":{client},"client_name":"C{client}","azure_tenant_id":"{tenant}"}}"#)
}

fn detail_with(mappings: String) -> impl Fn(&str) -> Reply + Send + Sync + 'static {
    move |id: &str| ok(format!(r#"{{"id":{id},"mappings_client":[{mappings}]}}"#))
}

fn csp_error(r: &Run, needle: &str) -> String {
    let (endpoint, message) = protocol(r);
    assert!(endpoint.starts_with("/api/AzureADConnection"), "{endpoint}");
    assert!(message.contains(needle), "{message:?} does not contain {needle:?}");
    message
}

#[tokio::test]
async fn csp_connection_lists_of_the_wrong_shape_are_refused() {
    for list in [r#""connections""#, "42", "null", r#"{"record_count":1,"message":"x"}"#] {
        println!("list {list}:");
        csp_error(&run(csp(list, detail_with(mapping("5", T1)))).await, "connections");
    }
    // No connection at all is simply no link.
    for list in ["[]", r#"{"record_count":0,"connections":[]}"#] {
        let r = run(csp(list, detail_with(mapping("5", T1)))).await;
        assert!(imported(&r).customers.iter().all(|c| c.m365_tenants.is_empty()));
    }
}

#[tokio::test]
async fn csp_connection_ids() {
    // A string id is read.
    let r = run(csp(r#"[{"id":"11"}]"#, detail_with(mapping("5", T1)))).await;
    let o = imported(&r);
    assert_eq!(o.customers[0].m365_tenants[0].tenant_id, T1);
    // Negative, zero, fractional, huge, missing: refused, naming the item.
    for list in [
        r#"[{"id":-1}]"#,
        r#"[{"id":0}]"#,
        r#"[{"id":1.5}]"#,
        r#"[{"id":1e300}]"#,
        r#"[{"id":"99999999999999999999"}]"#,
        r#"[{"name":"x"}]"#,
        r#"[{"id":11},"x"]"#,
    ] {
        println!("list {list}:");
        csp_error(&run(csp(list, detail_with(mapping("5", T1)))).await, "connection");
    }
}

#[tokio::test]
async fn csp_mappings_with_bad_tenants_and_conflicts() {
    // A non-GUID tenant: warned, not linked. A tenant on two customers: warned, on nobody.
    let maps = [
        mapping("5", "acme.onmicrosoft.com"),
        mapping("5", T2),
        mapping("6", T2),
        mapping("6", T1),
    ]
    .join(",");
    let r = run(csp(r#"[{"id":11}]"#, detail_with(maps))).await;
    let o = imported(&r);
    let by_id = |id: &str| o.customers.iter().find(|c| c.id == id).unwrap();
    assert!(by_id("5").m365_tenants.is_empty());
    assert_eq!(tenant_ids(by_id("6")).into_iter().collect::<Vec<_>>(), [T1]);
    let codes: Vec<&str> = o.warnings.iter().map(|w| w.code.as_str()).collect();
    assert!(
        codes.contains(&"invalid-tenant-id") && codes.contains(&"tenant-on-several-customers"),
        "{codes:?}"
    );
    // mappings_client that is not an array: refused.
    let r = run(csp(r#"[{"id":11}]"#, |_: &str| ok(r#"{"id":11,"mappings_client":"x"}"#))).await;
    csp_error(&r, "mappings_client");
    // A detail answer that is deeply nested: refused, no trap.
    let r = run(csp(r#"[{"id":11}]"#, |_: &str| ok(nested(100_000)))).await;
    csp_error(&r, "");
}

#[tokio::test]
async fn ten_thousand_csp_connections_are_refused_up_front() {
    let list = format!(
        "[{}]",
        (1..=10_000).map(|i| format!(r#"{{"id":{i}}}"#)).collect::<Vec<_>>().join(",")
    );
    let r = run(csp(list, detail_with(mapping("5", T1)))).await;
    let m = csp_error(&r, "10000 connections");
    println!("  {} requests", r.requests);
    assert!(r.requests < 10, "{} requests for: {m}", r.requests);
}
