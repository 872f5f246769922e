//! A HaloPSA API simulator, faithful to what is known of Halo's real API
//! (`shared/halopsa/API.md`): an OAuth client-credentials token server on one listener and the
//! `/api` resource server on another, with sample customers, Microsoft 365 tenant links, tickets,
//! paging caps, permission checks and injectable faults (429, 502, HTML login page, latency).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sim = halo_sim::HaloSim::start(halo_sim::SimOptions::default()).await?;
//! println!("{} {}", sim.auth_url(), sim.resource_url());
//! # Ok(()) }
//! ```
//!
//! Modules: [`options`] (configuration, faults, log entries), [`data`] (customers and sample
//! data), `state` (shared state, tokens, scope rules), `auth` (token listener), `api` (resource
//! routes), `sim` ([`HaloSim`]).

mod api;
mod auth;
pub mod data;
pub mod options;
mod respond;
mod sim;
mod state;

pub use data::{sample_customers, SimCustomer, SimTenant};
pub use options::{CspListShape, Faults, Listener, LoggedRequest, SimOptions, TenantFailure, TenantLinks};
pub use sim::HaloSim;
pub use state::KNOWN_SCOPES;
