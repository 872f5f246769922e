//! The resource server listener (`/api/...`): `authinfo`, `Client`, `Client/{id}`,
//! `AzureADConnection`, `AzureADConnection/{id}`, `Tickets` (GET, POST) and `Tickets/{id}`.
//!
//! Per request, in order: the strict proxy's 411 when `require_content_length` is on and the
//! body has no declared length ("length-required", not counted by the window or the fault
//! schedule); the rate-limit window (429 "rate-limit"); latency; for `/api` paths the
//! injected faults (schedule, login page, 429, 502, 503, 504, reset; a hang waits and goes on);
//! paths outside `/api` → 404 HTML; `authinfo` (no auth; 404 when switched off); bearer token
//! (401); agent login (403); routing and the route's permission (403); the route itself. Paths
//! and query keys are case-insensitive, as in Halo.

// Handlers return `Result<Response, Response>`: the error is simply the answer to send.
#![allow(clippy::result_large_err)]

use crate::data::SimCustomer;
use crate::options::{CspListShape, FaultKind, FilterSupport, Listener, PageOffsets, SimOptions, TenantLinks};
use crate::respond::{
    empty, form, html, json, rate_limited, reset, Framing, BAD_GATEWAY_HTML, GATEWAY_TIMEOUT_HTML, LOGIN_HTML, NOT_FOUND_HTML,
    UNAVAILABLE_HTML,
};
use crate::state::{Inner, Shared, DEFAULT_CLIENT_UPDATE};
use crate::tickets;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

pub(crate) type Query = HashMap<String, String>;
/// `(page_no, page_size)` of a paged answer.
pub(crate) type Paging = Option<(i64, usize)>;

/// The single handler of the resource listener: rate-limit window, latency, faults, dispatch,
/// logging.
pub async fn handle(State(shared): State<Shared>, req: Request) -> Response {
    let method = req.method().to_string();
    let framing = Framing::of(req.headers());
    if shared.refuses_framing(&method, &framing) {
        return crate::auth::length_required(&shared, Listener::Resource, req, framing).await;
    }
    let window = shared.window_refusal();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = axum::body::to_bytes(req.into_body(), 16 << 20).await.unwrap_or_default();
    let latency = shared.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let under_api = path.split('/').find(|s| !s.is_empty()).is_some_and(|s| s.eq_ignore_ascii_case("api"));
    // Only /api requests count for the fault schedule (the window counted this one already).
    let fault = if under_api { shared.next_fault() } else { None };
    let (resp, fault_name) = if let Some((text, retry_after)) = window {
        (rate_limited(&text, retry_after), Some("rate-limit"))
    } else {
        match fault {
            None => (route(&shared, &method, &path, &query, authorization.as_deref(), &body), None),
            Some(kind) => {
                let name = kind.name();
                let resp = match kind {
                    FaultKind::HtmlLoginPage => html(200, LOGIN_HTML),
                    FaultKind::RateLimited => {
                        let (text, retry_after) = shared.rate_limit_text();
                        rate_limited(&text, retry_after)
                    }
                    FaultKind::BadGateway => html(502, BAD_GATEWAY_HTML),
                    FaultKind::Unavailable => html(503, UNAVAILABLE_HTML),
                    FaultKind::GatewayTimeout => html(504, GATEWAY_TIMEOUT_HTML),
                    FaultKind::Reset => reset(),
                    FaultKind::Hang(d) => {
                        tokio::time::sleep(d).await;
                        route(&shared, &method, &path, &query, authorization.as_deref(), &body)
                    }
                };
                (resp, Some(name))
            }
        }
    };
    shared.log(Listener::Resource, &method, &path, &query, resp.status().as_u16(), fault_name, &framing, Some(&body));
    let mut resp = resp;
    for (name, value) in shared.lock().faults.extra_headers.clone() {
        if let (Ok(n), Ok(v)) = (header::HeaderName::try_from(name), header::HeaderValue::try_from(value)) {
            resp.headers_mut().append(n, v);
        }
    }
    resp
}

