use cairn_e2e::Project;

use crate::docs::{AddDoc, DiffChange, DiffDoc, DiffFile, Digest, EntryType, ErrorDoc, json};

/// Two commits: `keep.csv` unchanged, `mod.csv` modified, `gone.csv` untracked, `new.csv`
/// added, `shape` turned from a file into a directory, and one file added, one removed and
/// one modified inside `data/images`.
struct History {
    p: Project,
    /// `data add` documents of the first and the second commit.
    v1: AddDoc,
    v2: AddDoc,
    /// Size of `data/images/d1/f1.bin` and `d2/f2.bin` in the first commit.
    f1_size: u64,
    f2_size: u64,
}

fn history() -> History {
    let p = Project::new();
    p.write("keep.csv", "same\n");
    p.write("mod.csv", "v1\n");
    p.write("gone.csv", "soon gone\n");
    p.write("shape", "a file first\n");
    p.tree("data/images", 20, 7);
    let f1_size = p.read("data/images/d1/f1.bin").len() as u64;
    let f2_size = p.read("data/images/d2/f2.bin").len() as u64;
    let v1 = json(
        &p,
        &[
            "data",
            "add",
            "keep.csv",
            "mod.csv",
            "gone.csv",
            "shape",
            "data/images",
        ],
        0,
    );
    p.commit("v1");

    p.write("mod.csv", "version two\n");
    p.write("new.csv", "brand new\n");
    std::fs::remove_file(p.path("shape")).unwrap();
    p.write("shape/inside.csv", "a directory now\n");
    p.write("data/images/d1/f1.bin", "modified");
    p.write("data/images/new/extra.bin", "new");
    std::fs::remove_file(p.path("data/images/d2/f2.bin")).unwrap();
    // cairn has no command to stop tracking a path: the second lock is written from scratch.
    std::fs::remove_file(p.path("cairn.lock")).unwrap();
    let v2 = json(
        &p,
        &[
            "data",
            "add",
            "keep.csv",
            "mod.csv",
            "new.csv",
            "shape",
            "data/images",
        ],
        0,
    );
    p.commit("v2");
    History {
        p,
        v1,
        v2,
        f1_size,
        f2_size,
    }
}

/// The digest `data add` reported for `path`.
fn added_digest<'a>(doc: &'a AddDoc, path: &str) -> &'a Digest {
    &doc.entry(path).digest
}

fn paths(list: &[DiffFile]) -> Vec<&str> {
    list.iter().map(|e| e.path.as_str()).collect()
}

/// The side of a change that must be there.
#[track_caller]
fn side<T: std::fmt::Debug>(version: &Option<T>) -> &T {
    version.as_ref().expect("this side is in the document")
}

/// What changed from the first commit to the second, whatever the new side is called.
#[track_caller]
fn assert_v1_to_v2(h: &History, doc: &DiffDoc) {
    assert!(doc.old.lock_found);
    assert!(doc.new.lock_found);
    assert_eq!(
        (doc.added, doc.removed, doc.modified, doc.unchanged),
        (1, 1, 3, 1),
        "{doc:?}"
    );
    // Sorted; the unchanged keep.csv is counted, not listed.
    assert_eq!(
        doc.paths(),
        ["data/images", "gone.csv", "mod.csv", "new.csv", "shape"]
    );

    let added = doc.entry("new.csv");
    assert_eq!(added.change, DiffChange::Added);
    assert!(added.old.is_none());
    assert_eq!(&side(&added.new).digest, added_digest(&h.v2, "new.csv"));
    assert_eq!(side(&added.new).size, 10);

    let removed = doc.entry("gone.csv");
    assert_eq!(removed.change, DiffChange::Removed);
    assert_eq!(&side(&removed.old).digest, added_digest(&h.v1, "gone.csv"));
    assert_eq!(side(&removed.old).size, 10);
    assert!(removed.new.is_none());

    let modified = doc.entry("mod.csv");
    assert_eq!(modified.change, DiffChange::Modified);
    assert_eq!(&side(&modified.old).digest, added_digest(&h.v1, "mod.csv"));
    assert_eq!(&side(&modified.new).digest, added_digest(&h.v2, "mod.csv"));
    assert_eq!(side(&modified.old).size, 3);
    assert_eq!(side(&modified.new).size, 12);
    assert!(modified.files.is_none());

    let shape = doc.entry("shape");
    assert_eq!(shape.change, DiffChange::Modified);
    assert_eq!(side(&shape.old).kind, EntryType::File);
    assert_eq!(side(&shape.new).kind, EntryType::Dir);
    assert_eq!(side(&shape.new).files, 1);
    assert!(shape.files.is_none());
    assert!(!shape.detail_unavailable);

    let images = doc.entry("data/images");
    assert_eq!(images.change, DiffChange::Modified);
    assert_eq!(side(&images.old).kind, EntryType::Dir);
    assert_eq!(side(&images.old).files, 20);
    assert_eq!(side(&images.new).files, 20);
    assert_eq!(
        &side(&images.old).digest,
        added_digest(&h.v1, "data/images")
    );
    assert_eq!(
        &side(&images.new).digest,
        added_digest(&h.v2, "data/images")
    );
    assert!(!images.detail_unavailable);
    let files = side(&images.files);
    assert_eq!(paths(&files.added), ["data/images/new/extra.bin"]);
    assert_eq!(paths(&files.removed), ["data/images/d2/f2.bin"]);
    assert_eq!(paths(&files.modified), ["data/images/d1/f1.bin"]);
    assert_eq!(files.unchanged, 18);
    assert!(files.added[0].old.is_none());
    assert_eq!(side(&files.added[0].new).size, 3);
    assert_eq!(side(&files.removed[0].old).size, h.f2_size);
    assert!(files.removed[0].new.is_none());
    assert_eq!(side(&files.modified[0].old).size, h.f1_size);
    assert_eq!(side(&files.modified[0].new).size, 8);
    assert_ne!(
        side(&files.modified[0].old).digest,
        side(&files.modified[0].new).digest
    );
}

