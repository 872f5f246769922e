//! [`HaloSim`]: starts the two listeners (authorization server and resource server) on
//! 127.0.0.1 and gives tests their handles on the shared state.

use crate::api;
use crate::auth;
use crate::options::{Faults, LoggedRequest, SimOptions};
use crate::data::SimCustomer;
use crate::state::Shared;
use crate::options::RateLimit;
use crate::tls;
use axum::Router;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A running simulated Halo instance. Dropping it stops both listeners.
pub struct HaloSim {
    shared: Shared,
    auth_addr: SocketAddr,
    resource_addr: SocketAddr,
    /// `http` or `https`.
    scheme: &'static str,
    stop: watch::Sender<bool>,
}

impl HaloSim {
    /// Starts both listeners on OS-chosen loopback ports, on the current tokio runtime.
    pub async fn start(opts: SimOptions) -> std::io::Result<HaloSim> {
        Self::start_on(opts, 0, 0).await
    }

    /// Like [`HaloSim::start`], on the given ports (0 = OS-chosen).
    pub async fn start_on(opts: SimOptions, auth_port: u16, resource_port: u16) -> std::io::Result<HaloSim> {
        let auth_listener = TcpListener::bind(("127.0.0.1", auth_port)).await?;
        let resource_listener = TcpListener::bind(("127.0.0.1", resource_port)).await?;
        let auth_addr = auth_listener.local_addr()?;
        let resource_addr = resource_listener.local_addr()?;
        let acceptor = opts.tls.as_ref().map(tls::acceptor).transpose()?;
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        let shared = Shared::new(opts);
        let (stop, stopped) = watch::channel(false);

        let auth_app = Router::new().fallback(auth::handle).with_state(shared.clone());
        let api_app = Router::new().fallback(api::handle).with_state(shared.clone());
        for (listener, app) in [(auth_listener, auth_app), (resource_listener, api_app)] {
            let mut stopped = stopped.clone();
            match acceptor.clone() {
                Some(acceptor) => {
                    tokio::spawn(tls::serve(listener, acceptor, app, stopped));
                }
                None => {
                    tokio::spawn(async move {
                        let shutdown = async move {
                            let _ = stopped.wait_for(|s| *s).await;
                        };
                        let _ = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
                    });
                }
            }
        }
        let sim = HaloSim { shared, auth_addr, resource_addr, scheme, stop };
        sim.shared.lock().auth_url = sim.auth_url();
        Ok(sim)
    }

    /// The host part of the URLs: `127.0.0.1:P` over HTTP, `localhost:P` over HTTPS (so
    /// certificates for "localhost" verify).
    fn host(&self, addr: SocketAddr) -> String {
        if self.scheme == "https" {
            format!("localhost:{}", addr.port())
        } else {
            addr.to_string()
        }
    }

    /// `http://127.0.0.1:PA/auth` (`https://localhost:PA/auth` with TLS): the Authorization
    /// Server URL (a listener of its own).
    pub fn auth_url(&self) -> String {
        format!("{}://{}/auth", self.scheme, self.host(self.auth_addr))
    }

    /// `http://127.0.0.1:PR/api` (`https://localhost:PR/api` with TLS): the Resource Server URL.
    pub fn resource_url(&self) -> String {
        format!("{}://{}/api", self.scheme, self.host(self.resource_addr))
    }

    /// `http://127.0.0.1:PR` (`https://localhost:PR` with TLS): the instance URL (the resource
    /// URL without `/api`).
    pub fn instance_url(&self) -> String {
        format!("{}://{}", self.scheme, self.host(self.resource_addr))
    }

    /// The options it runs with (customers as currently set).
    pub fn options(&self) -> SimOptions {
        self.shared.lock().opts.clone()
    }

    /// Replaces the injected faults and restarts the count of /api requests that
    /// [`Faults::schedule`] indexes (the next /api request is number 1).
    pub fn set_faults(&self, f: Faults) {
        let mut st = self.shared.lock();
        st.faults = f;
        st.fault_seq = 0;
    }

