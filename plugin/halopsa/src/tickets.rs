//! Tickets in Halo, opened once per finding: `create-ticket`, `find-open-ticket`,
//! `add-note` and `ticket-options`, as requests and answers (the flows over
//! [`Api`] are at the end; `session` and `lib` call them).
//!
//! Choices (from Halo's published OpenAPI document, `tests/openapi/`, and
//! what public clients send: CIPP-API's `New-HaloPSATicket.ps1`,
//! homotechsual/HaloAPI, n8n's HaloPSA node; the simulator offers each
//! [unsure] answer and the integration tests run the connector against each):
//!
//! - **Create**: `POST /Tickets` with a JSON array of one ticket (`[{...}]`),
//!   `client_id` a JSON integer (Halo rejects `95.0`), the customer's General
//!   User (`usertype: 1`, `userlookup: {id: -1}`, as CIPP sends), `_novalidate`,
//!   `_forcereassign` and `donotapplytemplateintheapi` (so a ticket type's
//!   mandatory fields and template do not refuse or overwrite an API ticket),
//!   `summary`, the body both as `details` (plain text) and `details_html` (the
//!   HTML when the platform has it, else the text escaped, lines as `<br>`;
//!   Halo shows `details_html`), and the chosen ticket type, priority and
//!   status as integers (`tickettype_id`, `priority_id` = a priority's
//!   `priorityid`, `status_id`). Halo answers the created ticket as one object;
//!   its `id` is the ticket's id and also the number people see, so
//!   `ticket-ref.number` stays empty. The link is `{instance}/tickets?id=N`,
//!   the instance being the Resource Server URL without `/api`: the address of
//!   a ticket in Halo's agent web interface.
//! - **Deduplication key**: stored in `third_party_id_string`. It is a string
//!   field of Halo's ticket (Faults schema), meant for an outside system's id,
//!   not shown on the ticket's main form, so technicians do not edit it by
//!   accident; it survives edits of the summary (unlike a marker in the
//!   summary, ranked 3rd in the notes) and needs no custom field or SQL report
//!   (5th). `third_party_id` is an integer and cannot hold the key. The key is
//!   checked before anything is sent: 1 to 100 characters of `[A-Za-z0-9._:-]`
//!   (an empty key opens a ticket without one, which no key finds again; it is
//!   refused when looked for).
//! - **Find the open ticket**: `GET /Tickets?client_id=C&open_only=true&
//!   third_party_id_string=KEY&pageinate=true&page_size=100&page_no=N`, then
//!   every row verified here: the same client, the same key and
//!   `hasbeenclosed` not true. The filter on the key is [likely] only, and Halo
//!   ignores parameters it does not know, so a Halo without it answers every
//!   open ticket of the customer: the connector then reads those pages (100
//!   rows each, Halo's maximum for tickets; at most [`MAX_FIND_PAGES`]) and
//!   still finds the right one, only with more requests. A row that lacks
//!   `third_party_id_string` (a slimmer list row) is confirmed with
//!   `GET /Tickets/{id}` (at most [`MAX_FIND_DETAILS`]); a ticket answered
//!   without `id` there was deleted. Of several matches, the newest (highest
//!   id) wins.
//! - **Notes**: `POST /Actions` with an array of one action: `ticket_id`,
//!   `outcome_id` (Halo requires an outcome: "An Outcome must be entered for
//!   this Action"), `hiddenfromuser` true for a private note and false for a
//!   public one, and `note_html` when the platform has HTML, else `note`
//!   (plain text). Without a chosen outcome both private and public notes use
//!   Halo's built-in outcome 7 ("Private Note", button "Internal Note"), what
//!   CIPP falls back to: in Halo the visibility of an action is
//!   `hiddenfromuser`, not the outcome, and 7 exists on every instance, while
//!   a public-note outcome's id differs per instance (the platform can pick
//!   one from `ticket-options(outcome)`). "You do not have access to this
//!   Action at the moment" (the agent may not run that outcome) is reported as
//!   such, naming the outcome, so the platform can choose another or open a
//!   new ticket.
//! - **Options**: ticket types (`GET /TicketType?showall=true`, a plain
//!   array), priorities (`GET /Priority`: Policy objects whose `id` is a string;
//!   the option id is `priorityid`, listed once however many SLAs repeat it;
//!   hidden ones left out), statuses (`GET /Status`) and outcomes
//!   (`GET /Outcome`, hidden ones left out; 7 is marked the default, being the
//!   connector's). Halo marks no ticket type, priority or status as a default
//!   in these lists, so none is. Queues are not offered: Halo's ticket has a
//!   team (a name), but the notes know no endpoint that lists teams.
//! - **Permissions**: a 403 on creating a ticket or a note names `edit:tickets`,
//!   on reading tickets or the lists `read:tickets`.

use psa_connector_sdk::{values, MAX_TICKET_OPTIONS};
use serde_json::{json, Value};

use crate::api::{Api, PERM_READ_TICKETS, PERM_TICKETS};
use crate::field::{parse_id, parse_int};
use crate::error::Error;
use crate::messages as msg;
use crate::types::{NewTicket, OptionKind};

/// The new ticket's id from Halo's answer (the ticket, or an array of one).
pub fn parse_created(endpoint: &str, body: &[u8]) -> Result<String, Error> {
    let v: Value = crate::answer::parse_value(endpoint, body)?;
    let ticket = match &v {
        Value::Array(a) => a.first(),
        other => Some(other),
    };
    ticket
        .and_then(|t| t.get("id"))
        .and_then(parse_id)
        .filter(|id| !id.starts_with('-') && id != "0")
        .ok_or_else(|| Error::protocol(endpoint, msg::ticket_no_id()))
}

