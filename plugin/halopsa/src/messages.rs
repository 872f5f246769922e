//! Every sentence a person reads, in one place. None takes a secret as input.

const APPS: &str = "Configuration > Integrations > HaloPSA API > View Applications";
const DETAILS: &str = "Configuration > Integrations > HaloPSA API > API Details";

// ----- form -----------------------------------------------------------------

pub fn unknown_field(id: &str) -> String {
    format!("The form has a field \"{}\" that the HaloPSA connector does not know; remove it.", clip(id, 60))
}

pub fn missing_field(label: &str) -> String {
    format!("{label} is required; copy it from Halo ({DETAILS}, or the application in {APPS}).")
}

pub fn bad_flag(value: &str) -> String {
    format!("\"{}\" is not a yes/no value; use true or false.", clip(value, 40))
}

pub fn bad_choice(label: &str, value: &str, choices: &[&str]) -> String {
    format!("{label}: \"{}\" is not one of the choices; use one of {}.", clip(value, 40), choices.join(", "))
}

pub fn bad_number(label: &str, value: &str) -> String {
    format!("{label}: \"{}\" is not a whole number; enter one in digits, e.g. 100.", clip(value, 40))
}

pub fn number_out_of_range(label: &str, value: i64, min: i64, max: i64) -> String {
    format!("{label}: {value} is out of range; enter a number from {min} to {max}.")
}

/// Why a URL whose non-ASCII host name is not a valid international domain
/// name is refused, after "cannot be used: ".
pub const NON_ASCII_HOST: &str = "its host name is not a valid international domain name; write it in its \
ASCII (xn--) form, as a browser's address bar shows it";

pub fn bad_url(label: &str, raw: &str, why: &str) -> String {
    format!("The {label} \"{}\" cannot be used: {why}. Copy it from {DETAILS}.", clip(raw, 200))
}

pub fn form_valid(api_assumed: bool, resource_url: &str) -> String {
    if api_assumed {
        format!(
            "The form is filled in correctly. The Resource Server URL did not end in /api, so /api was assumed: {resource_url}."
        )
    } else {
        "The form is filled in correctly.".to_string()
    }
}

// ----- network --------------------------------------------------------------

/// The advice every "could not reach Halo" message ends with.
const EGRESS: &str = "If Halo is self-hosted, allow Optimize365's egress addresses in your firewall.";

pub fn unreachable_dns(host: &str) -> String {
    format!("The name {host} could not be resolved (DNS). Check the URL for typos; a self-hosted Halo must have a name that resolves on the public internet. {EGRESS}")
}

pub fn unreachable_connect(host: &str) -> String {
    format!("No connection could be made to {host} (refused or no route). Check the host name and port, and that Halo is running and reachable from the internet. {EGRESS}")
}

pub fn unreachable_broken(host: &str) -> String {
    format!("The connection to {host} broke off before Halo finished answering. Try again; if it persists, a proxy or firewall in front of Halo is cutting the connection.")
}

pub fn unreachable_tls(host: &str) -> String {
    let name = host_name(host);
    format!("The secure connection (TLS) to {host} failed: its certificate is not trusted (not issued by a public certificate authority), has expired, or does not name {name}. A self-hosted Halo needs a certificate from a public certificate authority, or the platform must be given your private certificate authority.")
}

pub fn unreachable_tls_protocol(host: &str) -> String {
    format!("The secure connection (TLS) to {host} failed during the handshake: the server does not speak TLS on that port, or offers no protocol version or cipher the platform accepts. Check the URL's scheme and port; a self-hosted Halo needs HTTPS with a certificate from a public certificate authority.")
}

pub fn unreachable_timeout(host: &str) -> String {
    format!("{host} did not answer in time. Halo may be down or overloaded, or a firewall silently drops the connection; try again later. {EGRESS}")
}

pub fn sandbox_denied(host: &str) -> String {
    format!("The sandbox refused the connection to {host}: a connector may only reach the scheme, host and port of its URL fields. Check that the Resource Server URL and the Authorization Server URL are typed exactly as Halo shows them.")
}

