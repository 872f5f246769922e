//! Customer records ([`SimCustomer`], [`SimTenant`]) and the deterministic sample data generator
//! [`sample_customers`], whose output is deliberately awkward: non-contiguous ids, Unicode and
//! punctuation in names, inactive customers, top-level groups, customers with zero, one or two
//! Microsoft 365 tenants, and (for n ≥ 20) a non-GUID tenant id, a tenant mapped to two
//! customers and a GUID in upper case with braces.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// A Halo customer ("Client", schema `Area`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SimCustomer {
    pub id: i64,
    pub name: String,
    pub inactive: bool,
    pub toplevel_id: Option<i64>,
    pub toplevel_name: Option<String>,
    pub website: Option<String>,
    pub domain: Option<String>,
    pub tenants: Vec<SimTenant>,
}

/// A Microsoft 365 tenant linked to a customer (an `AreaAzureTenant` row).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SimTenant {
    /// Usually a lower-case GUID; may be garbage (to test filtering).
    pub id: String,
    pub name: Option<String>,
    pub domain: Option<String>,
}

/// A small deterministic PRNG (SplitMix64): sample data must not change between runs or
/// crate versions. Shared with the Autotask simulator.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (0 for `n` = 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// A float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// One of `items` (not empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    /// A random version-4 GUID, lower case, `8-4-4-4-12`.
    pub fn guid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        let b = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000; // variant 10xx
        let a = (a & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000; // version 4
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xFFFF,
            a & 0xFFFF,
            b >> 48,
            b & 0xFFFF_FFFF_FFFF
        )
    }
    /// An opaque random token (hex).
    pub fn token(&mut self, words: usize) -> String {
        (0..words).map(|_| format!("{:016x}", self.next_u64())).collect()
    }
}

const PREFIXES: &[&str] = &[
    "Northwind", "Contoso", "Fabrikam", "Tailspin", "Wingtip", "Adventure", "Blue Yonder", "Coho",
    "Litware", "Lucerne", "Proseware", "Trey", "Wide World", "Alpine", "Fourth Coffee", "Graphic",
    "Humongous", "Liberty", "Southridge", "Woodgrove", "Relecloud", "Bellows", "Datum", "Lamna",
];
const NOUNS: &[&str] = &[
    "Traders", "Dental", "Logistics", "Accounting", "Legal", "Engineering", "Bakery", "Motors",
    "Architects", "Pharmacy", "Solutions", "Foods", "Media", "Clinic", "Builders", "Insurance",
];
const SUFFIXES: &[&str] = &["Ltd", "Inc", "LLC", "GmbH", "Pty Ltd", "BV", "& Co", "Limited", "", "Group"];
const GROUPS: &[(i64, &str)] =
    &[(3, "Managed Services"), (5, "Break-Fix"), (8, "Education"), (11, "Healthcare Group")];

/// Names that trip up CSV writers, JSON escapers, trimming and sorting.
fn awkward_names() -> Vec<String> {
    vec![
        "Müller & Söhne GmbH".to_string(),
        "Åsa Ödmann AB".to_string(),
        "株式会社テスト".to_string(),
        "🚀 Rocket Science Ltd".to_string(),
        "Smith, Jones & Partners".to_string(),
        "\"Quoted\" Consulting Ltd".to_string(),
        "O'Brien's Plumbing".to_string(),
        "  Leading Spaces Ltd".to_string(),
        "Trailing Spaces Inc  ".to_string(),
        "Zürich Café Sàrl".to_string(),
        "Ελληνική Εταιρεία ΑΕ".to_string(),
        "back\\slash <tag> Ltd".to_string(),
        format!(
            "The Extremely Long Name Holdings{} International Ltd",
            " and Associated Subsidiaries Worldwide".repeat(6)
        ),
        "acme corp".to_string(),
        "ACME Corp".to_string(),
    ]
}

