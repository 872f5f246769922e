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
            Ok(Some(c)) => return Ok((c, CompiledFrom::Cache)),
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