pub fn ip_prohibited(host: &str) -> String {
    format!("{host} points to a private or internal network address, which the platform does not connect to. Use the Halo instance's public address.")
}

pub fn network_other(host: &str, detail: &str) -> String {
    format!("{host} could not be reached: the platform's network layer reported \"{}\".", clip(detail, 200))
}

pub fn too_large(endpoint: &str) -> String {
    format!("{endpoint} answered with more data than the platform accepts.")
}

pub fn request_not_built(what: &str) -> String {
    format!("The HTTP request could not be built ({what}).")
}

// ----- token endpoint -------------------------------------------------------

/// Halo refused the client id / secret (`invalid_client`, or a bare 401).
pub fn wrong_credentials(tenant: Option<&str>, auth_host: &str) -> String {
    let mut m = format!(
        "Halo refused the Client ID and Client Secret (invalid_client); Halo does not say whether the Client ID or the Client Secret is wrong. Copy both again from the application in {APPS}: a Client ID can change when the Halo application is first saved."
    );
    match tenant {
        Some(t) => m.push_str(&format!(
            " The Tenant \"{}\" must also match the tenant name shown on the API Details page.",
            clip(t, 100)
        )),
        None if auth_host.to_ascii_lowercase().ends_with("halopsa.com") => m.push_str(
            " This looks like a Halo-hosted instance: hosted instances need the Tenant field, shown on the API Details page.",
        ),
        None => m.push_str(" If Halo hosts this instance, fill in the Tenant field too: hosted instances need it, and it is shown on the API Details page."),
    }
    m
}

pub fn wrong_grant(code: &str) -> String {
    format!(
        "Halo refused the client-credentials login ({}): the application's authentication method must be \"Client ID and Secret (Services)\". Change it in {APPS}, then copy the Client ID and Client Secret again.",
        clip(code, 40)
    )
}

pub fn invalid_scope(scope: &str) -> String {
    format!(
        "Halo refused the scope \"{}\" (invalid_scope). Use \"all\", or permission names separated by spaces such as \"read:customers edit:tickets\".",
        clip(scope, 200)
    )
}

/// `tenant_hint`: add the tenant sentence (false when Halo itself named
/// another authorization server, which explains the answer).
pub fn auth_not_halo(token_url: &str, answered: &str, tenant: Option<&str>, tenant_hint: bool) -> String {
    let mut m = format!(
        "The Authorization Server URL does not look like Halo's: {token_url} answered {answered}; it is usually https://<instance>/auth (see {DETAILS})."
    );
    if !tenant_hint {
        return m;
    }
    // Hosted Halo may answer an unknown or missing tenant this way too.
    match tenant {
        Some(t) => m.push_str(&format!(
            " If that URL is right, the Tenant \"{}\" may be wrong: it must match the tenant name shown on the API Details page.",
            clip(t, 100)
        )),
        None => m.push_str(" If that URL is right and Halo hosts this instance, the Tenant field is probably missing: hosted instances need it, and it is shown on the API Details page."),
    }
    m
}

