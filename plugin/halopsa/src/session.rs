//! A session's state (config, token, import progress, tenant-link source) and
//! the `list-customers` / `list-customers-changed` flows over it (the ticket
//! flows are in `tickets`).
//!
//! Customers changed since a time: Halo's spec lists `lastupdatefromdate` on
//! `/Client` but describes it as a bool ("include the field"), while clients
//! send ISO times on `/Tickets`; whether `/Client` filters on it is
//! [unsure]. So the connector asks once per session, with one cheap request
//! (`page_size=1`, `lastupdatefromdate=2100-01-01T00:00:00`): a Halo that
//! filters counts 0 customers, one that ignores the parameter counts them
//! all. On a filtering Halo the import asks for the customers updated since
//! the platform's time less 14 hours (Halo's times carry no zone; an
//! instance may read them in its own, UTC-12 to UTC+14), so it never misses
//! a change: 1 token + 1 probe + the pages of changed customers. On a Halo
//! that ignores it, it lists every customer (the same pages as a full
//! import, plus the probe) and says so with the warning
//! `changed-since-ignored`: complete, never missing a change, only not
//! cheaper. The capability `customers-changed-since` is declared either way,
//! since the call's answer is always right; the warning tells the platform
//! when it bought nothing.

use crate::answer::parse_value;
use crate::api::{Api, PERM_ADMIN, PERM_CUSTOMERS};
use crate::auth::TokenCache;
use crate::config::Config;
use crate::customers;
use crate::error::Error;
use crate::http::Transport;
use crate::pagination::{decode_cursor, encode_cursor, list_query, ImportState, PageAt};
use crate::tenants::{self, CspLinks};
use crate::types::{CustomerPage, Warning};

pub const CSP_REL: &str = "/AzureADConnection";

/// Where the session takes tenant links from; decided on the first
/// non-empty page the session reads and kept for the session.
enum TenantSource {
    Undecided,
    /// Rows carry `azure_tenants`.
    Rows,
    /// Rows carry none; the CSP integration's mappings, read once.
    Csp(CspLinks),
    /// Neither is available; the warning says why.
    Unavailable(Warning),
}

pub struct State {
    cfg: Config,
    tokens: TokenCache,
    import: ImportState,
    source: TenantSource,
    /// Whether this Halo filters `/Client` on `lastupdatefromdate`, once probed.
    changed_filter: Option<bool>,
}

/// Warning code: Halo ignored `lastupdatefromdate`, so a changed-since import listed everyone.
pub const W_CHANGED_IGNORED: &str = "changed-since-ignored";

/// How far before the platform's time the connector asks Halo for changes:
/// Halo's times carry no zone and an instance may read them in its own
/// (UTC-12 at the furthest west, UTC+14 east), so 14 hours earlier never
/// misses a change, at the price of returning some customers changed in
/// those hours before.
pub const CHANGED_MARGIN_SECONDS: u64 = 14 * 3600;

/// The time of the probe that tells a filtering Halo from one that ignores
/// `lastupdatefromdate`: no customer was updated after it, so a filtering
/// Halo counts 0 customers and an ignoring one counts them all.
pub const CHANGED_PROBE_TIME: &str = "2100-01-01T00:00:00";

/// Seconds since 1970 as Halo's clients write times: `2026-08-01T06:30:00`
/// (UTC; years past 9999 are written as 9999-12-31T23:59:59).
pub fn halo_time(secs: u64) -> String {
    // The SDK's ISO form (clamped to year 9999) without its zone letter.
    let mut t = psa_connector_sdk::values::iso_utc(secs);
    t.pop();
    t
}

impl State {
    pub fn new(cfg: Config) -> State {
        State {
            cfg,
            tokens: TokenCache::default(),
            import: ImportState::default(),
            source: TenantSource::Undecided,
            changed_filter: None,
        }
    }

    /// The session's authenticated API over `net`.
    pub fn api<'a>(&'a mut self, net: &'a mut dyn Transport) -> Api<'a> {
        Api { cfg: &self.cfg, tokens: &mut self.tokens, net }
    }

    /// The session's settings.
    pub fn cfg(&self) -> &Config {
        &self.cfg
    }

    pub fn list_customers(&mut self, net: &mut dyn Transport, cursor: Option<&str>) -> Result<CustomerPage, Error> {
        self.read_page(net, cursor, "")
    }

