//! Operations on one machine: add, status, checkout, diff, ls, gc, fsck.

use super::*;
use cairn_core::EntryKind;
use cairn_store::scan::ScanError;

#[test]
fn add_pins_files_and_directories_and_is_idempotent() {
    let f = Fixture::new();
    f.write("a.csv", "a,b\n1,2\n");
    f.write("data/x.csv", "x\n");
    f.write("data/sub/y.csv", "yy\n");
    let out = f.add(&["a.csv", "data"]);
    assert!(out.lock_written);
    let summary: Vec<_> = out
        .entries
        .iter()
        .map(|e| (e.path.as_str(), e.kind, e.change, e.files, e.size))
        .collect();
    assert_eq!(
        summary,
        [
            ("a.csv", EntryKind::File, Change::Added, 1, 8),
            ("data", EntryKind::Dir, Change::Added, 2, 5),
        ]
    );
    assert_eq!(out.entries[0].digest, Digest::of(b"a,b\n1,2\n"));
    // Two files and a manifest for the directory, one file for a.csv.
    assert_eq!(out.entries[0].new_objects + out.entries[1].new_objects, 4);
    let lock = f.project().read_lock().unwrap();
    assert_eq!(lock.data.len(), 2);
    let store = f.project().store().unwrap();
    assert!(store.contains(&f.pinned("a.csv")));
    assert!(store.contains(&f.pinned("data")));

    let again = f.add(&["a.csv", "data"]);
    assert!(!again.lock_written);
    assert!(again.entries.iter().all(|e| e.change == Change::Unchanged));
    assert!(again.entries.iter().all(|e| e.new_objects == 0));

    f.write("a.csv", "a,b\n1,3\n");
    let updated = f.add(&["a.csv"]);
    assert_eq!(updated.entries[0].change, Change::Updated);
    assert_eq!(f.pinned("a.csv"), Digest::of(b"a,b\n1,3\n"));
}

#[test]
fn add_refuses_what_it_cannot_track_and_writes_nothing() {
    let f = Fixture::new();
    f.write("data/x.csv", "x\n");
    f.write("outside.csv", "o\n");
    std::os::unix::fs::symlink(f.path("outside.csv"), f.path("data/link.csv")).unwrap();
    let lock_before = fs::read(f.path("cairn.lock")).unwrap();

    let err = f.add_err(&["data"]);
    assert!(
        matches!(&err, DataError::Scan(ScanError::Symlink { path }) if path.ends_with("data/link.csv")),
        "{err}"
    );
    let err = f.add_err(&["missing.csv"]);
    assert!(matches!(err, DataError::NotFound { .. }), "{err}");
    let err = f.add_err(&["data", "data/x.csv"]);
    assert!(matches!(err, DataError::Overlap { .. }), "{err}");
    assert_eq!(fs::read(f.path("cairn.lock")).unwrap(), lock_before);

    // Overlap with what the lock already tracks.
    fs::remove_file(f.path("data/link.csv")).unwrap();
    f.add(&["data/x.csv"]);
    let err = f.add_err(&["data"]);
    assert!(
        matches!(&err, DataError::Overlap { tracked, .. } if tracked.as_str() == "data/x.csv"),
        "{err}"
    );
}

#[test]
fn add_refuses_a_path_that_git_tracks() {
    let f = Fixture::with_git();
    f.write("code.py", "print(1)\n");
    f.commit("code");
    let err = f.add_err(&["code.py"]);
    assert!(matches!(err, DataError::TrackedByGit { .. }), "{err}");
    // What it tracks goes into .gitignore.
    f.write("data.csv", "d\n");
    let out = f.add(&["data.csv"]);
    assert_eq!(out.gitignore_added, ["/data.csv"]);
}

