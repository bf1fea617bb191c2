use cairn_e2e::Project;
use serde_json::{Value, json};

/// Two commits: `keep.csv` unchanged, `mod.csv` modified, `gone.csv` untracked, `new.csv`
/// added, `shape` turned from a file into a directory, and one file added, one removed and
/// one modified inside `data/images`.
struct History {
    p: Project,
    /// `data add` documents of the first and the second commit.
    v1: Value,
    v2: Value,
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
    let v1 = p.json(
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
    let v2 = p.json(
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
fn added_digest(doc: &Value, path: &str) -> Value {
    entry(doc, path)["digest"].clone()
}

fn paths(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect()
}

/// The entry for `path` in a document with `entries` (of `data diff` or `data add`).
fn entry<'a>(doc: &'a Value, path: &str) -> &'a Value {
    doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == path)
        .unwrap_or_else(|| panic!("{path} not in {doc}"))
}

/// What changed from the first commit to the second, whatever the new side is called.
#[track_caller]
fn assert_v1_to_v2(h: &History, doc: &Value) {
    assert_eq!(doc["kind"], "data-diff");
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["old"]["lock_found"], true);
    assert_eq!(doc["new"]["lock_found"], true);
    assert_eq!(
        (
            &doc["added"],
            &doc["removed"],
            &doc["modified"],
            &doc["unchanged"]
        ),
        (&json!(1), &json!(1), &json!(3), &json!(1)),
        "{doc}"
    );
    // Sorted; the unchanged keep.csv is counted, not listed.
    assert_eq!(
        paths(&doc["entries"]),
        ["data/images", "gone.csv", "mod.csv", "new.csv", "shape"]
    );

    let added = entry(doc, "new.csv");
    assert_eq!(added["change"], "added");
    assert_eq!(added["old"], Value::Null);
    assert_eq!(added["new"]["digest"], added_digest(&h.v2, "new.csv"));
    assert_eq!(added["new"]["size"], 10);

    let removed = entry(doc, "gone.csv");
    assert_eq!(removed["change"], "removed");
    assert_eq!(removed["old"]["digest"], added_digest(&h.v1, "gone.csv"));
    assert_eq!(removed["old"]["size"], 10);
    assert_eq!(removed["new"], Value::Null);

    let modified = entry(doc, "mod.csv");
    assert_eq!(modified["change"], "modified");
    assert_eq!(modified["old"]["digest"], added_digest(&h.v1, "mod.csv"));
    assert_eq!(modified["new"]["digest"], added_digest(&h.v2, "mod.csv"));
    assert_eq!(modified["old"]["size"], 3);
    assert_eq!(modified["new"]["size"], 12);
    assert_eq!(modified["files"], Value::Null);

    let shape = entry(doc, "shape");
    assert_eq!(shape["change"], "modified");
    assert_eq!(shape["old"]["type"], "file");
    assert_eq!(shape["new"]["type"], "dir");
    assert_eq!(shape["new"]["files"], 1);
    assert_eq!(shape["files"], Value::Null);
    assert_eq!(shape["detail_unavailable"], false);

    let images = entry(doc, "data/images");
    assert_eq!(images["change"], "modified");
    assert_eq!(images["old"]["type"], "dir");
    assert_eq!(images["old"]["files"], 20);
    assert_eq!(images["new"]["files"], 20);
    assert_eq!(images["old"]["digest"], added_digest(&h.v1, "data/images"));
    assert_eq!(images["new"]["digest"], added_digest(&h.v2, "data/images"));
    assert_eq!(images["detail_unavailable"], false);
    let files = &images["files"];
    assert_eq!(paths(&files["added"]), ["data/images/new/extra.bin"]);
    assert_eq!(paths(&files["removed"]), ["data/images/d2/f2.bin"]);
    assert_eq!(paths(&files["modified"]), ["data/images/d1/f1.bin"]);
    assert_eq!(files["unchanged"], 18);
    assert_eq!(files["added"][0]["old"], Value::Null);
    assert_eq!(files["added"][0]["new"]["size"], 3);
    assert_eq!(files["removed"][0]["old"]["size"], h.f2_size);
    assert_eq!(files["removed"][0]["new"], Value::Null);
    assert_eq!(files["modified"][0]["old"]["size"], h.f1_size);
    assert_eq!(files["modified"][0]["new"]["size"], 8);
    assert_ne!(
        files["modified"][0]["old"]["digest"],
        files["modified"][0]["new"]["digest"]
    );
}

