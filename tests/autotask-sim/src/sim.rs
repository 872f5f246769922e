//! [`AutotaskSim`]: starts the zone lookup listener and the zone listeners on 127.0.0.1 and
//! gives tests their handles on the shared state.

use crate::api;
use crate::data::SimCompany;
use crate::options::{Faults, LoggedRequest, SimOptions};
use crate::state::Shared;
use crate::tls;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A running simulated Autotask database. Dropping it stops every listener.
pub struct AutotaskSim {
    shared: Shared,
    lookup_base: String,
    /// Where each zone listens (the lookup listener's address when zones share it).
    zone_addrs: Vec<std::net::SocketAddr>,
    stop: watch::Sender<bool>,
}

impl AutotaskSim {
    /// Starts the lookup listener and `opts.zones` (at least 1) zone listeners on OS-chosen
    /// loopback ports, on the current tokio runtime.
    pub async fn start(opts: SimOptions) -> std::io::Result<AutotaskSim> {
        Self::start_on(opts, 0).await
    }

    /// Like [`AutotaskSim::start`], the lookup listener on `lookup_port` (0 = OS-chosen; zones
    /// always on OS-chosen ports).
    pub async fn start_on(opts: SimOptions, lookup_port: u16) -> std::io::Result<AutotaskSim> {
        let lookup = TcpListener::bind(("127.0.0.1", lookup_port)).await?;
        let lookup_addr = lookup.local_addr()?;
        let lookup_base = format!("http://{lookup_addr}");
        let tls = opts.zone_tls.clone().filter(|t| !t.names.is_empty());
        let count = tls.as_ref().map_or(opts.zones.max(1), |t| t.names.len());
        let shared_zones = opts.zones_on_lookup_listener && tls.is_none();
        let acceptor = tls.as_ref().map(|t| tls::acceptor(&t.identity)).transpose()?;
        let mut zones = Vec::new();
        if !shared_zones {
            for i in 0..count {
                let l = TcpListener::bind(("127.0.0.1", 0)).await?;
                let base = match &tls {
                    Some(t) => format!("https://{}", t.names[i].trim_end_matches('.').to_ascii_lowercase()),
                    None => format!("http://{}", l.local_addr()?),
                };
                zones.push((l, base));
            }
        }
        let bases: Vec<String> = if shared_zones {
            (0..count).map(|i| format!("{lookup_base}/zone{i}")).collect()
        } else {
            zones.iter().map(|(_, b)| b.clone()).collect()
        };
        let zone_addrs = if shared_zones {
            vec![lookup_addr; count]
        } else {
            zones.iter().map(|(l, _)| l.local_addr()).collect::<std::io::Result<Vec<_>>>()?
        };
        let shared = Shared::new(opts, bases);
        let (stop, stopped) = watch::channel(false);
        let lookup_app = if shared_zones {
            Router::new().fallback(api::lookup_or_zone).with_state(shared.clone())
        } else {
            Router::new().fallback(api::lookup).with_state(shared.clone())
        };
        let mut apps = vec![(lookup, lookup_app)];
        for (i, (l, _)) in zones.into_iter().enumerate() {
            apps.push((l, Router::new().fallback(api::zone).with_state((shared.clone(), i))));
        }
        for (i, (listener, app)) in apps.into_iter().enumerate() {
            if let (Some(acceptor), true) = (&acceptor, i > 0) {
                tokio::spawn(tls::serve(listener, acceptor.clone(), app, stopped.clone()));
                continue;
            }
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                let shutdown = async move {
                    let _ = stopped.wait_for(|s| *s).await;
                };
                let _ = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
            });
        }
        Ok(AutotaskSim { shared, lookup_base, zone_addrs, stop })
    }

    /// `http://127.0.0.1:PL`: the zone lookup host (`https://webservices.autotask.net` in real
    /// life). The lookup is `{lookup_url}/ATServicesRest/V1.0/zoneInformation?user=U`.
    pub fn lookup_url(&self) -> String {
        self.lookup_base.clone()
    }

    /// Where zone `n` listens on loopback: with [`SimOptions::zone_tls`], what a client maps
    /// `{zone name}:443` to (the host's `DnsOverrides::connect_to`).
    pub fn zone_addr(&self, n: usize) -> Option<std::net::SocketAddr> {
        self.zone_addrs.get(n).copied()
    }

    /// The number of zones.
    pub fn zone_count(&self) -> usize {
        self.zone_addrs.len()
    }

    /// `http://127.0.0.1:PZ/ATServicesRest/` of zone `n` (as `zoneInformation.url` names it;
    /// `https://webservices5.autotask.net/ATServicesRest/` with [`SimOptions::zone_tls`]),
    /// `None` when there is no such zone.
    pub fn zone_url(&self, n: usize) -> Option<String> {
        self.shared.lock().zone_bases.get(n).map(|b| format!("{b}/ATServicesRest/"))
    }

    /// `http://127.0.0.1:PZ` of zone `n` (scheme and host only).
    pub fn zone_base(&self, n: usize) -> Option<String> {
        self.shared.lock().zone_bases.get(n).cloned()
    }

    /// The zone holding the database now.
    pub fn database_zone(&self) -> usize {
        self.shared.lock().database_zone
    }

    /// Moves the database to zone `to` (ignored when there is no such zone): the lookup names
    /// it from now on, and every other zone answers 401.
    pub fn move_database(&self, to: usize) {
        let mut st = self.shared.lock();
        if to < st.zone_bases.len() {
            st.database_zone = to;
        }
    }

    /// The options it runs with (companies as currently set).
    pub fn options(&self) -> SimOptions {
        self.shared.lock().opts.clone()
    }

    /// Replaces the faults.
    pub fn set_faults(&self, f: Faults) {
        self.shared.lock().faults = f;
    }

    /// Replaces the companies mid-run.
    pub fn set_companies(&self, c: Vec<SimCompany>) {
        self.shared.lock().opts.companies = c;
    }

    /// Forgets the requests the hourly budget counted so far.
    pub fn reset_budget(&self) {
        self.shared.lock().arrivals.clear();
    }

    /// The Autotask connection form an admin would fill in: field id and value pairs
    /// (`username`, `secret`, `integration_code`, `tenant_udf`, and `ticket_queue_id`: the
    /// first active queue, because the default picklists mark none as default and Autotask
    /// needs a queue on every ticket).
    pub fn connection_form(&self) -> Vec<(String, String)> {
        let o = self.options();
        let mut form = vec![
            ("username".to_string(), o.username),
            ("secret".to_string(), o.secret),
            ("integration_code".to_string(), o.integration_code),
            ("tenant_udf".to_string(), crate::data::TENANT_UDF.to_string()),
        ];
        if let Some(q) = o.ticket_picklists.queue_id.iter().find(|p| p.is_active) {
            form.push(("ticket_queue_id".to_string(), q.value.to_string()));
        }
        form
    }

    /// Moves the change dates of the companies `ids` to `at` (`YYYY-MM-DDTHH:MM:SSZ`), as a
    /// change in Autotask would: both, or only the one `which` names.
    pub fn touch_companies(&self, ids: &[i64], at: &str, which: crate::Touch) {
        let mut st = self.shared.lock();
        for c in st.opts.companies.iter_mut().filter(|c| ids.contains(&c.id)) {
            if which != crate::Touch::Modified {
                c.last_activity_date = at.to_string();
            }
            if which != crate::Touch::Activity {
                c.last_tracked_modified = at.to_string();
            }
        }
    }

    /// The tickets posted so far.
    pub fn tickets(&self) -> Vec<crate::SimTicket> {
        self.shared.lock().tickets.clone()
    }

    /// The ticket notes posted so far.
    pub fn notes(&self) -> Vec<crate::SimNote> {
        self.shared.lock().notes.clone()
    }

    /// Sets a ticket's status (say 5, Complete), as a technician would.
    pub fn set_ticket_status(&self, id: i64, status: i64) {
        if let Some(t) = self.shared.lock().tickets.iter_mut().find(|t| t.id == id) {
            t.status = status;
        }
    }

    /// Every request on every listener so far, in the order they were answered.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.lock().log.clone()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        self.shared.lock().log.clear();
    }
}

impl Drop for AutotaskSim {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
