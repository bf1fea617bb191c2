use cairn_e2e::Project;

use crate::docs::{AddDoc, FsckDoc, GcDoc, json};

#[test]
fn gc_removes_unreferenced_objects_and_keeps_history_on_request() {
    let p = Project::new();
    p.write("data.csv", "v1\n");
    let v1 = json::<AddDoc>(&p, &["data", "add", "data.csv"], 0).entries[0]
        .digest
        .to_string();
    p.commit("v1");
    p.write("data.csv", "v2\n");
    p.cairn(&["data", "add", "data.csv"]).ok();
    p.commit("v2");

    let dry: GcDoc = json(&p, &["data", "gc", "--all-commits", "--dry-run"], 0);
    assert!(dry.removed.is_empty(), "history keeps v1: {dry:?}");
    let dry: GcDoc = json(&p, &["data", "gc", "--dry-run"], 0);
    assert!(dry.dry_run);
    assert_eq!(dry.removed[0].digest, v1.as_str());
    assert!(p.object_path(&v1).exists(), "dry run deletes nothing");
    let done: GcDoc = json(&p, &["data", "gc"], 0);
    assert_eq!(done.removed.len(), 1);
    assert!(!p.object_path(&v1).exists());
    p.cairn(&["data", "status", "--check"]).ok();
    p.cairn(&["data", "fsck"]).ok();
}

#[test]
fn gc_keeps_the_files_of_tracked_directories() {
    let p = Project::new();
    p.tree("data", 15, 6);
    p.cairn(&["data", "add", "data"]).ok();
    let doc: GcDoc = json(&p, &["data", "gc"], 0);
    assert!(doc.removed.is_empty(), "{doc:?}");
    assert_eq!(doc.kept, 16, "15 files and the manifest");
    std::fs::remove_dir_all(p.path("data")).unwrap();
    p.cairn(&["data", "checkout"]).ok();
}

#[test]
fn fsck_reports_corrupt_objects_and_checkout_refuses_them() {
    use std::os::unix::fs::PermissionsExt;
    let p = Project::new();
    p.write("a.csv", "original content\n");
    let digest = json::<AddDoc>(&p, &["data", "add", "a.csv"], 0).entries[0]
        .digest
        .to_string();
    let object = p.object_path(&digest);
    std::fs::set_permissions(&object, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&object, "tampered content!\n").unwrap();

    let run = p.cairn(&["data", "fsck"]);
    run.code(1).stdout_has(&digest).stdout_has("corrupt");
    assert!(
        run.stdout.contains(&object.display().to_string()),
        "{}",
        run.stdout
    );
    let doc: FsckDoc = json(&p, &["data", "fsck"], 1);
    assert!(!doc.ok);
    assert_eq!(doc.corrupt.len(), 1, "{doc:?}");
    assert_eq!(doc.corrupt[0].digest, digest.as_str());
    assert_eq!(doc.corrupt[0].path, object);
    assert!(!doc.corrupt[0].removed);

    std::fs::remove_file(p.path("a.csv")).unwrap();
    p.cairn(&["data", "checkout"])
        .code(2)
        .stderr_has("corrupt")
        .stderr_has(&digest);
    assert!(!p.exists("a.csv"), "a corrupt object is never materialised");

    p.cairn(&["data", "fsck", "--remove-corrupt"]).code(1);
    assert!(!object.exists());
    p.cairn(&["data", "fsck"]).ok();
}
