//! A HaloPSA API simulator, faithful to what is known of Halo's real API from public sources
//! (Halo's OpenAPI spec, a subset of which is in `tests/openapi/`, and clients that run against
//! real instances): an OAuth client-credentials token server on one listener and the `/api`
//! resource server on another, with sample customers,
//! Microsoft 365 tenant links, tickets, paging caps (page offsets from the served or from the
//! asked size), permission checks, a rolling-window rate limit, a strict proxy's 411 for a body
//! without a length, optional HTTPS and injectable faults (429, 502, 503, 504, connection reset,
//! hang, HTML login page, latency; by count or by request index).
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
//! routes), `tls` (HTTPS serving, [`test_ca`], [`self_signed_tls`]), `sim` ([`HaloSim`]).

mod api;
mod auth;
pub mod data;
pub mod options;
mod respond;
mod sim;
mod state;
mod tickets;
mod tls;

pub use data::{sample_customers, Rng, SimCustomer, SimTenant};
pub use options::{
    CspListShape, FaultKind, Faults, FilterSupport, Listener, LoggedRequest, PageOffsets, RateLimit, ScheduledFault, SimOptions,
    SimTls, TenantFailure, TenantLinks,
};
pub use sim::HaloSim;
pub use state::KNOWN_SCOPES;
pub use tls::{acceptor as tls_acceptor, self_signed_tls, serve as serve_tls, test_ca};
