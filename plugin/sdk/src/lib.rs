//! # psa-connector-sdk: write an Optimize365 PSA connector
//!
//! A PSA connector is a WebAssembly component (`wasm32-wasip2`) that
//! implements the contract in `wit/0.2.0/psa-connector.wit`: it describes
//! its connection form and its PSA's request budget, diagnoses a
//! connection, pages through a PSA's customers (all of them, or those
//! changed since a time) and, optionally, opens tickets once per
//! deduplication key, adds notes to them and lists the PSA's ticket options.
//! The platform runs it in a sandbox that lets it reach only the hosts of its
//! form's URL fields.
//!
//! This crate is the only one a connector depends on (besides `serde` and
//! the like, if it wants them). It holds:
//!
//! - the contract's data types ([`ConnectorInfo`], [`Customer`],
//!   [`CustomerPage`], ...), re-exported from bindings it generates itself;
//! - the [`Connector`] and [`Session`] traits (every call beyond
//!   `list-customers` has a default body that answers
//!   [`Error::not_supported`]), and [`export_connector!`],
//!   which exports a type implementing them as the component's `connector`
//!   interface: a connector never writes `wit_bindgen::generate!` or
//!   `#[cfg]` export glue;
//! - [`Error`], the connector's error, with constructors; it becomes the
//!   contract's `connector-error`;
//! - [`http`]: one `wasi:http` client (GET, POST, PUT and PATCH, JSON
//!   bodies, `Content-Length`, timeouts, a body cap, typed failures with host
//!   and phase) behind a [`Transport`](http::Transport) trait, so connector
//!   code runs natively in tests with scripted answers
//!   ([`http::Scripted`]);
//! - [`form`]: the connection form (field definitions, values, required
//!   fields, flags, choices and numbers, absent told from cleared, URL and
//!   GUID normalisation);
//! - [`cursor`]: page-number and next-link paging, and a `fetched` count
//!   that survives retries;
//! - [`tenants`]: a Microsoft 365 tenant linked to several customers,
//!   resolved the same way in every connector.
//!
//! Failures come back typed (an [`http::HttpError`], a [`form::FormProblem`],
//! a [`cursor::CursorError`]): the connector words every message a support
//! engineer reads, naming its own PSA, fields and menus.
//!
//! ## A complete connector
//!
//! A connector for a fictional PSA whose API answers
//! `GET {base_url}/customers?page=N` (with `Authorization: Bearer <key>`) with
//! `{"customers": [{"id": 1, "name": "Acme", "tenant_id": "<guid>"}], "next_page": 2}`.
//! `Cargo.toml`: `crate-type = ["cdylib", "rlib"]`, a dependency on this
//! crate and on `serde_json`; build it with
//! `cargo build --target wasm32-wasip2 --release`.
//!
//! ```
//! use psa_connector_sdk::{
//!     cursor, export_connector, form, http, Capability, CheckStep, ConfigEntry, Connector, ConnectorInfo,
//!     Customer, CustomerPage, Error, FieldKind, RequestBudget, StepStatus, TenantLink,
//! };
//! use psa_connector_sdk::form::{FieldSpec, Form, FormProblem, UrlProblem};
//! use psa_connector_sdk::http::{ErrorKind, HttpError, Request, Transport, WasiHttp};
//!
//! const FIELDS: [FieldSpec; 2] = [
//!     FieldSpec::new("base_url", "Example PSA URL", "Your Example PSA address, e.g. https://psa.example.com", FieldKind::Url).required(),
//!     FieldSpec::new("api_key", "API key", "Settings > API in Example PSA.", FieldKind::Secret).required(),
//! ];
//!
//! struct Example;
//!
//! impl Connector for Example {
//!     type Session = ExampleSession;
//!
//!     fn info() -> ConnectorInfo {
//!         ConnectorInfo {
//!             id: "example-psa".into(),
//!             display_name: "Example PSA".into(),
//!             version: "0.1.0".into(),
//!             contract_version: psa_connector_sdk::CONTRACT_VERSION.into(),
//!             capabilities: vec![Capability::TestConnection, Capability::ListCustomers, Capability::M365TenantLinks],
//!             fields: form::fields(&FIELDS),
//!             allowed_hosts: Vec::new(),
//!             // Example PSA allows 600 requests a minute, 4 at a time.
//!             budget: Some(RequestBudget { requests: 600, window_seconds: 60, concurrency: Some(4) }),
//!             // No `TicketOptions` capability, so no kinds.
//!             ticket_option_kinds: Vec::new(),
//!         }
//!     }
//!     // `test_connection` has a default: the form, then the first page.
//! }
//!
//! struct ExampleSession {
//!     base_url: String,
//!     api_key: String,
//!     progress: cursor::Progress,
//! }
//!
//! impl psa_connector_sdk::Session for ExampleSession {
//!     fn open(config: Vec<ConfigEntry>) -> Result<Self, Error> {
//!         let form = Form::from_config(config);
//!         form.check(&FIELDS).map_err(|p| match p {
//!             FormProblem::Missing { field, label } => Error::config(field, format!("{label} is empty; fill it in.")),
//!             FormProblem::Unknown { field } => Error::config(&field, format!("`{field}` is not a field of this connector.")),
//!             FormProblem::NotAFlag { field, .. } => Error::config(&field, "Use true or false."),
//!             FormProblem::NotAChoice { field, label, choices, .. } => {
//!                 Error::config(field, format!("{label} must be one of {}.", choices.join(", ")))
//!             }
//!             FormProblem::NotANumber { field, label, .. } => Error::config(field, format!("{label} must be a whole number.")),
//!             FormProblem::OutOfRange { field, label, min, max, .. } => {
//!                 Error::config(field, format!("{label} must be from {min} to {max}."))
//!             }
//!         })?;
//!         let base_url = form::normalise_url(form.value("base_url").unwrap_or_default()).map_err(|p| {
//!             let why = match p {
//!                 UrlProblem::Scheme(s) => format!("it starts with {s}:// where https:// belongs"),
//!                 _ => "it is not a web address".to_string(),
//!             };
//!             Error::config("base_url", format!("The Example PSA URL is not usable: {why}. Enter e.g. https://psa.example.com."))
//!         })?;
//!         let api_key = form.value("api_key").unwrap_or_default().to_string();
//!         Ok(ExampleSession { base_url: base_url.url, api_key, progress: cursor::Progress::default() })
//!     }
//!
//!     fn list_customers(&mut self, cursor: Option<String>) -> Result<CustomerPage, Error> {
//!         let page = cursor::page_number(cursor.as_deref())
//!             .map_err(|_| Error::internal("The cursor was not issued by this connector; start the import again."))?;
//!         let url = http::url(&self.base_url, "/customers", &[("page", &page.to_string())]);
//!         let request = Request::get(url).bearer(&self.api_key).header("Accept", "application/json");
//!         let response = WasiHttp::new().send(&request).map_err(network_error)?;
//!         if !response.is_success() {
//!             return Err(Error::upstream(response.status, &request.endpoint, "Example PSA refused the request."));
//!         }
//!         let answer: serde_json::Value = serde_json::from_slice(&response.body)
//!             .map_err(|_| Error::protocol(&request.endpoint, "The answer is not JSON; check the Example PSA URL."))?;
//!         let mut customers = Vec::new();
//!         for c in answer["customers"].as_array().into_iter().flatten() {
//!             let tenant = c["tenant_id"].as_str().and_then(form::normalise_guid);
//!             customers.push(Customer {
//!                 id: c["id"].to_string(),
//!                 name: c["name"].as_str().unwrap_or_default().to_string(),
//!                 active: true,
//!                 parent_id: None,
//!                 parent_name: None,
//!                 website: None,
//!                 domains: Vec::new(),
//!                 m365_tenants: tenant.map(|tenant_id| TenantLink { tenant_id, name: None, domain: None }).into_iter().collect(),
//!             });
//!         }
//!         let next = answer["next_page"].as_u64().and_then(|n| u32::try_from(n).ok());
//!         let next_cursor = cursor::next_page(page, next)
//!             .map_err(|_| Error::protocol(&request.endpoint, "Example PSA named a next page that is not after this one."))?;
//!         let fetched = self.progress.page(cursor.as_deref(), customers.len(), next_cursor.as_deref());
//!         Ok(CustomerPage { customers, warnings: Vec::new(), next_cursor, fetched, total: None })
//!     }
//!     // `list_customers_changed`, `create_ticket`, `find_open_ticket`,
//!     // `add_note` and `ticket_options` have defaults that answer
//!     // `not-supported` (no such capability declared).
//! }
//!
//! /// The connector's own words for a network failure.
//! fn network_error(e: HttpError) -> Error {
//!     let message = match (&e.kind, e.phase) {
//!         (ErrorKind::Dns, _) => format!("The name {} could not be resolved; check the Example PSA URL.", e.host),
//!         (ErrorKind::Timeout, http::Phase::Body) => format!("{} stopped sending its answer; try again.", e.host),
//!         (ErrorKind::TooLarge, _) => return Error::protocol(&e.endpoint, "The answer is larger than the connector accepts."),
//!         _ => format!("Could not reach {}; check the Example PSA URL and that it is up.", e.host),
//!     };
//!     Error::unreachable(&e.host, e.kind.network_stage(), message)
//! }
//!
//! export_connector!(Example);
//! # fn main() {
//! #     let info = Example::info();
//! #     assert_eq!(info.fields.len(), 2);
//! #     assert_eq!(info.contract_version, "0.2.0");
//! #     assert_eq!(info.budget.map(|b| b.requests), Some(600));
//! #     let steps = Example::test_connection(Vec::new());
//! #     assert_eq!((steps[0].status, steps[1].status), (StepStatus::Failed, StepStatus::Skipped));
//! #     assert_eq!(steps[0].message, "Example PSA URL is empty; fill it in.");
//! # }
//! ```
//!
//! ## Testing natively
//!
//! `cargo test` builds the connector for the machine it runs on; the
//! exports are left out there, and the `wasi:http` functions cannot be
//! called. Write the connector's logic against
//! [`&mut dyn Transport`](http::Transport) and test it with a transport
//! that returns scripted [`http::Response`]s: [`http::Scripted`] answers in
//! order and records every request.
//!
//! ## Start, build, test, record
//!
//! The author's guide is the README of the connector template (`template/`
//! in the Optimize365 repository, and of every project `psa-host new`
//! writes), whose commands the repository's CI runs as written. In short:
//! `cargo install` the `psa-host` CLI (`host/cli`); `psa-host new acme-psa`
//! writes a complete connector with its fixtures; `cargo build --target
//! wasm32-wasip2 --release` builds the component; `psa-host test --plugin
//! <the .wasm> --fixtures fixtures` checks it; `psa-host import --record DIR`
//! records fixtures from a real instance, secrets and tokens scrubbed.
//!
//! `psa-host test` loads the component into the real sandbox, replays the
//! fixtures (recorded HTTP exchanges, TOML) from loopback and checks the
//! contract: the self-description, configuration errors naming their field,
//! paging that ends and neither repeats nor loses a customer, a cumulative
//! `fetched`, lower-case GUID tenant ids, the allow-list, typed errors for
//! 401, 403, 429 and 500, the same cursor answered the same way twice, no
//! secret in any message or printed line, and every answer broken in turn
//! (truncated, HTML, wrong types, huge values, slow) ending in a typed error.
//!
//! ## The contract's promises, and where the SDK keeps them
//!
//! | promise | why | helper |
//! |---|---|---|
//! | `open` checks the form without network I/O, and fails only with `invalid-config` naming the field | the platform shows the error on the field | [`form::Form::check`], [`Error::config`] |
//! | every customer exactly once per import; the same cursor re-reads the same page | the platform reconciles its list with the import, and retries a page with its cursor | [`cursor::page_number`], [`cursor::next_page`], [`cursor::next_link`] |
//! | `fetched` counts the customers so far, this page included | it drives the progress a person watches; a retried page must not count twice | [`cursor::Progress`] |
//! | tenant ids are lower-case GUIDs; others are dropped with a warning | they key the Microsoft 365 scan | [`form::normalise_guid`], [`tenants`] |
//! | errors typed by cause | the platform retries `rate-limited` and `unreachable`, asks for credentials on `unauthorized` | [`Error`]'s constructors, [`http::HttpError`] |
//! | no secret in any message, step, warning or printed line | people read them, in logs and tickets | yours to keep: never format a [`form::Form`] secret into text |
//! | never panic on any answer | a panic is a trap: the session is closed as crashed | [`values`] (strict ids, clamped times), no `unwrap` on network data |
//!
//! ## Mapping a PSA's errors
//!
//! HTTP 401 is [`Error::unauthorized`], 403 [`Error::forbidden`] (with the
//! PSA's name of the missing permission), 429 [`Error::rate_limited`] with
//! [`http::Response::retry_after`], any other error status
//! [`Error::upstream`] (status, endpoint path, the PSA's message with any
//! secret removed), an answer that is not what the PSA sends
//! [`Error::protocol`], a network failure [`Error::unreachable`] with
//! [`http::ErrorKind::network_stage`]. Map a PSA's own conventions by
//! meaning: a throttling or permission answer sent as HTTP 500 with an
//! `errors` array ([`http::error_messages`]) is `rate-limited` or `forbidden`.
//!
//! ## Fields, capabilities, budget
//!
//! The form is a list of [`form::FieldSpec`]s ([`form::fields`] turns them
//! into [`ConfigField`]s): `url` fields decide what the sandbox lets the
//! session reach, `secret` fields are stored encrypted and scrubbed from the
//! host's logs, `choice` and `number` fields carry their options or range.
//! [`Capability`] values are promises: list one only when its calls work;
//! the [`Session`] defaults answer `not-supported` for the rest.
//! [`RequestBudget`] declares the PSA's rate limit and concurrency; the host
//! paces every session of an instance to it (clamped; it can only slow the
//! connector down).
//!
//! ## Versions
//!
//! This SDK builds against one contract version, [`CONTRACT_VERSION`]
//! (the folder `wit/0.2.0`). Released contract folders never change; a
//! change is a new version in a new folder. A host runs every version it
//! lists (`psa_host::SUPPORTED_CONTRACTS`: now 0.2.0 and 0.1.0) and answers
//! the calls an older version lacks with "capability not offered" without
//! calling the connector; a component built against a version the host does
//! not know is refused at load with both versions named. Pin the SDK (a git
//! `rev`) to pin the contract you build against.

