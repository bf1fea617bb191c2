#![allow(clippy::disallowed_methods)] // fixtures are written directly

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use cairn_store::ManifestEntry;

use super::*;
use crate::InitOptions;

/// A project without git, with files written and pinned the way `data add` pins them.
struct Fixture {
    dir: tempfile::TempDir,
    project: Project,
    lock: Lock,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Project::init(dir.path(), &InitOptions { no_git: true }).unwrap();
        let project = Project::discover(dir.path()).unwrap();
        Self {
            dir,
            project,
            lock: Lock::default(),
        }
    }

    fn path(&self, rel: &str) -> std::path::PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, content: &str) {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    /// Pins a file, or a directory of the files written below it, in the lock.
    fn track(&mut self, rel: &str) {
        let store = self.project.store().unwrap();
        let abs = self.path(rel);
        let entry = if abs.is_dir() {
            let mut entries = Vec::new();
            collect(&abs, &abs, &mut entries);
            for e in &entries {
                store
                    .put_bytes(&fs::read(e.path.to_path(&abs)).unwrap())
                    .unwrap();
            }
            let manifest = Manifest::new(entries);
            let put = store.put_bytes(&manifest.to_bytes()).unwrap();
            DataEntry {
                kind: EntryKind::Dir,
                digest: put.digest,
                size: manifest.total_size(),
                files: manifest.entries().len() as u64,
                executable: false,
            }
        } else {
            let put = store.put_bytes(&fs::read(&abs).unwrap()).unwrap();
            DataEntry {
                kind: EntryKind::File,
                digest: put.digest,
                size: put.size,
                files: 0,
                executable: is_executable(&abs),
            }
        };
        self.lock.data.insert(RelPath::new(rel).unwrap(), entry);
    }

    fn compare_all(&self) -> Vec<PathStatus> {
        let tracked: Vec<Tracked<'_>> = self
            .lock
            .data
            .iter()
            .map(|(path, entry)| Tracked::whole(path, entry))
            .collect();
        compare(&self.project, &tracked).unwrap()
    }

    fn status_of(&self, rel: &str) -> PathStatus {
        let path = RelPath::new(rel).unwrap();
        let entry = &self.lock.data[&path];
        compare(&self.project, &[Tracked::whole(&path, entry)])
            .unwrap()
            .remove(0)
    }

    fn check(&self, rel: &str) -> PathCheck {
        check_path(&self.project, &self.lock, &RelPath::new(rel).unwrap()).unwrap()
    }
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).unwrap().permissions().mode() & 0o111 != 0
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<ManifestEntry>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(root, &path, out);
        } else {
            let bytes = fs::read(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().to_str().unwrap();
            out.push(ManifestEntry {
                path: RelPath::new(rel).unwrap(),
                digest: Digest::of(&bytes),
                size: bytes.len() as u64,
                executable: is_executable(&path),
            });
        }
    }
}

fn touch_later(path: &Path) {
    // A new mtime, so that the stat cache cannot vouch for the old digest.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(later)
        .unwrap();
}

#[test]
fn an_untouched_workspace_is_unchanged_and_remembered_in_the_stat_cache() {
    let mut f = Fixture::new();
    f.write("a.csv", "a\n1\n");
    f.write("data/x.csv", "x\n");
    f.write("data/sub/y.csv", "y\n");
    f.track("a.csv");
    f.track("data");
    let all = f.compare_all();
    assert_eq!(all.len(), 2);
    for status in &all {
        assert_eq!(status.state, State::Unchanged, "{status:?}");
        assert!(status.modified.is_empty() && status.added.is_empty());
    }
    // What was hashed is in the cache now (rows, or the directory's snapshot).
    let cache = f.project.stat_cache().unwrap();
    assert!(cache.get("a.csv").unwrap().is_some());
    assert!(
        cache.load_under("data").unwrap().len() == 2 || cache.snapshot("data").unwrap().is_some()
    );
    // And a second comparison agrees.
    assert_eq!(f.compare_all(), all);
}

