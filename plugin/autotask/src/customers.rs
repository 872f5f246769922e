//! Reading companies: the query, the rows, the tenant links from the named
//! user-defined field, and the paging state of one import.
//!
//! Paging: the first page is `POST {zone}/V1.0/Companies/query` with a JSON
//! filter and `MaxRecords` 500; each answer's `pageDetails.nextPageUrl`
//! (absolute) is the next cursor, read with a GET. A next link must stay on
//! the zone's origin ([`cursor::next_link`]); a cursor coming back from the
//! host must be on a host a zone may be on ([`crate::api::zone_base`]) and is
//! sent to the current zone (after a move, the zone the 401 led to).
//! Every company arrives exactly once: an id already imported from another
//! page stops the import with a protocol error rather than being dropped.

use std::collections::{HashMap, HashSet};

use psa_connector_sdk::cursor::{self, CursorError};
use psa_connector_sdk::http::Transport;
use psa_connector_sdk::tenants::{self, Conflict, TenantOwners};
use psa_connector_sdk::{Customer, CustomerPage, Error, TenantLink, Warning};
use serde_json::{json, Value};

use crate::api::{self, Api};
use crate::config::Config;
use crate::messages as msg;

/// Companies per page: Autotask's maximum.
pub const PAGE_SIZE: usize = 500;
pub const QUERY: &str = "/V1.0/Companies/query";
const NEXT: &str = "/V1.0/Companies/query (next page)";
/// Autotask's Customer company type.
pub const CUSTOMER_TYPE: i64 = 1;

pub use psa_connector_sdk::tenants::{W_CONFLICT, W_INVALID};
pub const W_SKIPPED: &str = "record-skipped";
/// A changed-since import that read every company, because Autotask lets a
/// query filter on only one of the two change dates.
pub const W_FULL_READ: &str = "changed-since-full-read";

/// The query's body: active customers, or every company (Autotask needs a
/// filter, so "every" is `id >= 0`).
pub fn query_body(all: bool, max: usize) -> Value {
    let filter = if all {
        json!([{"op": "gte", "field": "id", "value": 0}])
    } else {
        json!([{"op": "and", "items": [
            {"op": "eq", "field": "isActive", "value": true},
            {"op": "eq", "field": "companyType", "value": CUSTOMER_TYPE}
        ]}])
    };
    json!({"filter": filter, "MaxRecords": max})
}

fn int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str().filter(|s| !s.is_empty() && s.len() < 20 && s.bytes().all(|b| b.is_ascii_digit())).and_then(|s| s.parse().ok()))
}

/// One company as read, before tenant conflicts are resolved.
pub struct Row {
    pub customer: Customer,
    pub warnings: Vec<Warning>,
    /// False when it is not an active customer (skipped unless all companies are imported).
    pub active_customer: bool,
}

