//! Tickets and ticket notes (notes B5), with what was posted kept for tests.
//!
//! | Route | Answer | Confidence |
//! |---|---|---|
//! | `POST Tickets` with one JSON object (an array is refused) | `{"itemId": N}` | confirmed (A1, A2, Anteris-Dev#52) |
//! | `GET Tickets/{id}` | `{"item": {..., "ticketNumber": "T20261130.0001"}}` | confirmed (A1, A2) |
//! | `POST Tickets/query` (and `GET ?search=`, next pages) with filters on `id, companyID, title, description, status, priority, queueID, ticketType, source, externalID, ticketNumber` | items and `pageDetails` as for companies | path confirmed (A1); the filter pattern (companyID eq, status noteq 5) from real code (B5); `externalID` queryable \[unsure\]: [`crate::SimOptions::external_id_queryable`] |
//! | `POST Tickets/{id}/Notes` `{title, description, noteType, publish}` | `{"itemId": N}`; an unknown ticket: 500 "No matching records found" | path confirmed (A1); body from A3; the 500 text as for deletes (A2) |
//! | `GET Tickets/entityInformation/fields`, `GET TicketNotes/entityInformation/fields` | `{"fields": [{name, dataType, isPickList, picklistValues: [{value, label, isActive, isDefaultValue, sortOrder}]}]}` | path confirmed (A1); the values are one instance's (A5's dump, B5), others \[unsure\] |
//! | Required fields missing, an inactive or unknown picklist value, a description too long, an unknown company | 500 with `errors` | errors as 500: confirmed (A2); the texts are the simulator's |
//! | Permissions | 500 "does not have the adequate permissions" | confirmed (A2): [`crate::Faults::tickets_read_denied`], [`crate::Faults::tickets_write_denied`] |
//!
//! Picklists ([`TicketPicklists::default`]): status 1 New (default), 5 Complete, 7 Waiting
//! Customer, 8 In Progress; priority 1 High, 2 Normal (default), 3 Low, 4 Critical; queueID
//! 29682833 Service Desk, 29682834 Monitoring, 29682835 Old Queue (inactive); ticketType 1
//! Service Request (default), 5 Alert; source 8 Monitoring Alert (default), 2 Phone; note
//! noteType 1 Task Summary, 2 Task Detail, 3 Task Notes (default); publish 1 All Autotask Users,
//! 2 Internal Only (B5 calls publish \[unsure\]; the brief and A3 use 1 for all).

use crate::filter::{Entity, Record, Scalar};
use serde_json::{json, Map, Value};

/// One picklist value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pick {
    pub value: i64,
    pub label: String,
    pub is_active: bool,
    pub is_default: bool,
}

fn pick(value: i64, label: &str, is_default: bool) -> Pick {
    Pick { value, label: label.to_string(), is_active: true, is_default }
}

/// The picklists of the `Tickets` and `TicketNotes` entities.
#[derive(Clone, Debug)]
pub struct TicketPicklists {
    pub status: Vec<Pick>,
    pub priority: Vec<Pick>,
    pub queue_id: Vec<Pick>,
    pub ticket_type: Vec<Pick>,
    pub source: Vec<Pick>,
    /// `TicketNotes.noteType`.
    pub note_type: Vec<Pick>,
    /// `TicketNotes.publish`.
    pub publish: Vec<Pick>,
}

impl Default for TicketPicklists {
    fn default() -> Self {
        TicketPicklists {
            status: vec![pick(1, "New", true), pick(5, "Complete", false), pick(7, "Waiting Customer", false), pick(8, "In Progress", false)],
            priority: vec![pick(1, "High", false), pick(2, "Normal", true), pick(3, "Low", false), pick(4, "Critical", false)],
            queue_id: vec![
                pick(29682833, "Service Desk", false),
                pick(29682834, "Monitoring", false),
                Pick { is_active: false, ..pick(29682835, "Old Queue", false) },
            ],
            ticket_type: vec![pick(1, "Service Request", true), pick(5, "Alert", false)],
            source: vec![pick(8, "Monitoring Alert", true), pick(2, "Phone", false)],
            note_type: vec![pick(1, "Task Summary", false), pick(2, "Task Detail", false), pick(3, "Task Notes", true)],
            publish: vec![pick(1, "All Autotask Users", true), pick(2, "Internal Only", false)],
        }
    }
}

