//! `psa-host`: run a PSA connector from the command line.
//!
//! The package `psa-host-cli` (`cargo run -p psa-host-cli -- demo`), built on
//! the `psa-host` library's public API with its `bundled-halopsa` feature;
//! clap, csv, tracing-subscriber, indicatif and the simulator (`demo`) are
//! this package's, not the library's.
//!
//! Exit codes:
//! | code | meaning |
//! |---|---|
//! | 0 | success; for `check`, every step passed or was skipped for a reason that is not a failure |
//! | 1 | the connection does not work: a `check` step failed, or the import failed (the connector's error is printed); or `import --record` refused the recording (a secret would remain in it, an answer was not read to its end, or it is full), writing nothing |
//! | 2 | usage or configuration error (bad flag, unreadable or invalid config file, a cache directory or key file other users could write, a bad `--since` or `--key`, a call the connector does not offer, an `import --record` directory that is not empty or cannot be written) |
//! | 3 | the connector misbehaved: crashed, ran past its deadline or memory, or broke the contract |
//! | 4 | the connector could not be loaded (not a component, wrong contract version) |

mod files;
mod harness;
mod log_writer;
mod new;
mod output;
mod progress;
mod record;

use clap::{Parser, Subcommand, ValueEnum};
use psa_host::escape::for_terminal as t;
use psa_host::{
    ConnectionConfig, Connector, Host, HostError, HostOptions, ImportOutcome, NewTicket, OptionChoice, OptionKind,
    StepStatus, TicketBody,
};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "psa-host", version, about = "Run Optimize365 PSA connectors (WebAssembly components) in a sandbox")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log level of the host's log on stderr: error, warn, info, debug or
    /// trace. A bare level applies to the host and the connector's output;
    /// other libraries stay at warn. Full tracing directives
    /// (`warn,wasmtime_wasi_http=debug`) are passed through as they are.
    #[arg(long, global = true, default_value = "warn", env = "PSA_HOST_LOG")]
    log: String,
}

#[derive(clap::Args, Clone)]
struct PluginArgs {
    /// Connector component (.wasm). Default: the bundled connector `--connector` names.
    #[arg(long, value_name = "FILE")]
    plugin: Option<PathBuf>,
    /// Which bundled connector to run when no `--plugin` is given.
    #[arg(long, value_enum, default_value = "halopsa", conflicts_with = "plugin")]
    connector: Bundled,
    /// Refuse to load the connector unless its SHA-256 is this (hex).
    #[arg(long, value_name = "HEX")]
    plugin_sha256: Option<String>,
    /// Directory of compiled connectors (default: $XDG_CACHE_HOME/psa-host
    /// or ~/.cache/psa-host; none without either variable). A connector is
    /// compiled once, then loaded from here. It must belong to you and not
    /// be writable by others (chmod 700); its entries are authenticated
    /// with the key in DIR.key beside it.
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    cache_dir: Option<PathBuf>,
    /// Compile the connector on every run; read and write no cache.
    #[arg(long)]
    no_cache: bool,
}

#[derive(clap::Args, Clone)]
struct ConnectArgs {
    /// Connection form as TOML; keys are the connector's field ids
    /// (`psa-host info` lists them); `<key>_env = "VAR"` reads a value from
    /// the environment.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    #[command(flatten)]
    plugin: PluginArgs,
    /// Permit the loopback addresses 127.0.0.1 and ::1 (no other address of
    /// 127.0.0.0/8) over http or https, for local simulators and tests.
    /// Internal networks stay refused.
    #[arg(long)]
    allow_loopback: bool,
    /// Also trust the root certificate(s) in this PEM file, for a
    /// self-hosted PSA whose certificate comes from a private CA. Repeatable.
    #[arg(long, value_name = "FILE")]
    ca_cert: Vec<PathBuf>,
    /// Answer HOST with ADDRESS instead of asking DNS (like curl's
    /// --resolve), e.g. to reach an instance by an address its public DNS
    /// does not give. The address is checked like any other: internal
    /// addresses stay refused. Repeatable.
    #[arg(long, value_name = "HOST=ADDRESS")]
    resolve: Vec<String>,
}

