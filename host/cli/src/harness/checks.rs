//! The checks of `psa-host test`, each a function returning one or more
//! [`Outcome`]s with a sentence that names the problem.
//!
//! | check | what it requires |
//! |---|---|
//! | `self-description` | id lower-case, version semver, contract version supported, field ids unique, choice and number fields well formed, declared hosts parse, `list-customers` offered |
//! | `config-errors` | each required field left out: `open` fails with `invalid-config` naming that field |
//! | `paging-ends` | a full import from the fixtures ends (no error, a page without a next cursor, within a page limit) |
//! | `no-duplicates` | no customer id arrives twice |
//! | `none-lost` | every customer id in the fixture answers (`[harness] customer_ids`) arrives |
//! | `fetched-cumulative` | each page's `fetched` is the number of customers arrived so far |
//! | `total-consistent` | no page's `total` contradicts the number the import ends with |
//! | `tenant-ids` | every tenant id is a lower-case GUID |
//! | `fixtures-cover-requests` | every request of the import is answered by a fixture (and meets its `body_contains`) |
//! | `allow-list` | the sandbox refused no request (the session's denials) |
//! | `typed-error-401/403/429/500` | the first API call (the first request not marked `auth`) answered with that status gives `unauthorized`, `forbidden`, `rate-limited` (carrying the `Retry-After`), `upstream` |
//! | `same-cursor` | a cursor asked in two sessions gives the same customers; asked again in one session (as a retry asks it) it gives no customer it did not give the first time (the same page, or without what it already returned) |
//! | `no-secrets` | no configured secret (nor the host's `[redacted]` mark, which shows the host had to scrub one) in any error, check step, warning or customer field of any run, nor in what the connector printed to stdout or stderr ([`psa_host::Session::take_guest_output`]) |
//! | `mutations` | every mutated replay ends in a typed error or a correct import; no trap, no hang |
//!
//! The harness drives paging itself (`Session::list_customers`), so the
//! host's import retries never hide a connector's typed error; a rate-limit
//! budget is not applied either.

use super::fixture::Fixtures;
use super::mutate::Mutation;
use super::report::{MutationFigures, MutationRun, Outcome};
use super::server::{Fault, ReplayServer, Served};
use psa_host::{ConnectionConfig, Connector, ConnectorError, ConnectorInfo, CustomerPage, FieldKind, HostError};
use psa_host::escape::for_terminal as t;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// The `Retry-After` (seconds) sent with the injected 429; short, because
/// the host holds every request to the PSA back for it.
const RETRY_AFTER: u32 = 2;

/// Most bytes of printed output one run keeps whole (see `Run::keep_printed`).
const MAX_PRINTED_BYTES: usize = 1 << 20;

/// Most pages one import may take before "paging does not end".
const MAX_PAGES: usize = 10_000;

/// What one run of an import did.
pub struct Run {
    pub pages: Vec<CustomerPage>,
    pub error: Option<HostError>,
    /// The harness's own timeout fired (the call did not even hit the
    /// host's deadline).
    pub timed_out: bool,
    /// Paging stopped at the page limit.
    pub page_limit: bool,
    pub served: Vec<Served>,
    pub denials: Vec<psa_host::Denial>,
    /// What the connector printed (stdout, stderr), as the host kept it.
    pub printed: Vec<String>,
    /// The bytes of `printed`.
    printed_bytes: usize,
}

/// How a run ended, for the mutation figures.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    Completed,
    Typed,
    Trap,
    Hang,
    Other,
}

impl Run {
    pub fn ending(&self) -> Ending {
        match (&self.error, self.timed_out) {
            (_, true) => Ending::Hang,
            (None, _) if self.page_limit => Ending::Hang,
            (None, _) => Ending::Completed,
            (Some(HostError::Connector { .. }), _) => Ending::Typed,
            (Some(HostError::DeadlineExceeded { .. }), _) => Ending::Hang,
            (
                Some(
                    HostError::Trap { .. }
                    | HostError::MemoryExhausted { .. }
                    | HostError::HostLimit { .. }
                    | HostError::OutOfFuel { .. },
                ),
                _,
            ) => Ending::Trap,
            (Some(_), _) => Ending::Other,
        }
    }

