//! Tickets and changed-since imports on Autotask through the real sandbox:
//! the Autotask connector (contract 0.2.0) against autotask-sim, its zones
//! reached only through the declared `https://*.autotask.net` over TLS
//! (as in `autotask_zones`).

use autotask_sim::{AutotaskSim, ChangeFields, Faults, SimOptions, Touch, ZoneTls};
use psa_host::{
    ConnectionConfig, Connector, ConnectorError, DnsOverrides, Host, HostError, HostOptions, NewNote, NewTicket,
    NoteVisibility, OptionChoice, OptionKind, StepStatus, TicketBody,
};
use serde_json::json;

const AUTOTASK: &[u8] = include_bytes!(env!("PSA_TEST_AUTOTASK_WASM"));

async fn setup(opts: SimOptions, extra: &[(&str, &str)]) -> (AutotaskSim, Connector, ConnectionConfig) {
    let (zone_tls, ca) = ZoneTls::autotask();
    let sim = AutotaskSim::start(SimOptions { zone_tls: Some(zone_tls), ..opts }).await.expect("simulator starts");
    let mut dns = DnsOverrides::default();
    dns.connect_to("webservices5.autotask.net", 443, sim.zone_addr(0).unwrap());
    dns.connect_to("webservices15.autotask.net", 443, sim.zone_addr(1).unwrap());
    let mut options = HostOptions::default().allow_loopback(true).dns_overrides(dns);
    options.extra_roots = vec![ca];
    let host = Host::new(options).expect("host");
    let c = host.load("autotask", AUTOTASK).await.expect("loads");
    let mut pairs = sim.connection_form();
    pairs.push(("zone_lookup_url".into(), sim.lookup_url()));
    for (k, v) in extra {
        pairs.retain(|(id, _)| id != k);
        pairs.push((k.to_string(), v.to_string()));
    }
    let cfg = ConnectionConfig::from_pairs(pairs, c.info());
    (sim, c, cfg)
}

fn finding(customer: i64, key: &str) -> NewTicket {
    NewTicket {
        customer_id: customer.to_string(),
        summary: "MFA is off for 3 admins".into(),
        details: TicketBody { text: "Three global admins sign in without MFA.\nTurn it on.".into(), html: Some("<p>Three <b>global</b> admins…</p>".into()) },
        dedup_key: key.into(),
        options: vec![OptionChoice { kind: OptionKind::Priority, id: "1".into() }],
    }
}

/// Open, find, annotate, close: a finding gets one ticket, found again by
/// its key while open, with notes private and public; once Complete it is
/// not found, and a new ticket is opened.
#[tokio::test]
async fn a_finding_opens_one_ticket_found_again_by_its_key_and_annotated() {
    let (sim, c, cfg) = setup(SimOptions::default(), &[("ticket_queue_id", "29682833")]).await;
    let company = sim.options().companies[0].id;
    let mut s = c.open_session(&cfg).await.expect("opens");
    assert_eq!(s.find_open_ticket(&company.to_string(), "o365:mfa:1").await.expect("finds"), None);
    assert_eq!(sim.requests().len(), 2, "the zone lookup and one query");
    sim.clear_requests();
    let t = s.create_ticket(&finding(company, "o365:mfa:1")).await.expect("creates");
    assert_eq!(t.number.as_deref(), Some("T20261130.0001"));
    assert_eq!(sim.requests().len(), 3, "the picklists (once a session), the POST, the number read back");
    let posted = sim.tickets()[0].posted.clone();
    assert_eq!(
        posted,
        json!({"id": 0, "companyID": company, "title": "MFA is off for 3 admins",
               "description": "Three global admins sign in without MFA.\nTurn it on.",
               "status": 1, "priority": 1, "queueID": 29682833, "source": 8, "externalID": "o365:mfa:1"}),
        "plain text only, defaults from the picklists, the queue from the form, the key in externalID"
    );
    let found = s.find_open_ticket(&company.to_string(), "o365:mfa:1").await.expect("finds").expect("open");
    assert_eq!((found.id.as_str(), found.number.as_deref()), (t.id.as_str(), Some("T20261130.0001")));
    assert_eq!(s.find_open_ticket(&company.to_string(), "o365:mfa:2").await.unwrap(), None, "another key");
    let other = sim.options().companies[1].id;
    assert_eq!(s.find_open_ticket(&other.to_string(), "o365:mfa:1").await.unwrap(), None, "another customer");
    sim.clear_requests();
    for (visibility, publish) in [(NoteVisibility::Private, 2), (NoteVisibility::Public, 1)] {
        let body = TicketBody { text: "Seen again on 2026-11-30.".into(), html: None };
        s.add_note(&t.id, &NewNote { body, visibility, outcome_id: None }).await.expect("note");
        let n = sim.notes().last().cloned().unwrap();
        assert_eq!((n.ticket_id.to_string(), n.publish, n.note_type, n.title.as_str()), (t.id.clone(), publish, 3, "Seen again on 2026-11-30."));
    }
    assert_eq!(sim.requests().len(), 3, "the note picklists once, then one POST a note");
    sim.set_ticket_status(t.id.parse().unwrap(), 5);
    assert_eq!(s.find_open_ticket(&company.to_string(), "o365:mfa:1").await.unwrap(), None, "a Complete ticket is not open");
    let e = s.add_note("999999", &NewNote { body: TicketBody { text: "x".into(), html: None }, visibility: NoteVisibility::Private, outcome_id: None }).await.unwrap_err();
    assert!(matches!(&e, HostError::Connector { error: ConnectorError::NotFound { message }, .. } if message.contains("999999")), "{e:?}");
    s.close().await;
}

