//! Tickets, notes (actions) and the lookups a ticket needs, as Halo's published OpenAPI
//! document (`tests/openapi/`) and public clients (CIPP-API, homotechsual/HaloAPI, n8n's
//! HaloPSA node) show Halo's (the routes' permission checks are in `api`):
//!
//! - `POST /api/Tickets`: the body must be a JSON array; each element creates a ticket, or
//!   updates one when it carries an existing `id`. `client_id` (and `tickettype_id`,
//!   `priority_id`, `status_id`) must be JSON integers: `95.0` and `"95"` answer 400 keyed by
//!   the field (`{"[0].client_id": "The value 95.0 is not valid for client_id."}`). `summary`
//!   is required. `userlookup: {id: -1}` sets the customer's General User; a real user id
//!   needs `site_id`. Ticket type 21 ("Alert") has mandatory fields (category), which only
//!   `_novalidate: true` skips. Fields starting with `_` are not stored;
//!   `third_party_id_string` is. One element answers 201 with the ticket object itself, more
//!   answer an array. Nothing is stored when any element is refused.
//! - `GET /api/Tickets`: `client_id`, `open_only`, `closed_only`, `third_party_id_string` (filters
//!   or is ignored: `SimOptions::ticket_key_filter`), `search_summary` and `search` (substring,
//!   any case), paging with `pageinate` (a page holds at most 100, Halo's maximum for
//!   tickets, or the simulator's lower cap); deleted tickets never appear; rows leave out
//!   `third_party_id_string` with `SimOptions::ticket_rows_omit_key`.
//! - `GET /api/Tickets/{id}`: the ticket, with `hasbeenclosed`; a deleted ticket answers 200
//!   with an object without `id` (as CIPP handles it); an id never used answers 404.
//! - `POST /api/Actions`: an array; `ticket_id` must name a ticket that exists; an outcome
//!   (`outcome_id`, or `outcome` by name) is required ("An Outcome must be entered for this
//!   Action"); an outcome in `SimOptions::restricted_outcomes` answers "You do not have access
//!   to this Action at the moment". `hiddenfromuser`, `note`, `note_html` are stored; the
//!   outcome's `newstatus` (Close) closes the ticket. 201 with the action object.
//! - `GET /api/Actions?ticket_id=N`: `{record_count, actions}`.
//! - `GET /api/TicketType` (a plain array; types agents cannot select only with
//!   `showall=true`), `GET /api/Priority` (Policy objects: a string `id` and the integer
//!   `priorityid` tickets take, per SLA, so a `priorityid` appears once per SLA; `slaid`
//!   filters), `GET /api/Outcome` (`excludesystemactions`), `GET /api/Status`
//!   (`excludeclosed`). Halo's teams (queues) have no list endpoint in the notes, so none is
//!   simulated.

#![allow(clippy::result_large_err)]

use crate::api::{invalid_value, not_found, page, paged_body, qbool, qint, Query};
use crate::options::FilterSupport;
use crate::respond::json;
use crate::state::Inner;
use axum::response::Response;
use serde_json::{json, Map, Value};

/// Halo's maximum page size for `/Tickets` (the swagger: "Maximum size: 100").
pub const TICKET_PAGE_MAX: usize = 100;

/// The status id of a closed ticket.
pub const CLOSED: i64 = 9;

/// The id of the customer's General User (`userlookup.id = -1`).
pub fn general_user_id(client_id: i64) -> i64 {
    client_id.saturating_mul(100).saturating_add(1)
}

/// `(id, name, agents can select, mandatory fields without _novalidate)`.
const TICKET_TYPES: &[(i64, &str, bool, bool)] = &[
    (1, "Incident", true, false),
    (3, "Service Request", true, false),
    (21, "Alert", true, true),
    (30, "Change Request (CAB)", false, false),
];

/// `(priorityid, name, hidden)`, repeated for each SLA in `SLAS`.
const PRIORITIES: &[(i64, &str, bool)] =
    &[(1, "Critical", false), (2, "High", false), (3, "Medium", false), (4, "Low", false), (5, "Scheduled", true)];
const SLAS: &[i64] = &[1, 2];

/// `(id, outcome, buttonname, hidden (system), newstatus)`.
const OUTCOMES: &[(i64, &str, &str, bool, Option<i64>)] = &[
    (1, "Email User", "Email User", false, None),
    (2, "Update", "Update", false, None),
    (7, "Private Note", "Internal Note", false, None),
    (15, "Public Note", "Public Note", false, None),
    (9, "Close", "Close Ticket", false, Some(CLOSED)),
    (99, "System Update", "System Update", true, None),
];