#[derive(Copy, Clone, ValueEnum, PartialEq, Eq)]
enum Format {
    Json,
    Ndjson,
    Csv,
}

/// `psa-host test --format`.
#[derive(Copy, Clone, ValueEnum, PartialEq, Eq)]
enum TestFormat {
    Text,
    Json,
}

/// The connectors this binary carries (`psa-host connectors`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Bundled {
    Halopsa,
    Autotask,
}

impl Bundled {
    fn id(self) -> &'static str {
        match self {
            Bundled::Halopsa => "halopsa",
            Bundled::Autotask => "autotask",
        }
    }

    fn component(self) -> &'static [u8] {
        match self {
            Bundled::Halopsa => psa_host::bundled::HALOPSA,
            Bundled::Autotask => psa_host::bundled::AUTOTASK,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// List the bundled connectors: id, name, version, contract version and SHA-256.
    Connectors,
    /// Print the connector's self-description: fields, capabilities, contract version.
    Info {
        #[command(flatten)]
        plugin: PluginArgs,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Test a connection step by step; exits 1 when a step fails.
    Check {
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Import every customer with its Microsoft 365 tenant links.
    Import {
        #[command(flatten)]
        connect: ConnectArgs,
        /// Output format.
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
        /// Write here instead of stdout. Nothing is written when the import fails.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Import only the customers changed since this time: RFC 3339
        /// (`2026-11-30T08:00:00Z`, `2026-11-30T09:00:00+01:00`) or seconds
        /// since 1970-01-01 UTC. A connector that cannot read only the
        /// changed ones gets a full import, and the summary says so and why.
        #[arg(long, value_name = "TIMESTAMP", value_parser = parse_since)]
        since: Option<u64>,
        /// Also record the import's HTTP exchanges as fixtures for `psa-host
        /// test --fixtures DIR`, secrets and tokens scrubbed (refused if a
        /// configured secret would remain, an answer was not read to its
        /// end, or the recording is full). DIR must be new or empty. The
        /// output is written only once the recording is: a refused
        /// recording writes nothing at all.
        #[arg(long, value_name = "DIR")]
        record: Option<PathBuf>,
        /// For tests: the most exchanges `--record` keeps (at most the
        /// default, 1000), so a full recording is cheap to reach.
        #[arg(long, value_name = "N", hide = true, requires = "record",
              value_parser = clap::value_parser!(u16).range(1..=1000))]
        record_max_exchanges: Option<u16>,
    },
    /// Open tickets once per finding, and list the PSA's ticket options.
    Ticket {
        #[command(subcommand)]
        command: TicketCommand,
    },
    /// Check a connector against recorded HTTP exchanges (fixtures) served
    /// on loopback through the sandbox: self-description, configuration
    /// errors, paging, allow-list, typed errors, secrets, mutated answers.
    /// Exits 1 when a check fails.
    Test {
        #[command(flatten)]
        plugin: PluginArgs,
        /// The fixture directory (connection.toml and NNN-name.toml exchanges).
        #[arg(long, value_name = "DIR")]
        fixtures: PathBuf,
        /// Output: one line per check, or one JSON document for CI.
        #[arg(long, value_enum, default_value = "text")]
        format: TestFormat,
        /// Skip the mutated replays (faster while writing fixtures).
        #[arg(long)]
        no_mutations: bool,
    },
    /// Write a new connector project from the template: its id, the
    /// PSA's name, the SDK dependency, fixtures and the author's guide.
    New(new::NewArgs),
    /// Start a PSA simulator on loopback and run the bundled connector's
    /// check and import against it.
    Demo {
        /// Customers in the simulated HaloPSA instance (the Autotask
        /// simulator holds 1,200 companies).
        #[arg(long, default_value_t = 250)]
        customers: usize,
        /// Which bundled connector, against its simulator.
        #[arg(long, value_enum, default_value = "halopsa")]
        connector: Bundled,
    },
}