// ----- the new contract's requests and answers --------------------------------

/// The request path of tickets, actions and the lists.
pub const TICKETS: &str = "/Tickets";
pub const ACTIONS: &str = "/Actions";

/// Halo's built-in outcome "Private Note" (button "Internal Note"), used
/// for notes when the platform chose none.
pub const DEFAULT_OUTCOME: i64 = 7;

/// Rows a page of `/Tickets` holds at most (Halo's maximum for tickets).
pub const FIND_PAGE_SIZE: u32 = 100;
/// Pages of open tickets `find_open` reads at most (10,000 open tickets of
/// one customer, when Halo ignores the key filter).
pub const MAX_FIND_PAGES: u32 = 100;
/// Tickets `find_open` fetches one by one at most, for rows that do not
/// carry `third_party_id_string`.
pub const MAX_FIND_DETAILS: usize = 25;

/// A Halo id as Halo's schema types ids: a positive 32-bit integer.
pub fn halo_id(field: &str, what: &str, raw: &str) -> Result<i64, Error> {
    values::positive_id_i32(raw.trim()).map(i64::from).ok_or_else(|| Error::config(field, msg::bad_integer(what, raw)))
}

/// The deduplication key, checked by the SDK's rule: 1 to 100 characters
/// of `[A-Za-z0-9._:-]`.
pub fn check_key(key: &str) -> Result<&str, Error> {
    if values::dedup_key_ok(key) {
        Ok(key)
    } else {
        Err(Error::config("dedup_key", msg::bad_dedup_key(key)))
    }
}

/// Plain text as HTML: `&`, `<`, `>`, `"` escaped, line breaks as `<br>`.
pub fn text_to_html(text: &str) -> String {
    let escaped = text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    escaped.replace("\r\n", "\n").replace('\n', "<br>")
}

/// A ticket to open, as the contract gives it (the chosen options by kind).
pub struct TicketDraft<'a> {
    pub customer_id: &'a str,
    pub summary: &'a str,
    pub text: &'a str,
    pub html: Option<&'a str>,
    pub dedup_key: &'a str,
    pub ticket_type: Option<&'a str>,
    pub priority: Option<&'a str>,
    pub status: Option<&'a str>,
}

/// `POST /Tickets`'s body: an array of one ticket.
pub fn ticket_body(d: &TicketDraft) -> Result<Vec<u8>, Error> {
    let client_id = halo_id("customer_id", "customer id", d.customer_id)?;
    // An empty key: a ticket not to be found again (the contract's 0.1.0
    // callers and other PSAs' habits); any other key must be storable.
    let key = if d.dedup_key.is_empty() { None } else { Some(check_key(d.dedup_key)?) };
    let html = d.html.map(str::to_string).unwrap_or_else(|| text_to_html(d.text));
    let mut ticket = serde_json::Map::new();
    ticket.insert("client_id".into(), json!(client_id));
    ticket.insert("summary".into(), json!(d.summary));
    ticket.insert("details".into(), json!(d.text));
    ticket.insert("details_html".into(), json!(html));
    if let Some(key) = key {
        ticket.insert("third_party_id_string".into(), json!(key));
    }
    ticket.insert("usertype".into(), json!(1));
    ticket.insert("userlookup".into(), json!({"id": -1}));
    ticket.insert("_novalidate".into(), json!(true));
    ticket.insert("_forcereassign".into(), json!(true));
    ticket.insert("donotapplytemplateintheapi".into(), json!(true));
    for (field, what, raw) in [
        ("tickettype_id", "ticket type id", d.ticket_type),
        ("priority_id", "priority id", d.priority),
        ("status_id", "status id", d.status),
    ] {
        if let Some(raw) = raw {
            ticket.insert(field.into(), json!(halo_id(field, what, raw)?));
        }
    }
    serde_json::to_vec(&Value::Array(vec![Value::Object(ticket)]))
        .map_err(|_| Error::Internal(msg::request_not_built("ticket JSON")))
}

/// The draft of a contract ticket: the chosen options by kind (the first of
/// a kind, should there be several). A queue or an outcome cannot be chosen
/// for a Halo ticket: said, not ignored.
pub fn draft(t: &NewTicket) -> Result<TicketDraft<'_>, Error> {
    let mut d = TicketDraft {
        customer_id: &t.customer_id,
        summary: &t.summary,
        text: &t.details.text,
        html: t.details.html.as_deref(),
        dedup_key: &t.dedup_key,
        ticket_type: None,
        priority: None,
        status: None,
    };
    for o in &t.options {
        let slot = match o.kind {
            OptionKind::TicketType => &mut d.ticket_type,
            OptionKind::Priority => &mut d.priority,
            OptionKind::Status => &mut d.status,
            OptionKind::Queue => return Err(Error::config("options", msg::option_not_for_tickets("queue"))),
            OptionKind::Outcome => return Err(Error::config("options", msg::option_not_for_tickets("outcome"))),
        };
        slot.get_or_insert(o.id.as_str());
    }
    Ok(d)
}

/// The address of a ticket in Halo's agent web interface: the Resource
/// Server URL without its `/api`, then `/tickets?id=N`.
pub fn ticket_url(resource_url: &str, id: &str) -> String {
    let base = resource_url.trim_end_matches('/');
    let instance = match base.len().checked_sub(4) {
        Some(cut) if base.is_char_boundary(cut) && base[cut..].eq_ignore_ascii_case("/api") => &base[..cut],
        _ => base,
    };
    format!("{instance}/tickets?id={id}")
}