/// Read one item of `items`.
pub fn row(item: &Value, udf: Option<&str>, endpoint: &str) -> Result<Row, Error> {
    let id = item.get("id").and_then(int).filter(|n| *n > 0);
    let Some(id) = id else {
        return Err(Error::protocol(endpoint, msg::bad_shape(endpoint, "a company has no numeric id")));
    };
    let id = id.to_string();
    let name = item.get("companyName").and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    let name = name.map_or_else(|| format!("Company {id}"), |n| n.chars().take(500).collect());
    let active = item.get("isActive").and_then(|a| a.as_bool().or_else(|| a.as_str().and_then(psa_connector_sdk::form::parse_flag)));
    let active = active.unwrap_or(true);
    let ctype = item.get("companyType").and_then(int);
    let parent_id = item.get("parentCompanyID").and_then(int).filter(|p| *p > 0).map(|p| p.to_string());
    let website = item
        .get("webAddress")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(2048).collect::<String>());
    let domains = website.as_deref().and_then(domain).into_iter().collect();
    let mut warnings = Vec::new();
    let mut tenants: Vec<TenantLink> = Vec::new();
    if let Some(udf) = udf {
        let fields = item.get("userDefinedFields").and_then(Value::as_array);
        let value = fields
            .into_iter()
            .flatten()
            .filter(|f| f.get("name").and_then(Value::as_str).is_some_and(|n| n.trim().eq_ignore_ascii_case(udf)))
            .find_map(|f| f.get("value").and_then(Value::as_str));
        let tokens = value.unwrap_or_default().split([',', ';', ' ', '\n', '\r', '\t']).filter(|s| !s.is_empty());
        let raw = tokens.map(|t| TenantLink { tenant_id: t.to_string(), name: None, domain: None });
        (tenants, warnings) = tenants::clean_links_worded(
            &id,
            raw,
            |token| msg::warn_invalid_tenant(&name, &id, udf, token),
            |n| msg::warn_more_invalid_tenants(&name, &id, udf, n),
            |n| msg::warn_too_many_tenants(&name, &id, udf, n, tenants::MAX_LINKS_PER_CUSTOMER),
        );
    }
    let customer = Customer { id, name, active, parent_id, parent_name: None, website, domains, m365_tenants: tenants };
    Ok(Row { customer, warnings, active_customer: active && ctype.is_none_or(|t| t == CUSTOMER_TYPE) })
}

/// The web domain of a website: its host, lower case, without `www.`.
fn domain(site: &str) -> Option<String> {
    let with_scheme = if site.contains("://") { site.to_string() } else { format!("https://{site}") };
    let u = url::Url::parse(&with_scheme).ok()?;
    let host = match u.host()? {
        url::Host::Domain(d) => d.to_ascii_lowercase(),
        _ => return None,
    };
    let host = host.strip_prefix("www.").unwrap_or(&host).to_string();
    host.contains('.').then_some(host)
}

/// Which change dates a changed-since query filters on (notes B3: Company has
/// `lastActivityDate`, used by A7, and `lastTrackedModifiedDateTime`, the
/// record's own change time; both confirmed fields, queryability \[likely\]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChangeFilter {
    /// Either date at or after the time: a change one of them misses (a UDF
    /// edited without an activity, an activity without an edit) is still
    /// found. The default.
    #[default]
    Either,
    /// Only `lastTrackedModifiedDateTime` is queryable (Autotask refuses the
    /// other): every company is read.
    Modified,
    /// Only `lastActivityDate` is queryable (Autotask refuses the other):
    /// every company is read.
    Activity,
}

pub const MODIFIED_FIELD: &str = "lastTrackedModifiedDateTime";
pub const ACTIVITY_FIELD: &str = "lastActivityDate";

/// `YYYY-MM-DDTHH:MM:SSZ` of seconds since 1970 (UTC, as Autotask's times
/// are), clamped to the year 9999: the SDK's.
pub use psa_connector_sdk::values::iso_utc;

/// The body of a changed-since query: every company type (a customer that was
/// retyped or deactivated must be seen too), changed at or after `since` by
/// either date. When only one date can be filtered, every company (the
/// full query of every type): one date alone could miss a change (see
/// [`ChangeFilter`]), and the contract allows returning unchanged customers,
/// never missing a changed one.
pub fn changed_body(since: u64, f: ChangeFilter, max: usize) -> Value {
    let at = iso_utc(since);
    let cond = |field: &str| json!({"op": "gte", "field": field, "value": at});
    match f {
        ChangeFilter::Either => json!({"filter": [{"op": "or", "items": [cond(MODIFIED_FIELD), cond(ACTIVITY_FIELD)]}], "MaxRecords": max}),
        ChangeFilter::Modified | ChangeFilter::Activity => query_body(true, max),
    }
}

/// The state of one import in a session.
#[derive(Default)]
pub struct Import {
    /// A changed-since import: companies that are not active customers are
    /// returned as inactive (a customer retyped or deactivated since), not skipped.
    changed: bool,
    /// The change dates this database lets a query filter on, once learnt.
    change_filter: ChangeFilter,
    /// Company id → the cursor of the page it came on ("" for the first).
    seen: HashMap<String, String>,
    /// Company id → name, for parent names.
    names: HashMap<String, String>,
    progress: cursor::Progress,
    /// Who holds which tenant in this import.
    owners: TenantOwners,
}