#![deny(missing_docs)]

pub mod cursor;
mod error;
pub mod form;
pub mod http;
pub mod tenants;
pub mod values;

pub use error::Error;

/// The contract version this SDK implements (the folder `wit/0.2.0`); put
/// it in [`ConnectorInfo::contract_version`].
pub const CONTRACT_VERSION: &str = "0.2.0";

/// Most options of one kind a connector should return from
/// `ticket-options`: the host's default limit (`Limits::max_ticket_options`
/// in `psa-host`), which refuses a longer list. A connector whose PSA lists
/// more (Autotask's picklists hold up to 2,000) answers an error that says
/// so rather than cut the list.
pub const MAX_TICKET_OPTIONS: usize = 1000;

/// The generated bindings: the contract's types, the `connector` interface
/// and `wasi:http`. Private: connectors use the re-exports below.
#[allow(missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/0.2.0",
        world: "psa-connector",
        generate_all,
        pub_export_macro: true,
        export_macro_name: "__export_psa_connector",
    });
}

// The contract's data types, hand-picked.
pub use bindings::optimize365::psa_connector::types::{
    Capability, CheckStep, ConfigEntry, ConfigError, ConfigField, ConnectorError, ConnectorInfo, Customer,
    CustomerPage, FieldChoice, FieldKind, ForbiddenError, NetworkStage, NewNote, NewTicket, NoteRef, NoteVisibility,
    NumberRange, OptionChoice, OptionKind, ProtocolError, RateLimitError, RequestBudget, StepStatus, TenantLink,
    TicketBody, TicketOption, TicketRef, UnreachableError, UpstreamError, Warning,
};

