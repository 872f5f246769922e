//! Microsoft 365 tenant links: GUID checks and one tenant on several
//! customers, resolved the same way in every connector.
//!
//! - [`clean_links`] keeps the links whose tenant id is a GUID (lower-cased,
//!   one link per tenant) and warns, with code [`W_INVALID`], about each one
//!   that is not.
//! - [`TenantOwners`] resolves a tenant linked to several customers during
//!   one import, page by page, with code [`W_CONFLICT`]: on one page the
//!   tenant goes to none of them; across pages it stays with the customer
//!   imported earlier (a page is handed to the platform before the next is
//!   read, so it cannot be taken back) and the later ones are imported
//!   without it.
//!
//! The connector words every message (naming its PSA and where the link is
//! entered); this module decides who keeps what.
//!
//! ```
//! use psa_connector_sdk::tenants::{Conflict, TenantOwners, W_CONFLICT};
//! use psa_connector_sdk::{Customer, TenantLink};
//!
//! const T: &str = "0a1b2c3d-4e5f-6789-abcd-ef0123456789";
//! let customer = |id: &str| Customer {
//!     id: id.into(), name: format!("C{id}"), active: true, parent_id: None, parent_name: None,
//!     website: None, domains: vec![],
//!     m365_tenants: vec![TenantLink { tenant_id: T.into(), name: None, domain: None }],
//! };
//! let words = |c: Conflict<'_>| match c {
//!     Conflict::Several { tenant, holders } => format!("{tenant} is on {} customers; linked to none.", holders.len()),
//!     Conflict::HeldEarlier { tenant, earlier, .. } => format!("{tenant} stays with {} (id {}).", earlier.1, earlier.0),
//! };
//! let mut owners = TenantOwners::default();
//! let mut page1 = vec![customer("1")];
//! assert!(owners.resolve_page(&mut page1, words).is_empty());
//! let mut page2 = vec![customer("2")];
//! let warnings = owners.resolve_page(&mut page2, words);
//! assert!(page2[0].m365_tenants.is_empty());
//! assert_eq!((warnings[0].code.as_str(), warnings[0].message.as_str()), (W_CONFLICT, format!("{T} stays with C1 (id 1).").as_str()));
//! ```

use std::collections::{HashMap, HashSet};

use crate::form::normalise_guid;
use crate::{Customer, TenantLink, Warning};

/// The warning code of a tenant id that is not a GUID.
pub const W_INVALID: &str = "invalid-tenant-id";
/// The warning code of a tenant linked to several customers.
pub const W_CONFLICT: &str = "tenant-on-several-customers";

/// A customer as a conflict message names it: `(id, name)`.
pub type Holder = (String, String);

/// A conflict for the connector to word (see [`TenantOwners::resolve_page`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conflict<'a> {
    /// The tenant is on several customers and was linked to none of them.
    /// `holders`: every customer seen with it in this import so far, in the
    /// order they were seen.
    Several {
        /// The tenant id (a lower-case GUID).
        tenant: &'a str,
        /// The customers that carry it.
        holders: &'a [Holder],
    },
    /// The tenant was imported earlier in this import with `earlier`; the
    /// customers on this page that carry it too (`later`) were imported
    /// without it.
    HeldEarlier {
        /// The tenant id (a lower-case GUID).
        tenant: &'a str,
        /// The customer that keeps it.
        earlier: &'a Holder,
        /// The customers on this page that carry it as well.
        later: &'a [Holder],
    },
}

/// Most tenant links one customer keeps; the rest are dropped with one
/// [`W_TOO_MANY`] warning (a hostile or garbled field cannot make an import
/// hold thousands of links per customer).
pub const MAX_LINKS_PER_CUSTOMER: usize = 50;
/// Most [`W_INVALID`] warnings, one per id, for one customer; the ids beyond
/// them are counted in one more, summary, warning.
pub const MAX_INVALID_WARNINGS_PER_CUSTOMER: usize = 5;
/// The warning code of links dropped beyond [`MAX_LINKS_PER_CUSTOMER`].
pub const W_TOO_MANY: &str = "too-many-tenant-links";

