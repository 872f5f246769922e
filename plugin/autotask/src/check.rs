//! `test-connection`: one step per cause a person can fix.
//!
//! `form-valid`, `zone-lookup` (the user name), `credentials` (the three
//! headers), `customers-readable` (the security level), `tenant-field` (the
//! named user-defined field exists), `tickets-readable` (the security level
//! lets the API user read tickets, Autotask lets a query find tickets by
//! the field that keeps the deduplication key, and the form's queue, or
//! else the queue Autotask marks as default, is an active queue). A step
//! after a failed one is skipped.

use psa_connector_sdk::http::Transport;
use psa_connector_sdk::{CheckStep, ConfigEntry, Error, StepStatus};
use serde_json::{json, Value};

use crate::api::{self, Api};
use crate::customers::{query_body, QUERY};
use crate::messages as msg;

const STEPS: [(&str, &str); 6] = [
    ("form-valid", "Connection form filled in correctly"),
    ("zone-lookup", "Autotask zone found for the API user"),
    ("credentials", "Credentials accepted"),
    ("customers-readable", "Companies readable"),
    ("tenant-field", "Tenant id field present"),
    ("tickets-readable", "Tickets readable"),
];
const UDFS: &str = "/V1.0/Companies/entityInformation/userDefinedFields";

/// Run the steps.
pub fn run(config: Vec<ConfigEntry>, t: &mut dyn Transport) -> Vec<CheckStep> {
    let mut out: Vec<CheckStep> = Vec::new();
    let mut push = |status: StepStatus, message: String| {
        let (id, label) = STEPS[out.len()];
        out.push(CheckStep { id: id.into(), label: label.into(), status, message });
    };
    let result = steps(config, t, &mut push);
    if let Err(e) = result {
        push(StepStatus::Failed, e.message().to_string());
    }
    while out.len() < STEPS.len() {
        let (id, label) = STEPS[out.len()];
        out.push(CheckStep { id: id.into(), label: label.into(), status: StepStatus::Skipped, message: msg::SKIPPED.into() });
    }
    out
}

/// Pushes the passed steps; returns the failure of the step after them.
fn steps(config: Vec<ConfigEntry>, t: &mut dyn Transport, push: &mut dyn FnMut(StepStatus, String)) -> Result<(), Error> {
    let cfg = crate::config::parse(config)?;
    push(StepStatus::Passed, msg::step_form_ok());
    let udf = cfg.tenant_udf.clone();
    let mut api = Api::new(cfg);
    let zone = api.zone(t)?;
    push(StepStatus::Passed, msg::step_zone_ok(&origin_of(&zone)));
    let body = query_body(api.cfg.all_companies, 1);
    match api.call(t, &|base: &str| api::post_json(format!("{base}{QUERY}"), &body, QUERY)) {
        Ok((_, v)) => {
            push(StepStatus::Passed, msg::step_credentials_ok());
            let n = v.get("items").and_then(Value::as_array).map_or(0, Vec::len);
            push(StepStatus::Passed, msg::step_companies_ok(n));
        }
        Err(e @ Error::Unauthorized(_)) => return Err(e),
        Err(e) => {
            push(StepStatus::Passed, msg::step_credentials_ok());
            return Err(e);
        }
    }
    match udf {
        None => push(StepStatus::Passed, msg::step_udf_off()),
        Some(udf) => udf_step(&mut api, t, &udf, push)?,
    }
    tickets_step(&mut api, t, push)
}

/// Reads one ticket id with the deduplication key's field in the filter.
fn tickets_step(api: &mut Api, t: &mut dyn Transport, push: &mut dyn FnMut(StepStatus, String)) -> Result<(), Error> {
    use crate::tickets::{self, KeyField, TICKET_QUERY};
    let field = api.cfg.key_field;
    let probe = match field {
        KeyField::ExternalId => json!({"op": "eq", "field": "externalID", "value": "psa-connector-check"}),
        KeyField::Title => json!({"op": "contains", "field": "title", "value": "[psa-connector-check]"}),
    };
    let body = json!({"MaxRecords": 1, "IncludeFields": ["id"], "filter": [{"op": "and", "items": [{"op": "gte", "field": "id", "value": 0}, probe]}]});
    api.call(t, &|base: &str| api::post_json(format!("{base}{TICKET_QUERY}"), &body, TICKET_QUERY))
        .map_err(|e| tickets::key_field_refused(tickets::permission(e, tickets::PERM_READ), field))?;
    // Autotask needs a queue on every new ticket: the form's, else the one
    // Autotask marks as default. Checked here so that `check` fails, not the
    // first ticket.
    let queues = tickets::Picklists::default().values(api, t, tickets::Kind::Queue)?;
    let queue = match &api.cfg.ticket_queue {
        Some(q) => match queues.iter().find(|o| &o.id == q) {
            Some(o) => o,
            None => return Err(Error::config("ticket_queue_id", msg::step_queue_unknown(q, &queues))),
        },
        None => match queues.iter().find(|o| o.is_default) {
            Some(o) => o,
            None => return Err(Error::config("ticket_queue_id", msg::step_queue_missing(&queues))),
        },
    };
    push(StepStatus::Passed, msg::step_tickets_ok(field == KeyField::Title, &queue.id, &queue.name));
    Ok(())
}