#[derive(Subcommand)]
enum TicketCommand {
    /// Open a ticket for a finding, once: when the customer has an open
    /// ticket with the same key, add a private note to it instead. Prints
    /// the ticket's id, number and link, and whether it was created or
    /// noted.
    Open {
        #[command(flatten)]
        connect: ConnectArgs,
        /// The PSA's id of the customer.
        #[arg(long, value_name = "ID")]
        customer: String,
        /// The ticket's subject line.
        #[arg(long, value_name = "TEXT")]
        summary: String,
        /// The ticket's body as plain text (also the note's, when noted).
        #[arg(long, value_name = "TEXT")]
        details: String,
        /// The same body as HTML, for PSAs that store HTML.
        #[arg(long, value_name = "HTML")]
        html: Option<String>,
        /// The finding's stable name, 1 to 100 characters of A-Z a-z 0-9 . _ : -
        #[arg(long, value_name = "KEY")]
        key: String,
        /// Ticket type id (`psa-host ticket options --kind ticket-type`).
        #[arg(long = "type", value_name = "ID")]
        ticket_type: Option<String>,
        /// Priority id.
        #[arg(long, value_name = "ID")]
        priority: Option<String>,
        /// Queue or board id.
        #[arg(long, value_name = "ID")]
        queue: Option<String>,
        /// Status id for a new ticket.
        #[arg(long, value_name = "ID")]
        status: Option<String>,
        /// Note outcome or type id, for the note on an existing ticket.
        #[arg(long, value_name = "ID")]
        outcome: Option<String>,
    },
    /// List the PSA's ticket options (types, priorities, queues, statuses,
    /// note outcomes) the connector offers, or those of one kind.
    Options {
        #[command(flatten)]
        connect: ConnectArgs,
        /// One kind only.
        #[arg(long, value_enum, value_name = "KIND")]
        kind: Option<KindArg>,
    },
}

/// `--kind`: the contract's option kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum KindArg {
    TicketType,
    Priority,
    Queue,
    Status,
    Outcome,
}

impl From<KindArg> for OptionKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::TicketType => OptionKind::TicketType,
            KindArg::Priority => OptionKind::Priority,
            KindArg::Queue => OptionKind::Queue,
            KindArg::Status => OptionKind::Status,
            KindArg::Outcome => OptionKind::Outcome,
        }
    }
}

/// `--since`: RFC 3339 (with its offset) or whole seconds since the Unix
/// epoch, as seconds since the epoch; no time before 1970.
fn parse_since(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .map_err(|_| format!("{text:?} is too large for seconds since 1970-01-01 UTC"));
    }
    let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).map_err(|e| {
        format!(
            "{:?} is not a time: {e}. Give RFC 3339 (2026-11-30T08:00:00Z or 2026-11-30T09:00:00+01:00) or seconds since 1970-01-01 UTC (1764489600)",
            t(text)
        )
    })?;
    u64::try_from(at.unix_timestamp()).map_err(|_| format!("{:?} is before 1970-01-01 UTC", t(text)))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let directives = if cli.log.contains(['=', ',']) { cli.log.clone() } else { format!("warn,psa_host={}", cli.log) };
    let filter = match tracing_subscriber::EnvFilter::try_new(&directives) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: --log {:?} is not a log level or filter: {e}", cli.log);
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(log_writer::ScrubbingStderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    rt.block_on(run(cli.command))
}