    /// `list-customers-changed`: the customers changed since `since` (seconds
    /// since 1970), paged like `list_customers`. When this Halo filters on
    /// `lastupdatefromdate` (probed once per session, see
    /// [`CHANGED_PROBE_TIME`]), only those changed since `since` less
    /// [`CHANGED_MARGIN_SECONDS`] come back; when it ignores the parameter
    /// (the spec types it as a bool, [unsure]), every customer comes back,
    /// with the warning [`W_CHANGED_IGNORED`] on the first page: complete,
    /// never missing a change, only not cheaper.
    pub fn list_customers_changed(
        &mut self,
        net: &mut dyn Transport,
        since: u64,
        cursor: Option<&str>,
    ) -> Result<CustomerPage, Error> {
        let filters = match self.changed_filter {
            Some(f) => f,
            None => {
                let f = self.probe_changed_filter(net)?;
                self.changed_filter = Some(f);
                f
            }
        };
        let extra = if filters {
            format!("&lastupdatefromdate={}", halo_time(since.saturating_sub(CHANGED_MARGIN_SECONDS)))
        } else {
            String::new()
        };
        let mut page = self.read_page(net, cursor, &extra)?;
        if !filters && cursor.is_none() {
            page.warnings.insert(
                0,
                Warning { code: W_CHANGED_IGNORED.into(), message: crate::messages::warn_changed_since_ignored(), customer_id: None },
            );
        }
        Ok(page)
    }

    /// One row's worth of `/Client` asked for customers updated after
    /// [`CHANGED_PROBE_TIME`]: `record_count` 0 means Halo filters.
    fn probe_changed_filter(&mut self, net: &mut dyn Transport) -> Result<bool, Error> {
        let endpoint = self.cfg.endpoint("/Client");
        let query = format!(
            "{}&lastupdatefromdate={CHANGED_PROBE_TIME}",
            list_query(PageAt { page: 1, size: 1 }, self.cfg.include_inactive)
        );
        let body = self.api(net).get("/Client", &query, PERM_CUSTOMERS)?;
        let page = customers::parse_page(&endpoint, 1, &body)?;
        Ok(page.record_count == 0)
    }

    /// One page of `/Client`, `extra` appended to the query.
    fn read_page(&mut self, net: &mut dyn Transport, cursor: Option<&str>, extra: &str) -> Result<CustomerPage, Error> {
        let at = match cursor {
            None => PageAt::FIRST,
            Some(c) => decode_cursor(c)?,
        };
        let page_no = at.page;
        if cursor.is_none() {
            self.import = ImportState::default();
        }
        let endpoint = self.cfg.endpoint("/Client");
        let mut api = Api { cfg: &self.cfg, tokens: &mut self.tokens, net };
        let query = format!("{}{extra}", list_query(at, self.cfg.include_inactive));
        let body = api.get("/Client", &query, PERM_CUSTOMERS)?;
        let page = customers::parse_page(&endpoint, page_no, &body)?;
        let mut built = Vec::with_capacity(page.rows.len());
        for (i, row) in page.rows.iter().enumerate() {
            built.push(customers::to_customer(&endpoint, page_no, i + 1, row)?);
        }

        if matches!(self.source, TenantSource::Undecided) && !page.rows.is_empty() {
            self.source = if page.rows.iter().any(|r| r.azure_tenants.is_some()) {
                TenantSource::Rows
            } else {
                match read_csp(&mut api)? {
                    CspOutcome::Read { links, .. } => TenantSource::Csp(links),
                    CspOutcome::Forbidden { endpoint, .. } => TenantSource::Unavailable(Warning {
                        code: tenants::W_FORBIDDEN.into(),
                        message: crate::messages::warn_tenant_links_forbidden(&endpoint),
                        customer_id: None,
                    }),
                    CspOutcome::Unavailable { endpoint } => TenantSource::Unavailable(Warning {
                        code: tenants::W_UNAVAILABLE.into(),
                        message: crate::messages::warn_tenant_links_unavailable(&endpoint),
                        customer_id: None,
                    }),
                }
            };
        }

        let ids: Vec<(String, String)> = built.iter().map(|c| (c.id.clone(), c.name.clone())).collect();
        let plan = self.import.accept(&endpoint, at, page.record_count, &ids)?;

        let mut warnings = plan.warnings;
        if !self.import.source_warnings_sent && !page.rows.is_empty() {
            match &self.source {
                TenantSource::Csp(links) => warnings.extend(links.warnings.iter().cloned()),
                TenantSource::Unavailable(w) => warnings.push(w.clone()),
                TenantSource::Rows | TenantSource::Undecided => {}
            }
            self.import.source_warnings_sent = true;
        }

        let mut out = Vec::with_capacity(plan.keep.len());
        let mut rows = page.rows;
        let mut slots: Vec<Option<crate::types::Customer>> = built.into_iter().map(Some).collect();
        for &i in &plan.keep {
            let (Some(slot), Some(row)) = (slots.get_mut(i), rows.get_mut(i)) else { continue };
            let Some(mut c) = slot.take() else { continue };
            match &self.source {
                TenantSource::Rows => {
                    if let Some(raw) = row.azure_tenants.take() {
                        let (links, w) = tenants::clean_links(&c.id, &c.name, &raw);
                        c.m365_tenants = links;
                        warnings.extend(w);
                    }
                }
                TenantSource::Csp(map) => {
                    c.m365_tenants = map.by_customer.get(&c.id).cloned().unwrap_or_default();
                }
                TenantSource::Unavailable(_) | TenantSource::Undecided => {}
            }
            out.push(c);
        }
        if matches!(self.source, TenantSource::Rows) {
            warnings.extend(self.import.row_tenants.resolve_page(&mut out));
        }

        Ok(CustomerPage {
            customers: out,
            warnings,
            next_cursor: plan.next.map(encode_cursor),
            fetched: plan.fetched,
            total: Some(plan.total),
        })
    }

}