fn udf_step(api: &mut Api, t: &mut dyn Transport, udf: &str, push: &mut dyn FnMut(StepStatus, String)) -> Result<(), Error> {
    let (_, v) = api.call(t, &|base: &str| api::get(format!("{base}{UDFS}"), UDFS))?;
    let list = v.get("fields").or_else(|| v.get("items")).and_then(Value::as_array);
    let names: Vec<String> = list
        .into_iter()
        .flatten()
        .filter_map(|f| f.get("name").or_else(|| f.get("label")).and_then(Value::as_str))
        .map(|s| msg::clip(s.trim(), 80))
        .collect();
    if names.iter().any(|n| n.eq_ignore_ascii_case(udf)) {
        push(StepStatus::Passed, msg::step_udf_ok(udf));
        Ok(())
    } else {
        Err(Error::config("tenant_udf", msg::step_udf_missing(udf, &names)))
    }
}

fn origin_of(zone: &str) -> String {
    url::Url::parse(zone).map_or_else(|_| zone.to_string(), |u| u.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::tests::{Script, ZoneAnswer, Z5};
    use crate::config::tests::{entries, BASE};
    use serde_json::json;

    fn statuses(s: &[CheckStep]) -> Vec<StepStatus> {
        s.iter().map(|s| s.status).collect()
    }
    use StepStatus::{Failed as F, Passed as P, Skipped as S};

    #[test]
    fn each_cause_its_step() {
        let s = run(entries(&BASE[..2]), &mut Script::new());
        assert_eq!(statuses(&s), [F, S, S, S, S, S]);
        assert!(s[0].message.contains("API integration code"));

        let s = run(entries(&BASE), &mut Script::new().json(500, json!({"errors": ["x"]})));
        assert_eq!(statuses(&s), [P, F, S, S, S, S]);
        assert!(s[1].message.contains("api@acme.com"));

        let mut t = Script::new().zone(Z5).json(401, json!({})).zone(Z5);
        let s = run(entries(&BASE), &mut t);
        assert_eq!(statuses(&s), [P, P, F, S, S, S]);
        assert!(s[2].message.contains("ApiIntegrationCode"));

        let denied = json!({"errors": ["The logged in Resource does not have the adequate permissions to query this entity type."]});
        let s = run(entries(&BASE), &mut Script::new().zone(Z5).json(500, denied));
        assert_eq!(statuses(&s), [P, P, P, F, S, S]);
        assert!(s[3].message.contains("API User (system)"));

        let one = json!({"items": [{"id": 1}], "pageDetails": {"count": 1}});
        let udfs = json!({"fields": [{"name": "NAV ID"}, {"name": "Microsoft 365 Tenant ID"}]});
        let tickets = json!({"items": [], "pageDetails": {"count": 0, "nextPageUrl": null}});
        let queues = json!({"fields": [{"name": "queueID", "picklistValues": [
            {"value": "29682833", "label": "Service Desk", "isActive": true, "isDefaultValue": true},
            {"value": "29682834", "label": "Monitoring", "isActive": true}]}]});
        let mut t = Script::new().zone(Z5).json(200, one.clone()).json(200, udfs.clone()).json(200, tickets.clone()).json(200, queues.clone());
        let s = run(entries(&BASE), &mut t);
        assert_eq!(statuses(&s), [P, P, P, P, P, P]);
        assert!(s[5].message.contains("29682833 (Service Desk)"), "{}", s[5].message);
        assert_eq!(t.sent[4].url, "https://webservices5.autotask.net/ATServicesRest/V1.0/Tickets/entityInformation/fields");
        assert_eq!(t.sent[3].url, "https://webservices5.autotask.net/ATServicesRest/V1.0/Tickets/query");
        let probe: Value = serde_json::from_slice(t.sent[3].body.as_deref().unwrap()).unwrap();
        assert_eq!(probe["filter"][0]["items"][1]["field"], "externalID");
        // Tickets not readable: the security-level permission is named.
        let denied_t = json!({"errors": ["The logged in Resource does not have the adequate permissions to query this entity type."]});
        let mut t = Script::new().zone(Z5).json(200, one.clone()).json(200, udfs.clone()).json(500, denied_t);
        let s = run(entries(&BASE), &mut t);
        assert_eq!(statuses(&s), [P, P, P, P, P, F]);
        assert!(s[5].message.contains("Service Desk: Tickets (view)"), "{}", s[5].message);
        // externalID not queryable: the form field to change is named.
        let refused = json!({"errors": ["Unable to find externalID in the Ticket entity."]});
        let mut t = Script::new().zone(Z5).json(200, one.clone()).json(200, udfs).json(500, refused);
        let s = run(entries(&BASE), &mut t);
        assert_eq!(statuses(&s), [P, P, P, P, P, F]);
        assert!(s[5].message.contains("Ticket key field"), "{}", s[5].message);
        assert_eq!(t.sent[2].url, "https://webservices5.autotask.net/ATServicesRest/V1.0/Companies/entityInformation/userDefinedFields");
        let body: Value = serde_json::from_slice(t.sent[1].body.as_deref().unwrap()).unwrap();
        assert_eq!(body["MaxRecords"], json!(1));

        let mut t = Script::new().zone(Z5).json(200, one.clone()).json(200, json!({"fields": [{"name": "NAV ID"}]}));
        let s = run(entries(&BASE), &mut t);
        assert_eq!(statuses(&s), [P, P, P, P, F, S]);
        assert!(s[4].message.contains("NAV ID"));

        let mut p = BASE.to_vec();
        p.push(("tenant_udf", ""));
        let s = run(entries(&p), &mut Script::new().zone(Z5).json(200, one.clone()).json(200, tickets.clone()).json(200, queues.clone()));
        assert_eq!(statuses(&s), [P, P, P, P, P, P]);
        assert!(s[4].message.contains("without Microsoft 365 tenant links"));
    }

    #[test]
    fn the_ticket_queue_must_resolve() {
        let one = json!({"items": [{"id": 1}], "pageDetails": {"count": 1}});
        let tickets = json!({"items": [], "pageDetails": {"count": 0, "nextPageUrl": null}});
        let queues = |default: bool| json!({"fields": [{"name": "queueID", "picklistValues": [
            {"value": "29682833", "label": "Service Desk", "isActive": true, "isDefaultValue": default},
            {"value": "29682835", "label": "Old Queue", "isActive": false}]}]});
        let run_with = |extra: &[(&'static str, &'static str)], default: bool| {
            let mut p = BASE.to_vec();
            p.push(("tenant_udf", ""));
            p.extend_from_slice(extra);
            run(entries(&p), &mut Script::new().zone(Z5).json(200, one.clone()).json(200, tickets.clone()).json(200, queues(default)))
        };
        // No queue on the form and none marked default: the first ticket would fail, so the check does.
        let s = run_with(&[], false);
        assert_eq!(statuses(&s), [P, P, P, P, P, F]);
        assert!(s[5].message.contains("ticket_queue_id") && s[5].message.contains("29682833 (Service Desk)"), "{}", s[5].message);
        // A queue that is inactive or unknown.
        for q in ["29682835", "12345"] {
            let s = if q == "12345" { run_with(&[("ticket_queue_id", "12345")], true) } else { run_with(&[("ticket_queue_id", "29682835")], true) };
            assert_eq!(statuses(&s), [P, P, P, P, P, F], "{q}");
            assert!(s[5].message.contains("ticket_queue_id") && s[5].message.contains(q), "{}", s[5].message);
        }
        // The form's queue, or Autotask's default.
        assert_eq!(statuses(&run_with(&[("ticket_queue_id", "29682833")], false)), [P, P, P, P, P, P]);
        assert_eq!(statuses(&run_with(&[], true)), [P, P, P, P, P, P]);
    }
}