    /// Keeps what a call printed, up to [`MAX_PRINTED_BYTES`] per run;
    /// past that, only what carries the host's `[redacted]` mark (all that
    /// `no-secrets` looks for in it once the host has scrubbed it).
    fn keep_printed(&mut self, texts: Vec<String>) {
        for t in texts {
            if self.printed_bytes.saturating_add(t.len()) <= MAX_PRINTED_BYTES || t.contains(psa_host::redact::REDACTED) {
                self.printed_bytes = self.printed_bytes.saturating_add(t.len());
                self.printed.push(t);
            }
        }
    }

    fn customer_ids(&self) -> Vec<String> {
        self.pages.iter().flat_map(|p| p.customers.iter().map(|c| c.id.clone())).collect()
    }
}

/// Everything the checks share.
pub struct Ctx<'a> {
    pub fx: &'a Fixtures,
    pub server: &'a ReplayServer,
    pub connector: &'a Connector,
    pub config: &'a ConnectionConfig,
    /// The harness's own bound on one call (above the host's deadline).
    pub outer_timeout: Duration,
    /// Texts a person could read, with where they came from, for `no-secrets`.
    pub seen: Vec<(String, String)>,
    /// What the connector printed to stdout and stderr, with the run it
    /// came from, for `no-secrets`.
    pub printed: Vec<(String, String)>,
}

impl Ctx<'_> {
    fn info(&self) -> &ConnectorInfo {
        self.connector.info()
    }

    /// A fresh session and a full import under `fault`, pages driven here.
    pub async fn import(&mut self, fault: Fault, label: &str) -> Run {
        self.server.reset(fault);
        let mut run = Run {
            pages: Vec::new(),
            error: None,
            timed_out: false,
            page_limit: false,
            served: Vec::new(),
            denials: Vec::new(),
            printed: Vec::new(),
            printed_bytes: 0,
        };
        let mut session = match self.connector.open_session(self.config).await {
            Ok(s) => s,
            Err(e) => {
                run.error = Some(e);
                self.remember(label, &run);
                return run;
            }
        };
        let mut cursor: Option<String> = None;
        loop {
            if run.pages.len() >= MAX_PAGES {
                run.page_limit = true;
                break;
            }
            let answer = tokio::time::timeout(self.outer_timeout, session.list_customers(cursor.as_deref())).await;
            // Taken after every call: the host keeps at most 64 KiB between takes.
            run.keep_printed(session.take_guest_output());
            match answer {
                Err(_) => {
                    run.timed_out = true;
                    break;
                }
                Ok(Err(e)) => {
                    run.error = Some(e);
                    break;
                }
                Ok(Ok(page)) => {
                    let next = page.next_cursor.clone();
                    run.pages.push(page);
                    match next {
                        Some(c) => cursor = Some(c),
                        None => break,
                    }
                }
            }
        }
        run.denials = session.take_denials();
        session.close().await;
        run.served = self.server.log();
        self.remember(label, &run);
        run
    }

    fn remember(&mut self, label: &str, run: &Run) {
        for text in &run.printed {
            self.printed.push((label.to_string(), text.clone()));
        }
        if let Some(e) = &run.error {
            self.seen.push((format!("{label}: the error"), e.to_string()));
        }
        for (i, p) in run.pages.iter().enumerate() {
            for w in &p.warnings {
                self.seen.push((format!("{label}: warning `{}` on page {}", w.code, i + 1), w.message.clone()));
            }
            for c in &p.customers {
                let mut text = vec![c.id.clone(), c.name.clone()];
                text.extend([&c.parent_id, &c.parent_name, &c.website].into_iter().flatten().cloned());
                text.extend(c.domains.iter().cloned());
                text.extend(c.m365_tenants.iter().flat_map(|t| [Some(t.tenant_id.clone()), t.name.clone(), t.domain.clone()]).flatten());
                self.seen.push((format!("{label}: customer {}", c.id), text.join(" ")));
            }
        }
    }
}

fn is_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (p.len() == 1 || !p.starts_with('0')))
        && !v.ends_with(['-', '+'])
}