fn route(shared: &Shared, method: &str, path: &str, query: &str, authorization: Option<&str>, body: &[u8]) -> Response {
    let lower = path.to_ascii_lowercase();
    let segs: Vec<&str> = lower.split('/').filter(|s| !s.is_empty()).collect();
    if segs.first() != Some(&"api") {
        return html(404, NOT_FOUND_HTML);
    }
    let segs = &segs[1..];
    let mut st = shared.lock();

    if segs == ["authinfo"] && !st.opts.authinfo {
        return not_found();
    }
    if segs == ["authinfo"] {
        return json(
            200,
            json!({"auth_url": st.auth_url, "tenant_id": st.opts.tenant.clone().unwrap_or_default()}),
        );
    }

    // Authentication.
    let Some(token) = authorization.and_then(|a| {
        let (scheme, rest) = a.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
    }) else {
        let mut r = empty(401);
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return r;
    };
    let Some(perms) = st.check_token(token) else {
        let mut r = json(401, json!({"error": "invalid_token"}));
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
        return r;
    };
    if !st.opts.agent_login {
        return json(
            403,
            json!({"ClassName": "UnauthorizedAccessException", "Message": "The API application must log in as an Agent to access this resource"}),
        );
    }

    let q = form(query.as_bytes());
    let need = |p: &str| -> Result<(), Response> {
        if perms.contains(p) {
            Ok(())
        } else {
            Err(forbidden())
        }
    };
    let result = match (method, segs) {
        ("GET", ["client", id]) => need("read:customers").and_then(|_| get_client(&st.opts, id, &q)),
        ("GET", ["azureadconnection"]) => need("admin").and_then(|_| list_connections(&st.opts, &q)),
        ("GET", ["azureadconnection", id]) => need("admin").and_then(|_| get_connection(&st.opts, id, &q)),
        ("GET", ["client"]) => need("read:customers").and_then(|_| list_clients(&st, &q)),
        ("POST", ["tickets"]) => need("edit:tickets").and_then(|_| tickets::post_tickets(&mut st, body)),
        ("GET", ["tickets"]) => need("read:tickets").and_then(|_| tickets::list_tickets(&st, &q)),
        ("GET", ["tickets", id]) => need("read:tickets").and_then(|_| tickets::get_ticket(&st, id)),
        ("POST", ["actions"]) => need("edit:tickets").and_then(|_| tickets::post_actions(&mut st, body)),
        ("GET", ["actions"]) => need("read:tickets").and_then(|_| tickets::list_actions(&st, &q)),
        ("GET", ["tickettype"]) => need("read:tickets").and_then(|_| tickets::ticket_types(&q)),
        ("GET", ["priority"]) => need("read:tickets").and_then(|_| tickets::priorities(&q)),
        ("GET", ["outcome"]) => need("read:tickets").and_then(|_| tickets::outcomes(&q)),
        ("GET", ["status"]) => need("read:tickets").and_then(|_| tickets::statuses(&q)),
        (
            _,
            ["client"] | ["client", _] | ["azureadconnection"] | ["azureadconnection", _] | ["tickets"] | ["tickets", _]
            | ["actions"] | ["tickettype"] | ["priority"] | ["outcome"] | ["status"],
        ) => {
            Err(json(
                405,
                json!({"Message": format!("The requested resource does not support http method '{method}'.")}),
            ))
        }
        _ => Err(json(404, json!({"Message": "No HTTP resource was found that matches the request URI"}))),
    };
    result.unwrap_or_else(|r| r)
}

pub(crate) fn forbidden() -> Response {
    json(
        403,
        json!({"ClassName": "UnauthorizedAccessException", "Message": "You do not have permission to access this resource"}),
    )
}

pub(crate) fn invalid_value(key: &str, value: &str) -> Response {
    json(400, json!({ key: format!("The value '{value}' is not valid.") }))
}