/// A lower-case ASCII slug of a name (`""` when the name has no ASCII letters or digits).
pub(crate) fn slug(name: &str) -> String {
    let mut out = String::new();
    for ch in name.chars() {
        let c = match ch {
            'ä' | 'Ä' | 'å' | 'Å' | 'à' => 'a',
            'ö' | 'Ö' | 'Ø' | 'ø' => 'o',
            'ü' | 'Ü' => 'u',
            'é' | 'è' => 'e',
            c => c,
        };
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.len() > 40 {
        out[..40].trim_end_matches('-').to_string()
    } else {
        out
    }
}

/// `n` customers, the same for the same `(n, seed)`.
///
/// Ids start at 12 and step by 1–3. About 10 % are inactive, 20 % sit in a top-level group,
/// 60 % have one tenant and 10 % two. For `n < 10` names are plain; for `n ≥ 10` awkward names
/// are spread through the list; for `n ≥ 20` (and so in the default 250) the list also holds a
/// tenant id `"not-a-guid"`, one tenant GUID linked to two customers, and one GUID written as
/// `{UPPER-CASE}` — all on active customers.
pub fn sample_customers(n: usize, seed: u64) -> Vec<SimCustomer> {
    let mut rng = Rng::new(seed);
    let awkward = awkward_names();
    let mut used: HashSet<String> = HashSet::new();
    let mut out = Vec::with_capacity(n);
    let mut id = 12i64;
    for i in 0..n {
        if i > 0 {
            id += 1 + rng.below(3) as i64;
        }
        // Awkward names are spread evenly: one every `step` customers, starting at index 1.
        let step = (n / awkward.len()).max(1);
        let awkward_slot = Some(i / step).filter(|k| n >= 10 && i % step == 1 % step && *k < awkward.len());
        let name = if let Some(k) = awkward_slot {
            awkward[k].clone()
        } else if n < 10 {
            format!("{} {}", PREFIXES[i % PREFIXES.len()], SUFFIXES[i % 3])
        } else {
            let mut tries = 0;
            loop {
                let candidate = [*rng.pick(PREFIXES), *rng.pick(NOUNS), *rng.pick(SUFFIXES)]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" ");
                tries += 1;
                let candidate = if tries > 20 { format!("{candidate} {id}") } else { candidate };
                if !used.contains(&candidate) {
                    break candidate;
                }
            }
        };
        used.insert(name.clone());

        let inactive = n >= 10 && rng.unit() < 0.10;
        let (toplevel_id, toplevel_name) = if rng.unit() < 0.20 {
            let (gid, gname) = *rng.pick(GROUPS);
            (Some(gid), Some(gname.to_string()))
        } else {
            (None, None)
        };
        let mut s = slug(&name);
        if s.is_empty() {
            s = format!("client{id}");
        }
        let (website, domain) = if rng.unit() < 0.5 {
            (Some(format!("https://www.{s}.example")), Some(format!("{s}.example")))
        } else if rng.unit() < 0.2 {
            (Some(format!("www.{s}.example")), None)
        } else {
            (None, None)
        };
        let compact: String = s.chars().filter(|c| *c != '-').collect();
        let display = name.trim().to_string();
        let r = rng.unit();
        let tenant_count = if n < 10 { usize::from(i % 4 != 3) } else if r < 0.6 { 1 } else if r < 0.7 { 2 } else { 0 };
        let mut tenants = Vec::new();
        for t in 0..tenant_count {
            let (tname, tdomain) = if t == 0 {
                (format!("{display} (M365)"), format!("{compact}.onmicrosoft.com"))
            } else {
                (format!("{display} Dev (M365)"), format!("{compact}dev.onmicrosoft.com"))
            };
            let nameless = n >= 10 && rng.unit() < 0.04;
            tenants.push(SimTenant {
                id: rng.guid(),
                name: if nameless { None } else { Some(tname) },
                domain: if nameless { None } else { Some(tdomain) },
            });
        }
        out.push(SimCustomer { id, name, inactive, toplevel_id, toplevel_name, website, domain, tenants });
    }

    if n >= 20 {
        // Fixed oddities, on active customers so the default listing shows them.
        let ensure_tenant = |c: &mut SimCustomer, rng: &mut Rng| {
            c.inactive = false;
            if c.tenants.is_empty() {
                let s = slug(&c.name).replace('-', "");
                c.tenants.push(SimTenant {
                    id: rng.guid(),
                    name: Some(format!("{} (M365)", c.name.trim())),
                    domain: Some(format!("{s}x.onmicrosoft.com")),
                });
            }
        };
        // A tenant id that is not a GUID.
        ensure_tenant(&mut out[3], &mut rng);
        out[3].tenants[0].id = "not-a-guid".to_string();
        // One tenant GUID linked to two customers.
        ensure_tenant(&mut out[7], &mut rng);
        ensure_tenant(&mut out[13], &mut rng);
        let shared = out[7].tenants[0].clone();
        out[13].tenants[0] = shared;
        // A GUID in upper case with braces.
        ensure_tenant(&mut out[17], &mut rng);
        let g = rng.guid().to_uppercase();
        out[17].tenants[0].id = format!("{{{g}}}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_awkward() {
        let a = sample_customers(250, 7);
        assert_eq!(a, sample_customers(250, 7));
        assert_ne!(a, sample_customers(250, 8));
        assert_eq!(a.len(), 250);
        let ids: HashSet<i64> = a.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), 250);
        assert!(a.windows(2).any(|w| w[1].id - w[0].id > 1), "ids must not be contiguous");
        for name in ["Müller & Söhne GmbH", "株式会社テスト", "Smith, Jones & Partners", "O'Brien's Plumbing"] {
            assert!(a.iter().any(|c| c.name == name), "{name}");
        }
        assert!(a.iter().any(|c| c.name.len() > 200));
        let inactive = a.iter().filter(|c| c.inactive).count();
        assert!((10..=45).contains(&inactive), "{inactive}");
        let grouped = a.iter().filter(|c| c.toplevel_id.is_some()).count();
        assert!((25..=80).contains(&grouped), "{grouped}");
        let with_two = a.iter().filter(|c| c.tenants.len() == 2).count();
        assert!(with_two >= 10, "{with_two}");
        assert!(a.iter().any(|c| c.tenants.iter().any(|t| t.id == "not-a-guid")));
        assert!(a.iter().any(|c| c.tenants.iter().any(|t| t.id.starts_with('{') && t.id == t.id.to_uppercase())));
        let mut seen = HashSet::new();
        let dup = a.iter().flat_map(|c| c.tenants.iter()).filter(|t| !seen.insert(t.id.clone())).count();
        assert_eq!(dup, 1);
    }

    #[test]
    fn small_lists_are_plain() {
        for n in 0..10 {
            let a = sample_customers(n, 1);
            assert_eq!(a.len(), n);
            for c in &a {
                assert!(c.name.is_ascii() && !c.inactive);
                for t in &c.tenants {
                    assert_eq!(t.id.len(), 36);
                }
            }
        }
    }
}