#[test]
fn status_reports_what_differs_and_narrows_to_paths() {
    let f = Fixture::new();
    f.write("a.csv", "a\n");
    f.write("data/keep.csv", "k\n");
    f.write("data/edit.csv", "e\n");
    f.write("data/gone.csv", "g\n");
    f.add(&["a.csv", "data"]);
    let clean = f.status(&[]);
    assert!(clean.clean);
    assert!(
        clean
            .entries
            .iter()
            .all(|e| e.state == EntryState::Unchanged)
    );

    f.write("data/edit.csv", "E\n");
    f.write("data/new.csv", "n\n");
    fs::remove_file(f.path("data/gone.csv")).unwrap();
    fs::remove_file(f.path("a.csv")).unwrap();
    let out = f.status(&[]);
    assert!(!out.clean);
    let a = &out.entries[0];
    assert_eq!((a.path.as_str(), a.state), ("a.csv", EntryState::Missing));
    let data = &out.entries[1];
    assert_eq!(data.state, EntryState::Modified);
    assert_eq!(data.modified, ["data/edit.csv"]);
    assert_eq!(data.added, ["data/new.csv"]);
    assert_eq!(data.removed, ["data/gone.csv"]);
    assert!(data.remote.is_none());

    // A path inside a tracked directory narrows its entry to that path.
    let narrowed = f.status(&["data/keep.csv"]);
    assert!(narrowed.clean, "{narrowed:?}");
    assert_eq!(narrowed.entries.len(), 1);
    let err = status(&f.project(), &f.status_options(&["nope.csv"], None)).unwrap_err();
    assert!(matches!(err, DataError::NotTracked { .. }), "{err}");
}

#[test]
fn checkout_restores_the_pinned_content_and_removes_what_is_stored() {
    let f = Fixture::new();
    f.write("a.csv", "a\n");
    f.write("data/x.csv", "x\n");
    f.write("data/sub/y.csv", "y\n");
    f.add(&["a.csv", "data"]);
    // A stored version of an extra file: safe to remove.
    f.write("data/extra.csv", "a\n");
    fs::remove_file(f.path("a.csv")).unwrap();
    fs::remove_dir_all(f.path("data/sub")).unwrap();
    let out = f.checkout(&[], false).unwrap();
    assert_eq!(out.files_written, 2);
    assert_eq!(out.files_removed, 1);
    assert_eq!(f.read("a.csv"), b"a\n");
    assert_eq!(f.read("data/sub/y.csv"), b"y\n");
    assert!(!f.path("data/extra.csv").exists());
    assert!(f.status(&[]).clean);
    // Nothing to do the second time.
    let again = f.checkout(&[], false).unwrap();
    assert_eq!((again.files_written, again.files_removed), (0, 0));
}

#[test]
fn checkout_keeps_local_changes_unless_forced() {
    let f = Fixture::new();
    f.write("a.csv", "a\n");
    f.write("data/x.csv", "x\n");
    f.add(&["a.csv", "data"]);
    f.write("a.csv", "local edit\n");
    f.write("data/new.csv", "not stored\n");
    let err = f.checkout(&[], false).unwrap_err();
    let DataError::Conflicts { conflicts } = &err else {
        panic!("{err}");
    };
    let paths: Vec<&str> = conflicts.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["a.csv", "data/new.csv"]);
    // Nothing was changed.
    assert_eq!(f.read("a.csv"), b"local edit\n");
    assert!(f.path("data/new.csv").exists());

    let out = f.checkout(&[], true).unwrap();
    assert_eq!((out.files_written, out.files_removed), (1, 1));
    assert_eq!(f.read("a.csv"), b"a\n");
    assert!(!f.path("data/new.csv").exists());
}

#[test]
fn checkout_without_the_objects_changes_nothing() {
    let f = Fixture::new();
    f.write("a.csv", "a\n");
    f.write("b.csv", "b\n");
    f.add(&["a.csv", "b.csv"]);
    let store = f.project().store().unwrap();
    store.remove(&f.pinned("a.csv")).unwrap();
    fs::remove_file(f.path("a.csv")).unwrap();
    fs::remove_file(f.path("b.csv")).unwrap();
    let err = f.checkout(&[], false).unwrap_err();
    let DataError::MissingObjects { objects } = &err else {
        panic!("{err}");
    };
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0].path.as_str(), "a.csv");
    assert_eq!(objects[0].digest, Digest::of(b"a\n"));
    // Not even the file whose object is there.
    assert!(!f.path("b.csv").exists());
}

