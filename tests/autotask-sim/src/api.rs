//! The two kinds of listener.
//!
//! Zone lookup (`lookup`): `GET /ATServicesRest/V1.0/zoneInformation?user=U` (no auth) and
//! `GET /ATServicesRest/versionInformation`.
//!
//! Zones (`zone`), under `/ATServicesRest/V1.0/`: `Companies/query` (POST body or GET
//! `?search=`), `Companies/query/next?paging=` (the next-page URLs), `Companies/query/count`,
//! `Companies/{id}`, `Companies/entityInformation/fields`,
//! `Companies/entityInformation/userDefinedFields`, `ThresholdInformation`. Per request, in
//! order: path prefix (404); `UserName`/`Secret` (401); `ApiIntegrationCode` (500 or 401);
//! the database not on this zone (401); the hourly budget; the endpoint's thread slot (held
//! through the latency); the permission fault; the route. Paths, query keys, JSON keys and
//! field names are case-insensitive.

// Handlers return `Result<Response, Response>`: the error is simply the answer to send.
#![allow(clippy::result_large_err)]

use crate::data::COMPANY_TYPES;
use crate::filter::Query;
use crate::options::{BadIntegrationCode, CountRule, LastPage, LimitAnswer, Listener, LoggedRequest, OverCap, UnknownUser};
use crate::state::Shared;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::time::Duration;

/// The permission error text (notes B6, [confirmed A2]).
pub const PERMISSION_TEXT: &str =
    "The logged in Resource does not have the adequate permissions to query this entity type. Check the API user's security level.";

fn json_resp(status: u16, body: Value) -> Response {
    let mut r = (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), body.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    r
}

fn errors(status: u16, msg: &str) -> Response {
    json_resp(status, json!({ "errors": [msg] }))
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

const AUTH_HEADERS: &[&str] = &["UserName", "Secret", "ApiIntegrationCode", "ImpersonationResourceId"];

fn query_param(query: &str, key: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.into_owned())
}

struct Seen {
    method: String,
    path: String,
    query: String,
    auth_headers: Vec<String>,
    content_length: Option<String>,
}

impl Seen {
    fn of(req: &Request) -> Seen {
        let h = req.headers();
        Seen {
            method: req.method().to_string(),
            path: req.uri().path().to_string(),
            query: req.uri().query().unwrap_or("").to_string(),
            auth_headers: AUTH_HEADERS.iter().filter(|n| h.contains_key(**n)).map(|n| n.to_string()).collect(),
            content_length: header_str(h, "content-length").map(str::to_string),
        }
    }

    fn log(self, shared: &Shared, listener: Listener, status: u16, fault: Option<&str>) {
        shared.lock().log.push(LoggedRequest {
            listener,
            method: self.method,
            path: self.path,
            query: self.query,
            status,
            fault: fault.map(str::to_string),
            auth_headers: self.auth_headers,
            content_length: self.content_length,
        });
    }
}

/// With [`crate::SimOptions::case_sensitive_path`], only `/ATServicesRest/...` is served.
fn path_spelling_ok(shared: &Shared, path: &str) -> bool {
    !shared.lock().opts.case_sensitive_path || path.starts_with("/ATServicesRest/")
}

fn latency(shared: &Shared) -> Duration {
    Duration::from_millis(shared.lock().faults.latency_ms)
}

/// The zone lookup listener.
pub async fn lookup(State(shared): State<Shared>, req: Request) -> Response {
    let seen = Seen::of(&req);
    let d = latency(&shared);
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
    let lower = seen.path.to_ascii_lowercase();
    let resp = if !path_spelling_ok(&shared, &seen.path) {
        errors(404, "No HTTP resource was found that matches the request URI.")
    } else if seen.method != "GET" {
        errors(405, "The requested resource does not support this HTTP method.")
    } else if lower == "/atservicesrest/versioninformation" {
        json_resp(200, json!({ "apiVersions": ["1.0"] }))
    } else if lower == "/atservicesrest/v1.0/zoneinformation" {
        let user = query_param(&seen.query, "user").unwrap_or_default();
        let st = shared.lock();
        if !user.trim().is_empty() && user.trim().eq_ignore_ascii_case(&st.opts.username) {
            let z = st.database_zone;
            let base = &st.zone_bases[z];
            let url = st.opts.lookup_answers_url.clone().unwrap_or_else(|| format!("{base}/ATServicesRest/"));
            json_resp(
                200,
                json!({"zoneName": format!("Simulated Zone {}", z + 1), "url": url, "webUrl": format!("{base}/"), "ci": z + 1}),
            )
        } else {
            let status = if st.opts.unknown_user == UnknownUser::NotFound { 404 } else { 500 };
            errors(status, "Zone information could not be determined for this user name.")
        }
    } else {
        errors(404, "No HTTP resource was found that matches the request URI.")
    };
    seen.log(&shared, Listener::Lookup, resp.status().as_u16(), None);
    resp
}