/// A status with which something in front of Halo refused the request for
/// its form (see `api::refused_as_sent`). `content_type`: what the request
/// carried (`application/x-www-form-urlencoded` for the token, JSON for a
/// ticket); `None` for a request without a body.
pub fn refused_as_sent(status: u16, endpoint: &str, content_type: Option<&str>) -> String {
    let (reason, wants) = match status {
        406 => ("Not Acceptable", "It will not answer with JSON, which the connector asks for (Accept: application/json) and Halo's API always sends.".to_string()),
        411 => (
            "Length Required",
            "It wants the length of the request body declared in a Content-Length header; the connector sends that header, so something on the way may be removing it.".to_string(),
        ),
        413 => ("Content Too Large", "It accepts only smaller request bodies than this one (a few hundred bytes for a login, a few kilobytes for a ticket).".to_string()),
        414 => ("URI Too Long", "It accepts only shorter URLs than this request's (the Tenant is part of the token URL).".to_string()),
        415 => (
            "Unsupported Media Type",
            match content_type {
                Some(t) => format!("It does not accept the request's content type, {t}, which Halo itself expects here."),
                None => "It does not accept the request's content type.".to_string(),
            },
        ),
        417 => ("Expectation Failed", "It refused an Expect header; the connector sends none, so something on the way adds it.".to_string()),
        431 => ("Request Header Fields Too Large", "It accepts fewer or smaller headers than the request carries.".to_string()),
        _ => ("Refused", String::new()),
    };
    let wants = if wants.is_empty() { String::new() } else { format!(" {wants}") };
    format!(
        "{reason}. This answer comes from a reverse proxy, load balancer or web application firewall in front of Halo, not from Halo's own service: it refused the request as sent, before Halo saw it.{wants} Ask whoever runs it to pass requests to {endpoint} on to Halo unchanged, as standard clients such as curl or PowerShell send them. The answer says nothing about the URLs, the Client ID or the Client Secret."
    )
}

pub fn token_missing(what: &str) -> String {
    format!("The token endpoint answered without a usable access token ({what}).")
}

pub fn token_refused_by_api() -> String {
    format!("The access token was refused by the resource server although the authorization server issued it. Check that the Resource Server URL and the Authorization Server URL belong to the same Halo instance (both are on {DETAILS}).")
}

// ----- API answers ----------------------------------------------------------

fn permission_why(permission: &str) -> &'static str {
    if permission == "admin" {
        " (Halo's configuration permission, needed to read the Microsoft CSP integration's tenant mappings)"
    } else {
        ""
    }
}

/// 403 when the token's granted scopes are unknown: both causes.
pub fn forbidden(endpoint: &str, permission: &str) -> String {
    let why = permission_why(permission);
    format!(
        "Halo refused {endpoint}: the API application lacks the permission {permission}{why}. Grant it on the application's Permissions tab in {APPS}. The application's login type must be Agent, and that agent itself needs the permission too: Halo grants only what both have."
    )
}

/// 403, and the token Halo issued does not grant `permission`.
pub fn forbidden_not_granted(endpoint: &str, permission: &str, granted: &[String]) -> String {
    let why = permission_why(permission);
    let has = if granted.is_empty() {
        "grants no permission at all".to_string()
    } else {
        format!("grants only {}", clip(&granted.join(" "), 300))
    };
    format!(
        "Halo refused {endpoint}: the API application lacks the permission {permission}{why}; the access token Halo issued {has}. Grant {permission} on the application's Permissions tab in {APPS}, and make sure the Scope field asks for it (\"all\" does); the agent the application logs in as (login type Agent) needs it too."
    )
}

/// 403 although the token grants `permission`: the login type or the agent.
pub fn forbidden_login_type(endpoint: &str, permission: &str) -> String {
    let right = match permission {
        "read:customers" => "access to customers",
        "edit:customers" => "the right to edit customers",
        "read:tickets" => "access to tickets",
        "edit:tickets" => "the right to create and edit tickets",
        "admin" => "access to Halo's configuration",
        _ => "the same rights",
    };
    format!(
        "Halo refused {endpoint} although the access token it issued grants {permission}, so the application's permissions are not the problem: the application's login type must be Agent, and the agent it logs in as needs {right} itself (Halo grants only what both the application and its agent have). In {APPS}, open the application, set its login type to Agent, and check that agent's own permissions."
    )
}

pub fn rate_limited(retry_after: Option<u32>) -> String {
    match retry_after {
        Some(s) => format!("Halo's rate limit was reached; it asks to wait {s} seconds."),
        None => "Halo's rate limit was reached (hosted Halo allows about 300 requests per rolling 5 minutes); wait a few minutes before trying again.".to_string(),
    }
}

pub fn upstream_full(status: u16, endpoint: &str, message: &str) -> String {
    format!("Halo answered HTTP {status} on {endpoint}: {message}")
}

