//! `test-connection`: the form, then each network step in order.

use crate::api::{Api, PERM_CUSTOMERS, PERM_READ_TICKETS, PERM_TICKETS};
use crate::auth::TokenCache;
use crate::config;
use crate::customers;
use crate::error::{Describe, Error};
use crate::http::Transport;
use crate::messages as msg;
use crate::session::{read_csp, CspOutcome};
use crate::types::{CheckStep, StepStatus};

pub const STEPS: [(&str, &str); 6] = [
    ("form-valid", "Form filled in correctly"),
    ("auth-server-reachable", "Authorization server reachable"),
    ("credentials-accepted", "Credentials accepted"),
    ("customers-readable", "Customers readable"),
    ("tenant-links-readable", "Microsoft 365 tenant links readable"),
    ("tickets-readable", "Tickets readable"),
];

const TICKETS_PROBE_QUERY: &str = "?pageinate=true&page_size=1&page_no=1";

const PROBE_QUERY: &str =
    "?pageinate=true&page_size=1&page_no=1&includeactive=true&includeinactive=true&includeazuretenants=true";

/// Run the steps; the first failure skips the rest (the contract's rule).
pub fn run(entries: &[(String, String)], net: &mut dyn Transport) -> Vec<CheckStep> {
    let mut results: Vec<(StepStatus, String)> = Vec::new();
    diagnose(entries, net, &mut results);
    STEPS
        .iter()
        .enumerate()
        .map(|(i, (id, label))| {
            let (status, message) =
                results.get(i).cloned().unwrap_or((StepStatus::Skipped, msg::skipped()));
            CheckStep { id: id.to_string(), label: label.to_string(), status, message }
        })
        .collect()
}

