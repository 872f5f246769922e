//! `halo-sim`: serves a simulated HaloPSA instance on loopback until Ctrl-C, printing the values
//! an admin would copy from Halo and a ready-to-use `psa-host` config.

use clap::{Parser, ValueEnum};
use halo_sim::{sample_customers, FilterSupport, HaloSim, PageOffsets, RateLimit, SimOptions, TenantLinks};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Links {
    OnRows,
    CspOnly,
    Both,
    None,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Filter {
    Filters,
    Ignored,
}

impl From<Filter> for FilterSupport {
    fn from(f: Filter) -> FilterSupport {
        match f {
            Filter::Filters => FilterSupport::Filters,
            Filter::Ignored => FilterSupport::Ignored,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Offsets {
    Served,
    Asked,
}

/// A HaloPSA API simulator (token server + /api resource server) for connector development.
#[derive(Parser, Debug)]
#[command(name = "halo-sim", version)]
struct Args {
    /// Number of sample customers.
    #[arg(long, default_value_t = 250)]
    customers: usize,
    /// Seed of the sample data.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Most rows per page, whatever page_size asks (0: no cap).
    #[arg(long, default_value_t = 100)]
    page_cap: usize,
    /// Where a capped page starts: at the served size (served) or at the size asked for
    /// (asked: page_no=2&page_size=1000 under a cap of 100 gives rows 1000..1100).
    #[arg(long, value_enum, default_value_t = Offsets::Served)]
    page_offsets: Offsets,
    /// Answer 411 Length Required to a body without Content-Length, like a strict proxy.
    #[arg(long)]
    require_content_length: bool,
    /// Require ?tenant=T at the token endpoint (hosted Halo).
    #[arg(long)]
    tenant: Option<String>,
    /// Where customer <-> Microsoft 365 tenant links are visible.
    #[arg(long, value_enum, default_value_t = Links::OnRows)]
    tenant_links: Links,
    /// Port of the authorization server (0 = any free port).
    #[arg(long, default_value_t = 0)]
    auth_port: u16,
    /// Port of the resource server (0 = any free port).
    #[arg(long, default_value_t = 0)]
    resource_port: u16,
    /// Rolling-window rate limit over both listeners as N/SECONDS, e.g. 300/300 (hosted Halo).
    #[arg(long, value_parser = parse_rate_limit, value_name = "N/SECONDS")]
    rate_limit: Option<RateLimit>,
    /// Whether GET /api/Tickets?third_party_id_string=K filters on the key or ignores it.
    #[arg(long, value_enum, default_value_t = Filter::Filters)]
    ticket_key_filter: Filter,
    /// Whether GET /api/Client?lastupdatefromdate=ISO filters on the last update or ignores it.
    #[arg(long, value_enum, default_value_t = Filter::Filters)]
    client_lastupdate_filter: Filter,
    /// An action outcome id the API agent may not run (repeatable).
    #[arg(long = "restricted-outcome", value_name = "ID")]
    restricted_outcomes: Vec<i64>,
}

/// `N/SECONDS` → at most N requests per rolling window of SECONDS (fractions allowed).
fn parse_rate_limit(s: &str) -> Result<RateLimit, String> {
    let (n, secs) = s.split_once('/').ok_or("expected N/SECONDS, e.g. 300/300")?;
    let max_requests: u32 = n.trim().parse().map_err(|e| format!("bad N {n:?}: {e}"))?;
    let secs: f64 = secs.trim().parse().map_err(|e| format!("bad SECONDS {secs:?}: {e}"))?;
    if max_requests == 0 || !(secs > 0.0 && secs.is_finite()) {
        return Err("N and SECONDS must be positive".into());
    }
    Ok(RateLimit { max_requests, window: std::time::Duration::from_secs_f64(secs) })
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let opts = SimOptions {
        customers: sample_customers(args.customers, args.seed),
        page_cap: if args.page_cap == 0 { usize::MAX } else { args.page_cap },
        page_offsets: match args.page_offsets {
            Offsets::Served => PageOffsets::FromServedSize,
            Offsets::Asked => PageOffsets::FromAskedSize,
        },
        require_content_length: args.require_content_length,
        tenant: args.tenant.clone(),
        tenant_links: match args.tenant_links {
            Links::OnRows => TenantLinks::OnRows,
            Links::CspOnly => TenantLinks::CspOnly,
            Links::Both => TenantLinks::Both,
            Links::None => TenantLinks::None,
        },
        rate_limit: args.rate_limit.clone(),
        ticket_key_filter: args.ticket_key_filter.into(),
        client_lastupdate_filter: args.client_lastupdate_filter.into(),
        restricted_outcomes: args.restricted_outcomes.clone(),
        ..SimOptions::default()
    };
    let sim = HaloSim::start_on(opts, args.auth_port, args.resource_port).await?;
    let o = sim.options();
    let tenant = o.tenant.clone().unwrap_or_default();
    println!("HaloPSA simulator running ({} customers). Ctrl-C to stop.", o.customers.len());
    println!();
    println!("Resource Server URL:      {}", sim.resource_url());
    println!("Authorization Server URL: {}", sim.auth_url());
    println!("Client ID:                {}", o.client_id);
    println!("Client Secret:            {}", o.client_secret);
    println!("Tenant:                   {}", if tenant.is_empty() { "(none)" } else { &tenant });
    if let Some(r) = &o.rate_limit {
        println!("Rate limit:               {}", r.message().trim_start_matches("Rate Limit Reached - "));
    }
    println!();
    println!("# psa-host config");
    println!("resource_server_url = {}", toml_str(&sim.resource_url()));
    println!("authorization_server_url = {}", toml_str(&sim.auth_url()));
    println!("client_id = {}", toml_str(&o.client_id));
    println!("client_secret = {}", toml_str(&o.client_secret));
    println!("tenant = {}", toml_str(&tenant));
    tokio::signal::ctrl_c().await?;
    drop(sim);
    Ok(())
}