/// The option sets, from Autotask's entity information (inactive values left out).
#[tokio::test]
async fn ticket_options_of_every_kind() {
    let (_sim, c, cfg) = setup(SimOptions::default(), &[]).await;
    assert_eq!(c.info().ticket_option_kinds.len(), 5);
    let mut s = c.open_session(&cfg).await.unwrap();
    let ids = |v: Vec<psa_host::TicketOption>| v.into_iter().map(|o| (o.id, o.is_default)).collect::<Vec<_>>();
    let q = ids(s.ticket_options(OptionKind::Queue).await.unwrap());
    assert_eq!(q, [("29682833".to_string(), false), ("29682834".to_string(), false)]);
    let p = ids(s.ticket_options(OptionKind::Priority).await.unwrap());
    assert!(p.contains(&("2".to_string(), true)) && p.len() == 4, "{p:?}");
    let o = ids(s.ticket_options(OptionKind::Outcome).await.unwrap());
    assert!(o.contains(&("3".to_string(), true)), "{o:?}");
    let statuses = ids(s.ticket_options(OptionKind::Status).await.unwrap());
    assert_eq!(statuses.len(), 3, "{statuses:?}");
    assert!(!statuses.iter().any(|(id, _)| id == "5"), "Complete is not offered: a ticket opened Complete is never found open");
    assert_eq!(ids(s.ticket_options(OptionKind::TicketType).await.unwrap()).len(), 2);
}

/// A database that does not let tickets be found by externalID: the
/// connection test says to switch the key field to title, and with it the
/// ticket is found by its title tag.
#[tokio::test]
async fn without_a_queryable_external_id_the_title_tag_keeps_the_key() {
    let opts = || SimOptions { external_id_queryable: false, ..Default::default() };
    let (_sim, c, cfg) = setup(opts(), &[("ticket_queue_id", "29682833")]).await;
    let steps = c.test_connection(&cfg).await.unwrap();
    let last = steps.last().unwrap();
    assert_eq!((last.id.as_str(), last.status), ("tickets-readable", StepStatus::Failed), "{steps:#?}");
    assert!(last.message.contains("Ticket key field"), "{}", last.message);
    let (sim, c, cfg) = setup(opts(), &[("ticket_queue_id", "29682833"), ("ticket_key_field", "title")]).await;
    assert!(c.test_connection(&cfg).await.unwrap().iter().all(|s| s.status == StepStatus::Passed));
    let company = sim.options().companies[0].id;
    let mut s = c.open_session(&cfg).await.unwrap();
    let t = s.create_ticket(&finding(company, "o365:mfa:1")).await.unwrap();
    assert_eq!(sim.tickets()[0].title, "MFA is off for 3 admins [o365:mfa:1]");
    assert!(sim.tickets()[0].external_id.is_none());
    assert_eq!(s.find_open_ticket(&company.to_string(), "o365:mfa:1").await.unwrap().map(|f| f.id), Some(t.id));
    assert_eq!(s.find_open_ticket(&company.to_string(), "o365:mfa").await.unwrap(), None, "a key that is a prefix of another");
}