/// A connector: its self-description and its connection test. The
/// [`Session`] does the work on an open connection.
///
/// Export it with [`export_connector!`]. The functions take no `self`: a
/// component holds no state between calls outside its sessions.
pub trait Connector: 'static {
    /// One open connection.
    type Session: Session;

    /// The self-description. Pure: no network, the same answer on every call.
    fn info() -> ConnectorInfo;

    /// Diagnose a connection from a filled-in form, step by step: the form
    /// (`form-valid`), then each network step in order; a step after a
    /// failed one is `skipped`. Never fails as a whole.
    ///
    /// The default: `form-valid` by [`Session::open`], then
    /// `customers-readable` by reading the first page. Override it to name
    /// each step a person can fix (reachable, credentials, permissions).
    fn test_connection(config: Vec<ConfigEntry>) -> Vec<CheckStep> {
        let step = |id: &str, label: &str, status, message: String| CheckStep {
            id: id.into(),
            label: label.into(),
            status,
            message,
        };
        let (form_label, read_label) = ("Connection form filled in correctly", "Customers readable");
        let mut session = match Self::Session::open(config) {
            Ok(s) => s,
            Err(e) => {
                return vec![
                    step("form-valid", form_label, StepStatus::Failed, e.message().to_string()),
                    step("customers-readable", read_label, StepStatus::Skipped, "Skipped because an earlier step failed.".into()),
                ]
            }
        };
        let form = step("form-valid", form_label, StepStatus::Passed, "The connection form is complete.".into());
        let read = match session.list_customers(None) {
            Ok(page) => step(
                "customers-readable",
                read_label,
                StepStatus::Passed,
                format!("The first page lists {} customers.", page.customers.len()),
            ),
            Err(e) => step("customers-readable", read_label, StepStatus::Failed, e.message().to_string()),
        };
        vec![form, read]
    }
}

