//! Every sentence the connector says, in one place. Text that came from
//! Autotask (error texts, names) is clipped and stripped of control
//! characters before it is quoted.

/// At most `n` characters of `s`, control characters replaced by a space.
pub fn clip(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if s.chars().count() > n {
        out.push('…');
    }
    out
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", clip(s, 80))
}

const HEADERS: &str = "the API user name (UserName header), the secret (Secret header) and the API integration code (ApiIntegrationCode header, the API user's tracking identifier)";
const API_USER: &str = "In Autotask, Admin > Resources (Users): the API user must have the security level \"API User (system)\" (or one granting Companies read), and its API tracking identifier must be the integration code entered here.";

pub fn missing(label: &str) -> String {
    format!("{label} is empty; fill it in (Autotask: Admin > Resources (Users), the API user's Security tab).")
}
pub fn unknown_field(field: &str) -> String {
    format!("`{}` is not a field of the Autotask connector; remove it from the connection settings.", clip(field, 60))
}
pub fn not_a_flag(label: &str, value: &str) -> String {
    format!("{label} is \"{}\"; use true or false.", clip(value, 20))
}
pub fn not_a_choice(label: &str, value: &str, choices: &[&str]) -> String {
    format!("{label} is \"{}\"; use one of {}.", clip(value, 40), choices.join(", "))
}
pub fn not_a_number(label: &str, value: &str) -> String {
    format!("{label} is \"{}\", not a whole number; enter one in digits.", clip(value, 20))
}
pub fn out_of_range(label: &str, value: i64, min: i64, max: i64) -> String {
    format!("{label} is {value}; enter a number from {min} to {max}.")
}
pub fn bad_lookup_url(why: &str) -> String {
    format!("The zone lookup URL is not usable: {why}. Leave it empty to use Autotask's own https://webservices.autotask.net.")
}
pub fn bad_udf_name() -> String {
    "The tenant id field name is longer than 200 characters or holds line breaks; enter the label of the company user-defined field exactly as Autotask shows it (Admin > Features & Settings > User-Defined Fields > Company).".into()
}
pub fn unknown_user(user: &str, status: u16) -> String {
    format!(
        "Autotask's zone lookup does not know the API user name {} (it answered HTTP {status}); enter the API user's full user name (e.g. api@yourcompany.com), as shown in Autotask under Admin > Resources (Users).",
        quoted(user)
    )
}
pub fn no_zone_url(endpoint: &str) -> String {
    format!("Autotask's zone lookup ({endpoint}) answered without a zone URL; check the API user name, or try again later.")
}
pub fn zone_off_domain(zone: &str, allowed: &str) -> String {
    format!(
        "Autotask's zone lookup named {} as the API address; it was not used because it is not an https address under {allowed}. Check the zone lookup URL in the connection settings (leave it empty for Autotask's own).",
        quoted(zone)
    )
}
pub fn next_page_off_zone(link: &str, zone: &str) -> String {
    format!(
        "Autotask named a next page at {}, which is not on the API zone {zone}; the import stopped rather than send the credentials elsewhere. Try again; if it repeats, contact Autotask support.",
        quoted(link)
    )
}
pub fn cursor_not_issued() -> String {
    "The import's position (cursor) was not issued by the Autotask connector; start the import again.".into()
}
pub fn unauthorized() -> String {
    format!(
        "Autotask refused the credentials (HTTP 401), also after looking up the zone again. Check {HEADERS}; a new secret must be saved in Autotask too, and the API user must be active."
    )
}
pub fn forbidden(endpoint: &str, detail: &str) -> String {
    format!(
        "Autotask refused {endpoint}: the API user does not have the adequate permissions ({}). {API_USER}",
        clip(detail, 160)
    )
}
pub const SECURITY_LEVEL: &str = "API User (system) security level";
pub fn rate_limited(endpoint: &str, detail: &str) -> String {
    format!(
        "Autotask's request limits were reached at {endpoint} ({}): a database allows 10,000 requests per hour shared by all integrations, and 3 concurrent requests per endpoint. The import will be retried later; if it repeats, check other integrations' usage (Admin > API usage).",
        clip(detail, 160)
    )
}
pub fn upstream(status: u16, endpoint: &str, detail: &str) -> String {
    if detail.is_empty() {
        format!("Autotask answered HTTP {status} to {endpoint}; try again later, and contact Autotask support if it repeats.")
    } else {
        format!(
            "Autotask answered HTTP {status} to {endpoint}: {}. Try again later, and contact Autotask support if it repeats.",
            quoted(detail)
        )
    }
}
pub fn not_json(endpoint: &str) -> String {
    format!("Autotask's answer to {endpoint} is not the JSON the API returns; check the zone lookup URL, or whether a proxy answered instead.")
}
pub fn html(endpoint: &str) -> String {
    format!("Autotask answered {endpoint} with a web page instead of JSON; a proxy or captive portal may be in the way.")
}
pub fn bad_shape(endpoint: &str, what: &str) -> String {
    format!("Autotask's answer to {endpoint} is malformed: {what}. Try again; if it repeats, contact Autotask support.")
}
pub fn duplicate_company(id: &str, name: &str) -> String {
    format!(
        "Autotask returned company {} (id {id}) twice in one import; the import stopped rather than guess which record is right. Start the import again; if it repeats, contact Autotask support.",
        quoted(name)
    )
}
pub fn network(host: &str, what: &str) -> String {
    format!("Could not reach Autotask at {host}: {what}. Check the machine's internet access and https://status.autotask.net.")
}
pub fn too_large(endpoint: &str) -> String {
    format!("Autotask's answer to {endpoint} is larger than the connector accepts.")
}
pub fn warn_invalid_tenant(name: &str, id: &str, udf: &str, raw: &str) -> String {
    format!(
        "Company {} (id {id}) has \"{}\" in its user-defined field {}, which is not a Microsoft 365 tenant id (a GUID); that link was skipped.",
        quoted(name),
        clip(raw, 80),
        quoted(udf)
    )
}
pub fn warn_tenant_conflict(tenant: &str, holders: &[(String, String)]) -> String {
    format!(
        "Microsoft 365 tenant {tenant} is entered on several companies in Autotask ({}); it was linked to none of them. Keep it in the tenant id field of the right company only.",
        list(holders)
    )
}
pub fn warn_tenant_conflict_late(tenant: &str, earlier: &(String, String), later: &[(String, String)]) -> String {
    format!(
        "Microsoft 365 tenant {tenant} is also entered on {}, but company {} (id {}), imported earlier in this import, already holds it; the later companies were imported without it. Keep it on the right company only in Autotask; the platform should review the link on {}.",
        list(later),
        quoted(&earlier.1),
        earlier.0,
        quoted(&earlier.1)
    )
}
pub fn warn_filtered(n: usize) -> String {
    format!("Autotask returned {n} companies on this page that are not active customers although the query asked for active customers only; they were skipped.")
}
pub fn warn_full_read(activity_only: bool) -> String {
    let refused = if activity_only { "lastTrackedModifiedDateTime" } else { "lastActivityDate" };
    format!(
        "Autotask refused to filter companies on {refused}, and one change date alone could miss a changed company (such as an edited tenant id field), so every company was read: the changed-since import is complete, but costs as many requests as a full import."
    )
}
pub fn warn_more_invalid_tenants(name: &str, id: &str, udf: &str, n: usize) -> String {
    format!(
        "Company {} (id {id}) has {n} more values in its user-defined field {} that are not Microsoft 365 tenant ids (GUIDs); they were skipped. Keep only tenant ids in that field.",
        quoted(name),
        quoted(udf)
    )
}
pub fn warn_too_many_tenants(name: &str, id: &str, udf: &str, n: usize, max: usize) -> String {
    format!(
        "Company {} (id {id}) has {n} more tenant ids in its user-defined field {} than the {max} a company may carry; they were skipped. Keep only the company's own tenants in that field.",
        quoted(name),
        quoted(udf)
    )
}
fn list(holders: &[(String, String)]) -> String {
    holders.iter().take(10).map(|(id, n)| format!("{} (id {id})", quoted(n))).collect::<Vec<_>>().join(", ")
}