impl Import {
    /// One page of companies.
    pub fn page(&mut self, api: &mut Api, t: &mut dyn Transport, cursor: Option<&str>) -> Result<CustomerPage, Error> {
        if cursor.is_none() {
            *self = Import::default();
        }
        let body = query_body(api.cfg.all_companies, PAGE_SIZE);
        self.page_of(api, t, cursor, body)
    }

    /// One page of the companies changed since `since` (seconds since 1970):
    /// either change date at or after it. When Autotask refuses a filter on
    /// one of the two fields, every company is read instead (paged as
    /// usual), with a [`W_FULL_READ`] warning: the answer is complete, only
    /// not cheaper. The other date alone is not trusted: a company whose
    /// tenant field was edited without an activity moves only
    /// `lastTrackedModifiedDateTime`, and which changes that field records is
    /// not confirmed (notes B3), so either date alone could miss a change.
    ///
    /// Why not make the host fall back to a full import instead: the
    /// connector learns that a field is refused only from Autotask's answer
    /// to this call, and the contract has no error that says "run
    /// `list-customers` instead"; reading every company here keeps the call
    /// correct on every host.
    ///
    /// Without `all_companies`, a changed import returns companies that are
    /// not active customers (vendors, prospects, a customer retyped or
    /// deactivated) as inactive customers: a customer whose type changed
    /// away from Customer must reach the platform as no longer active.
    pub fn page_changed(&mut self, api: &mut Api, t: &mut dyn Transport, since: u64, cursor: Option<&str>) -> Result<CustomerPage, Error> {
        if cursor.is_some() {
            return self.page_of(api, t, cursor, Value::Null);
        }
        let learnt = self.change_filter;
        *self = Import { changed: true, change_filter: learnt, ..Import::default() };
        let mut filter = learnt;
        loop {
            let body = changed_body(since, filter, PAGE_SIZE);
            match self.page_of(api, t, None, body) {
                Err(Error::Upstream { message, .. }) if filter == ChangeFilter::Either && refuses(&message).is_some() => {
                    filter = refuses(&message).unwrap_or_default();
                    self.change_filter = filter;
                }
                Ok(mut page) => {
                    if filter != ChangeFilter::Either {
                        page.warnings.push(Warning { code: W_FULL_READ.into(), message: msg::warn_full_read(filter == ChangeFilter::Activity), customer_id: None });
                    }
                    return Ok(page);
                }
                other => return other,
            }
        }
    }

    fn page_of(&mut self, api: &mut Api, t: &mut dyn Transport, cursor: Option<&str>, body: Value) -> Result<CustomerPage, Error> {
        let (zone, answer, endpoint) = match cursor {
            None => {
                let (zone, v) = api.call(t, &|base: &str| api::post_json(format!("{base}{QUERY}"), &body, QUERY))?;
                (zone, v, QUERY)
            }
            Some(c) => {
                let tail = cursor_tail(c, &api.cfg)?;
                let (zone, v) = api.call(t, &|base: &str| api::get(format!("{}{tail}", origin(base)), NEXT))?;
                (zone, v, NEXT)
            }
        };
        let key = cursor.unwrap_or_default().to_string();
        self.read(&api.cfg, &zone, &answer, endpoint, &key)
    }

