//! Company records ([`SimCompany`]) and the deterministic generator [`sample_companies`], whose
//! output is deliberately awkward: non-contiguous ids, Unicode and punctuation in names, every
//! company type, inactive customers, parent companies, and a tenant UDF
//! ([`TENANT_UDF`]) holding GUIDs in lower case, upper case and braces, with spaces around,
//! empty (the UDF then omitted), invalid text, and (for n ≥ 20) one tenant on two companies.

use serde_json::{json, Map, Value};

/// The default name of the company UDF that holds a Microsoft 365 tenant id.
pub const TENANT_UDF: &str = "Microsoft 365 Tenant ID";

/// Another UDF some companies carry (as in the notes' A7 example), so a connector must pick the
/// named one out of several.
pub const OTHER_UDF: &str = "NAV ID";

/// Company types (the `companyType` picklist): `(value, label)`. 1 = Customer is \[likely\]; the
/// others are commonly cited defaults (\[unsure\], notes B3). Real instances differ.
pub const COMPANY_TYPES: &[(i64, &str)] = &[
    (1, "Customer"),
    (2, "Lead"),
    (3, "Prospect"),
    (4, "Dead"),
    (6, "Cancellation"),
    (7, "Vendor"),
    (8, "Partner"),
];

/// An Autotask company (`Companies` entity), the fields the simulator serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimCompany {
    pub id: i64,
    pub company_name: String,
    /// A value of [`COMPANY_TYPES`].
    pub company_type: i64,
    pub is_active: bool,
    pub parent_company_id: Option<i64>,
    pub web_address: Option<String>,
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub last_activity_date: String,
    /// `lastTrackedModifiedDateTime`: when the record itself last changed (UTC,
    /// `YYYY-MM-DDTHH:MM:SS.ffZ`, as in the notes' A7 example).
    pub last_tracked_modified: String,
    /// User-defined fields `(name, value)`; `None` = no value (how it is served: see
    /// [`crate::EmptyUdfs`]).
    pub udfs: Vec<(String, Option<String>)>,
}

impl SimCompany {
    /// The raw value of the UDF `name` (exact name), if it has one.
    pub fn udf(&self, name: &str) -> Option<&str> {
        self.udfs.iter().find(|(n, _)| n == name).and_then(|(_, v)| v.as_deref())
    }

    /// The raw tenant UDF value ([`TENANT_UDF`]), if any.
    pub fn tenant_udf(&self) -> Option<&str> {
        self.udf(TENANT_UDF)
    }

    /// The tenant id a careful connector derives from the tenant UDF: a GUID (braces and
    /// surrounding spaces removed) in lower case; `None` when empty or not a GUID.
    pub fn tenant_guid(&self) -> Option<String> {
        normalize_guid(self.tenant_udf()?)
    }

    /// Whether the default import (active customers: `isActive` and company type 1) takes it.
    pub fn is_active_customer(&self) -> bool {
        self.is_active && self.company_type == 1
    }

    /// The JSON item the API serves (camelCase, as real responses are; notes B3 [confirmed A7]).
    pub fn to_json(&self, empty_udfs: crate::EmptyUdfs) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("companyName".into(), json!(self.company_name));
        m.insert("companyNumber".into(), json!(format!("C{:05}", self.id)));
        m.insert("companyType".into(), json!(self.company_type));
        m.insert("isActive".into(), json!(self.is_active));
        m.insert("parentCompanyID".into(), json!(self.parent_company_id));
        m.insert("webAddress".into(), json!(self.web_address));
        m.insert("lastActivityDate".into(), json!(self.last_activity_date));
        m.insert("lastTrackedModifiedDateTime".into(), json!(self.last_tracked_modified));
        let udfs: Vec<Value> = self
            .udfs
            .iter()
            .filter_map(|(n, v)| match (v, empty_udfs) {
                (Some(v), _) => Some(json!({"name": n, "value": v})),
                (None, crate::EmptyUdfs::Omitted) => None,
                (None, crate::EmptyUdfs::Null) => Some(json!({"name": n, "value": null})),
                (None, crate::EmptyUdfs::EmptyString) => Some(json!({"name": n, "value": ""})),
            })
            .collect();
        if !udfs.is_empty() {
            m.insert("userDefinedFields".into(), Value::Array(udfs));
        }
        Value::Object(m)
    }
}

/// `{GUID}`, ` GUID `, upper or lower case → lower-case `8-4-4-4-12`; anything else → `None`.
pub fn normalize_guid(raw: &str) -> Option<String> {
    let t = raw.trim();
    let t = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(t);
    let groups: Vec<&str> = t.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    let ok = groups.len() == 5
        && groups.iter().zip(lens).all(|(g, l)| g.len() == l && g.bytes().all(|b| b.is_ascii_hexdigit()));
    ok.then(|| t.to_ascii_lowercase())
}

// The sample data's deterministic generator is halo-sim's (SplitMix64).
use halo_sim::Rng;