/// `(id, name, type)`; type 2 = closed.
const STATUSES: &[(i64, &str, i64)] =
    &[(1, "New", 0), (2, "In Progress", 1), (3, "Action Required", 1), (4, "Waiting on User", 1), (CLOSED, "Closed", 2)];

fn bad_field(index: usize, field: &str, message: String) -> Response {
    json(400, json!({ format!("[{index}].{field}"): message }))
}

/// An id field as Halo reads it: a JSON integer, nothing else (`95.0` and `"95"` are refused).
fn strict_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) if n.is_i64() => n.as_i64(),
        _ => None,
    }
}

/// An optional integer field of element `i`: absent or null is `None`; anything but an integer
/// is a 400 naming the field.
fn int_field(obj: &Map<String, Value>, i: usize, field: &str) -> Result<Option<i64>, Response> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => strict_int(v)
            .map(Some)
            .ok_or_else(|| bad_field(i, field, format!("The value {v} is not valid for {field}."))),
    }
}

fn is_open(t: &Value) -> bool {
    t["hasbeenclosed"] != json!(true)
}

pub fn post_tickets(st: &mut Inner, body: &[u8]) -> Result<Response, Response> {
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(body) else {
        return Err(json(400, json!({"": "The request body must be a JSON array of tickets."})));
    };
    // Validate everything first so a bad element changes nothing.
    let mut plans: Vec<(Option<usize>, Map<String, Value>)> = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let Value::Object(mut obj) = item else {
            return Err(json(400, json!({ format!("[{i}]"): "Each element must be a ticket object." })));
        };
        let existing = match int_field(&obj, i, "id")? {
            Some(id) if id > 0 => {
                let pos = st.tickets.iter().position(|t| t["id"] == json!(id)).filter(|_| !st.deleted_tickets.contains(&id));
                Some(pos.ok_or_else(|| bad_field(i, "id", format!("Ticket {id} not found")))?)
            }
            _ => None,
        };
        match int_field(&obj, i, "client_id")? {
            Some(cid) if st.opts.customers.iter().any(|c| c.id == cid) => {}
            Some(_) => return Err(bad_field(i, "client_id", "Client not found".into())),
            None if existing.is_none() => return Err(bad_field(i, "client_id", "Client not found".into())),
            None => {}
        }
        let tickettype = int_field(&obj, i, "tickettype_id")?;
        let ttype = match tickettype {
            Some(id) => Some(
                TICKET_TYPES
                    .iter()
                    .find(|t| t.0 == id)
                    .ok_or_else(|| bad_field(i, "tickettype_id", format!("Ticket type {id} not found")))?,
            ),
            None if existing.is_none() => TICKET_TYPES.first(),
            None => None,
        };
        if let Some(p) = int_field(&obj, i, "priority_id")? {
            if !PRIORITIES.iter().any(|x| x.0 == p) {
                return Err(bad_field(i, "priority_id", format!("Priority {p} not found")));
            }
        }
        if let Some(s) = int_field(&obj, i, "status_id")? {
            if !STATUSES.iter().any(|x| x.0 == s) {
                return Err(bad_field(i, "status_id", format!("Status {s} not found")));
            }
        }
        let summary_ok = obj.get("summary").and_then(Value::as_str).is_some_and(|s| !s.trim().is_empty());
        if existing.is_none() && !summary_ok {
            return Err(bad_field(i, "summary", "Summary is required".into()));
        }
        let novalidate = obj.get("_novalidate") == Some(&json!(true));
        if existing.is_none() && !novalidate && ttype.is_some_and(|t| t.3) {
            let has_category = obj.get("category_1").and_then(Value::as_str).is_some_and(|s| !s.trim().is_empty());
            if !has_category {
                return Err(bad_field(i, "category_1", "Category is required for this ticket type".into()));
            }
        }
        // The user: the General User, or a real one with its site.
        if let Some(lookup) = obj.get("userlookup").cloned() {
            let cid = obj.get("client_id").and_then(strict_int);
            match lookup.get("id").and_then(strict_int) {
                Some(-1) => {
                    if let Some(cid) = cid {
                        obj.insert("user_id".into(), json!(general_user_id(cid)));
                        obj.insert("user_name".into(), json!("General User"));
                    }
                }
                Some(uid) if uid > 0 => {
                    if int_field(&obj, i, "site_id")?.is_none() {
                        return Err(bad_field(i, "site_id", "A site must be selected for this user".into()));
                    }
                    obj.insert("user_id".into(), json!(uid));
                }
                _ => return Err(bad_field(i, "userlookup", format!("The value {lookup} is not valid for userlookup."))),
            }
        }
        if let Some(t) = ttype {
            obj.insert("tickettype_id".into(), json!(t.0));
        }
        plans.push((existing, obj));
    }

    let mut results = Vec::new();
    for (existing, mut obj) in plans {
        obj.retain(|k, _| !k.starts_with('_') && k != "userlookup");
        if let Some(cid) = obj.get("client_id").and_then(strict_int) {
            let name = st.opts.customers.iter().find(|c| c.id == cid).map(|c| c.name.clone());
            obj.insert("client_name".into(), json!(name));
        }
        if let Some(s) = obj.get("status_id").and_then(strict_int) {
            obj.insert("hasbeenclosed".into(), json!(s == CLOSED));
        }
        let ticket = match existing {
            Some(pos) => {
                if let Some(t) = st.tickets[pos].as_object_mut() {
                    for (k, v) in obj {
                        if k != "id" {
                            t.insert(k, v);
                        }
                    }
                }
                st.tickets[pos].clone()
            }
            None => {
                let id = st.next_ticket_id;
                st.next_ticket_id += 1;
                obj.insert("id".into(), json!(id));
                obj.entry("status_id").or_insert(json!(1));
                obj.entry("hasbeenclosed").or_insert(json!(false));
                obj.entry("priority_id").or_insert(json!(3));
                obj.entry("dateoccurred").or_insert(json!("2026-11-30T09:00:00"));
                let t = Value::Object(obj);
                st.tickets.push(t.clone());
                t
            }
        };
        results.push(ticket);
    }
    let body = if results.len() == 1 { results.pop().unwrap_or_default() } else { Value::Array(results) };
    Ok(json(201, body))
}