impl TicketPicklists {
    /// The ticket field (Autotask's spelling) and its picklist.
    pub fn ticket_fields(&self) -> [(&'static str, &Vec<Pick>); 5] {
        [
            ("status", &self.status),
            ("priority", &self.priority),
            ("queueID", &self.queue_id),
            ("ticketType", &self.ticket_type),
            ("source", &self.source),
        ]
    }
}

/// A ticket as posted and stored.
#[derive(Clone, Debug)]
pub struct SimTicket {
    pub id: i64,
    pub ticket_number: String,
    pub company_id: i64,
    pub title: String,
    pub description: Option<String>,
    pub status: i64,
    pub priority: i64,
    pub queue_id: Option<i64>,
    pub ticket_type: Option<i64>,
    pub source: Option<i64>,
    pub external_id: Option<String>,
    /// The JSON object exactly as posted.
    pub posted: Value,
}

impl SimTicket {
    /// The item `GET Tickets/{id}` and queries serve.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id, "ticketNumber": self.ticket_number, "companyID": self.company_id, "title": self.title,
            "description": self.description, "status": self.status, "priority": self.priority, "queueID": self.queue_id,
            "ticketType": self.ticket_type, "source": self.source, "externalID": self.external_id,
            "createDate": "2026-11-30T12:00:00.00Z",
        })
    }
}

impl Record for SimTicket {
    fn field(&self, field: &str, _udf: bool) -> Scalar {
        let opt_int = |v: Option<i64>| v.map_or(Scalar::Null, Scalar::Int);
        let opt_str = |v: &Option<String>| v.clone().map_or(Scalar::Null, Scalar::Str);
        match field.to_ascii_lowercase().as_str() {
            "id" => Scalar::Int(self.id),
            "companyid" => Scalar::Int(self.company_id),
            "title" => Scalar::Str(self.title.clone()),
            "description" => opt_str(&self.description),
            "status" => Scalar::Int(self.status),
            "priority" => Scalar::Int(self.priority),
            "queueid" => opt_int(self.queue_id),
            "tickettype" => opt_int(self.ticket_type),
            "source" => opt_int(self.source),
            "externalid" => opt_str(&self.external_id),
            "ticketnumber" => Scalar::Str(self.ticket_number.clone()),
            _ => Scalar::Null,
        }
    }
}

/// The ticket fields a filter may name (`externalID` only when queryable).
pub fn ticket_entity(external_id_queryable: bool) -> Entity {
    let mut fields =
        vec!["id", "companyID", "title", "description", "status", "priority", "queueID", "ticketType", "source", "ticketNumber"];
    if external_id_queryable {
        fields.push("externalID");
    }
    Entity { name: "Ticket", fields }
}

/// A query body with every condition on `companyID` left out (and groups left empty by
/// that dropped), for [`crate::SimOptions::ticket_query_ignores_company`].
pub fn without_company(v: &Value) -> Value {
    fn strip(items: &[Value]) -> Vec<Value> {
        items
            .iter()
            .filter(|i| !i.get("field").and_then(Value::as_str).is_some_and(|f| f.eq_ignore_ascii_case("companyID")))
            .map(|i| match i.get("items").and_then(Value::as_array) {
                Some(inner) => {
                    let mut i = i.clone();
                    i["items"] = Value::Array(strip(inner));
                    i
                }
                None => i.clone(),
            })
            .collect()
    }
    let mut out = v.clone();
    for key in ["filter", "Filter"] {
        if let Some(items) = v.get(key).and_then(Value::as_array) {
            out[key] = Value::Array(strip(items));
        }
    }
    out
}

/// A note as posted and stored.
#[derive(Clone, Debug)]
pub struct SimNote {
    pub id: i64,
    pub ticket_id: i64,
    pub title: String,
    pub description: String,
    pub note_type: i64,
    pub publish: i64,
    /// The JSON object exactly as posted.
    pub posted: Value,
}

fn get<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    o.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v).filter(|v| !v.is_null())
}

fn int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// Checks a posted ticket against the required fields, the picklists and the companies, and
/// stores it. `Err` is the error text of a 500.
pub fn create_ticket(st: &mut crate::state::Inner, body: &[u8]) -> Result<i64, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("The ticket is not valid JSON: {e}"))?;
    let Some(o) = v.as_object() else {
        return Err("The request body must be a single Ticket object.".to_string());
    };
    let o2 = &st.opts;
    let mut missing: Vec<&str> = Vec::new();
    for f in &o2.ticket_required {
        let present = get(o, f).is_some_and(|v| !v.as_str().is_some_and(|s| s.trim().is_empty()));
        if !present {
            missing.push(f);
        }
    }
    if !missing.is_empty() {
        return Err(format!("Missing Required Field: {}.", missing.join(", ")));
    }
    for (field, list) in o2.ticket_picklists.ticket_fields() {
        if let Some(raw) = get(o, field) {
            let n = int(raw).ok_or_else(|| format!("Value {raw} of field {field} is not an integer."))?;
            if !list.iter().any(|p| p.value == n && p.is_active) {
                return Err(format!("Value {n} does not exist or is inactive for picklist field {field}."));
            }
        }
    }
    let company_id = get(o, "companyID").and_then(int).unwrap_or(0);
    if !o2.companies.iter().any(|c| c.id == company_id) {
        return Err(format!("Reference value on field: companyID of type: Company does not exist or is invalid ({company_id})."));
    }
    let description = get(o, "description").and_then(Value::as_str).map(str::to_string);
    if let Some(d) = &description {
        let n = d.chars().count();
        if n > o2.ticket_description_max {
            return Err(format!("The description is {n} characters long; at most {} are allowed.", o2.ticket_description_max));
        }
    }
    let title = get(o, "title").and_then(Value::as_str).unwrap_or_default().to_string();
    if title.chars().count() > 255 {
        return Err("The title is longer than 255 characters.".to_string());
    }
    let id = 8000 + st.tickets.len() as i64 * 3 + 1;
    let t = SimTicket {
        id,
        ticket_number: format!("T20261130.{:04}", st.tickets.len() + 1),
        company_id,
        title,
        description,
        status: get(o, "status").and_then(int).unwrap_or(1),
        priority: get(o, "priority").and_then(int).unwrap_or(2),
        queue_id: get(o, "queueID").and_then(int),
        ticket_type: get(o, "ticketType").and_then(int),
        source: get(o, "source").and_then(int),
        external_id: get(o, "externalID").and_then(Value::as_str).map(str::to_string),
        posted: v.clone(),
    };
    st.tickets.push(t);
    Ok(id)
}

