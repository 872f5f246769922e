//! An Autotask PSA REST API (v1.0) simulator, faithful to what is known of the real API from
//! public sources, as collected with confidence marks in the project's research notes
//! (`connectwise-autotask.md`, section B; sources A1–A7 there). Where the notes say \[unsure\],
//! an option of [`SimOptions`] gives each plausible answer.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sim = autotask_sim::AutotaskSim::start(autotask_sim::SimOptions::default()).await?;
//! println!("{} {:?}", sim.lookup_url(), sim.zone_url(0));
//! # Ok(()) }
//! ```
//!
//! # What is simulated, and on what authority
//!
//! | Behaviour | Notes | Confidence | Option |
//! |---|---|---|---|
//! | Zone lookup on its own host, `GET /ATServicesRest/V1.0/zoneInformation?user=`, no auth, answers `{zoneName, url, webUrl, ci}` with `url` ending in `/ATServicesRest/` | B1 | confirmed (A1, A2, A4) | – |
//! | Paths case-insensitive (`atservicesrest`, `ATServicesRest`) | B1 | \[unsure\] (one test contract says case-sensitive) | [`SimOptions::case_sensitive_path`] |
//! | Unknown or blank user at the lookup: 500 with `errors` | B1 | confirmed (A2) | [`UnknownUser`] (404 \[unsure\]) |
//! | Zones on other hosts; a moved database: the lookup names the new zone, the old one answers 401 | B1 | confirmed (A2 re-fetches on 401) | [`AutotaskSim::move_database`], [`Faults::move_after_pages`] (mid-import), [`SimOptions::zones`] |
//! | Zones over HTTPS under `*.autotask.net` names (`webservices5`, `webservices15`), a private test CA | B1 (zone hosts) | confirmed | [`SimOptions::zone_tls`], [`ZoneTls`], [`AutotaskSim::zone_addr`] |
//! | A lookup answering a zone outside `autotask.net` or over http (hostile) | – | simulator's choice | [`SimOptions::lookup_answers_url`] |
//! | Auth headers `UserName`, `Secret`, `ApiIntegrationCode`; wrong user or secret: 401 | B2 | confirmed (A1–A4); the 401 body is \[unsure\] (sent as `{}`) | – |
//! | Missing or wrong integration code | B2 | \[unsure\] | [`BadIntegrationCode`] (500 with errors, or 401) |
//! | `POST Companies/query` and `GET Companies/query?search=` with `MaxRecords`, `IncludeFields`, `filter` | B3 | confirmed (A1, A3) | – |
//! | Filter ops `and or eq noteq gt gte lt lte beginsWith endsWith contains exist notExist in notIn`, one UDF per query, case-insensitive field names, number/string and bool/string values alike | B3, B4 | confirmed (A1, A3, A5, A7); value coercion likely | – |
//! | An unknown field: 500 with errors | B3/B6 (errors as 500) | likely | – |
//! | A query without any condition: 500 with errors | – | \[unsure\] | [`SimOptions::require_filter`] |
//! | `MaxRecords` 1–500, the 500-row cap | B3 | confirmed (A3, A2) | [`SimOptions::page_cap`] (e.g. 100), [`OverCap`] \[unsure\] |
//! | `pageDetails {count, requestCount, prevPageUrl, nextPageUrl}`, absolute next-page URL on the same zone | B3 | confirmed (A1, A2, A3) | [`CountRule`] \[unsure\], [`LastPage`] \[unsure\], [`SimOptions::next_page_host`] (hostile) |
//! | The next-page URL's form: `…/V1.0/Companies/query/next?paging=<opaque>` (GET) | – | simulator's choice: the real URL encodes paging state too; a connector must treat it as opaque | – |
//! | Companies: camelCase `id, companyName, companyNumber, companyType, isActive, parentCompanyID, webAddress, lastActivityDate, userDefinedFields[{name,value}]` | B3 | confirmed (A7) | – |
//! | Empty UDFs left out, `userDefinedFields` left out when none has a value | B4 | confirmed (A6) | [`EmptyUdfs`] (null or "" \[unsure\]) |
//! | `Companies/entityInformation/fields` (companyType picklist) and `…/userDefinedFields` | B3 | paths confirmed (A1, A2); the bodies' exact shape likely | [`SimOptions::udf_definitions`] |
//! | Company types 1 Customer (likely); 2 Lead, 3 Prospect, 4 Dead, 6 Cancellation, 7 Vendor, 8 Partner | B3 | \[unsure\] | [`COMPANY_TYPES`] |
//! | `Companies/query/count` → `{queryCount}`, `Companies/{id}` → `{item}` | B3 | paths confirmed (A1); `queryCount` likely | – |
//! | `ThresholdInformation` → `{externalRequestThreshold, requestThresholdTimeframe, currentTimeframeRequestCount}` | B6 | confirmed (A1, A3); timeframe in minutes \[unsure\] | – |
//! | 10,000 requests per rolling hour per database; over it: blocked | B6 | confirmed (A6); the answer's status \[likely 429\] | [`SimOptions::budget`], [`LimitAnswer`], [`Faults::threshold_next`] |
//! | 3 concurrent requests per endpoint; the 4th refused mentioning "Itgenatr005"/"thread threshold", maybe not 429; zone lookups exempt | B6 | confirmed (A6, A3) | [`SimOptions::thread_limit`], [`LimitAnswer`] |
//! | Permission problems: 500 `"The logged in Resource does not have the adequate permissions"` | B6 | confirmed (A2) | [`Faults::permission_denied`] |
//! | Errors as `{"errors":[...]}` | B6 | confirmed (A1, A2) | – |
//! | Companies' `lastActivityDate` and `lastTrackedModifiedDateTime`, both filterable (changed-since queries) | B3 | fields confirmed (A1, A7); queryability \[likely\] | [`SimOptions::change_fields`], [`AutotaskSim::touch_companies`] |
//! | Tickets, ticket notes, their picklists, required fields, permissions: see [`tickets`] | B5, B6 | see there | [`SimOptions::ticket_picklists`], [`SimOptions::ticket_required`], [`SimOptions::external_id_queryable`], [`Faults::tickets_read_denied`] |
//! | A ticket query that ignores its `companyID` condition (hostile: a connector must re-check each row's company) | – | simulator's choice | [`SimOptions::ticket_query_ignores_company`] |
//!
//! Where a connector keeps a ticket's deduplication key: `externalID`, a string field of the
//! Ticket entity made for another system's id [confirmed A1], matched exactly with `eq`; whether
//! Autotask lets a query filter on it is \[unsure\], so [`SimOptions::external_id_queryable`]
//! answers both ways (a connector then needs another place, such as a tag in the title, which
//! `contains` on `title` finds: the pattern real code uses, B5).
//!
//! Not simulated: ticket UDFs, ticket updates (PATCH), impersonation (the header is only logged), latency added at
//! ≥ 50 % of the budget, HTTPS on the lookup listener, PascalCase output.
//!
//! The request log ([`LoggedRequest`]) records method, path, query, status, which auth headers
//! were present (never their values) and `Content-Length`, so tests can count requests.
//!
//! Modules: [`options`] (configuration, faults, log entries), [`data`] (companies and the
//! generator), `filter` (query bodies and filter evaluation), `state` (shared state, budget,
//! thread slots), `api` (the listeners' routes), [`tls`] (HTTPS zones), `sim` ([`AutotaskSim`]).

mod api;
pub mod data;
mod filter;
pub mod options;
mod sim;
mod state;
pub mod tickets;
pub mod tls;

pub use api::PERMISSION_TEXT;
pub use data::{normalize_guid, sample_companies, SimCompany, COMPANY_TYPES, OTHER_UDF, TENANT_UDF};
pub use options::{
    BadIntegrationCode, Budget, ChangeFields, CountRule, EmptyUdfs, Faults, LastPage, LimitAnswer, Listener, LoggedRequest,
    MoveAfter, OverCap, SimOptions, Touch, UnknownUser,
};
pub use tickets::{Pick, SimNote, SimTicket, TicketPicklists};
pub use tls::{SimTls, ZoneTls, ZONE_NAMES};
pub use sim::AutotaskSim;