/// A web page where the API belongs, on an error status (404 and the like).
pub fn html_error_page() -> String {
    "a web page, not the Halo API: the Resource Server URL is probably wrong; it usually ends in /api (https://<instance>/api).".to_string()
}

pub fn html_not_json(endpoint: &str) -> String {
    format!(
        "{endpoint} answered with an HTML page where JSON belongs: the Resource Server URL serves a web page, not the Halo API; it usually ends in /api (https://<instance>/api)."
    )
}

pub fn not_json(endpoint: &str) -> String {
    format!("{endpoint} answered with something that is not JSON; check that the Resource Server URL points at the Halo API (it usually ends in /api).")
}

pub fn empty_body(endpoint: &str) -> String {
    format!("{endpoint} answered with an empty body where JSON belongs.")
}

pub fn body_summary_html(status: u16) -> String {
    format!("an HTML page (HTTP {status})")
}

pub fn body_summary_empty(status: u16) -> String {
    format!("an empty answer (HTTP {status})")
}

// ----- discovery (GET {instance}/api/authinfo) -------------------------------

/// What the admin typed for the tenant, when it differs from what Halo reports.
pub enum TenantEntered<'a> {
    Empty,
    Other(&'a str),
}

/// `auth`: (reported URL, the URL the admin typed when different);
/// `tenant`: (reported tenant, what the admin typed when different).
pub fn discovered(auth: Option<(&str, Option<&str>)>, tenant: Option<(&str, Option<TenantEntered>)>) -> String {
    let auth_part = auth.map(|(a, entered)| match entered {
        Some(e) => format!("authorization server as {a} (you entered {e})"),
        None => format!("authorization server as {a}"),
    });
    let tenant_part = tenant.map(|(t, entered)| {
        let t = clip(t, 100);
        match entered {
            Some(TenantEntered::Empty) => format!("tenant as \"{t}\" (the Tenant field is empty)"),
            Some(TenantEntered::Other(e)) => format!("tenant as \"{t}\" (you entered \"{}\")", clip(e, 100)),
            None => format!("tenant as \"{t}\""),
        }
    });
    let differs = auth_part.as_deref().is_some_and(|a| a.contains("(you entered"))
        || tenant_part.as_deref().is_some_and(|t| t.contains("(you entered") || t.contains("(the Tenant field"));
    let m = match (auth_part, tenant_part) {
        (Some(a), Some(t)) => format!("Halo reports its {a} and {t}."),
        (Some(a), None) => format!("Halo reports its {a}."),
        (None, Some(t)) => format!("Halo reports its {t}."),
        (None, None) => return String::new(),
    };
    if differs { format!("{m} Correct the form to match, then test again.") } else { m }
}

/// After a web page on the resource URL, when `{origin}/api/authinfo` answered.
pub fn resource_probably(api: &str) -> String {
    format!("Halo's /api/authinfo answered at {api}, so the Resource Server URL is probably {api}.")
}

// ----- customers ------------------------------------------------------------

pub fn field_problem(field: &str, problem: &str) -> String {
    format!("the answer's field \"{field}\" {problem}.")
}

pub fn row_problem(position: usize, page: u32, problem: &str) -> String {
    format!("customer row {position} of page {page} {problem}.")
}

pub fn incomplete_import(reported: u64, distinct: u64, pages: u32) -> String {
    format!(
        "Halo reported {reported} customers but only {distinct} distinct customers came back over {pages} pages; the import is incomplete, run it again."
    )
}

pub fn page_repeated(page: u32) -> String {
    format!("Page {page} held only customers already imported from earlier pages: Halo is not paging (it ignores page_no), so the import cannot continue.")
}

pub fn bad_cursor() -> String {
    "The cursor is not one this connector issued; start the import again without a cursor.".to_string()
}

// ----- warnings ---------------------------------------------------------------

pub fn warn_duplicate(name: &str, id: &str, first_page: u32, page: u32) -> String {
    format!(
        "Customer {} (id {id}) came back on page {page} after already arriving on page {first_page}; it was imported once and the repeat was skipped.",
        quoted(name)
    )
}