async fn run(command: Command) -> ExitCode {
    match command {
        Command::Info { plugin, json } => {
            let (_, connector) = match load(&plugin, HostOptions::default()).await {
                Ok(x) => x,
                Err(code) => return code,
            };
            output::print_info(connector.info(), json);
            ExitCode::SUCCESS
        }
        Command::Check { connect } => {
            let (connector, config) = match prepare(&connect).await {
                Ok(x) => x,
                Err(code) => return code,
            };
            check(&connector, &config).await
        }
        Command::Import { connect, format, output, since, record: Some(dir), record_max_exchanges } => {
            record::import(&connect, &dir, format, output, since, record_max_exchanges).await
        }
        Command::Import { connect, format, output, since, record: None, .. } => {
            let (connector, config) = match prepare(&connect).await {
                Ok(x) => x,
                Err(code) => return code,
            };
            import(&connector, &config, format, output, since).await
        }
        Command::Ticket { command } => ticket(command).await,
        Command::Test { plugin, fixtures, format, no_mutations } => {
            harness::run(&plugin, &fixtures, format == TestFormat::Json, !no_mutations).await
        }
        Command::Demo { customers, connector } => demo(customers, connector).await,
        Command::Connectors => connectors().await,
        Command::New(args) => new::run(&args),
    }
}

async fn load(plugin: &PluginArgs, mut options: HostOptions) -> Result<(Host, Connector), ExitCode> {
    if plugin.no_cache {
        options.cache_dir = None;
    } else if let Some(dir) = &plugin.cache_dir {
        options.cache_dir = Some(dir.clone());
    }
    let host = Host::new(options).map_err(|e| fail(&e))?;
    let (name, bytes) = match &plugin.plugin {
        Some(path) => match std::fs::read(path) {
            Ok(b) => (path.display().to_string(), b),
            Err(e) => {
                eprintln!("error: cannot read the connector {}: {e}", path.display());
                return Err(ExitCode::from(4));
            }
        },
        None => (format!("{} (bundled)", plugin.connector.id()), plugin.connector.component().to_vec()),
    };
    let connector = match &plugin.plugin_sha256 {
        Some(pin) => host.load_pinned(&name, &bytes, pin).await,
        None => host.load(&name, &bytes).await,
    }
    .map_err(|e| fail(&e))?;
    Ok((host, connector))
}

/// Reads every certificate from PEM files.
fn read_ca_certs(files: &[PathBuf]) -> Result<Vec<Vec<u8>>, ExitCode> {
    use rustls_pki_types::pem::PemObject;
    let mut out = Vec::new();
    for f in files {
        let certs: Vec<_> = match rustls_pki_types::CertificateDer::pem_file_iter(f) {
            Ok(it) => it.collect::<Result<_, _>>().map_err(|e| {
                eprintln!("error: {} is not a PEM certificate file: {e}", f.display());
                ExitCode::from(2)
            })?,
            Err(e) => {
                eprintln!("error: cannot read the CA certificate file {}: {e}", f.display());
                return Err(ExitCode::from(2));
            }
        };
        if certs.is_empty() {
            eprintln!("error: {} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)", f.display());
            return Err(ExitCode::from(2));
        }
        out.extend(certs.into_iter().map(|c| c.to_vec()));
    }
    Ok(out)
}

async fn prepare(args: &ConnectArgs) -> Result<(Connector, ConnectionConfig), ExitCode> {
    prepare_with(args, None).await
}

/// [`prepare`], with a recorder of the HTTP exchanges (`import --record`).
async fn prepare_with(
    args: &ConnectArgs,
    recorder: Option<std::sync::Arc<dyn psa_host::record::ExchangeRecorder>>,
) -> Result<(Connector, ConnectionConfig), ExitCode> {
    let mut options = HostOptions::default().allow_loopback(args.allow_loopback).recorder(recorder);
    options.extra_roots = read_ca_certs(&args.ca_cert)?;
    for entry in &args.resolve {
        options.dns_overrides.parse_entry(entry).map_err(|e| {
            eprintln!("error: --resolve {e}");
            ExitCode::from(2)
        })?;
    }
    let (_, connector) = load(&args.plugin, options).await?;
    let text = std::fs::read_to_string(&args.config).map_err(|e| {
        eprintln!("error: cannot read the config file {}: {e}", args.config.display());
        ExitCode::from(2)
    })?;
    let config = ConnectionConfig::from_toml(&text, connector.info(), |k| std::env::var(k).ok()).map_err(|e| {
        eprintln!("error: {}: {e}", args.config.display());
        ExitCode::from(2)
    })?;
    log_writer::add_secrets(config.secret_values());
    Ok((connector, config))
}