/// An open connection to one PSA instance (the contract's `session`
/// resource). The platform never overlaps calls on one session, so the
/// methods take `&mut self`.
pub trait Session: Sized + 'static {
    /// Check the form and open a session. No network I/O: the first call that
    /// needs the PSA authenticates. Fails only with [`Error::InvalidConfig`].
    fn open(config: Vec<ConfigEntry>) -> Result<Self, Error>;

    /// One page of customers: `None` starts an import, the returned
    /// `next_cursor` continues it until it is `None`. The same cursor reads
    /// the same page again (the host retries failed calls); see [`cursor`].
    fn list_customers(&mut self, cursor: Option<String>) -> Result<CustomerPage, Error>;

    /// Customers changed since `since_unix_seconds` (seconds since
    /// 1970-01-01T00:00:00Z), paged like [`Session::list_customers`]. May
    /// return customers that did not change, never miss one that did. The
    /// default answers [`Error::not_supported`]: declare
    /// [`Capability::CustomersChangedSince`] only when overriding it.
    fn list_customers_changed(&mut self, since_unix_seconds: u64, cursor: Option<String>) -> Result<CustomerPage, Error> {
        let _ = (since_unix_seconds, cursor);
        Err(Error::not_supported("list-customers-changed"))
    }

    /// Open a ticket (without looking for an existing one: the platform
    /// calls [`Session::find_open_ticket`] first). The default answers
    /// [`Error::not_supported`]: declare [`Capability::CreateTicket`] only
    /// when overriding it.
    fn create_ticket(&mut self, t: NewTicket) -> Result<TicketRef, Error> {
        let _ = t;
        Err(Error::not_supported("create-ticket"))
    }

    /// The open ticket a [`Session::create_ticket`] for this customer and
    /// deduplication key opened (the newest if several), `None` when it is
    /// closed or gone. The default answers [`Error::not_supported`]: declare
    /// [`Capability::TicketDedup`] only when overriding it (and
    /// [`Session::add_note`]).
    fn find_open_ticket(&mut self, customer_id: &str, dedup_key: &str) -> Result<Option<TicketRef>, Error> {
        let _ = (customer_id, dedup_key);
        Err(Error::not_supported("find-open-ticket"))
    }

    /// Add a note to ticket `ticket_id` ([`TicketRef::id`]). The default
    /// answers [`Error::not_supported`].
    fn add_note(&mut self, ticket_id: &str, note: NewNote) -> Result<NoteRef, Error> {
        let _ = (ticket_id, note);
        Err(Error::not_supported("add-note"))
    }

    /// The PSA's options of one kind (every kind in
    /// [`ConnectorInfo::ticket_option_kinds`]; any other kind is
    /// [`Error::not_supported`]). The default answers [`Error::not_supported`]:
    /// declare [`Capability::TicketOptions`] only when overriding it.
    fn ticket_options(&mut self, kind: OptionKind) -> Result<Vec<TicketOption>, Error> {
        let _ = kind;
        Err(Error::not_supported("ticket-options"))
    }
}