#[test]
fn checkout_of_a_revision_and_diff_between_revisions() {
    let f = Fixture::with_git();
    f.write("data/keep.csv", "k\n");
    f.write("data/edit.csv", "1\n");
    f.write("data/gone.csv", "g\n");
    f.write("old.csv", "o\n");
    f.add(&["data", "old.csv"]);
    f.commit("v1");
    f.write("data/edit.csv", "2\n");
    f.write("data/new.csv", "n\n");
    fs::remove_file(f.path("data/gone.csv")).unwrap();
    fs::remove_file(f.path("old.csv")).unwrap();
    f.write("fresh.csv", "f\n");
    f.add(&["data", "fresh.csv"]);
    let mut lock = f.project().read_lock().unwrap();
    lock.data.remove(&RelPath::new("old.csv").unwrap());
    f.project()
        .write_lock(&lock, &f.project().store().unwrap())
        .unwrap();

    // HEAD against the workspace lock.
    let out = diff(
        &f.project(),
        &DiffOptions {
            rev_a: None,
            rev_b: None,
        },
    )
    .unwrap();
    assert_eq!((out.added, out.removed, out.modified), (1, 1, 1));
    let changes: Vec<_> = out
        .entries
        .iter()
        .map(|e| (e.path.as_str(), e.change))
        .collect();
    assert_eq!(
        changes,
        [
            ("data", DiffChange::Modified),
            ("fresh.csv", DiffChange::Added),
            ("old.csv", DiffChange::Removed),
        ]
    );
    let files = out.entries[0].files.as_ref().unwrap();
    let names = |v: &[DiffFile]| v.iter().map(|d| d.path.clone()).collect::<Vec<_>>();
    assert_eq!(names(&files.added), ["data/new.csv"]);
    assert_eq!(names(&files.removed), ["data/gone.csv"]);
    assert_eq!(names(&files.modified), ["data/edit.csv"]);
    assert_eq!(files.unchanged, 1);
    f.commit("v2");

    // The workspace back to v1's lock, without touching cairn.lock.
    let out = checkout(
        &f.project(),
        &CheckoutOptions {
            paths: vec![PathBuf::from("data")],
            cwd: f.root().to_path_buf(),
            rev: Some("HEAD~1".to_owned()),
            force: false,
        },
        &NoProgress,
    )
    .unwrap();
    assert_eq!(out.rev.as_deref(), Some("HEAD~1"));
    assert_eq!(f.read("data/edit.csv"), b"1\n");
    assert_eq!(f.read("data/gone.csv"), b"g\n");
    assert!(!f.path("data/new.csv").exists());
    let err = checkout(
        &f.project(),
        &CheckoutOptions {
            paths: Vec::new(),
            cwd: f.root().to_path_buf(),
            rev: Some("no-such-rev".to_owned()),
            force: false,
        },
        &NoProgress,
    )
    .unwrap_err();
    assert!(matches!(err, DataError::Git(_)), "{err}");
}

#[test]
fn revisions_need_git() {
    let f = Fixture::new();
    let err = diff(
        &f.project(),
        &DiffOptions {
            rev_a: None,
            rev_b: None,
        },
    )
    .unwrap_err();
    assert!(matches!(err, DataError::NoGit), "{err}");
}

