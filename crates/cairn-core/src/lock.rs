use std::collections::BTreeMap;

use cairn_store::{Digest, RelPath};
use serde::{Deserialize, Serialize};

use crate::registry::ModelEntry;
use crate::toml_error::describe;

/// The version of the `cairn.lock` format this cairn reads and writes.
pub const LOCK_VERSION: u32 = 1;

const HEADER: &str = "# cairn.lock: what cairn pins (format: docs/formats/lock.md).\n\
                      # Written by cairn; commit it, do not edit it by hand.\n";

/// `cairn.lock`: the committed, machine-written record of what the project pins. Entries are
/// kept sorted by path, so a change touches only its own lines and concurrent branches rarely
/// conflict.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Lock {
    pub data: BTreeMap<RelPath, DataEntry>,
    /// Materialized feature views, by view name (`cairn feature materialize`).
    pub feature: BTreeMap<String, FeatureEntry>,
    /// The model registry, by model name (`cairn register`, `cairn models`).
    pub model: BTreeMap<String, ModelEntry>,
}

/// A feature view's offline table: a Parquet object in the store, with what it was computed
/// from. A view whose `definition` and `source` digests are unchanged is not computed again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureEntry {
    /// The offline table (a Parquet file).
    pub digest: Digest,
    pub size: u64,
    pub rows: u64,
    /// The digest of the view's definition (canonical JSON of its `cairn.toml` table).
    pub definition: Digest,
    /// The digest of the source data the table was computed from.
    pub source: Digest,
    /// The newest event timestamp in the table (RFC 3339, UTC), if any row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// With `--start`/`--end`: the event times the table was limited to (RFC 3339, UTC; the
    /// start inclusive, the end exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_end: Option<String>,
    /// The table was last extended by `--incremental`: events older than its newest one that
    /// arrived later are not in it, so a plain materialize computes the view again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub incremental: bool,
    /// When the source has declared expectations: `passed`, or `skipped` (materialized with
    /// `--skip-validation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    File,
    Dir,
}

/// One tracked path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataEntry {
    #[serde(rename = "type")]
    pub kind: EntryKind,
    /// The file's digest, or the digest of the directory's manifest object.
    pub digest: Digest,
    /// Bytes: the file's size or the sum of the directory's file sizes.
    pub size: u64,
    /// Number of files (directories only).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub files: u64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub executable: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    version: u32,
    #[serde(default)]
    data: BTreeMap<RelPath, DataEntry>,
    #[serde(default)]
    feature: BTreeMap<String, FeatureEntry>,
    #[serde(default)]
    model: BTreeMap<String, ModelEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{0}")]
    Invalid(String),
    #[error(
        "{name} has version {found}, but this cairn understands version {supported}: it was written by a newer cairn"
    )]
    Version {
        name: String,
        found: i64,
        supported: u32,
    },
    #[error("{name}: `{inner}` is tracked, but so is `{outer}`, which contains it")]
    Overlap {
        name: String,
        outer: RelPath,
        inner: RelPath,
    },
}

impl Lock {
    /// Parses a lock file's text; `name` is used in messages (`cairn.lock`, `cairn.lock@HEAD~3`).
    pub fn parse(text: &str, name: &str) -> Result<Self, LockError> {
        // One parse into the typed tables. Only when it fails is the text parsed again as a
        // plain table, to tell a lock from a newer cairn (refused by its version, whatever
        // else it holds) from a malformed one.
        let mut wire: Wire = match toml::from_str(text) {
            Ok(wire) => wire,
            Err(e) => {
                check_version(text, name)?;
                return Err(LockError::Invalid(describe(name, text, &e)));
            }
        };
        if wire.version > LOCK_VERSION {
            return Err(LockError::Version {
                name: name.to_string(),
                found: i64::from(wire.version),
                supported: LOCK_VERSION,
            });
        }
        if wire.version != LOCK_VERSION {
            return Err(LockError::Invalid(format!(
                "{name}: unsupported `version = {}` (expected {LOCK_VERSION})",
                wire.version
            )));
        }
        crate::registry::check(name, &mut wire.model).map_err(LockError::Invalid)?;
        let lock = Self {
            data: wire.data,
            feature: wire.feature,
            model: wire.model,
        };
        if let Some((outer, inner)) = lock.first_overlap() {
            return Err(LockError::Overlap {
                name: name.to_string(),
                outer,
                inner,
            });
        }
        Ok(lock)
    }

    pub fn to_toml(&self) -> String {
        let wire = WireRef {
            version: LOCK_VERSION,
            data: &self.data,
            feature: &self.feature,
        };
        let mut body = toml::to_string(&wire).expect("a lock always serializes");
        crate::registry::write_models(&mut body, &self.model);
        format!("{HEADER}{body}")
    }

    /// The tracked entry that is `path` or contains it.
    pub fn entry_containing(&self, path: &RelPath) -> Option<(&RelPath, &DataEntry)> {
        self.data.iter().find(|(p, _)| path.starts_with(p))
    }

