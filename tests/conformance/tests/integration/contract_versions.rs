//! The contract-version layer end to end: one host runs a frozen connector
//! built against contract 0.1.0 (`tests/guests/frozen-v0_1_0`, raw
//! wit-bindgen, never updated) and a 0.2.0 connector
//! (`tests/guests/tickets-v0_2_0`) side by side, each doing real HTTP
//! through `wasi:http` to a small PSA on 127.0.0.1
//! (`tests/guests/mini-psa.rs`).

#[path = "../../../guests/mini-psa.rs"]
mod mini_psa;

use mini_psa::MiniPsa;
use psa_host::{
    ConnectionConfig, Connector, FieldKind, Host, HostError, HostOptions, NewNote, NewTicket, OptionChoice, OptionKind,
    RequestBudget, TicketBody, TicketRef,
};

const FROZEN: &[u8] = include_bytes!(env!("PSA_TEST_FROZEN_V0_1_0_WASM"));
const TICKETS: &[u8] = include_bytes!(env!("PSA_TEST_TICKETS_V0_2_0_WASM"));

/// A host (loopback allowed, the default pacing) with both connectors.
async fn both() -> (Host, Connector, Connector) {
    let host = Host::new(HostOptions::default().allow_loopback(true).cache_dir(None)).expect("host");
    let old = host.load("frozen", FROZEN).await.expect("the frozen 0.1.0 connector loads");
    let new = host.load("tickets", TICKETS).await.expect("the 0.2.0 connector loads");
    (host, old, new)
}

fn config(c: &Connector, psa: &MiniPsa, extra: &[(&str, &str)]) -> ConnectionConfig {
    let mut pairs = vec![("base_url".to_string(), psa.base_url())];
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    ConnectionConfig::from_pairs(pairs, c.info())
}

#[tokio::test]
async fn one_host_loads_a_0_1_0_and_a_0_2_0_connector_and_reads_each_info() {
    let (_host, old, new) = both().await;
    assert_eq!(old.contract_version(), "0.1.0");
    assert_eq!(new.contract_version(), "0.2.0");
    assert_eq!(psa_host::SUPPORTED_CONTRACTS, ["0.2.0", "0.1.0"]);

    // 0.1.0 carries none of 0.2.0's additions.
    assert_eq!(old.info().budget, None);
    assert!(old.info().ticket_option_kinds.is_empty());
    assert!(old.info().fields.iter().all(|f| f.choices.is_empty() && f.range.is_none()));

    // 0.2.0's self-description arrives whole.
    let i = new.info();
    assert_eq!(i.budget, Some(RequestBudget { requests: 5, window_seconds: 2, concurrency: Some(2) }));
    assert_eq!(i.ticket_option_kinds, [OptionKind::TicketType, OptionKind::Priority, OptionKind::Outcome]);
    for cap in ["ticket-dedup", "ticket-options", "customers-changed-since"] {
        assert!(i.capabilities.iter().any(|c| c == cap), "{cap} in {:?}", i.capabilities);
    }
    let page_size = i.field("page_size").unwrap();
    assert_eq!(page_size.kind, FieldKind::Number);
    assert_eq!(page_size.range.map(|r| (r.min, r.max)), Some((1, 1000)));
    let behaviour = i.field("behaviour").unwrap();
    assert_eq!(behaviour.kind, FieldKind::Choice);
    assert_eq!(behaviour.choices.first().map(|c| c.value.as_str()), Some("normal"));
}

#[tokio::test]
async fn both_versions_import_side_by_side_in_one_host() {
    let psa = MiniPsa::start(120);
    let (_host, old, new) = both().await;
    let mut a = old.open_session(&config(&old, &psa, &[])).await.expect("0.1.0 session");
    let mut b = new.open_session(&config(&new, &psa, &[])).await.expect("0.2.0 session");
    let (ia, ib) = tokio::join!(a.import_all(|_| {}), b.import_all(|_| {}));
    let (ia, ib) = (ia.expect("0.1.0 import"), ib.expect("0.2.0 import"));
    let ids = |o: &psa_host::ImportOutcome| o.customers.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    let want: Vec<String> = (1..=120).map(|k| format!("C{k}")).collect();
    assert_eq!(ids(&ia), want);
    assert_eq!(ids(&ib), want);
    assert_eq!((ia.pages, ib.pages), (3, 3), "50 a page");
    a.close().await;
    b.close().await;
}