/// Prints an error (escaped: it may quote the PSA or the connector) and
/// picks the exit code for it.
fn fail(e: &HostError) -> ExitCode {
    eprintln!("error: {}", t(&e.to_string()));
    exit_code(e)
}

/// The exit code for an error (the table at the top of this file).
fn exit_code(e: &HostError) -> ExitCode {
    ExitCode::from(match e {
        HostError::Connector { .. } | HostError::GaveUp { .. } | HostError::WaitTooLong { .. } => 1,
        HostError::Setup { .. } => 2,
        // The caller asked for what the connector cannot do, or gave a bad value.
        HostError::NotOffered { .. } | HostError::InvalidInput { .. } => 2,
        HostError::Load { .. } | HostError::UnsupportedContract { .. } => 4,
        _ => 3,
    })
}

/// Runs a whole import with its progress on stderr; a failure is printed
/// (how far it got, that nothing was written) and becomes the exit code.
/// Opens a session, imports every customer with the progress bar, closes
/// the session; the outcome and how long the import took, or the exit code
/// after the error was printed.
async fn import_all(
    connector: &Connector,
    config: &ConnectionConfig,
    since: Option<u64>,
) -> Result<(ImportOutcome, Duration), ExitCode> {
    let mut session = connector.open_session(config).await.map_err(|e| fail(&e))?;
    let started = std::time::Instant::now();
    let progress = progress::ImportProgress::start();
    let result = session.import_since(since, |p| progress.update(p)).await;
    progress.finish();
    let took = started.elapsed();
    session.close().await;
    result.map(|o| (o, took)).map_err(|f| {
        eprintln!(
            "error: the import failed after {} page(s) and {} customer(s); no output was written.\n{}",
            f.pages,
            f.fetched,
            t(&f.error.to_string())
        );
        exit_code(&f.error)
    })
}