/// `self-description`.
pub fn self_description(connector: &Connector) -> Outcome {
    const C: &str = "self-description";
    let info = connector.info();
    let mut problems = Vec::new();
    if info.id.is_empty() || info.id.chars().any(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')) {
        problems.push(format!("the id {:?} is not lower-case letters, digits, `-` or `_`", info.id));
    }
    if !is_semver(&info.version) {
        problems.push(format!("the version {:?} is not semver (MAJOR.MINOR.PATCH)", info.version));
    }
    if !psa_host::SUPPORTED_CONTRACTS.contains(&info.contract_version.as_str()) {
        problems.push(format!(
            "the contract version {:?} is not one this host runs ({})",
            info.contract_version,
            psa_host::SUPPORTED_CONTRACTS.join(", ")
        ));
    }
    let mut ids = HashSet::new();
    for f in &info.fields {
        if !ids.insert(f.id.as_str()) {
            problems.push(format!("the field id `{}` appears twice", f.id));
        }
        if f.id.is_empty() {
            problems.push("a field has an empty id".into());
        }
        match f.kind {
            FieldKind::Choice => {
                if f.choices.is_empty() {
                    problems.push(format!("the choice field `{}` has no choices", f.id));
                }
                let mut vals = HashSet::new();
                if f.choices.iter().any(|c| !vals.insert(c.value.as_str())) {
                    problems.push(format!("the choice field `{}` repeats a choice value", f.id));
                }
                if let Some(d) = &f.default_value {
                    if !f.choices.iter().any(|c| &c.value == d) {
                        problems.push(format!("the default {d:?} of the choice field `{}` is not one of its choices", f.id));
                    }
                }
            }
            FieldKind::Number => match f.range {
                None => problems.push(format!("the number field `{}` has no range", f.id)),
                Some(r) if r.min > r.max => problems.push(format!("the number field `{}` has min {} above max {}", f.id, r.min, r.max)),
                Some(r) => {
                    if let Some(d) = &f.default_value {
                        match d.parse::<i64>() {
                            Ok(n) if (r.min..=r.max).contains(&n) => {}
                            _ => problems.push(format!("the default {d:?} of the number field `{}` is not a number in {}..={}", f.id, r.min, r.max)),
                        }
                    }
                }
            },
            _ => {
                if !f.choices.is_empty() || f.range.is_some() {
                    problems.push(format!("the field `{}` is not a choice or number field but carries choices or a range", f.id));
                }
            }
        }
    }
    if connector.declared_hosts().len() != info.allowed_hosts.len() {
        problems.push("not every declared allowed host parses as scheme://host[:port]".into());
    }
    if !info.capabilities.iter().any(|c| c == "list-customers") {
        problems.push("the capabilities do not include `list-customers`".into());
    }
    if problems.is_empty() {
        Outcome::pass(
            C,
            format!(
                "{} {} on contract {}, {} fields, {} declared hosts",
                info.id,
                info.version,
                info.contract_version,
                info.fields.len(),
                info.allowed_hosts.len()
            ),
        )
    } else {
        Outcome::fail(C, problems.join("; "))
    }
}

/// `config-errors`: each required field left out.
pub async fn config_errors(ctx: &mut Ctx<'_>) -> Outcome {
    const C: &str = "config-errors";
    let info = ctx.info().clone();
    let required: Vec<&str> = info.fields.iter().filter(|f| f.required).map(|f| f.id.as_str()).collect();
    if required.is_empty() {
        return Outcome::pass(C, "the form has no required field");
    }
    let mut problems = Vec::new();
    for id in &required {
        let pairs: Vec<(String, String)> = ctx.config.entries().iter().filter(|(k, _)| k != id).cloned().collect();
        let cfg = ConnectionConfig::from_pairs(pairs, &info);
        match ctx.connector.open_session(&cfg).await {
            Ok(s) => {
                s.close().await;
                problems.push(format!("without `{id}` the session opened; `open` must fail with invalid-config naming `{id}`"));
            }
            Err(HostError::Connector { error: ConnectorError::InvalidConfig { field, message }, .. }) => {
                ctx.seen.push((format!("config-errors: the error without `{id}`"), message));
                if field != *id {
                    problems.push(format!("without `{id}` the invalid-config error names `{field}` instead"));
                }
            }
            Err(e) => {
                ctx.seen.push((format!("config-errors: the error without `{id}`"), e.to_string()));
                problems.push(format!("without `{id}` the error is not invalid-config naming it: {e}"));
            }
        }
    }
    if problems.is_empty() {
        Outcome::pass(C, format!("each of the {} required fields left out gives invalid-config naming it", required.len()))
    } else {
        Outcome::fail(C, problems.join("; "))
    }
}