    fn first_overlap(&self) -> Option<(RelPath, RelPath)> {
        // Sorted order puts `a` right before `a/…` unless names like `a b` or `a-b` sort
        // between them, so compare each path with all later paths sharing its prefix.
        let paths: Vec<&RelPath> = self.data.keys().collect();
        for (i, outer) in paths.iter().enumerate() {
            for inner in &paths[i + 1..] {
                if !inner.as_str().starts_with(outer.as_str()) {
                    break;
                }
                if inner.starts_with(outer) {
                    return Some(((*outer).clone(), (*inner).clone()));
                }
            }
        }
        None
    }
}

/// The `version` of a lock that did not parse into [`Wire`]: missing is an error, newer than
/// [`LOCK_VERSION`] is [`LockError::Version`].
fn check_version(text: &str, name: &str) -> Result<(), LockError> {
    let table: toml::Table =
        toml::from_str(text).map_err(|e| LockError::Invalid(describe(name, text, &e)))?;
    match table.get("version") {
        None => Err(LockError::Invalid(format!(
            "{name}: missing `version` (expected `version = {LOCK_VERSION}`)"
        ))),
        Some(toml::Value::Integer(found)) if *found > i64::from(LOCK_VERSION) => {
            Err(LockError::Version {
                name: name.to_string(),
                found: *found,
                supported: LOCK_VERSION,
            })
        }
        Some(_) => Ok(()),
    }
}

#[derive(Serialize)]
struct WireRef<'a> {
    version: u32,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    data: &'a BTreeMap<RelPath, DataEntry>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    feature: &'a BTreeMap<String, FeatureEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: EntryKind, content: &[u8]) -> DataEntry {
        DataEntry {
            kind,
            digest: Digest::of(content),
            size: content.len() as u64,
            files: if kind == EntryKind::Dir { 2 } else { 0 },
            executable: false,
        }
    }

    #[test]
    fn round_trip_is_sorted_and_stable() {
        let mut lock = Lock::default();
        lock.data
            .insert(RelPath::new("z.csv").unwrap(), entry(EntryKind::File, b"z"));
        lock.data.insert(
            RelPath::new("data/images").unwrap(),
            entry(EntryKind::Dir, b"m"),
        );
        lock.data.insert(
            RelPath::new("a b/ü.csv").unwrap(),
            entry(EntryKind::File, b"a"),
        );
        let text = lock.to_toml();
        let a = text.find("a b/ü.csv").unwrap();
        let d = text.find("data/images").unwrap();
        let z = text.find("z.csv").unwrap();
        assert!(a < d && d < z, "{text}");
        assert_eq!(Lock::parse(&text, "cairn.lock").unwrap(), lock);
        assert_eq!(Lock::parse(&text, "cairn.lock").unwrap().to_toml(), text);
    }

    #[test]
    fn rejects_bad_locks_with_a_line() {
        let d = Digest::of(b"x");
        let cases = [
            (
                format!(
                    "version = 1\n[data.\"../etc/passwd\"]\ntype = \"file\"\ndigest = \"{d}\"\nsize = 1\n"
                ),
                "cairn.lock:2:",
            ),
            (
                format!(
                    "version = 1\n[data.\"/abs\"]\ntype = \"file\"\ndigest = \"{d}\"\nsize = 1\n"
                ),
                "cairn.lock:2:",
            ),
            (
                "version = 1\n[data.\"a\"]\ntype = \"file\"\ndigest = \"xyz\"\nsize = 1\n"
                    .to_string(),
                "cairn.lock:4:",
            ),
            ("version = 1\n[data\n".to_string(), "cairn.lock:2:"),
            (
                format!("version = 1\n[data.a]\ntype = \"link\"\ndigest = \"{d}\"\nsize = 1\n"),
                "cairn.lock:3:",
            ),
        ];
        for (text, prefix) in cases {
            let err = Lock::parse(&text, "cairn.lock").unwrap_err().to_string();
            assert!(err.starts_with(prefix), "{err} (expected {prefix})\n{text}");
        }
        assert!(matches!(
            Lock::parse("version = 2\n", "cairn.lock"),
            Err(LockError::Version { found: 2, .. })
        ));
        // A newer lock is refused by its version, whatever tables it holds.
        assert!(matches!(
            Lock::parse("version = 2\n[future.x]\ny = 1\n", "cairn.lock"),
            Err(LockError::Version { found: 2, .. })
        ));
        assert!(Lock::parse("", "cairn.lock").is_err());
        assert!(
            Lock::parse("[data]\n", "cairn.lock")
                .unwrap_err()
                .to_string()
                .contains("missing `version`")
        );
    }

    #[test]
    fn rejects_overlapping_entries() {
        let d = Digest::of(b"x");
        let text = format!(
            "version = 1\n[data.\"a\"]\ntype = \"dir\"\ndigest = \"{d}\"\nsize = 1\nfiles = 1\n\
             [data.\"a b\"]\ntype = \"file\"\ndigest = \"{d}\"\nsize = 1\n\
             [data.\"a/x\"]\ntype = \"file\"\ndigest = \"{d}\"\nsize = 1\n"
        );
        assert!(matches!(
            Lock::parse(&text, "cairn.lock"),
            Err(LockError::Overlap { .. })
        ));
    }
}