    /// Replaces the rolling-window rate limit (`None`: unlimited). Arrivals already recorded
    /// keep counting against a new limit.
    pub fn set_rate_limit(&self, r: Option<RateLimit>) {
        self.shared.lock().opts.rate_limit = r;
    }

    /// Every token issued so far is rejected with 401 from now on.
    pub fn expire_all_tokens(&self) {
        self.shared.lock().tokens.clear();
    }

    /// Every request on both listeners so far, in the order they were answered.
    /// The HaloPSA connection form an admin would fill in for this
    /// simulator: field id and value pairs.
    pub fn connection_form(&self) -> Vec<(String, String)> {
        let o = self.options();
        let mut v = vec![
            ("resource_server_url".to_string(), self.resource_url()),
            ("authorization_server_url".to_string(), self.auth_url()),
            ("client_id".to_string(), o.client_id.clone()),
            ("client_secret".to_string(), o.client_secret.clone()),
        ];
        if let Some(t) = o.tenant {
            v.push(("tenant".to_string(), t));
        }
        v
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.lock().log.clone()
    }

    pub fn clear_requests(&self) {
        self.shared.lock().log.clear();
    }

    /// Tickets created (and updated) via `POST /api/Tickets`, in creation order.
    pub fn tickets(&self) -> Vec<serde_json::Value> {
        self.shared.lock().tickets.clone()
    }

    /// Tickets as Halo now holds them, deleted ones left out.
    pub fn live_tickets(&self) -> Vec<serde_json::Value> {
        let st = self.shared.lock();
        st.tickets
            .iter()
            .filter(|t| t["id"].as_i64().is_some_and(|id| !st.deleted_tickets.contains(&id)))
            .cloned()
            .collect()
    }

    /// Closes a ticket as an agent would (status Closed, `hasbeenclosed: true`). False when no
    /// such ticket.
    pub fn close_ticket(&self, id: i64) -> bool {
        let mut st = self.shared.lock();
        match st.tickets.iter_mut().find(|t| t["id"] == serde_json::json!(id)) {
            Some(t) => {
                t["status_id"] = serde_json::json!(crate::tickets::CLOSED);
                t["hasbeenclosed"] = serde_json::json!(true);
                true
            }
            None => false,
        }
    }

    /// Deletes a ticket: it leaves the lists, and `GET /api/Tickets/{id}` answers without an
    /// `id`. False when no such ticket.
    pub fn delete_ticket(&self, id: i64) -> bool {
        let mut st = self.shared.lock();
        let exists = st.tickets.iter().any(|t| t["id"] == serde_json::json!(id));
        if exists {
            st.deleted_tickets.insert(id);
        }
        exists
    }

    /// Actions (notes) created via `POST /api/Actions`, in creation order.
    pub fn actions(&self) -> Vec<serde_json::Value> {
        self.shared.lock().actions.clone()
    }

    /// The JSON bodies POSTed to a resource path (compared without regard to case, e.g.
    /// `/api/Tickets`), in order, whatever the answer; a body that is not JSON as a string.
    pub fn posted(&self, path: &str) -> Vec<serde_json::Value> {
        self.shared
            .lock()
            .log
            .iter()
            .filter(|r| r.method == "POST" && r.path.eq_ignore_ascii_case(path))
            .filter_map(|r| r.body.as_ref())
            .map(|b| serde_json::from_str(b).unwrap_or_else(|_| serde_json::Value::String(b.clone())))
            .collect()
    }

    /// Marks these customers as updated now (for `lastupdatefromdate`); returns how many exist.
    pub fn touch_customers(&self, ids: &[i64]) -> usize {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let mut st = self.shared.lock();
        let known: Vec<i64> = ids.iter().copied().filter(|id| st.opts.customers.iter().any(|c| c.id == *id)).collect();
        for id in &known {
            st.client_updated.insert(*id, now);
        }
        known.len()
    }

    /// Replaces the customers mid-run.
    pub fn set_customers(&self, c: Vec<SimCustomer>) {
        self.shared.lock().opts.customers = c;
    }
}

impl Drop for HaloSim {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
