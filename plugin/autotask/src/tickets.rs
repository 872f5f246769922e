//! Tickets on Autotask (notes B5): create, find the open one for a customer
//! and deduplication key, add a note, and the option sets the platform offers.
//!
//! - `POST {zone}/V1.0/Tickets` takes one JSON object and answers only
//!   `{"itemId": N}`; the ticket number (`T20261130.0042`) is read with
//!   `GET Tickets/{id}`. Autotask requires `companyID, title, status, priority`
//!   and a queue (`queueID`) \[likely\]: options the platform did not choose
//!   come from the form's default queue, else the picklists' defaults
//!   (`GET Tickets/entityInformation/fields`, read once per session); the
//!   `source` picklist's default is sent too, as A5's real body does.
//!   Requests: a ticket costs 2 (3 with the session's first picklist read),
//!   finding one 1, a note 1 (2 with the first note picklist read).
//! - Bodies are plain text: Autotask stores `description` as plain text (the
//!   A5 fork strips HTML before posting), so a ticket's or note's HTML form is
//!   not sent. A ticket description is cut at 8,000 characters, a note's at
//!   32,000 (the cut is marked).
//! - The deduplication key lives in the ticket's `externalID` (a string field
//!   of the Ticket entity meant for another system's id, \[confirmed A1\];
//!   matched exactly with `eq`, invisible in the title). Whether Autotask lets
//!   a query filter on it is \[unsure\], so the form's `ticket_key_field` can
//!   choose `title` instead: the key is then appended to the title as
//!   ` [key]` and found with `contains` on `title` (the pattern real
//!   integrations use, B5), each match checked for the exact tag. The
//!   connection test's tickets step tries the chosen field.
//! - Open means `status noteq 5` (5 = Complete, \[likely\], B5). Several open
//!   tickets with one key: the newest (highest id).
//! - Notes: `POST Tickets/{id}/Notes` with `title` (the first line, at most
//!   250 characters), `description`, `noteType` (the chosen outcome, else the
//!   picklist's default) and `publish`: "Internal Only" for a private note,
//!   "All Autotask Users" for a public one, found by label in
//!   `TicketNotes/entityInformation/fields` (B5 calls the values \[unsure\];
//!   without such labels 2 and 1).
//! - Permission answers (HTTP 403, or 500 "does not have the adequate
//!   permissions") name the security-level permission the call needs.

use std::collections::HashSet;

use psa_connector_sdk::cursor;
use psa_connector_sdk::http::Transport;
use psa_connector_sdk::{values, Error, MAX_TICKET_OPTIONS};
use serde_json::{json, Value};

use crate::api::{self, Api};
use crate::messages as msg;

pub const TICKETS: &str = "/V1.0/Tickets";
pub const TICKET_QUERY: &str = "/V1.0/Tickets/query";
pub const TICKET_FIELDS: &str = "/V1.0/Tickets/entityInformation/fields";
pub const NOTE_FIELDS: &str = "/V1.0/TicketNotes/entityInformation/fields";
const TICKET_ONE: &str = "/V1.0/Tickets/{id}";
const NOTES: &str = "/V1.0/Tickets/{id}/Notes";

/// Autotask's "Complete" ticket status (\[likely\], B5).
pub const STATUS_COMPLETE: i64 = 5;
/// Most characters of a ticket's title, description, a note's title and description.
pub const TITLE_MAX: usize = 255;
pub const DESCRIPTION_MAX: usize = 8000;
pub const NOTE_TITLE_MAX: usize = 250;
pub const NOTE_MAX: usize = 32000;
/// The longest deduplication key the contract allows.
pub const KEY_MAX: usize = values::DEDUP_KEY_MAX;
/// Most pages of `Tickets/query` one find-open reads (500 tickets a page):
/// more open tickets with one customer and key than that is an error, never
/// a partial answer.
pub const FIND_MAX_PAGES: usize = 20;
const TICKET_NEXT: &str = "/V1.0/Tickets/query (next page)";

/// The security-level permissions (Admin > Resources > Security Levels) each call needs.
pub const PERM_READ: &str = "Service Desk: Tickets (view), in the API user's security level";
pub const PERM_ADD: &str = "Service Desk: Tickets (add), in the API user's security level";
pub const PERM_NOTES: &str = "Service Desk: Ticket Notes (add), in the API user's security level";

/// A kind of ticket option (the contract's `option-kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    TicketType,
    Priority,
    Queue,
    Status,
    Outcome,
}

impl Kind {
    pub const ALL: [Kind; 5] = [Kind::TicketType, Kind::Priority, Kind::Queue, Kind::Status, Kind::Outcome];

    /// The Autotask field the kind is, and whether it belongs to `TicketNotes` (else `Tickets`).
    pub fn field(self) -> (&'static str, bool) {
        match self {
            Kind::TicketType => ("ticketType", false),
            Kind::Priority => ("priority", false),
            Kind::Queue => ("queueID", false),
            Kind::Status => ("status", false),
            Kind::Outcome => ("noteType", true),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::TicketType => "ticket type",
            Kind::Priority => "priority",
            Kind::Queue => "queue",
            Kind::Status => "status",
            Kind::Outcome => "note type",
        }
    }
}

/// One option (the contract's `ticket-option`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opt {
    pub id: String,
    pub name: String,
    pub is_default: bool,
}

/// Where the deduplication key is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyField {
    /// The ticket's `externalID` (the default).
    ExternalId,
    /// A ` [key]` tag at the end of the title.
    Title,
}

