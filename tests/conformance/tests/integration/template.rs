//! The connector template (`template/`) passes the conformance suite and
//! imports through the real host from a small loopback "Example PSA".

use crate::common;
use psa_host::{ConnectionConfig, Connector, ConnectorError, Host, HostError, HostOptions, StepStatus};
use tokio::io::AsyncWriteExt;

const TEMPLATE: &[u8] = include_bytes!(env!("PSA_TEST_TEMPLATE_WASM"));
const KEY: &str = "example-key-5f3c9a";

#[tokio::test]
async fn the_template_passes_the_conformance_suite() {
    let checks = psa_conformance::run(TEMPLATE).await;
    for c in &checks {
        println!("{}  {}: {}", if c.passed { "PASS" } else { "FAIL" }, c.name, c.detail);
    }
    assert!(checks.len() >= 8, "the suite stopped early: {checks:#?}");
    let failed: Vec<_> = checks.iter().filter(|c| !c.passed).collect();
    assert!(failed.is_empty(), "failed checks: {failed:#?}");
}

/// A loopback Example PSA: two pages, three customers, bearer `KEY` only.
async fn example_psa() -> String {
    let addr = common::raw_server(|head, mut sock| async move {
        let head = head.to_ascii_lowercase();
        let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
        let authorized = head.lines().any(|l| l.trim() == format!("authorization: bearer {KEY}"));
        let (status, body) = if !authorized {
            ("401 Unauthorized", r#"{"error":"invalid token"}"#.to_string())
        } else if path == "/customers?page=1" {
            (
                "200 OK",
                r#"{"customers":[
                        {"id":1,"name":"Acme","active":true,"tenant_id":"6F1C2A3B-0D4E-4F5A-8B9C-0D1E2F3A4B5C"},
                        {"id":2,"name":"Globex","active":true,"tenant_id":null}],"next_page":2}"#
                    .to_string(),
            )
        } else if path == "/customers?page=2" {
            (
                "200 OK",
                r#"{"customers":[{"id":"c-3","name":"Initech","active":false,"tenant_id":"not-a-guid"}],"next_page":null}"#.to_string(),
            )
        } else {
            ("404 Not Found", r#"{"error":"no such page"}"#.to_string())
        };
        let reply = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = sock.write_all(reply.as_bytes()).await;
    })
    .await;
    format!("http://{addr}/") // trailing slash: the connector strips it
}

async fn template() -> (Host, Connector) {
    let host = Host::new(HostOptions::default().allow_loopback(true)).expect("host");
    let connector = host.load("example-psa", TEMPLATE).await.expect("template loads");
    (host, connector)
}

fn form(c: &Connector, url: &str, key: &str) -> ConnectionConfig {
    let pairs = [("base_url".to_string(), url.to_string()), ("api_key".to_string(), key.to_string())];
    ConnectionConfig::from_pairs(pairs, c.info())
}

#[tokio::test]
async fn the_template_imports_every_customer_through_the_host() {
    let url = example_psa().await;
    let (_host, connector) = template().await;
    let mut session = connector.open_session(&form(&connector, &url, KEY)).await.expect("session opens");
    let outcome = session.import_all(|_| {}).await.expect("import succeeds");
    let mut ids: Vec<&str> = outcome.customers.iter().map(|c| c.id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["1", "2", "c-3"]);
    assert_eq!(outcome.pages, 2);
    assert_eq!(
        outcome.customers[0].m365_tenants[0].tenant_id,
        "6f1c2a3b-0d4e-4f5a-8b9c-0d1e2f3a4b5c"
    );
    assert!(outcome
        .warnings
        .iter()
        .any(|w| w.code == "invalid-tenant-id" && w.customer_id.as_deref() == Some("c-3")));

    let steps = connector.test_connection(&form(&connector, &url, KEY)).await.expect("check runs");
    assert!(steps.iter().all(|s| s.status == StepStatus::Passed), "{steps:#?}");
}

#[tokio::test]
async fn a_wrong_key_is_unauthorized_and_never_echoed() {
    let url = example_psa().await;
    let (_host, connector) = template().await;
    let wrong = "wrong-key-0b7e11";
    let mut session = connector.open_session(&form(&connector, &url, wrong)).await.expect("session opens");
    let e = session.list_customers(None).await.unwrap_err();
    let HostError::Connector {
        error: ConnectorError::Unauthorized { message },
        ..
    } = &e
    else {
        panic!("{e}")
    };
    assert!(!message.contains(wrong), "{message}");

    let steps = connector.test_connection(&form(&connector, &url, wrong)).await.expect("check runs");
    let statuses: Vec<_> = steps.iter().map(|s| (s.id.as_str(), s.status)).collect();
    assert_eq!(
        statuses,
        [("form-valid", StepStatus::Passed), ("api-reachable", StepStatus::Failed)]
    );
    assert!(steps.iter().all(|s| !s.message.contains(wrong)));
}

/// The template is a contract 0.2.0 connector that lists none of the
/// optional capabilities: the host answers every optional call
/// `NotOffered`, naming the call, the capability and contract 0.2.0,
/// without calling the connector (the PSA sees no request), and an
/// incremental import falls back to a full one, saying why.
#[tokio::test]
async fn a_0_2_0_connector_without_a_capability_is_answered_not_offered_without_a_call() {
    use psa_host::{FallbackReason, ImportRead, NewNote, NewTicket, OptionKind, TicketBody};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let requests = Arc::new(AtomicUsize::new(0));
    let seen = requests.clone();
    let addr = common::raw_server(move |_head, mut sock| {
        seen.fetch_add(1, Ordering::SeqCst);
        async move {
            let body = r#"{"customers":[{"id":1,"name":"Acme","active":true}],"next_page":null}"#;
            let reply = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            let _ = sock.write_all(reply.as_bytes()).await;
        }
    })
    .await;
    let (_host, connector) = template().await;
    assert_eq!(connector.info().contract_version, "0.2.0");
    let mut s = connector.open_session(&form(&connector, &format!("http://{addr}"), KEY)).await.expect("session opens");
    let not_offered = |e: HostError, call: &str, capability: &str| {
        assert!(matches!(&e, HostError::NotOffered { contract, .. } if contract == "0.2.0"), "{e:?}");
        let text = e.to_string();
        assert!(text.contains(call) && text.contains(capability), "{text}");
    };
    let ticket = NewTicket {
        customer_id: "1".into(),
        summary: "MFA disabled".into(),
        details: TicketBody { text: "found".into(), html: None },
        dedup_key: "mfa:1".into(),
        options: Vec::new(),
    };
    not_offered(s.create_ticket(&ticket).await.unwrap_err(), "session.create-ticket", "create-ticket");
    not_offered(s.find_open_ticket("1", "mfa:1").await.unwrap_err(), "session.find-open-ticket", "ticket-dedup");
    not_offered(s.add_note("7", &NewNote::default()).await.unwrap_err(), "session.add-note", "ticket-dedup");
    not_offered(s.ticket_options(OptionKind::Priority).await.unwrap_err(), "session.ticket-options", "ticket-options");
    not_offered(s.list_customers_changed(0, None).await.unwrap_err(), "session.list-customers-changed", "customers-changed-since");
    assert_eq!(requests.load(Ordering::SeqCst), 0, "a call that is not offered reached the PSA");

    let outcome = s.import_since(Some(1_700_000_000), |_| {}).await.expect("the full import runs");
    assert_eq!(outcome.customers.len(), 1);
    assert!(matches!(&outcome.read, ImportRead::FellBack { reason: FallbackReason::NotOffered, .. }), "{:?}", outcome.read);
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}