pub fn list_tickets(st: &Inner, q: &Query) -> Result<Response, Response> {
    let client = qint(q, "client_id")?;
    let open_only = qbool(q, "open_only")?.unwrap_or(false);
    let closed_only = qbool(q, "closed_only")?.unwrap_or(false);
    let lower = |key: &str| q.get(key).map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty());
    let search = lower("search");
    let search_summary = lower("search_summary");
    let key = match st.opts.ticket_key_filter {
        FilterSupport::Filters => q.get("third_party_id_string").filter(|s| !s.is_empty()),
        FilterSupport::Ignored => None,
    };
    let contains = |t: &Value, field: &str, s: &Option<String>| {
        s.as_ref().is_none_or(|s| t[field].as_str().is_some_and(|x| x.to_lowercase().contains(s.as_str())))
    };
    let rows: Vec<Value> = st
        .tickets
        .iter()
        .filter(|t| t["id"].as_i64().is_some_and(|id| !st.deleted_tickets.contains(&id)))
        .filter(|t| client.is_none_or(|c| t["client_id"] == json!(c)))
        .filter(|t| !open_only || is_open(t))
        .filter(|t| !closed_only || !is_open(t))
        .filter(|t| key.is_none_or(|k| t["third_party_id_string"].as_str() == Some(k.as_str())))
        .filter(|t| contains(t, "summary", &search) && contains(t, "summary", &search_summary))
        .map(|t| {
            let mut row = t.clone();
            if st.opts.ticket_rows_omit_key {
                if let Some(o) = row.as_object_mut() {
                    o.remove("third_party_id_string");
                }
            }
            row
        })
        .collect();
    let total = rows.len();
    let cap = st.opts.page_cap.min(TICKET_PAGE_MAX);
    let (rows, paging) = page(&rows, q, cap, st.opts.page_offsets)?;
    Ok(json(200, paged_body(total, "tickets", rows, paging)))
}

pub fn get_ticket(st: &Inner, id: &str) -> Result<Response, Response> {
    let Ok(id) = id.parse::<i64>() else {
        return Err(invalid_value("id", id));
    };
    let t = st.tickets.iter().find(|t| t["id"] == json!(id)).ok_or_else(not_found)?;
    if st.deleted_tickets.contains(&id) {
        // What CIPP sees for a deleted ticket: an answer without `id`.
        return Ok(json(200, json!({"summary": null, "client_id": 0, "deleted": true})));
    }
    Ok(json(200, t.clone()))
}