/// A boolean query parameter (`true`/`false`/`1`/`0`, any case); `None` when absent or empty.
pub(crate) fn qbool(q: &Query, key: &str) -> Result<Option<bool>, Response> {
    match q.get(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) if v == "true" || v == "1" => Ok(Some(true)),
        Some(v) if v == "false" || v == "0" => Ok(Some(false)),
        Some(v) => Err(invalid_value(key, &v)),
    }
}

/// An integer query parameter; `None` when absent or empty; 400 when not an integer.
pub(crate) fn qint(q: &Query, key: &str) -> Result<Option<i64>, Response> {
    match q.get(key).map(|v| v.trim()) {
        None | Some("") => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| invalid_value(key, v)),
    }
}

/// Applies Halo's paging rules: only with `pageinate=true`; size capped at `page_cap`; the page
/// starts where `offsets` says. Returns the rows to send plus `(page_no, page_size)` when paging
/// was on (`page_size` as served).
pub(crate) fn page<T: Clone>(rows: &[T], q: &Query, cap: usize, offsets: PageOffsets) -> Result<(Vec<T>, Paging), Response> {
    if qbool(q, "pageinate")?.unwrap_or(false) {
        let asked = usize::try_from(qint(q, "page_size")?.filter(|n| *n > 0).unwrap_or(50)).unwrap_or(usize::MAX);
        let size = asked.min(cap.max(1));
        let page_no = qint(q, "page_no")?.filter(|n| *n > 0).unwrap_or(1);
        let step = match offsets {
            PageOffsets::FromServedSize => size,
            PageOffsets::FromAskedSize => asked,
        };
        let before = usize::try_from(page_no - 1).unwrap_or(usize::MAX);
        let start = before.saturating_mul(step).min(rows.len());
        let end = start.saturating_add(size).min(rows.len());
        Ok((rows[start..end].to_vec(), Some((page_no, size))))
    } else {
        let mut out = rows.to_vec();
        if let Some(n) = qint(q, "count")?.filter(|n| *n >= 0) {
            out.truncate(n as usize);
        }
        Ok((out, None))
    }
}

pub(crate) fn paged_body(record_count: usize, key: &str, rows: Vec<Value>, paging: Paging) -> Value {
    let mut m = Map::new();
    if let Some((page_no, page_size)) = paging {
        m.insert("page_no".into(), json!(page_no));
        m.insert("page_size".into(), json!(page_size));
    }
    m.insert("record_count".into(), json!(record_count));
    m.insert(key.into(), Value::Array(rows));
    Value::Object(m)
}

// ---------------------------------------------------------------------------------------------
// Customers and tenant links

/// One customer ↔ tenant link, numbered and assigned to a CSP connection.
struct Mapping<'a> {
    id: i64,
    connection: i64,
    customer: &'a SimCustomer,
    tenant: &'a crate::data::SimTenant,
}

/// All links, numbered from 1 in customer-id order; customers alternate between the two CSP
/// connections (so a connector must read both), or all sit on connection 1 when only one exists.
fn mappings(opts: &SimOptions) -> Vec<Mapping<'_>> {
    let mut customers: Vec<&SimCustomer> = opts.customers.iter().collect();
    customers.sort_by_key(|c| c.id);
    let mut out = Vec::new();
    for (pos, c) in customers.into_iter().enumerate() {
        let connection = if opts.csp_list_shape == CspListShape::SingleObject { 1 } else { 1 + (pos % 2) as i64 };
        for t in &c.tenants {
            out.push(Mapping { id: out.len() as i64 + 1, connection, customer: c, tenant: t });
        }
    }
    out
}

