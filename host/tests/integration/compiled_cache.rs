//! The compiled-connector cache: compile once, then map; a corrupt, stale
//! or half-present entry is recompiled and rewritten, never used.

use psa_host::{CompiledFrom, Host, HostError, HostOptions, Limits};
use std::path::{Path, PathBuf};

const HALO: &[u8] = psa_host::bundled::HALOPSA;

fn host(dir: &Path) -> Host {
    Host::new(HostOptions::default().cache_dir(Some(dir.to_path_buf()))).unwrap()
}

async fn load_from(dir: &Path) -> CompiledFrom {
    host(dir).load("halopsa", HALO).await.expect("loads").compiled_from()
}

/// The entry's artifact and checksum files.
fn entry(dir: &Path) -> (PathBuf, PathBuf) {
    let mut artifact = None;
    let mut sum = None;
    for f in std::fs::read_dir(dir).unwrap() {
        let p = f.unwrap().path();
        match p.extension().and_then(|e| e.to_str()) {
            Some("cwasm") => artifact = Some(p),
            Some("sum") => sum = Some(p),
            _ => {}
        }
    }
    (artifact.expect("an artifact"), sum.expect("a checksum"))
}

#[tokio::test]
async fn compiled_once_then_mapped() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(load_from(dir.path()).await, CompiledFrom::CompiledAndCached);
    assert_eq!(load_from(dir.path()).await, CompiledFrom::Cache);
    let (artifact, _) = entry(dir.path());
    let name = artifact.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with(&psa_host::sha256_hex_of(HALO)), "{name}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // The cache creates its directory private to the user.
        let sub = dir.path().join("fresh");
        host(&sub).load("halopsa", HALO).await.unwrap();
        assert_eq!(std::fs::metadata(&sub).unwrap().permissions().mode() & 0o777, 0o700);
    }
}

#[tokio::test]
async fn a_corrupt_entry_is_rebuilt_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    load_from(dir.path()).await;
    let (artifact, _) = entry(dir.path());
    let mut bytes = std::fs::read(&artifact).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&artifact, &bytes).unwrap();
    assert_eq!(load_from(dir.path()).await, CompiledFrom::Recompiled);
    assert_eq!(load_from(dir.path()).await, CompiledFrom::Cache, "the entry was rewritten");

    // Truncated.
    std::fs::write(&artifact, &bytes[..1000]).unwrap();
    assert_eq!(load_from(dir.path()).await, CompiledFrom::Recompiled);
    // Checksum missing.
    let (_, sum) = entry(dir.path());
    std::fs::remove_file(&sum).unwrap();
    assert_eq!(load_from(dir.path()).await, CompiledFrom::Recompiled);
    assert_eq!(load_from(dir.path()).await, CompiledFrom::Cache);
}

#[tokio::test]
async fn a_stale_entry_from_another_engine_is_rebuilt() {
    // An artifact compiled by an engine with other settings (fuel on), put
    // under this engine's key with a valid checksum: wasmtime must refuse it.
    let ours = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    load_from(ours.path()).await;
    let mut limits = Limits::default();
    limits.fuel = Some(1_000_000_000);
    Host::new(HostOptions::default().limits(limits).cache_dir(Some(other.path().to_path_buf())))
        .unwrap()
        .load("halopsa", HALO)
        .await
        .unwrap();
    let (ours_artifact, ours_sum) = entry(ours.path());
    let (other_artifact, _) = entry(other.path());
    assert_ne!(ours_artifact.file_name(), other_artifact.file_name(), "the key covers engine settings");
    let foreign = std::fs::read(&other_artifact).unwrap();
    std::fs::write(&ours_artifact, &foreign).unwrap();
    std::fs::write(&ours_sum, psa_host::sha256_hex_of(&foreign)).unwrap();
    assert_eq!(load_from(ours.path()).await, CompiledFrom::Recompiled);
    assert_eq!(load_from(ours.path()).await, CompiledFrom::Cache);
}

#[tokio::test]
async fn without_a_cache_every_load_compiles() {
    let host = Host::new(HostOptions::default().cache_dir(None)).unwrap();
    assert_eq!(host.load("halopsa", HALO).await.unwrap().compiled_from(), CompiledFrom::Compiled);
}

#[tokio::test]
async fn the_session_pool_is_bounded_and_says_so() {
    let mut limits = Limits::default();
    limits.max_sessions = 2;
    let dir = tempfile::tempdir().unwrap();
    let host = Host::new(HostOptions::default().limits(limits).cache_dir(Some(dir.path().to_path_buf()))).unwrap();
    let c = host.load("halopsa", HALO).await.unwrap();
    let config = psa_host::ConnectionConfig::from_pairs(
        [
            ("resource_server_url".to_string(), "https://halo.example.com/api".to_string()),
            ("authorization_server_url".to_string(), "https://halo.example.com/auth".to_string()),
            ("client_id".to_string(), "id".to_string()),
            ("client_secret".to_string(), "secret-value".to_string()),
        ],
        c.info(),
    );
    let a = c.open_session(&config).await.unwrap();
    let _b = c.open_session(&config).await.unwrap();
    match c.open_session(&config).await {
        Err(e @ HostError::Busy { .. }) => assert!(e.to_string().contains("already runs 2 sessions"), "{e}"),
        Err(e) => panic!("expected Busy, got {e}"),
        Ok(_) => panic!("a third session opened with max_sessions = 2"),
    }
    a.close().await;
    c.open_session(&config).await.expect("a slot is free again");
}
