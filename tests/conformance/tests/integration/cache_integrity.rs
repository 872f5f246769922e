//! A compiled connector is native code the host runs without checking it:
//! a cache entry is used only when its MAC (keyed, over the component's
//! SHA-256, the engine and the artifact) verifies. Another component's
//! entry filed under the pinned component's name is compiled over, never run.

use crate::common;
use psa_host::{CompiledFrom, Host, HostOptions};
use std::path::{Path, PathBuf};

const HOSTILE: &[u8] = include_bytes!(env!("PSA_TEST_HOSTILE_WASM"));
const HALO: &[u8] = psa_host::bundled::HALOPSA;

fn host(dir: &Path) -> Host {
    Host::new(HostOptions::default().allow_loopback(true).rate_budget(None).declared_budgets(false).cache_dir(Some(dir.to_path_buf()))).unwrap()
}

/// The `.cwasm` and `.sum` of the entry filed under `sha256`.
fn entry(dir: &Path, sha256: &str) -> (PathBuf, PathBuf) {
    let artifact = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(sha256) && name.ends_with(".cwasm")
        })
        .unwrap_or_else(|| panic!("no entry for {sha256}"));
    let sum = artifact.with_extension("sum");
    (artifact, sum)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_components_entry_renamed_to_the_pinned_key_does_not_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cache");
    let (halo_sha, hostile_sha) = (psa_host::sha256_hex_of(HALO), psa_host::sha256_hex_of(HOSTILE));
    {
        let h = host(&dir);
        assert_eq!(h.load("hostile", HOSTILE).await.unwrap().info().id, "hostile");
        assert_eq!(h.load_pinned("halopsa", HALO, &halo_sha).await.unwrap().info().id, "halopsa");
    }
    // The hostile guest's compiled code and its MAC, under HaloPSA's name.
    let (hostile_artifact, hostile_sum) = entry(&dir, &hostile_sha);
    let (halo_artifact, halo_sum) = entry(&dir, &halo_sha);
    std::fs::rename(&hostile_artifact, &halo_artifact).unwrap();
    std::fs::rename(&hostile_sum, &halo_sum).unwrap();

    let c = host(&dir).load_pinned("halopsa", HALO, &halo_sha).await.expect("the pinned component loads");
    assert_eq!(c.compiled_from(), CompiledFrom::Recompiled, "the swapped entry was used");
    assert_eq!(c.info().id, "halopsa", "other code ran under the pinned hash");
    // It behaves as itself: a real import against the simulator.
    let sim = common::start(halo_sim::SimOptions { customers: halo_sim::sample_customers(30, 5), ..Default::default() }).await;
    let mut s = c.open_session(&common::config(&c, common::form(&sim))).await.unwrap();
    assert_eq!(s.import_all(|_| {}).await.expect("import").customers.len(), 30);
    // The rewritten entry is HaloPSA's own and is used from now on.
    assert_eq!(host(&dir).load_pinned("halopsa", HALO, &halo_sha).await.unwrap().compiled_from(), CompiledFrom::Cache);
}