/// A created or found ticket: id and number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub id: String,
    pub number: Option<String>,
}

/// A ticket to open, in the connector's terms.
#[derive(Clone, Debug)]
pub struct NewTicket<'a> {
    pub customer_id: &'a str,
    pub summary: &'a str,
    pub text: &'a str,
    pub dedup_key: &'a str,
    pub options: Vec<(Kind, String)>,
}

/// The contract's `not-found`.
fn not_found(message: String) -> Error {
    Error::not_found(message)
}

/// The picklist of `field` in an `entityInformation/fields` answer: active
/// values only, all of them (the list is never cut; [`Picklists::options`]
/// refuses one longer than the platform takes).
pub fn picklist(v: &Value, field: &str, endpoint: &str) -> Result<Vec<Opt>, Error> {
    let fields = v.get("fields").and_then(Value::as_array).ok_or_else(|| Error::protocol(endpoint, msg::bad_shape(endpoint, "it has no fields list")))?;
    let Some(f) = fields.iter().find(|f| f.get("name").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(field))) else {
        return Err(Error::protocol(endpoint, msg::bad_shape(endpoint, &format!("it does not describe the field {field}"))));
    };
    let values = f.get("picklistValues").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    let mut out = Vec::new();
    for p in values {
        if p.get("isActive").and_then(Value::as_bool) == Some(false) {
            continue;
        }
        let id = match p.get("value") {
            Some(Value::String(s)) => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            _ => continue,
        };
        if id.is_empty() || id.len() > 20 {
            continue;
        }
        let name = p.get("label").and_then(Value::as_str).map_or_else(|| id.clone(), |l| msg::clip(l.trim(), 200));
        let is_default = p.get("isDefaultValue").and_then(Value::as_bool).unwrap_or(false);
        out.push(Opt { id, name, is_default });
    }
    Ok(out)
}

/// The options of every kind, read once per session (one request per entity).
#[derive(Default)]
pub struct Picklists {
    ticket: Option<Value>,
    note: Option<Value>,
}

impl Picklists {
    /// The options of `kind` the platform is offered: at most
    /// [`MAX_TICKET_OPTIONS`] (more is a protocol error naming the field,
    /// never a cut list); statuses without Complete (a ticket opened
    /// Complete would never be found open, so a new one would open on every
    /// run).
    pub fn options(&mut self, api: &mut Api, t: &mut dyn Transport, kind: Kind) -> Result<Vec<Opt>, Error> {
        let list = self.values(api, t, kind)?;
        if list.len() > MAX_TICKET_OPTIONS {
            let (field, note) = kind.field();
            let endpoint = if note { NOTE_FIELDS } else { TICKET_FIELDS };
            return Err(Error::protocol(endpoint, msg::too_many_options(kind.label(), field, list.len(), MAX_TICKET_OPTIONS)));
        }
        Ok(list)
    }

    /// The active values of `kind` a new ticket may take (Complete left out of the statuses), uncapped.
    pub fn values(&mut self, api: &mut Api, t: &mut dyn Transport, kind: Kind) -> Result<Vec<Opt>, Error> {
        let (field, note) = kind.field();
        let mut list = self.field(api, t, field, note)?;
        if kind == Kind::Status {
            list.retain(|o| !is_complete(&o.id));
        }
        Ok(list)
    }

    /// The active values of the picklist `field` of `Tickets` (or `TicketNotes` when `note`).
    pub fn field(&mut self, api: &mut Api, t: &mut dyn Transport, field: &str, note: bool) -> Result<Vec<Opt>, Error> {
        let (slot, endpoint) = if note { (&mut self.note, NOTE_FIELDS) } else { (&mut self.ticket, TICKET_FIELDS) };
        if slot.is_none() {
            let (_, v) = api.call(t, &|base: &str| api::get(format!("{base}{endpoint}"), endpoint)).map_err(|e| permission(e, PERM_READ))?;
            *slot = Some(v);
        }
        picklist(slot.as_ref().expect("just set"), field, endpoint)
    }
}

/// A forbidden answer re-worded to name `perm` (the call's security-level permission).
pub fn permission(e: Error, perm: &str) -> Error {
    match e {
        Error::Forbidden { message, .. } => Error::forbidden(perm, msg::ticket_forbidden(perm, &message)),
        other => other,
    }
}

/// Whether `key` is a deduplication key the contract allows (1..=100 of `[A-Za-z0-9._:-]`): the SDK's.
pub fn key_ok(key: &str) -> bool {
    values::dedup_key_ok(key)
}

/// Whether a status id is Complete.
fn is_complete(id: &str) -> bool {
    id.trim().parse::<i64>().ok() == Some(STATUS_COMPLETE)
}

/// A customer id as Autotask's integer `companyID` (strict digits: the SDK's [`values::positive_id`]).
pub fn company_id(id: &str) -> Result<i64, Error> {
    values::positive_id(id).ok_or_else(|| not_found(msg::bad_company_id(id)))
}

/// At most `max` characters of plain text, control characters other than line breaks and
/// tabs dropped; a cut is marked.
pub fn plain(text: &str, max: usize) -> String {
    let clean: String = text.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\t')).collect();
    if clean.chars().count() <= max {
        return clean;
    }
    const MARK: &str = "\n[… cut: the text was longer than Autotask accepts]";
    let keep = max.saturating_sub(MARK.chars().count());
    let mut out: String = clean.chars().take(keep).collect();
    out.push_str(MARK);
    out
}