fn diagnose(entries: &[(String, String)], net: &mut dyn Transport, out: &mut Vec<(StepStatus, String)>) {
    let pass = |out: &mut Vec<(StepStatus, String)>, m: String| out.push((StepStatus::Passed, m));
    let fail = |out: &mut Vec<(StepStatus, String)>, m: String| out.push((StepStatus::Failed, m));

    let cfg = match config::parse(entries) {
        Ok(c) => c,
        Err(e) => return fail(out, e.describe()),
    };
    pass(out, msg::form_valid(cfg.api_assumed, &cfg.resource.url));

    let mut tokens = TokenCache::default();
    match tokens.renew(&cfg, net) {
        Ok(_) => {
            pass(out, msg::auth_reachable(&cfg.token_url()));
            pass(out, msg::credentials_ok());
        }
        // Unreachable, not the token endpoint, or refused by a proxy in front
        // of Halo before the login service saw it.
        Err(e @ (Error::Unreachable { .. } | Error::Protocol { .. })) => return fail(out, e.describe()),
        Err(e @ Error::Upstream { status, .. }) if crate::answer::refused_as_sent(status) => return fail(out, e.describe()),
        Err(e) => {
            pass(out, msg::auth_reachable(&cfg.token_url()));
            return fail(out, e.describe());
        }
    }

    let mut api = Api { cfg: &cfg, tokens: &mut tokens, net };
    let endpoint = cfg.endpoint("/Client");
    let body = match api.get("/Client", PROBE_QUERY, PERM_CUSTOMERS) {
        Ok(b) => b,
        Err(e) => return fail(out, e.describe()),
    };
    let page = match customers::parse_page(&endpoint, 1, &body) {
        Ok(p) => p,
        Err(e) => return fail(out, e.describe()),
    };
    pass(out, msg::customers_visible(page.record_count));

    if page.rows.first().is_some_and(|r| r.azure_tenants.is_some()) {
        pass(out, msg::links_in_rows());
    } else {
        match read_csp(&mut api) {
            Ok(CspOutcome::Read { connections: 0, .. }) => pass(out, msg::links_none_configured()),
            Ok(CspOutcome::Read { links, connections }) => pass(out, msg::links_from_csp(connections, links.links)),
            Ok(CspOutcome::Forbidden { error, .. }) => return fail(out, msg::links_check_failed(&error.describe())),
            Ok(CspOutcome::Unavailable { endpoint }) => return fail(out, msg::links_unavailable_check(&endpoint)),
            Err(e) => return fail(out, e.describe()),
        }
    }

    // Tickets: readable (read:tickets), and, when the token says what it
    // grants, writable (edit:tickets).
    let endpoint = cfg.endpoint(crate::tickets::TICKETS);
    let counted = api
        .get(crate::tickets::TICKETS, TICKETS_PROBE_QUERY, PERM_READ_TICKETS)
        .and_then(|body| crate::answer::parse_value(&endpoint, &body))
        .and_then(|v| {
            v.get("record_count")
                .and_then(crate::field::parse_count)
                .ok_or_else(|| Error::protocol(&endpoint, msg::tickets_not_a_list()))
        });
    match counted {
        Ok(n) => match api.tokens.granted().filter(|g| !crate::auth::grants(g, PERM_TICKETS)) {
            Some(g) => fail(out, msg::tickets_check_failed(&msg::tickets_cannot_edit(g))),
            None => pass(out, msg::tickets_visible(n)),
        },
        Err(e) => fail(out, msg::tickets_check_failed(&e.describe())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::fake::Fake;

    fn form(secret: &str) -> Vec<(String, String)> {
        [
            ("resource_server_url", "acme.halopsa.com"),
            ("authorization_server_url", "https://acme.halopsa.com/auth"),
            ("client_id", "id"),
            ("client_secret", secret),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn statuses(steps: &[CheckStep]) -> Vec<&'static str> {
        steps
            .iter()
            .map(|s| match s.status {
                StepStatus::Passed => "passed",
                StepStatus::Failed => "failed",
                StepStatus::Skipped => "skipped",
            })
            .collect()
    }

    #[test]
    fn all_pass_with_csp() {
        let mut net = Fake::new();
        net.token()
            .json(200, r#"{"record_count":1204,"clients":[{"id":1}]}"#)
            .json(200, r#"[{"id":2}]"#)
            .json(200, r#"{"mappings_client":[{"client_id":1,"azure_tenant_id":"0a1b2c3d-4e5f-6789-abcd-ef0123456789"}]}"#)
            .json(200, r#"{"record_count":17,"tickets":[{"id":4}]}"#);
        let steps = run(&form("sec"), &mut net);
        assert_eq!(statuses(&steps), vec!["passed"; 6]);
        assert_eq!(steps[5].message, "17 tickets visible.");
        assert!(net.urls()[4].ends_with("/api/Tickets?pageinate=true&page_size=1&page_no=1"));
        assert!(steps[0].message.contains("/api was assumed: https://acme.halopsa.com/api"));
        assert_eq!(steps[3].message, "1,204 customers visible.");
        assert!(steps[4].message.starts_with("1 tenant link(s) read from 1 Microsoft CSP connection(s)"));
        assert!(net.urls()[1].contains("page_size=1&page_no=1"));
    }

    #[test]
    fn wrong_credentials_skip_the_rest() {
        let mut net = Fake::new();
        net.json(401, r#"{"error":"invalid_client"}"#);
        let steps = run(&form("very-secret"), &mut net);
        assert_eq!(statuses(&steps), vec!["passed", "passed", "failed", "skipped", "skipped", "skipped"]);
        assert!(steps[2].message.contains("invalid_client"));
        assert_eq!(steps[3].message, "Skipped because an earlier step failed.");
        assert!(steps.iter().all(|s| !s.message.contains("very-secret")));
    }

    #[test]
    fn unreachable_or_html_fails_auth_step() {
        let mut net = Fake::new();
        net.answers.push_back(Err(crate::http::HttpError {
            host: "acme.halopsa.com".into(),
            endpoint: "/auth/token".into(),
            phase: crate::http::Phase::Request,
            kind: crate::http::ErrorKind::Dns,
        }));
        let steps = run(&form("s"), &mut net);
        assert_eq!(statuses(&steps), vec!["passed", "failed", "skipped", "skipped", "skipped", "skipped"]);
        let steps = run(&[], &mut Fake::new());
        assert_eq!(statuses(&steps), vec!["failed", "skipped", "skipped", "skipped", "skipped", "skipped"]);
    }

    #[test]
    fn a_proxy_refusing_the_token_request_fails_the_reachable_step() {
        let mut net = Fake::new();
        net.json(411, "");
        let steps = run(&form("s"), &mut net);
        assert_eq!(statuses(&steps), vec!["passed", "failed", "skipped", "skipped", "skipped", "skipped"]);
        assert!(steps[1].message.starts_with("Halo answered HTTP 411 on /auth/token: Length Required."), "{}", steps[1].message);
        assert!(steps[1].message.contains("web application firewall"), "{}", steps[1].message);
    }

    #[test]
    fn tenant_links_forbidden_fails_last_step() {
        let mut net = Fake::new();
        net.token().json(200, r#"{"record_count":3,"clients":[{"id":1}]}"#).json(403, "");
        let steps = run(&form("s"), &mut net);
        assert_eq!(statuses(&steps), vec!["passed", "passed", "passed", "passed", "failed", "skipped"]);
        assert!(steps[4].message.contains("permission admin"));
        assert!(steps[4].message.ends_with("The import would still work, but without Microsoft 365 tenant links."));
    }

    #[test]
    fn tickets_step_names_the_missing_permission() {
        let rows = r#"{"record_count":3,"clients":[{"id":1,"azure_tenants":[]}]}"#;
        // 403 on /Tickets: read:tickets.
        let mut net = Fake::new();
        net.json(200, r#"{"access_token":"t","scope":"read:customers"}"#).json(200, rows).json(403, "");
        let steps = run(&form("s"), &mut net);
        assert_eq!(statuses(&steps), vec!["passed", "passed", "passed", "passed", "passed", "failed"]);
        assert!(steps[5].message.contains("permission read:tickets"), "{}", steps[5].message);
        assert!(steps[5].message.ends_with("Customers would still import, but tickets could not be opened."), "{}", steps[5].message);
        // Readable, but the token grants no edit:tickets.
        let mut net = Fake::new();
        net.json(200, r#"{"access_token":"t","scope":"read:customers read:tickets"}"#)
            .json(200, rows)
            .json(200, r#"{"record_count":2,"tickets":[]}"#);
        let steps = run(&form("s"), &mut net);
        assert_eq!(statuses(&steps)[5], "failed");
        assert!(steps[5].message.contains("without edit:tickets"), "{}", steps[5].message);
        // "all" grants both.
        let mut net = Fake::new();
        net.json(200, r#"{"access_token":"t","scope":"all"}"#).json(200, rows).json(200, r#"{"record_count":2,"tickets":[]}"#);
        assert_eq!(statuses(&run(&form("s"), &mut net))[5], "passed");
    }
}