/// Exports a type implementing [`Connector`] as the component's
/// `connector` interface: the one line of glue a connector writes.
///
/// ```
/// # use psa_connector_sdk::{ConfigEntry, ConnectorInfo, CustomerPage, Error};
/// struct MyConnector;
/// # struct MySession;
/// impl psa_connector_sdk::Connector for MyConnector {
///     type Session = MySession;
///     // ...
/// #   fn info() -> ConnectorInfo { unimplemented!() }
/// }
/// # impl psa_connector_sdk::Session for MySession {
/// #   fn open(_: Vec<ConfigEntry>) -> Result<Self, Error> { Ok(MySession) }
/// #   fn list_customers(&mut self, _: Option<String>) -> Result<CustomerPage, Error> { unimplemented!() }
/// # }
/// psa_connector_sdk::export_connector!(MyConnector);
/// ```
///
/// Outside `wasm32` (native tests and tools) it expands to nothing: the
/// export names are not valid symbols in a native library.
#[macro_export]
macro_rules! export_connector {
    ($connector:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type __PsaConnectorSdkExport = $crate::__private::Component<$connector>;
            $crate::__private::export!(__PsaConnectorSdkExport with_types_in $crate::__private::bindings);
        };
        // Natively the connector is still type-checked as exported, and
        // counts as used (no dead-code warnings in native builds and tests).
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = $crate::__private::exportable::<$connector>();
    };
}

