//! How the CLI prints connectors' answers: JSON, NDJSON, CSV and text.
//!
//! Everything here comes from a connector or the PSA behind it: text output
//! goes through [`t`] (control and bidi characters escaped), CSV cells
//! through `escape::csv_cell` (no formulas); JSON is escaped by serde.

use psa_host::escape::{csv_cell, for_terminal as t};
use psa_host::{ConnectorInfo, Customer, FieldKind, ImportOutcome, ImportRead, OptionKind, TicketOption, TicketOutcome};
use serde_json::json;
use std::io::{self, Write};
use std::time::Duration;

pub fn print_info(info: &ConnectorInfo, as_json: bool) {
    if as_json {
        println!("{}", serde_json::to_string_pretty(info).unwrap_or_default());
        return;
    }
    println!("{} ({}) version {}", t(&info.display_name), t(&info.id), t(&info.version));
    println!("contract: optimize365:psa-connector@{}", t(&info.contract_version));
    println!("capabilities: {}", t(&info.capabilities.join(", ")));
    // Read once at load and frozen: what every session may reach besides
    // the connection's URL fields.
    let fixed = if info.allowed_hosts.is_empty() { "none".to_string() } else { info.allowed_hosts.join(", ") };
    println!("declared hosts (fixed at load, besides the URL fields): {}", t(&fixed));
    // As declared; the host clamps it and keeps its own budget as well.
    match &info.budget {
        Some(b) => {
            let concurrency = b.concurrency.map(|c| format!(", at most {c} at once")).unwrap_or_default();
            println!(
                "request budget (declared; the host also keeps its own): {} requests per {} s{concurrency}",
                b.requests, b.window_seconds
            )
        }
        None => println!("request budget: none declared (the host's own budget applies)"),
    }
    let kinds: Vec<&str> = info.ticket_option_kinds.iter().map(|k| k.as_str()).collect();
    println!("ticket option kinds: {}", if kinds.is_empty() { "none".to_string() } else { kinds.join(", ") });
    println!("fields:");
    for f in &info.fields {
        let req = if f.required { "required" } else { "optional" };
        let default = f.default_value.as_ref().map(|d| format!(", default {}", t(d))).unwrap_or_default();
        println!("  {:<26} {:?} ({req}{default}) {}", t(&f.id), f.kind, t(&f.label));
        println!("  {:<26} {}", "", t(&f.help));
        if f.kind == FieldKind::Choice {
            for c in &f.choices {
                println!("  {:<26}   choice {:<24} {}", "", t(&c.value), t(&c.label));
            }
        }
        if let Some(r) = f.range {
            println!("  {:<26}   a whole number from {} to {}", "", r.min, r.max);
        }
    }
}

/// What `psa-host ticket open` did: created or noted, the ticket's id,
/// number and link (all escaped: they come from the connector).
pub fn print_ticket_outcome(out: &mut dyn Write, outcome: &TicketOutcome) {
    let ticket = outcome.ticket();
    let _ = match outcome {
        TicketOutcome::Created { .. } => writeln!(out, "created: a new ticket was opened"),
        TicketOutcome::Noted { note, .. } => {
            writeln!(out, "noted on existing ticket: an open ticket had this key; note {} was added to it", t(&note.id))
        }
    };
    let _ = writeln!(out, "ticket id: {}", t(&ticket.id));
    let _ = writeln!(out, "number:    {}", ticket.number.as_deref().map(t).unwrap_or("-".into()));
    let _ = writeln!(out, "link:      {}", ticket.url.as_deref().map(t).unwrap_or("-".into()));
}

/// `psa-host ticket options`: one table row per option, by kind.
pub fn print_ticket_options(out: &mut dyn Write, listed: &[(OptionKind, Vec<TicketOption>)]) {
    let _ = writeln!(out, "{:<12} {:<16} {:<8} name", "kind", "id", "default");
    for (kind, options) in listed {
        if options.is_empty() {
            let _ = writeln!(out, "{:<12} (none)", kind.as_str());
        }
        for o in options {
            let default = if o.is_default { "yes" } else { "" };
            let _ = writeln!(out, "{:<12} {:<16} {:<8} {}", kind.as_str(), t(&o.id), default, t(&o.name));
        }
    }
}