const PREFIXES: &[&str] = &[
    "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Kühne", "Ørsted", "Société", "Zoë's", "O'Brien", "Smith & Sons",
    "Nordwind", "Café \"Central\"", "Łódź", "München", "東京", "Blue Sky", "Red Fox", "Delta",
];
const SUFFIXES: &[&str] = &["Ltd", "GmbH", "AG", "S.A.", "Inc.", "LLC", "B.V.", "Oy", "& Co", "Partners", "Group", ""];

/// `n` deterministic companies from `seed` (the default simulator holds 1,200 from seed 7).
///
/// Ids grow with gaps (starting at 29682800, like real instance ids); about 60 % are customers,
/// about 10 % inactive, about 10 % have a parent among the earlier ones. The tenant UDF, by
/// index modulo 10: 0-3 lower-case GUID, 4 upper-case GUID in braces, 5 GUID with surrounding
/// spaces, 6-7 empty (no value), 8 invalid text, 9 upper-case GUID. With n ≥ 20, company 19 has
/// the same tenant as company 3 (a tenant on two companies). Every third company also has a
/// [`OTHER_UDF`] value.
pub fn sample_companies(n: usize, seed: u64) -> Vec<SimCompany> {
    let mut rng = Rng::new(seed);
    let mut out: Vec<SimCompany> = Vec::with_capacity(n);
    let mut id: i64 = 29_682_800;
    let invalid = ["n/a", "TBD", "contoso.onmicrosoft.com", "0000-1111", "{not-a-guid}"];
    for i in 0..n {
        id = id.saturating_add(1 + rng.below(7) as i64);
        let name = {
            let p = rng.pick(PREFIXES);
            let s = rng.pick(SUFFIXES);
            let base = if s.is_empty() { format!("{p} {i}") } else { format!("{p} {s} {i}") };
            if i % 97 == 13 { format!("  {base}  ") } else { base }
        };
        let company_type = if rng.below(10) < 6 { 1 } else { rng.pick(&COMPANY_TYPES[1..]).0 };
        let is_active = rng.below(10) != 0;
        let parent_company_id = (i > 0 && rng.below(10) == 0).then(|| out[rng.below(i as u64) as usize].id);
        let slug: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
        let web_address = match rng.below(4) {
            0 => None,
            1 => Some(format!("www.{slug}.com")),
            2 => Some(format!("https://{slug}.example")),
            _ => Some(format!("http://www.{slug}.example/")),
        };
        let day = 1 + rng.below(28);
        let month = 1 + rng.below(12);
        let year = 2022 + rng.below(5);
        let last_activity_date = format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rng.below(24), rng.below(60), rng.below(60));
        let g = rng.guid();
        let tenant = match i % 10 {
            0..=3 => Some(g),
            4 => Some(format!("{{{}}}", g.to_ascii_uppercase())),
            5 => Some(format!(" {g} ")),
            6 | 7 => None,
            8 => Some(rng.pick(&invalid).to_string()),
            _ => Some(g.to_ascii_uppercase()),
        };
        let tenant = if i == 19 { out[3].tenant_udf().map(str::to_string) } else { tenant };
        let mut udfs = vec![(TENANT_UDF.to_string(), tenant)];
        udfs.push((OTHER_UDF.to_string(), (i % 3 == 0).then(|| format!("N{:05}", i))));
        out.push(SimCompany {
            id,
            company_name: name,
            company_type,
            is_active,
            parent_company_id,
            web_address,
            // Derived without the generator, so the data stays as it was: the record changed
            // at midnight of its last activity's day (A7's example has it before the activity).
            last_tracked_modified: format!("{}T00:00:00.52Z", &last_activity_date[..10]),
            last_activity_date,
            udfs,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_awkward() {
        let a = sample_companies(1200, 7);
        assert_eq!(a, sample_companies(1200, 7));
        assert!(a.windows(2).all(|w| w[0].id < w[1].id));
        assert_eq!(a[19].tenant_guid(), a[3].tenant_guid());
        assert!(a[3].tenant_guid().is_some());
        assert!(a.iter().any(|c| c.tenant_udf().is_none()));
        assert!(a.iter().any(|c| c.tenant_udf().is_some() && c.tenant_guid().is_none()));
        assert!(a.iter().any(|c| c.tenant_udf().is_some_and(|t| t.starts_with('{'))));
        assert!(a.iter().any(|c| !c.is_active && c.company_type == 1));
        assert!(a.iter().any(|c| c.parent_company_id.is_some()));
        for (v, _) in COMPANY_TYPES {
            assert!(a.iter().any(|c| c.company_type == *v), "type {v}");
        }
        let customers = a.iter().filter(|c| c.is_active_customer()).count();
        assert!(customers > 500 && customers < 800, "{customers}");
    }

    #[test]
    fn guid_normalisation() {
        assert_eq!(
            normalize_guid(" {ABCDEF01-2345-6789-ABCD-EF0123456789} ").as_deref(),
            Some("abcdef01-2345-6789-abcd-ef0123456789")
        );
        assert_eq!(normalize_guid("n/a"), None);
        assert_eq!(normalize_guid("{not-a-guid}"), None);
    }
}
