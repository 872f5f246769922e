//! [`HaloSim`]: starts the two listeners (authorization server and resource server) on
//! 127.0.0.1 and gives tests their handles on the shared state.

use crate::api;
use crate::auth;
use crate::options::{Faults, LoggedRequest, SimOptions};
use crate::data::SimCustomer;
use crate::state::Shared;
use axum::Router;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A running simulated Halo instance. Dropping it stops both listeners.
pub struct HaloSim {
    shared: Shared,
    auth_addr: SocketAddr,
    resource_addr: SocketAddr,
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
        let shared = Shared::new(opts);
        shared.lock().auth_url = format!("http://{auth_addr}/auth");
        let (stop, stopped) = watch::channel(false);

        let auth_app = Router::new().fallback(auth::handle).with_state(shared.clone());
        let api_app = Router::new().fallback(api::handle).with_state(shared.clone());
        for (listener, app) in [(auth_listener, auth_app), (resource_listener, api_app)] {
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                let shutdown = async move {
                    let _ = stopped.wait_for(|s| *s).await;
                };
                let _ = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
            });
        }
        Ok(HaloSim { shared, auth_addr, resource_addr, stop })
    }

    /// `http://127.0.0.1:PA/auth`: the Authorization Server URL (a listener of its own).
    pub fn auth_url(&self) -> String {
        format!("http://{}/auth", self.auth_addr)
    }

    /// `http://127.0.0.1:PR/api`: the Resource Server URL.
    pub fn resource_url(&self) -> String {
        format!("http://{}/api", self.resource_addr)
    }

    /// `http://127.0.0.1:PR`: the instance URL (the resource URL without `/api`).
    pub fn instance_url(&self) -> String {
        format!("http://{}", self.resource_addr)
    }

    /// The options it runs with (customers as currently set).
    pub fn options(&self) -> SimOptions {
        self.shared.lock().opts.clone()
    }

    /// Replaces the injected faults.
    pub fn set_faults(&self, f: Faults) {
        self.shared.lock().faults = f;
    }

    /// Every token issued so far is rejected with 401 from now on.
    pub fn expire_all_tokens(&self) {
        self.shared.lock().tokens.clear();
    }

    /// Every request on both listeners so far, in the order they were answered.
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