fn tenant_rows(all: &[Mapping<'_>], customer_id: i64) -> Vec<Value> {
    all.iter()
        .filter(|m| m.customer.id == customer_id)
        .map(|m| {
            json!({
                "id": m.id,
                "client_id": m.customer.id,
                "client_name": m.customer.name,
                "azure_tenant_id": m.tenant.id,
                "azure_tenant_name": m.tenant.name,
                "azure_tenant_domain": m.tenant.domain,
                "details_id": m.connection,
            })
        })
        .collect()
}

/// One `/Client` row; `links` are the tenant mappings when the row shows them.
fn client_row(c: &SimCustomer, links: Option<&[Mapping<'_>]>, full: bool) -> Value {
    let h = (c.id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut row = json!({
        "id": c.id,
        "name": c.name,
        "inactive": c.inactive,
        "toplevel_id": c.toplevel_id,
        "toplevel_name": c.toplevel_name,
        "website": c.website,
        "domain": c.domain,
        "colour": format!("#{:06x}", h >> 40),
        "ref": "",
        "datecreated": format!(
            "2021-{:02}-{:02}T{:02}:{:02}:00",
            1 + c.id % 12,
            1 + (c.id * 7) % 28,
            c.id % 24,
            (c.id * 13) % 60
        ),
        "logo": "",
    });
    if full {
        row["main_site_id"] = json!(c.id * 10);
        row["notes"] = json!("");
        row["is_vip"] = json!(false);
        row["customfields"] = json!([]);
    }
    if let Some(all) = links {
        row["azure_tenants"] = Value::Array(tenant_rows(all, c.id));
    }
    row
}

fn rows_show_tenants(opts: &SimOptions) -> bool {
    matches!(opts.tenant_links, TenantLinks::OnRows | TenantLinks::Both)
}

fn list_clients(st: &Inner, q: &Query) -> Result<Response, Response> {
    let opts = &st.opts;
    // Halo's filter on the last update, when this instance applies it (see
    // `SimOptions::client_lastupdate_filter`); a value that is no time (the spec's bool) is
    // left alone, like an unknown parameter.
    let since = match (opts.client_lastupdate_filter, q.get("lastupdatefromdate").map(|v| v.trim())) {
        (FilterSupport::Filters, Some(v)) if !v.is_empty() && !matches!(v, "true" | "false") => {
            Some(parse_halo_time(v).ok_or_else(|| invalid_value("lastupdatefromdate", v))?)
        }
        _ => None,
    };
    // Undocumented defaults: active only.
    let include_active = qbool(q, "includeactive")?.unwrap_or(true);
    let include_inactive = qbool(q, "includeinactive")?.unwrap_or(false);
    let with_tenants = qbool(q, "includeazuretenants")?.unwrap_or(false) && rows_show_tenants(opts);
    let azure_only = qbool(q, "azureclients")?.unwrap_or(false);
    let toplevel = qint(q, "toplevel_id")?;
    let search = q.get("search").map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty());

    let mut rows: Vec<&SimCustomer> = opts
        .customers
        .iter()
        .filter(|c| if c.inactive { include_inactive } else { include_active })
        .filter(|c| toplevel.is_none_or(|t| c.toplevel_id == Some(t)))
        .filter(|c| search.as_ref().is_none_or(|s| c.name.to_lowercase().contains(s.as_str())))
        .filter(|c| !azure_only || !c.tenants.is_empty())
        .filter(|c| since.is_none_or(|t| st.client_updated.get(&c.id).copied().unwrap_or(DEFAULT_CLIENT_UPDATE) >= t))
        .collect();
    rows.sort_by_cached_key(|c| (c.name.to_lowercase(), c.id));
    let total = rows.len();
    let (rows, paging) = page(&rows, q, opts.page_cap, opts.page_offsets)?;
    // Built once per request, not once per row.
    let links = with_tenants.then(|| mappings(opts));
    let rows = rows.into_iter().map(|c| client_row(c, links.as_deref(), false)).collect();
    Ok(json(200, paged_body(total, "clients", rows, paging)))
}

fn get_client(opts: &SimOptions, id: &str, q: &Query) -> Result<Response, Response> {
    let Ok(id) = id.parse::<i64>() else {
        return Err(invalid_value("id", id));
    };
    let c = opts.customers.iter().find(|c| c.id == id).ok_or_else(not_found)?;
    let with_tenants = rows_show_tenants(opts)
        && (qbool(q, "includedetails")?.unwrap_or(false) || qbool(q, "includeazuretenants")?.unwrap_or(false));
    let links = with_tenants.then(|| mappings(opts));
    Ok(json(200, client_row(c, links.as_deref(), true)))
}

pub(crate) fn not_found() -> Response {
    json(404, json!({"Message": "No HTTP resource was found that matches the request URI"}))
}

/// The CSP connections that exist: none unless links are visible there; one for SingleObject.
fn connections(opts: &SimOptions) -> Vec<Value> {
    if !matches!(opts.tenant_links, TenantLinks::CspOnly | TenantLinks::Both) {
        return Vec::new();
    }
    let mut out = vec![json!({"id": 1, "name": "Microsoft Partner Center", "type": 2})];
    if opts.csp_list_shape != CspListShape::SingleObject {
        out.push(json!({"id": 2, "name": "Second CSP", "type": 2}));
    }
    out
}

fn list_connections(opts: &SimOptions, q: &Query) -> Result<Response, Response> {
    let kind = qint(q, "type")?;
    let list: Vec<Value> = if kind.is_none_or(|k| k == 2) { connections(opts) } else { Vec::new() };
    let body = match opts.csp_list_shape {
        CspListShape::BareArray => Value::Array(list),
        // One connection comes back as the object itself; none as an empty array.
        CspListShape::SingleObject => list.into_iter().next().unwrap_or_else(|| json!([])),
        CspListShape::Wrapped => json!({"record_count": list.len(), "connections": list}),
    };
    Ok(json(200, body))
}

fn get_connection(opts: &SimOptions, id: &str, q: &Query) -> Result<Response, Response> {
    let Ok(id) = id.parse::<i64>() else {
        return Err(invalid_value("id", id));
    };
    let mut conn = connections(opts).into_iter().find(|c| c["id"] == json!(id)).ok_or_else(not_found)?;
    if qbool(q, "includetenants")?.unwrap_or(false) {
        let rows: Vec<Value> = mappings(opts)
            .iter()
            .filter(|m| m.connection == id)
            .map(|m| {
                json!({
                    "client_id": m.customer.id,
                    "client_name": m.customer.name,
                    "azure_tenant_id": m.tenant.id,
                    "azure_tenant_name": m.tenant.name,
                    "azure_tenant_domain": m.tenant.domain,
                })
            })
            .collect();
        conn["mappings_client"] = Value::Array(rows);
    }
    Ok(json(200, conn))
}

/// A time as Halo's clients send it, read as UTC: `2026-08-01T06:30:00`, with optional
/// fractional seconds and `Z`, or a date alone. Seconds since 1970, or `None`.
pub(crate) fn parse_halo_time(v: &str) -> Option<u64> {
    let v = v.trim().trim_end_matches('Z');
    let (date, time) = v.split_once('T').unwrap_or((v, "00:00:00"));
    let d: Vec<&str> = date.split('-').collect();
    let time = time.split('.').next()?;
    let t: Vec<&str> = time.split(':').collect();
    if d.len() != 3 || !(2..=3).contains(&t.len()) {
        return None;
    }
    let num = |s: &str| s.parse::<u64>().ok();
    let (y, m, day) = (num(d[0])?, num(d[1])?, num(d[2])?);
    let (h, mi, sec) = (num(t[0])?, num(t[1])?, t.get(2).map_or(Some(0), |s| num(s))?);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&day) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm), for years from 1970.
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + sec)
}

#[cfg(test)]
mod tests {
    #[test]
    fn halo_times() {
        assert_eq!(super::parse_halo_time("2024-01-01T00:00:00"), Some(1_704_067_200));
        assert_eq!(super::parse_halo_time("2026-08-01T06:30:00Z"), Some(1_785_565_800));
        assert_eq!(super::parse_halo_time("2026-08-01T06:30:00.123"), Some(1_785_565_800));
        assert_eq!(super::parse_halo_time("2000-02-29"), Some(951_782_400));
        for bad in ["", "true", "2026-13-01T00:00:00", "2026-08-01T25:00:00", "x-y-z", "1969-12-31T00:00:00"] {
            assert_eq!(super::parse_halo_time(bad), None, "{bad}");
        }
    }
}