#[test]
fn ls_lists_what_the_lock_tracks() {
    let f = Fixture::new();
    f.write("a.csv", "abc\n");
    f.write("data/x.csv", "x\n");
    f.write("data/y.csv", "y\n");
    f.add(&["a.csv", "data"]);
    f.project()
        .store()
        .unwrap()
        .remove(&f.pinned("a.csv"))
        .unwrap();
    let out = ls(
        &f.project(),
        &LsOptions {
            paths: Vec::new(),
            cwd: f.root().to_path_buf(),
        },
    )
    .unwrap();
    let rows: Vec<_> = out
        .entries
        .iter()
        .map(|e| (e.path.as_str(), e.files, e.size, e.in_store))
        .collect();
    assert_eq!(rows, [("a.csv", 1, 4, false), ("data", 2, 4, true)]);
    assert_eq!((out.total_files, out.total_size), (3, 8));
}

#[test]
fn gc_removes_only_what_no_lock_refers_to() {
    let f = Fixture::new();
    f.write("a.csv", "version 1\n");
    f.write("data/x.csv", "x\n");
    f.add(&["a.csv", "data"]);
    f.write("a.csv", "version 2\n");
    f.add(&["a.csv"]);
    let old = Digest::of(b"version 1\n");
    let store = f.project().store().unwrap();
    assert!(store.contains(&old));
    let options = |dry_run| GcOptions {
        all_commits: false,
        dry_run,
        remote: None,
    };
    let dry = gc(&f.project(), &options(true), &NoProgress).unwrap();
    let removed: Vec<Digest> = dry.removed.iter().map(|r| r.digest).collect();
    assert_eq!(removed, [old]);
    assert!(store.contains(&old), "a dry run removes nothing");
    // a.csv, data's manifest and data/x.csv.
    assert_eq!(dry.kept, 3);

    let out = gc(&f.project(), &options(false), &NoProgress).unwrap();
    assert_eq!(out.removed.len(), 1);
    assert!(!store.contains(&old));
    assert!(f.status(&[]).clean);
    assert!(f.checkout(&[], false).is_ok());
}

#[test]
fn gc_with_all_commits_keeps_what_history_pins() {
    let f = Fixture::with_git();
    f.write("a.csv", "version 1\n");
    f.add(&["a.csv"]);
    f.commit("v1");
    f.write("a.csv", "version 2\n");
    f.add(&["a.csv"]);
    let out = gc(
        &f.project(),
        &GcOptions {
            all_commits: true,
            dry_run: false,
            remote: None,
        },
        &NoProgress,
    )
    .unwrap();
    assert!(out.removed.is_empty(), "{:?}", out.removed);
    assert_eq!(out.locks, 3, "the workspace lock, init's and v1's");
    assert!(
        f.project()
            .store()
            .unwrap()
            .contains(&Digest::of(b"version 1\n"))
    );
}

#[test]
fn fsck_finds_corrupt_and_missing_objects() {
    let f = Fixture::new();
    f.write("a.csv", "a\n");
    f.write("data/x.csv", "x\n");
    f.add(&["a.csv", "data"]);
    let store = f.project().store().unwrap();
    let fine = fsck(
        &f.project(),
        &FsckOptions {
            remove_corrupt: false,
        },
        &NoProgress,
    )
    .unwrap();
    assert!(fine.ok && fine.corrupt.is_empty() && fine.missing.is_empty());
    assert_eq!(fine.checked, 3);

    let a = f.pinned("a.csv");
    damage(&store.object_path(&a), b"b\n");
    let x = Digest::of(b"x\n");
    store.remove(&x).unwrap();
    let out = fsck(
        &f.project(),
        &FsckOptions {
            remove_corrupt: true,
        },
        &NoProgress,
    )
    .unwrap();
    assert!(!out.ok);
    assert_eq!(out.corrupt.len(), 1);
    assert_eq!(
        (out.corrupt[0].digest, out.corrupt[0].actual),
        (a, Digest::of(b"b\n"))
    );
    assert!(out.corrupt[0].removed);
    assert!(!store.contains(&a));
    // The removed corrupt object is missing now, like the one removed by hand.
    let missing: Vec<&str> = out.missing.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(missing, ["a.csv", "data/x.csv"]);
    // The workspace still has the content: add stores it again.
    f.write("a.csv", "a\n");
    f.add(&["a.csv"]);
    assert!(store.contains(&a));
}