fn customer_json(c: &Customer) -> serde_json::Value {
    json!({
        "id": c.id,
        "name": c.name,
        "active": c.active,
        "parent_id": c.parent_id,
        "parent_name": c.parent_name,
        "website": c.website,
        "domains": c.domains,
        "m365_tenants": c.m365_tenants.iter().map(|t| json!({
            "tenant_id": t.tenant_id, "name": t.name, "domain": t.domain,
        })).collect::<Vec<_>>(),
    })
}

/// Writes the import as `json` (`{"customers": [...], "warnings": [...]}`),
/// `ndjson` (one customer per line) or `csv` (one row per customer; lists
/// joined with `;`, tenants as `id|name|domain`; a cell that a spreadsheet
/// would take for a formula starts with `'`).
pub fn write_customers(w: &mut dyn Write, outcome: &ImportOutcome, format: &str) -> io::Result<()> {
    match format {
        "json" => {
            let doc = json!({
                "customers": outcome.customers.iter().map(customer_json).collect::<Vec<_>>(),
                "warnings": outcome.warnings,
            });
            serde_json::to_writer_pretty(&mut *w, &doc)?;
            writeln!(w)
        }
        "ndjson" => {
            for c in &outcome.customers {
                serde_json::to_writer(&mut *w, &customer_json(c))?;
                writeln!(w)?;
            }
            Ok(())
        }
        _ => {
            let mut csv = csv::Writer::from_writer(w);
            csv.write_record(["id", "name", "active", "parent_id", "parent_name", "website", "domains", "m365_tenants"])?;
            for c in &outcome.customers {
                let tenants = c
                    .m365_tenants
                    .iter()
                    .map(|t| format!("{}|{}|{}", t.tenant_id, t.name.as_deref().unwrap_or(""), t.domain.as_deref().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join(";");
                let domains = c.domains.join(";");
                csv.write_record(
                    [
                        c.id.as_str(),
                        c.name.as_str(),
                        if c.active { "true" } else { "false" },
                        c.parent_id.as_deref().unwrap_or(""),
                        c.parent_name.as_deref().unwrap_or(""),
                        c.website.as_deref().unwrap_or(""),
                        &domains,
                        &tenants,
                    ]
                    .map(|cell| csv_cell(cell).into_owned()),
                )?;
            }
            csv.flush()
        }
    }
}

/// A short table for the demo.
pub fn print_table(outcome: &ImportOutcome, rows: usize) {
    println!("{:<8} {:<36} {:<7} Microsoft 365 tenants", "id", "name", "active");
    for c in outcome.customers.iter().filter(|c| !c.m365_tenants.is_empty()).take(rows) {
        let name: String = t(&c.name).chars().take(35).collect();
        let tenants = c
            .m365_tenants
            .iter()
            .map(|m| format!("{} ({})", m.tenant_id, m.domain.as_deref().unwrap_or("-")))
            .collect::<Vec<_>>()
            .join(", ");
        println!("{:<8} {:<36} {:<7} {}", t(&c.id), name, c.active, t(&tenants));
    }
    if outcome.customers.len() > rows {
        println!("… and {} more (use `psa-host import` for all)", outcome.customers.len().saturating_sub(rows));
    }
}

/// The summary of an import, then its warnings, one a line: on stderr
/// after `import` (stdout holds the data), on stdout in the demo.
pub fn print_summary(out: &mut dyn Write, outcome: &ImportOutcome, took: Duration) -> io::Result<()> {
    let (all, with_tenant) = (outcome.customers.len(), outcome.with_tenant());
    writeln!(
        out,
        "imported {all} customers in {:.1} s ({} pages): {with_tenant} with a Microsoft 365 tenant, {} without; {} warning(s)",
        took.as_secs_f64(),
        outcome.pages,
        all.saturating_sub(with_tenant),
        outcome.warnings.len()
    )?;
    match &outcome.read {
        ImportRead::Full => {}
        ImportRead::ChangedSince { since } => writeln!(
            out,
            "read: only the customers changed since {since} (seconds since 1970-01-01 UTC), through the connector's changed-since read"
        )?,
        ImportRead::FellBack { since, reason } => writeln!(
            out,
            "read: every customer, not only those changed since {since}: fell back to a full import because {}",
            t(&reason.to_string())
        )?,
    }
    for w in &outcome.warnings {
        writeln!(out, "warning [{}]: {}", t(&w.code), t(&w.message))?;
    }
    Ok(())
}