async fn check(connector: &Connector, config: &ConnectionConfig) -> ExitCode {
    let steps = match connector.test_connection(config).await {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let mut out = std::io::stdout().lock();
    for s in &steps {
        let mark = match s.status {
            StepStatus::Passed => "PASS",
            StepStatus::Failed => "FAIL",
            StepStatus::Skipped => "SKIP",
        };
        let _ = writeln!(out, "{mark}  {:<42} {}", t(&s.label), t(&s.message));
    }
    if steps.iter().any(|s| s.status == StepStatus::Failed) {
        ExitCode::from(1)
    } else if steps.is_empty() {
        let _ = writeln!(out, "The connector reported no check steps.");
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}

async fn import(
    connector: &Connector,
    config: &ConnectionConfig,
    format: Format,
    output: Option<PathBuf>,
    since: Option<u64>,
) -> ExitCode {
    let (outcome, took) = match import_all(connector, config, since).await {
        Ok(x) => x,
        Err(code) => return code,
    };
    write_import(&outcome, took, format, output)
}

/// Writes an import's customers (to `output` or stdout) and its summary.
fn write_import(outcome: &ImportOutcome, took: Duration, format: Format, output: Option<PathBuf>) -> ExitCode {
    let write = |w: &mut dyn Write| output::write_customers(w, outcome, format_name(format));
    let written = match &output {
        Some(path) => {
            // Write to a temporary file and rename, so a reader never sees half a file.
            let tmp = path.with_extension("partial");
            std::fs::File::create(&tmp)
                .and_then(|f| {
                    let mut w = std::io::BufWriter::new(f);
                    write(&mut w)?;
                    w.flush()
                })
                .and_then(|_| std::fs::rename(&tmp, path))
        }
        None => {
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            write(&mut w).and_then(|_| w.flush())
        }
    };
    if let Err(e) = written {
        eprintln!("error: could not write the output: {e}");
        return ExitCode::from(2);
    }
    let _ = output::print_summary(&mut std::io::stderr().lock(), outcome, took);
    ExitCode::SUCCESS
}

async fn ticket(command: TicketCommand) -> ExitCode {
    match command {
        TicketCommand::Open {
            connect,
            customer,
            summary,
            details,
            html,
            key,
            ticket_type,
            priority,
            queue,
            status,
            outcome,
        } => {
            // The key is checked before anything is loaded or sent.
            if let Err(message) = psa_host::check_dedup_key(&key) {
                eprintln!("error: --key: {message}");
                return ExitCode::from(2);
            }
            let (connector, config) = match prepare(&connect).await {
                Ok(x) => x,
                Err(code) => return code,
            };
            let options = [
                (OptionKind::TicketType, ticket_type),
                (OptionKind::Priority, priority),
                (OptionKind::Queue, queue),
                (OptionKind::Status, status),
                (OptionKind::Outcome, outcome),
            ]
            .into_iter()
            .filter_map(|(kind, id)| id.map(|id| OptionChoice { kind, id }))
            .collect();
            let new = NewTicket {
                customer_id: customer,
                summary,
                details: TicketBody { text: details, html },
                dedup_key: key,
                options,
            };
            let mut session = match connector.open_session(&config).await {
                Ok(s) => s,
                Err(e) => return fail(&e),
            };
            let opened = session.open_ticket(&new).await;
            session.close().await;
            match opened {
                Ok(outcome) => {
                    output::print_ticket_outcome(&mut std::io::stdout().lock(), &outcome);
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        TicketCommand::Options { connect, kind } => {
            let (connector, config) = match prepare(&connect).await {
                Ok(x) => x,
                Err(code) => return code,
            };
            let mut session = match connector.open_session(&config).await {
                Ok(s) => s,
                Err(e) => return fail(&e),
            };
            let kinds: Vec<OptionKind> = match kind {
                Some(k) => vec![k.into()],
                // Without the capability, the first kind's call answers
                // why (capability not offered), rather than an empty table.
                None if !session.offers("ticket-options") => vec![OptionKind::TicketType],
                None => connector.info().ticket_option_kinds.clone(),
            };
            let mut listed = Vec::new();
            for k in kinds {
                match session.ticket_options(k).await {
                    Ok(options) => listed.push((k, options)),
                    Err(e) => {
                        session.close().await;
                        return fail(&e);
                    }
                }
            }
            session.close().await;
            if listed.is_empty() {
                println!("The connector lists no kinds of ticket options.");
            }
            output::print_ticket_options(&mut std::io::stdout().lock(), &listed);
            ExitCode::SUCCESS
        }
    }
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Json => "json",
        Format::Ndjson => "ndjson",
        Format::Csv => "csv",
    }
}

/// `psa-host connectors`: what this binary bundles, loaded in the sandbox
/// (so a component that no longer loads shows here first).
async fn connectors() -> ExitCode {
    let host = match Host::new(HostOptions::default()) {
        Ok(h) => h,
        Err(e) => return fail(&e),
    };
    println!("{:<10} {:<12} {:<8} {:<9} sha256", "id", "name", "version", "contract");
    for which in [Bundled::Halopsa, Bundled::Autotask] {
        let bytes = which.component();
        let connector = match host.load(&format!("{} (bundled)", which.id()), bytes).await {
            Ok(c) => c,
            Err(e) => return fail(&e),
        };
        let info = connector.info();
        println!(
            "{:<10} {:<12} {:<8} {:<9} {}",
            t(&info.id),
            t(&info.display_name),
            t(&info.version),
            t(&info.contract_version),
            psa_host::sha256_hex_of(bytes)
        );
    }
    ExitCode::SUCCESS
}

/// A simulator kept running for the demo's length (held, never read:
/// dropping it stops the simulator).
#[allow(dead_code)]
enum DemoSim {
    Halo(halo_sim::HaloSim),
    Autotask(autotask_sim::AutotaskSim),
}

/// Starts `which`'s simulator and prints what an MSP would type into the
/// form; returns the simulator and the form's values.
async fn start_demo_sim(which: Bundled, customers: usize) -> Result<(DemoSim, Vec<(String, String)>), ExitCode> {
    match which {
        Bundled::Halopsa => {
            let opts = halo_sim::SimOptions { customers: halo_sim::sample_customers(customers, 7), ..Default::default() };
            let sim = halo_sim::HaloSim::start(opts).await.map_err(|e| {
                eprintln!("error: cannot start the HaloPSA simulator on 127.0.0.1: {e}");
                ExitCode::from(3)
            })?;
            let o = sim.options();
            println!("HaloPSA simulator on loopback with {customers} customers:");
            println!("  Resource Server URL:      {}", sim.resource_url());
            println!("  Authorization Server URL: {}", sim.auth_url());
            println!("  Client ID:                {}", o.client_id);
            println!("  Client Secret:            (set; not shown)");
            println!();
            let mut pairs = vec![
                ("resource_server_url".to_string(), sim.resource_url()),
                ("authorization_server_url".to_string(), sim.auth_url()),
                ("client_id".to_string(), o.client_id.clone()),
                ("client_secret".to_string(), o.client_secret.clone()),
            ];
            if let Some(t) = &o.tenant {
                pairs.push(("tenant".to_string(), t.clone()));
            }
            Ok((DemoSim::Halo(sim), pairs))
        }
        Bundled::Autotask => {
            // The sandbox admits only the form's origin on loopback, so the
            // simulator serves its zones on the zone-lookup listener.
            let opts = autotask_sim::SimOptions { zones_on_lookup_listener: true, ..Default::default() };
            let sim = autotask_sim::AutotaskSim::start(opts).await.map_err(|e| {
                eprintln!("error: cannot start the Autotask simulator on 127.0.0.1: {e}");
                ExitCode::from(3)
            })?;
            let o = sim.options();
            println!("Autotask simulator on loopback with {} companies:", o.companies.len());
            println!("  Zone lookup URL:  {}", sim.lookup_url());
            println!("  API user name:    {}", o.username);
            println!("  Secret:           (set; not shown)");
            println!("  Integration code: (set; not shown)");
            println!();
            let mut pairs = sim.connection_form();
            pairs.push(("zone_lookup_url".to_string(), sim.lookup_url()));
            Ok((DemoSim::Autotask(sim), pairs))
        }
    }
}

async fn demo(customers: usize, which: Bundled) -> ExitCode {
    let (_sim, pairs) = match start_demo_sim(which, customers).await {
        Ok(x) => x,
        Err(code) => return code,
    };
    let host = match Host::new(HostOptions::default().allow_loopback(true)) {
        Ok(h) => h,
        Err(e) => return fail(&e),
    };
    let connector = match host.load(&format!("{} (bundled)", which.id()), which.component()).await {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let config = ConnectionConfig::from_pairs(pairs, connector.info());
    log_writer::add_secrets(config.secret_values());
    println!("$ psa-host check");
    let code = check(&connector, &config).await;
    if code != ExitCode::SUCCESS {
        return code;
    }
    println!();
    println!("$ psa-host import");
    let (outcome, took) = match import_all(&connector, &config, None).await {
        Ok(x) => x,
        Err(code) => return code,
    };
    output::print_table(&outcome, 15);
    println!();
    let _ = output::print_summary(&mut std::io::stdout().lock(), &outcome, took);
    ExitCode::SUCCESS
}
