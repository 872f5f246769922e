//! Compiled connectors cached on disk, so a connector is compiled once per
//! machine and wasmtime version, not once per process.
//!
//! A compiled artifact is native code that wasmtime runs without checking
//! it, so an entry is trusted only when it is authenticated: an HMAC-SHA256
//! under a key that only this user can read, over the component's SHA-256
//! (the key the entry is filed under), the engine's compatibility hash and
//! the artifact's bytes. An entry copied or renamed to another component's
//! name, written by another key, or changed in any byte does not verify
//! and is compiled again from the `.wasm`.
//!
//! | what | how |
//! |---|---|
//! | key | SHA-256 of the component's bytes, plus a hash of the engine's compatibility (wasmtime version, target, every codegen setting) |
//! | entry | `<dir>/<sha256>-<compat>.cwasm` (wasmtime's precompiled artifact) and `<dir>/<sha256>-<compat>.sum` (its MAC, hex) |
//! | MAC key | 32 random bytes in a key file of mode `0600` outside the directory: `HostOptions::cache_key_file`, by default `<dir>.key` beside it (`~/.cache/psa-host.key`); made on first use |
//! | hit | the MAC verifies over the bytes read, then wasmtime loads those very bytes (`Component::deserialize`, which also checks the header against the engine) |
//! | corrupt, stale, foreign or tampered entry | MAC missing or not verifying, unreadable file, or wasmtime refusing the artifact: logged, never loaded, recompiled from the `.wasm` (`CompiledFrom::Recompiled`), entry rewritten |
//! | directory | created `0700`; `Host::new` refuses one that another user owns or that group or others may write, naming the fix (`chmod 700`, `chown`, another `--cache-dir`, or `--no-cache`) |
//! | key file | `Host::new` refuses one that another user owns, that group or others may read or write (`chmod 600`), that is not 32 bytes, or that lies inside the directory |
//! | no `XDG_CACHE_HOME` and no `HOME` | no cache (logged): never a shared temporary directory |
//! | write | to a temporary file in the same directory, then renamed, so a crash or a concurrent writer never leaves a half-written entry |
//! | failure to write | logged; the compiled component is used all the same |
//! | eviction | a hit marks its entry used (the `.sum` file's modification time); after each write the least recently used entries beyond [`MAX_ENTRIES`] or [`MAX_BYTES`] are deleted, the new one never, and temporary files older than an hour (a crashed writer's) with them |
//!
//! Someone who can write the key file or run code as this user can still
//! forge an entry; the checks keep out everyone else, and entries that are
//! merely in the wrong place.

use hmac::Mac;
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::Engine;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Where a connector's machine code came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompiledFrom {
    /// Compiled now; no cache is configured.
    Compiled,
    /// Compiled now, and written to the cache.
    CompiledAndCached,
    /// Compiled now because the cache entry was corrupt, stale or did not
    /// authenticate; the entry was rewritten.
    Recompiled,
    /// Loaded from the cache.
    Cache,
}

/// The default cache directory: `$XDG_CACHE_HOME/psa-host`, else
/// `~/.cache/psa-host`; `None` (no cache, logged) when neither variable is
/// set to an absolute path.
pub fn default_dir() -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").and_then(absolute) {
        return Some(x.join("psa-host"));
    }
    if let Some(h) = std::env::var_os("HOME").and_then(absolute) {
        return Some(h.join(".cache").join("psa-host"));
    }
    tracing::info!("neither XDG_CACHE_HOME nor HOME is set: compiled connectors are not cached (every load compiles)");
    None
}

/// The default key file of a cache directory: `<dir>.key`, beside it.
pub fn default_key_file(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "psa-host-cache".into());
    name.push(".key");
    dir.with_file_name(name)
}

/// Entries kept (each a connector build for one engine configuration).
pub const MAX_ENTRIES: usize = 64;
/// Bytes of compiled artifacts kept.
pub const MAX_BYTES: u64 = 1 << 30;