    fn read(&mut self, cfg: &Config, zone: &str, v: &Value, endpoint: &str, key: &str) -> Result<CustomerPage, Error> {
        let Some(items) = v.get("items").and_then(Value::as_array) else {
            return Err(Error::protocol(endpoint, msg::bad_shape(endpoint, "it has no items list")));
        };
        if items.len() > PAGE_SIZE {
            return Err(Error::protocol(endpoint, msg::bad_shape(endpoint, &format!("{} companies on one page, more than the 500 asked for", items.len()))));
        }
        let details = v.get("pageDetails");
        if let Some(count) = details.and_then(|d| d.get("count")).and_then(Value::as_u64) {
            if usize::try_from(count).ok() != Some(items.len()) {
                return Err(Error::protocol(endpoint, msg::bad_shape(endpoint, &format!("pageDetails.count says {count} but the page holds {}", items.len()))));
            }
        }
        let next = details.and_then(|d| d.get("nextPageUrl")).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
        if items.is_empty() && next.is_some() {
            return Err(Error::protocol(endpoint, msg::bad_shape(endpoint, "an empty page names a next page")));
        }
        let next = match next {
            None => None,
            Some(link) => match cursor::next_link(zone, link) {
                Ok(n) if Some(n.as_str()) == Some(key) => {
                    return Err(Error::protocol(endpoint, msg::bad_shape(endpoint, "the next page is this page again")))
                }
                Ok(n) => Some(n),
                Err(CursorError::OtherOrigin(_)) | Err(_) => {
                    return Err(Error::protocol(endpoint, msg::next_page_off_zone(link, &origin(zone))))
                }
            },
        };
        let mut customers = Vec::new();
        let mut warnings = Vec::new();
        let mut on_page = HashSet::new();
        let mut skipped = 0usize;
        for item in items {
            let r = row(item, cfg.tenant_udf.as_deref(), endpoint)?;
            let id = r.customer.id.clone();
            let earlier = self.seen.get(&id).is_some_and(|k| k != key);
            if earlier || !on_page.insert(id.clone()) {
                return Err(Error::protocol(endpoint, msg::duplicate_company(&id, &r.customer.name)));
            }
            let mut r = r;
            if !cfg.all_companies && !r.active_customer {
                if !self.changed {
                    skipped = skipped.saturating_add(1);
                    continue;
                }
                r.customer.active = false;
            }
            warnings.extend(r.warnings);
            customers.push(r.customer);
        }
        if skipped > 0 {
            warnings.push(Warning { code: W_SKIPPED.into(), message: msg::warn_filtered(skipped), customer_id: None });
        }
        for id in on_page {
            self.seen.insert(id, key.to_string());
        }
        for c in &customers {
            self.names.insert(c.id.clone(), c.name.clone());
        }
        for c in &mut customers {
            c.parent_name = c.parent_id.as_ref().and_then(|p| self.names.get(p)).cloned();
        }
        warnings.extend(self.resolve_tenants(&mut customers));
        let fetched = self.progress.page(Some(key).filter(|k| !k.is_empty()), customers.len(), next.as_deref());
        Ok(CustomerPage { customers, warnings, next_cursor: next, fetched, total: None })
    }

    /// A tenant on several companies goes to none of them (on one page), or
    /// stays with the company imported earlier (across pages), with a warning
    /// ([`TenantOwners`]).
    fn resolve_tenants(&mut self, customers: &mut [Customer]) -> Vec<Warning> {
        self.owners.resolve_page(customers, |c| match c {
            Conflict::Several { tenant, holders } => msg::warn_tenant_conflict(tenant, holders),
            Conflict::HeldEarlier { tenant, earlier, later } => msg::warn_tenant_conflict_late(tenant, earlier, later),
        })
    }
}

/// Which filter to fall back to when Autotask's error names one change field.
fn refuses(message: &str) -> Option<ChangeFilter> {
    let m = message.to_ascii_lowercase();
    match (m.contains(&MODIFIED_FIELD.to_ascii_lowercase()), m.contains(&ACTIVITY_FIELD.to_ascii_lowercase())) {
        (true, false) => Some(ChangeFilter::Activity),
        (false, true) => Some(ChangeFilter::Modified),
        _ => None,
    }
}

/// `scheme://host[:port]` of a URL.
fn origin(u: &str) -> String {
    url::Url::parse(u).map_or_else(|_| u.to_string(), |u| u.origin().ascii_serialization())
}

