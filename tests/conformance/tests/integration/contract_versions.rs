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
    ConnectionConfig, Connector, FallbackReason, FieldKind, Host, HostError, HostOptions, ImportRead, NewNote, NewTicket,
    OptionChoice, OptionKind, RateBudget, RequestBudget, TicketBody, TicketOutcome, TicketRef,
};
use std::time::{Duration, Instant};

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
    // The guest lists priority twice; the host keeps each kind once.
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
    let e = b.add_note("", &note).await.unwrap_err();
    assert!(matches!(e, HostError::InvalidInput { .. }) && e.to_string().contains("empty ticket id"), "{e:?}");
    let options = b.ticket_options(OptionKind::Priority).await.unwrap();
    assert_eq!(options.iter().map(|o| (o.id.as_str(), o.is_default)).collect::<Vec<_>>(), [("10", false), ("20", true)]);
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn open_ticket_twice_with_one_key_creates_once_then_notes_on_it() {
    let psa = MiniPsa::start(10);
    let (_host, _old, new) = both().await;
    let mut s = new.open_session(&config(&new, &psa, &[])).await.unwrap();
    let mut t = ticket("C5", "m365:mfa-disabled:C5");
    t.options.push(OptionChoice { kind: OptionKind::Outcome, id: "n1".into() });

    let first = s.open_ticket(&t).await.expect("first");
    let TicketOutcome::Created { ticket: created } = &first else { panic!("{first:?}") };
    assert_eq!(created.number.as_deref(), Some("T-0001"));
    let second = s.open_ticket(&t).await.expect("second");
    let TicketOutcome::Noted { ticket: noted, note } = &second else { panic!("{second:?}") };
    assert_eq!(noted.id, created.id, "noted on the existing ticket");
    assert_eq!(note.id, format!("{}-1", created.id));
    let stored = psa.tickets();
    assert_eq!(stored.len(), 1, "one ticket for one key");
    assert_eq!(stored[0].notes.len(), 1);
    assert_eq!(stored[0].notes[0]["private"], true, "private by default");
    assert_eq!(stored[0].notes[0]["outcome"], "n1");
    assert_eq!(stored[0].notes[0]["text"], t.details.text.as_str());

    // Another customer or key is another finding.
    assert!(matches!(s.open_ticket(&ticket("C6", "m365:mfa-disabled:C5")).await.unwrap(), TicketOutcome::Created { .. }));
    // Once the ticket is closed in the PSA, the finding opens a new one.
    psa.close_ticket(&created.id);
    let third = s.open_ticket(&t).await.unwrap();
    assert!(matches!(&third, TicketOutcome::Created { ticket } if ticket.id != created.id), "{third:?}");
    assert_eq!(psa.tickets().len(), 3);
    s.close().await;
}

#[tokio::test]
async fn open_ticket_refuses_a_bad_key_and_a_connector_that_cannot_deduplicate_without_calling_it() {
    let psa = MiniPsa::start(3);
    let (_host, old, new) = both().await;
    let mut s = new.open_session(&config(&new, &psa, &[])).await.unwrap();
    for key in ["", "has space", "slash/key", &"k".repeat(101)] {
        let e = s.open_ticket(&ticket("C1", key)).await.unwrap_err();
        assert!(matches!(e, HostError::InvalidInput { .. }), "{key:?}: {e:?}");
        assert!(e.to_string().contains("deduplication key"), "{e}");
    }
    // create_ticket checks a key it is given, too.
    assert!(matches!(s.create_ticket(&ticket("C1", "bad key")).await, Err(HostError::InvalidInput { .. })));
    // A 0.1.0 connector cannot store the key: no ticket rather than a
    // duplicate on every run.
    let mut a = old.open_session(&config(&old, &psa, &[])).await.unwrap();
    let e = a.open_ticket(&ticket("C1", "fine-key")).await.unwrap_err();
    assert!(e.to_string().contains("capability not offered by this connector (contract 0.1.0)"), "{e}");
    assert!(psa.requests().is_empty(), "{:?}", psa.requests());
    assert!(psa.tickets().is_empty());
}