#[test]
fn diff_between_two_commits() {
    let h = history();
    let doc: DiffDoc = json(&h.p, &["data", "diff", "HEAD~1", "HEAD"], 0);
    assert_v1_to_v2(&h, &doc);
    assert_eq!(doc.old.rev.as_deref(), Some("HEAD~1"));
    assert_eq!(doc.new.rev.as_deref(), Some("HEAD"));

    // The other way round, everything is mirrored.
    let back: DiffDoc = json(&h.p, &["data", "diff", "HEAD", "HEAD~1"], 0);
    assert_eq!(back.entry("new.csv").change, DiffChange::Removed);
    assert_eq!(back.entry("gone.csv").change, DiffChange::Added);
    let files = side(&back.entry("data/images").files);
    assert_eq!(paths(&files.added), ["data/images/d2/f2.bin"]);
    assert_eq!(paths(&files.removed), ["data/images/new/extra.bin"]);

    // Human output: one line per path, the files of a changed directory below it, a summary
    // on stderr; a difference is not a failure.
    let run = h.p.cairn(&["data", "diff", "HEAD~1", "HEAD"]);
    run.ok()
        .stdout_has("added    new.csv  (10 B)")
        .stdout_has("removed  gone.csv  (10 B)")
        .stdout_has("modified mod.csv  (3 B → 12 B)")
        .stdout_has("modified shape  (file → dir;")
        .stdout_has("modified data/images  (3 files changed: 1 added, 1 removed, 1 modified;")
        .stdout_has("    added    data/images/new/extra.bin  (3 B)")
        .stdout_has("    removed  data/images/d2/f2.bin")
        .stdout_has("    modified data/images/d1/f1.bin")
        .stderr_has("5 paths differ between cairn.lock at HEAD~1 and cairn.lock at HEAD");
    assert!(!run.stdout.contains("keep.csv"), "{}", run.stdout);
}

#[test]
fn diff_against_the_workspace_lock() {
    let h = history();
    // One revision: compared with the workspace's cairn.lock, which is HEAD's.
    let doc: DiffDoc = json(&h.p, &["data", "diff", "HEAD~1"], 0);
    assert_v1_to_v2(&h, &doc);
    assert_eq!(doc.old.rev.as_deref(), Some("HEAD~1"));
    assert_eq!(doc.new.rev, None);

    // No revision: HEAD against the workspace, identical right after the commit.
    let doc: DiffDoc = json(&h.p, &["data", "diff"], 0);
    assert_eq!(doc.old.rev.as_deref(), Some("HEAD"));
    assert_eq!(doc.new.rev, None);
    assert!(doc.entries.is_empty(), "{doc:?}");
    assert_eq!(doc.unchanged, 5);
    h.p.cairn(&["data", "diff"])
        .ok()
        .stderr_has("no tracked data differs");

    // An uncommitted add shows up; the committed revisions still compare as before.
    h.p.write("later.csv", "not committed yet\n");
    let add: AddDoc = json(&h.p, &["data", "add", "later.csv"], 0);
    let doc: DiffDoc = json(&h.p, &["data", "diff"], 0);
    assert_eq!(doc.paths(), ["later.csv"]);
    assert_eq!(doc.entries[0].change, DiffChange::Added);
    assert_eq!(
        &side(&doc.entries[0].new).digest,
        added_digest(&add, "later.csv")
    );
    assert_eq!((doc.added, doc.unchanged), (1, 5));
    let doc: DiffDoc = json(&h.p, &["data", "diff", "HEAD~1", "HEAD"], 0);
    assert_v1_to_v2(&h, &doc);
}

