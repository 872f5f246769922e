//! Compiled connectors cached on disk, so a connector is compiled once per
//! machine and wasmtime version, not once per process.
//!
//! | what | how |
//! |---|---|
//! | key | SHA-256 of the component's bytes, plus a hash of the engine's compatibility (wasmtime version, target, every codegen setting) |
//! | entry | `<dir>/<sha256>-<compat>.cwasm` (wasmtime's precompiled artifact) and `<dir>/<sha256>-<compat>.sum` (SHA-256 of the artifact) |
//! | hit | the `.sum` matches the artifact, then wasmtime maps the file (`Component::deserialize_file`) and checks its header against the engine |
//! | corrupt or stale entry | checksum mismatch, unreadable file, or wasmtime refusing the artifact: logged, recompiled from the `.wasm`, entry rewritten |
//! | write | to a temporary file in the same directory, then renamed, so a crash or a concurrent writer never leaves a half-written entry |
//! | directory | created `0700`; anyone who can write it can run native code in the host, so it must belong to the platform's user only |
//! | failure to write | logged; the compiled component is used all the same |
//! | eviction | a hit marks its entry used (the `.sum` file's modification time); after each write the least recently used entries beyond [`MAX_ENTRIES`] or [`MAX_BYTES`] are deleted, the new one never, and temporary files older than an hour (a crashed writer's) with them |
//!
//! The checksum guards against corruption (a truncated copy, a bad disk), not
//! against an attacker who can write the directory: such an attacker could
//! rewrite the checksum too.

use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::Engine;

/// Where a connector's machine code came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompiledFrom {
    /// Compiled now; no cache is configured.
    Compiled,
    /// Compiled now, and written to the cache.
    CompiledAndCached,
    /// Compiled now because the cache entry was corrupt or stale; the entry
    /// was rewritten.
    Recompiled,
    /// Mapped from the cache.
    Cache,
}

/// The default cache directory: `$XDG_CACHE_HOME/psa-host`, else
/// `~/.cache/psa-host`, else `psa-host-cache` in the temporary directory.
pub fn default_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("psa-host");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h).join(".cache").join("psa-host");
    }
    std::env::temp_dir().join("psa-host-cache")
}

/// Entries kept (each a connector build for one engine configuration).
pub const MAX_ENTRIES: usize = 64;
/// Bytes of compiled artifacts kept.
pub const MAX_BYTES: u64 = 1 << 30;

/// The on-disk cache of one engine.
pub(crate) struct CompiledCache {
    dir: PathBuf,
    compat: String,
}

impl CompiledCache {
    pub(crate) fn new(engine: &Engine, dir: PathBuf) -> CompiledCache {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        CompiledCache { dir, compat: format!("{:016x}", h.finish()) }
    }

    fn paths(&self, sha256: &str) -> (PathBuf, PathBuf) {
        let stem = format!("{sha256}-{}", self.compat);
        (self.dir.join(format!("{stem}.cwasm")), self.dir.join(format!("{stem}.sum")))
    }

    /// The component for `bytes` (whose SHA-256 is `sha256`), from the cache
    /// or compiled with `compile` and then cached.
    pub(crate) fn get_or_compile(
        &self,
        engine: &Engine,
        sha256: &str,
        compile: impl FnOnce() -> wasmtime::Result<Component>,
    ) -> wasmtime::Result<(Component, CompiledFrom)> {
        let (artifact, sum) = self.paths(sha256);
        let mut from = CompiledFrom::CompiledAndCached;
        match self.read(engine, &artifact, &sum) {
            Ok(Some(c)) => {
                mark_used(&sum);
                return Ok((c, CompiledFrom::Cache));
            }
            Ok(None) => {}
            Err(why) => {
                tracing::warn!(entry = %artifact.display(), "compiled-connector cache entry not used: {why}; recompiling");
                from = CompiledFrom::Recompiled;
            }
        }
        let component = compile()?;
        if let Err(e) = self.write(&component, &artifact, &sum) {
            tracing::warn!(dir = %self.dir.display(), "could not write the compiled-connector cache: {e}");
            from = CompiledFrom::Compiled;
        } else {
            let removed = sweep(&self.dir, &artifact, MAX_ENTRIES, MAX_BYTES);
            if removed > 0 {
                tracing::info!(dir = %self.dir.display(), "removed {removed} least recently used compiled-connector cache entries");
            }
        }
        Ok((component, from))
    }

    /// `Ok(None)` when there is no entry; `Err` when there is one that must
    /// not be trusted.
    fn read(&self, engine: &Engine, artifact: &Path, sum: &Path) -> Result<Option<Component>, String> {
        let expected = match std::fs::read_to_string(sum) {
            Ok(s) => s.trim().to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return if artifact.exists() { Err("its checksum file is missing".into()) } else { Ok(None) };
            }
            Err(e) => return Err(format!("cannot read its checksum: {e}")),
        };
        let data = std::fs::read(artifact).map_err(|e| format!("cannot read it: {e}"))?;
        if crate::sha256_hex_of(&data) != expected {
            return Err("its checksum does not match (corrupt or truncated)".into());
        }
        drop(data);
        // SAFETY: the artifact was written by this cache for an engine with the
        // same compatibility hash and its checksum matches what was written;
        // wasmtime checks the header against the engine again.
        unsafe { Component::deserialize_file(engine, artifact) }
            .map(Some)
            .map_err(|e| format!("wasmtime refused it ({e:#})"))
    }

    fn write(&self, component: &Component, artifact: &Path, sum: &Path) -> std::io::Result<()> {
        create_private_dir(&self.dir)?;
        let data = component.serialize().map_err(std::io::Error::other)?;
        let tmp_suffix = format!("tmp-{}-{:x}", std::process::id(), rand_u64());
        let tmp_artifact = artifact.with_extension(format!("cwasm.{tmp_suffix}"));
        let tmp_sum = sum.with_extension(format!("sum.{tmp_suffix}"));
        std::fs::write(&tmp_artifact, &data)?;
        std::fs::write(&tmp_sum, crate::sha256_hex_of(&data))?;
        // Artifact first: a reader that sees the new sum sees the new artifact.
        std::fs::rename(&tmp_artifact, artifact)?;
        std::fs::rename(&tmp_sum, sum)?;
        Ok(())
    }
}

