//! Configuration of a simulated Autotask database ([`SimOptions`] and the enums that choose
//! between the plausible answers where the notes say \[unsure\]), the faults that can be switched
//! on while it runs ([`Faults`]), and the request log entries ([`LoggedRequest`]).

use crate::data::{sample_companies, SimCompany, TENANT_UDF};
use std::time::Duration;

/// How a simulated Autotask database is set up. Build with `SimOptions { x, ..Default::default() }`.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// The API user's name (`UserName` header, `?user=` of the zone lookup).
    pub username: String,
    /// The API user's secret (`Secret` header).
    pub secret: String,
    /// The API tracking identifier (`ApiIntegrationCode` header).
    pub integration_code: String,
    /// Only the exact spelling `ATServicesRest` is served (other spellings: 404), as one test
    /// contract claims (notes B1, \[unsure\]). Default `false`: any case.
    pub case_sensitive_path: bool,
    /// How many zone listeners to start (at least 1; default 2, so the database can move).
    pub zones: usize,
    /// The zone (0-based) that holds the database at start.
    pub database_zone: usize,
    /// Serve the zones on the lookup listener, under `/zone<N>/` (zone base
    /// `http://127.0.0.1:PL/zone<N>`), instead of on listeners of their own.
    /// For tests through the host's sandbox, which admits only the form's
    /// origin (the lookup URL) on loopback. Default `false`.
    pub zones_on_lookup_listener: bool,
    /// Serve the zones over HTTPS under Autotask-like host names (`webservices5.autotask.net`
    /// ...), each on a listener of its own with a private test CA's certificate
    /// ([`crate::ZoneTls::autotask`]); the zone count is then the number of names, and
    /// [`SimOptions::zones`] and [`SimOptions::zones_on_lookup_listener`] are ignored. The
    /// lookup listener stays plain http on loopback. Default `None`.
    pub zone_tls: Option<crate::ZoneTls>,
    /// `Some(url)`: the zone lookup answers this `url` instead of the database's zone (a
    /// hostile or broken lookup: a host outside `autotask.net`, plain http). Default `None`.
    pub lookup_answers_url: Option<String>,
    /// How the zone lookup answers an unknown or blank user name.
    pub unknown_user: UnknownUser,
    /// How a missing or wrong `ApiIntegrationCode` is answered (a wrong user name or secret is
    /// always 401).
    pub bad_integration_code: BadIntegrationCode,
    /// Most rows one page holds: `MaxRecords` above it is clamped (or refused, see
    /// [`SimOptions::over_cap`]); a missing `MaxRecords` asks for this many. Default 500.
    pub page_cap: usize,
    /// What `MaxRecords` above [`SimOptions::page_cap`] (or below 1) does.
    pub over_cap: OverCap,
    /// What `pageDetails.count` counts.
    pub count_rule: CountRule,
    /// How the last page says there is no next page.
    pub last_page: LastPage,
    /// `Some("http://other.example:8080")`: every `nextPageUrl` names this scheme and host
    /// instead of the zone's own (a hostile or misconfigured server). `None` (default): the zone.
    pub next_page_host: Option<String>,
    /// How empty UDF values are served.
    pub empty_udfs: EmptyUdfs,
    /// A query without any filter condition is refused (500 with errors). Default `true`.
    pub require_filter: bool,
    /// The rolling request budget per database over every zone request (ZoneInformation calls
    /// are not counted). Default: 10,000 per hour. `None`: unlimited.
    pub budget: Option<Budget>,
    /// How a request over the budget is answered.
    pub budget_answer: LimitAnswer,
    /// Most concurrent requests per endpoint (entity); the next concurrent one is refused.
    /// Default `Some(3)`. `None`: no limit.
    pub thread_limit: Option<usize>,
    /// How a request over the thread limit is answered.
    pub thread_answer: LimitAnswer,
    /// The companies the database holds.
    pub companies: Vec<SimCompany>,
    /// The company UDF definitions `GET Companies/entityInformation/userDefinedFields` lists.
    pub udf_definitions: Vec<String>,
    /// Which of the companies' change dates a filter may name (notes B3: both fields exist
    /// [confirmed A1], A7 filters on `lastActivityDate`; queryability \[likely\]).
    pub change_fields: ChangeFields,
    /// The ticket picklists `GET Tickets/entityInformation/fields` and
    /// `GET TicketNotes/entityInformation/fields` serve.
    pub ticket_picklists: crate::tickets::TicketPicklists,
    /// Fields `POST Tickets` requires (notes B5: `companyID, title, status, priority` plus
    /// `queueID` \[likely\]); a missing one is answered 500 with errors.
    pub ticket_required: Vec<String>,
    /// Whether `Tickets/query` may filter on `externalID` (notes B5: the field exists
    /// [confirmed A1]; its queryability \[unsure\]). Default `true`; `false` answers such a
    /// filter 500 "Unable to find externalID in the Ticket entity."
    pub external_id_queryable: bool,
    /// `Tickets/query` ignores conditions on `companyID` (a server whose filter is coarser
    /// than asked, hostile to a connector that trusts it): every company's tickets that match
    /// the other conditions are served. Not in the notes; the simulator's. Default `false`.
    pub ticket_query_ignores_company: bool,
    /// Most characters a ticket's `description` may hold (\[unsure\]: not in the notes;
    /// 8,000 is the simulator's choice); more is answered 500 with errors.
    pub ticket_description_max: usize,
    /// Most characters a note's `description` may hold (32,000).
    pub note_description_max: usize,
}

