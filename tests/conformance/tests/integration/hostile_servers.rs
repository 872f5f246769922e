//! A resource server that misbehaves: the host's caps and timeouts end each
//! case in a typed error, quickly, without reading unbounded data.

use crate::common::*;
use halo_sim::SimOptions;
use psa_host::{ConnectorError, Host, HostError, HostOptions, Limits, NetworkStage};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

#[derive(Clone, Copy)]
enum Misbehaviour {
    /// Declares a 50 MB body, then waits 3 s before sending it: only a
    /// refusal based on the declared length ends the call before then.
    HugeContentLength,
    /// Streams chunks forever.
    EndlessChunks,
    /// Sends half a body, then nothing.
    Stall,
}

/// Writes `bytes` `times` times, stopping when the peer hangs up.
async fn write_repeatedly(sock: &mut (impl tokio::io::AsyncWrite + Unpin), bytes: &[u8], times: usize) {
    for _ in 0..times {
        if sock.write_all(bytes).await.is_err() {
            return;
        }
    }
}

/// A loopback server that answers every request with `m`; returns its base URL.
async fn bad_server(m: Misbehaviour) -> String {
    let addr = raw_server(move |_, mut sock| async move {
        let chunk = vec![b' '; 64 * 1024];
        match m {
            Misbehaviour::HugeContentLength => {
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 50000000\r\n\r\n")
                    .await;
                tokio::time::sleep(Duration::from_secs(3)).await;
                write_repeatedly(&mut sock, &chunk, 800).await;
            }
            Misbehaviour::EndlessChunks => {
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
                    .await;
                let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
                framed.extend_from_slice(&chunk);
                framed.extend_from_slice(b"\r\n");
                // Bounded so the test cannot run away: 2 GB at most.
                write_repeatedly(&mut sock, &framed, 32_768).await;
            }
            Misbehaviour::Stall => {
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"record_count\": ")
                    .await;
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        }
    })
    .await;
    format!("http://{addr}/api")
}

async fn run_against(m: Misbehaviour) -> (ConnectorError, Duration) {
    let mut limits = Limits::default();
    limits.max_response_body_bytes = 1 << 20;
    limits.between_bytes_timeout = Duration::from_secs(1);
    let host = Host::new(HostOptions::default().allow_loopback(true).limits(limits)).unwrap();
    let halo = host.load("halopsa", psa_host::bundled::HALOPSA).await.unwrap();
    let sim = start(SimOptions::default()).await; // a real token endpoint
    let mut f = form(&sim);
    set(&mut f, "resource_server_url", &bad_server(m).await);
    let mut s = halo.open_session(&config(&halo, f)).await.unwrap();
    let t = Instant::now();
    match s.list_customers(None).await {
        Err(HostError::Connector { error, .. }) => (error, t.elapsed()),
        other => panic!("expected a connector error, got {:?}", other.map(|p| p.customers.len())),
    }
}

#[tokio::test]
async fn a_declared_huge_body_is_refused_before_reading() {
    let (e, took) = run_against(Misbehaviour::HugeContentLength).await;
    let ConnectorError::Protocol { message, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(message.contains("more data than the platform accepts"), "{message}");
    assert!(took < Duration::from_millis(900), "not refused on the declared length: {took:?}");
}

#[tokio::test]
async fn an_endless_body_is_cut_at_the_cap() {
    let (e, took) = run_against(Misbehaviour::EndlessChunks).await;
    let ConnectorError::Protocol { message, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(message.contains("more data than the platform accepts"), "{message}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[tokio::test]
async fn a_stalled_body_is_cut_by_the_between_bytes_timeout() {
    let (e, took) = run_against(Misbehaviour::Stall).await;
    let ConnectorError::Unreachable { stage, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(*stage, NetworkStage::Timeout);
    assert!(took < Duration::from_secs(10), "between-bytes timeout not applied: {took:?}");
}