#[test]
fn changed_added_and_removed_files_are_named() {
    let mut f = Fixture::new();
    f.write("a.csv", "a\n1\n");
    f.write("data/keep.csv", "k\n");
    f.write("data/edit.csv", "e\n");
    f.write("data/gone.csv", "g\n");
    f.track("a.csv");
    f.track("data");

    f.write("a.csv", "a\n2\n");
    touch_later(&f.path("a.csv"));
    f.write("data/edit.csv", "E\n");
    touch_later(&f.path("data/edit.csv"));
    fs::remove_file(f.path("data/gone.csv")).unwrap();
    f.write("data/new/n.csv", "n\n");

    let a = f.status_of("a.csv");
    assert_eq!(a.state, State::Modified);
    assert_eq!(a.modified, ["a.csv"]);
    let data = f.status_of("data");
    assert_eq!(data.state, State::Modified);
    assert_eq!(data.kind, EntryKind::Dir);
    assert_eq!(data.modified, ["data/edit.csv"]);
    assert_eq!(data.added, ["data/new/n.csv"]);
    assert_eq!(data.removed, ["data/gone.csv"]);
}

#[test]
fn the_executable_bit_of_a_copy_counts() {
    let mut f = Fixture::new();
    f.write("run.sh", "echo hi\n");
    f.track("run.sh");
    fs::set_permissions(f.path("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    let status = f.status_of("run.sh");
    assert_eq!(status.state, State::Modified);
    assert_eq!(status.modified, ["run.sh"]);
}

#[test]
fn missing_paths_and_a_kind_that_changed() {
    let mut f = Fixture::new();
    f.write("a.csv", "a\n");
    f.write("b.csv", "b\n");
    f.write("data/x.csv", "x\n");
    f.write("other/y.csv", "y\n");
    f.track("a.csv");
    f.track("b.csv");
    f.track("data");
    f.track("other");
    fs::remove_file(f.path("a.csv")).unwrap();
    fs::remove_dir_all(f.path("data")).unwrap();
    // A directory where a file was tracked, and a file where a directory was.
    fs::remove_file(f.path("b.csv")).unwrap();
    fs::create_dir(f.path("b.csv")).unwrap();
    fs::remove_dir_all(f.path("other")).unwrap();
    f.write("other", "now a file\n");
    let states: Vec<(String, State, Vec<String>)> = f
        .compare_all()
        .into_iter()
        .map(|s| (s.path.to_string(), s.state, s.modified))
        .collect();
    assert_eq!(
        states,
        [
            ("a.csv".to_owned(), State::Missing, vec![]),
            (
                "b.csv".to_owned(),
                State::Modified,
                vec!["b.csv".to_owned()]
            ),
            ("data".to_owned(), State::Missing, vec![]),
            (
                "other".to_owned(),
                State::Modified,
                vec!["other".to_owned()]
            ),
        ]
    );
}

/// The bug of training's own walk: a symbolic link that `data add` refuses was followed.
#[test]
fn symbolic_links_are_refused_as_data_add_refuses_them() {
    let mut f = Fixture::new();
    f.write("data/x.csv", "x\n");
    f.write("a.csv", "a\n");
    f.write("elsewhere.csv", "x\n");
    f.track("data");
    f.track("a.csv");
    std::os::unix::fs::symlink(f.path("elsewhere.csv"), f.path("data/link.csv")).unwrap();
    let path = RelPath::new("data").unwrap();
    let err = compare(&f.project, &[Tracked::whole(&path, &f.lock.data[&path])]).unwrap_err();
    assert!(
        matches!(&err, WorkspaceError::Scan(ScanError::Symlink { path }) if path.ends_with("data/link.csv")),
        "{err}"
    );
    // A link in place of a tracked file, even to identical content.
    fs::remove_file(f.path("a.csv")).unwrap();
    std::os::unix::fs::symlink(f.path("elsewhere.csv"), f.path("a.csv")).unwrap();
    let err = check_path(&f.project, &f.lock, &RelPath::new("a.csv").unwrap()).unwrap_err();
    assert!(
        matches!(err, WorkspaceError::Scan(ScanError::Symlink { .. })),
        "{err}"
    );
}

#[test]
fn a_directory_whose_manifest_is_not_here_cannot_be_compared() {
    let mut f = Fixture::new();
    f.write("data/x.csv", "x\n");
    f.track("data");
    let digest = f.lock.data[&RelPath::new("data").unwrap()].digest;
    let store = f.project.store().unwrap();
    f.write("data/x.csv", "changed\n");
    touch_later(&f.path("data/x.csv"));
    store.remove(&digest).unwrap();
    assert_eq!(f.status_of("data").state, State::NotInStore);
    match f.check("data/x.csv") {
        PathCheck::Tracked { status, pinned } => {
            assert_eq!(status.state, State::NotInStore);
            assert_eq!(pinned, None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_part_of_a_tracked_directory_is_compared_alone() {
    let mut f = Fixture::new();
    f.write("data/train/a.csv", "a\n");
    f.write("data/train/b.csv", "b\n");
    f.write("data/test/c.csv", "c\n");
    f.track("data");
    f.write("data/test/c.csv", "changed\n");
    touch_later(&f.path("data/test/c.csv"));

    let manifest = load_manifest(
        &f.project.store().unwrap(),
        &RelPath::new("data").unwrap(),
        &f.lock.data[&RelPath::new("data").unwrap()].digest,
    )
    .unwrap();
    let below_train = Manifest::digest_of(
        manifest
            .entries()
            .iter()
            .filter(|e| e.path.as_str().starts_with("train/"))
            .map(|e| (e.path.as_str(), &e.digest, e.size, e.executable)),
    );
    match f.check("data/train") {
        PathCheck::Tracked { status, pinned } => {
            assert_eq!(status.path.as_str(), "data");
            assert_eq!(status.state, State::Unchanged, "{status:?}");
            assert_eq!(pinned, Some(below_train));
        }
        other => panic!("{other:?}"),
    }
    match f.check("data/train/a.csv") {
        PathCheck::Tracked { status, pinned } => {
            assert_eq!(status.state, State::Unchanged);
            assert_eq!(pinned, Some(Digest::of(b"a\n")));
        }
        other => panic!("{other:?}"),
    }
    match f.check("data/test") {
        PathCheck::Tracked { status, .. } => {
            assert_eq!(status.state, State::Modified);
            assert_eq!(status.modified, ["data/test/c.csv"]);
        }
        other => panic!("{other:?}"),
    }
    // The whole directory is pinned by its manifest's digest.
    match f.check("data") {
        PathCheck::Tracked { status, pinned } => {
            assert_eq!(status.state, State::Modified);
            assert_eq!(
                pinned,
                Some(f.lock.data[&RelPath::new("data").unwrap()].digest)
            );
        }
        other => panic!("{other:?}"),
    }
    // A file the manifest does not list is not tracked, even inside a tracked directory.
    f.write("data/train/new.csv", "n\n");
    assert_eq!(f.check("data/train/new.csv"), PathCheck::Untracked);
    assert_eq!(f.check("data/nothing"), PathCheck::Untracked);
}

#[test]
fn paths_outside_every_tracked_path_are_untracked() {
    let mut f = Fixture::new();
    f.write("a.csv", "a\n");
    f.write("data2/x.csv", "x\n");
    f.track("a.csv");
    assert_eq!(f.check("b.csv"), PathCheck::Untracked);
    assert_eq!(f.check("a.csv/inner"), PathCheck::Untracked);
    // A sibling whose name starts with a tracked path's name is not inside it.
    f.track("data2");
    assert_eq!(f.check("data"), PathCheck::Untracked);
    match f.check("a.csv") {
        PathCheck::Tracked { status, pinned } => {
            assert_eq!(status.state, State::Unchanged);
            assert_eq!(pinned, Some(Digest::of(b"a\n")));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn narrowing_selects_files_at_or_below_a_path() {
    let path = RelPath::new("data").unwrap();
    let entry = DataEntry {
        kind: EntryKind::Dir,
        digest: Digest::of(b""),
        size: 0,
        files: 0,
        executable: false,
    };
    let tracked = Tracked {
        path: &path,
        entry: &entry,
        only: Some("train".to_owned()),
    };
    assert!(tracked.includes("train"));
    assert!(tracked.includes("train/a.csv"));
    assert!(!tracked.includes("training.csv"));
    assert!(!tracked.includes("test/a.csv"));
    assert!(Tracked::whole(&path, &entry).includes("anything"));
}