/// Which company change dates are queryable ([`SimOptions::change_fields`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeFields {
    /// `lastActivityDate` and `lastTrackedModifiedDateTime` (the default).
    Both,
    /// Only `lastActivityDate` (the one A7 filters on).
    LastActivityDateOnly,
    /// Only `lastTrackedModifiedDateTime`.
    LastTrackedModifiedOnly,
}

/// Which company dates [`crate::AutotaskSim::touch_companies`] moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Touch {
    /// Both dates.
    Both,
    /// Only `lastActivityDate` (an activity, the record unchanged).
    Activity,
    /// Only `lastTrackedModifiedDateTime` (the record changed, say a UDF, without an activity).
    Modified,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            username: "psa-sim-api@example.com".to_string(),
            secret: "sim-secret-0123456789abcdef".to_string(),
            integration_code: "SIMINTEGRATIONCODE0123".to_string(),
            case_sensitive_path: false,
            zones: 2,
            database_zone: 0,
            zones_on_lookup_listener: false,
            zone_tls: None,
            lookup_answers_url: None,
            unknown_user: UnknownUser::ServerError,
            bad_integration_code: BadIntegrationCode::ServerError,
            page_cap: 500,
            over_cap: OverCap::Clamp,
            count_rule: CountRule::ItemsOnPage,
            last_page: LastPage::Null,
            next_page_host: None,
            empty_udfs: EmptyUdfs::Omitted,
            require_filter: true,
            budget: Some(Budget::autotask()),
            budget_answer: LimitAnswer::TooManyRequests,
            thread_limit: Some(3),
            thread_answer: LimitAnswer::ServerError,
            companies: sample_companies(1200, 7),
            udf_definitions: vec![TENANT_UDF.to_string(), crate::data::OTHER_UDF.to_string()],
            change_fields: ChangeFields::Both,
            ticket_picklists: crate::tickets::TicketPicklists::default(),
            ticket_required: ["companyID", "title", "status", "priority", "queueID"].map(String::from).to_vec(),
            external_id_queryable: true,
            ticket_query_ignores_company: false,
            ticket_description_max: 8000,
            note_description_max: 32000,
        }
    }
}

/// A rolling request budget: at most `max_requests` within any `window`. A refused request does
/// not count.
#[derive(Clone, Debug)]
pub struct Budget {
    pub max_requests: u32,
    pub window: Duration,
}

impl Budget {
    /// Autotask's: 10,000 requests per rolling hour per database (notes B6, [confirmed A6]).
    pub fn autotask() -> Budget {
        Budget { max_requests: 10_000, window: Duration::from_secs(3600) }
    }
}

/// The zone lookup's answer to an unknown or blank user name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownUser {
    /// HTTP 500 with `{"errors":[...]}` (notes B1 [confirmed A2], the default).
    ServerError,
    /// HTTP 404 with `{"errors":[...]}` (\[unsure\]).
    NotFound,
}