#[test]
fn diff_between_two_commits() {
    let h = history();
    let doc = h.p.json(&["data", "diff", "HEAD~1", "HEAD"], 0);
    assert_v1_to_v2(&h, &doc);
    assert_eq!(doc["old"]["rev"], "HEAD~1");
    assert_eq!(doc["new"]["rev"], "HEAD");

    // The other way round, everything is mirrored.
    let back = h.p.json(&["data", "diff", "HEAD", "HEAD~1"], 0);
    assert_eq!(entry(&back, "new.csv")["change"], "removed");
    assert_eq!(entry(&back, "gone.csv")["change"], "added");
    let files = &entry(&back, "data/images")["files"];
    assert_eq!(paths(&files["added"]), ["data/images/d2/f2.bin"]);
    assert_eq!(paths(&files["removed"]), ["data/images/new/extra.bin"]);

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
    let doc = h.p.json(&["data", "diff", "HEAD~1"], 0);
    assert_v1_to_v2(&h, &doc);
    assert_eq!(doc["old"]["rev"], "HEAD~1");
    assert_eq!(doc["new"]["rev"], Value::Null);

    // No revision: HEAD against the workspace, identical right after the commit.
    let doc = h.p.json(&["data", "diff"], 0);
    assert_eq!(doc["old"]["rev"], "HEAD");
    assert_eq!(doc["new"]["rev"], Value::Null);
    assert_eq!(doc["entries"], json!([]));
    assert_eq!(doc["unchanged"], 5);
    h.p.cairn(&["data", "diff"])
        .ok()
        .stderr_has("no tracked data differs");

    // An uncommitted add shows up; the committed revisions still compare as before.
    h.p.write("later.csv", "not committed yet\n");
    let add = h.p.json(&["data", "add", "later.csv"], 0);
    let doc = h.p.json(&["data", "diff"], 0);
    assert_eq!(paths(&doc["entries"]), ["later.csv"]);
    assert_eq!(doc["entries"][0]["change"], "added");
    assert_eq!(
        doc["entries"][0]["new"]["digest"],
        added_digest(&add, "later.csv")
    );
    assert_eq!((&doc["added"], &doc["unchanged"]), (&json!(1), &json!(5)));
    let doc = h.p.json(&["data", "diff", "HEAD~1", "HEAD"], 0);
    assert_v1_to_v2(&h, &doc);
}

#[test]
fn a_revision_without_a_lock_is_an_empty_lock() {
    let p = Project::new();
    p.write("a.csv", "a\n");
    p.cairn(&["data", "add", "a.csv"]).ok();
    // Before the first commit, the default HEAD has no lock either.
    let doc = p.json(&["data", "diff"], 0);
    assert_eq!(doc["old"]["rev"], "HEAD");
    assert_eq!(doc["old"]["lock_found"], false);
    assert_eq!(doc["new"]["lock_found"], true);
    assert_eq!(paths(&doc["entries"]), ["a.csv"]);
    // Spelled out, HEAD must name a commit, as in git.
    p.cairn(&["data", "diff", "HEAD"])
        .code(2)
        .stderr_has("HEAD");

    // A first commit without cairn.lock, then one with it.
    p.git(&["add", "cairn.toml"]);
    p.git(&["commit", "-q", "-m", "no lock yet"]);
    p.commit("lock");
    let doc = p.json(&["data", "diff", "HEAD~1", "HEAD"], 0);
    assert_eq!(doc["old"]["lock_found"], false);
    assert_eq!(doc["new"]["lock_found"], true);
    assert_eq!(paths(&doc["entries"]), ["a.csv"]);
    assert_eq!(doc["entries"][0]["change"], "added");
    let doc = p.json(&["data", "diff", "HEAD", "HEAD~1"], 0);
    assert_eq!(doc["old"]["lock_found"], true);
    assert_eq!(doc["new"]["lock_found"], false);
    assert_eq!(doc["entries"][0]["change"], "removed");
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
        let doc = p.json(args, 2);
        assert_eq!(doc["kind"], "error");
        assert_eq!(doc["exit_code"], 2);
        assert!(
            doc["message"].as_str().unwrap().contains("`no-such-rev`"),
            "{doc}"
        );
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
    let old = old.as_str().unwrap();
    std::fs::remove_file(h.p.object_path(old)).unwrap();

    let doc = h.p.json(&["data", "diff", "HEAD~1", "HEAD"], 0);
    let images = entry(&doc, "data/images");
    assert_eq!(images["change"], "modified");
    assert_eq!(images["detail_unavailable"], true);
    assert_eq!(images["files"], Value::Null);
    assert_eq!(images["missing_manifests"], json!([old]));
    assert_eq!(images["old"]["size"], entry(&h.v1, "data/images")["size"]);
    // The rest of the diff is unaffected.
    assert_eq!(entry(&doc, "mod.csv")["change"], "modified");
    assert_eq!(entry(&doc, "shape")["detail_unavailable"], false);
    assert_eq!(doc["modified"], 3);

    h.p.cairn(&["data", "diff", "HEAD~1", "HEAD"])
        .ok()
        .stdout_has("modified data/images  (20 files; ")
        .stdout_has("file-level detail unavailable")
        .stderr_has("not in the local store");
}
