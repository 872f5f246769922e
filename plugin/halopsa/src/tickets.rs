//! `create-ticket`: `POST /Tickets` with an array of one ticket.

use serde_json::{json, Value};

use crate::field::parse_id;
use crate::error::Error;
use crate::messages as msg;
use crate::types::NewTicket;

/// A form value that must be a Halo id (a whole number).
pub fn parse_halo_int(field: &str, what: &str, raw: &str) -> Result<i64, Error> {
    raw.trim().parse::<i64>().map_err(|_| Error::config(field, msg::bad_integer(what, raw)))
}

/// The JSON body: an array with one ticket, ids as JSON integers.
pub fn build_body(t: &NewTicket) -> Result<Vec<u8>, Error> {
    let client_id = parse_halo_int("customer_id", "customer id", &t.customer_id)?;
    let mut ticket = json!({
        "client_id": client_id,
        "summary": t.summary,
        "details_html": t.details_html,
        "usertype": 1,
        "userlookup": {"id": -1},
        "_novalidate": true,
        "_forcereassign": true,
        "donotapplytemplateintheapi": true,
    });
    if let (Some(raw), Some(obj)) = (t.ticket_type_id.as_deref(), ticket.as_object_mut()) {
        obj.insert("tickettype_id".into(), json!(parse_halo_int("ticket_type_id", "ticket type id", raw)?));
    }
    if let (Some(raw), Some(obj)) = (t.priority_id.as_deref(), ticket.as_object_mut()) {
        obj.insert("priority_id".into(), json!(parse_halo_int("priority_id", "priority id", raw)?));
    }
    serde_json::to_vec(&Value::Array(vec![ticket])).map_err(|_| Error::Internal(msg::request_not_built("ticket JSON")))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(customer: &str, tt: Option<&str>, prio: Option<&str>) -> NewTicket {
        NewTicket {
            customer_id: customer.into(),
            summary: "Disk full".into(),
            details_html: "<p>C: is full</p>".into(),
            ticket_type_id: tt.map(Into::into),
            priority_id: prio.map(Into::into),
        }
    }

    #[test]
    fn body() {
        let b = build_body(&ticket(" 95 ", Some("3"), None)).unwrap();
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
        for (c, tt, p, field) in [
            ("95.0", None, None, "customer_id"),
            ("x", None, None, "customer_id"),
            ("95", Some("a"), None, "ticket_type_id"),
            ("95", None, Some("1.5"), "priority_id"),
        ] {
            match build_body(&ticket(c, tt, p)) {
                Err(Error::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{:?}", other.map(|_| ())),
            }
        }
    }

    #[test]
    fn created() {
        assert_eq!(parse_created("/api/Tickets", br#"{"id": 1234, "summary": "x"}"#).unwrap(), "1234");
        assert_eq!(parse_created("/api/Tickets", br#"[{"id": 77}]"#).unwrap(), "77");
        assert!(matches!(parse_created("/api/Tickets", br#"{"summary": "x"}"#), Err(Error::Protocol { .. })));
        assert!(matches!(parse_created("/api/Tickets", br#"[]"#), Err(Error::Protocol { .. })));
        assert!(matches!(parse_created("/api/Tickets", b"nope"), Err(Error::Protocol { .. })));
    }
}
