//! Microsoft 365 tenant links: from customer rows or from the Microsoft CSP
//! integration's mappings; GUID filtering and conflict resolution (the
//! SDK's [`psa_connector_sdk::tenants`], in Halo's words).

use std::collections::{BTreeMap, BTreeSet};

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::field::{parse_id, Field};
use crate::messages as msg;
use crate::types::{Customer, TenantLink, Warning};
use psa_connector_sdk::tenants::{Conflict, TenantOwners};

pub use psa_connector_sdk::tenants::{W_CONFLICT, W_INVALID};
pub const W_FORBIDDEN: &str = "tenant-links-forbidden";
pub const W_UNAVAILABLE: &str = "tenant-links-unavailable";

/// A link as Halo sent it, before the GUID check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawLink {
    pub tenant_id: String,
    pub name: Option<String>,
    pub domain: Option<String>,
}

/// A tenant id as a lower-case GUID (`8-4-4-4-12` hex, braces allowed).
pub use psa_connector_sdk::form::normalise_guid;

/// Non-blank text, trimmed.
fn text(value: Option<&str>) -> Option<String> {
    value.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// The keys of a tenant object (a row's `azure_tenants` item or a CSP
/// mapping) that [`raw_link`] reads, in the order it takes their values.
const LINK_KEYS: [&str; 6] = ["azure_tenant_id", "tenant_id", "azure_tenant_name", "name", "azure_tenant_domain", "domain"];

/// A link from the values of [`LINK_KEYS`]; of each pair, the first
/// non-blank text counts.
fn raw_link(values: [Option<&str>; LINK_KEYS.len()]) -> RawLink {
    let pick = |i: usize| text(values[i]).or_else(|| text(values[i + 1]));
    RawLink { tenant_id: pick(0).unwrap_or_default(), name: pick(2), domain: pick(4).map(|d| d.to_ascii_lowercase()) }
}

/// A row's `azure_tenants`, read straight from the page (serde
/// `deserialize_with`): `None` when null (Halo did not include tenants); the
/// links of the array's objects (other items skipped); no links when it is
/// anything else. Only the [`LINK_KEYS`] of an item are kept; when a key
/// repeats, its last value counts.
pub fn row_links<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<RawLink>>, D::Error> {
    d.deserialize_any(List)
}

/// Scalars a visitor accepts and ignores, answering `$out`.
macro_rules! ignore_scalars {
    ($out:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($out)
        }
    };
}

struct List;

impl<'de> Visitor<'de> for List {
    type Value = Option<Vec<RawLink>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of tenants")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut links = Vec::new();
        while let Some(item) = seq.next_element::<Item>()? {
            links.extend(item.0);
        }
        Ok(Some(links))
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        while map.next_entry::<IgnoredAny, Field>()?.is_some() {}
        Ok(Some(Vec::new()))
    }
    ignore_scalars!(Some(Vec::new()));
}

/// One `azure_tenants` item: a link when it is an object.
struct Item(Option<RawLink>);

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Item, D::Error> {
        d.deserialize_any(ItemVisitor)
    }
}

struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a tenant")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Item, E> {
        Ok(Item(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Item, A::Error> {
        while seq.next_element::<Field>()?.is_some() {}
        Ok(Item(None))
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Item, M::Error> {
        let mut values: [Option<std::borrow::Cow<'de, str>>; LINK_KEYS.len()] = Default::default();
        while let Some(key) = map.next_key::<LinkKey>()? {
            let value = map.next_value::<Field<'de>>()?;
            if let Some(slot) = key.0.and_then(|i| values.get_mut(i)) {
                *slot = match value {
                    Field::Text(s) => Some(s),
                    _ => None,
                };
            }
        }
        Ok(Item(Some(raw_link(std::array::from_fn(|i| values[i].as_deref())))))
    }
    ignore_scalars!(Item(None));
}

/// An item's key: its place in [`LINK_KEYS`], or `None` for any other.
struct LinkKey(Option<usize>);

impl<'de> Deserialize<'de> for LinkKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<LinkKey, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = LinkKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LinkKey, E> {
                Ok(LinkKey(LINK_KEYS.iter().position(|k| *k == v)))
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

/// Keep GUID tenant ids (lower-cased), one link per tenant
/// ([`psa_connector_sdk::tenants::clean_links`]).
pub fn clean_links(customer_id: &str, customer_name: &str, raw: &[RawLink]) -> (Vec<TenantLink>, Vec<Warning>) {
    let raw = raw.iter().map(|r| TenantLink { tenant_id: r.tenant_id.clone(), name: r.name.clone(), domain: r.domain.clone() });
    psa_connector_sdk::tenants::clean_links(customer_id, raw, |id| msg::warn_invalid_tenant(customer_name, customer_id, id))
}

// ----- Microsoft CSP mappings ---------------------------------------------------

/// Most CSP connections one import reads (one request each, inside one
/// `list-customers` call). Real tenants have one or a few; a list longer
/// than this is not trusted rather than read for minutes.
pub const MAX_CSP_CONNECTIONS: usize = 50;

/// Connection ids from `GET /AzureADConnection?type=2`: a bare array, one
/// object, or an object wrapping an array under some key. `Err` says what
/// is wrong with the answer (a list whose connections cannot all be read
/// would silently lose their tenant links).
pub fn connection_ids(v: &Value) -> Result<Vec<String>, String> {
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) if o.get("id").is_some_and(|id| !id.is_null()) => vec![v],
        Value::Object(o) => match o.values().find_map(Value::as_array) {
            Some(a) => a.iter().collect(),
            None => return Err(msg::csp_list_not_a_list()),
        },
        _ => return Err(msg::csp_list_not_a_list()),
    };
    if items.len() > MAX_CSP_CONNECTIONS {
        return Err(msg::csp_too_many_connections(items.len(), MAX_CSP_CONNECTIONS));
    }
    let mut ids: Vec<String> = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let id = match item {
            Value::Object(o) => o.get("id"),
            other => Some(other),
        };
        let id = id
            .and_then(parse_id)
            .filter(|id| !id.starts_with('-') && id != "0")
            .ok_or_else(|| msg::csp_connection_without_id(i + 1))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// One `mappings_client[]` item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub client_id: String,
    pub client_name: String,
    pub link: RawLink,
}

/// The mappings of `GET /AzureADConnection/{id}?…&includetenants=true`.
/// Items without a usable `client_id` are dropped (as CIPP does); a
/// `mappings_client` that is there but not an array is an error.
pub fn mappings(detail: &Value) -> Result<Vec<Mapping>, String> {
    let objects: Vec<&serde_json::Map<String, Value>> = match detail {
        Value::Array(a) => a.iter().filter_map(Value::as_object).collect(),
        Value::Object(o) => vec![o],
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for o in objects {
        let items = match o.get("mappings_client") {
            None | Some(Value::Null) => continue,
            Some(Value::Array(items)) => items,
            Some(_) => return Err(msg::field_problem("mappings_client", "is not an array")),
        };
        for item in items.iter().filter_map(Value::as_object) {
            let Some(client_id) = item.get("client_id").and_then(parse_id) else { continue };
            if client_id.starts_with('-') || client_id == "0" {
                continue;
            }
            out.push(Mapping {
                client_id,
                client_name: text(item.get("client_name").and_then(Value::as_str)).unwrap_or_default(),
                link: raw_link(LINK_KEYS.map(|k| item.get(k).and_then(Value::as_str))),
            });
        }
    }
    Ok(out)
}

/// The whole CSP map: customer id → links, with conflicts resolved up front.
#[derive(Default)]
pub struct CspLinks {
    pub by_customer: BTreeMap<String, Vec<TenantLink>>,
    pub warnings: Vec<Warning>,
    pub links: usize,
}

pub fn build_csp(all: &[Mapping]) -> CspLinks {
    let mut out = CspLinks::default();
    let mut holders: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut per_customer: BTreeMap<String, Vec<TenantLink>> = BTreeMap::new();
    for m in all {
        let (links, warnings) = clean_links(&m.client_id, &m.client_name, std::slice::from_ref(&m.link));
        out.warnings.extend(warnings);
        for l in links {
            let h = holders.entry(l.tenant_id.clone()).or_default();
            if !h.iter().any(|(id, _)| *id == m.client_id) {
                h.push((m.client_id.clone(), m.client_name.clone()));
            }
            let list = per_customer.entry(m.client_id.clone()).or_default();
            if !list.iter().any(|x| x.tenant_id == l.tenant_id) {
                list.push(l);
            }
        }
    }
    let conflicted: BTreeSet<String> = holders.iter().filter(|(_, h)| h.len() > 1).map(|(t, _)| t.clone()).collect();
    for t in &conflicted {
        if let Some(h) = holders.get(t) {
            out.warnings.push(Warning {
                code: W_CONFLICT.into(),
                message: msg::warn_tenant_conflict(t, h),
                customer_id: None,
            });
        }
    }
    for (id, links) in per_customer {
        let kept: Vec<TenantLink> = links.into_iter().filter(|l| !conflicted.contains(&l.tenant_id)).collect();
        out.links += kept.len();
        if !kept.is_empty() {
            out.by_customer.insert(id, kept);
        }
    }
    out
}

// ----- links carried by rows, across pages ---------------------------------------

/// Tenants seen on rows so far in one import: the SDK's
/// [`TenantOwners`] with Halo's messages.
///
/// Limitation: rows arrive page by page and a page is handed to the host
/// before the next is read. When a tenant turns up on a later page under a
/// second customer, the first customer has already been imported with the
/// link; the connector cannot take it back. The later customers are imported
/// without it and a `tenant-on-several-customers` warning names the customer
/// that already holds it, so the platform can reconcile. Conflicts within one
/// page, or with CSP mappings (known in full up front), are resolved exactly:
/// the tenant goes to nobody.
#[derive(Default)]
pub struct RowTenants {
    owners: TenantOwners,
}

impl RowTenants {
    /// Resolve conflicts for the customers about to be emitted on one page.
    pub fn resolve_page(&mut self, customers: &mut [Customer]) -> Vec<Warning> {
        self.owners.resolve_page(customers, |c| match c {
            Conflict::Several { tenant, holders } => msg::warn_tenant_conflict(tenant, holders),
            Conflict::HeldEarlier { tenant, earlier, later } => msg::warn_tenant_conflict_late(tenant, earlier, later),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T1: &str = "0a1b2c3d-4e5f-6789-abcd-ef0123456789";
    const T2: &str = "11111111-2222-3333-4444-555555555555";

    fn cust(id: &str, tenants: &[&str]) -> Customer {
        Customer {
            id: id.into(),
            name: format!("C{id}"),
            active: true,
            parent_id: None,
            parent_name: None,
            website: None,
            domains: vec![],
            m365_tenants: tenants
                .iter()
                .map(|t| TenantLink { tenant_id: t.to_string(), name: None, domain: None })
                .collect(),
        }
    }

    #[test]
    fn guids() {
        assert_eq!(normalise_guid("{0A1B2C3D-4E5F-6789-ABCD-EF0123456789}").as_deref(), Some(T1));
        assert_eq!(normalise_guid(" 0a1b2c3d-4e5f-6789-abcd-ef0123456789 ").as_deref(), Some(T1));
        for bad in ["", "acme.onmicrosoft.com", "0a1b2c3d4e5f6789abcdef0123456789", "0a1b2c3d-4e5f-6789-abcd-ef012345678g", "{0a1b2c3d-4e5f-6789-abcd-ef0123456789"] {
            assert_eq!(normalise_guid(bad), None, "{bad}");
        }
    }

    /// A row's `azure_tenants` as the page parse reads it.
    fn links_from_row(v: &Value) -> Option<Vec<RawLink>> {
        #[derive(serde::Deserialize)]
        struct Row {
            #[serde(default, deserialize_with = "row_links")]
            azure_tenants: Option<Vec<RawLink>>,
        }
        let text = serde_json::to_string(&json!({ "azure_tenants": v })).unwrap();
        serde_json::from_str::<Row>(&text).unwrap().azure_tenants
    }

    #[test]
    fn row_link_shapes() {
        assert_eq!(links_from_row(&json!(null)), None);
        for other in [json!("x"), json!(5), json!(true), json!({"azure_tenant_id": T1})] {
            assert_eq!(links_from_row(&other), Some(vec![]), "{other}");
        }
        let raw = links_from_row(&json!([
            1, null, "x", [{"azure_tenant_id": T1}],
            {"tenant_id": T2, "name": " Beta ", "domain": "BETA.example", "azure_tenant_name": " ", "extra": {"deep": [1, 2]}},
            {"azure_tenant_id": 5, "tenant_id": "  ", "azure_tenant_domain": "Acme.example"}
        ]))
        .unwrap();
        assert_eq!(
            raw,
            vec![
                RawLink { tenant_id: T2.into(), name: Some("Beta".into()), domain: Some("beta.example".into()) },
                RawLink { tenant_id: String::new(), name: None, domain: Some("acme.example".into()) },
            ]
        );
        // A repeated key: its last value counts; an escaped key is still known.
        let text = format!(r#"{{"azure_tenants":[{{"azure_tenant_id":"{T1}","azure_tenant_id":7}},{{"a\u007aure_tenant_id":"{T2}"}}]}}"#);
        #[derive(serde::Deserialize)]
        struct Row {
            #[serde(deserialize_with = "row_links")]
            azure_tenants: Option<Vec<RawLink>>,
        }
        let links = serde_json::from_str::<Row>(&text).unwrap().azure_tenants.unwrap();
        assert_eq!(links.iter().map(|l| l.tenant_id.as_str()).collect::<Vec<_>>(), ["", T2]);
    }

    #[test]
    fn row_links_filtered_and_deduplicated() {
        let raw = links_from_row(&json!([
            {"azure_tenant_id": T1.to_uppercase(), "azure_tenant_name": "Acme", "azure_tenant_domain": "Acme.onmicrosoft.com", "client_id": 5},
            {"azure_tenant_id": T1},
            {"azure_tenant_id": "acme.onmicrosoft.com"},
            {"azure_tenant_id": null}
        ]))
        .unwrap();
        let (links, warnings) = clean_links("5", "Acme", &raw);
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].tenant_id, T1);
        assert_eq!(links[0].domain.as_deref(), Some("acme.onmicrosoft.com"));
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].code, "invalid-tenant-id");
        assert_eq!(warnings[0].customer_id.as_deref(), Some("5"));
    }

    #[test]
    fn connection_list_shapes() {
        assert_eq!(connection_ids(&json!([{"id": 1}, {"id": "2"}, {"id": 1}])).unwrap(), vec!["1", "2"]);
        assert_eq!(connection_ids(&json!({"id": 7, "mappings_client": []})).unwrap(), vec!["7"]);
        assert_eq!(connection_ids(&json!({"record_count": 2, "connections": [{"id": 3}, {"id": 4.0}]})).unwrap(), vec!["3", "4"]);
        assert_eq!(connection_ids(&json!({"azureadconnections": [{"id": 9}]})).unwrap(), vec!["9"]);
        assert!(connection_ids(&json!([])).unwrap().is_empty());
        assert!(connection_ids(&json!({"record_count": 0, "connections": []})).unwrap().is_empty());
    }

    #[test]
    fn connection_lists_that_cannot_be_read_in_full_are_refused() {
        for bad in [json!({}), json!("x"), json!(null), json!(42), json!({"record_count": 1, "message": "x"})] {
            assert!(connection_ids(&bad).unwrap_err().contains("not a list of connections"), "{bad}");
        }
        for bad in [json!([{"name": "x"}]), json!([{"id": -1}]), json!([{"id": 0}]), json!([{"id": 1.5}]), json!([{"id": 1e300}]), json!([{"id": 1}, "x"])] {
            assert!(connection_ids(&bad).unwrap_err().contains("has no usable id"), "{bad}");
        }
        let many: Vec<Value> = (1..=10_000).map(|i| json!({"id": i})).collect();
        let e = connection_ids(&Value::Array(many)).unwrap_err();
        assert!(e.contains("10000 connections") && e.contains("50"), "{e}");
        let ok: Vec<Value> = (1..=MAX_CSP_CONNECTIONS).map(|i| json!({"id": i})).collect();
        assert_eq!(connection_ids(&Value::Array(ok)).unwrap().len(), MAX_CSP_CONNECTIONS);
        assert!(mappings(&json!({"id": 1, "mappings_client": "x"})).unwrap_err().contains("\"mappings_client\" is not an array"));
        assert!(mappings(&json!({"id": 1})).unwrap().is_empty());
    }

    #[test]
    fn csp_map_with_conflicts() {
        let detail = json!({"id": 1, "mappings_client": [
            {"client_id": 5, "client_name": "Acme", "azure_tenant_id": T1, "azure_tenant_name": "Acme"},
            {"client_id": "6", "client_name": "Beta", "tenant_id": T2, "name": "Beta", "domain": "beta.onmicrosoft.com"},
            {"client_id": 7, "client_name": "Gamma", "azure_tenant_id": T2},
            {"client_id": null, "azure_tenant_id": T1},
            {"client_id": 8, "client_name": "Delta", "azure_tenant_id": "nope"}
        ]});
        let m = mappings(&detail).unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(m[1].link.domain.as_deref(), Some("beta.onmicrosoft.com"));
        let csp = build_csp(&m);
        assert_eq!(csp.by_customer.get("5").map(|l| l.len()), Some(1));
        assert!(!csp.by_customer.contains_key("6"));
        assert!(!csp.by_customer.contains_key("7"));
        assert_eq!(csp.links, 1);
        let codes: Vec<&str> = csp.warnings.iter().map(|w| w.code.as_str()).collect();
        assert_eq!(codes, vec!["invalid-tenant-id", "tenant-on-several-customers"]);
        assert!(csp.warnings[1].message.contains(T2));
        assert!(csp.warnings[1].message.contains("\"Beta\" (id 6)"));
        assert!(csp.warnings[1].message.contains("\"Gamma\" (id 7)"));
    }

    #[test]
    fn row_conflicts_across_pages() {
        let mut r = RowTenants::default();
        // Page 1: T1 on two customers of the same page → nobody; T2 on customer 3.
        let mut page1 = vec![cust("1", &[T1]), cust("2", &[T1]), cust("3", &[T2])];
        let w = r.resolve_page(&mut page1);
        assert_eq!(w.len(), 1);
        assert!(page1[0].m365_tenants.is_empty() && page1[1].m365_tenants.is_empty());
        assert_eq!(page1[2].m365_tenants.len(), 1);
        // Page 2: T2 again on customer 4 → 3 already holds it; T1 on 5 → still nobody.
        let mut page2 = vec![cust("4", &[T2]), cust("5", &[T1])];
        let w = r.resolve_page(&mut page2);
        assert_eq!(w.len(), 2);
        assert!(page2.iter().all(|c| c.m365_tenants.is_empty()));
        assert!(w[0].message.contains("\"C3\" (id 3), imported earlier"));
        assert!(w[1].message.contains("(id 1)") && w[1].message.contains("(id 5)"));
    }
}