/// What [`export_connector!`] expands to needs; not an API.
#[doc(hidden)]
pub mod __private {
    use std::cell::RefCell;
    use std::marker::PhantomData;

    use crate::bindings::exports::optimize365::psa_connector::connector::{self, Guest, GuestSession};
    use crate::{
        CheckStep, ConfigEntry, ConnectorError, ConnectorInfo, CustomerPage, NewNote, NewTicket, NoteRef, OptionKind,
        TicketOption, TicketRef,
    };

    pub use crate::bindings::__export_psa_connector as export;

    /// The paths the generated export glue names.
    pub mod bindings {
        pub use crate::bindings::exports;
    }

    /// What `export_connector!` checks natively: that the type is a connector.
    pub const fn exportable<C: crate::Connector>() {}

    /// The component: the contract's `Guest` over a [`Connector`](crate::Connector).
    pub struct Component<C>(PhantomData<C>);

    impl<C: crate::Connector> Guest for Component<C> {
        type Session = SessionOf<C::Session>;

        fn info() -> ConnectorInfo {
            C::info()
        }

        fn test_connection(config: Vec<ConfigEntry>) -> Vec<CheckStep> {
            C::test_connection(config)
        }
    }

    /// A [`Session`](crate::Session) as the contract's resource. The
    /// `RefCell` gives the `&self` resource methods `&mut` access; calls on
    /// one session never overlap, so it is never busy in practice.
    pub struct SessionOf<S>(pub(crate) RefCell<S>);

    fn busy() -> ConnectorError {
        ConnectorError::Internal("The session is already busy with another call.".into())
    }

    impl<S: crate::Session> GuestSession for SessionOf<S> {
        fn open(config: Vec<ConfigEntry>) -> Result<connector::Session, ConnectorError> {
            let session = S::open(config)?;
            Ok(connector::Session::new(SessionOf(RefCell::new(session))))
        }

        fn list_customers(&self, cursor: Option<String>) -> Result<CustomerPage, ConnectorError> {
            let mut s = self.0.try_borrow_mut().map_err(|_| busy())?;
            Ok(s.list_customers(cursor)?)
        }

        fn list_customers_changed(&self, since: u64, cursor: Option<String>) -> Result<CustomerPage, ConnectorError> {
            let mut s = self.0.try_borrow_mut().map_err(|_| busy())?;
            Ok(s.list_customers_changed(since, cursor)?)
        }

        fn create_ticket(&self, ticket: NewTicket) -> Result<TicketRef, ConnectorError> {
            let mut s = self.0.try_borrow_mut().map_err(|_| busy())?;
            Ok(s.create_ticket(ticket)?)
        }

        fn find_open_ticket(&self, customer_id: String, dedup_key: String) -> Result<Option<TicketRef>, ConnectorError> {
            let mut s = self.0.try_borrow_mut().map_err(|_| busy())?;
            Ok(s.find_open_ticket(&customer_id, &dedup_key)?)
        }

        fn add_note(&self, ticket_id: String, note: NewNote) -> Result<NoteRef, ConnectorError> {
            let mut s = self.0.try_borrow_mut().map_err(|_| busy())?;
            Ok(s.add_note(&ticket_id, note)?)
        }