/// The query of one page of the customer's open tickets with the key.
pub fn find_query(client_id: i64, key: &str, page_no: u32) -> String {
    let key: String = url::form_urlencoded::byte_serialize(key.as_bytes()).collect();
    format!(
        "?client_id={client_id}&open_only=true&third_party_id_string={key}&pageinate=true&page_size={FIND_PAGE_SIZE}&page_no={page_no}"
    )
}

/// What one page of `GET /Tickets` says about the ticket looked for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FindPage {
    /// Ids of rows that are the customer's open ticket with the key.
    pub matches: Vec<i64>,
    /// Ids of the customer's open rows that do not carry the key field.
    pub unknown: Vec<i64>,
    /// Rows on the page.
    pub rows: usize,
    /// `record_count`, when Halo gave one.
    pub record_count: Option<u64>,
}

/// Whether a ticket (a list row or the single ticket) is the customer's
/// open ticket with the key: `Some(true)` yes, `Some(false)` no, `None`
/// when it does not carry the key field (only its detail can tell).
fn verdict(t: &Value, client_id: i64, key: &str) -> Option<bool> {
    let client_ok = t.get("client_id").and_then(parse_int).is_none_or(|c| c == client_id);
    let open = t.get("hasbeenclosed").and_then(Value::as_bool) != Some(true);
    if !client_ok || !open {
        return Some(false);
    }
    t.get("third_party_id_string").map(|v| v.as_str().map(str::trim) == Some(key))
}

/// Reads one page of `GET /Tickets` (`{record_count, tickets: [...]}`).
pub fn parse_find_page(endpoint: &str, body: &[u8], client_id: i64, key: &str) -> Result<FindPage, Error> {
    let v = crate::answer::parse_value(endpoint, body)?;
    let Some(rows) = v.get("tickets").and_then(Value::as_array) else {
        return Err(Error::protocol(endpoint, msg::tickets_not_a_list()));
    };
    let mut page = FindPage { rows: rows.len(), record_count: v.get("record_count").and_then(crate::field::parse_count), ..FindPage::default() };
    for row in rows {
        let Some(id) = row.get("id").and_then(parse_int).filter(|id| *id > 0) else { continue };
        match verdict(row, client_id, key) {
            Some(true) => page.matches.push(id),
            Some(false) => {}
            None => page.unknown.push(id),
        }
    }
    Ok(page)
}

/// `GET /Tickets/{id}`: whether that ticket is the customer's open one with
/// the key (a deleted ticket, answered without `id`, is not).
pub fn parse_detail(endpoint: &str, body: &[u8], client_id: i64, key: &str) -> Result<bool, Error> {
    let v = crate::answer::parse_value(endpoint, body)?;
    if !v.is_object() || v.get("id").and_then(parse_int).is_none_or(|id| id <= 0) {
        return Ok(false);
    }
    Ok(verdict(&v, client_id, key) == Some(true))
}

/// `POST /Actions`'s body: an array of one note.
pub fn action_body(ticket_id: &str, text: &str, html: Option<&str>, private: bool, outcome_id: Option<&str>) -> Result<Vec<u8>, Error> {
    let ticket = halo_id("ticket_id", "ticket id", ticket_id)?;
    let outcome = match outcome_id {
        Some(raw) => halo_id("outcome_id", "outcome id", raw)?,
        None => DEFAULT_OUTCOME,
    };
    let mut action = serde_json::Map::new();
    action.insert("ticket_id".into(), json!(ticket));
    action.insert("outcome_id".into(), json!(outcome));
    action.insert("hiddenfromuser".into(), json!(private));
    match html {
        Some(h) => action.insert("note_html".into(), json!(h)),
        None => action.insert("note".into(), json!(text)),
    };
    serde_json::to_vec(&Value::Array(vec![Value::Object(action)]))
        .map_err(|_| Error::Internal(msg::request_not_built("note JSON")))
}

/// The created note's id from Halo's answer (the action, or an array of one).
pub fn parse_action_created(endpoint: &str, body: &[u8]) -> Result<String, Error> {
    let v: Value = crate::answer::parse_value(endpoint, body)?;
    let action = match &v {
        Value::Array(a) => a.first(),
        other => Some(other),
    };
    action
        .and_then(|a| a.get("id"))
        .and_then(parse_int)
        .filter(|id| *id > 0)
        .map(|id| id.to_string())
        .ok_or_else(|| Error::protocol(endpoint, msg::note_no_id()))
}

/// The kinds of ticket options Halo lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HaloOption {
    TicketType,
    Priority,
    Status,
    Outcome,
}

impl HaloOption {
    /// The Halo list of a contract option kind; Halo lists no queues.
    pub fn of(kind: OptionKind) -> Result<HaloOption, Error> {
        match kind {
            OptionKind::TicketType => Ok(HaloOption::TicketType),
            OptionKind::Priority => Ok(HaloOption::Priority),
            OptionKind::Status => Ok(HaloOption::Status),
            OptionKind::Outcome => Ok(HaloOption::Outcome),
            OptionKind::Queue => Err(Error::NotSupported(msg::no_queue_list())),
        }
    }

    /// The request: endpoint and query.
    pub fn request(self) -> (&'static str, &'static str) {
        match self {
            HaloOption::TicketType => ("/TicketType", "?showall=true"),
            HaloOption::Priority => ("/Priority", ""),
            // Closed statuses are left out: a ticket opened with one would
            // never be found open again, so every run would open another.
            HaloOption::Status => ("/Status", "?excludeclosed=true"),
            HaloOption::Outcome => ("/Outcome", ""),
        }
    }
}

