//! A strict server in front of Halo: a reverse proxy or WAF that answers
//! `411 Length Required` to a body without a declared length. The sandboxed
//! connector must send `Content-Length` with the token request and with a
//! ticket, and a 411 (or another refusal of the request as sent) must get
//! its own message, not the wrong-URL one.

use crate::common::*;
use halo_sim::{sample_customers, Listener, SimOptions};
use psa_host::{ConnectorError, HostError, StepStatus};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NGINX_411: &str = "<html>\r\n<head><title>411 Length Required</title></head>\r\n<body>\r\n<center><h1>411 Length Required</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

#[tokio::test]
async fn token_exchange_and_ticket_against_a_strict_server() {
    let customers = sample_customers(150, 4);
    let sim = start(SimOptions { customers: customers.clone(), require_content_length: true, ..Default::default() }).await;
    let halo = halo().await;
    let cfg = config(&halo, form(&sim));

    let steps = halo.test_connection(&cfg).await.expect("test-connection runs");
    assert!(steps.iter().all(|s| s.status == StepStatus::Passed), "{steps:#?}");
    let mut s = halo.open_session(&cfg).await.expect("open");
    assert_eq!(s.import_all(|_| {}).await.expect("import").customers.len(), 150);
    let ticket = psa_host::NewTicket {
        customer_id: customers[7].id.to_string(),
        summary: "Legacy authentication enabled".into(),
        details: psa_host::TicketBody { text: "Found by Optimize365".into(), html: Some("<p>Found by Optimize365</p>".into()) },
        ..Default::default()
    };
    s.create_ticket(&ticket).await.expect("a ticket through a strict proxy");
    s.close().await;
    assert_eq!(sim.tickets().len(), 1);

    // On the wire: every body with its length, none chunked, no 411.
    let log = sim.requests();
    let posts: Vec<_> = log.iter().filter(|r| r.method == "POST").collect();
    assert_eq!(posts.iter().filter(|r| r.listener == Listener::Auth).count(), 2, "a token for the check, one for the session");
    assert_eq!(posts.iter().filter(|r| r.path.eq_ignore_ascii_case("/api/Tickets")).count(), 1);
    for r in &posts {
        let length: Option<u64> = r.content_length.as_deref().and_then(|l| l.parse().ok());
        assert!(length.is_some_and(|l| l > 0) && !r.chunked, "{} {} went out without a length: {r:?}", r.method, r.path);
    }
    assert!(log.iter().all(|r| r.status < 400 && !r.chunked), "{:?}", log.iter().find(|r| r.status >= 400 || r.chunked));
}

/// Reads the rest of a request whose head is in `head` (the body by its
/// `Content-Length`, or chunks up to the last one), then writes `answer`:
/// closing with unread bytes would reset the connection instead.
async fn answer_after_body(head: String, mut sock: tokio::net::TcpStream, answer: String) {
    let (h, mut body) = head.split_once("\r\n\r\n").map(|(h, b)| (h.to_ascii_lowercase(), b.as_bytes().to_vec())).unwrap_or_default();
    let length: Option<usize> = h.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok());
    let chunked = h.lines().any(|l| l.starts_with("transfer-encoding:") && l.contains("chunked"));
    let mut buf = [0u8; 4096];
    loop {
        let complete = match length {
            Some(n) => body.len() >= n,
            None if chunked => body.windows(5).any(|w| w == b"0\r\n\r\n"),
            None => true,
        };
        if complete {
            break;
        }
        match sock.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&buf[..n]),
        }
    }
    let _ = sock.write_all(answer.as_bytes()).await;
    let _ = sock.shutdown().await;
}

fn http_answer(status: &str, content_type: &str, body: &str) -> String {
    format!("HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
}

/// A proxy that answers every request with nginx's 411 page.
async fn proxy_refusing_everything() -> std::net::SocketAddr {
    raw_server(|head, sock| answer_after_body(head, sock, http_answer("411 Length Required", "text/html", NGINX_411))).await
}

#[tokio::test]
async fn a_411_on_the_token_endpoint_names_the_proxy_not_a_wrong_url() {
    let proxy = proxy_refusing_everything().await;
    let sim = start(SimOptions { customers: sample_customers(12, 2), ..Default::default() }).await;
    let halo = halo().await;
    let mut f = form(&sim);
    set(&mut f, "authorization_server_url", &format!("http://{proxy}/auth"));
    let cfg = config(&halo, f);

    let steps = halo.test_connection(&cfg).await.expect("test-connection runs");
    let failed = steps.iter().find(|s| s.status == StepStatus::Failed).expect("a failed step");
    assert_eq!(failed.id, "auth-server-reachable", "{steps:#?}");
    for m in [&failed.message] {
        assert!(m.contains("HTTP 411") && m.contains("Length Required"), "{m}");
        assert!(m.contains("reverse proxy") && m.contains("Content-Length"), "{m}");
        assert!(!m.contains("does not look like Halo's"), "the wrong-URL message: {m}");
    }
    let mut s = halo.open_session(&cfg).await.expect("open");
    match s.list_customers(None).await {
        Err(HostError::Connector { error: ConnectorError::Upstream { status, endpoint, message }, .. }) => {
            assert_eq!((status, endpoint.as_str()), (411, "/auth/token"));
            assert!(message.contains("web application firewall"), "{message}");
        }
        other => panic!("expected an upstream 411: {:?}", other.map(|p| p.customers.len())),
    }
    // The connector asked nothing else (no authinfo for a wrong URL).
    assert!(sim.requests().is_empty(), "{:?}", sim.requests());
}

#[tokio::test]
async fn a_ticket_refused_by_a_proxy_says_so() {
    // Tokens come through; /api/Tickets is refused with 411.
    let proxy = raw_server(|head, sock| async move {
        let answer = if head.starts_with("POST /auth/token") {
            http_answer("200 OK", "application/json", r#"{"access_token":"tok-strict","token_type":"Bearer","expires_in":3600}"#)
        } else {
            http_answer("411 Length Required", "text/html", NGINX_411)
        };
        answer_after_body(head, sock, answer).await
    })
    .await;
    let halo = halo().await;
    let sim = start(SimOptions { customers: sample_customers(5, 2), ..Default::default() }).await;
    let mut f = form(&sim);
    set(&mut f, "authorization_server_url", &format!("http://{proxy}/auth"));
    set(&mut f, "resource_server_url", &format!("http://{proxy}/api"));
    let mut s = halo.open_session(&config(&halo, f)).await.expect("open");
    let ticket = psa_host::NewTicket { customer_id: "12".into(), summary: "x".into(), details: psa_host::TicketBody { text: "x".into(), html: Some("<p>x</p>".into()) }, ..Default::default() };
    match s.create_ticket(&ticket).await {
        Err(HostError::Connector { error: ConnectorError::Upstream { status, endpoint, message }, .. }) => {
            assert_eq!((status, endpoint.as_str()), (411, "/api/Tickets"));
            assert!(message.starts_with("Length Required."), "{message}");
            assert!(message.contains("reverse proxy"), "{message}");
        }
        other => panic!("expected an upstream 411: {other:?}"),
    }
}