/// The lookup listener when it serves the zones too
/// ([`SimOptions::zones_on_lookup_listener`](crate::SimOptions)): a path
/// under `/zone<N>/` goes, without that prefix, to zone N.
pub async fn lookup_or_zone(State(shared): State<Shared>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let zones = shared.lock().zone_bases.len();
    let target = path
        .strip_prefix("/zone")
        .and_then(|rest| rest.split_once('/'))
        .and_then(|(n, rest)| n.parse::<usize>().ok().filter(|n| *n < zones).map(|n| (n, format!("/{rest}"))));
    let Some((idx, rest)) = target else {
        return lookup(State(shared), req).await;
    };
    let (mut parts, body) = req.into_parts();
    let pq = match parts.uri.query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest,
    };
    match pq.parse() {
        Ok(uri) => parts.uri = uri,
        Err(_) => return errors(400, "Bad request path."),
    }
    zone(State((shared, idx)), Request::from_parts(parts, body)).await
}

/// A zone listener: state and its index.
pub async fn zone(State((shared, idx)): State<(Shared, usize)>, req: Request) -> Response {
    let seen = Seen::of(&req);
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
    let (resp, fault) = match zone_checked(&shared, idx, &seen, &headers, &body).await {
        Ok(r) => (r, None),
        Err((r, f)) => (r, Some(f)),
    };
    seen.log(&shared, Listener::Zone(idx), resp.status().as_u16(), fault);
    resp
}

fn limit_answer(shared: &Shared, how: LimitAnswer, msg: &str) -> Response {
    let mut r = errors(if how == LimitAnswer::TooManyRequests { 429 } else { 500 }, msg);
    if how == LimitAnswer::TooManyRequests {
        if let Some(n) = shared.lock().faults.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(n));
        }
    }
    r
}