#[test]
fn a_revision_without_a_lock_is_an_empty_lock() {
    let p = Project::new();
    p.write("a.csv", "a\n");
    p.cairn(&["data", "add", "a.csv"]).ok();
    // Before the first commit, the default HEAD has no lock either.
    let doc: DiffDoc = json(&p, &["data", "diff"], 0);
    assert_eq!(doc.old.rev.as_deref(), Some("HEAD"));
    assert!(!doc.old.lock_found);
    assert!(doc.new.lock_found);
    assert_eq!(doc.paths(), ["a.csv"]);
    // Spelled out, HEAD must name a commit, as in git.
    p.cairn(&["data", "diff", "HEAD"])
        .code(2)
        .stderr_has("HEAD");

    // A first commit without cairn.lock, then one with it.
    p.git(&["add", "cairn.toml"]);
    p.git(&["commit", "-q", "-m", "no lock yet"]);
    p.commit("lock");
    let doc: DiffDoc = json(&p, &["data", "diff", "HEAD~1", "HEAD"], 0);
    assert!(!doc.old.lock_found);
    assert!(doc.new.lock_found);
    assert_eq!(doc.paths(), ["a.csv"]);
    assert_eq!(doc.entries[0].change, DiffChange::Added);
    let doc: DiffDoc = json(&p, &["data", "diff", "HEAD", "HEAD~1"], 0);
    assert!(doc.old.lock_found);
    assert!(!doc.new.lock_found);
    assert_eq!(doc.entries[0].change, DiffChange::Removed);
    p.cairn(&["data", "diff", "HEAD~1"])
        .ok()
        .stderr_has("HEAD~1 has no cairn.lock");
}

#[test]
fn a_bad_revision_is_named() {
    let p = Project::new();
    p.write("a.csv", "a\n");
    p.cairn(&["data", "add", "a.csv"]).ok();
    p.commit("v1");
    for args in [
        &["data", "diff", "no-such-rev"][..],
        &["data", "diff", "HEAD", "no-such-rev"],
        &["data", "diff", "no-such-rev", "HEAD"],
    ] {
        let doc: ErrorDoc = json(&p, args, 2);
        assert_eq!(doc.exit_code, 2);
        assert!(doc.message.contains("`no-such-rev`"), "{doc:?}");
        p.cairn(args).code(2).stderr_has("no-such-rev");
    }

    let bare = Project::bare();
    bare.cairn(&["init", "--no-git"]).ok();
    bare.cairn(&["data", "diff"])
        .code(2)
        .stderr_has("not inside a git repository");
}

#[test]
fn a_manifest_missing_from_the_store_leaves_the_detail_unavailable() {
    let h = history();
    let old = added_digest(&h.v1, "data/images");
    std::fs::remove_file(h.p.object_path(old.as_str())).unwrap();

    let doc: DiffDoc = json(&h.p, &["data", "diff", "HEAD~1", "HEAD"], 0);
    let images = doc.entry("data/images");
    assert_eq!(images.change, DiffChange::Modified);
    assert!(images.detail_unavailable);
    assert!(images.files.is_none());
    assert_eq!(images.missing_manifests, std::slice::from_ref(old));
    assert_eq!(side(&images.old).size, h.v1.entry("data/images").size);
    // The rest of the diff is unaffected.
    assert_eq!(doc.entry("mod.csv").change, DiffChange::Modified);
    assert!(!doc.entry("shape").detail_unavailable);
    assert_eq!(doc.modified, 3);

    h.p.cairn(&["data", "diff", "HEAD~1", "HEAD"])
        .ok()
        .stdout_has("modified data/images  (20 files; ")
        .stdout_has("file-level detail unavailable")
        .stderr_has("not in the local store");
}
