//! FROZEN TEST CONNECTOR: NEVER UPDATE THIS FILE, ITS Cargo.toml, OR THE
//! CONTRACT IT IS BUILT AGAINST (`wit/0.1.0/`).
//!
//! It stands for the connectors that were built and shipped against
//! contract 0.1.0 and that MSPs still run: a host that speaks a newer
//! contract must keep loading and running it unchanged. If a change to the
//! host makes this connector fail, the host is wrong, not this file.
//! It uses raw `wit-bindgen` on `wit/0.1.0` (not the connector SDK, which
//! moves with the contract) and does real HTTP through `wasi:http`.
//!
//! It talks to the mini PSA of the tests (`tests/guests/mini-psa.rs`):
//! `GET /customers?page=N&size=50` pages customers, `POST /tickets` opens a
//! ticket with an HTML body. Its one field is `base_url`.

wit_bindgen::generate!({
    path: "../../../wit/0.1.0",
    world: "psa-connector",
    generate_all,
});

use exports::optimize365::psa_connector::connector::{Guest, GuestSession, Session};
use optimize365::psa_connector::types::*;
use serde_json::Value;
use wasi::http::{outgoing_handler, types as http};

struct Frozen;

struct State {
    base: String,
}

impl Guest for Frozen {
    type Session = State;

    fn info() -> ConnectorInfo {
        ConnectorInfo {
            id: "frozen-v0_1_0".into(),
            display_name: "Frozen 0.1.0 test connector".into(),
            version: "0.1.0".into(),
            contract_version: "0.1.0".into(),
            capabilities: vec![Capability::TestConnection, Capability::ListCustomers, Capability::CreateTicket],
            fields: vec![ConfigField {
                id: "base_url".into(),
                label: "Base URL".into(),
                help: "The mini PSA's address".into(),
                kind: FieldKind::Url,
                required: true,
                default_value: None,
            }],
            allowed_hosts: vec![],
        }
    }

    fn test_connection(config: Vec<ConfigEntry>) -> Vec<CheckStep> {
        let step = |status, message: String| CheckStep { id: "reachable".into(), label: "PSA reachable".into(), status, message };
        match base(&config) {
            Err(e) => vec![step(StepStatus::Failed, format!("{e:?}"))],
            Ok(b) => match call(&b, "GET", "/customers?page=1&size=1", None) {
                Ok(_) => vec![step(StepStatus::Passed, "the PSA answered".into())],
                Err(e) => vec![step(StepStatus::Failed, format!("{e:?}"))],
            },
        }
    }
}

fn base(config: &[ConfigEntry]) -> Result<String, ConnectorError> {
    config
        .iter()
        .find(|e| e.id == "base_url" && !e.value.is_empty())
        .map(|e| e.value.trim_end_matches('/').to_string())
        .ok_or_else(|| ConnectorError::InvalidConfig(ConfigError { field: "base_url".into(), message: "required".into() }))
}

impl GuestSession for State {
    fn open(config: Vec<ConfigEntry>) -> Result<Session, ConnectorError> {
        Ok(Session::new(State { base: base(&config)? }))
    }

    fn list_customers(&self, cursor: Option<String>) -> Result<CustomerPage, ConnectorError> {
        let page: u64 = cursor.as_deref().unwrap_or("1").parse().map_err(|_| ConnectorError::Internal("bad cursor".into()))?;
        let v = call(&self.base, "GET", &format!("/customers?page={page}&size=50"), None)?;
        let customers: Vec<Customer> = v["customers"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|c| Customer {
                id: c["id"].as_str().unwrap_or_default().into(),
                name: c["name"].as_str().unwrap_or_default().into(),
                active: c["active"].as_bool().unwrap_or(true),
                parent_id: None,
                parent_name: None,
                website: None,
                domains: vec![],
                m365_tenants: vec![],
            })
            .collect();
        let fetched = (page - 1) * 50 + customers.len() as u64;
        Ok(CustomerPage {
            customers,
            warnings: vec![],
            next_cursor: v["next_page"].as_u64().map(|n| n.to_string()),
            fetched,
            total: v["total"].as_u64(),
        })
    }

    fn create_ticket(&self, ticket: NewTicket) -> Result<TicketRef, ConnectorError> {
        let body = serde_json::json!({
            "customer_id": ticket.customer_id,
            "summary": ticket.summary,
            "html": ticket.details_html,
            "type": ticket.ticket_type_id,
            "priority": ticket.priority_id,
        });
        let v = call(&self.base, "POST", "/tickets", Some(body.to_string()))?;
        Ok(TicketRef { id: v["id"].as_str().unwrap_or_default().into() })
    }
}

fn unreachable(host: &str, message: String) -> ConnectorError {
    ConnectorError::Unreachable(UnreachableError { host: host.into(), stage: NetworkStage::Connect, message })
}

/// One request to `base` + `path`; the answer's JSON, or a typed error.
fn call(base: &str, method: &str, path: &str, body: Option<String>) -> Result<Value, ConnectorError> {
    let (scheme, authority) = base.split_once("://").ok_or_else(|| unreachable(base, "not a URL".into()))?;
    let headers = http::Fields::new();
    if let Some(b) = &body {
        let _ = headers.set("content-type", &[b"application/json".to_vec()]);
        let _ = headers.set("content-length", &[b.len().to_string().into_bytes()]);
    }
    let req = http::OutgoingRequest::new(headers);
    let scheme = if scheme == "https" { http::Scheme::Https } else { http::Scheme::Http };
    let _ = req.set_scheme(Some(&scheme));
    let _ = req.set_authority(Some(authority));
    let _ = req.set_path_with_query(Some(path));
    if method == "POST" {
        let _ = req.set_method(&http::Method::Post);
    }
    let out = req.body().map_err(|_| unreachable(authority, "no request body".into()))?;
    let fut = outgoing_handler::handle(req, None).map_err(|e| unreachable(authority, format!("{e:?}")))?;
    {
        let stream = out.write().map_err(|_| unreachable(authority, "no body stream".into()))?;
        if let Some(b) = &body {
            for chunk in b.as_bytes().chunks(4096) {
                stream.blocking_write_and_flush(chunk).map_err(|e| unreachable(authority, format!("{e:?}")))?;
            }
        }
    }
    http::OutgoingBody::finish(out, None).map_err(|e| unreachable(authority, format!("{e:?}")))?;
    fut.subscribe().block();
    let resp = match fut.get() {
        Some(Ok(Ok(resp))) => resp,
        Some(Ok(Err(e))) => return Err(unreachable(authority, format!("{e:?}"))),
        _ => return Err(unreachable(authority, "no response".into())),
    };
    let status = resp.status();
    let incoming = resp.consume().map_err(|_| unreachable(authority, "no response body".into()))?;
    let mut bytes = Vec::new();
    {
        let stream = incoming.stream().map_err(|_| unreachable(authority, "no response stream".into()))?;
        loop {
            match stream.blocking_read(65536) {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(wasi::io::streams::StreamError::Closed) => break,
                Err(e) => return Err(unreachable(authority, format!("{e:?}"))),
            }
        }
    }
    let endpoint = path.split('?').next().unwrap_or(path).to_string();
    if !(200..300).contains(&status) {
        return Err(ConnectorError::Upstream(UpstreamError {
            status,
            endpoint,
            message: String::from_utf8_lossy(&bytes).into_owned(),
        }));
    }
    serde_json::from_slice(&bytes).map_err(|e| ConnectorError::Protocol(ProtocolError { endpoint, message: e.to_string() }))
}

#[cfg(target_arch = "wasm32")]
export!(Frozen);