/// One option as the contract lists it: (id, name, is-default).
pub type HaloOptionRow = (String, String, bool);

/// Reads a list answer, a plain array or an object holding one array (at
/// most [`MAX_TICKET_OPTIONS`] options: a longer list is refused with a
/// sentence, never cut short silently).
pub fn parse_options(kind: HaloOption, endpoint: &str, body: &[u8]) -> Result<Vec<HaloOptionRow>, Error> {
    let v = crate::answer::parse_value(endpoint, body)?;
    let rows = match &v {
        Value::Array(a) => a,
        Value::Object(m) => match m.values().find_map(Value::as_array) {
            Some(a) => a,
            None => return Err(Error::protocol(endpoint, msg::options_not_a_list())),
        },
        _ => return Err(Error::protocol(endpoint, msg::options_not_a_list())),
    };
    let text = |r: &Value, k: &str| r.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(|s| msg::clip(s, 200));
    let hidden = |r: &Value, k: &str| r.get(k).and_then(Value::as_bool) == Some(true);
    let mut out: Vec<HaloOptionRow> = Vec::new();
    for r in rows {
        let (id, name) = match kind {
            HaloOption::Priority if !hidden(r, "ishidden") => (r.get("priorityid").and_then(parse_int), text(r, "name")),
            HaloOption::Outcome if !hidden(r, "hidden") => {
                (r.get("id").and_then(parse_int), text(r, "buttonname").or_else(|| text(r, "outcome")))
            }
            HaloOption::TicketType | HaloOption::Status => (r.get("id").and_then(parse_int), text(r, "name")),
            _ => continue,
        };
        let (Some(id), Some(name)) = (id.filter(|n| *n > 0), name) else { continue };
        let id = id.to_string();
        if out.iter().any(|o| o.0 == id) {
            continue;
        }
        let is_default = kind == HaloOption::Outcome && id == DEFAULT_OUTCOME.to_string();
        if out.len() >= MAX_TICKET_OPTIONS {
            return Err(Error::protocol(endpoint, msg::too_many_options(MAX_TICKET_OPTIONS)));
        }
        out.push((id, name, is_default));
    }
    Ok(out)
}

// ----- the flows -------------------------------------------------------------

/// Opens a ticket; its id.
pub fn create(api: &mut Api, d: &TicketDraft) -> Result<String, Error> {
    let body = ticket_body(d)?;
    let answer = api.post(TICKETS, body, PERM_TICKETS)?;
    parse_created(&api.cfg.endpoint(TICKETS), &answer)
}

/// The customer's open ticket with the key, if any (its id): see the
/// module's doc.
pub fn find_open(api: &mut Api, customer_id: &str, key: &str) -> Result<Option<String>, Error> {
    let client_id = halo_id("customer_id", "customer id", customer_id)?;
    let key = check_key(key)?;
    let endpoint = api.cfg.endpoint(TICKETS);
    let mut matches = Vec::new();
    let mut unknown = Vec::new();
    let mut seen = 0u64;
    let mut page_no = 1u32;
    loop {
        let body = api.get(TICKETS, &find_query(client_id, key, page_no), PERM_READ_TICKETS)?;
        let page = parse_find_page(&endpoint, &body, client_id, key)?;
        matches.extend(page.matches);
        unknown.extend(page.unknown);
        seen = seen.saturating_add(page.rows as u64);
        let more = page.rows > 0 && page.record_count.is_some_and(|n| seen < n);
        if !more {
            break;
        }
        if page_no >= MAX_FIND_PAGES {
            return Err(Error::protocol(&endpoint, msg::too_many_open_tickets(seen, page.record_count.unwrap_or(seen))));
        }
        page_no += 1;
    }
    if let Some(newest) = matches.iter().max() {
        return Ok(Some(newest.to_string()));
    }
    unknown.sort_unstable_by(|a, b| b.cmp(a));
    unknown.dedup();
    if unknown.len() > MAX_FIND_DETAILS {
        return Err(Error::protocol(&endpoint, msg::tickets_without_key(unknown.len())));
    }
    for id in unknown {
        let rel = format!("{TICKETS}/{id}");
        let body = match api.get(&rel, "", PERM_READ_TICKETS) {
            Ok(b) => b,
            // Deleted in between.
            Err(Error::Upstream { status: 404, .. }) => continue,
            Err(e) => return Err(e),
        };
        if parse_detail(&api.cfg.endpoint(&rel), &body, client_id, key)? {
            return Ok(Some(id.to_string()));
        }
    }
    Ok(None)
}

/// Adds a note; its id.
pub fn add_note(
    api: &mut Api,
    ticket_id: &str,
    text: &str,
    html: Option<&str>,
    private: bool,
    outcome_id: Option<&str>,
) -> Result<String, Error> {
    let body = action_body(ticket_id, text, html, private, outcome_id)?;
    let outcome = outcome_id.map(str::trim).map(str::to_string).unwrap_or_else(|| DEFAULT_OUTCOME.to_string());
    let answer = api.post(ACTIONS, body, PERM_TICKETS).map_err(|e| match e {
        Error::Upstream { status, endpoint, message } if message.contains("do not have access to this Action") => {
            Error::Upstream { status, endpoint, message: msg::outcome_not_allowed(&outcome, &message) }
        }
        Error::Upstream { status: status @ (400 | 404), endpoint, message } if message.contains("ticket_id") => {
            Error::Upstream { status, message: msg::note_ticket_missing(ticket_id, &message), endpoint }
        }
        other => other,
    })?;
    parse_action_created(&api.cfg.endpoint(ACTIONS), &answer)
}