/// Checks a posted note and stores it. `Err` is the error text of a 500.
pub fn create_note(st: &mut crate::state::Inner, ticket_id: i64, body: &[u8]) -> Result<i64, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("The note is not valid JSON: {e}"))?;
    let Some(o) = v.as_object() else {
        return Err("The request body must be a single TicketNote object.".to_string());
    };
    if !st.tickets.iter().any(|t| t.id == ticket_id) {
        return Err(format!("No matching records found. The Ticket {ticket_id} does not exist."));
    }
    let p = &st.opts.ticket_picklists;
    let mut missing = Vec::new();
    for f in ["title", "description", "noteType", "publish"] {
        if get(o, f).is_none() {
            missing.push(f);
        }
    }
    if !missing.is_empty() {
        return Err(format!("Missing Required Field: {}.", missing.join(", ")));
    }
    let picked = |field: &str, list: &Vec<Pick>| -> Result<i64, String> {
        let n = get(o, field).and_then(int).ok_or_else(|| format!("Field {field} must be an integer."))?;
        if list.iter().any(|p| p.value == n && p.is_active) {
            Ok(n)
        } else {
            Err(format!("Value {n} does not exist or is inactive for picklist field {field}."))
        }
    };
    let note_type = picked("noteType", &p.note_type)?;
    let publish = picked("publish", &p.publish)?;
    let description = get(o, "description").and_then(Value::as_str).unwrap_or_default().to_string();
    let n = description.chars().count();
    if n > st.opts.note_description_max {
        return Err(format!("The description is {n} characters long; at most {} are allowed.", st.opts.note_description_max));
    }
    let title = get(o, "title").and_then(Value::as_str).unwrap_or_default().to_string();
    if title.chars().count() > 250 {
        return Err("The title is longer than 250 characters.".to_string());
    }
    let id = 70_000 + st.notes.len() as i64 * 7 + 3;
    st.notes.push(SimNote { id, ticket_id, title, description, note_type, publish, posted: v.clone() });
    Ok(id)
}

fn picklist_json(name: &str, list: &[Pick], required: bool) -> Value {
    let values: Vec<Value> = list
        .iter()
        .enumerate()
        .map(|(i, p)| json!({"value": p.value.to_string(), "label": p.label, "isDefaultValue": p.is_default, "sortOrder": i, "parentValue": "", "isActive": p.is_active, "isSystem": false}))
        .collect();
    json!({"name": name, "dataType": "integer", "isRequired": required, "isReadOnly": false, "isQueryable": true, "isPickList": true, "picklistValues": values})
}

/// `GET Tickets/entityInformation/fields`.
pub fn ticket_fields(opts: &crate::SimOptions) -> Value {
    let plain = |name: &str, dt: &str| json!({"name": name, "dataType": dt, "isRequired": false, "isReadOnly": false, "isQueryable": true, "isPickList": false, "picklistValues": null});
    let mut fields = vec![plain("id", "long"), plain("companyID", "integer"), plain("title", "string"), plain("description", "string")];
    for (name, list) in opts.ticket_picklists.ticket_fields() {
        fields.push(picklist_json(name, list, opts.ticket_required.iter().any(|r| r.eq_ignore_ascii_case(name))));
    }
    fields.push(plain("externalID", "string"));
    json!({ "fields": fields })
}

/// `GET TicketNotes/entityInformation/fields`.
pub fn note_fields(opts: &crate::SimOptions) -> Value {
    let p = &opts.ticket_picklists;
    json!({"fields": [picklist_json("noteType", &p.note_type, true), picklist_json("publish", &p.publish, true)]})
}