pub fn post_actions(st: &mut Inner, body: &[u8]) -> Result<Response, Response> {
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(body) else {
        return Err(json(400, json!({"": "The request body must be a JSON array of actions."})));
    };
    let mut plans = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let Value::Object(mut obj) = item else {
            return Err(json(400, json!({ format!("[{i}]"): "Each element must be an action object." })));
        };
        let ticket_id = int_field(&obj, i, "ticket_id")?
            .filter(|id| !st.deleted_tickets.contains(id) && st.tickets.iter().any(|t| t["id"] == json!(*id)))
            .ok_or_else(|| bad_field(i, "ticket_id", "Ticket not found".into()))?;
        let by_id = int_field(&obj, i, "outcome_id")?;
        let by_name = obj.get("outcome").and_then(Value::as_str).filter(|s| !s.trim().is_empty());
        let outcome = match (by_id, by_name) {
            (Some(id), _) => OUTCOMES.iter().find(|o| o.0 == id),
            (None, Some(name)) => OUTCOMES.iter().find(|o| o.1.eq_ignore_ascii_case(name.trim())),
            (None, None) => None,
        };
        let Some(outcome) = outcome else {
            return Err(json(400, json!({ format!("[{i}].outcome"): "An Outcome must be entered for this Action" })));
        };
        if st.opts.restricted_outcomes.contains(&outcome.0) {
            return Err(json(
                400,
                json!({"ClassName": "HaloException", "Message": "You do not have access to this Action at the moment"}),
            ));
        }
        obj.insert("ticket_id".into(), json!(ticket_id));
        obj.insert("outcome_id".into(), json!(outcome.0));
        obj.insert("outcome".into(), json!(outcome.1));
        obj.entry("hiddenfromuser").or_insert(json!(false));
        obj.retain(|k, _| !k.starts_with('_'));
        plans.push((ticket_id, outcome.4, obj));
    }
    let mut results = Vec::new();
    for (ticket_id, new_status, mut obj) in plans {
        let id = st.next_action_id;
        st.next_action_id += 1;
        obj.insert("id".into(), json!(id));
        obj.insert("who".into(), json!("API"));
        if let Some(status) = new_status {
            if let Some(t) = st.tickets.iter_mut().find(|t| t["id"] == json!(ticket_id)) {
                t["status_id"] = json!(status);
                t["hasbeenclosed"] = json!(status == CLOSED);
            }
        }
        let a = Value::Object(obj);
        st.actions.push(a.clone());
        results.push(a);
    }
    let body = if results.len() == 1 { results.pop().unwrap_or_default() } else { Value::Array(results) };
    Ok(json(201, body))
}

pub fn list_actions(st: &Inner, q: &Query) -> Result<Response, Response> {
    let ticket = qint(q, "ticket_id")?;
    let rows: Vec<Value> =
        st.actions.iter().filter(|a| ticket.is_none_or(|t| a["ticket_id"] == json!(t))).cloned().collect();
    Ok(json(200, json!({"record_count": rows.len(), "actions": rows})))
}

pub fn ticket_types(q: &Query) -> Result<Response, Response> {
    let all = qbool(q, "showall")?.unwrap_or(false);
    let rows: Vec<Value> = TICKET_TYPES
        .iter()
        .filter(|t| all || t.2)
        .map(|t| json!({"id": t.0, "name": t.1, "agentscanselect": t.2, "default_sla": 1, "default_priority": 3}))
        .collect();
    Ok(json(200, Value::Array(rows)))
}

pub fn priorities(q: &Query) -> Result<Response, Response> {
    let sla = qint(q, "slaid")?;
    let mut rows = Vec::new();
    for &slaid in SLAS.iter().filter(|s| sla.is_none_or(|x| x == **s)) {
        for (order, p) in PRIORITIES.iter().enumerate() {
            rows.push(json!({
                "id": format!("{:08x}-0000-4000-8000-{:012x}", slaid, p.0),
                "priorityid": p.0,
                "slaid": slaid,
                "name": p.1,
                "ishidden": p.2,
                "priorityorder": order + 1,
            }));
        }
    }
    Ok(json(200, Value::Array(rows)))
}

pub fn outcomes(q: &Query) -> Result<Response, Response> {
    let exclude_system = qbool(q, "excludesystemactions")?.unwrap_or(false);
    let rows: Vec<Value> = OUTCOMES
        .iter()
        .filter(|o| !(exclude_system && o.3))
        .map(|o| json!({"id": o.0, "outcome": o.1, "buttonname": o.2, "hidden": o.3, "newstatus": o.4}))
        .collect();
    Ok(json(200, Value::Array(rows)))
}

pub fn statuses(q: &Query) -> Result<Response, Response> {
    let exclude_closed = qbool(q, "excludeclosed")?.unwrap_or(false);
    let rows: Vec<Value> = STATUSES
        .iter()
        .filter(|s| !(exclude_closed && s.0 == CLOSED))
        .map(|s| json!({"id": s.0, "name": s.1, "type": s.2}))
        .collect();
    Ok(json(200, Value::Array(rows)))
}