/// The options of one kind.
pub fn options(api: &mut Api, kind: HaloOption) -> Result<Vec<HaloOptionRow>, Error> {
    let (rel, query) = kind.request();
    let body = api.get(rel, query, PERM_READ_TICKETS)?;
    parse_options(kind, &api.cfg.endpoint(rel), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::types::{OptionChoice, TicketBody};

    fn ticket(customer: &str, tt: Option<&str>, prio: Option<&str>) -> NewTicket {
        let choice = |kind, id: Option<&str>| id.map(|id| OptionChoice { kind, id: id.into() });
        NewTicket {
            customer_id: customer.into(),
            summary: "Disk full".into(),
            details: TicketBody { text: "C: is full".into(), html: Some("<p>C: is full</p>".into()) },
            dedup_key: "disk-full".into(),
            options: [choice(OptionKind::TicketType, tt), choice(OptionKind::Priority, prio)].into_iter().flatten().collect(),
        }
    }

    #[test]
    fn html_from_text() {
        assert_eq!(text_to_html("a < b & c\r\nnext"), "a &lt; b &amp; c<br>next");
        let v: Value = serde_json::from_slice(&ticket_body(&draft(&ticket("95", None, None)).unwrap()).unwrap()).unwrap();
        assert_eq!(v[0]["details_html"], json!("<p>C: is full</p>"));
        assert_eq!(v[0]["details"], json!("C: is full"));
    }

    #[test]
    fn body() {
        let b = ticket_body(&draft(&ticket(" 95 ", Some("3"), None)).unwrap()).unwrap();
        let v: Value = serde_json::from_slice(&b).unwrap();
        let t = &v[0];
        assert_eq!(t["client_id"], json!(95));
        assert!(t["client_id"].is_i64());
        assert_eq!(t["tickettype_id"], json!(3));
        assert!(t.get("priority_id").is_none());
        assert_eq!(t["userlookup"]["id"], json!(-1));
        assert_eq!(t["usertype"], json!(1));
        assert_eq!(t["_novalidate"], json!(true));
        assert_eq!(t["summary"], json!("Disk full"));
        assert_eq!(t["third_party_id_string"], json!("disk-full"));
        for (c, tt, p, field) in [
            ("95.0", None, None, "customer_id"),
            ("x", None, None, "customer_id"),
            ("95", Some("a"), None, "tickettype_id"),
            ("95", None, Some("1.5"), "priority_id"),
        ] {
            match draft(&ticket(c, tt, p)).and_then(|d| ticket_body(&d)) {
                Err(Error::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{:?}", other.map(|_| ())),
            }
        }
        // The first choice of a kind wins; a queue or an outcome is refused.
        let mut t = ticket("95", Some("3"), None);
        t.options.push(OptionChoice { kind: OptionKind::TicketType, id: "9".into() });
        t.options.push(OptionChoice { kind: OptionKind::Status, id: "2".into() });
        let d = draft(&t).unwrap();
        assert_eq!((d.ticket_type, d.status), (Some("3"), Some("2")));
        for kind in [OptionKind::Queue, OptionKind::Outcome] {
            let mut t = ticket("95", None, None);
            t.options.push(OptionChoice { kind, id: "1".into() });
            assert!(matches!(draft(&t).map(|_| ()), Err(Error::InvalidConfig { field, .. }) if field == "options"));
        }
        assert!(matches!(HaloOption::of(OptionKind::Queue), Err(Error::NotSupported(_))));
        assert_eq!(HaloOption::of(OptionKind::Outcome).unwrap(), HaloOption::Outcome);
    }

    #[test]
    fn created() {
        assert_eq!(parse_created("/api/Tickets", br#"{"id": 1234, "summary": "x"}"#).unwrap(), "1234");
        assert_eq!(parse_created("/api/Tickets", br#"[{"id": 77}]"#).unwrap(), "77");
        assert!(matches!(parse_created("/api/Tickets", br#"{"summary": "x"}"#), Err(Error::Protocol { .. })));
        assert!(matches!(parse_created("/api/Tickets", br#"[]"#), Err(Error::Protocol { .. })));
        assert!(matches!(parse_created("/api/Tickets", b"nope"), Err(Error::Protocol { .. })));
    }

    // ----- contract 0.2.0 -----

    use crate::api::Api;
    use crate::auth::TokenCache;
    use crate::http::fake::Fake;

    const KEY: &str = "o365:mfa-disabled.v1";

    fn sample<'a>(customer: &'a str, html: Option<&'a str>) -> TicketDraft<'a> {
        TicketDraft {
            customer_id: customer,
            summary: "MFA disabled",
            text: "Two admins <without> MFA\nFix it & recheck",
            html,
            dedup_key: KEY,
            ticket_type: Some("21"),
            priority: None,
            status: Some("2"),
        }
    }

    fn sent_json(net: &Fake, i: usize) -> Value {
        serde_json::from_str(net.sent[i].3.as_deref().expect("a body")).expect("JSON body")
    }

    #[test]
    fn ticket_body_carries_key_text_html_and_integers() {
        let v: Value = serde_json::from_slice(&ticket_body(&sample(" 95 ", None)).unwrap()).unwrap();
        let arr = v.as_array().expect("an array");
        assert_eq!(arr.len(), 1);
        let t = &arr[0];
        assert!(t["client_id"].is_i64() && t["client_id"] == json!(95));
        assert_eq!(t["third_party_id_string"], json!(KEY));
        assert_eq!(t["details"], json!("Two admins <without> MFA\nFix it & recheck"));
        assert_eq!(t["details_html"], json!("Two admins &lt;without&gt; MFA<br>Fix it &amp; recheck"));
        assert_eq!((t["tickettype_id"].clone(), t["status_id"].clone()), (json!(21), json!(2)));
        assert!(t.get("priority_id").is_none());
        assert_eq!(t["userlookup"], json!({"id": -1}));
        assert_eq!((t["usertype"].clone(), t["_novalidate"].clone()), (json!(1), json!(true)));
        let v: Value = serde_json::from_slice(&ticket_body(&sample("95", Some("<p>x</p>"))).unwrap()).unwrap();
        assert_eq!(v[0]["details_html"], json!("<p>x</p>"));

        for (customer, key, field) in [
            ("95.0", KEY, "customer_id"),
            ("-3", KEY, "customer_id"),
            ("0", KEY, "customer_id"),
            ("2147483648", KEY, "customer_id"),
            ("95", "has space", "dedup_key"),
            ("95", "ü", "dedup_key"),
        ] {
            let d = TicketDraft { customer_id: customer, dedup_key: key, ..sample("1", None) };
            match ticket_body(&d) {
                Err(Error::InvalidConfig { field: f, .. }) => assert_eq!(f, field, "{customer} {key}"),
                other => panic!("{customer} {key}: {:?}", other.map(|_| ())),
            }
        }
        let d = TicketDraft { dedup_key: "", ..sample("1", None) };
        let v: Value = serde_json::from_slice(&ticket_body(&d).unwrap()).unwrap();
        assert!(v[0].get("third_party_id_string").is_none(), "an empty key is not stored");
        assert!(check_key("").is_err(), "nor looked for");
        let long = "k".repeat(101);
        assert!(check_key(&long).is_err());
        assert!(check_key(&long[..100]).is_ok());
        let d = TicketDraft { priority: Some("1.5"), ..sample("1", None) };
        assert!(matches!(ticket_body(&d), Err(Error::InvalidConfig { field, .. }) if field == "priority_id"));
    }

    #[test]
    fn links_and_queries() {
        assert_eq!(ticket_url("https://acme.halopsa.com/api", "77"), "https://acme.halopsa.com/tickets?id=77");
        assert_eq!(ticket_url("https://h.example.com:8443/halo/API/", "7"), "https://h.example.com:8443/halo/tickets?id=7");
        assert_eq!(ticket_url("https://h.example.com", "7"), "https://h.example.com/tickets?id=7");
        assert_eq!(
            find_query(12, "a:b", 2),
            "?client_id=12&open_only=true&third_party_id_string=a%3Ab&pageinate=true&page_size=100&page_no=2"
        );
    }

    #[test]
    fn find_page_verifies_client_key_and_closed() {
        let body = format!(
            r#"{{"record_count":6,"tickets":[
                {{"id":10,"client_id":12,"third_party_id_string":"{KEY}","hasbeenclosed":false}},
                {{"id":11,"client_id":13,"third_party_id_string":"{KEY}"}},
                {{"id":12,"client_id":12,"third_party_id_string":"other"}},
                {{"id":13,"client_id":12,"third_party_id_string":"{KEY}","hasbeenclosed":true}},
                {{"id":14,"client_id":12}},
                {{"id":"15","client_id":"12","third_party_id_string":" {KEY} "}},
                {{"client_id":12}}, null, 7
            ]}}"#
        );
        let p = parse_find_page("/api/Tickets", body.as_bytes(), 12, KEY).unwrap();
        assert_eq!(p.matches, vec![10, 15]);
        assert_eq!(p.unknown, vec![14]);
        assert_eq!((p.rows, p.record_count), (9, Some(6)));
        assert!(matches!(parse_find_page("/api/Tickets", b"[]", 12, KEY), Err(Error::Protocol { .. })));
        assert!(matches!(parse_find_page("/api/Tickets", b"<html>", 12, KEY), Err(Error::Protocol { .. })));

        let detail = |b: &str| parse_detail("/api/Tickets/5", b.as_bytes(), 12, KEY).unwrap();
        assert!(detail(&format!(r#"{{"id":5,"client_id":12,"third_party_id_string":"{KEY}","hasbeenclosed":false}}"#)));
        assert!(!detail(&format!(r#"{{"id":5,"client_id":12,"third_party_id_string":"{KEY}","hasbeenclosed":true}}"#)));
        assert!(!detail(r#"{"summary":null,"client_id":0}"#), "deleted: no id");
        assert!(!detail(r#"{"id":5,"client_id":12}"#), "no key at all");
        assert!(!detail("[]"));
    }

    fn api_run<T>(net: &mut Fake, f: impl FnOnce(&mut Api) -> T) -> T {
        let cfg = crate::config::test_config(&[]);
        let mut tokens = TokenCache::default();
        let mut api = Api { cfg: &cfg, tokens: &mut tokens, net };
        f(&mut api)
    }

    #[test]
    fn find_open_with_a_filtering_halo_is_one_request() {
        let mut net = Fake::new();
        net.token().json(
            200,
            &format!(r#"{{"record_count":2,"tickets":[{{"id":40,"client_id":12,"third_party_id_string":"{KEY}"}},{{"id":41,"client_id":12,"third_party_id_string":"{KEY}"}}]}}"#),
        );
        assert_eq!(api_run(&mut net, |a| find_open(a, "12", KEY)).unwrap().as_deref(), Some("41"));
        assert_eq!(net.sent.len(), 2);
        assert_eq!(
            net.urls()[1],
            format!("https://acme.halopsa.com/api/Tickets?client_id=12&open_only=true&third_party_id_string={}&pageinate=true&page_size=100&page_no=1", "o365%3Amfa-disabled.v1")
        );
    }

    #[test]
    fn find_open_with_a_halo_that_ignores_the_key_reads_every_page() {
        let row = |id: u32, key: &str| format!(r#"{{"id":{id},"client_id":12,"third_party_id_string":"{key}"}}"#);
        let page1: Vec<String> = (1..=100).map(|i| row(i, "other")).collect();
        let page2 = [row(101, KEY), row(102, "x")];
        let mut net = Fake::new();
        net.token()
            .json(200, &format!(r#"{{"record_count":102,"tickets":[{}]}}"#, page1.join(",")))
            .json(200, &format!(r#"{{"record_count":102,"tickets":[{}]}}"#, page2.join(",")));
        assert_eq!(api_run(&mut net, |a| find_open(a, "12", KEY)).unwrap().as_deref(), Some("101"));
        assert!(net.urls()[2].ends_with("&page_no=2"));
        // None open: none.
        let mut net = Fake::new();
        net.token().json(200, r#"{"record_count":0,"tickets":[]}"#);
        assert_eq!(api_run(&mut net, |a| find_open(a, "12", KEY)).unwrap(), None);
        // A Halo whose count never ends is cut off with a sentence, not looped on.
        let mut net = Fake::new();
        net.token();
        for _ in 0..MAX_FIND_PAGES {
            net.json(200, &format!(r#"{{"record_count":999999,"tickets":[{}]}}"#, row(1, "other")));
        }
        match api_run(&mut net, |a| find_open(a, "12", KEY)) {
            Err(Error::Protocol { message, .. }) => assert!(message.contains("ignore the third_party_id_string filter"), "{message}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(net.sent.len(), 1 + MAX_FIND_PAGES as usize);
    }

    #[test]
    fn find_open_confirms_rows_without_the_key_field() {
        let mut net = Fake::new();
        net.token()
            .json(200, r#"{"record_count":3,"tickets":[{"id":7,"client_id":12},{"id":9,"client_id":12},{"id":8}]}"#)
            // Newest first: 9 is another finding's, 8 deleted, 7 the one.
            .json(200, r#"{"id":9,"client_id":12,"third_party_id_string":"other"}"#)
            .json(200, r#"{"client_id":0}"#)
            .json(200, &format!(r#"{{"id":7,"client_id":12,"third_party_id_string":"{KEY}","hasbeenclosed":false}}"#));
        assert_eq!(api_run(&mut net, |a| find_open(a, "12", KEY)).unwrap().as_deref(), Some("7"));
        let urls = net.urls();
        assert!(urls[2].ends_with("/api/Tickets/9") && urls[3].ends_with("/api/Tickets/8") && urls[4].ends_with("/api/Tickets/7"));
        // Too many to confirm one by one: said, not guessed.
        let rows: Vec<String> = (1..=30).map(|i| format!(r#"{{"id":{i},"client_id":12}}"#)).collect();
        let mut net = Fake::new();
        net.token().json(200, &format!(r#"{{"record_count":30,"tickets":[{}]}}"#, rows.join(",")));
        assert!(matches!(api_run(&mut net, |a| find_open(a, "12", KEY)), Err(Error::Protocol { .. })));
        // 403 names read:tickets.
        let mut net = Fake::new();
        net.token().json(403, "");
        assert!(matches!(api_run(&mut net, |a| find_open(a, "12", KEY)), Err(Error::Forbidden { permission, .. }) if permission == "read:tickets"));
    }

    #[test]
    fn create_posts_one_ticket_and_reads_its_id() {
        let mut net = Fake::new();
        net.token().json(201, r#"{"id":4711,"summary":"MFA disabled"}"#);
        assert_eq!(api_run(&mut net, |a| create(a, &sample("12", None))).unwrap(), "4711");
        assert!(net.urls()[1].ends_with("/api/Tickets"));
        assert_eq!(sent_json(&net, 1)[0]["client_id"], json!(12));
        let mut net = Fake::new();
        net.token().json(403, "");
        assert!(matches!(api_run(&mut net, |a| create(a, &sample("12", None))), Err(Error::Forbidden { permission, .. }) if permission == "edit:tickets"));
    }

    #[test]
    fn notes_go_to_actions_with_an_outcome() {
        let body = |html, private, outcome| -> Value {
            serde_json::from_slice(&action_body("4711", "seen again", html, private, outcome).unwrap()).unwrap()
        };
        let v = body(None, true, None);
        assert_eq!(v, json!([{"ticket_id": 4711, "outcome_id": 7, "hiddenfromuser": true, "note": "seen again"}]));
        let v = body(Some("<p>seen again</p>"), false, Some("15"));
        assert_eq!(v, json!([{"ticket_id": 4711, "outcome_id": 15, "hiddenfromuser": false, "note_html": "<p>seen again</p>"}]));
        assert!(matches!(action_body("x", "t", None, true, None), Err(Error::InvalidConfig { field, .. }) if field == "ticket_id"));
        assert!(matches!(action_body("1", "t", None, true, Some("7.5")), Err(Error::InvalidConfig { field, .. }) if field == "outcome_id"));

        let mut net = Fake::new();
        net.token().json(201, r#"{"id":5001,"ticket_id":4711}"#);
        assert_eq!(api_run(&mut net, |a| add_note(a, "4711", "t", None, true, None)).unwrap(), "5001");
        assert!(net.urls()[1].ends_with("/api/Actions"));
        let mut net = Fake::new();
        net.token().json(400, r#"{"ClassName":"HaloException","Message":"You do not have access to this Action at the moment"}"#);
        match api_run(&mut net, |a| add_note(a, "4711", "t", None, false, Some("15"))) {
            Err(Error::Upstream { status: 400, message, .. }) => {
                assert!(message.starts_with("You do not have access to this Action at the moment"), "{message}");
                assert!(message.contains("outcome 15"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let mut net = Fake::new();
        net.token().json(400, r#"{"[0].ticket_id":"Ticket not found"}"#);
        match api_run(&mut net, |a| add_note(a, "4711", "t", None, false, None)) {
            Err(Error::Upstream { message, .. }) => assert!(message.contains("Ticket 4711 no longer exists"), "{message}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse_action_created("/api/Actions", br#"[{"id":9}]"#).as_deref(), Ok("9")));
        assert!(matches!(parse_action_created("/api/Actions", br#"{"ticket_id":9}"#), Err(Error::Protocol { .. })));
    }

    #[test]
    fn options_by_kind() {
        let types = br#"[{"id":1,"name":"Incident"},{"id":21,"name":" Alert "},{"id":0,"name":"zero"},{"name":"no id"},{"id":3}]"#;
        let o = parse_options(HaloOption::TicketType, "/api/TicketType", types).unwrap();
        assert_eq!(o, vec![("1".into(), "Incident".into(), false), ("21".into(), "Alert".into(), false)]);
        let prios = br#"[{"id":"aa-1","priorityid":1,"slaid":1,"name":"Critical","ishidden":false},
            {"id":"aa-5","priorityid":5,"slaid":1,"name":"Scheduled","ishidden":true},
            {"id":"bb-1","priorityid":1,"slaid":2,"name":"Critical"},{"id":"bb-2","priorityid":2,"slaid":2,"name":"High"}]"#;
        let o = parse_options(HaloOption::Priority, "/api/Priority", prios).unwrap();
        assert_eq!(o.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(), vec!["1", "2"], "priorityid, once, hidden left out");
        let outcomes = br#"[{"id":7,"outcome":"Private Note","buttonname":"Internal Note"},{"id":15,"outcome":"Public Note"},{"id":99,"outcome":"System","hidden":true}]"#;
        let o = parse_options(HaloOption::Outcome, "/api/Outcome", outcomes).unwrap();
        assert_eq!(o, vec![("7".into(), "Internal Note".into(), true), ("15".into(), "Public Note".into(), false)]);
        let wrapped = br#"{"record_count":1,"statuses":[{"id":1,"name":"New"}]}"#;
        assert_eq!(parse_options(HaloOption::Status, "/api/Status", wrapped).unwrap().len(), 1);
        assert!(matches!(parse_options(HaloOption::Status, "/api/Status", b"{}"), Err(Error::Protocol { .. })));
        assert!(matches!(parse_options(HaloOption::Status, "/api/Status", b"3"), Err(Error::Protocol { .. })));
        let many: Vec<String> = (1..=(MAX_TICKET_OPTIONS + 5)).map(|i| format!(r#"{{"id":{i},"name":"s{i}"}}"#)).collect();
        match parse_options(HaloOption::Status, "/api/Status", format!("[{}]", many.join(",")).as_bytes()) {
            Err(Error::Protocol { message, .. }) => assert!(message.contains("more than 1,000"), "{message}"),
            other => panic!("a list longer than the cap is refused, not cut: {other:?}"),
        }
        let exactly: Vec<String> = (1..=MAX_TICKET_OPTIONS).map(|i| format!(r#"{{"id":{i},"name":"s{i}"}}"#)).collect();
        let o = parse_options(HaloOption::Status, "/api/Status", format!("[{}]", exactly.join(",")).as_bytes()).unwrap();
        assert_eq!(o.len(), MAX_TICKET_OPTIONS);
        assert_eq!(HaloOption::Status.request(), ("/Status", "?excludeclosed=true"), "closed statuses are never offered");
        assert_eq!(HaloOption::TicketType.request(), ("/TicketType", "?showall=true"));
        let mut net = Fake::new();
        net.token().json(403, "");
        assert!(matches!(api_run(&mut net, |a| options(a, HaloOption::Priority)), Err(Error::Forbidden { permission, .. }) if permission == "read:tickets"));
    }

    #[test]
    fn hostile_ticket_answers_never_panic() {
        let bodies = [
            "", "null", "[]", "{}", "42", "\"x\"", "<html>", r#"{"tickets":null,"record_count":1}"#,
            r#"{"tickets":[null,{"id":{}},{"id":1e40},{"id":-1,"client_id":[]}],"record_count":-5}"#,
            r#"{"tickets":[{"id":1,"third_party_id_string":7,"hasbeenclosed":"no"}],"record_count":"x"}"#,
            r#"[{"id":9223372036854775807,"name":[],"priorityid":{},"buttonname":null}]"#, r#"{"id":1"#,
        ];
        for b in bodies {
            let _ = parse_find_page("/api/Tickets", b.as_bytes(), 1, KEY);
            let _ = parse_detail("/api/Tickets/1", b.as_bytes(), 1, KEY);
            let _ = parse_action_created("/api/Actions", b.as_bytes());
            for k in [HaloOption::TicketType, HaloOption::Priority, HaloOption::Status, HaloOption::Outcome] {
                let _ = parse_options(k, "/api/x", b.as_bytes());
            }
        }
    }

}
