//! `autotask-sim`: serves a simulated Autotask database on loopback until Ctrl-C, printing the
//! values an admin would copy from Autotask.

use autotask_sim::{sample_companies, AutotaskSim, Budget, ChangeFields, EmptyUdfs, LastPage, LimitAnswer, SimOptions};
use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Answer {
    /// HTTP 429.
    TooMany,
    /// HTTP 500 with errors.
    ServerError,
}

impl From<Answer> for LimitAnswer {
    fn from(a: Answer) -> LimitAnswer {
        match a {
            Answer::TooMany => LimitAnswer::TooManyRequests,
            Answer::ServerError => LimitAnswer::ServerError,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Last {
    Null,
    Omitted,
    Empty,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Udfs {
    Omitted,
    Null,
    EmptyString,
}

/// An Autotask PSA REST API simulator (zone lookup + zones) for connector development.
#[derive(Parser, Debug)]
#[command(name = "autotask-sim", version)]
struct Args {
    /// Number of sample companies.
    #[arg(long, default_value_t = 1200)]
    companies: usize,
    /// Seed of the sample data.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Most rows per page (MaxRecords above it is clamped).
    #[arg(long, default_value_t = 500)]
    page_cap: usize,
    /// Number of zone listeners.
    #[arg(long, default_value_t = 2)]
    zones: usize,
    /// Port of the zone lookup listener (0 = any free port).
    #[arg(long, default_value_t = 0)]
    lookup_port: u16,
    /// Requests per rolling hour (0: unlimited).
    #[arg(long, default_value_t = 10_000)]
    budget: u32,
    /// How a request over the hourly budget is answered.
    #[arg(long, value_enum, default_value_t = Answer::TooMany)]
    budget_answer: Answer,
    /// Concurrent requests per endpoint (0: unlimited).
    #[arg(long, default_value_t = 3)]
    thread_limit: usize,
    /// How a request over the thread limit is answered.
    #[arg(long, value_enum, default_value_t = Answer::ServerError)]
    thread_answer: Answer,
    /// How the last page says it is the last.
    #[arg(long, value_enum, default_value_t = Last::Null)]
    last_page: Last,
    /// How empty UDFs are served.
    #[arg(long, value_enum, default_value_t = Udfs::Omitted)]
    empty_udfs: Udfs,
    /// Serve the zones on the zone lookup listener, under /zone<N>/ (what
    /// `psa-host demo --connector autotask` does): a sandbox that admits only
    /// the form's zone lookup URL on loopback reaches them there.
    #[arg(long)]
    zones_on_lookup_listener: bool,
    /// Refuse ticket queries that filter on externalID (whether Autotask
    /// allows it is unsure; a connector must cope either way).
    #[arg(long)]
    external_id_not_queryable: bool,
    /// Which company change dates a query may filter on.
    #[arg(long, value_enum, default_value_t = Changes::Both)]
    change_fields: Changes,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Changes {
    Both,
    LastActivityDate,
    LastTrackedModified,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let a = Args::parse();
    let opts = SimOptions {
        companies: sample_companies(a.companies, a.seed),
        page_cap: a.page_cap.max(1),
        zones: a.zones.max(1),
        zones_on_lookup_listener: a.zones_on_lookup_listener,
        external_id_queryable: !a.external_id_not_queryable,
        change_fields: match a.change_fields {
            Changes::Both => ChangeFields::Both,
            Changes::LastActivityDate => ChangeFields::LastActivityDateOnly,
            Changes::LastTrackedModified => ChangeFields::LastTrackedModifiedOnly,
        },
        budget: (a.budget > 0).then(|| Budget { max_requests: a.budget, ..Budget::autotask() }),
        budget_answer: a.budget_answer.into(),
        thread_limit: (a.thread_limit > 0).then_some(a.thread_limit),
        thread_answer: a.thread_answer.into(),
        last_page: match a.last_page {
            Last::Null => LastPage::Null,
            Last::Omitted => LastPage::Omitted,
            Last::Empty => LastPage::Empty,
        },
        empty_udfs: match a.empty_udfs {
            Udfs::Omitted => EmptyUdfs::Omitted,
            Udfs::Null => EmptyUdfs::Null,
            Udfs::EmptyString => EmptyUdfs::EmptyString,
        },
        ..SimOptions::default()
    };
    let sim = AutotaskSim::start_on(opts, a.lookup_port).await?;
    let o = sim.options();
    println!("Autotask simulator running ({} companies). Ctrl-C to stop.", o.companies.len());
    println!();
    println!("Zone lookup:        {}/ATServicesRest/V1.0/zoneInformation?user={}", sim.lookup_url(), o.username);
    for z in 0..o.zones.max(1) {
        println!("Zone {}:             {}", z + 1, sim.zone_url(z).unwrap_or_default());
    }
    println!("UserName:           {}", o.username);
    println!("Secret:             {}", o.secret);
    println!("ApiIntegrationCode: {}", o.integration_code);
    println!("Tenant UDF:         {}", autotask_sim::TENANT_UDF);
    tokio::signal::ctrl_c().await?;
    drop(sim);
    Ok(())
}