#[tokio::test]
async fn an_incremental_import_reads_only_the_changed_or_falls_back_and_says_why() {
    let psa = MiniPsa::start(120);
    let (_host, old, new) = both().await;
    // Customers C111..C120 changed at or after this time.
    let since = 1_700_000_111;
    let mut b = new.open_session(&config(&new, &psa, &[])).await.unwrap();
    let changed = b.import_since(Some(since), |_| {}).await.expect("incremental import");
    assert_eq!(changed.read, ImportRead::ChangedSince { since });
    assert_eq!(changed.customers.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), (111..=120).map(|k| format!("C{k}")).collect::<Vec<_>>());
    assert_eq!(changed.pages, 1);
    assert_eq!(psa.requests(), [format!("GET /customers?page=1&size=50&since={since}")], "one request for ten changed customers");

    let mut a = old.open_session(&config(&old, &psa, &[])).await.unwrap();
    let full = a.import_since(Some(since), |_| {}).await.expect("fallback import");
    assert_eq!(full.customers.len(), 120, "every customer: nothing lost by the fallback");
    let ImportRead::FellBack { since: s, reason } = &full.read else { panic!("{:?}", full.read) };
    assert_eq!(*s, since);
    assert_eq!(*reason, FallbackReason::ContractLacksIt { contract: "0.1.0".into() });
    assert!(reason.to_string().contains("contract 0.1.0"), "{reason}");
    assert_eq!(b.import_since(None, |_| {}).await.unwrap().read, ImportRead::Full);
}

#[tokio::test]
async fn the_declared_budget_paces_the_connector_and_the_host_keeps_its_own() {
    let psa = MiniPsa::start(140);
    let host = Host::new(HostOptions::default().allow_loopback(true).cache_dir(None)).unwrap();
    let new = host.load("tickets", TICKETS).await.unwrap();
    assert_eq!(
        new.rate_budgets(),
        [RateBudget::default(), RateBudget { requests: 5, window: Duration::from_secs(2) }],
        "the host's budget and the declared one"
    );
    assert_eq!(new.pacing().concurrency, Some(2));
    // 14 pages of 10: 5 requests at once, then 5 after 2 s, then 4 after 4 s.
    let mut s = new.open_session(&config(&new, &psa, &[("page_size", "10")])).await.unwrap();
    let t = Instant::now();
    let all = s.import_all(|_| {}).await.expect("import");
    let took = t.elapsed();
    assert_eq!((all.customers.len(), all.pages), (140, 14));
    assert!(took >= Duration::from_secs(4) && took < Duration::from_secs(30), "{took:?}");
}

#[tokio::test]
async fn hostile_ticket_answers_are_refused_with_a_contract_error() {
    let psa = MiniPsa::start(3);
    let (_host, _old, new) = both().await;
    let cases = [
        ("javascript-url", "not an http or https URL"),
        ("long-ticket-id", "max_ticket_text_bytes"),
        ("empty-ticket-id", "an empty ticket id"),
    ];
    for (behaviour, says) in cases {
        let mut s = new.open_session(&config(&new, &psa, &[("behaviour", behaviour)])).await.unwrap();
        let e = s.create_ticket(&ticket("C1", "k")).await.unwrap_err();
        assert!(matches!(e, HostError::Contract { .. }), "{behaviour}: {e:?}");
        let text = e.to_string();
        assert!(text.contains(says) && text.contains("may have been created"), "{behaviour}: {text}");
        let e = s.find_open_ticket("C1", "k").await.unwrap_err();
        assert!(e.to_string().contains(says), "{behaviour}: {e}");
    }
    let mut s = new.open_session(&config(&new, &psa, &[("behaviour", "huge-options")])).await.unwrap();
    let e = s.ticket_options(OptionKind::Priority).await.unwrap_err();
    assert!(matches!(e, HostError::Contract { .. }) && e.to_string().contains("100000 options"), "{e}");
    // A kind the connector does not list is not asked for.
    let e = s.ticket_options(OptionKind::Queue).await.unwrap_err();
    assert!(matches!(e, HostError::NotOffered { .. }), "{e:?}");
}

#[tokio::test]
async fn a_secret_the_connector_echoes_in_ticket_answers_is_scrubbed() {
    let psa = MiniPsa::start(3);
    let (_host, _old, new) = both().await;
    let secret = "hunter2-api-key-value";
    let mut s = new.open_session(&config(&new, &psa, &[("api_key", secret), ("behaviour", "echo-secret")])).await.unwrap();
    let created = s.create_ticket(&ticket("C1", "k")).await.unwrap();
    assert_eq!(created.number.as_deref(), Some("T-[redacted]"));
    assert!(!format!("{created:?}").contains(secret), "{created:?}");
    let found = s.find_open_ticket("C1", "k").await.unwrap().unwrap();
    assert!(!format!("{found:?}").contains(secret), "{found:?}");
    let options = s.ticket_options(OptionKind::TicketType).await.unwrap();
    assert!(!format!("{options:?}").contains(secret) && options[0].name == "Incident [redacted]", "{options:?}");
}