/// The path and query of a cursor, refused unless it is on a host a zone may be on.
fn cursor_tail(c: &str, cfg: &Config) -> Result<String, Error> {
    let bad = || Error::internal(msg::cursor_not_issued());
    let u = url::Url::parse(c).map_err(|_| bad())?;
    if api::zone_base(&origin(c), &cfg.lookup, cfg.lookup_host.as_deref()).is_none() {
        return Err(bad());
    }
    Ok(match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::tests::{cfg, Script, ZoneAnswer, Z5};

    const T1: &str = "0A1B2C3D-4E5F-6789-ABCD-EF0123456789";
    const T2: &str = "11111111-2222-3333-4444-555555555555";
    const ZONE: &str = "https://webservices5.autotask.net/ATServicesRest";

    fn company(id: i64, udf: Option<&str>) -> Value {
        let mut c = json!({"id": id, "companyName": format!("Co {id}"), "companyType": 1, "isActive": true, "parentCompanyID": null, "webAddress": "www.Acme.com"});
        if let Some(u) = udf {
            c["userDefinedFields"] = json!([{"name": "NAV ID", "value": "C1"}, {"name": "Microsoft 365 Tenant ID", "value": u}]);
        }
        c
    }

    fn page(ids: std::ops::Range<i64>, next: Option<&str>) -> Value {
        let items: Vec<Value> = ids.map(|i| company(i, None)).collect();
        json!({"items": items, "pageDetails": {"count": items.len(), "requestCount": 500, "prevPageUrl": null, "nextPageUrl": next}})
    }

    fn next(n: u32) -> String {
        format!("{ZONE}/V1.0/Companies/query/next?paging=%7B%22pageSize%22%3A500%2C%22previousIds%22%3A%5B{n}%5D%7D&search=x")
    }

    #[test]
    fn pages_to_the_end_every_company_once() {
        let (n2, n3) = (next(500), next(1000));
        let mut t = Script::new()
            .zone(Z5)
            .json(200, page(1..501, Some(&n2)))
            .json(200, page(501..1001, Some(&n3)))
            .json(200, page(1001..1201, None));
        let (mut api, mut imp) = (Api::new(cfg()), Import::default());
        let mut cur: Option<String> = None;
        let mut ids = HashSet::new();
        let mut last;
        loop {
            let p = imp.page(&mut api, &mut t, cur.as_deref()).unwrap();
            for c in &p.customers {
                assert!(ids.insert(c.id.clone()));
            }
            last = p.fetched;
            match p.next_cursor {
                Some(n) => cur = Some(n),
                None => break,
            }
        }
        assert_eq!((ids.len(), last), (1200, 1200));
        assert_eq!(t.sent[1].url, format!("{ZONE}/V1.0/Companies/query"));
        let body: Value = serde_json::from_slice(t.sent[1].body.as_deref().unwrap()).unwrap();
        assert_eq!(body, query_body(false, 500));
        assert_eq!(body["filter"][0]["items"][1]["value"], json!(1));
        assert_eq!(t.header(1, "Content-Type"), Some("application/json"));
        assert_eq!(t.sent[2].url, n2);
        assert_eq!(t.sent[2].method, psa_connector_sdk::http::Method::Get);
        assert_eq!(t.header(3, "ApiIntegrationCode"), Some("TRACK1"));
        // The host retries page 2: no duplicate, the same fetched count.
        let mut t = Script::new().json(200, page(501..1001, Some(&n3)));
        let p = imp.page(&mut api, &mut t, Some(&n2)).unwrap();
        assert_eq!(p.fetched, 1000);
    }

    #[test]
    fn all_companies_query() {
        let b = query_body(true, 500);
        assert_eq!(b["filter"][0], json!({"op": "gte", "field": "id", "value": 0}));
        assert_eq!(b["MaxRecords"], json!(500));
    }

    #[test]
    fn a_next_page_off_the_zone_is_refused() {
        for link in ["https://evil.example.com/ATServicesRest/V1.0/Companies/query/next", "https://webservices6.autotask.net/x", "http://webservices5.autotask.net/x"] {
            let mut t = Script::new().zone(Z5).json(200, page(1..3, Some(link)));
            let e = Import::default().page(&mut Api::new(cfg()), &mut t, None).unwrap_err();
            assert!(matches!(&e, Error::Protocol { .. }) && e.message().contains("not on the API zone"), "{link}: {e:?}");
        }
        // A cursor from the host that is not on a zone host is refused before any request.
        let mut t = Script::new();
        let e = Import::default().page(&mut Api::new(cfg()), &mut t, Some("https://evil.example.com/x")).unwrap_err();
        assert!(matches!(e, Error::Internal(_)));
        assert!(t.sent.is_empty());
    }

    #[test]
    fn a_company_twice_is_an_error() {
        let n2 = next(2);
        let mut t = Script::new().zone(Z5).json(200, page(1..3, Some(&n2))).json(200, page(2..4, None));
        let (mut api, mut imp) = (Api::new(cfg()), Import::default());
        imp.page(&mut api, &mut t, None).unwrap();
        let e = imp.page(&mut api, &mut t, Some(&n2)).unwrap_err();
        assert!(matches!(&e, Error::Protocol { .. }) && e.message().contains("id 2"), "{e:?}");
        // Twice on one page, too.
        let mut t = Script::new().zone(Z5).json(200, json!({"items": [company(7, None), company(7, None)]}));
        assert!(Import::default().page(&mut Api::new(cfg()), &mut t, None).is_err());
    }

    #[test]
    fn counts_and_loops_are_checked() {
        let mut bad = page(1..3, None);
        bad["pageDetails"]["count"] = json!(5);
        let mut t = Script::new().zone(Z5).json(200, bad);
        assert!(matches!(Import::default().page(&mut Api::new(cfg()), &mut t, None), Err(Error::Protocol { .. })));
        let big = page(1..502, None);
        let mut t = Script::new().zone(Z5).json(200, big);
        assert!(matches!(Import::default().page(&mut Api::new(cfg()), &mut t, None), Err(Error::Protocol { .. })));
        let n2 = next(2);
        let mut t = Script::new().zone(Z5).json(200, page(1..3, Some(&n2))).json(200, page(3..5, Some(&n2)));
        let (mut api, mut imp) = (Api::new(cfg()), Import::default());
        imp.page(&mut api, &mut t, None).unwrap();
        assert!(matches!(imp.page(&mut api, &mut t, Some(&n2)), Err(Error::Protocol { .. })));
        let mut t = Script::new().zone(Z5).json(200, json!({"items": [], "pageDetails": {"count": 0, "nextPageUrl": n2}}));
        assert!(matches!(Import::default().page(&mut Api::new(cfg()), &mut t, None), Err(Error::Protocol { .. })));
        let mut t = Script::new().zone(Z5).json(200, json!({"errors": []}));
        assert!(matches!(Import::default().page(&mut Api::new(cfg()), &mut t, None), Err(Error::Protocol { .. })));
    }

    #[test]
    fn times_in_autotask_form() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso_utc(1_796_041_445), "2026-11-30T12:24:05Z");
        // A hostile `since`: a real year, not a bogus one.
        let b = changed_body(u64::MAX, ChangeFilter::Either, 500);
        assert_eq!(b["filter"][0]["items"][0]["value"], "9999-12-31T23:59:59Z");
    }

    #[test]
    fn changed_since_finds_either_date_and_keeps_deactivated_customers() {
        let mut gone = company(2, None);
        gone["isActive"] = json!(false);
        let mut lead = company(3, None);
        lead["companyType"] = json!(2);
        let answer = json!({"items": [company(1, None), gone, lead], "pageDetails": {"count": 3, "nextPageUrl": null}});
        let mut t = Script::new().zone(Z5).json(200, answer);
        let mut imp = Import::default();
        let p = imp.page_changed(&mut Api::new(cfg()), &mut t, 1_796_041_445, None).unwrap();
        let body: Value = serde_json::from_slice(t.sent[1].body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body["filter"],
            json!([{"op": "or", "items": [
                {"op": "gte", "field": "lastTrackedModifiedDateTime", "value": "2026-11-30T12:24:05Z"},
                {"op": "gte", "field": "lastActivityDate", "value": "2026-11-30T12:24:05Z"}]}])
        );
        let active: Vec<(String, bool)> = p.customers.iter().map(|c| (c.id.clone(), c.active)).collect();
        assert_eq!(active, [("1".to_string(), true), ("2".to_string(), false), ("3".to_string(), false)]);
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    }

    #[test]
    fn changed_since_reads_every_company_when_one_date_is_refused() {
        for refused in [MODIFIED_FIELD, ACTIVITY_FIELD] {
            let err = json!({"errors": [format!("Unable to find {refused} in the Company entity.")]});
            let one = json!({"items": [company(1, None)], "pageDetails": {"count": 1, "nextPageUrl": null}});
            let mut t = Script::new().zone(Z5).json(500, err).json(200, one.clone()).json(200, one);
            let (mut api, mut imp) = (Api::new(cfg()), Import::default());
            let p = imp.page_changed(&mut api, &mut t, 0, None).unwrap();
            let body: Value = serde_json::from_slice(t.sent[2].body.as_deref().unwrap()).unwrap();
            assert_eq!(body, query_body(true, PAGE_SIZE), "every company, not one date alone");
            assert_eq!(p.warnings[0].code, W_FULL_READ);
            assert!(p.warnings[0].message.contains(refused) && p.warnings[0].message.contains("every company"), "{}", p.warnings[0].message);
            // Learnt once per session: the next changed-since import asks with that field at once.
            imp.page_changed(&mut api, &mut t, 0, None).unwrap();
            assert_eq!(t.sent.len(), 4);
        }
        // Any other error is the error.
        let mut t = Script::new().zone(Z5).json(500, json!({"errors": ["Object reference not set"]}));
        assert!(matches!(Import::default().page_changed(&mut Api::new(cfg()), &mut t, 0, None), Err(Error::Upstream { .. })));
        assert_eq!(t.sent.len(), 2);
    }

    #[test]
    fn a_moved_zone_continues_the_import() {
        let n2 = next(2);
        let z6 = "https://webservices6.autotask.net/ATServicesRest/";
        let mut t = Script::new()
            .zone(Z5)
            .json(200, page(1..3, Some(&n2)))
            .json(401, json!({}))
            .zone(z6)
            .json(200, json!({"items": [company(3, None)], "pageDetails": {"count": 1, "nextPageUrl": null}}));
        let (mut api, mut imp) = (Api::new(cfg()), Import::default());
        imp.page(&mut api, &mut t, None).unwrap();
        let p = imp.page(&mut api, &mut t, Some(&n2)).unwrap();
        assert_eq!(p.customers.len(), 1);
        assert!(t.sent[4].url.starts_with("https://webservices6.autotask.net/ATServicesRest/V1.0/Companies/query/next?"));
    }

    #[test]
    fn rows_udfs_and_guids() {
        let r = row(&company(5, Some(&format!(" {{{T1}}} "))), Some("microsoft 365 tenant id"), QUERY).unwrap();
        assert_eq!(r.customer.m365_tenants[0].tenant_id, T1.to_ascii_lowercase());
        assert_eq!(r.customer.website.as_deref(), Some("www.Acme.com"));
        assert_eq!(r.customer.domains, vec!["acme.com".to_string()]);
        assert!(r.warnings.is_empty() && r.active_customer);
        let r = row(&company(5, Some(&format!("{T1}; not-a-guid"))), Some("Microsoft 365 Tenant ID"), QUERY).unwrap();
        assert_eq!(r.customer.m365_tenants.len(), 1);
        assert_eq!((r.warnings[0].code.as_str(), r.warnings[0].customer_id.as_deref()), (W_INVALID, Some("5")));
        assert!(r.warnings[0].message.contains("not-a-guid"));
        // UDFs omitted when empty; no UDF configured; another UDF's GUID ignored.
        let r = row(&company(5, None), Some("Microsoft 365 Tenant ID"), QUERY).unwrap();
        assert!(r.customer.m365_tenants.is_empty() && r.warnings.is_empty());
        assert!(row(&company(5, Some(T1)), None, QUERY).unwrap().customer.m365_tenants.is_empty());
        assert!(!row(&json!({"id": 9, "isActive": "False"}), None, QUERY).unwrap().customer.active);
        let c = json!({"id": "9", "isActive": false, "companyType": 3, "parentCompanyID": 4, "userDefinedFields": [{"name": "Microsoft 365 Tenant ID", "value": null}]});
        let r = row(&c, Some("Microsoft 365 Tenant ID"), QUERY).unwrap();
        assert_eq!((r.customer.id.as_str(), r.customer.name.as_str(), r.customer.active), ("9", "Company 9", false));
        assert_eq!(r.customer.parent_id.as_deref(), Some("4"));
        assert!(!r.active_customer);
        for bad in [json!({"companyName": "x"}), json!({"id": -1}), json!({"id": "1e3"})] {
            assert!(matches!(row(&bad, None, QUERY), Err(Error::Protocol { .. })));
        }
    }

    #[test]
    fn a_hostile_tenant_field_is_capped() {
        let guids: Vec<String> = (0..60u32).map(|i| format!("{i:08x}-2222-3333-4444-555555555555")).collect();
        let junk: Vec<String> = (0..2000).map(|i| format!("junk{i}")).collect();
        let value = format!("{} {}", guids.join(","), junk.join(";"));
        let r = row(&company(5, Some(&value)), Some("Microsoft 365 Tenant ID"), QUERY).unwrap();
        assert_eq!(r.customer.m365_tenants.len(), tenants::MAX_LINKS_PER_CUSTOMER);
        assert_eq!(r.warnings.len(), tenants::MAX_INVALID_WARNINGS_PER_CUSTOMER + 2, "five ids, one summary of the rest, one of the links dropped");
        assert!(r.warnings.iter().any(|w| w.code == W_INVALID && w.message.contains("1995 more")), "{:?}", r.warnings);
        assert!(r.warnings.iter().any(|w| w.code == tenants::W_TOO_MANY && w.message.contains("10 more")), "{:?}", r.warnings);
    }

    #[test]
    fn tenant_conflicts_and_filtering() {
        let n2 = next(2);
        let mut p1 = json!({"items": [company(1, Some(T1)), company(2, Some(T1)), company(3, Some(T2))], "pageDetails": {"count": 3, "nextPageUrl": n2}});
        p1["items"][2]["parentCompanyID"] = json!(1);
        let mut lead = company(5, None);
        lead["companyType"] = json!(2);
        let p2 = json!({"items": [company(4, Some(T2)), lead], "pageDetails": {"count": 2, "nextPageUrl": null}});
        let mut t = Script::new().zone(Z5).json(200, p1).json(200, p2);
        let (mut api, mut imp) = (Api::new(cfg()), Import::default());
        let a = imp.page(&mut api, &mut t, None).unwrap();
        assert!(a.customers[0].m365_tenants.is_empty() && a.customers[1].m365_tenants.is_empty());
        assert_eq!(a.customers[2].m365_tenants.len(), 1);
        assert_eq!(a.customers[2].parent_name.as_deref(), Some("Co 1"));
        assert_eq!(a.warnings.iter().filter(|w| w.code == W_CONFLICT).count(), 1);
        let b = imp.page(&mut api, &mut t, Some(&n2)).unwrap();
        assert_eq!(b.customers.len(), 1);
        assert!(b.customers[0].m365_tenants.is_empty());
        assert!(b.warnings.iter().any(|w| w.code == W_CONFLICT && w.message.contains("imported earlier")));
        assert!(b.warnings.iter().any(|w| w.code == W_SKIPPED));
    }
}