/// The lower-case GUID form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
pub fn is_lower_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
}

/// What is wrong with a tenant id that is not a lower-case GUID, in words.
fn guid_problem(t: &str) -> &'static str {
    let inner = t.strip_prefix('{').and_then(|r| r.strip_suffix('}'));
    let braces = inner.is_some();
    let bare = inner.unwrap_or(t);
    if !is_lower_guid(&bare.to_ascii_lowercase()) {
        return "not a GUID at all; drop such a link with a warning";
    }
    match (braces, bare.bytes().any(|b| b.is_ascii_uppercase())) {
        (true, true) => "upper-case letters and braces kept: lower-case it and strip the braces",
        (true, false) => "braces kept: strip them",
        _ => "upper-case letters kept: lower-case it",
    }
}

/// `a`, `a and b`, `a, b and c`; past `MAX_NAMED`, `and N more`.
fn listing(items: &[String]) -> String {
    const MAX_NAMED: usize = 10;
    match items {
        [] => String::new(),
        [one] => one.clone(),
        _ if items.len() > MAX_NAMED => format!("{} and {} more", items[..MAX_NAMED].join(", "), items.len() - MAX_NAMED),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn request_line(s: &Served) -> String {
    format!("{} https://{}{}", s.method, s.host, s.path_query)
}

/// The checks on the baseline import.
pub fn import_checks(fx: &Fixtures, run: &Run) -> Vec<Outcome> {
    let mut out = Vec::new();
    let arrived = run.customer_ids();
    // paging-ends
    out.push(match (&run.error, run.timed_out, run.page_limit) {
        (_, true, _) => Outcome::fail("paging-ends", format!("page {} did not answer within the harness's timeout", run.pages.len() + 1)),
        (_, _, true) => Outcome::fail("paging-ends", format!("the import still had a next cursor after {MAX_PAGES} pages: paging does not end")),
        (Some(e), _, _) => Outcome::fail(
            "paging-ends",
            format!("the import failed on page {} after {} customer(s): {e}", run.pages.len() + 1, arrived.len()),
        ),
        (None, _, _) => Outcome::pass("paging-ends", format!("{} page(s), {} customer(s), ended without a next cursor", run.pages.len(), arrived.len())),
    });
    // no-duplicates: a page whose customers are exactly an earlier page's
    // is named as a re-read page; other repeats one by one.
    let mut first_page: BTreeMap<&str, usize> = BTreeMap::new();
    let mut dups = Vec::new();
    let page_ids: Vec<Vec<&str>> = run.pages.iter().map(|p| p.customers.iter().map(|c| c.id.as_str()).collect()).collect();
    for (i, p) in run.pages.iter().enumerate() {
        if let Some(j) = (0..i).find(|j| !page_ids[i].is_empty() && page_ids[*j] == page_ids[i]) {
            let ids: Vec<String> = page_ids[i].iter().map(|s| s.to_string()).collect();
            dups.push(format!(
                "page {} repeats the customers of page {} ({}): the cursor re-read a page",
                i + 1,
                j + 1,
                listing(&ids)
            ));
            continue;
        }
        for c in &p.customers {
            if let Some(earlier) = first_page.get(c.id.as_str()) {
                dups.push(format!("customer {} arrived on page {} and again on page {}", c.id, earlier + 1, i + 1));
            } else {
                first_page.insert(c.id.as_str(), i);
            }
        }
    }
    out.push(if dups.is_empty() {
        Outcome::pass("no-duplicates", format!("{} distinct customer id(s)", first_page.len()))
    } else {
        Outcome::fail("no-duplicates", dups.join("; "))
    });
    // none-lost
    // Lost customers grouped by the answer that holds them; an answer never
    // requested though a later one was is a skipped page.
    let expected = fx.customer_ids();
    let mut lost_in: Vec<(String, Vec<String>)> = Vec::new();
    let mut seen_expected = HashSet::new();
    for (id, file) in &expected {
        if seen_expected.insert(id.as_str()) && !first_page.contains_key(id.as_str()) {
            match lost_in.iter_mut().find(|(f, _)| f == file) {
                Some((_, ids)) => ids.push(id.clone()),
                None => lost_in.push((file.clone(), vec![id.clone()])),
            }
        }
    }
    let served_index = |file: &str| fx.exchanges.iter().position(|e| e.file == file);
    let last_served = run.served.iter().filter_map(|s| s.exchange).max();
    let mut lost: Vec<String> = Vec::new();
    for (file, ids) in &lost_in {
        let who = if ids.len() == 1 { format!("customer {}", ids[0]) } else { format!("customers {}", listing(ids)) };
        let served = run.served.iter().any(|s| s.exchange.is_some_and(|i| fx.exchanges[i].file == *file));
        let why = if served {
            String::new()
        } else {
            match (served_index(file), last_served) {
                (Some(me), Some(later)) if later > me => format!(
                    ", and that answer was never requested though a later one ({}) was: a page was skipped",
                    fx.exchanges[later].file
                ),
                _ => ", and that answer was never requested: the import ended before it".to_string(),
            }
        };
        lost.push(format!("{who} (in {file}) never arrived{why}"));
    }
    out.push(if expected.is_empty() {
        Outcome::fail(
            "none-lost",
            format!("no customer id found at {} in any fixture answer; fix [harness] customer_ids in connection.toml", fx.customer_ids),
        )
    } else if lost.is_empty() {
        Outcome::pass("none-lost", format!("all {} customer id(s) in the fixture answers arrived", seen_expected.len()))
    } else {
        Outcome::fail("none-lost", lost.join("; "))
    });
    // fetched-cumulative
    let mut so_far = 0u64;
    let mut wrong = Vec::new();
    let mut per_page = true;
    for (i, p) in run.pages.iter().enumerate() {
        so_far += p.customers.len() as u64;
        if p.fetched != so_far {
            per_page &= p.fetched == p.customers.len() as u64;
            wrong.push(format!("page {} reports fetched {} after {} customer(s) arrived", i + 1, p.fetched, so_far));
        }
    }
    out.push(if wrong.is_empty() {
        Outcome::pass("fetched-cumulative", format!("fetched counted {} customer(s) page by page", so_far))
    } else {
        let hint = if per_page { ": each is that page's own count, not the running total of the import" } else { "" };
        Outcome::fail("fetched-cumulative", format!("`fetched` is not the cumulative count: {}{hint}", wrong.join("; ")))
    });
    // total-consistent
    let end = arrived.len() as u64;
    let contradictions: Vec<String> = run
        .pages
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.total.filter(|t| run.error.is_none() && *t != end || *t < p.fetched).map(|t| (i, t)))
        .map(|(i, t)| format!("page {} reports total {t} but the import ends with {end}", i + 1))
        .collect();
    let contradictions =
        if contradictions.is_empty() { contradictions } else { vec![format!("`total` contradicts what arrives: {}", contradictions.join("; "))] };
    out.push(if contradictions.is_empty() {
        let given = run.pages.iter().filter(|p| p.total.is_some()).count();
        Outcome::pass("total-consistent", format!("{given} page(s) reported a total, none contradicted by the {end} customer(s)"))
    } else {
        Outcome::fail("total-consistent", contradictions.join("; "))
    });
    // tenant-ids
    let bad: Vec<String> = run
        .pages
        .iter()
        .flat_map(|p| p.customers.iter())
        .flat_map(|c| c.m365_tenants.iter().filter(|t| !is_lower_guid(&t.tenant_id)).map(move |t| (c.id.clone(), t.tenant_id.clone())))
        .map(|(c, t)| format!("customer {c} carries tenant id {t:?}, not a lower-case GUID ({})", guid_problem(&t)))
        .collect();
    let links: usize = run.pages.iter().flat_map(|p| p.customers.iter()).map(|c| c.m365_tenants.len()).sum();
    out.push(if bad.is_empty() {
        Outcome::pass("tenant-ids", format!("{links} tenant link(s), every id a lower-case GUID"))
    } else {
        Outcome::fail("tenant-ids", bad.join("; "))
    });
    // fixtures-cover-requests
    let mut misses = Vec::new();
    for s in &run.served {
        match (s.exchange, &s.body_mismatch) {
            (None, _) => misses.push(format!("no fixture answers {}", request_line(s))),
            (Some(i), Some(w)) => misses.push(format!("{} matched {} but its body lacks {w:?}", request_line(s), fx.exchanges[i].file)),
            _ => {}
        }
    }
    out.push(if misses.is_empty() {
        Outcome::pass("fixtures-cover-requests", format!("{} request(s), each answered by a fixture", run.served.len()))
    } else {
        Outcome::fail("fixtures-cover-requests", misses.join("; "))
    });
    // allow-list
    out.push(if run.denials.is_empty() {
        Outcome::pass("allow-list", "the sandbox refused no request")
    } else {
        Outcome::fail(
            "allow-list",
            format!("the connector sent requests outside its allow-list: {}", run.denials.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("; ")),
        )
    });
    out
}

/// The typed-error checks: the first API call answered with each status.
pub async fn typed_errors(ctx: &mut Ctx<'_>, baseline: &Run) -> Vec<Outcome> {
    let first_api = baseline.served.iter().filter_map(|s| s.exchange).find(|i| !ctx.fx.exchanges[*i].auth);
    let cases: [(u16, Option<u32>, &str); 4] =
        [(401, None, "unauthorized"), (403, None, "forbidden"), (429, Some(RETRY_AFTER), "rate-limited"), (500, None, "upstream")];
    let mut out = Vec::new();
    for (status, retry_after, want) in cases {
        let check = format!("typed-error-{status}");
        let Some(target) = first_api else {
            out.push(Outcome::fail(&check, "the import made no API call a fixture answers (every answered request is marked auth)"));
            continue;
        };
        let file = ctx.fx.exchanges[target].file.clone();
        let run = ctx.import(Fault::Status { target, status, retry_after }, &check).await;
        let got = match &run.error {
            Some(HostError::Connector { error, .. }) => Some(error.clone()),
            _ => None,
        };
        let kind = got.as_ref().map(ConnectorError::kind);
        out.push(match (&got, &run.error) {
            (Some(ConnectorError::RateLimited { retry_after_seconds, .. }), _) if want == "rate-limited" => {
                if *retry_after_seconds == retry_after {
                    Outcome::pass(&check, format!("{status} on {file} gives rate-limited with retry-after {RETRY_AFTER} s"))
                } else {
                    Outcome::fail(&check, format!("{status} with Retry-After: {RETRY_AFTER} on {file} gives rate-limited with retry-after {retry_after_seconds:?}, not {RETRY_AFTER} s"))
                }
            }
            (Some(_), _) if kind == Some(want) => Outcome::pass(&check, format!("{status} on {file} gives {want}")),
            (Some(e), _) => Outcome::fail(&check, format!("{status} on {file} gives {} instead of {want}: {e}", kind.unwrap_or("?"))),
            (None, Some(e)) => Outcome::fail(&check, format!("{status} on {file} ends the call with a host error instead of {want}: {e}")),
            (None, None) => Outcome::fail(&check, format!("{status} on {file} gave no error at all; the connector must return {want}")),
        });
    }
    out
}

/// `same-cursor`: the first next cursor asked twice in one session (as the
/// host's retry asks it) and again in a second, fresh session.
pub async fn same_cursor(ctx: &mut Ctx<'_>, baseline: &Run) -> Outcome {
    const C: &str = "same-cursor";
    let Some(cursor) = baseline.pages.first().and_then(|p| p.next_cursor.clone()) else {
        return Outcome::pass(C, "the import has one page; no cursor to answer twice");
    };
    let shown = t(&cursor.chars().take(60).collect::<String>()).into_owned();
    let mut answers: Vec<Vec<String>> = Vec::new();
    for round in 0..2 {
        ctx.server.reset(Fault::None);
        let mut s = match ctx.connector.open_session(ctx.config).await {
            Ok(s) => s,
            Err(e) => return Outcome::fail(C, format!("the session did not open: {e}")),
        };
        // The connector may rely on its first page (a token, a lookup).
        let mut got = Vec::new();
        let mut failed = None;
        match tokio::time::timeout(ctx.outer_timeout, s.list_customers(None)).await {
            Ok(Ok(_)) => {
                // Asked twice in the first session (a retry), once in the second.
                for _ in 0..(2 - round) {
                    match tokio::time::timeout(ctx.outer_timeout, s.list_customers(Some(&cursor))).await {
                        Ok(Ok(p)) => got.push(p.customers.iter().map(|c| c.id.clone()).collect::<Vec<_>>()),
                        Ok(Err(e)) => failed = Some(e.to_string()),
                        Err(_) => failed = Some("it did not answer within the harness's timeout".into()),
                    }
                    if failed.is_some() {
                        break;
                    }
                }
            }
            Ok(Err(e)) => failed = Some(e.to_string()),
            Err(_) => failed = Some("the first page did not answer within the harness's timeout".into()),
        }
        for text in s.take_guest_output() {
            ctx.printed.push((C.to_string(), text));
        }
        s.close().await;
        if let Some(e) = failed {
            let asked = if round == 0 && got.len() == 1 { "asked again in the same session (as a retry asks it)" } else { "asked" };
            return Outcome::fail(C, format!("the cursor `{shown}`, {asked} in session {}, failed: {e}", round + 1));
        }
        // Asked again in the session, the page may come again or without
        // what it already returned (a connector that never returns a
        // customer twice in an import); a customer it did not give the first
        // time is another page's.
        let new: Vec<String> = if round == 0 { got[1].iter().filter(|id| !got[0].contains(id)).cloned().collect() } else { Vec::new() };
        if !new.is_empty() {
            return Outcome::fail(
                C,
                format!(
                    "the cursor `{shown}` gave customers {} and, asked again in the same session (as a retry asks it), {}, \
                     with {} it did not give the first time: the page must follow from the cursor alone, not from state \
                     that changes with each call",
                    ids_of(&got[0]),
                    ids_of(&got[1]),
                    listing(&new)
                ),
            );
        }
        answers.push(got.swap_remove(0));
    }
    if answers[0] == answers[1] {
        Outcome::pass(
            C,
            format!("the cursor gave the same {} customer(s) in two sessions, and nothing new asked again in one", answers[0].len()),
        )
    } else {
        Outcome::fail(
            C,
            format!(
                "the cursor `{shown}` gave customers {} in one session and {} in a second: the page must follow from the cursor alone",
                ids_of(&answers[0]),
                ids_of(&answers[1])
            ),
        )
    }
}

/// Customer ids as `[a, b, c]` (at most ten named).
fn ids_of(ids: &[String]) -> String {
    format!("[{}]", listing(ids).replace(" and ", ", "))
}

/// `no-secrets` over every text the runs produced.
pub fn no_secrets(ctx: &Ctx<'_>) -> Outcome {
    const C: &str = "no-secrets";
    let info = ctx.connector.info();
    let secrets: Vec<(String, String)> = ctx
        .config
        .entries()
        .iter()
        .filter(|(k, v)| info.field(k).is_some_and(|f| f.kind == FieldKind::Secret) && v.len() >= 4)
        .cloned()
        .collect();
    // The host's mark names no field; with one secret field it can only be that one.
    let which = match secrets.as_slice() {
        [(field, _)] => format!("the value of `{field}`"),
        _ => "a configured secret".to_string(),
    };
    let mut found = Vec::new();
    for (where_, text) in &ctx.seen {
        for (field, value) in &secrets {
            if text.contains(value.as_str()) {
                found.push(format!("{where_} contains the value of `{field}`"));
            }
        }
        if text.contains("[redacted]") {
            found.push(format!("{where_} carried {which} (the host replaced it by [redacted])"));
        }
    }
    // What the connector printed: once per run that printed it.
    for (run, text) in &ctx.printed {
        for (field, value) in &secrets {
            if text.contains(value.as_str()) {
                found.push(format!("{run}: the connector printed the value of `{field}` to stdout/stderr"));
            }
        }
        if text.contains("[redacted]") {
            found.push(format!("{run}: the connector printed {which} to stdout/stderr (the host replaced it by [redacted])"));
        }
    }
    let mut once = HashSet::new();
    found.retain(|f| once.insert(f.clone()));
    if found.is_empty() {
        Outcome::pass(
            C,
            format!(
                "{} secret field value(s) absent from {} error(s), step(s), warning(s) and customer(s) read and {} call(s)' printed output",
                secrets.len(),
                ctx.seen.len(),
                ctx.printed.len()
            ),
        )
    } else {
        Outcome::fail(C, found.join("; "))
    }
}

/// Every mutation on every exchange with a 2xx answer.
pub async fn mutations(ctx: &mut Ctx<'_>, baseline: &Run) -> (Outcome, MutationFigures) {
    const C: &str = "mutations";
    let mut figures = MutationFigures::default();
    let mut failures = Vec::new();
    let used: Vec<usize> = {
        let mut v: Vec<usize> = baseline.served.iter().filter_map(|s| s.exchange).collect();
        v.sort();
        v.dedup();
        v
    };
    for target in used {
        let e = &ctx.fx.exchanges[target];
        if !(200..300).contains(&e.status) {
            continue;
        }
        let file = e.file.clone();
        let is_json = serde_json::from_slice::<serde_json::Value>(&e.body).is_ok();
        for m in Mutation::ALL {
            if m.needs_json() && !is_json {
                continue;
            }
            figures.tried += 1;
            let label = format!("mutation {} of {file}", m.name());
            let run = ctx.import(Fault::Mutate { target, mutation: m }, &label).await;
            let ending = run.ending();
            figures.runs.push(MutationRun {
                exchange: file.clone(),
                mutation: m.name(),
                ending: match ending {
                    Ending::Completed => "completed",
                    Ending::Typed => "typed-error",
                    Ending::Trap => "trap",
                    Ending::Hang => "hang",
                    Ending::Other => "other",
                },
                error_kind: match &run.error {
                    Some(HostError::Connector { error, .. }) => Some(error.kind()),
                    _ => None,
                },
            });
            match ending {
                Ending::Typed => figures.typed_errors += 1,
                Ending::Completed => {
                    // A completed import must still keep the contract.
                    let customers: Vec<_> = run.pages.iter().flat_map(|p| p.customers.iter()).collect();
                    let mut ids = HashSet::new();
                    let mut so_far = 0u64;
                    let problem = if customers.iter().flat_map(|c| c.m365_tenants.iter()).any(|t| !is_lower_guid(&t.tenant_id)) {
                        Some("a tenant id that is not a lower-case GUID")
                    } else if !customers.iter().all(|c| ids.insert(c.id.as_str())) {
                        Some("a customer id twice")
                    } else if !run.pages.iter().all(|p| {
                        so_far += p.customers.len() as u64;
                        p.fetched == so_far
                    }) {
                        Some("a `fetched` that is not the cumulative count")
                    } else {
                        None
                    };
                    match problem {
                        Some(p) => {
                            figures.other += 1;
                            failures.push(format!("{label}: the import completed with {p}"));
                        }
                        None => figures.completed += 1,
                    }
                }
                Ending::Trap => {
                    figures.traps += 1;
                    failures.push(format!("{label}: the connector trapped: {}", run.error.map(|e| e.to_string()).unwrap_or_default()));
                }
                Ending::Hang => {
                    figures.hangs += 1;
                    failures.push(format!("{label}: the call did not end (deadline or the harness's timeout)"));
                }
                Ending::Other => {
                    figures.other += 1;
                    failures.push(format!("{label}: {}", run.error.map(|e| e.to_string()).unwrap_or_default()));
                }
            }
        }
    }
    let o = if failures.is_empty() {
        Outcome::pass(
            C,
            format!(
                "{} mutation(s): {} typed error(s), {} correct import(s), 0 traps, 0 hangs",
                figures.tried, figures.typed_errors, figures.completed
            ),
        )
    } else {
        Outcome::fail(C, failures.join("; "))
    };
    (o, figures)
}