/// One line of at most `max` characters (line breaks become spaces).
pub fn one_line(text: &str, max: usize) -> String {
    let line: String = text.trim().chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if line.chars().count() <= max {
        return line;
    }
    let mut out: String = line.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The title: the summary on one line, with ` [key]` at its end when the key lives there.
pub fn title(summary: &str, key: &str, field: KeyField) -> String {
    match field {
        KeyField::ExternalId => one_line(summary, TITLE_MAX),
        KeyField::Title => {
            let tag = format!(" [{key}]");
            format!("{}{tag}", one_line(summary, TITLE_MAX - tag.chars().count()))
        }
    }
}

/// The chosen option of `kind`, or the default: the form's queue for a queue, else the
/// picklist's default value. Checked against the picklist.
fn pick(kind: Kind, chosen: &[(Kind, String)], fallback: Option<&str>, list: &[Opt]) -> Result<Option<i64>, Error> {
    let wanted = chosen.iter().rev().find(|(k, _)| *k == kind).map(|(_, id)| id.trim().to_string());
    if kind == Kind::Status && wanted.as_deref().is_some_and(is_complete) {
        return Err(Error::internal(msg::complete_status_refused(STATUS_COMPLETE)));
    }
    let from_form = wanted.is_none() && fallback.is_some();
    let id = match (wanted, fallback) {
        (Some(id), _) => Some(id),
        (None, Some(f)) => Some(f.to_string()),
        (None, None) => list.iter().find(|o| o.is_default).map(|o| o.id.clone()),
    };
    let Some(id) = id else { return Ok(None) };
    match list.iter().find(|o| o.id == id) {
        Some(o) => o.id.parse::<i64>().map(Some).map_err(|_| Error::protocol(TICKET_FIELDS, msg::bad_shape(TICKET_FIELDS, "a picklist value is not a number"))),
        None if from_form => Err(Error::config("ticket_queue_id", msg::unknown_option(kind.label(), &id, list))),
        None => Err(Error::internal(msg::unknown_option(kind.label(), &id, list))),
    }
}

/// The `POST Tickets` body.
/// `source` is the default of Autotask's ticket source picklist, when it has
/// one (not an option kind of the contract; A5's real body sends one).
pub fn ticket_body(
    t: &NewTicket,
    key_field: KeyField,
    queue: Option<&str>,
    source: Option<i64>,
    lists: &dyn Fn(Kind) -> Result<Vec<Opt>, Error>,
) -> Result<Value, Error> {
    if !key_ok(t.dedup_key) {
        return Err(Error::internal(msg::bad_key(t.dedup_key)));
    }
    let company = company_id(t.customer_id)?;
    let mut body = json!({
        "id": 0,
        "companyID": company,
        "title": title(t.summary, t.dedup_key, key_field),
        "description": plain(t.text, DESCRIPTION_MAX),
    });
    for kind in [Kind::Status, Kind::Priority, Kind::Queue, Kind::TicketType] {
        let fallback = if kind == Kind::Queue { queue } else { None };
        let chosen = t.options.iter().any(|(k, _)| *k == kind);
        // Types and sources are optional in Autotask: read their picklist only when chosen.
        if kind == Kind::TicketType && !chosen {
            continue;
        }
        match pick(kind, &t.options, fallback, &lists(kind)?)? {
            Some(v) => body[kind.field().0] = json!(v),
            None if kind == Kind::Queue => return Err(Error::config("ticket_queue_id", msg::no_queue())),
            None => return Err(Error::protocol(TICKET_FIELDS, msg::no_default(kind.label()))),
        }
    }
    if let Some(src) = source {
        body["source"] = json!(src);
    }
    if key_field == KeyField::ExternalId {
        body["externalID"] = json!(t.dedup_key);
    }
    Ok(body)
}

/// The `Tickets/query` body that finds the open tickets of a company with a key.
pub fn find_body(company: i64, key: &str, key_field: KeyField) -> Value {
    let marker = match key_field {
        KeyField::ExternalId => json!({"op": "eq", "field": "externalID", "value": key}),
        KeyField::Title => json!({"op": "contains", "field": "title", "value": format!("[{key}]")}),
    };
    json!({"MaxRecords": 500, "filter": [{"op": "and", "items": [
        {"op": "eq", "field": "companyID", "value": company},
        {"op": "noteq", "field": "status", "value": STATUS_COMPLETE},
        marker
    ]}]})
}

fn int(v: Option<&Value>) -> Option<i64> {
    let v = v?;
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())).filter(|n| *n > 0)
}

/// The newest open ticket of a `Tickets/query` answer that belongs to `company` and carries
/// `key` exactly. The server's filter is not trusted: each row's company, status and key are
/// checked again.
pub fn newest_match(v: &Value, company: i64, key: &str, key_field: KeyField) -> Result<Option<Found>, Error> {
    let items = v.get("items").and_then(Value::as_array).ok_or_else(|| Error::protocol(TICKET_QUERY, msg::bad_shape(TICKET_QUERY, "it has no items list")))?;
    let tag = format!("[{key}]");
    let best = items
        .iter()
        .filter(|i| int(i.get("companyID")) == Some(company))
        .filter(|i| int(i.get("status")) != Some(STATUS_COMPLETE))
        .filter(|i| match key_field {
            KeyField::ExternalId => i.get("externalID").and_then(Value::as_str).is_some_and(|x| x.trim() == key),
            KeyField::Title => i.get("title").and_then(Value::as_str).is_some_and(|x| x.trim_end().ends_with(&tag)),
        })
        .filter_map(|i| int(i.get("id")).map(|id| (id, i)))
        .max_by_key(|(id, _)| *id);
    Ok(best.map(|(id, i)| Found { id: id.to_string(), number: number_of(i) }))
}