pub fn warn_record_count_changed(before: u64, now: u64) -> String {
    format!(
        "Halo's customer count changed during the import from {before} to {now}; customers added or removed meanwhile may be missed until the next import."
    )
}

pub fn warn_invalid_tenant(name: &str, id: &str, raw: &str) -> String {
    format!(
        "Customer {} (id {id}) has a Microsoft 365 tenant link whose tenant id \"{}\" is not a GUID; that link was skipped.",
        quoted(name),
        clip(raw, 80)
    )
}

/// `holders`: (id, name) of every customer the tenant sits on.
pub fn warn_tenant_conflict(tenant: &str, holders: &[(String, String)]) -> String {
    format!(
        "Microsoft 365 tenant {tenant} is linked to several customers in Halo ({}); it was linked to none of them. Keep the link on the right customer only (Halo's Microsoft CSP integration, Tenants tab).",
        list_customers(holders)
    )
}

/// The conflict was found after `earlier` had already been imported with the link.
pub fn warn_tenant_conflict_late(tenant: &str, earlier: &(String, String), later: &[(String, String)]) -> String {
    format!(
        "Microsoft 365 tenant {tenant} is also linked to {}, but customer {} (id {}), imported earlier in this import, already holds it; the later customers were imported without it. Keep the link on the right customer only in Halo; the platform should review the link on {}.",
        list_customers(later),
        quoted(&earlier.1),
        earlier.0,
        quoted(&earlier.1)
    )
}

pub fn warn_tenant_links_forbidden(endpoint: &str) -> String {
    format!(
        "Customers are imported without Microsoft 365 tenant links: Halo's customer list carries none, and Halo refused {endpoint}, which needs the permission admin (Halo's configuration permission, needed to read the Microsoft CSP integration's tenant mappings). Grant it in {APPS}; the agent the application logs in as needs it too."
    )
}

pub fn warn_tenant_links_unavailable(endpoint: &str) -> String {
    format!(
        "Customers are imported without Microsoft 365 tenant links: Halo's customer list carries none, and {endpoint} does not exist on this instance (HTTP 404)."
    )
}

// ----- test-connection --------------------------------------------------------

pub fn skipped() -> String {
    "Skipped because an earlier step failed.".to_string()
}

pub fn auth_reachable(token_url: &str) -> String {
    format!("{token_url} answered.")
}

pub fn credentials_ok() -> String {
    "Halo issued an access token.".to_string()
}

pub fn customers_visible(n: u64) -> String {
    if n == 1 { "1 customer visible.".to_string() } else { format!("{} customers visible.", thousands(n)) }
}

pub fn links_in_rows() -> String {
    "Halo's customer list carries each customer's Microsoft 365 tenant links.".to_string()
}

pub fn links_from_csp(connections: usize, links: usize) -> String {
    format!(
        "{links} tenant link(s) read from {connections} Microsoft CSP connection(s) (Halo's customer list carries none itself)."
    )
}

pub fn links_none_configured() -> String {
    "Halo's customer list carries no tenant links and no Microsoft CSP connection is set up in Halo, so customers will be imported without Microsoft 365 tenant links.".to_string()
}

pub fn links_check_failed(detail: &str) -> String {
    format!("{detail} The import would still work, but without Microsoft 365 tenant links.")
}

pub fn links_unavailable_check(endpoint: &str) -> String {
    format!("Halo's customer list carries no tenant links and {endpoint} does not exist on this instance (HTTP 404). The import would still work, but without Microsoft 365 tenant links.")
}

// ----- tickets ---------------------------------------------------------------

pub fn bad_integer(what: &str, raw: &str) -> String {
    format!("The {what} \"{}\" is not a Halo id: Halo ids are whole numbers.", clip(raw, 60))
}

pub fn ticket_no_id() -> String {
    "the created ticket carries no integer \"id\"".to_string()
}

pub fn bad_dedup_key(key: &str) -> String {
    format!(
        "The deduplication key \"{}\" cannot be stored in Halo: it must be 1 to 100 characters of letters, digits, '.', '_', ':' and '-'.",
        clip(key, 120)
    )
}

