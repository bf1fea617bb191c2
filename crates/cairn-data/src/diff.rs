use std::cmp::Ordering;
use std::collections::BTreeSet;

use cairn_core::{DataEntry, EntryKind, Git, Lock, Project};
use cairn_store::scan::key;
use cairn_store::{Digest, Manifest, ManifestEntry, RelPath, Store, StoreError};
use serde::Serialize;

use crate::DataError;
use crate::history::committed_lock;
use crate::manifest::load_manifest;

pub struct DiffOptions {
    /// The old side: a git revision; `None` means HEAD.
    pub rev_a: Option<String>,
    /// The new side: a git revision; `None` means the workspace's `cairn.lock`.
    pub rev_b: Option<String>,
}

/// One side of the comparison.
#[derive(Debug, Clone, Serialize)]
pub struct DiffSide {
    /// The git revision as given (`HEAD` when it was the default), or `None` for the
    /// workspace's `cairn.lock`.
    pub rev: Option<String>,
    /// False when this side has no `cairn.lock` and was compared as an empty lock: a revision
    /// where none was committed, a HEAD without commits, or a workspace without one.
    pub lock_found: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiffChange {
    /// Tracked on the new side only.
    Added,
    /// Tracked on the old side only.
    Removed,
    /// Tracked on both sides with a different entry (content, executable bit or type).
    Modified,
}

/// A tracked path as one lock records it.
#[derive(Debug, Clone, Serialize)]
pub struct DiffVersion {
    #[serde(rename = "type")]
    pub kind: EntryKind,
    /// The file's digest, or the digest of the directory's manifest.
    pub digest: Digest,
    pub size: u64,
    /// Number of files (1 for a file).
    pub files: u64,
    pub executable: bool,
}

/// One file inside a tracked directory as a manifest records it.
#[derive(Debug, Clone, Serialize)]
pub struct DiffFileVersion {
    pub digest: Digest,
    pub size: u64,
    pub executable: bool,
}

/// A file that differs between the two manifests of a modified directory.
#[derive(Debug, Clone, Serialize)]
pub struct DiffFile {
    /// Project-relative path.
    pub path: String,
    /// `None` for an added file.
    pub old: Option<DiffFileVersion>,
    /// `None` for a removed file.
    pub new: Option<DiffFileVersion>,
}

/// What changed inside a directory tracked on both sides.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DiffFiles {
    pub added: Vec<DiffFile>,
    pub removed: Vec<DiffFile>,
    /// Different content or executable bit.
    pub modified: Vec<DiffFile>,
    pub unchanged: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DiffEntry {
    pub path: RelPath,
    pub change: DiffChange,
    /// `None` for an added path.
    pub old: Option<DiffVersion>,
    /// `None` for a removed path.
    pub new: Option<DiffVersion>,
    /// For a path that is a directory on both sides: the files that differ inside it.
    /// `None` otherwise, and when `detail_unavailable`.
    pub files: Option<DiffFiles>,
    /// True when the file-level detail could not be computed because a manifest is not in
    /// the local store (listed in `missing_manifests`).
    pub detail_unavailable: bool,
    pub missing_manifests: Vec<Digest>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DiffOutcome {
    pub old: DiffSide,
    pub new: DiffSide,
    /// The paths that differ, sorted; unchanged paths are only counted.
    pub entries: Vec<DiffEntry>,
    pub added: u64,
    pub removed: u64,
    pub modified: u64,
    /// Paths tracked identically on both sides.
    pub unchanged: u64,
}

/// `cairn data diff`: what changed in tracked data between the locks of two git revisions,
/// or between a revision's lock and the workspace's `cairn.lock`. Reads no workspace data;
/// inside directories changed on both sides, it compares the manifests in the local store.
pub fn diff(project: &Project, options: &DiffOptions) -> Result<DiffOutcome, DataError> {
    let DiffOptions { rev_a, rev_b } = options;
    // The old side is always a revision (HEAD by default), so every form needs git.
    let git = project.git()?.ok_or(DataError::NoGit)?;
    let (old_lock, old) = match rev_a {
        Some(rev) => lock_at(&git, rev)?,
        None => head_lock(&git)?,
    };
    let (new_lock, new) = match rev_b {
        Some(rev) => lock_at(&git, rev)?,
        None => workspace_lock(project)?,
    };

    let paths: BTreeSet<&RelPath> = old_lock.data.keys().chain(new_lock.data.keys()).collect();
    // Opened only when a directory's manifests are needed: a plain comparison of two locks
    // works in a fresh clone and creates nothing.
    let mut store: Option<Store> = None;
    let mut outcome = DiffOutcome {
        old,
        new,
        entries: Vec::new(),
        added: 0,
        removed: 0,
        modified: 0,
        unchanged: 0,
    };
    for path in paths {
        let (a, b) = (old_lock.data.get(path), new_lock.data.get(path));
        let change = match (a, b) {
            (Some(a), Some(b)) if a == b => {
                outcome.unchanged += 1;
                continue;
            }
            (Some(_), Some(_)) => {
                outcome.modified += 1;
                DiffChange::Modified
            }
            (None, Some(_)) => {
                outcome.added += 1;
                DiffChange::Added
            }
            (Some(_), None) => {
                outcome.removed += 1;
                DiffChange::Removed
            }
            (None, None) => continue,
        };
        let mut entry = DiffEntry {
            path: path.clone(),
            change,
            old: a.map(version),
            new: b.map(version),
            files: None,
            detail_unavailable: false,
            missing_manifests: Vec::new(),
        };
        if let (Some(a), Some(b)) = (a, b)
            && a.kind == EntryKind::Dir
            && b.kind == EntryKind::Dir
        {
            let store = match &mut store {
                Some(store) => store,
                None => store.insert(project.store()?),
            };
            let old_manifest = manifest_or_missing(store, path, a, &mut entry.missing_manifests)?;
            let new_manifest = manifest_or_missing(store, path, b, &mut entry.missing_manifests)?;
            match (old_manifest, new_manifest) {
                (Some(old_m), Some(new_m)) => entry.files = Some(diff_files(path, &old_m, &new_m)),
                _ => entry.detail_unavailable = true,
            }
        }
        outcome.entries.push(entry);
    }
    Ok(outcome)
}

fn version(entry: &DataEntry) -> DiffVersion {
    DiffVersion {
        kind: entry.kind,
        digest: entry.digest,
        size: entry.size,
        files: match entry.kind {
            EntryKind::File => 1,
            EntryKind::Dir => entry.files,
        },
        executable: entry.executable,
    }
}

/// The lock committed at `rev`; an empty one if the revision has no `cairn.lock`.
fn lock_at(git: &Git, rev: &str) -> Result<(Lock, DiffSide), DataError> {
    let side = |lock_found| DiffSide {
        rev: Some(rev.to_string()),
        lock_found,
    };
    match committed_lock(git, rev)? {
        Some(lock) => Ok((lock, side(true))),
        None => Ok((Lock::default(), side(false))),
    }
}

/// The lock at HEAD, the default old side. Before the first commit HEAD names no commit; the
/// default then compares with an empty lock rather than failing (an explicit `HEAD` fails).
fn head_lock(git: &Git) -> Result<(Lock, DiffSide), DataError> {
    if git.head_commit()?.is_none() {
        return Ok((
            Lock::default(),
            DiffSide {
                rev: Some("HEAD".to_string()),
                lock_found: false,
            },
        ));
    }
    lock_at(git, "HEAD")
}

fn workspace_lock(project: &Project) -> Result<(Lock, DiffSide), DataError> {
    let lock = project.read_lock()?;
    let side = DiffSide {
        rev: None,
        lock_found: project.lock_path().exists(),
    };
    Ok((lock, side))
}

/// A directory's manifest from the local store, or `None` (its digest noted in `missing`) if
/// the store does not have it. A corrupt or invalid manifest is an error.
fn manifest_or_missing(
    store: &Store,
    path: &RelPath,
    entry: &DataEntry,
    missing: &mut Vec<Digest>,
) -> Result<Option<Manifest>, DataError> {
    match load_manifest(store, path, &entry.digest) {
        Ok(manifest) => Ok(Some(manifest)),
        Err(DataError::Store(StoreError::Missing { digest })) => {
            missing.push(digest);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Merges two manifests (both sorted by path) into the files that differ.
fn diff_files(base: &RelPath, old: &Manifest, new: &Manifest) -> DiffFiles {
    let file = |e: &ManifestEntry| DiffFileVersion {
        digest: e.digest,
        size: e.size,
        executable: e.executable,
    };
    let mut out = DiffFiles::default();
    let (mut a, mut b) = (
        old.entries().iter().peekable(),
        new.entries().iter().peekable(),
    );
    loop {
        let order = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(x), Some(y)) => x.path.as_str().cmp(y.path.as_str()),
        };
        match order {
            Ordering::Less => {
                if let Some(x) = a.next() {
                    out.removed.push(DiffFile {
                        path: key(base, x.path.as_str()),
                        old: Some(file(x)),
                        new: None,
                    });
                }
            }
            Ordering::Greater => {
                if let Some(y) = b.next() {
                    out.added.push(DiffFile {
                        path: key(base, y.path.as_str()),
                        old: None,
                        new: Some(file(y)),
                    });
                }
            }
            Ordering::Equal => {
                if let (Some(x), Some(y)) = (a.next(), b.next()) {
                    if x.digest == y.digest && x.executable == y.executable {
                        out.unchanged += 1;
                    } else {
                        out.modified.push(DiffFile {
                            path: key(base, x.path.as_str()),
                            old: Some(file(x)),
                            new: Some(file(y)),
                        });
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, content: &[u8], executable: bool) -> ManifestEntry {
        ManifestEntry {
            path: RelPath::new(path).unwrap(),
            digest: Digest::of(content),
            size: content.len() as u64,
            executable,
        }
    }

    fn paths(files: &[DiffFile]) -> Vec<&str> {
        files.iter().map(|f| f.path.as_str()).collect()
    }

    #[test]
    fn manifests_merge_into_added_removed_and_modified_files() {
        let old = Manifest::new(vec![
            entry("a", b"same", false),
            entry("b/gone", b"x", false),
            entry("c", b"old", false),
            entry("d", b"mode", false),
            entry("z", b"same too", false),
        ]);
        let new = Manifest::new(vec![
            entry("a", b"same", false),
            entry("b/new", b"y", false),
            entry("c", b"newer", false),
            entry("d", b"mode", true),
            entry("e", b"tail", false),
            entry("z", b"same too", false),
        ]);
        let base = RelPath::new("data").unwrap();
        let out = diff_files(&base, &old, &new);
        assert_eq!(paths(&out.added), ["data/b/new", "data/e"]);
        assert_eq!(paths(&out.removed), ["data/b/gone"]);
        assert_eq!(paths(&out.modified), ["data/c", "data/d"]);
        assert_eq!(out.unchanged, 2);
        let c = &out.modified[0];
        assert_eq!(c.old.as_ref().unwrap().size, 3);
        assert_eq!(c.new.as_ref().unwrap().size, 5);
        assert!(out.added[0].old.is_none() && out.removed[0].new.is_none());

        let same = diff_files(&base, &old, &old);
        assert!(same.added.is_empty() && same.removed.is_empty() && same.modified.is_empty());
        assert_eq!(same.unchanged, 5);
        let from_empty = diff_files(&base, &Manifest::default(), &new);
        assert_eq!(from_empty.added.len(), 6);
    }
}