/// What reading the Microsoft CSP integration's mappings gave.
pub enum CspOutcome {
    Read { links: CspLinks, connections: usize },
    /// 403: the application or its agent lacks `admin`.
    Forbidden { endpoint: String, error: Error },
    /// 404: the endpoint does not exist here.
    Unavailable { endpoint: String },
}

/// `GET /AzureADConnection?type=2`, then each connection's mappings.
pub fn read_csp(api: &mut Api) -> Result<CspOutcome, Error> {
    let list_endpoint = api.cfg.endpoint(CSP_REL);
    let ids = match api.get_with(CSP_REL, "?type=2", PERM_ADMIN, false) {
        Ok(body) => tenants::connection_ids(&parse_value(&list_endpoint, &body)?)
            .map_err(|problem| Error::protocol(&list_endpoint, problem))?,
        Err(error @ Error::Forbidden { .. }) => return Ok(CspOutcome::Forbidden { endpoint: list_endpoint, error }),
        Err(Error::Upstream { status: 404, .. }) => return Ok(CspOutcome::Unavailable { endpoint: list_endpoint }),
        Err(e) => return Err(e),
    };
    let mut all = Vec::new();
    for id in &ids {
        let rel = format!("{CSP_REL}/{id}");
        let endpoint = api.cfg.endpoint(&rel);
        match api.get_with(&rel, "?type=2&includedetails=true&includetenants=true", PERM_ADMIN, false) {
            Ok(body) => all.extend(
                tenants::mappings(&parse_value(&endpoint, &body)?).map_err(|problem| Error::protocol(&endpoint, problem))?,
            ),
            Err(error @ Error::Forbidden { .. }) => return Ok(CspOutcome::Forbidden { endpoint, error }),
            // A connection deleted between the two calls.
            Err(Error::Upstream { status: 404, .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(CspOutcome::Read { links: tenants::build_csp(&all), connections: ids.len() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::fake::Fake;

    const T1: &str = "0a1b2c3d-4e5f-6789-abcd-ef0123456789";

    fn state() -> State {
        State::new(crate::config::test_config(&[]))
    }

    #[test]
    fn import_with_row_links_over_capped_pages() {
        let mut s = state();
        let mut net = Fake::new();
        net.token()
            .json(200, &format!(r#"{{"record_count":3,"clients":[{{"id":1,"name":"A","azure_tenants":[{{"azure_tenant_id":"{T1}"}}]}},{{"id":2,"name":"B","azure_tenants":[]}}]}}"#))
            .json(200, r#"{"record_count":3,"clients":[{"id":3,"name":"C","azure_tenants":null}]}"#);
        let p1 = s.list_customers(&mut net, None).unwrap();
        assert_eq!(p1.customers.len(), 2);
        assert_eq!(p1.customers[0].m365_tenants.len(), 1);
        // Halo gave 2 of the 1,000 asked for: its cap is 2.
        assert_eq!(p1.next_cursor.as_deref(), Some("halopsa:p=2,s=2"));
        let p2 = s.list_customers(&mut net, p1.next_cursor.as_deref()).unwrap();
        assert_eq!((p2.customers.len(), p2.fetched, p2.total, p2.next_cursor), (1, 3, Some(3), None));
        let urls = net.urls();
        assert_eq!(urls[1], "https://acme.halopsa.com/api/Client?pageinate=true&page_size=1000&page_no=1&includeactive=true&includeinactive=true&includeazuretenants=true");
        assert_eq!(urls[2], "https://acme.halopsa.com/api/Client?pageinate=true&page_size=2&page_no=2&includeactive=true&includeinactive=true&includeazuretenants=true");
        assert_eq!(urls.len(), 3);
    }

    #[test]
    fn csp_fallback_and_forbidden() {
        let mut s = state();
        let mut net = Fake::new();
        net.token()
            .json(200, r#"{"record_count":2,"clients":[{"id":5,"name":"A"},{"id":6,"name":"B"}]}"#)
            .json(200, r#"{"connections":[{"id":11}]}"#)
            .json(200, &format!(r#"{{"id":11,"mappings_client":[{{"client_id":5,"client_name":"A","azure_tenant_id":"{T1}"}}]}}"#));
        let p = s.list_customers(&mut net, None).unwrap();
        assert_eq!(p.customers[0].m365_tenants.len(), 1);
        assert!(p.customers[1].m365_tenants.is_empty());
        assert!(net.urls()[3].ends_with("/api/AzureADConnection/11?type=2&includedetails=true&includetenants=true"));
        // A second import in the same session does not fetch the mappings again.
        net.json(200, r#"{"record_count":2,"clients":[{"id":5,"name":"A"},{"id":6,"name":"B"}]}"#);
        let p = s.list_customers(&mut net, None).unwrap();
        assert_eq!(p.customers[0].m365_tenants.len(), 1);
        assert_eq!(net.sent.len(), 5);

        let mut s = state();
        let mut net = Fake::new();
        net.token().json(200, r#"{"record_count":1,"clients":[{"id":5,"name":"A"}]}"#).json(403, "");
        let p = s.list_customers(&mut net, None).unwrap();
        assert_eq!(p.customers.len(), 1);
        assert_eq!(p.warnings.len(), 1);
        assert_eq!(p.warnings[0].code, "tenant-links-forbidden");
        assert!(p.warnings[0].message.contains("admin"));
    }

    #[test]
    fn bad_cursor_and_incomplete() {
        let mut s = state();
        let mut net = Fake::new();
        assert!(matches!(s.list_customers(&mut net, Some("garbage")), Err(Error::Internal(_))));
        net.token()
            .json(200, r#"{"record_count":5,"clients":[{"id":1,"azure_tenants":[]}]}"#)
            .json(200, r#"{"record_count":5,"clients":[]}"#);
        let p = s.list_customers(&mut net, None).unwrap();
        match s.list_customers(&mut net, p.next_cursor.as_deref()) {
            Err(Error::Protocol { endpoint, message }) => {
                assert_eq!(endpoint, "/api/Client");
                assert!(message.contains("only 1 distinct customers came back over 1 pages"));
            }
            other => panic!("{:?}", other.map(|p| p.fetched)),
        }
    }

    #[test]
    fn retry_with_same_cursor_does_not_duplicate() {
        let mut s = state();
        let mut net = Fake::new();
        let page2 = r#"{"record_count":3,"clients":[{"id":3,"azure_tenants":[]}, {"id":2,"azure_tenants":[]}]}"#;
        net.token()
            .json(200, r#"{"record_count":3,"clients":[{"id":1,"azure_tenants":[]},{"id":2,"azure_tenants":[]}]}"#)
            .json(200, page2)
            .json(200, page2);
        let p1 = s.list_customers(&mut net, None).unwrap();
        let p2 = s.list_customers(&mut net, p1.next_cursor.as_deref()).unwrap();
        assert_eq!(p2.customers.len(), 1);
        assert_eq!(p2.warnings.len(), 1);
        let again = s.list_customers(&mut net, p1.next_cursor.as_deref()).unwrap();
        assert!(again.customers.is_empty());
        assert!(again.warnings.is_empty());
        assert_eq!((again.fetched, again.next_cursor), (3, None));
    }

    #[test]
    fn hostile_bodies_never_panic() {
        let bodies = [
            "", "null", "[]", "{}", "42", "\"x\"", "<html>", "{\"clients\":null,\"record_count\":1}",
            "{\"clients\":[null],\"record_count\":1}", "{\"clients\":[{\"id\":{}}],\"record_count\":1}",
            "{\"clients\":[{\"id\":1,\"azure_tenants\":\"x\"}],\"record_count\":1}",
            "{\"clients\":[{\"id\":1,\"azure_tenants\":[1,null,{\"azure_tenant_id\":5}]}],\"record_count\":1e40}",
            "{\"clients\":[{\"id\":1,\"name\":[],\"domain\":7,\"website\":\"http://[::1\"}],\"record_count\":1}",
            "{\"clients\":[{\"id\":-9223372036854775808,\"website\":\"\\u00e9.\\u00e9\"}],\"record_count\":\"-1\"}",
            "{\"clients\":[{\"id\":1}],\"record_count\":1",
        ];
        for b in bodies {
            let mut s = state();
            let mut net = Fake::new();
            net.token().json(200, b).json(200, b).json(200, b);
            let _ = s.list_customers(&mut net, None);
            let _ = crate::answer::extract_halo_message(b.as_bytes());
            let _ = crate::tenants::connection_ids(&serde_json::from_str(b).unwrap_or_default());
            let _ = crate::tickets::parse_created("/api/Tickets", b.as_bytes());
        }
    }

    #[test]
    fn halo_times() {
        assert_eq!(halo_time(0), "1970-01-01T00:00:00");
        assert_eq!(halo_time(1_785_565_800), "2026-08-01T06:30:00");
        assert_eq!(halo_time(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(halo_time(u64::MAX), "9999-12-31T23:59:59");
    }

    #[test]
    fn changed_since_with_a_filtering_halo() {
        let mut s = state();
        let mut net = Fake::new();
        net.token()
            .json(200, r#"{"record_count":0,"clients":[]}"#)
            .json(200, r#"{"record_count":1,"clients":[{"id":4,"name":"D","azure_tenants":[]}]}"#);
        let since = 1_785_565_800; // 2026-08-01T06:30:00
        let p = s.list_customers_changed(&mut net, since, None).unwrap();
        assert_eq!((p.customers.len(), p.next_cursor.clone(), p.warnings.len()), (1, None, 0));
        let urls = net.urls();
        assert!(urls[1].contains("page_size=1&page_no=1") && urls[1].ends_with("&lastupdatefromdate=2100-01-01T00:00:00"), "{}", urls[1]);
        // 14 hours before the platform's time.
        assert!(urls[2].ends_with("&lastupdatefromdate=2026-07-31T16:30:00"), "{}", urls[2]);
        assert_eq!(net.sent.len(), 3);
        // The probe is asked once per session.
        net.json(200, r#"{"record_count":0,"clients":[]}"#);
        s.list_customers_changed(&mut net, since, None).unwrap();
        assert_eq!(net.sent.len(), 4);
    }

    #[test]
    fn changed_since_with_a_halo_that_ignores_it_lists_everyone_and_says_so() {
        let mut s = state();
        let mut net = Fake::new();
        net.token()
            .json(200, r#"{"record_count":3,"clients":[{"id":1,"azure_tenants":[]}]}"#)
            .json(200, r#"{"record_count":3,"clients":[{"id":1,"azure_tenants":[]},{"id":2,"azure_tenants":[]}]}"#)
            .json(200, r#"{"record_count":3,"clients":[{"id":3,"azure_tenants":[]}]}"#);
        let p1 = s.list_customers_changed(&mut net, 1_700_000_000, None).unwrap();
        assert_eq!(p1.warnings[0].code, W_CHANGED_IGNORED);
        assert!(!net.urls()[2].contains("lastupdatefromdate"), "{}", net.urls()[2]);
        let p2 = s.list_customers_changed(&mut net, 1_700_000_000, p1.next_cursor.as_deref()).unwrap();
        assert!(p2.warnings.is_empty());
        assert_eq!((p2.fetched, p2.next_cursor), (3, None));
    }

}