/// The links whose tenant id is a GUID, lower-cased, one per tenant (the
/// first one's name and domain count); links with an empty tenant id are
/// skipped silently. Each other id gives a [`W_INVALID`] warning for
/// `customer_id`, worded by `invalid` from the id as given, up to
/// [`MAX_INVALID_WARNINGS_PER_CUSTOMER`]; more give one summary warning.
/// At most [`MAX_LINKS_PER_CUSTOMER`] links are kept, with a [`W_TOO_MANY`]
/// warning for the rest. The summaries are worded by the SDK; use
/// [`clean_links_worded`] to word them yourself.
///
/// ```
/// use psa_connector_sdk::tenants::{clean_links, W_INVALID};
/// use psa_connector_sdk::TenantLink;
/// let raw = ["{0A1B2C3D-4E5F-6789-ABCD-EF0123456789}", "0a1b2c3d-4e5f-6789-abcd-ef0123456789", "acme.onmicrosoft.com", ""]
///     .map(|t| TenantLink { tenant_id: t.into(), name: None, domain: None });
/// let (links, warnings) = clean_links("5", raw, |id| format!("Customer 5 has {id}, not a GUID; skipped."));
/// assert_eq!(links.len(), 1);
/// assert_eq!(links[0].tenant_id, "0a1b2c3d-4e5f-6789-abcd-ef0123456789");
/// assert_eq!((warnings[0].code.as_str(), warnings[0].customer_id.as_deref()), (W_INVALID, Some("5")));
/// ```
pub fn clean_links(
    customer_id: &str,
    raw: impl IntoIterator<Item = TenantLink>,
    invalid: impl Fn(&str) -> String,
) -> (Vec<TenantLink>, Vec<Warning>) {
    let more_invalid = |n: usize| {
        format!(
            "Customer {customer_id} has {n} more tenant ids that are not Microsoft 365 tenant ids (GUIDs); they were skipped. Correct the customer's tenant links in the PSA."
        )
    };
    let too_many = |n: usize| {
        format!(
            "Customer {customer_id} has {n} more Microsoft 365 tenant links than the {MAX_LINKS_PER_CUSTOMER} a customer may carry; they were skipped. Keep only the customer's own tenants in the PSA."
        )
    };
    clean_links_worded(customer_id, raw, invalid, more_invalid, too_many)
}

/// [`clean_links`], with the summary warnings worded by the connector:
/// `more_invalid(n)` for `n` invalid ids beyond the first
/// [`MAX_INVALID_WARNINGS_PER_CUSTOMER`] (code [`W_INVALID`]), `too_many(n)`
/// for `n` links beyond [`MAX_LINKS_PER_CUSTOMER`] (code [`W_TOO_MANY`]).
/// Linear in the number of links.
pub fn clean_links_worded(
    customer_id: &str,
    raw: impl IntoIterator<Item = TenantLink>,
    invalid: impl Fn(&str) -> String,
    more_invalid: impl Fn(usize) -> String,
    too_many: impl Fn(usize) -> String,
) -> (Vec<TenantLink>, Vec<Warning>) {
    let mut links: Vec<TenantLink> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut warnings = Vec::new();
    let (mut invalid_count, mut dropped) = (0usize, 0usize);
    let warn = |code: &str, message: String| Warning { code: code.into(), message, customer_id: Some(customer_id.to_string()) };
    for r in raw {
        if r.tenant_id.is_empty() {
            continue;
        }
        match normalise_guid(&r.tenant_id) {
            Some(t) => {
                if !seen.insert(t.clone()) {
                    continue;
                }
                if links.len() >= MAX_LINKS_PER_CUSTOMER {
                    dropped = dropped.saturating_add(1);
                    continue;
                }
                links.push(TenantLink { tenant_id: t, name: r.name, domain: r.domain });
            }
            None => {
                invalid_count = invalid_count.saturating_add(1);
                if invalid_count <= MAX_INVALID_WARNINGS_PER_CUSTOMER {
                    warnings.push(warn(W_INVALID, invalid(&r.tenant_id)));
                }
            }
        }
    }
    if invalid_count > MAX_INVALID_WARNINGS_PER_CUSTOMER {
        warnings.push(warn(W_INVALID, more_invalid(invalid_count - MAX_INVALID_WARNINGS_PER_CUSTOMER)));
    }
    if dropped > 0 {
        warnings.push(warn(W_TOO_MANY, too_many(dropped)));
    }
    (links, warnings)
}

