use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A path relative to a project root (or to a tracked directory), in the one canonical form
/// cairn writes into lock files and manifests: UTF-8, `/`-separated, no empty, `.` or `..`
/// components, not absolute, and never entering `.git` or `.cairn`.
///
/// Every path read from a lock file or a manifest goes through [`RelPath::new`], so a crafted
/// entry can never make cairn write outside the project.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelPath(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid path `{path}`: {reason}")]
pub struct RelPathError {
    pub path: String,
    pub reason: &'static str,
}

impl RelPath {
    pub fn new(path: impl Into<String>) -> Result<Self, RelPathError> {
        let path = path.into();
        Self::check(&path)?;
        Ok(Self(path))
    }

    /// Checks that `path` is valid without taking ownership of it.
    pub fn check(path: &str) -> Result<(), RelPathError> {
        let fail = |reason| {
            Err(RelPathError {
                path: path.to_string(),
                reason,
            })
        };
        if path.is_empty() {
            return fail("the path is empty");
        }
        if path.starts_with('/') {
            return fail("absolute paths are not allowed");
        }
        if path.contains('\\') {
            return fail("backslashes are not allowed (use `/` as the separator)");
        }
        if path.contains('\0') {
            return fail("NUL characters are not allowed");
        }
        for component in path.split('/') {
            match component {
                "" => {
                    return fail("empty path components (`//` or a trailing `/`) are not allowed");
                }
                "." | ".." => return fail("`.` and `..` components are not allowed"),
                c if c.eq_ignore_ascii_case(".git") || c.eq_ignore_ascii_case(".cairn") => {
                    return fail("paths inside `.git` or `.cairn` are not allowed");
                }
                c if c.len() == 2
                    && c.as_bytes()[0].is_ascii_alphabetic()
                    && c.ends_with(':')
                    && path.starts_with(c) =>
                {
                    return fail("drive-letter paths are not allowed");
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Builds a path from the components of a relative [`Path`].
    pub fn from_path(path: &Path) -> Result<Self, RelPathError> {
        let mut out = String::new();
        for component in path.components() {
            let std::path::Component::Normal(part) = component else {
                return Err(RelPathError {
                    path: path.display().to_string(),
                    reason: "only plain relative paths are allowed",
                });
            };
            let Some(part) = part.to_str() else {
                return Err(RelPathError {
                    path: path.display().to_string(),
                    reason: "file names must be valid UTF-8",
                });
            };
            if !out.is_empty() {
                out.push('/');
            }
            out.push_str(part);
        }
        Self::new(out)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Joins a child path below this one.
    pub fn join(&self, child: &RelPath) -> RelPath {
        RelPath(format!("{}/{}", self.0, child.0))
    }

    /// `other` relative to `self`, if `other` is `self` or below it.
    pub fn strip_prefix_of<'a>(&self, other: &'a str) -> Option<&'a str> {
        if other == self.0 {
            Some("")
        } else {
            other.strip_prefix(self.0.as_str())?.strip_prefix('/')
        }
    }

    /// Whether `self` equals `other` or lies below it.
    pub fn starts_with(&self, other: &RelPath) -> bool {
        other.strip_prefix_of(&self.0).is_some()
    }

    /// The path on disk below `root`.
    pub fn to_path(&self, root: &Path) -> PathBuf {
        let mut p = root.to_path_buf();
        p.extend(self.0.split('/'));
        p
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl AsRef<str> for RelPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for RelPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RelPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        RelPath::new(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_paths() {
        for ok in [
            "a",
            "data/raw.csv",
            "dir with space/ünïcode.csv",
            "a/.hidden",
            "..a/b..",
            "t:1.csv",
        ] {
            assert_eq!(RelPath::new(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_escapes() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "a/",
            "./a",
            "a/./b",
            ".git/hooks/x",
            "a/.GIT/config",
            ".cairn/objects",
            "a\\b",
            "C:/x",
            "a\0b",
        ] {
            assert!(RelPath::new(bad).is_err(), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn prefix_logic() {
        let dir = RelPath::new("data").unwrap();
        assert_eq!(dir.strip_prefix_of("data/x.csv"), Some("x.csv"));
        assert_eq!(dir.strip_prefix_of("data"), Some(""));
        assert_eq!(dir.strip_prefix_of("database/x"), None);
        assert!(RelPath::new("data/a").unwrap().starts_with(&dir));
        assert!(!RelPath::new("database").unwrap().starts_with(&dir));
    }
}