/// Why the cache could not be opened (`Host::new` then fails with this
/// sentence): each names the path and the fix.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CacheError {
    #[error("cannot create the compiled-connector cache directory {}: {source}. Give another directory (--cache-dir) or run without a cache (--no-cache)", dir.display())]
    CreateDir { dir: PathBuf, source: std::io::Error },
    #[error("cannot inspect {}: {source}", path.display())]
    Inspect { path: PathBuf, source: std::io::Error },
    /// A directory or key file another user owns or may write.
    #[error("{0}")]
    Loose(Loose),
    #[error("the cache key file {} lies inside the cache directory {}; it must be kept outside it (by default it is {})", key_file.display(), dir.display(), default_key_file(dir).display())]
    KeyInsideDir { key_file: PathBuf, dir: PathBuf },
    #[error("cannot draw a random cache key: {0}")]
    RandomKey(getrandom::Error),
    #[error("cannot write the compiled-connector cache key file {}: {source}. Give another key file (HostOptions::cache_key_file) or cache directory (--cache-dir), or run without a cache (--no-cache)", path.display())]
    WriteKey { path: PathBuf, source: std::io::Error },
    #[error("the cache key file {} vanished while it was made; retry", path.display())]
    KeyVanished { path: PathBuf },
    #[error("cannot inspect the cache key file {}: {source}", path.display())]
    InspectKey { path: PathBuf, source: std::io::Error },
    #[error("the cache key file {} is not a regular file; remove it (a new key is made)", path.display())]
    KeyNotAFile { path: PathBuf },
    #[error("cannot read the cache key file {}: {source}", path.display())]
    ReadKey { path: PathBuf, source: std::io::Error },
    #[error("the cache key file {} holds {len} bytes, not a 32-byte key; delete it (a new key is made and cached connectors are compiled again)", path.display())]
    KeyLength { path: PathBuf, len: usize },
}

/// A cache directory (`file` false) or key file (`file` true) that another
/// user owns, or that group or others may write (a key file: read or write).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Loose {
    path: PathBuf,
    file: bool,
    problem: LooseProblem,
}

#[derive(Debug, PartialEq, Eq)]
enum LooseProblem {
    Owner { owner: u32, euid: u32 },
    Mode { mode: u32 },
}

impl std::fmt::Display for Loose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.file { "the compiled-connector cache key file" } else { "the compiled-connector cache directory" };
        let alternatives = "or give another --cache-dir, or run without a cache (--no-cache)";
        let path = self.path.display();
        match self.problem {
            LooseProblem::Owner { owner, euid } => write!(
                f,
                "{what} {path} belongs to user id {owner}, not to this process's user (id {euid}); whoever owns it could make the host run native code of their choosing. Fix: `chown {euid} {path}` (as root), {alternatives}"
            ),
            LooseProblem::Mode { mode } => {
                let (chmod, who) = if self.file { ("600", "readable or writable") } else { ("700", "writable") };
                write!(
                    f,
                    "{what} {path} is {who} by group or others (mode {:04o}); anyone who can write it could make the host run native code of their choosing. Fix: `chmod {chmod} {path}`, {alternatives}",
                    mode & 0o7777
                )
            }
        }
    }
}

/// Why a cache entry is not trusted (it is then compiled again).
#[derive(Debug, thiserror::Error)]
enum EntryError {
    #[error("its MAC file is missing")]
    MacMissing,
    #[error("cannot read its MAC: {0}")]
    ReadMac(std::io::Error),
    #[error("its MAC file does not hold a MAC (an entry from an older psa-host?)")]
    NotAMac,
    #[error("cannot read it: {0}")]
    Read(std::io::Error),
    #[error("its MAC does not verify (corrupt or truncated, filed under another component's name, written with another key, or tampered with)")]
    MacMismatch,
    #[error("wasmtime refused it ({0:#})")]
    Refused(wasmtime::Error),
}

/// The on-disk cache of one engine.
pub(crate) struct CompiledCache {
    dir: PathBuf,
    compat: String,
    key: [u8; 32],
}