pub fn tickets_not_a_list() -> String {
    "the answer carries no \"tickets\" list, which Halo's ticket list always has".to_string()
}

pub fn too_many_options(max: usize) -> String {
    format!(
        "the list has more than {} entries, more than the platform can offer; hide unused entries in Halo, then try again",
        thousands(max as u64)
    )
}

pub fn options_not_a_list() -> String {
    "the answer is not a list, which Halo's lists of ticket types, priorities, statuses and outcomes are".to_string()
}

pub fn note_no_id() -> String {
    "the created note (action) carries no integer \"id\"".to_string()
}

pub fn too_many_open_tickets(seen: u64, total: u64) -> String {
    format!(
        "looking for the open ticket with this deduplication key, {} of {} open tickets of the customer were read without reaching the end; Halo seems to ignore the third_party_id_string filter, and this customer has too many open tickets to search them all. Close old tickets of this customer in Halo, or ask Halo's support whether your version filters tickets on third_party_id_string.",
        thousands(seen),
        thousands(total)
    )
}

pub fn tickets_without_key(n: usize) -> String {
    format!(
        "{n} open tickets of the customer came back without a third_party_id_string field, so the ticket opened for this deduplication key cannot be recognised without reading each of them; this Halo version does not show the field in ticket lists."
    )
}

/// Halo's words as a sentence: clipped, with a final full stop.
fn halo_sentence(halo: &str) -> String {
    let t = clip(halo.trim(), 200);
    if t.ends_with(['.', '!', '?']) { t } else { format!("{t}.") }
}

pub fn outcome_not_allowed(outcome: &str, halo: &str) -> String {
    format!(
        "{} The agent the API application logs in as may not run the action outcome {outcome}: choose another outcome for notes, or allow that agent the outcome in Halo (Configuration > Tickets > Actions), or open a new ticket instead.",
        halo_sentence(halo)
    )
}

pub fn note_ticket_missing(ticket_id: &str, halo: &str) -> String {
    format!(
        "{} Ticket {} no longer exists in Halo (deleted or merged): look for the open ticket again, or open a new one.",
        halo_sentence(halo),
        clip(ticket_id, 40)
    )
}

pub fn option_not_for_tickets(kind: &str) -> String {
    format!(
        "A {kind} cannot be chosen for a Halo ticket: Halo's tickets take a ticket type, a priority and a status (a team is not listed by Halo's API, and an outcome belongs to a note)."
    )
}

pub fn no_queue_list() -> String {
    "Halo's API lists no queues (teams) for tickets: the ticket options Halo offers are ticket types, priorities, statuses and note outcomes.".to_string()
}

pub fn tickets_visible(n: u64) -> String {
    format!("{} tickets visible.", thousands(n))
}

pub fn tickets_cannot_edit(granted: &[String]) -> String {
    format!(
        "Tickets can be read, but the access token Halo issued grants only {}: without edit:tickets, tickets and notes cannot be opened. Grant edit:tickets on the API application's Permissions tab in {APPS} (and to the agent it logs in as), and make sure the Scope field asks for it (\"all\" does).",
        clip(&granted.join(" "), 300)
    )
}

pub fn tickets_check_failed(detail: &str) -> String {
    format!("{detail} Customers would still import, but tickets could not be opened.")
}

pub fn warn_changed_since_ignored() -> String {
    "Halo ignored lastupdatefromdate on /Client (this version does not filter customers on their last update), so every customer is listed, not only those changed: the result is complete, only not cheaper than a full import.".to_string()
}

// ----- helpers ---------------------------------------------------------------

fn quoted(name: &str) -> String {
    if name.is_empty() { "(no name)".to_string() } else { format!("\"{}\"", clip(name, 100)) }
}

fn list_customers(holders: &[(String, String)]) -> String {
    holders.iter().map(|(id, name)| format!("{} (id {id})", quoted(name))).collect::<Vec<_>>().join(", ")
}

