use std::os::unix::fs::MetadataExt;

use cairn_e2e::Project;

use crate::docs::{AddDoc, Change, CheckoutDoc, json};

#[test]
fn checkout_restores_a_deleted_tree_and_rewrites_only_changed_files() {
    let p = Project::new();
    p.tree("data", 60, 4);
    p.cairn(&["data", "add", "data"]).ok();
    let original = p.read("data/d3/f3.bin");
    std::fs::remove_dir_all(p.path("data")).unwrap();
    let doc: CheckoutDoc = json(&p, &["data", "checkout"], 0);
    assert_eq!(doc.files_written, 60);
    assert_eq!(p.read("data/d3/f3.bin"), original);

    let untouched = p.path("data/d0/f0.bin").metadata().unwrap().ino();
    std::fs::remove_file(p.path("data/d1/f1.bin")).unwrap();
    let doc: CheckoutDoc = json(&p, &["data", "checkout"], 0);
    assert_eq!(doc.files_written, 1);
    assert_eq!(doc.entries[0].unchanged, 59);
    assert_eq!(
        p.path("data/d0/f0.bin").metadata().unwrap().ino(),
        untouched,
        "unchanged file not rewritten"
    );
    p.cairn(&["data", "status", "--check"]).ok();
}

#[test]
fn local_changes_are_not_overwritten_without_force() {
    let p = Project::new();
    p.write("data/a.csv", "committed\n");
    p.write("data/b.csv", "b\n");
    p.cairn(&["data", "add", "data"]).ok();
    p.write("data/a.csv", "precious local edit\n");
    p.write("data/new.csv", "new local file\n");
    p.cairn(&["data", "checkout"])
        .code(2)
        .stderr_has("data/a.csv")
        .stderr_has("--force");
    assert_eq!(p.read("data/a.csv"), b"precious local edit\n");
    assert!(p.exists("data/new.csv"));
    p.cairn(&["data", "checkout", "--force"]).ok();
    assert_eq!(p.read("data/a.csv"), b"committed\n");
    assert!(
        !p.exists("data/new.csv"),
        "the directory matches the lock again"
    );
}

#[test]
fn checkout_of_a_git_revision_restores_older_data() {
    let p = Project::new();
    p.write("data.csv", "version 1\n");
    p.cairn(&["data", "add", "data.csv"]).ok();
    p.commit("v1");
    p.write("data.csv", "version 2\n");
    p.cairn(&["data", "add", "data.csv"]).ok();
    p.commit("v2");
    let lock_v2 = p.lock_text();
    // The workspace holds v2, which is stored: no --force needed.
    p.cairn(&["data", "checkout", "--rev", "HEAD~1"]).ok();
    assert_eq!(p.read("data.csv"), b"version 1\n");
    assert_eq!(
        p.lock_text(),
        lock_v2,
        "checkout --rev does not change cairn.lock"
    );
    p.cairn(&["data", "status", "--check"]).code(1);
    p.cairn(&["data", "checkout"]).ok();
    assert_eq!(p.read("data.csv"), b"version 2\n");
    p.cairn(&["data", "checkout", "--rev", "no-such-rev"])
        .code(2)
        .stderr_has("no-such-rev");
}

#[test]
fn a_missing_object_is_named_and_nothing_is_written() {
    let p = Project::new();
    p.write("a.csv", "aaa\n");
    p.write("b.csv", "bbb\n");
    let doc: AddDoc = json(&p, &["data", "add", "a.csv", "b.csv"], 0);
    let digest_b = doc.entries[1].digest.to_string();
    std::fs::remove_file(p.object_path(&digest_b)).unwrap();
    std::fs::remove_file(p.path("a.csv")).unwrap();
    std::fs::remove_file(p.path("b.csv")).unwrap();
    p.cairn(&["data", "checkout"])
        .code(2)
        .stderr_has(&digest_b)
        .stderr_has("remote");
    assert!(
        !p.exists("a.csv"),
        "nothing is written when an object is missing"
    );
    // What is present can still be checked out by path.
    p.cairn(&["data", "checkout", "a.csv"]).ok();
    assert_eq!(p.read("a.csv"), b"aaa\n");
}

#[test]
fn link_modes_make_read_only_workspace_files() {
    use std::os::unix::fs::PermissionsExt;
    for mode in ["hardlink", "symlink"] {
        let p = Project::new();
        p.write(
            "cairn.toml",
            format!("version = 1\n[cache]\nlink = [\"{mode}\", \"copy\"]\n"),
        );
        p.tree("data", 10, 5);
        p.write("data/run.sh", "#!/bin/sh\n");
        std::fs::set_permissions(
            p.path("data/run.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        p.write("single.csv", "one file\n");
        let original = p.read("data/d2/f2.bin");
        p.cairn(&["data", "add", "data", "single.csv"]).ok();
        let lock = p.lock_text();
        std::fs::remove_dir_all(p.path("data")).unwrap();
        std::fs::remove_file(p.path("single.csv")).unwrap();
        let doc: CheckoutDoc = json(&p, &["data", "checkout"], 0);
        assert_eq!(doc.link_modes, [mode], "{mode}");
        assert_eq!(p.read("data/d2/f2.bin"), original);
        let meta = std::fs::metadata(p.path("data/d2/f2.bin")).unwrap();
        assert!(
            meta.permissions().readonly(),
            "{mode}: workspace copy is read-only"
        );
        if mode == "symlink" {
            assert!(
                p.path("data/d2/f2.bin")
                    .symlink_metadata()
                    .unwrap()
                    .file_type()
                    .is_symlink()
            );
        }
        p.cairn(&["data", "status", "--check"]).ok();
        p.cairn(&["data", "fsck"]).ok();
        // Adding linked files again records the same thing (sizes and executable bits of the
        // data, not of the links).
        let doc: AddDoc = json(&p, &["data", "add", "data", "single.csv"], 0);
        assert_eq!(doc.entries[0].change, Change::Unchanged, "{mode}: {doc:?}");
        assert_eq!(doc.entries[1].change, Change::Unchanged, "{mode}: {doc:?}");
        assert_eq!(p.lock_text(), lock);
        // Relative links survive moving the project.
        let moved = tempfile::tempdir().unwrap();
        let new_root = moved.path().join("moved");
        std::fs::rename(p.root(), &new_root).unwrap();
        let status = std::process::Command::new(cairn_e2e::cairn_bin())
            .args(["data", "status", "--check"])
            .current_dir(&new_root)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        std::fs::rename(&new_root, p.root()).unwrap();
        // Replacing a linked file (not writing through it) is an ordinary modification.
        p.write("data/d2/f2.bin", "edited");
        p.cairn(&["data", "status", "--check"]).code(1);
        p.cairn(&["data", "add", "data"]).ok();
        p.cairn(&["data", "fsck"]).ok();
    }
}
