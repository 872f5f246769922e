//! `psa-host test --plugin FILE --fixtures DIR [--format text|json]`: a
//! conformance harness for any connector, whatever its PSA.
//!
//! The connector is loaded as `check` and `import` load it, into the real
//! sandbox. The fixtures ([`fixture`]: a `connection.toml` and one TOML file
//! per recorded HTTP exchange) are served by the replay server
//! ([`server`]) over HTTPS on 127.0.0.1; the fixtures' placeholder origins
//! (`https://psa.example`) are mapped to it with the host's test hook
//! [`psa_host::DnsOverrides::connect_to`], so the allow-list still judges
//! the placeholder names, TLS verifies the certificate (from a CA made for
//! the run) against them, and loopback is admitted only because those names
//! lead there: no URL of the form names a loopback address. The checks
//! ([`checks`]) print one line each, `PASS|FAIL <check>: <reason>`
//! ([`report`]); the mutations ([`mutate`]) replay the fixtures with one
//! answer broken at a time.
//!
//! The harness runs with a 10 s call deadline, 2 s first-byte and
//! between-bytes timeouts (a `slow-answer` waits 3 s), no
//! pacing and no host retries (it drives paging itself), so a fault
//! surfaces as the connector's own error in seconds.
//!
//! Exit codes: 0 every check passed; 1 a check failed; 2 the fixtures
//! could not be read; 4 the connector could not be loaded.

mod checks;
pub(crate) mod fixture;
mod mutate;
mod report;
mod server;

use crate::PluginArgs;
use fixture::Fixtures;
use psa_host::{ConnectionConfig, HostOptions, Limits};
use report::Outcome;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// The host's per-call deadline in the harness.
const CALL_DEADLINE: Duration = Duration::from_secs(10);
/// First-byte and between-bytes timeouts in the harness.
const NET_TIMEOUT: Duration = Duration::from_secs(2);
/// Connect timeout (TCP and TLS to loopback): generous, so a loaded
/// machine does not turn a handshake into a spurious failure.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a `slow-answer` mutation holds its answer (past `NET_TIMEOUT`).
const SLOW: Duration = Duration::from_secs(3);

/// Runs the harness; prints the report; the exit code.
pub async fn run(plugin: &PluginArgs, dir: &Path, json: bool, with_mutations: bool) -> ExitCode {
    let fx = match Fixtures::load(dir) {
        Ok(f) => Arc::new(f),
        Err(e) => {
            eprintln!("error: the fixtures in {}: {e}", dir.display());
            return ExitCode::from(2);
        }
    };
    // Every http(s) origin of the form and the exchanges leads to the replay server.
    let form_urls: Vec<String> = fx
        .form_toml
        .parse::<toml::Table>()
        .map(|t| t.values().filter_map(|v| v.as_str().map(str::to_string)).filter(|s| s.starts_with("http")).collect())
        .unwrap_or_default();
    let origins = fx.origins(&form_urls);
    let names: Vec<String> = {
        let mut n: Vec<String> = origins.iter().map(|(h, _)| h.clone()).collect();
        n.dedup();
        n
    };
    let server = match server::ReplayServer::start(fx.clone(), &names, SLOW).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut options = HostOptions::default().allow_loopback(true).rate_budget(None).declared_budgets(false);
    options.extra_roots = vec![server.ca_der.clone()];
    let mut limits = Limits::default();
    limits.call_timeout = CALL_DEADLINE;
    limits.connect_timeout = CONNECT_TIMEOUT;
    limits.first_byte_timeout = NET_TIMEOUT;
    limits.between_bytes_timeout = NET_TIMEOUT;
    options.limits = limits;
    for (host, port) in &origins {
        options.dns_overrides.connect_to(host, *port, server.addr);
    }
    let (_host, connector) = match crate::load(plugin, options).await {
        Ok(x) => x,
        Err(code) => return code,
    };
    let config = match ConnectionConfig::from_toml(&fx.form_toml, connector.info(), |_| None) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {}: {e}", fx.dir.join("connection.toml").display());
            return ExitCode::from(2);
        }
    };
    crate::log_writer::add_secrets(config.secret_values());

    let mut outcomes: Vec<Outcome> = vec![checks::self_description(&connector)];
    let mut ctx = checks::Ctx {
        fx: &fx,
        server: &server,
        connector: &connector,
        config: &config,
        outer_timeout: CALL_DEADLINE + Duration::from_secs(5),
        seen: Vec::new(),
        printed: Vec::new(),
    };
    outcomes.push(checks::config_errors(&mut ctx).await);
    let baseline = ctx.import(server::Fault::None, "the full import").await;
    outcomes.extend(checks::import_checks(&fx, &baseline));
    outcomes.extend(checks::typed_errors(&mut ctx, &baseline).await);
    outcomes.push(checks::same_cursor(&mut ctx, &baseline).await);
    // The connection test's steps and what it printed, for the secret check
    // (its requests need not all be in the fixtures: an unanswered one is a
    // failed step).
    server.reset(server::Fault::None);
    if let Ok((res, printed)) = tokio::time::timeout(ctx.outer_timeout, connector.test_connection_with_output(&config)).await {
        match res {
            Ok(steps) => {
                for s in steps {
                    ctx.seen.push((format!("check step `{}`", s.id), format!("{} {}", s.label, s.message)));
                }
            }
            Err(e) => ctx.seen.push(("the connection test".into(), e.to_string())),
        }
        ctx.printed.extend(printed.into_iter().map(|text| ("the connection test".to_string(), text)));
    }
    let mutations = if with_mutations { Some(checks::mutations(&mut ctx, &baseline).await) } else { None };
    outcomes.push(checks::no_secrets(&ctx));
    let figures = match mutations {
        Some((o, f)) => {
            outcomes.push(o);
            f
        }
        None => Default::default(),
    };
    report::print(&outcomes, &figures, json);
    if outcomes.iter().all(Outcome::passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