/// `host:port` → `host` (`[::1]:8443` → `[::1]`).
fn host_name(authority: &str) -> &str {
    match authority.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()) && (!h.contains(':') || h.ends_with(']')) => h,
        _ => authority,
    }
}

/// At most `max` characters, cut on a character boundary.
pub fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", s.get(..i).unwrap_or("")),
        None => s.to_string(),
    }
}

/// `1204` → `1,204`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn csp_list_not_a_list() -> String {
    "the answer is not a list of connections (an array, one connection object, or an object holding an array).".to_string()
}

pub fn csp_connection_without_id(position: usize) -> String {
    format!("connection {position} of the list has no usable id (a positive whole number), so its tenant mappings cannot be read.")
}

pub fn csp_too_many_connections(found: usize, max: usize) -> String {
    format!(
        "the answer lists {found} connections; this connector reads at most {max} (one request each) and will not import tenant links from part of them."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Describe;
    use crate::error::Error;

    const SECRET: &str = "s3cr3t-value";

    fn good_form() -> Vec<(String, String)> {
        [
            ("resource_server_url", "acme.halopsa.com"),
            ("authorization_server_url", "https://acme.halopsa.com/auth"),
            ("client_id", "cid"),
            ("client_secret", SECRET),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn snapshots() {
        assert_eq!(
            wrong_credentials(None, "acme.halopsa.com"),
            "Halo refused the Client ID and Client Secret (invalid_client); Halo does not say whether the Client ID or the Client Secret is wrong. Copy both again from the application in Configuration > Integrations > HaloPSA API > View Applications: a Client ID can change when the Halo application is first saved. This looks like a Halo-hosted instance: hosted instances need the Tenant field, shown on the API Details page."
        );
        assert_eq!(
            wrong_credentials(Some("acme"), "acme.halopsa.com"),
            "Halo refused the Client ID and Client Secret (invalid_client); Halo does not say whether the Client ID or the Client Secret is wrong. Copy both again from the application in Configuration > Integrations > HaloPSA API > View Applications: a Client ID can change when the Halo application is first saved. The Tenant \"acme\" must also match the tenant name shown on the API Details page."
        );
        assert_eq!(
            forbidden("/api/Client", "read:customers"),
            "Halo refused /api/Client: the API application lacks the permission read:customers. Grant it on the application's Permissions tab in Configuration > Integrations > HaloPSA API > View Applications. The application's login type must be Agent, and that agent itself needs the permission too: Halo grants only what both have."
        );
        assert_eq!(
            html_not_json("/api/Client"),
            "/api/Client answered with an HTML page where JSON belongs: the Resource Server URL serves a web page, not the Halo API; it usually ends in /api (https://<instance>/api)."
        );
        assert_eq!(
            unreachable_dns("acme.halopsa.com"),
            "The name acme.halopsa.com could not be resolved (DNS). Check the URL for typos; a self-hosted Halo must have a name that resolves on the public internet. If Halo is self-hosted, allow Optimize365's egress addresses in your firewall."
        );
        for m in [unreachable_dns("h"), unreachable_connect("h"), unreachable_timeout("h")] {
            assert!(m.ends_with("allow Optimize365's egress addresses in your firewall."), "{m}");
        }
        assert_eq!(
            unreachable_tls("halo.example:8443"),
            "The secure connection (TLS) to halo.example:8443 failed: its certificate is not trusted (not issued by a public certificate authority), has expired, or does not name halo.example. A self-hosted Halo needs a certificate from a public certificate authority, or the platform must be given your private certificate authority."
        );
        assert_eq!(
            forbidden_login_type("/api/Client", "read:customers"),
            "Halo refused /api/Client although the access token it issued grants read:customers, so the application's permissions are not the problem: the application's login type must be Agent, and the agent it logs in as needs access to customers itself (Halo grants only what both the application and its agent have). In Configuration > Integrations > HaloPSA API > View Applications, open the application, set its login type to Agent, and check that agent's own permissions."
        );
        assert_eq!(
            forbidden_not_granted("/api/Client", "read:customers", &["read:tickets".to_string()]),
            "Halo refused /api/Client: the API application lacks the permission read:customers; the access token Halo issued grants only read:tickets. Grant read:customers on the application's Permissions tab in Configuration > Integrations > HaloPSA API > View Applications, and make sure the Scope field asks for it (\"all\" does); the agent the application logs in as (login type Agent) needs it too."
        );
        assert_eq!(
            discovered(Some(("https://eu.halopsa.com/auth", Some("https://acme.halopsa.com/auth"))), Some(("acme", Some(TenantEntered::Other("acme-typo"))))),
            "Halo reports its authorization server as https://eu.halopsa.com/auth (you entered https://acme.halopsa.com/auth) and tenant as \"acme\" (you entered \"acme-typo\"). Correct the form to match, then test again."
        );
        assert_eq!(discovered(None, None), "");
        assert_eq!(
            sandbox_denied("evil.example"),
            "The sandbox refused the connection to evil.example: a connector may only reach the scheme, host and port of its URL fields. Check that the Resource Server URL and the Authorization Server URL are typed exactly as Halo shows them."
        );
        assert_eq!(
            incomplete_import(250, 200, 2),
            "Halo reported 250 customers but only 200 distinct customers came back over 2 pages; the import is incomplete, run it again."
        );
        assert_eq!(customers_visible(1204), "1,204 customers visible.");
        assert_eq!(host_name("localhost:8443"), "localhost");
        assert_eq!(host_name("[::1]:8443"), "[::1]");
        assert_eq!(host_name("::1"), "::1");
        assert_eq!(host_name("acme.halopsa.com"), "acme.halopsa.com");
    }

    #[test]
    fn ticket_messages() {
        assert_eq!(
            outcome_not_allowed("15", "You do not have access to this Action at the moment"),
            "You do not have access to this Action at the moment. The agent the API application logs in as may not run the action outcome 15: choose another outcome for notes, or allow that agent the outcome in Halo (Configuration > Tickets > Actions), or open a new ticket instead."
        );
        assert_eq!(
            bad_dedup_key("a b"),
            "The deduplication key \"a b\" cannot be stored in Halo: it must be 1 to 100 characters of letters, digits, '.', '_', ':' and '-'."
        );
        assert_eq!(tickets_visible(12_345), "12,345 tickets visible.");
        assert!(tickets_cannot_edit(&["read:tickets".into()]).contains("grants only read:tickets: without edit:tickets"));
        assert!(warn_changed_since_ignored().contains("every customer is listed"));
        assert!(too_many_open_tickets(10_000, 12_000).contains("10,000 of 12,000 open tickets"));
    }

    #[test]
    fn no_message_carries_the_secret() {
        let cfg = crate::config::parse(&good_form()).unwrap();
        let errors = [
            crate::auth::interpret(&cfg, 401, None, br#"{"error":"invalid_client"}"#).unwrap_err(),
            crate::auth::interpret(&cfg, 400, None, br#"{"error":"invalid_scope"}"#).unwrap_err(),
            crate::auth::interpret(&cfg, 404, Some("text/html"), b"<html>").unwrap_err(),
            crate::auth::interpret(&cfg, 500, None, b"oops").unwrap_err(),
            crate::api::status_error(403, None, None, b"", "/api/Client", "read:customers"),
            crate::api::forbidden_error("/api/Client", "read:customers", Some(&["all".to_string()])),
            crate::api::forbidden_error("/api/Client", "read:customers", Some(&[])),
            Error::Unauthorized(token_refused_by_api()),
        ];
        for e in errors {
            assert!(!e.describe().contains(SECRET), "{e:?}");
            assert!(!format!("{e:?}").contains(SECRET));
        }
        let steps_text = format!("{:?}", cfg);
        assert!(!steps_text.contains(SECRET));
    }

    #[test]
    fn helpers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(clip("héllo", 2), "hé…");
        assert_eq!(clip("abc", 5), "abc");
    }
}