fn number_of(item: &Value) -> Option<String> {
    item.get("ticketNumber").and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(|s| msg::clip(s, 40))
}

/// The id in a create answer (`{"itemId": N}`).
pub fn item_id(v: &Value, endpoint: &str) -> Result<i64, Error> {
    int(v.get("itemId").or_else(|| v.get("itemID")).or_else(|| v.get("ItemId")))
        .ok_or_else(|| Error::protocol(endpoint, msg::bad_shape(endpoint, "it does not name the new record's itemId")))
}

/// The `publish` value for a private or public note: found by label, else 2 and 1.
pub fn publish_value(list: &[Opt], public: bool) -> i64 {
    let word = if public { "all" } else { "internal" };
    list.iter()
        .find(|o| o.name.to_ascii_lowercase().contains(word))
        .and_then(|o| o.id.parse().ok())
        .unwrap_or(if public { 1 } else { 2 })
}

/// The `POST Tickets/{id}/Notes` body.
pub fn note_body(ticket: i64, text: &str, note_type: i64, publish: i64) -> Value {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("Note");
    json!({
        "ticketID": ticket,
        "title": one_line(first, NOTE_TITLE_MAX),
        "description": plain(text, NOTE_MAX),
        "noteType": note_type,
        "publish": publish,
    })
}

/// A session's ticket calls: the picklists read once, the key field and default queue from the form.
pub struct Tickets {
    pub key_field: KeyField,
    pub queue: Option<String>,
    pub lists: Picklists,
}

impl Tickets {
    pub fn new(key_field: KeyField, queue: Option<String>) -> Tickets {
        Tickets { key_field, queue, lists: Picklists::default() }
    }

    /// Opens the ticket; its id and number. The number is read back with one GET; when only
    /// that read fails, the ticket exists, so its id is returned without a number.
    pub fn create(&mut self, api: &mut Api, t: &mut dyn Transport, nt: &NewTicket) -> Result<Found, Error> {
        let mut cache: Vec<(Kind, Vec<Opt>)> = Vec::new();
        for kind in [Kind::Status, Kind::Priority, Kind::Queue, Kind::TicketType] {
            if kind == Kind::TicketType && !nt.options.iter().any(|(k, _)| *k == kind) {
                continue;
            }
            cache.push((kind, self.lists.values(api, t, kind)?));
        }
        // A database without a source picklist gets none.
        let sources = self.lists.field(api, t, "source", false).unwrap_or_default();
        let source = sources.iter().find(|o| o.is_default).and_then(|o| o.id.parse().ok());
        let lists = |k: Kind| Ok(cache.iter().find(|(c, _)| *c == k).map(|(_, l)| l.clone()).unwrap_or_default());
        let body = ticket_body(nt, self.key_field, self.queue.as_deref(), source, &lists)?;
        let company = body["companyID"].as_i64().unwrap_or_default();
        let (_, v) = api
            .call(t, &|base: &str| api::post_json(format!("{base}{TICKETS}"), &body, TICKETS))
            .map_err(|e| company_gone(permission(e, PERM_ADD), company))?;
        let id = item_id(&v, TICKETS)?;
        let number = api.call(t, &|base: &str| api::get(format!("{base}{TICKETS}/{id}"), TICKET_ONE)).ok().and_then(|(_, v)| v.get("item").and_then(number_of));
        Ok(Found { id: id.to_string(), number })
    }

    /// The newest open ticket of the customer with the key.
    pub fn find_open(&mut self, api: &mut Api, t: &mut dyn Transport, customer: &str, key: &str) -> Result<Option<Found>, Error> {
        if !key_ok(key) {
            return Err(Error::internal(msg::bad_key(key)));
        }
        let company = company_id(customer)?;
        let body = find_body(company, key, self.key_field);
        let refused = |e: Error| key_field_refused(permission(e, PERM_READ), self.key_field);
        let (mut zone, mut v) = api.call(t, &|base: &str| api::post_json(format!("{base}{TICKET_QUERY}"), &body, TICKET_QUERY)).map_err(refused)?;
        let mut best: Option<(i64, Found)> = None;
        let mut visited: HashSet<String> = HashSet::new();
        for page in 1.. {
            let endpoint = if page == 1 { TICKET_QUERY } else { TICKET_NEXT };
            if let Some(f) = newest_match(&v, company, key, self.key_field)? {
                let id = f.id.parse::<i64>().unwrap_or_default();
                if best.as_ref().is_none_or(|(b, _)| id > *b) {
                    best = Some((id, f));
                }
            }
            let next = v.pointer("/pageDetails/nextPageUrl").and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
            let Some(link) = next else { break };
            if page >= FIND_MAX_PAGES {
                return Err(Error::protocol(TICKET_QUERY, msg::too_many_open_tickets(company, key, FIND_MAX_PAGES)));
            }
            let next = cursor::next_link(&zone, link).map_err(|_| Error::protocol(endpoint, msg::next_page_off_zone(link, &origin(&zone))))?;
            if !visited.insert(next.clone()) {
                return Err(Error::protocol(endpoint, msg::bad_shape(endpoint, "a next page repeats an earlier one")));
            }
            let tail = path_and_query(&next);
            (zone, v) = api.call(t, &|base: &str| api::get(format!("{}{tail}", origin(base)), TICKET_NEXT)).map_err(refused)?;
        }
        Ok(best.map(|(_, f)| f))
    }

