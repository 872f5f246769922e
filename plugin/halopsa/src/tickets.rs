//! `create-ticket`: `POST /Tickets` with an array of one ticket.

use serde_json::{json, Value};

use crate::field::parse_id;
use crate::error::Error;
use crate::messages as msg;
use crate::types::{NewTicket, OptionKind, TicketBody};

/// The body as Halo stores it (HTML): the HTML form when given, else the
/// text with `&`, `<`, `>` escaped and line breaks as `<br>`.
pub fn body_html(b: &TicketBody) -> String {
    match &b.html {
        Some(h) => h.clone(),
        None => {
            let escaped = b.text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
            escaped.replace("\r\n", "\n").replace('\n', "<br>")
        }
    }
}

/// The chosen option of `kind`, if any (the first, should there be several).
fn option(t: &NewTicket, kind: OptionKind) -> Option<&str> {
    t.options.iter().find(|o| o.kind == kind).map(|o| o.id.as_str())
}

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
        "details_html": body_html(&t.details),
        "usertype": 1,
        "userlookup": {"id": -1},
        "_novalidate": true,
        "_forcereassign": true,
        "donotapplytemplateintheapi": true,
    });
    if let (Some(raw), Some(obj)) = (option(t, OptionKind::TicketType), ticket.as_object_mut()) {
        obj.insert("tickettype_id".into(), json!(parse_halo_int("ticket_type_id", "ticket type id", raw)?));
    }
    if let (Some(raw), Some(obj)) = (option(t, OptionKind::Priority), ticket.as_object_mut()) {
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

    use crate::types::OptionChoice;

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
        let b = |text: &str, html: Option<&str>| body_html(&TicketBody { text: text.into(), html: html.map(Into::into) });
        assert_eq!(b("a < b & c\r\nnext", None), "a &lt; b &amp; c<br>next");
        assert_eq!(b("ignored", Some("<p>x</p>")), "<p>x</p>");
        let v: Value = serde_json::from_slice(&build_body(&ticket("95", None, None)).unwrap()).unwrap();
        assert_eq!(v[0]["details_html"], json!("<p>C: is full</p>"));
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