async fn zone_checked(
    shared: &Shared,
    idx: usize,
    seen: &Seen,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, (Response, &'static str)> {
    let lower = seen.path.to_ascii_lowercase();
    let segs: Vec<&str> = lower.split('/').filter(|s| !s.is_empty()).collect();
    if segs.len() < 3 || segs[0] != "atservicesrest" || segs[1] != "v1.0" || !path_spelling_ok(shared, &seen.path) {
        return Ok(errors(404, "No HTTP resource was found that matches the request URI."));
    }
    let ticket_entity = matches!(segs[2], "tickets" | "ticketnotes");
    let is_query = segs.get(3) == Some(&"query");
    let (user_ok, code_ok, moved, thread_answer, budget_answer, max, mut permission) = {
        let st = shared.lock();
        let o = &st.opts;
        let user_ok = header_str(headers, "UserName").is_some_and(|u| u.trim().eq_ignore_ascii_case(&o.username))
            && header_str(headers, "Secret") == Some(o.secret.as_str());
        let code_ok = header_str(headers, "ApiIntegrationCode") == Some(o.integration_code.as_str());
        (
            user_ok,
            code_ok,
            st.database_zone != idx,
            o.thread_answer,
            o.budget_answer,
            o.budget.as_ref().map_or(0, |b| b.max_requests),
            st.faults.permission_denied,
        )
    };
    if ticket_entity {
        let f = shared.lock().faults.clone();
        let write = seen.method == "POST" && !is_query;
        permission |= if write { f.tickets_write_denied } else { f.tickets_read_denied };
    }
    if !user_ok {
        return Err((json_resp(401, json!({})), "unauthorized"));
    }
    if !code_ok {
        let r = match shared.lock().opts.bad_integration_code {
            BadIntegrationCode::ServerError => {
                errors(500, "IntegrationCode is invalid. Check the ApiIntegrationCode header (the API user's tracking identifier).")
            }
            BadIntegrationCode::Unauthorized => json_resp(401, json!({})),
        };
        return Err((r, "integration-code"));
    }
    if moved {
        return Err((json_resp(401, json!({})), "moved"));
    }
    if shared.over_budget() {
        let msg = format!(
            "Request threshold exceeded: the database has used its {max} API requests for the current 60 minute timeframe. Try again later."
        );
        return Err((limit_answer(shared, budget_answer, &msg), "threshold"));
    }
    let endpoint = segs[2].to_string();
    let Some(_slot) = shared.take_slot(&endpoint) else {
        let limit = shared.lock().opts.thread_limit.unwrap_or(0);
        let msg = format!(
            "Itgenatr005: The thread threshold of {limit} concurrent requests for the {endpoint} endpoint has been exceeded. Try again later."
        );
        return Err((limit_answer(shared, thread_answer, &msg), "thread-limit"));
    };
    let d = latency(shared);
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
    if permission {
        return Err((errors(500, PERMISSION_TEXT), "permission"));
    }
    let resp = route(shared, idx, &seen.method, &segs[2..], &seen.query, body);
    let company_page = matches!(
        (seen.method.as_str(), &segs[2..]),
        ("POST" | "GET", ["companies", "query"]) | ("GET", ["companies", "query", "next"])
    );
    if company_page && resp.status() == StatusCode::OK {
        shared.company_page_served();
    }
    Ok(resp)
}

fn route(shared: &Shared, idx: usize, method: &str, segs: &[&str], query: &str, body: &[u8]) -> Response {
    let r = match (method, segs) {
        ("GET", ["thresholdinformation"]) => {
            let used = shared.budget_used();
            let st = shared.lock();
            let (max, mins) = st.opts.budget.as_ref().map_or((0, 0), |b| (b.max_requests, b.window.as_secs() / 60));
            Ok(json_resp(
                200,
                json!({"externalRequestThreshold": max, "requestThresholdTimeframe": mins, "currentTimeframeRequestCount": used}),
            ))
        }
        ("POST", ["companies", "query"]) => parse_body(body).and_then(|v| run_query(shared, idx, v, None)),
        ("GET", ["companies", "query"]) => search(query).and_then(|v| run_query(shared, idx, v, None)),
        ("POST", ["companies", "query", "count"]) => parse_body(body).and_then(|v| count(shared, v)),
        ("GET", ["companies", "query", "count"]) => search(query).and_then(|v| count(shared, v)),
        ("GET", ["companies", "query", "next"]) => next_page(shared, idx, query),
        ("GET", ["companies", "entityinformation", "userdefinedfields"]) => Ok(udf_definitions(shared)),
        ("GET", ["companies", "entityinformation", "fields"]) => Ok(field_definitions()),
        ("POST", ["tickets"]) => {
            let mut st = shared.lock();
            match crate::tickets::create_ticket(&mut st, body) {
                Ok(id) => Ok(json_resp(200, json!({ "itemId": id }))),
                Err(m) => Err(errors(500, &m)),
            }
        }
        ("POST", ["tickets", "query"]) => parse_body(body).and_then(|v| ticket_query(shared, idx, v, None)),
        ("GET", ["tickets", "query"]) => search(query).and_then(|v| ticket_query(shared, idx, v, None)),
        ("GET", ["tickets", "query", "next"]) => next_ticket_page(shared, idx, query),
        ("GET", ["tickets", "entityinformation", "fields"]) => Ok(json_resp(200, crate::tickets::ticket_fields(&shared.lock().opts))),
        ("GET", ["ticketnotes", "entityinformation", "fields"]) => Ok(json_resp(200, crate::tickets::note_fields(&shared.lock().opts))),
        ("GET", ["tickets", id]) => match id.parse::<i64>() {
            Ok(id) => {
                let st = shared.lock();
                let item = st.tickets.iter().find(|t| t.id == id).map(|t| t.to_json());
                Ok(json_resp(200, json!({ "item": item })))
            }
            Err(_) => Err(errors(500, &format!("The id {id} is not a valid ticket id."))),
        },
        ("POST", ["tickets", id, "notes"]) => match id.parse::<i64>() {
            Ok(id) => {
                let mut st = shared.lock();
                match crate::tickets::create_note(&mut st, id, body) {
                    Ok(n) => Ok(json_resp(200, json!({ "itemId": n }))),
                    Err(m) => Err(errors(500, &m)),
                }
            }
            Err(_) => Err(errors(500, &format!("The id {id} is not a valid ticket id."))),
        },
        ("GET", ["companies", id]) => match id.parse::<i64>() {
            Ok(id) => {
                let st = shared.lock();
                let item = st.opts.companies.iter().find(|c| c.id == id).map(|c| c.to_json(st.opts.empty_udfs));
                Ok(json_resp(200, json!({ "item": item })))
            }
            Err(_) => Err(errors(500, &format!("The id {id} is not a valid company id."))),
        },
        _ => Err(errors(404, "No HTTP resource was found that matches the request URI.")),
    };
    r.unwrap_or_else(|e| e)
}

fn parse_body(body: &[u8]) -> Result<Value, Response> {
    serde_json::from_slice(body).map_err(|e| errors(500, &format!("The query body is not valid JSON: {e}")))
}

fn search(query: &str) -> Result<Value, Response> {
    let s = query_param(query, "search").ok_or_else(|| errors(500, "The search parameter is required."))?;
    serde_json::from_str(&s).map_err(|e| errors(500, &format!("The search parameter is not valid JSON: {e}")))
}

fn parsed(shared: &Shared, v: &Value) -> Result<Query, Response> {
    let entity = crate::filter::companies(shared.lock().opts.change_fields);
    Query::parse_for(v.to_string().as_bytes(), &entity).map_err(|m| errors(500, &m))
}

fn count(shared: &Shared, v: Value) -> Result<Response, Response> {
    let q = parsed(shared, &v)?;
    let st = shared.lock();
    if st.opts.require_filter && !q.has_condition() {
        return Err(errors(500, "A query requires at least one filter condition."));
    }
    let n = st.opts.companies.iter().filter(|c| q.matches(*c)).count();
    Ok(json_resp(200, json!({ "queryCount": n })))
}

/// Runs a query from `after` (exclusive id) on.
fn run_query(shared: &Shared, idx: usize, v: Value, after: Option<i64>) -> Result<Response, Response> {
    let q = parsed(shared, &v)?;
    let st = shared.lock();
    let o = &st.opts;
    if o.require_filter && !q.has_condition() {
        return Err(errors(500, "A query requires at least one filter condition."));
    }
    let cap = o.page_cap.max(1);
    let served = match q.max_records {
        None => cap,
        Some(m) if m >= 1 && (m as u64) <= cap as u64 => m as usize,
        Some(m) if o.over_cap == OverCap::Reject => {
            return Err(errors(500, &format!("MaxRecords must be between 1 and {cap}; it was {m}.")));
        }
        Some(_) => cap,
    };
    let mut all: Vec<_> = o.companies.iter().filter(|c| q.matches(*c)).collect();
    all.sort_by_key(|c| c.id);
    let total = all.len();
    let rest: Vec<_> = all.into_iter().filter(|c| after.is_none_or(|a| c.id > a)).collect();
    let page = &rest[..rest.len().min(served)];
    let items: Vec<Value> = page
        .iter()
        .map(|c| {
            let full = c.to_json(o.empty_udfs);
            match (&q.include_fields, full) {
                (Some(keep), Value::Object(m)) => {
                    Value::Object(m.into_iter().filter(|(k, _)| keep.iter().any(|f| f.eq_ignore_ascii_case(k))).collect())
                }
                (_, full) => full,
            }
        })
        .collect();
    let next = (rest.len() > page.len()).then(|| {
        let last = page.last().map_or(0, |c| c.id);
        let token = hex(json!({ "query": v, "after": last }).to_string().as_bytes());
        let base = o.next_page_host.clone().unwrap_or_else(|| st.zone_bases[idx].clone());
        format!("{base}/ATServicesRest/V1.0/Companies/query/next?paging={token}")
    });
    let count = if o.count_rule == CountRule::TotalMatching { total } else { page.len() };
    let mut details = serde_json::Map::new();
    details.insert("count".into(), json!(count));
    details.insert("requestCount".into(), json!(served));
    details.insert("prevPageUrl".into(), Value::Null);
    match (next, o.last_page) {
        (Some(u), _) => {
            details.insert("nextPageUrl".into(), json!(u));
        }
        (None, LastPage::Null) => {
            details.insert("nextPageUrl".into(), Value::Null);
        }
        (None, LastPage::Empty) => {
            details.insert("nextPageUrl".into(), json!(""));
        }
        (None, LastPage::Omitted) => {}
    }
    Ok(json_resp(200, json!({ "items": items, "pageDetails": Value::Object(details) })))
}

fn next_page(shared: &Shared, idx: usize, query_str: &str) -> Result<Response, Response> {
    let bad = || errors(500, "The paging state of this next-page URL is not valid.");
    let token = query_param(query_str, "paging").ok_or_else(bad)?;
    let raw = unhex(&token).ok_or_else(bad)?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let after = v.get("after").and_then(Value::as_i64).ok_or_else(bad)?;
    let q = v.get("query").cloned().ok_or_else(bad)?;
    run_query(shared, idx, q, Some(after))
}

/// A ticket query from `after` (exclusive id) on, at most the page cap a page.
fn ticket_query(shared: &Shared, idx: usize, v: Value, after: Option<i64>) -> Result<Response, Response> {
    let st = shared.lock();
    let o = &st.opts;
    let entity = crate::tickets::ticket_entity(o.external_id_queryable);
    let filtered = if o.ticket_query_ignores_company { crate::tickets::without_company(&v) } else { v.clone() };
    let q = Query::parse_for(filtered.to_string().as_bytes(), &entity).map_err(|m| errors(500, &m))?;
    if o.require_filter && !q.has_condition() {
        return Err(errors(500, "A query requires at least one filter condition."));
    }
    let cap = o.page_cap.max(1);
    let served = q.max_records.filter(|m| *m >= 1 && (*m as u64) <= cap as u64).map_or(cap, |m| m as usize);
    let mut all: Vec<_> = st.tickets.iter().filter(|t| q.matches(*t)).collect();
    all.sort_by_key(|t| t.id);
    let rest: Vec<_> = all.into_iter().filter(|t| after.is_none_or(|a| t.id > a)).collect();
    let page = &rest[..rest.len().min(served)];
    let next = (rest.len() > page.len()).then(|| {
        let last = page.last().map_or(0, |t| t.id);
        let token = hex(json!({ "query": v, "after": last }).to_string().as_bytes());
        format!("{}/ATServicesRest/V1.0/Tickets/query/next?paging={token}", st.zone_bases[idx])
    });
    let items: Vec<Value> = page.iter().map(|t| t.to_json()).collect();
    Ok(json_resp(
        200,
        json!({"items": items, "pageDetails": {"count": page.len(), "requestCount": served, "prevPageUrl": null, "nextPageUrl": next}}),
    ))
}

fn next_ticket_page(shared: &Shared, idx: usize, query_str: &str) -> Result<Response, Response> {
    let bad = || errors(500, "The paging state of this next-page URL is not valid.");
    let token = query_param(query_str, "paging").ok_or_else(bad)?;
    let v: Value = serde_json::from_slice(&unhex(&token).ok_or_else(bad)?).map_err(|_| bad())?;
    let after = v.get("after").and_then(Value::as_i64).ok_or_else(bad)?;
    ticket_query(shared, idx, v.get("query").cloned().ok_or_else(bad)?, Some(after))
}

fn udf_definitions(shared: &Shared) -> Response {
    let st = shared.lock();
    let fields: Vec<Value> = st
        .opts
        .udf_definitions
        .iter()
        .map(|n| json!({"name": n, "label": n, "type": "string", "length": 100, "isRequired": false, "isReadOnly": false, "isQueryable": true, "isPickList": false, "picklistValues": null, "isActive": true}))
        .collect();
    json_resp(200, json!({ "fields": fields }))
}

fn field_definitions() -> Response {
    let picklist: Vec<Value> = COMPANY_TYPES
        .iter()
        .enumerate()
        .map(|(i, (v, l))| json!({"value": v.to_string(), "label": l, "isDefaultValue": false, "sortOrder": i, "parentValue": "", "isActive": true, "isSystem": true}))
        .collect();
    let f = |name: &str, dt: &str| json!({"name": name, "dataType": dt, "isRequired": false, "isReadOnly": false, "isQueryable": true, "isPickList": false, "picklistValues": null});
    let mut ct = f("companyType", "integer");
    ct["isPickList"] = json!(true);
    ct["isRequired"] = json!(true);
    ct["picklistValues"] = json!(picklist);
    json_resp(
        200,
        json!({"fields": [
            f("id", "long"), f("companyName", "string"), ct, f("isActive", "boolean"), f("parentCompanyID", "integer"),
            f("webAddress", "string"), f("lastActivityDate", "datetime")
        ]}),
    )
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 1 << 20 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}