/// Permission answers name the security-level right each call needs.
#[tokio::test]
async fn ticket_permissions_are_named() {
    let (sim, c, cfg) = setup(SimOptions::default(), &[("ticket_queue_id", "29682833")]).await;
    let company = sim.options().companies[0].id;
    let mut s = c.open_session(&cfg).await.unwrap();
    sim.set_faults(Faults { tickets_write_denied: true, ..Default::default() });
    match s.create_ticket(&finding(company, "k")).await {
        Err(HostError::Connector { error: ConnectorError::Forbidden { permission, .. }, .. }) => assert!(permission.contains("Tickets (add)"), "{permission}"),
        other => panic!("{:?}", other.map(|_| ())),
    }
    sim.set_faults(Faults { tickets_read_denied: true, ..Default::default() });
    match s.find_open_ticket(&company.to_string(), "k").await {
        Err(HostError::Connector { error: ConnectorError::Forbidden { permission, .. }, .. }) => assert!(permission.contains("Tickets (view)"), "{permission}"),
        other => panic!("{:?}", other.map(|_| ())),
    }
    let steps = c.test_connection(&cfg).await.unwrap();
    assert_eq!(steps.last().unwrap().status, StepStatus::Failed);
    assert!(sim.tickets().is_empty());
}

/// Ten companies changed: a changed-since import reads them with one zone
/// lookup and one page. Companies changed only by an edit
/// (`lastTrackedModifiedDateTime`: say, the tenant id field) and only by an
/// activity (`lastActivityDate`) all come back, on a database that filters
/// on both dates and on one that filters on one only (there every company
/// is read, with a warning: complete, not cheaper).
#[tokio::test]
async fn an_incremental_import_after_ten_companies_changed_costs_two_requests() {
    for fields in [ChangeFields::Both, ChangeFields::LastActivityDateOnly, ChangeFields::LastTrackedModifiedOnly] {
        let (sim, c, cfg) = setup(SimOptions { change_fields: fields, ..Default::default() }, &[]).await;
        let companies = sim.options().companies;
        let changed: Vec<i64> = companies.iter().filter(|c| c.is_active_customer()).take(10).map(|c| c.id).collect();
        sim.touch_companies(&changed[..4], "2027-01-02T03:04:05Z", Touch::Both);
        sim.touch_companies(&changed[4..7], "2027-01-02T03:04:05Z", Touch::Modified);
        sim.touch_companies(&changed[7..], "2027-01-02T03:04:05Z", Touch::Activity);
        let since = 1_798_761_600; // 2027-01-01T00:00:00Z
        let mut s = c.open_session(&cfg).await.unwrap();
        let (mut got, mut warnings, mut cursor) = (Vec::new(), Vec::new(), None::<String>);
        loop {
            let page = s.list_customers_changed(since, cursor.as_deref()).await.expect("changed since");
            got.extend(page.customers.iter().map(|c| c.id.parse::<i64>().unwrap()));
            warnings.extend(page.warnings);
            cursor = page.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        let full = warnings.iter().filter(|w| w.code == "changed-since-full-read").count();
        let requests = sim.requests().len();
        if fields == ChangeFields::Both {
            got.sort();
            assert_eq!(got, changed, "{fields:?}: exactly the changed companies");
            assert_eq!(requests, 2, "{fields:?}: {:#?}", sim.requests());
            assert_eq!(full, 0, "{warnings:?}");
        } else {
            for id in &changed {
                assert!(got.contains(id), "{fields:?}: company {id} changed and was missed");
            }
            assert_eq!(got.len(), companies.len(), "{fields:?}: every company, once");
            // The lookup, the refused filter, then the full read's pages of 500.
            assert_eq!(requests, 2 + companies.len().div_ceil(500), "{fields:?}: {:#?}", sim.requests());
            assert_eq!(full, 1, "{warnings:?}");
        }
        println!("{fields:?}: {} changed customers returned in {requests} requests", got.len());
    }
}

/// find-open reads every page of matches (a cap of 2 rows a page here) and
/// keeps only the customer's tickets, also from a server that ignores the
/// companyID condition.
#[tokio::test]
async fn find_open_pages_and_does_not_trust_the_servers_company_filter() {
    let opts = SimOptions { page_cap: 2, ticket_query_ignores_company: true, ..Default::default() };
    let (sim, c, cfg) = setup(opts, &[]).await;
    let (a, b) = (sim.options().companies[0].id, sim.options().companies[1].id);
    let mut s = c.open_session(&cfg).await.unwrap();
    let mut last = None;
    for _ in 0..5 {
        last = Some(s.create_ticket(&finding(a, "o365:mfa:1")).await.expect("creates").id);
    }
    for _ in 0..2 {
        s.create_ticket(&finding(b, "o365:mfa:1")).await.expect("creates");
    }
    sim.clear_requests();
    let found = s.find_open_ticket(&a.to_string(), "o365:mfa:1").await.expect("finds").expect("open");
    assert_eq!(Some(found.id), last, "the customer's newest, not the other company's");
    let pages = sim.requests().iter().filter(|r| r.path.to_ascii_lowercase().contains("tickets/query")).count();
    assert_eq!(pages, 4, "7 matches at 2 a page: {:#?}", sim.requests());
    // A customer with no ticket of its own gets none, however many the server serves.
    let other = sim.options().companies[2].id;
    assert_eq!(s.find_open_ticket(&other.to_string(), "o365:mfa:1").await.unwrap(), None);
}

/// A ticket for a company Autotask does not have is `not-found`, naming it.
#[tokio::test]
async fn a_ticket_for_a_missing_company_is_not_found() {
    let (sim, c, cfg) = setup(SimOptions::default(), &[]).await;
    let mut s = c.open_session(&cfg).await.unwrap();
    match s.create_ticket(&finding(99_999_999, "k")).await {
        Err(HostError::Connector { error: ConnectorError::NotFound { message }, .. }) => assert!(message.contains("99999999"), "{message}"),
        other => panic!("{:?}", other.map(|_| ())),
    }
    assert!(sim.tickets().is_empty());
}

/// The connection test fails when no queue would take a new ticket, and says
/// which field to fill in.
#[tokio::test]
async fn the_check_names_the_queue_field_when_no_queue_resolves() {
    for queue in ["", "29682835"] {
        let (_sim, c, cfg) = setup(SimOptions::default(), &[("ticket_queue_id", queue)]).await;
        let steps = c.test_connection(&cfg).await.unwrap();
        let last = steps.last().unwrap();
        assert_eq!((last.id.as_str(), last.status), ("tickets-readable", StepStatus::Failed), "{queue:?}: {steps:#?}");
        assert!(last.message.contains("ticket_queue_id"), "{}", last.message);
    }
    let (_sim, c, cfg) = setup(SimOptions::default(), &[]).await;
    assert!(c.test_connection(&cfg).await.unwrap().iter().all(|s| s.status == StepStatus::Passed), "the simulator's form names a queue");
}

/// A database that requires a field the connector does not fill: Autotask's
/// own sentence reaches the platform, and nothing is stored.
#[tokio::test]
async fn a_required_field_autotask_names_is_reported_in_its_words() {
    let mut opts = SimOptions::default();
    opts.ticket_required.push("issueType".into());
    let (sim, c, cfg) = setup(opts, &[("ticket_queue_id", "29682833")]).await;
    let company = sim.options().companies[0].id;
    let mut s = c.open_session(&cfg).await.unwrap();
    match s.create_ticket(&finding(company, "k")).await {
        Err(HostError::Connector { error: ConnectorError::Upstream { status, message, .. }, .. }) => {
            assert_eq!(status, 500);
            assert!(message.contains("Missing Required Field: issueType"), "{message}");
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    assert!(sim.tickets().is_empty());
}