// Tickets.
pub fn ticket_forbidden(perm: &str, detail: &str) -> String {
    format!(
        "{} Grant {perm} (Autotask: Admin > Resources (Users) > Security Levels, the API user's level, Service Desk (Tickets)).",
        detail.trim_end()
    )
}
pub fn bad_company_id(id: &str) -> String {
    format!("{} is not an Autotask company id (a positive whole number, as the import returns); import the customers again and use their ids.", quoted(id))
}
pub fn bad_ticket_id(id: &str) -> String {
    format!("{} is not an Autotask ticket id (a positive whole number, as creating or finding the ticket returned).", quoted(id))
}
pub fn ticket_gone(id: i64) -> String {
    format!("Autotask has no ticket {id} (it answered \"No matching records found\"): it was deleted or merged; find the open ticket again or open a new one.")
}
pub fn bad_key(key: &str) -> String {
    format!(
        "The deduplication key {} is not 1 to 100 characters of letters, digits and . _ : - (the contract's form); the platform must send such a key.",
        quoted(key)
    )
}
pub fn unknown_option(kind: &str, id: &str, list: &[crate::tickets::Opt]) -> String {
    let known: Vec<String> = list.iter().take(15).map(|o| format!("{} ({})", o.id, clip(&o.name, 40))).collect();
    format!(
        "{} is not an active {kind} in this Autotask database; choose one of: {}.",
        quoted(id),
        if known.is_empty() { "(none listed)".to_string() } else { known.join(", ") }
    )
}
pub fn complete_status_refused(complete: i64) -> String {
    format!(
        "Status {complete} (Complete) is not a status a new ticket can be opened with: a Complete ticket is never found open again, so the next run would open another. Choose an open status from the ticket options, or none for Autotask's default."
    )
}
pub fn too_many_options(kind: &str, field: &str, n: usize, max: usize) -> String {
    format!(
        "Autotask lists {n} active values for the {kind} picklist ({field}), more than the {max} the platform takes; the list was not cut, because a cut list would hide values. Make unused values inactive in Autotask (Admin > Features & Settings > Service Desk (Tickets)), then try again."
    )
}
pub fn too_many_open_tickets(company: i64, key: &str, pages: usize) -> String {
    format!(
        "Autotask has more than {pages} pages of open tickets for company {company} with the key {}; the search stopped rather than answer from part of them. Complete or merge the duplicate tickets in Autotask.",
        quoted(key)
    )
}
pub fn company_gone(company: i64) -> String {
    format!("Autotask has no company {company} (it answered that the companyID does not exist): it was deleted or merged; import the customers again and open the ticket for the company that holds the customer now.")
}
pub fn no_queue() -> String {
    "Autotask needs a queue for a new ticket and none was chosen: enter the default queue's id in the connection settings (Default ticket queue; the ticket options list the queues), or choose a queue for the ticket.".into()
}
pub fn no_default(kind: &str) -> String {
    format!("Autotask marks no {kind} as the default and none was chosen; choose one of the ticket options of that kind.")
}
pub fn external_id_refused(status: u16, endpoint: &str, detail: &str) -> String {
    format!(
        "Autotask does not let this database find tickets by externalID, where the connector keeps the deduplication key (HTTP {status} at {endpoint}: {}). Set \"Ticket key field\" to title in the connection settings: the key then goes at the end of the ticket title.",
        quoted(detail)
    )
}