    /// Adds a note; its id.
    pub fn add_note(&mut self, api: &mut Api, t: &mut dyn Transport, ticket: &str, text: &str, public: bool, outcome: Option<&str>) -> Result<String, Error> {
        let id = values::positive_id(ticket).ok_or_else(|| not_found(msg::bad_ticket_id(ticket)))?;
        let types = self.lists.options(api, t, Kind::Outcome)?;
        let chosen: Vec<(Kind, String)> = outcome.map(|o| (Kind::Outcome, o.to_string())).into_iter().collect();
        let note_type = match pick(Kind::Outcome, &chosen, None, &types)? {
            Some(n) => n,
            None => types.first().and_then(|o| o.id.parse().ok()).ok_or_else(|| Error::protocol(NOTE_FIELDS, msg::no_default("note type")))?,
        };
        let publish = {
            let (_, note) = Kind::Outcome.field();
            debug_assert!(note);
            let v = self.lists.note.as_ref().expect("read with the note types");
            publish_value(&picklist(v, "publish", NOTE_FIELDS).unwrap_or_default(), public)
        };
        let body = note_body(id, text, note_type, publish);
        let path = format!("{TICKETS}/{id}/Notes");
        let r = api.call(t, &|base: &str| api::post_json(format!("{base}{path}"), &body, NOTES));
        let (_, v) = r.map_err(|e| match permission(e, PERM_NOTES) {
            Error::Upstream { message, .. } if message.contains("No matching records") => not_found(msg::ticket_gone(id)),
            other => other,
        })?;
        Ok(item_id(&v, NOTES)?.to_string())
    }
}

/// `scheme://host[:port]` of a URL.
fn origin(u: &str) -> String {
    url::Url::parse(u).map_or_else(|_| u.to_string(), |u| u.origin().ascii_serialization())
}

/// The path and query of an absolute URL (already checked to be on the zone).
fn path_and_query(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(u) => match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        },
        Err(_) => u.to_string(),
    }
}

/// Autotask's answer to a ticket for a company it does not have (500 "Reference value on
/// field: companyID of type: Company does not exist or is invalid") as the contract's
/// `not-found`, naming the company.
pub fn company_gone(e: Error, company: i64) -> Error {
    match e {
        Error::Upstream { message, .. } if { let m = message.to_ascii_lowercase(); m.contains("companyid") && (m.contains("does not exist") || m.contains("is invalid")) } => {
            not_found(msg::company_gone(company))
        }
        other => other,
    }
}

