//! What `psa-host new` (a project) and `import --record` (fixtures) share
//! when they write a whole set of files: the target directory must be new
//! or empty, and strings go into TOML quoted by the `toml` crate.

use std::path::Path;

/// What is at a path the CLI is asked to fill with files.
pub enum Target {
    /// Nothing: the CLI creates it.
    Absent,
    /// An empty directory (or a link to one).
    Empty,
    /// A directory holding `first` (and maybe more).
    NotEmpty {
        /// The name of one entry, to show.
        first: String,
    },
    /// A file, or a link that leads to no directory.
    NotADirectory,
}

/// Looks at `dir` without changing anything.
pub fn inspect(dir: &Path) -> std::io::Result<Target> {
    let meta = match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Target::Absent),
        Err(e) => return Err(e),
        Ok(m) => m,
    };
    if !meta.is_dir() && !dir.is_dir() {
        return Ok(Target::NotADirectory);
    }
    Ok(match std::fs::read_dir(dir)?.next() {
        None => Target::Empty,
        Some(entry) => Target::NotEmpty { first: entry.map(|e| e.file_name().to_string_lossy().into_owned()).unwrap_or_default() },
    })
}

/// `s` as a TOML string, quoted and escaped.
pub fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}
