//! The compiled-connector cache: compile once, then load; a corrupt, stale
//! or half-present entry is recompiled and rewritten, never used; a cache
//! directory or key file that other users could write is refused.

use psa_host::{CompiledFrom, Host, HostError, HostOptions, Limits};
use std::path::{Path, PathBuf};

const HALO: &[u8] = psa_host::bundled::HALOPSA;

/// A cache directory inside a temporary directory, so that its default key
/// file (`<dir>.key`, beside it) is removed with it.
fn cache_in(tmp: &tempfile::TempDir) -> PathBuf {
    tmp.path().join("cache")
}

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
    let tmp = tempfile::tempdir().unwrap();
    let dir = cache_in(&tmp);
    assert_eq!(load_from(&dir).await, CompiledFrom::CompiledAndCached);
    assert_eq!(load_from(&dir).await, CompiledFrom::Cache);
    let (artifact, _) = entry(&dir);
    let name = artifact.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with(&psa_host::sha256_hex_of(HALO)), "{name}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // The cache creates its directory private to the user.
        let sub = tmp.path().join("fresh");
        host(&sub).load("halopsa", HALO).await.unwrap();
        assert_eq!(std::fs::metadata(&sub).unwrap().permissions().mode() & 0o777, 0o700);
        // Its key file beside it, private too.
        let key = tmp.path().join("fresh.key");
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&key).unwrap().len(), 32);
    }
}

#[tokio::test]
async fn a_corrupt_entry_is_rebuilt_not_trusted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = cache_in(&tmp);
    let dir = dir.as_path();
    load_from(dir).await;
    let (artifact, _) = entry(dir);
    let mut bytes = std::fs::read(&artifact).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&artifact, &bytes).unwrap();
    assert_eq!(load_from(dir).await, CompiledFrom::Recompiled);
    assert_eq!(load_from(dir).await, CompiledFrom::Cache, "the entry was rewritten");

    // Truncated.
    std::fs::write(&artifact, &bytes[..1000]).unwrap();
    assert_eq!(load_from(dir).await, CompiledFrom::Recompiled);
    // MAC missing.
    let (_, sum) = entry(dir);
    std::fs::remove_file(&sum).unwrap();
    assert_eq!(load_from(dir).await, CompiledFrom::Recompiled);
    assert_eq!(load_from(dir).await, CompiledFrom::Cache);
    // A plain SHA-256 in place of the MAC (what anyone could compute).
    let (artifact, sum) = entry(dir);
    std::fs::write(&sum, psa_host::sha256_hex_of(&std::fs::read(&artifact).unwrap())).unwrap();
    assert_eq!(load_from(dir).await, CompiledFrom::Recompiled);
    // Another key: the entry was written by another installation.
    let other_key = tmp.path().join("other.key");
    let other = Host::new(HostOptions::default().cache_dir(Some(dir.to_path_buf())).cache_key_file(Some(other_key)))
        .unwrap();
    assert_eq!(other.load("halopsa", HALO).await.unwrap().compiled_from(), CompiledFrom::Recompiled);
}

#[tokio::test]
async fn a_stale_entry_from_another_engine_is_rebuilt() {
    // An artifact compiled by an engine with other settings (fuel on), put
    // under this engine's key with a valid checksum: wasmtime must refuse it.
    let (ours_tmp, other_tmp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (ours, other) = (cache_in(&ours_tmp), cache_in(&other_tmp));
    load_from(&ours).await;
    let mut limits = Limits::default();
    limits.fuel = Some(1_000_000_000);
    Host::new(HostOptions::default().limits(limits).cache_dir(Some(other.clone())))
        .unwrap()
        .load("halopsa", HALO)
        .await
        .unwrap();
    let (ours_artifact, ours_sum) = entry(&ours);
    let (other_artifact, other_sum) = entry(&other);
    assert_ne!(ours_artifact.file_name(), other_artifact.file_name(), "the key covers engine settings");
    let foreign = std::fs::read(&other_artifact).unwrap();
    std::fs::write(&ours_artifact, &foreign).unwrap();
    std::fs::copy(&other_sum, &ours_sum).unwrap();
    assert_eq!(load_from(&ours).await, CompiledFrom::Recompiled);
    assert_eq!(load_from(&ours).await, CompiledFrom::Cache);
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
    let tmp = tempfile::tempdir().unwrap();
    let host = Host::new(HostOptions::default().limits(limits).cache_dir(Some(cache_in(&tmp)))).unwrap();
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

/// The setup error of a host on this cache directory and key file.
fn setup_error(dir: &Path, key: Option<PathBuf>) -> String {
    match Host::new(HostOptions::default().cache_dir(Some(dir.to_path_buf())).cache_key_file(key)) {
        Err(e @ HostError::Setup { .. }) => e.to_string(),
        Err(e) => panic!("expected a setup error, got {e}"),
        Ok(_) => panic!("a host started on {}", dir.display()),
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_cache_directory_others_can_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = cache_in(&tmp);
    load_from(&dir).await;
    for mode in [0o777, 0o770, 0o702] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
        let e = setup_error(&dir, None);
        assert!(e.contains(&dir.display().to_string()), "{e}");
        assert!(e.contains(&format!("writable by group or others (mode {mode:04o})")), "{e}");
        assert!(e.contains(&format!("chmod 700 {}", dir.display())) && e.contains("--no-cache"), "{e}");
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(load_from(&dir).await, CompiledFrom::Cache);
}

#[cfg(unix)]
#[tokio::test]
async fn a_key_file_others_can_read_or_that_lies_in_the_cache_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = cache_in(&tmp);
    load_from(&dir).await;
    let key = tmp.path().join("cache.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = setup_error(&dir, None);
    assert!(e.contains(&format!("key file {}", key.display())) && e.contains("mode 0644"), "{e}");
    assert!(e.contains(&format!("chmod 600 {}", key.display())), "{e}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(load_from(&dir).await, CompiledFrom::Cache);
    let e = setup_error(&dir, Some(dir.join("inside.key")));
    assert!(e.contains("lies inside the cache directory"), "{e}");
    // Also when a link leads there.
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&dir, &link).unwrap();
    let e = setup_error(&dir, Some(link.join("via-link.key")));
    assert!(e.contains("lies inside the cache directory"), "{e}");
}