        fn ticket_options(&self, kind: OptionKind) -> Result<Vec<TicketOption>, ConnectorError> {
            let mut s = self.0.try_borrow_mut().map_err(|_| busy())?;
            Ok(s.ticket_options(kind)?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    struct FixedSession(u32);

    impl Connector for Fixed {
        type Session = FixedSession;
        fn info() -> ConnectorInfo {
            ConnectorInfo {
                id: "fixed".into(),
                display_name: "Fixed".into(),
                version: "0".into(),
                contract_version: CONTRACT_VERSION.into(),
                capabilities: vec![Capability::ListCustomers],
                fields: Vec::new(),
                allowed_hosts: Vec::new(),
                budget: None,
                ticket_option_kinds: Vec::new(),
            }
        }
    }

    impl Session for FixedSession {
        fn open(config: Vec<ConfigEntry>) -> Result<Self, Error> {
            match config.first() {
                Some(e) if e.id == "fail" => Err(Error::upstream(500, "/c", "down")),
                Some(_) => Ok(FixedSession(500)),
                None => Ok(FixedSession(0)),
            }
        }
        fn list_customers(&mut self, _cursor: Option<String>) -> Result<CustomerPage, Error> {
            if self.0 == 500 {
                return Err(Error::upstream(500, "/c", "The PSA is down."));
            }
            Ok(CustomerPage { customers: Vec::new(), warnings: Vec::new(), next_cursor: None, fetched: 0, total: Some(0) })
        }
    }

    fn entry(id: &str) -> Vec<ConfigEntry> {
        vec![ConfigEntry { id: id.into(), value: "v".into() }]
    }

    #[test]
    fn default_connection_test_and_ticket() {
        let s = Fixed::test_connection(Vec::new());
        assert_eq!((s[0].status, s[1].status), (StepStatus::Passed, StepStatus::Passed));
        assert_eq!(s[1].message, "The first page lists 0 customers.");
        let s = Fixed::test_connection(entry("x"));
        assert_eq!((s[1].status, s[1].message.as_str()), (StepStatus::Failed, "The PSA is down."));
        let s = Fixed::test_connection(entry("fail"));
        assert_eq!((s[0].status, s[1].status), (StepStatus::Failed, StepStatus::Skipped));
        let ticket = NewTicket {
            customer_id: "1".into(),
            summary: "s".into(),
            details: TicketBody { text: "t".into(), html: None },
            dedup_key: "k".into(),
            options: Vec::new(),
        };
        let unsupported = |r: Result<(), Error>, call: &str| matches!(r, Err(Error::NotSupported(m)) if m.contains(call));
        let mut s = FixedSession(0);
        assert!(unsupported(s.create_ticket(ticket).map(drop), "create-ticket"));
        assert!(unsupported(s.list_customers_changed(0, None).map(drop), "list-customers-changed"));
        assert!(unsupported(s.find_open_ticket("1", "k").map(drop), "find-open-ticket"));
        let note = NewNote { body: TicketBody { text: "t".into(), html: None }, visibility: NoteVisibility::Private, outcome_id: None };
        assert!(unsupported(s.add_note("1", note).map(drop), "add-note"));
        assert!(unsupported(s.ticket_options(OptionKind::Priority).map(drop), "ticket-options"));
    }

    #[test]
    fn the_adapter_converts_errors() {
        use crate::bindings::exports::optimize365::psa_connector::connector::GuestSession;
        let s = __private::SessionOf(std::cell::RefCell::new(FixedSession(500)));
        assert!(matches!(s.list_customers(None), Err(ConnectorError::Upstream(u)) if u.status == 500));
        assert!(matches!(s.ticket_options(OptionKind::Queue), Err(ConnectorError::NotSupported(m)) if m.contains("ticket-options")));
        assert!(matches!(s.find_open_ticket("1".into(), "k".into()), Err(ConnectorError::NotSupported(_))));
        let _held = s.0.borrow_mut();
        assert!(matches!(s.list_customers(None), Err(ConnectorError::Internal(m)) if m.contains("busy")));
        assert!(matches!(s.add_note("1".into(), NewNote { body: TicketBody { text: String::new(), html: None }, visibility: NoteVisibility::Public, outcome_id: None }), Err(ConnectorError::Internal(m)) if m.contains("busy")));
    }
}