/// A query error that names the key field: Autotask does not let this database filter on it.
pub fn key_field_refused(e: Error, field: KeyField) -> Error {
    match e {
        Error::Upstream { status, endpoint, message } if field == KeyField::ExternalId && message.to_ascii_lowercase().contains("externalid") => {
            Error::config("ticket_key_field", msg::external_id_refused(status, &endpoint, &message))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::tests::{cfg, Script, ZoneAnswer, Z5};

    fn fields() -> Value {
        json!({"fields": [
            {"name": "status", "isPickList": true, "picklistValues": [
                {"value": "1", "label": "New", "isDefaultValue": true, "isActive": true},
                {"value": "5", "label": "Complete", "isDefaultValue": false, "isActive": true}]},
            {"name": "priority", "isPickList": true, "picklistValues": [
                {"value": "1", "label": "High", "isDefaultValue": false, "isActive": true},
                {"value": "2", "label": "Normal", "isDefaultValue": true, "isActive": true}]},
            {"name": "queueID", "isPickList": true, "picklistValues": [
                {"value": "29682833", "label": "Service Desk", "isDefaultValue": false, "isActive": true},
                {"value": "29682835", "label": "Old\u{1b}[2J Queue", "isDefaultValue": false, "isActive": false}]},
            {"name": "ticketType", "isPickList": true, "picklistValues": [{"value": 5, "label": "Alert", "isActive": true}]}
        ]})
    }

    fn notes() -> Value {
        json!({"fields": [
            {"name": "noteType", "picklistValues": [{"value": "1", "label": "Task Summary"}, {"value": "3", "label": "Task Notes", "isDefaultValue": true}]},
            {"name": "publish", "picklistValues": [{"value": "1", "label": "All Autotask Users"}, {"value": "2", "label": "Internal Only"}]}
        ]})
    }

    fn nt<'a>(options: Vec<(Kind, String)>) -> NewTicket<'a> {
        NewTicket { customer_id: "29682801", summary: "MFA is off\nfor 3 admins", text: "Details", dedup_key: "o365:mfa:42", options }
    }

    #[test]
    fn picklists_active_values_with_defaults() {
        let l = picklist(&fields(), "queueid", TICKET_FIELDS).unwrap();
        assert_eq!(l, vec![Opt { id: "29682833".into(), name: "Service Desk".into(), is_default: false }]);
        let l = picklist(&fields(), "ticketType", TICKET_FIELDS).unwrap();
        assert_eq!(l[0].id, "5");
        assert!(matches!(picklist(&fields(), "source", TICKET_FIELDS), Err(Error::Protocol { .. })));
        assert!(matches!(picklist(&json!([]), "status", TICKET_FIELDS), Err(Error::Protocol { .. })));
    }

    #[test]
    fn the_ticket_body() {
        let lists = |k: Kind| picklist(&fields(), k.field().0, TICKET_FIELDS);
        let b = ticket_body(&nt(vec![]), KeyField::ExternalId, Some("29682833"), None, &lists).unwrap();
        assert_eq!(
            b,
            json!({"id": 0, "companyID": 29682801, "title": "MFA is off for 3 admins", "description": "Details",
                   "status": 1, "priority": 2, "queueID": 29682833, "externalID": "o365:mfa:42"})
        );
        let b = ticket_body(&nt(vec![(Kind::Priority, "1".into()), (Kind::TicketType, "5".into())]), KeyField::Title, Some("29682833"), Some(8), &lists).unwrap();
        assert_eq!((b["priority"].clone(), b["ticketType"].clone(), b["source"].clone()), (json!(1), json!(5), json!(8)));
        assert_eq!(b["title"], "MFA is off for 3 admins [o365:mfa:42]");
        assert!(b.get("externalID").is_none());
        // No queue chosen and none on the form, no default: the form field to fill is named.
        let e = ticket_body(&nt(vec![]), KeyField::ExternalId, None, None, &lists).unwrap_err();
        assert!(matches!(&e, Error::InvalidConfig { field, .. } if field == "ticket_queue_id"), "{e:?}");
        // An inactive or unknown option is refused before anything is sent, listing the valid ones.
        let e = ticket_body(&nt(vec![(Kind::Queue, "29682835".into())]), KeyField::ExternalId, None, None, &lists).unwrap_err();
        assert!(e.message().contains("29682835") && e.message().contains("Service Desk"), "{e:?}");
        // Hostile input: a key outside the contract's alphabet, a customer id that is not Autotask's.
        let mut bad = nt(vec![]);
        bad.dedup_key = "a b";
        assert!(ticket_body(&bad, KeyField::ExternalId, Some("29682833"), None, &lists).is_err());
        for id in ["0", "-4", "abc", "1e3", "+12", "007", "99999999999999999999"] {
            let mut bad = nt(vec![]);
            bad.customer_id = id;
            assert!(ticket_body(&bad, KeyField::ExternalId, Some("29682833"), None, &lists).is_err(), "{id}");
        }
    }

    #[test]
    fn long_text_is_cut_and_marked_and_titles_fit() {
        let d = plain(&"x".repeat(9000), DESCRIPTION_MAX);
        assert_eq!(d.chars().count(), DESCRIPTION_MAX);
        assert!(d.ends_with("longer than Autotask accepts]"));
        assert_eq!(plain("a\u{1b}[31mb\nc", 100), "a[31mb\nc");
        let t = title(&"y".repeat(400), "k1", KeyField::Title);
        assert_eq!(t.chars().count(), TITLE_MAX);
        assert!(t.ends_with("… [k1]"));
        assert_eq!(title(&"y".repeat(400), "k1", KeyField::ExternalId).chars().count(), TITLE_MAX);
    }

    #[test]
    fn find_open_filters_and_picks_the_newest_exact_match() {
        let b = find_body(7, "k:1", KeyField::ExternalId);
        assert_eq!(b["filter"][0]["items"][1], json!({"op": "noteq", "field": "status", "value": 5}));
        assert_eq!(b["filter"][0]["items"][2], json!({"op": "eq", "field": "externalID", "value": "k:1"}));
        let answer = json!({"items": [
            {"id": 10, "companyID": 7, "status": 1, "externalID": "k:1", "ticketNumber": "T1"},
            {"id": 30, "companyID": 7, "status": 5, "externalID": "k:1", "ticketNumber": "T3"},
            {"id": 20, "companyID": 7, "status": 8, "externalID": "k:1", "ticketNumber": "T2"},
            {"id": 40, "companyID": 7, "status": 1, "externalID": "k:10", "title": "x [k:1]"},
            {"id": 50, "companyID": 8, "status": 1, "externalID": "k:1", "title": "x [k:1]"}
        ]});
        assert_eq!(newest_match(&answer, 7, "k:1", KeyField::ExternalId).unwrap(), Some(Found { id: "20".into(), number: Some("T2".into()) }));
        assert_eq!(newest_match(&answer, 7, "k:1", KeyField::Title).unwrap().unwrap().id, "40");
        // `contains` also matches a longer key: only the exact tag counts.
        let answer = json!({"items": [{"id": 5, "companyID": 7, "status": 1, "title": "x [k:1]-other"}]});
        assert_eq!(newest_match(&answer, 7, "k:1", KeyField::Title).unwrap(), None);
        assert!(newest_match(&json!({}), 7, "k", KeyField::Title).is_err());
    }

    #[test]
    fn find_open_keeps_only_the_customers_tickets() {
        // A server that ignores the companyID condition: another company's newer ticket is not taken.
        let answer = json!({"items": [
            {"id": 10, "companyID": 7, "status": 1, "externalID": "k:1", "ticketNumber": "T1"},
            {"id": 50, "companyID": 8, "status": 1, "externalID": "k:1", "ticketNumber": "T5"},
            {"id": 60, "status": 1, "externalID": "k:1", "ticketNumber": "T6"}
        ]});
        let mut t = Script::new().zone(Z5).json(200, answer);
        let f = Tickets::new(KeyField::ExternalId, None).find_open(&mut Api::new(cfg()), &mut t, "7", "k:1").unwrap();
        assert_eq!(f.map(|f| f.id), Some("10".to_string()));
    }

    fn ticket_page(ids: &[i64], next: Option<String>) -> Value {
        let items: Vec<Value> = ids.iter().map(|i| json!({"id": i, "companyID": 7, "status": 1, "externalID": "k", "ticketNumber": format!("T{i}")})).collect();
        json!({"items": items, "pageDetails": {"count": items.len(), "nextPageUrl": next}})
    }

    fn ticket_next(n: usize) -> String {
        format!("{}V1.0/Tickets/query/next?paging={n}", Z5)
    }

    #[test]
    fn find_open_reads_every_page_up_to_a_cap() {
        // The newest ticket is on the last page.
        let mut t = Script::new().zone(Z5).json(200, ticket_page(&[1, 2], Some(ticket_next(2)))).json(200, ticket_page(&[9, 3], Some(ticket_next(3)))).json(200, ticket_page(&[4], None));
        let f = Tickets::new(KeyField::ExternalId, None).find_open(&mut Api::new(cfg()), &mut t, "7", "k").unwrap();
        assert_eq!(f.map(|f| f.id), Some("9".to_string()));
        assert_eq!(t.sent.len(), 4);
        assert_eq!(t.sent[2].url, ticket_next(2));
        assert_eq!(t.sent[2].method, psa_connector_sdk::http::Method::Get);
        // More pages than the cap: an error that says so, never the newest of a part.
        let mut t = Script::new().zone(Z5);
        for n in 0..FIND_MAX_PAGES {
            t = t.json(200, ticket_page(&[n as i64 + 1], Some(ticket_next(n + 2))));
        }
        let e = Tickets::new(KeyField::ExternalId, None).find_open(&mut Api::new(cfg()), &mut t, "7", "k").unwrap_err();
        assert!(matches!(&e, Error::Protocol { .. }) && e.message().contains("more than 20 pages"), "{e:?}");
        assert_eq!(t.sent.len(), 1 + FIND_MAX_PAGES);
        // A next page off the zone, or the same page again: refused.
        for link in ["https://evil.example.com/ATServicesRest/V1.0/Tickets/query/next?x=1".to_string(), ticket_next(2)] {
            let mut t = Script::new().zone(Z5).json(200, ticket_page(&[1], Some(ticket_next(2)))).json(200, ticket_page(&[2], Some(link.clone())));
            let e = Tickets::new(KeyField::ExternalId, None).find_open(&mut Api::new(cfg()), &mut t, "7", "k").unwrap_err();
            assert!(matches!(&e, Error::Protocol { .. }), "{link}: {e:?}");
            assert_eq!(t.sent.len(), 3, "{link}");
        }
    }

    #[test]
    fn complete_is_not_offered_and_refused_for_a_new_ticket() {
        let mut t = Script::new().zone(Z5).json(200, fields());
        let mut tk = Tickets::new(KeyField::ExternalId, Some("29682833".into()));
        let statuses = tk.lists.options(&mut Api::new(cfg()), &mut t, Kind::Status).unwrap();
        assert_eq!(statuses.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), ["1"]);
        let lists = |k: Kind| picklist(&fields(), k.field().0, TICKET_FIELDS);
        let e = ticket_body(&nt(vec![(Kind::Status, "5".into())]), KeyField::ExternalId, Some("29682833"), None, &lists).unwrap_err();
        assert!(e.message().contains("Complete"), "{e:?}");
        let mut t = Script::new().zone(Z5).json(200, fields());
        let e = tk.create(&mut Api::new(cfg()), &mut t, &nt(vec![(Kind::Status, " 5".into())])).unwrap_err();
        assert!(e.message().contains("Complete"), "{e:?}");
        assert!(t.sent.is_empty(), "refused before anything is sent (the picklists were read for the options)");
    }

    #[test]
    fn a_picklist_longer_than_the_platform_takes_is_an_error_not_a_cut() {
        let many = |n: usize| {
            let values: Vec<Value> = (1..=n).map(|i| json!({"value": i.to_string(), "label": format!("Q{i}"), "isActive": true})).collect();
            json!({"fields": [{"name": "queueID", "picklistValues": values}]})
        };
        let mut t = Script::new().zone(Z5).json(200, many(MAX_TICKET_OPTIONS));
        assert_eq!(Picklists::default().options(&mut Api::new(cfg()), &mut t, Kind::Queue).unwrap().len(), MAX_TICKET_OPTIONS);
        let mut t = Script::new().zone(Z5).json(200, many(2500));
        let e = Picklists::default().options(&mut Api::new(cfg()), &mut t, Kind::Queue).unwrap_err();
        assert!(matches!(&e, Error::Protocol { .. }) && e.message().contains("2500") && e.message().contains("queueID"), "{e:?}");
        // Every value is read (none cut at 2,000): a queue beyond it can still be chosen.
        assert_eq!(picklist(&many(2500), "queueID", TICKET_FIELDS).unwrap().len(), 2500);
    }

    #[test]
    fn a_missing_company_is_not_found_naming_it() {
        let gone = json!({"errors": ["Reference value on field: companyID of type: Company does not exist or is invalid (29682801)."]});
        let mut t = Script::new().zone(Z5).json(200, fields()).json(500, gone);
        let e = Tickets::new(KeyField::ExternalId, Some("29682833".into())).create(&mut Api::new(cfg()), &mut t, &nt(vec![])).unwrap_err();
        assert!(matches!(&e, Error::NotFound(m) if m.contains("company 29682801")), "{e:?}");
        // Another 500 stays upstream.
        let mut t = Script::new().zone(Z5).json(200, fields()).json(500, json!({"errors": ["Missing Required Field: issueType."]}));
        let e = Tickets::new(KeyField::ExternalId, Some("29682833".into())).create(&mut Api::new(cfg()), &mut t, &nt(vec![])).unwrap_err();
        assert!(matches!(&e, Error::Upstream { .. }), "{e:?}");
    }

    #[test]
    fn create_reads_the_picklists_once_and_the_number_back() {
        let mut t = Script::new().zone(Z5).json(200, fields()).json(200, json!({"itemId": 8001})).json(200, json!({"item": {"id": 8001, "ticketNumber": "T20261130.0001"}}));
        let mut api = Api::new(cfg());
        let mut tk = Tickets::new(KeyField::ExternalId, Some("29682833".into()));
        let f = tk.create(&mut api, &mut t, &nt(vec![])).unwrap();
        assert_eq!(f, Found { id: "8001".into(), number: Some("T20261130.0001".into()) });
        assert_eq!(t.sent[1].url, "https://webservices5.autotask.net/ATServicesRest/V1.0/Tickets/entityInformation/fields");
        assert_eq!(t.sent[2].url, "https://webservices5.autotask.net/ATServicesRest/V1.0/Tickets");
        assert_eq!(t.sent[3].url, "https://webservices5.autotask.net/ATServicesRest/V1.0/Tickets/8001");
        // A second ticket: no second picklist read; the number's read failing still returns the ticket.
        t.answers.extend(Script::new().json(200, json!({"itemId": 8004})).json(500, json!({"errors": ["x"]})).answers);
        let f = tk.create(&mut api, &mut t, &nt(vec![])).unwrap();
        assert_eq!(f, Found { id: "8004".into(), number: None });
        assert_eq!(t.sent.len(), 6);
        // No itemId: a protocol error.
        let mut t = Script::new().zone(Z5).json(200, fields()).json(200, json!({"id": 1}));
        assert!(matches!(Tickets::new(KeyField::ExternalId, Some("29682833".into())).create(&mut Api::new(cfg()), &mut t, &nt(vec![])), Err(Error::Protocol { .. })));
    }

    #[test]
    fn permissions_name_the_security_level_right() {
        let denied = json!({"errors": ["The logged in Resource does not have the adequate permissions to create this entity type."]});
        let mut t = Script::new().zone(Z5).json(200, fields()).json(500, denied.clone());
        let e = Tickets::new(KeyField::ExternalId, Some("29682833".into())).create(&mut Api::new(cfg()), &mut t, &nt(vec![])).unwrap_err();
        assert!(matches!(&e, Error::Forbidden { permission, .. } if permission == PERM_ADD), "{e:?}");
        assert!(e.message().contains("Security Levels"), "{e:?}");
        let mut t = Script::new().zone(Z5).json(403, json!({}));
        let e = Tickets::new(KeyField::ExternalId, None).find_open(&mut Api::new(cfg()), &mut t, "7", "k").unwrap_err();
        assert!(matches!(&e, Error::Forbidden { permission, .. } if permission == PERM_READ), "{e:?}");
        let mut t = Script::new().zone(Z5).json(200, notes()).json(500, denied);
        let e = Tickets::new(KeyField::ExternalId, None).add_note(&mut Api::new(cfg()), &mut t, "8001", "x", false, None).unwrap_err();
        assert!(matches!(&e, Error::Forbidden { permission, .. } if permission == PERM_NOTES), "{e:?}");
    }

    #[test]
    fn an_unqueryable_external_id_names_the_form_field() {
        let mut t = Script::new().zone(Z5).json(500, json!({"errors": ["Unable to find externalID in the Ticket entity."]}));
        let e = Tickets::new(KeyField::ExternalId, None).find_open(&mut Api::new(cfg()), &mut t, "7", "k").unwrap_err();
        assert!(matches!(&e, Error::InvalidConfig { field, .. } if field == "ticket_key_field"), "{e:?}");
    }

    #[test]
    fn notes_private_and_public() {
        let mut t = Script::new().zone(Z5).json(200, notes()).json(200, json!({"itemId": 77})).json(200, json!({"itemId": 78}));
        let mut api = Api::new(cfg());
        let mut tk = Tickets::new(KeyField::ExternalId, None);
        assert_eq!(tk.add_note(&mut api, &mut t, "8001", "\n  Seen again  \nsecond line", false, None).unwrap(), "77");
        let b: Value = serde_json::from_slice(t.sent[2].body.as_deref().unwrap()).unwrap();
        assert_eq!(b, json!({"ticketID": 8001, "title": "Seen again", "description": "\n  Seen again  \nsecond line", "noteType": 3, "publish": 2}));
        assert_eq!(t.sent[2].url, "https://webservices5.autotask.net/ATServicesRest/V1.0/Tickets/8001/Notes");
        tk.add_note(&mut api, &mut t, "8001", "x", true, Some("1")).unwrap();
        let b: Value = serde_json::from_slice(t.sent[3].body.as_deref().unwrap()).unwrap();
        assert_eq!((b["publish"].clone(), b["noteType"].clone()), (json!(1), json!(1)));
        // A ticket that is gone; an id that is not Autotask's.
        let mut t = Script::new().zone(Z5).json(200, notes()).json(500, json!({"errors": ["No matching records found."]}));
        let e = Tickets::new(KeyField::ExternalId, None).add_note(&mut Api::new(cfg()), &mut t, "8001", "x", false, None).unwrap_err();
        assert!(e.message().contains("8001"), "{e:?}");
        assert!(Tickets::new(KeyField::ExternalId, None).add_note(&mut Api::new(cfg()), &mut Script::new(), "T2026", "x", false, None).is_err());
        // Without recognisable labels: 2 private, 1 public.
        assert_eq!((publish_value(&[], false), publish_value(&[], true)), (2, 1));
    }
}