fn ticket(customer: &str, key: &str) -> NewTicket {
    NewTicket {
        customer_id: customer.into(),
        summary: "MFA disabled for 3 admins".into(),
        details: TicketBody { text: "Found by <Optimize365>\nsecond line".into(), html: None },
        dedup_key: key.into(),
        options: vec![
            OptionChoice { kind: OptionKind::TicketType, id: "2".into() },
            OptionChoice { kind: OptionKind::Priority, id: "10".into() },
            OptionChoice { kind: OptionKind::Queue, id: "q7".into() },
        ],
    }
}

#[tokio::test]
async fn each_version_creates_tickets_and_0_1_0_answers_the_new_calls_not_offered() {
    let psa = MiniPsa::start(10);
    let (_host, old, new) = both().await;
    let mut a = old.open_session(&config(&old, &psa, &[])).await.unwrap();
    let mut b = new.open_session(&config(&new, &psa, &[])).await.unwrap();

    let ra = a.create_ticket(&ticket("C3", "mfa:C3")).await.expect("0.1.0 ticket");
    let rb = b.create_ticket(&ticket("C4", "mfa:C4")).await.expect("0.2.0 ticket");
    assert_eq!(ra, TicketRef { id: "1001".into(), number: None, url: None }, "0.1.0 has only an id");
    assert_eq!(rb.id, "1002");
    assert_eq!(rb.number.as_deref(), Some("T-0002"));
    assert_eq!(rb.url, Some(format!("{}/tickets/1002", psa.base_url())));
    let stored = psa.tickets();
    // 0.1.0: the text escaped as HTML, type and priority kept, the rest
    // (key, queue) dropped: it has no field for them.
    assert_eq!(stored[0].body["html"], "Found by &lt;Optimize365&gt;<br>second line");
    assert_eq!((stored[0].body["type"].as_str(), stored[0].body["priority"].as_str()), (Some("2"), Some("10")));
    assert!(stored[0].body.get("key").is_none(), "{}", stored[0].body);
    // 0.2.0: both forms of the body, the key and every option.
    assert_eq!(stored[1].body["text"], "Found by <Optimize365>\nsecond line");
    assert_eq!(stored[1].body["key"], "mfa:C4");
    assert_eq!(stored[1].body["queue"], "q7");

    let requests_before = psa.requests().len();
    let not_offered = |e: HostError, call: &str| {
        assert!(matches!(&e, HostError::NotOffered { contract, .. } if contract == "0.1.0"), "{e:?}");
        let text = e.to_string();
        assert!(text.contains("capability not offered by this connector (contract 0.1.0)"), "{text}");
        assert!(text.contains(call), "{text}");
    };
    not_offered(a.find_open_ticket("C3", "mfa:C3").await.unwrap_err(), "session.find-open-ticket");
    not_offered(a.add_note("1001", &NewNote::default()).await.unwrap_err(), "session.add-note");
    not_offered(a.ticket_options(OptionKind::Priority).await.unwrap_err(), "session.ticket-options");
    not_offered(a.list_customers_changed(0, None).await.unwrap_err(), "session.list-customers-changed");
    assert_eq!(psa.requests().len(), requests_before, "the host did not call the connector");
    // The session is still usable.
    assert_eq!(a.import_all(|_| {}).await.unwrap().customers.len(), 10);

    // The 0.2.0 connector answers them.
    assert_eq!(b.find_open_ticket("C4", "mfa:C4").await.unwrap().map(|t| t.id), Some("1002".into()));
    assert_eq!(b.find_open_ticket("C4", "other").await.unwrap(), None);
    let note = NewNote { body: TicketBody { text: "again".into(), html: None }, ..Default::default() };
    assert_eq!(b.add_note("1002", &note).await.unwrap().id, "1002-1");
    let options = b.ticket_options(OptionKind::Priority).await.unwrap();
    assert_eq!(options.iter().map(|o| (o.id.as_str(), o.is_default)).collect::<Vec<_>>(), [("10", false), ("20", true)]);
    a.close().await;
    b.close().await;
}
