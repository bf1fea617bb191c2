use serde::{Deserialize, Serialize};

use crate::{Digest, RelPath};

/// The version of the manifest format this cairn writes and understands.
pub const MANIFEST_VERSION: u32 = 1;

/// The listing of a tracked directory: every regular file below it, sorted by path. Stored as
/// an object like any file; its digest is the directory's digest. Serialized as compact JSON
/// with a fixed field order, so the same tree always gives the same bytes
/// (`docs/formats/store.md`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    entries: Vec<ManifestEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    /// Relative to the tracked directory.
    pub path: RelPath,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub executable: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    format: String,
    version: u32,
    entries: Vec<ManifestEntry>,
}

/// The one serialization of a manifest: compact JSON, fields in a fixed order.
fn write_canonical<'a>(
    out: &mut impl std::io::Write,
    entries: impl Iterator<Item = (&'a str, &'a Digest, u64, bool)>,
) -> std::io::Result<()> {
    #[derive(Serialize)]
    struct EntryRef<'a> {
        path: &'a str,
        digest: &'a Digest,
        size: u64,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        executable: bool,
    }
    write!(
        out,
        r#"{{"format":"cairn-manifest","version":{MANIFEST_VERSION},"entries":["#
    )?;
    for (i, (path, digest, size, executable)) in entries.enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(
            &mut *out,
            &EntryRef {
                path,
                digest,
                size,
                executable,
            },
        )?;
    }
    out.write_all(b"]}")
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("not a cairn manifest: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("not a cairn manifest: the format field is `{0}`")]
    Format(String),
    #[error("manifest format version {found} is newer than this cairn understands ({supported})")]
    Version { found: u32, supported: u32 },
    #[error("manifest entries are not strictly sorted by path at `{0}`")]
    Unsorted(String),
    #[error("manifest entry `{0}` lies below another entry that is a file")]
    FileAsDirectory(String),
}

impl Manifest {
    /// Builds a manifest from entries in any order.
    pub fn new(mut entries: Vec<ManifestEntry>) -> Self {
        entries.sort_by(|a, b| a.path.as_str().cmp(b.path.as_str()));
        entries.dedup_by(|a, b| a.path == b.path);
        Self { entries }
    }

    pub fn entries(&self) -> &[ManifestEntry] {
        &self.entries
    }

    pub fn total_size(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }

    pub fn get(&self, path: &str) -> Option<&ManifestEntry> {
        self.entries
            .binary_search_by(|e| e.path.as_str().cmp(path))
            .ok()
            .map(|i| &self.entries[i])
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.entries.len() * 120);
        write_canonical(
            &mut out,
            self.entries
                .iter()
                .map(|e| (e.path.as_str(), &e.digest, e.size, e.executable)),
        )
        .expect("writing to memory cannot fail");
        out
    }

    pub fn digest(&self) -> Digest {
        Digest::of(&self.to_bytes())
    }

    /// The digest of the manifest these entries (sorted by path, valid paths) would make,
    /// without building it.
    pub fn digest_of<'a>(
        entries: impl Iterator<Item = (&'a str, &'a Digest, u64, bool)>,
    ) -> Digest {
        // Serialize to memory first: hashing one large buffer is several times faster than
        // feeding the hasher the many small pieces the serializer writes.
        let mut out = Vec::with_capacity(1 << 16);
        write_canonical(&mut out, entries).expect("writing to memory cannot fail");
        Digest::of(&out)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ManifestError> {
        let wire: Wire = serde_json::from_slice(bytes)?;
        if wire.format != "cairn-manifest" {
            return Err(ManifestError::Format(wire.format));
        }
        if wire.version > MANIFEST_VERSION {
            return Err(ManifestError::Version {
                found: wire.version,
                supported: MANIFEST_VERSION,
            });
        }
        for pair in wire.entries.windows(2) {
            if pair[0].path.as_str() >= pair[1].path.as_str() {
                return Err(ManifestError::Unsorted(pair[1].path.to_string()));
            }
        }
        // A file cannot also be a directory holding other entries.
        let files: std::collections::HashSet<&str> =
            wire.entries.iter().map(|e| e.path.as_str()).collect();
        for entry in &wire.entries {
            let path = entry.path.as_str();
            for (i, _) in path.match_indices('/') {
                if files.contains(&path[..i]) {
                    return Err(ManifestError::FileAsDirectory(path.to_string()));
                }
            }
        }
        Ok(Self {
            entries: wire.entries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, content: &[u8]) -> ManifestEntry {
        ManifestEntry {
            path: RelPath::new(path).unwrap(),
            digest: Digest::of(content),
            size: content.len() as u64,
            executable: false,
        }
    }

    #[test]
    fn canonical_regardless_of_input_order() {
        let a = Manifest::new(vec![entry("b", b"2"), entry("a/x", b"1")]);
        let b = Manifest::new(vec![entry("a/x", b"1"), entry("b", b"2")]);
        assert_eq!(a.to_bytes(), b.to_bytes());
        assert_eq!(Manifest::from_bytes(&a.to_bytes()).unwrap(), a);
        assert_eq!(a.get("b").unwrap().size, 1);
        // The streaming digest and the serialized form agree, and match serde's own output.
        let streamed = Manifest::digest_of(
            a.entries()
                .iter()
                .map(|e| (e.path.as_str(), &e.digest, e.size, e.executable)),
        );
        assert_eq!(streamed, a.digest());
        let via_serde = serde_json::to_vec(&Wire {
            format: "cairn-manifest".into(),
            version: 1,
            entries: a.entries.clone(),
        })
        .unwrap();
        assert_eq!(via_serde, a.to_bytes());
        assert!(a.get("c").is_none());
    }

    #[test]
    fn rejects_escaping_and_unsorted_entries() {
        let d = Digest::of(b"");
        let bad = format!(
            r#"{{"format":"cairn-manifest","version":1,"entries":[{{"path":"../../etc/passwd","digest":"{d}","size":0}}]}}"#
        );
        assert!(Manifest::from_bytes(bad.as_bytes()).is_err());
        let unsorted = format!(
            r#"{{"format":"cairn-manifest","version":1,"entries":[{{"path":"b","digest":"{d}","size":0}},{{"path":"a","digest":"{d}","size":0}}]}}"#
        );
        assert!(matches!(
            Manifest::from_bytes(unsorted.as_bytes()),
            Err(ManifestError::Unsorted(_))
        ));
        let nested = format!(
            r#"{{"format":"cairn-manifest","version":1,"entries":[{{"path":"a","digest":"{d}","size":0}},{{"path":"a b","digest":"{d}","size":0}},{{"path":"a/b","digest":"{d}","size":0}}]}}"#
        );
        assert!(matches!(
            Manifest::from_bytes(nested.as_bytes()),
            Err(ManifestError::FileAsDirectory(_))
        ));
        let newer = r#"{"format":"cairn-manifest","version":9,"entries":[]}"#;
        assert!(matches!(
            Manifest::from_bytes(newer.as_bytes()),
            Err(ManifestError::Version { .. })
        ));
    }
}