/// Who holds which tenant in one import; start a new one (`default()`) for
/// each import.
///
/// Limitation: pages are handed to the platform one by one. When a tenant
/// turns up on a later page under a second customer, the first customer was
/// already imported with the link; the later customers are imported without
/// it and a [`Conflict::HeldEarlier`] warning names the customer that keeps
/// it, so the platform can reconcile. Conflicts within one page are resolved
/// exactly: the tenant goes to nobody, and stays with nobody for the rest of
/// the import.
#[derive(Clone, Debug, Default)]
pub struct TenantOwners {
    /// Tenant → the customer that was imported with it.
    owner: HashMap<String, Holder>,
    /// Tenant → every customer seen with it, for tenants given to nobody.
    conflicted: HashMap<String, Vec<Holder>>,
    /// Tenant → the ids in `conflicted`, so that adding holders stays linear.
    conflicted_ids: HashMap<String, HashSet<String>>,
}

impl TenantOwners {
    /// Resolve the conflicts of the customers about to be returned on one
    /// page: strip each conflicting tenant from them and return one
    /// [`W_CONFLICT`] warning per tenant (in the order the tenants first
    /// appear on the page), worded by `words`.
    pub fn resolve_page(&mut self, customers: &mut [Customer], words: impl Fn(Conflict<'_>) -> String) -> Vec<Warning> {
        let mut on_page: HashMap<String, Vec<Holder>> = HashMap::new();
        let mut order: Vec<String> = Vec::new();
        // (tenant, customer id) pairs already listed: linear, however many
        // customers carry one tenant.
        let mut listed: HashSet<(&str, &str)> = HashSet::new();
        for c in customers.iter() {
            for l in &c.m365_tenants {
                let h = on_page.entry(l.tenant_id.clone()).or_default();
                if h.is_empty() {
                    order.push(l.tenant_id.clone());
                }
                if listed.insert((l.tenant_id.as_str(), c.id.as_str())) {
                    h.push((c.id.clone(), c.name.clone()));
                }
            }
        }
        let warning = |message: String| Warning { code: W_CONFLICT.into(), message, customer_id: None };
        let mut warnings = Vec::new();
        let mut strip: HashSet<String> = HashSet::new();
        for t in order {
            let Some(holders) = on_page.get(&t) else { continue };
            let prior = self.owner.get(&t).filter(|(id, _)| !holders.iter().any(|(h, _)| h == id)).cloned();
            if let Some(prior) = prior {
                warnings.push(warning(words(Conflict::HeldEarlier { tenant: &t, earlier: &prior, later: holders })));
                strip.insert(t);
            } else if holders.len() > 1 || self.conflicted.contains_key(&t) {
                let all = self.conflicted.entry(t.clone()).or_default();
                let ids = self.conflicted_ids.entry(t.clone()).or_default();
                for h in holders {
                    if ids.insert(h.0.clone()) {
                        all.push(h.clone());
                    }
                }
                warnings.push(warning(words(Conflict::Several { tenant: &t, holders: all })));
                strip.insert(t);
            } else if let Some(h) = holders.first() {
                self.owner.insert(t, h.clone());
            }
        }
        if !strip.is_empty() {
            for c in customers.iter_mut() {
                c.m365_tenants.retain(|l| !strip.contains(&l.tenant_id));
            }
        }
        warnings
    }

    /// The customer imported with `tenant` in this import, if one was.
    pub fn owner(&self, tenant: &str) -> Option<&Holder> {
        self.owner.get(tenant)
    }

    /// Whether `tenant` was found on several customers and given to none.
    pub fn is_conflicted(&self, tenant: &str) -> bool {
        self.conflicted.contains_key(tenant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: &str = "0a1b2c3d-4e5f-6789-abcd-ef0123456789";
    const T2: &str = "11111111-2222-3333-4444-555555555555";
    const T3: &str = "33333333-2222-3333-4444-555555555555";

    fn cust(id: &str, tenants: &[&str]) -> Customer {
        Customer {
            id: id.into(),
            name: format!("C{id}"),
            active: true,
            parent_id: None,
            parent_name: None,
            website: None,
            domains: vec![],
            m365_tenants: tenants.iter().map(|t| TenantLink { tenant_id: t.to_string(), name: None, domain: None }).collect(),
        }
    }

    fn words(c: Conflict<'_>) -> String {
        let names = |h: &[Holder]| h.iter().map(|(id, n)| format!("{n}#{id}")).collect::<Vec<_>>().join(",");
        match c {
            Conflict::Several { tenant, holders } => format!("several {tenant} [{}]", names(holders)),
            Conflict::HeldEarlier { tenant, earlier, later } => format!("earlier {tenant} {}#{} [{}]", earlier.1, earlier.0, names(later)),
        }
    }

    fn tenants(c: &Customer) -> Vec<&str> {
        c.m365_tenants.iter().map(|l| l.tenant_id.as_str()).collect()
    }

    #[test]
    fn one_page_conflicts_go_to_nobody() {
        let mut o = TenantOwners::default();
        let mut page = vec![cust("1", &[T1, T3]), cust("2", &[T1]), cust("3", &[T2]), cust("4", &[T1])];
        let w = o.resolve_page(&mut page, words);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].code, W_CONFLICT);
        assert_eq!(w[0].customer_id, None);
        assert_eq!(w[0].message, format!("several {T1} [C1#1,C2#2,C4#4]"));
        assert_eq!(tenants(&page[0]), [T3]);
        assert!(page[1].m365_tenants.is_empty() && page[3].m365_tenants.is_empty());
        assert_eq!(tenants(&page[2]), [T2]);
        assert!(o.is_conflicted(T1));
        assert_eq!(o.owner(T2), Some(&("3".to_string(), "C3".to_string())));
    }

    #[test]
    fn across_pages_the_earlier_customer_keeps_it() {
        let mut o = TenantOwners::default();
        let mut p1 = vec![cust("1", &[T1]), cust("2", &[T1]), cust("3", &[T2])];
        assert_eq!(o.resolve_page(&mut p1, words).len(), 1);
        // T2 again under 4 → 3 keeps it; T1 under 5 → still nobody, 5 added to the list.
        let mut p2 = vec![cust("4", &[T2]), cust("5", &[T1])];
        let w = o.resolve_page(&mut p2, words);
        assert_eq!(w.iter().map(|w| w.message.as_str()).collect::<Vec<_>>(), [
            format!("earlier {T2} C3#3 [C4#4]"),
            format!("several {T1} [C1#1,C2#2,C5#5]"),
        ]);
        assert!(p2.iter().all(|c| c.m365_tenants.is_empty()));
        // The same page read again (a retry): its owner keeps it, no warning.
        let mut again = vec![cust("3", &[T2])];
        assert!(o.resolve_page(&mut again, words).is_empty());
        assert_eq!(tenants(&again[0]), [T2]);
    }

    #[test]
    fn a_customer_listing_a_tenant_twice_is_no_conflict() {
        let mut o = TenantOwners::default();
        let mut page = vec![cust("1", &[T1, T1])];
        assert!(o.resolve_page(&mut page, words).is_empty());
        assert_eq!(page[0].m365_tenants.len(), 2);
    }

    #[test]
    fn guids_are_kept_once_and_others_warned() {
        let link = |t: &str, n: Option<&str>| TenantLink { tenant_id: t.into(), name: n.map(Into::into), domain: None };
        let (links, warnings) = clean_links(
            "7",
            [link(&T1.to_uppercase(), Some("Acme")), link(T1, Some("Other")), link("", None), link("nope", None), link(T2, None)],
            |raw| format!("bad {raw}"),
        );
        assert_eq!(links.iter().map(|l| l.tenant_id.as_str()).collect::<Vec<_>>(), [T1, T2]);
        assert_eq!(links[0].name.as_deref(), Some("Acme"));
        assert_eq!(warnings.len(), 1);
        assert_eq!((warnings[0].code.as_str(), warnings[0].message.as_str(), warnings[0].customer_id.as_deref()), (W_INVALID, "bad nope", Some("7")));
    }

    #[test]
    fn a_hostile_field_is_capped_per_customer() {
        let link = |t: String| TenantLink { tenant_id: t, name: None, domain: None };
        // 200 distinct GUIDs, each twice, and 1,000 tokens that are not GUIDs.
        let guids: Vec<String> = (0..200u32).map(|i| format!("{i:08x}-2222-3333-4444-555555555555")).collect();
        let raw = guids.iter().chain(guids.iter()).cloned().chain((0..1000).map(|i| format!("junk{i}"))).map(link);
        let (links, warnings) = clean_links("9", raw, |raw| format!("bad {raw}"));
        assert_eq!(links.len(), MAX_LINKS_PER_CUSTOMER);
        assert_eq!(links[0].tenant_id, guids[0]);
        let invalid: Vec<&Warning> = warnings.iter().filter(|w| w.code == W_INVALID).collect();
        assert_eq!(invalid.len(), MAX_INVALID_WARNINGS_PER_CUSTOMER + 1, "one per id up to the cap, then one summary");
        assert_eq!(invalid[0].message, "bad junk0");
        assert!(invalid[MAX_INVALID_WARNINGS_PER_CUSTOMER].message.contains("995 more"), "{}", invalid[5].message);
        let many: Vec<&Warning> = warnings.iter().filter(|w| w.code == W_TOO_MANY).collect();
        assert_eq!(many.len(), 1);
        assert!(many[0].message.contains("150 more") && many[0].customer_id.as_deref() == Some("9"), "{}", many[0].message);
        // The connector's own words for the summaries.
        let (_, w) = clean_links_worded("9", (0..7).map(|i| link(format!("x{i}"))), |r| r.to_string(), |n| format!("{n} more"), |n| format!("{n} dropped"));
        assert_eq!(w.last().map(|w| w.message.as_str()), Some("2 more"));
        // At the caps exactly: no summary.
        let (l, w) = clean_links("9", guids[..50].iter().cloned().chain((0..5).map(|i| format!("y{i}"))).map(link), |r| r.to_string());
        assert_eq!((l.len(), w.len()), (50, 5));
    }

    #[test]
    fn one_tenant_on_very_many_customers_is_resolved_in_linear_time() {
        let mut o = TenantOwners::default();
        let mut page: Vec<Customer> = (0..20_000).map(|i| cust(&i.to_string(), &[T1, T1])).collect();
        let start = std::time::Instant::now();
        let w = o.resolve_page(&mut page, |c| match c {
            Conflict::Several { holders, .. } => holders.len().to_string(),
            Conflict::HeldEarlier { .. } => String::new(),
        });
        assert_eq!(w[0].message, "20000");
        let mut again: Vec<Customer> = (0..20_000).map(|i| cust(&i.to_string(), &[T1])).collect();
        let w = o.resolve_page(&mut again, |c| match c {
            Conflict::Several { holders, .. } => holders.len().to_string(),
            Conflict::HeldEarlier { .. } => String::new(),
        });
        assert_eq!(w[0].message, "20000", "the same customers again add no holder");
        assert!(start.elapsed() < std::time::Duration::from_secs(5), "{:?}", start.elapsed());
    }
}
