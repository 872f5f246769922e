//! How the CLI prints connectors' answers: JSON, NDJSON, CSV and text.
//!
//! Everything here comes from a connector or the PSA behind it: text output
//! goes through [`t`] (control and bidi characters escaped), CSV cells
//! through `escape::csv_cell` (no formulas); JSON is escaped by serde.

use psa_host::escape::{csv_cell, for_terminal as t};
use psa_host::{ConnectorInfo, Customer, ImportOutcome};
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
    println!("fields:");
    for f in &info.fields {
        let req = if f.required { "required" } else { "optional" };
        let default = f.default_value.as_ref().map(|d| format!(", default {}", t(d))).unwrap_or_default();
        println!("  {:<26} {:?} ({req}{default}) {}", t(&f.id), f.kind, t(&f.label));
        println!("  {:<26} {}", "", t(&f.help));
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
    for w in &outcome.warnings {
        writeln!(out, "warning [{}]: {}", t(&w.code), t(&w.message))?;
    }
    Ok(())
}