impl CompiledCache {
    /// Opens (and creates) the cache in `dir`, with its MAC key in
    /// `key_file` (default [`default_key_file`]). Fails, with the fix, when
    /// the directory or the key file could let another user in.
    pub(crate) fn open(engine: &Engine, dir: PathBuf, key_file: Option<PathBuf>) -> Result<CompiledCache, CacheError> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        create_private_dir(&dir).map_err(|source| CacheError::CreateDir { dir: dir.clone(), source })?;
        check_private(&dir, false)?;
        let key_file = key_file.unwrap_or_else(|| default_key_file(&dir));
        let (abs_dir, abs_key) = (absolute(&dir), absolute(&key_file));
        if abs_key.starts_with(&abs_dir) {
            return Err(CacheError::KeyInsideDir { key_file, dir });
        }
        let key = load_or_create_key(&key_file)?;
        Ok(CompiledCache { dir, compat: format!("{:016x}", h.finish()), key })
    }

    fn paths(&self, sha256: &str) -> (PathBuf, PathBuf) {
        let stem = format!("{sha256}-{}", self.compat);
        (self.dir.join(format!("{stem}.cwasm")), self.dir.join(format!("{stem}.sum")))
    }

    /// The MAC of an entry: the component's SHA-256, the engine's
    /// compatibility hash and the artifact.
    fn mac(&self, sha256: &str, artifact: &[u8]) -> HmacSha256 {
        let mut m = <HmacSha256 as Mac>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        m.update(b"psa-host compiled connector v1\0");
        m.update(sha256.as_bytes());
        m.update(b"\0");
        m.update(self.compat.as_bytes());
        m.update(b"\0");
        m.update(artifact);
        m
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
        match self.read(engine, sha256, &artifact, &sum) {
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
        if let Err(e) = self.write(sha256, &component, &artifact, &sum) {
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
    fn read(&self, engine: &Engine, sha256: &str, artifact: &Path, sum: &Path) -> Result<Option<Component>, EntryError> {
        let expected = match std::fs::read_to_string(sum) {
            Ok(s) => s.trim().to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return if artifact.exists() { Err(EntryError::MacMissing) } else { Ok(None) };
            }
            Err(e) => return Err(EntryError::ReadMac(e)),
        };
        let expected = from_hex(&expected).ok_or(EntryError::NotAMac)?;
        let data = std::fs::read(artifact).map_err(EntryError::Read)?;
        self.mac(sha256, &data).verify_slice(&expected).map_err(|_| EntryError::MacMismatch)?;
        // SAFETY: these bytes are exactly the ones the MAC authenticates: an
        // artifact this cache wrote, with this key, for this component and
        // an engine with the same compatibility hash. They are loaded from
        // memory, not mapped again from the file, so a later change to the
        // file cannot slip in; wasmtime checks the header against the engine.
        unsafe { Component::deserialize(engine, &data) }
            .map(Some)
            .map_err(EntryError::Refused)
    }

    fn write(&self, sha256: &str, component: &Component, artifact: &Path, sum: &Path) -> std::io::Result<()> {
        create_private_dir(&self.dir)?;
        let data = component.serialize().map_err(std::io::Error::other)?;
        let mac = to_hex(&self.mac(sha256, &data).finalize().into_bytes());
        let tmp_suffix = format!("tmp-{}-{:x}", std::process::id(), rand_u64());
        let tmp_artifact = artifact.with_extension(format!("cwasm.{tmp_suffix}"));
        let tmp_sum = sum.with_extension(format!("sum.{tmp_suffix}"));
        std::fs::write(&tmp_artifact, &data)?;
        std::fs::write(&tmp_sum, mac)?;
        // Artifact first: a reader that sees the new MAC sees the new artifact.
        std::fs::rename(&tmp_artifact, artifact)?;
        std::fs::rename(&tmp_sum, sum)?;
        Ok(())
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || !text.is_ascii() {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
}

/// `p` with symbolic links resolved (its parent's, when `p` does not exist
/// yet), so a link cannot hide the key file inside the cache directory.
fn absolute(p: &Path) -> PathBuf {
    let p = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    if let Ok(real) = std::fs::canonicalize(&p) {
        return real;
    }
    match (p.parent(), p.file_name()) {
        (Some(parent), Some(name)) => std::fs::canonicalize(parent).map(|real| real.join(name)).unwrap_or(p),
        _ => p,
    }
}

/// The user id this process runs as.
#[cfg(unix)]
fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Why a directory (`file` false) or key file (`file` true) with this owner
/// and mode must not be used by a process running as `euid`; `None` when
/// it may. A directory must not be writable by group or others; a key file
/// not readable or writable by them.
fn loose(path: &Path, file: bool, owner: u32, mode: u32, euid: u32) -> Option<Loose> {
    let loose = |problem| Some(Loose { path: path.to_path_buf(), file, problem });
    if owner != euid {
        return loose(LooseProblem::Owner { owner, euid });
    }
    let bits = if file { 0o077 } else { 0o022 };
    if mode & bits != 0 {
        return loose(LooseProblem::Mode { mode });
    }
    None
}

/// Refuses a directory or key file another user could write.
fn check_private(path: &Path, file: bool) -> Result<(), CacheError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).map_err(|source| CacheError::Inspect { path: path.to_path_buf(), source })?;
        if let Some(why) = loose(path, file, meta.uid(), meta.mode(), effective_uid()) {
            return Err(CacheError::Loose(why));
        }
    }
    #[cfg(not(unix))]
    let _ = (path, file, loose);
    Ok(())
}