/// The answer to a missing or wrong `ApiIntegrationCode` (\[unsure\]: the notes do not say).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadIntegrationCode {
    /// HTTP 500 with `{"errors":["... IntegrationCode ..."]}` (the default; errors usually arrive as 500).
    ServerError,
    /// HTTP 401, as for wrong credentials.
    Unauthorized,
}

/// What `MaxRecords` outside `1..=page_cap` does (\[unsure\]; the range 1–500 is confirmed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverCap {
    /// Served at the cap (below 1: at the cap too). The default.
    Clamp,
    /// HTTP 500 with errors.
    Reject,
}

/// What `pageDetails.count` counts (\[unsure\]: fixtures show only full pages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountRule {
    /// The items on this page (the default).
    ItemsOnPage,
    /// Every row the query matches, on every page.
    TotalMatching,
}

/// How the last page signals its end (\[unsure\]: clients test for null and for absence).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LastPage {
    /// `"nextPageUrl": null` (the default, as in A2's fixtures).
    Null,
    /// No `nextPageUrl` key.
    Omitted,
    /// `"nextPageUrl": ""`.
    Empty,
}

/// How a UDF without a value is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmptyUdfs {
    /// Left out; `userDefinedFields` itself is left out when no UDF has a value (notes B4,
    /// [confirmed A6]; the default).
    Omitted,
    /// `{"name": "...", "value": null}` (\[unsure\]).
    Null,
    /// `{"name": "...", "value": ""}` (\[unsure\]).
    EmptyString,
}

/// How a budget or thread-limit refusal is answered (notes B6: thread-limit answers "may not be
/// HTTP 429"; 429 for the hourly limit is \[likely\]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitAnswer {
    /// HTTP 429 with `{"errors":[...]}`, and `Retry-After` when [`Faults::retry_after`] is set.
    TooManyRequests,
    /// HTTP 500 with `{"errors":[...]}`.
    ServerError,
}

/// Faults switched on while the simulator runs ([`crate::AutotaskSim::set_faults`]).
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Every zone request that passes auth answers 500 `"The logged in Resource does not have
    /// the adequate permissions ..."` (notes B6, [confirmed A2]).
    pub permission_denied: bool,
    /// The next N zone requests answer as if the hourly budget were exhausted.
    pub threshold_next: u32,
    /// `Retry-After` seconds on 429 answers (none by default).
    pub retry_after: Option<u32>,
    /// Every zone request is held this long while it occupies its thread slot (zone lookups too,
    /// without a slot).
    pub latency_ms: u64,
    /// Move the database once, after this many company pages (`Companies/query` and its next
    /// pages) were served: from then on its old zone answers 401 and the lookup names the new
    /// one (notes B1: a customer moved; A2 looks the zone up again on a 401).
    pub move_after_pages: Option<MoveAfter>,
    /// Ticket reads (`Tickets/query`, `Tickets/{id}`, the entity information) answer 500
    /// "does not have the adequate permissions" (notes B6).
    pub tickets_read_denied: bool,
    /// Ticket and note writes (`POST Tickets`, `POST Tickets/{id}/Notes`) answer so too.
    pub tickets_write_denied: bool,
}

/// A database move after some company pages ([`Faults::move_after_pages`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MoveAfter {
    /// Company pages served (on the current zone) before the move.
    pub pages: u32,
    /// The zone (0-based) the database moves to.
    pub to: usize,
}

/// Which listener a request reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listener {
    /// The zone lookup host (`webservices.autotask.net` in real life).
    Lookup,
    /// Zone listener `n` (0-based).
    Zone(usize),
}

/// One request as the simulator saw and answered it. Secret header values are never kept.
#[derive(Clone, Debug)]
pub struct LoggedRequest {
    pub listener: Listener,
    pub method: String,
    /// The path as sent.
    pub path: String,
    /// The raw query string without `?` (empty when none).
    pub query: String,
    pub status: u16,
    /// Why it was refused, when a rule or fault answered: `"unauthorized"`, `"integration-code"`,
    /// `"moved"`, `"threshold"`, `"thread-limit"`, `"permission"`; `None` otherwise.
    pub fault: Option<String>,
    /// Which of `UserName`, `Secret`, `ApiIntegrationCode`, `ImpersonationResourceId` were
    /// present (names only, in that spelling).
    pub auth_headers: Vec<String>,
    /// The request's `Content-Length` header, as sent.
    pub content_length: Option<String>,
}