// Connection-test steps.
pub fn step_form_ok() -> String {
    "The connection form is complete.".into()
}
pub fn step_zone_ok(zone: &str) -> String {
    format!("The API user's database is served by {zone}.")
}
pub fn step_credentials_ok() -> String {
    "Autotask accepted the user name, secret and integration code.".into()
}
pub fn step_companies_ok(n: usize) -> String {
    format!("Companies are readable (the first page lists {n}).")
}
pub fn step_udf_off() -> String {
    "No tenant id field is named, so companies are imported without Microsoft 365 tenant links.".into()
}
pub fn step_udf_ok(udf: &str) -> String {
    format!("The company user-defined field {} exists.", quoted(udf))
}
pub fn step_udf_missing(udf: &str, known: &[String]) -> String {
    let known = if known.is_empty() {
        "Autotask lists no company user-defined fields".to_string()
    } else {
        format!("the company fields are: {}", known.iter().take(15).map(|k| quoted(k)).collect::<Vec<_>>().join(", "))
    };
    format!(
        "Autotask has no company user-defined field named {} ({known}). Create it under Admin > Features & Settings > User-Defined Fields > Company, or enter the exact label of the field that holds the tenant ids.",
        quoted(udf)
    )
}
pub fn step_tickets_ok(title: bool, queue: &str, queue_name: &str) -> String {
    let key = if title {
        "Tickets are readable; a finding's key is kept as a [key] tag at the end of the ticket title"
    } else {
        "Tickets are readable, and can be found by External ID, where a finding's key is kept"
    };
    format!("{key}. New tickets go to the queue {queue} ({}).", clip(queue_name, 60))
}
fn queue_list(queues: &[crate::tickets::Opt]) -> String {
    if queues.is_empty() {
        return "Autotask lists no active queues".to_string();
    }
    let known: Vec<String> = queues.iter().take(15).map(|o| format!("{} ({})", o.id, clip(&o.name, 40))).collect();
    format!("the active queues are: {}", known.join(", "))
}
pub fn step_queue_unknown(queue: &str, queues: &[crate::tickets::Opt]) -> String {
    format!(
        "The default ticket queue (field ticket_queue_id) is {}, which is not an active queue in this Autotask database ({}). Enter one of those ids in Default ticket queue, or leave it empty to use the queue Autotask marks as default.",
        quoted(queue),
        queue_list(queues)
    )
}
pub fn step_queue_missing(queues: &[crate::tickets::Opt]) -> String {
    format!(
        "Autotask needs a queue for every new ticket, the connection settings name none and Autotask marks no queue as default ({}). Enter a queue's id in Default ticket queue (field ticket_queue_id).",
        queue_list(queues)
    )
}
pub const SKIPPED: &str = "Skipped because an earlier step failed.";