/// The MAC key in `path`, made (32 random bytes, mode `0600`) when there is
/// none.
fn load_or_create_key(path: &Path) -> Result<[u8; 32], CacheError> {
    if let Some(key) = read_key(path)? {
        return Ok(key);
    }
    let mut key = [0u8; 32];
    getrandom::getrandom(&mut key).map_err(CacheError::RandomKey)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!("{name}.tmp-{}-{:x}", std::process::id(), rand_u64()));
    let written = (|| {
        use std::io::Write;
        let mut options = std::fs::File::options();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp)?;
        f.write_all(&key)?;
        f.sync_all()?;
        // A link, unlike a rename, never replaces a key another process
        // made in the meantime; that one is then used.
        match std::fs::hard_link(&tmp, path) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => std::fs::rename(&tmp, path),
            _ => Ok(()),
        }
    })();
    let _ = std::fs::remove_file(&tmp);
    written.map_err(|source| CacheError::WriteKey { path: path.to_path_buf(), source })?;
    read_key(path)?.ok_or_else(|| CacheError::KeyVanished { path: path.to_path_buf() })
}

/// The key in `path`; `None` when there is no such file.
fn read_key(path: &Path) -> Result<Option<[u8; 32]>, CacheError> {
    let path_buf = || path.to_path_buf();
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(CacheError::InspectKey { path: path_buf(), source }),
        Ok(m) if !m.is_file() => return Err(CacheError::KeyNotAFile { path: path_buf() }),
        Ok(_) => {}
    }
    check_private(path, true)?;
    let bytes = std::fs::read(path).map_err(|source| CacheError::ReadKey { path: path_buf(), source })?;
    let key: [u8; 32] =
        bytes.try_into().map_err(|b: Vec<u8>| CacheError::KeyLength { path: path_buf(), len: b.len() })?;
    Ok(Some(key))
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
    fn a_directory_or_key_of_another_user_or_open_to_others_is_refused() {
        let p = Path::new("/c");
        let why = loose(p, false, 1001, 0o40700, 1000).expect("another owner").to_string();
        assert!(why.contains("belongs to user id 1001") && why.contains("chown 1000 /c") && why.contains("--no-cache"), "{why}");
        let why = loose(p, false, 1000, 0o40775, 1000).expect("group-writable").to_string();
        assert!(why.contains("writable by group or others (mode 0775)") && why.contains("chmod 700 /c"), "{why}");
        assert!(loose(p, false, 1000, 0o40757, 1000).is_some(), "world-writable");
        assert_eq!(loose(p, false, 1000, 0o40755, 1000), None, "readable by others is fine for the directory");
        let why = loose(p, true, 1000, 0o100644, 1000).expect("a readable key").to_string();
        assert!(why.contains("readable or writable by group or others (mode 0644)") && why.contains("chmod 600 /c"), "{why}");
        assert!(loose(p, true, 0, 0o100600, 1000).is_some(), "a key of another user");
        assert_eq!(loose(p, true, 1000, 0o100600, 1000), None);
    }

    #[test]
    fn the_key_file_is_made_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.key");
        let key = load_or_create_key(&path).unwrap();
        assert_eq!(load_or_create_key(&path).unwrap(), key, "the same key on the next run");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(&path, b"short").unwrap();
        assert!(load_or_create_key(&path).unwrap_err().to_string().contains("holds 5 bytes"));
        assert_eq!(default_key_file(Path::new("/home/u/.cache/psa-host")), Path::new("/home/u/.cache/psa-host.key"));
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