/// Records a hit: the entry's `.sum` gets the current time as its
/// modification time. Best effort: a read-only cache still serves hits.
fn mark_used(sum: &Path) {
    if let Ok(f) = std::fs::File::options().write(true).open(sum) {
        let _ = f.set_modified(std::time::SystemTime::now());
    }
}

/// Deletes the least recently used entries of `dir` beyond `max_entries` or
/// `max_bytes` (never `keep`, the `.cwasm` just written), and temporary
/// files older than an hour. Returns the number of entries deleted. Errors
/// are ignored: another process may be sweeping the same directory, and a
/// process that mapped a deleted artifact keeps using it.
fn sweep(dir: &Path, keep: &Path, max_entries: usize, max_bytes: u64) -> usize {
    use std::time::{Duration, SystemTime};
    let Ok(list) = std::fs::read_dir(dir) else { return 0 };
    let now = SystemTime::now();
    let mut entries: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
    for item in list.flatten() {
        let path = item.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        let Ok(meta) = item.metadata() else { continue };
        if name.contains(".tmp-") {
            let old = meta.modified().ok().and_then(|m| now.duration_since(m).ok()).is_some_and(|age| age > Duration::from_secs(3600));
            if old {
                let _ = std::fs::remove_file(&path);
            }
            continue;
        }
        if !name.ends_with(".cwasm") {
            continue;
        }
        // Last use: the `.sum` (touched on every hit), else the artifact.
        let used = std::fs::metadata(path.with_extension("sum")).and_then(|m| m.modified()).or_else(|_| meta.modified());
        entries.push((used.unwrap_or(SystemTime::UNIX_EPOCH), meta.len(), path));
    }
    // Most recently used first; the new entry always leads.
    entries.sort_by_key(|(used, _, path)| (path.as_path() != keep, std::cmp::Reverse(*used)));
    let (mut count, mut bytes, mut removed) = (0usize, 0u64, 0usize);
    for (_, len, path) in entries {
        if path != keep && (count >= max_entries || bytes.saturating_add(len) > max_bytes) {
            let _ = std::fs::remove_file(path.with_extension("sum"));
            if std::fs::remove_file(&path).is_ok() {
                removed += 1;
            }
            continue;
        }
        count += 1;
        bytes = bytes.saturating_add(len);
    }
    removed
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    /// An entry of `len` bytes last used `age_s` seconds ago.
    fn entry(dir: &Path, stem: &str, len: usize, age_s: u64) -> PathBuf {
        let artifact = dir.join(format!("{stem}.cwasm"));
        std::fs::write(&artifact, vec![0u8; len]).unwrap();
        let sum = dir.join(format!("{stem}.sum"));
        std::fs::write(&sum, "x").unwrap();
        let when = SystemTime::now() - Duration::from_secs(age_s);
        std::fs::File::options().write(true).open(&sum).unwrap().set_modified(when).unwrap();
        artifact
    }

    fn stems(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn the_least_recently_used_entries_go_first_and_the_new_one_stays() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        entry(d, "a", 10, 400);
        entry(d, "b", 10, 100);
        entry(d, "c", 10, 300);
        // The new entry is the oldest by the clock and still stays.
        let new = entry(d, "new", 10, 1000);
        assert_eq!(sweep(d, &new, 3, u64::MAX), 1);
        assert_eq!(stems(d), ["b.cwasm", "b.sum", "c.cwasm", "c.sum", "new.cwasm", "new.sum"]);
        // A hit makes an entry the most recently used.
        mark_used(&d.join("c.sum"));
        assert_eq!(sweep(d, &new, 2, u64::MAX), 1);
        assert_eq!(stems(d), ["c.cwasm", "c.sum", "new.cwasm", "new.sum"]);
        // The byte cap: 25 bytes leave room for two entries of 10.
        entry(d, "d", 10, 50);
        assert_eq!(sweep(d, &new, 10, 25), 1);
        assert_eq!(stems(d), ["c.cwasm", "c.sum", "new.cwasm", "new.sum"]);
        // Even alone and over the byte cap, the new entry stays.
        assert_eq!(sweep(d, &new, 0, 0), 1);
        assert_eq!(stems(d), ["new.cwasm", "new.sum"]);
    }

    #[test]
    fn stale_temporary_files_are_removed_and_fresh_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let new = entry(d, "new", 10, 0);
        for (name, age) in [("x.cwasm.tmp-1-a", 7200), ("x.sum.tmp-1-a", 7200), ("y.cwasm.tmp-2-b", 10)] {
            let p = d.join(name);
            std::fs::write(&p, "t").unwrap();
            std::fs::File::options().write(true).open(&p).unwrap().set_modified(SystemTime::now() - Duration::from_secs(age)).unwrap();
        }
        assert_eq!(sweep(d, &new, 10, u64::MAX), 0);
        assert_eq!(stems(d), ["new.cwasm", "new.sum", "y.cwasm.tmp-2-b"]);
    }
}
