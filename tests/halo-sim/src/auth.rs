//! The authorization server listener: `POST /auth/token[?tenant=T]` (OAuth 2.0 client
//! credentials, OpenIddict-style error bodies). Everything else on it answers 404 HTML. With
//! `require_content_length`, a body without a declared length gets nginx's 411 first.

use crate::options::{Listener, TenantFailure};
use crate::respond::{form, html, json, rate_limited, Framing, LENGTH_REQUIRED_HTML, NOT_FOUND_HTML};
use crate::state::{closure, Shared, KNOWN_SCOPES};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use serde_json::json;
use std::collections::BTreeSet;

/// The single handler of the auth listener: rate-limit window, latency, dispatch, logging.
pub async fn handle(State(shared): State<Shared>, req: Request) -> Response {
    let method = req.method().to_string();
    let framing = Framing::of(req.headers());
    if shared.refuses_framing(&method, &framing) {
        return length_required(&shared, Listener::Auth, req, framing).await;
    }
    let window = shared.window_refusal();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
    let latency = shared.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let normalised = path.trim_end_matches('/').to_ascii_lowercase();
    let (resp, fault) = if let Some((text, retry_after)) = window {
        (rate_limited(&text, retry_after), Some("rate-limit"))
    } else if method == "POST" && normalised == "/auth/token" {
        (token(&shared, &query, &content_type, &body), None)
    } else {
        (html(404, NOT_FOUND_HTML), None)
    };
    shared.log(Listener::Auth, &method, &path, &query, resp.status().as_u16(), fault, &framing, None);
    resp
}

/// The strict proxy's 411 (see [`crate::SimOptions::require_content_length`]): the body is
/// read first, so the client sees the answer and not a connection closed mid-upload.
pub async fn length_required(shared: &Shared, listener: Listener, req: Request, framing: Framing) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let _ = axum::body::to_bytes(req.into_body(), 16 << 20).await;
    let resp = html(411, LENGTH_REQUIRED_HTML);
    shared.log(listener, &method, &path, &query, 411, Some("length-required"), &framing, None);
    resp
}

fn invalid_client() -> Response {
    json(401, json!({"error": "invalid_client", "error_description": "The specified client credentials are invalid."}))
}

fn token(shared: &Shared, query: &str, content_type: &str, body: &[u8]) -> Response {
    let mut st = shared.lock();
    let opts = &st.opts;

    // Hosted Halo picks the tenant's database from ?tenant= before OAuth even starts.
    if let Some(expected) = &opts.tenant {
        let q = form(query.as_bytes());
        let ok = q.get("tenant").is_some_and(|t| t.trim().eq_ignore_ascii_case(expected));
        if !ok {
            return match opts.tenant_failure {
                TenantFailure::InvalidClient => invalid_client(),
                TenantFailure::BadRequest => json(
                    400,
                    json!({"error": "invalid_request", "error_description": "The tenant is not valid."}),
                ),
                TenantFailure::NotFoundHtml => html(404, NOT_FOUND_HTML),
            };
        }
    }

    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return json(
            400,
            json!({"error": "invalid_request", "error_description": "The specified 'Content-Type' header is invalid."}),
        );
    }
    let f = form(body);
    match f.get("grant_type").map(String::as_str) {
        None | Some("") => {
            return json(
                400,
                json!({"error": "invalid_request", "error_description": "The mandatory 'grant_type' parameter is missing."}),
            )
        }
        Some("client_credentials") => {}
        Some(_) => {
            return json(
                400,
                json!({"error": "unsupported_grant_type", "error_description": "The specified 'grant_type' is not supported."}),
            )
        }
    }
    if f.get("client_id") != Some(&opts.client_id) || f.get("client_secret") != Some(&opts.client_secret) {
        return invalid_client();
    }

    let requested: Vec<&str> = f.get("scope").map(|s| s.split_whitespace().collect()).unwrap_or_default();
    if let Some(bad) = requested.iter().find(|s| **s != "all" && !KNOWN_SCOPES.contains(s)) {
        return json(
            400,
            json!({"error": "invalid_scope", "error_description": format!("The specified 'scope' is invalid: {bad}.")}),
        );
    }
    // `all` stands for everything the application is granted.
    let mut wanted: Vec<&str> = Vec::new();
    for s in &requested {
        if *s == "all" {
            wanted.extend(opts.app_permissions.iter().map(String::as_str));
        } else {
            wanted.push(s);
        }
    }
    let app = closure(opts.app_permissions.iter().map(String::as_str));
    let perms: BTreeSet<String> = closure(wanted.iter().copied()).intersection(&app).cloned().collect();
    let mut granted: Vec<&str> = Vec::new();
    for s in wanted {
        if perms.contains(s) && !granted.contains(&s) {
            granted.push(s);
        }
    }
    let scope = granted.join(" ");
    let ttl = opts.token_ttl_secs;
    let (access, refresh) = st.issue_token(perms);
    let mut r = json(
        200,
        json!({
            "token_type": "Bearer",
            "access_token": access,
            "expires_in": ttl,
            "refresh_token": refresh,
            "id_token": "",
            "scope": scope,
        }),
    );
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}
