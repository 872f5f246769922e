//! Configuration of a simulated Halo instance ([`SimOptions`]), the faults that can be switched
//! on while it runs ([`Faults`]), and the request log entries it keeps ([`LoggedRequest`]).

use crate::data::{sample_customers, SimCustomer};

/// How a simulated Halo instance is set up. Build with `SimOptions { x, ..Default::default() }`.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// The Halo application's Client ID.
    pub client_id: String,
    /// The Halo application's Client Secret.
    pub client_secret: String,
    /// `Some(t)`: the token endpoint requires `?tenant=t` (hosted Halo). `None`: on-premise style,
    /// any (or no) `?tenant=` is accepted.
    pub tenant: Option<String>,
    /// How a missing or wrong `?tenant=` is answered when `tenant` is set.
    pub tenant_failure: TenantFailure,
    /// What the Halo application is granted (Halo scope names, e.g. `read:customers`, `admin`).
    pub app_permissions: Vec<String>,
    /// The application logs in as an Agent. `false`: every authenticated /api call answers 403.
    pub agent_login: bool,
    /// Most rows one page holds, whatever `page_size` asks for.
    pub page_cap: usize,
    /// Where the customer ↔ Microsoft 365 tenant links can be read.
    pub tenant_links: TenantLinks,
    /// Shape of the `GET /api/AzureADConnection?type=2` body.
    pub csp_list_shape: CspListShape,
    /// `expires_in` of issued tokens; tokens really stop working after this many seconds.
    pub token_ttl_secs: u64,
    /// The customers ("Clients") the instance holds.
    pub customers: Vec<SimCustomer>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            client_id: "optimize365-test-client".to_string(),
            client_secret: "sim-secret-0123456789abcdef".to_string(),
            tenant: None,
            tenant_failure: TenantFailure::InvalidClient,
            app_permissions: ["read:customers", "edit:customers", "read:tickets", "edit:tickets", "admin"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            agent_login: true,
            page_cap: 100,
            tenant_links: TenantLinks::OnRows,
            csp_list_shape: CspListShape::BareArray,
            token_ttl_secs: 3600,
            customers: sample_customers(250, 7),
        }
    }
}

/// How the token endpoint answers a missing or wrong `?tenant=` (sources disagree, so all three
/// plausible answers can be simulated).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenantFailure {
    /// 401 `{"error":"invalid_client",...}`, as for wrong credentials.
    InvalidClient,
    /// 400 `{"error":"invalid_request","error_description":"The tenant is not valid."}`.
    BadRequest,
    /// 404 with an HTML page.
    NotFoundHtml,
}

/// Where customer ↔ tenant links are visible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenantLinks {
    /// Only as `azure_tenants[]` on `/api/Client` rows (with `includeazuretenants=true`).
    OnRows,
    /// Only through the CSP connections (`/api/AzureADConnection`).
    CspOnly,
    /// Both ways.
    Both,
    /// Nowhere: the connector must fall back to names and domains.
    None,
}

/// Shape of the `GET /api/AzureADConnection?type=2` body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CspListShape {
    /// `[{..},{..}]`
    BareArray,
    /// One connection object (holding every mapping), not an array.
    SingleObject,
    /// `{"record_count":n,"connections":[..]}`
    Wrapped,
}

/// Faults injected into /api requests (latency also applies to the auth listener).
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// The next N /api requests answer 429 "Rate Limit Reached - 300 Requests per rolling 5 minute window".
    pub rate_limit_next: u32,
    /// If `Some(n)`, 429 answers carry `Retry-After: n` (Halo itself sends none).
    pub retry_after: Option<u32>,
    /// The next N /api requests answer 502 with an HTML body.
    pub server_error_next: u32,
    /// Every /api request answers 200 text/html with a login page (as a wrong resource URL would).
    pub html_login_page: bool,
    /// Every response, auth and api, is delayed this long.
    pub latency_ms: u64,
}

/// Which of the two listeners a request reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listener {
    /// The authorization server (`/auth/...`).
    Auth,
    /// The resource server (`/api/...`).
    Resource,
}

/// One request as the simulator saw and answered it.
#[derive(Clone, Debug)]
pub struct LoggedRequest {
    pub listener: Listener,
    pub method: String,
    /// The path as sent (not lower-cased).
    pub path: String,
    /// The raw query string without `?` (empty when none).
    pub query: String,
    pub status: u16,
}
