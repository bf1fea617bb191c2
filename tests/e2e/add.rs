use cairn_e2e::Project;

use crate::docs::{AddDoc, Change, EntryType, LsDoc, State, StatusDoc, json};

#[test]
fn add_files_and_directories_pins_them_and_ignores_them_in_git() {
    let p = Project::new();
    p.write("data/raw.csv", "id,amount\n1,2.5\n");
    p.tree("data/images", 40, 1);
    let doc: AddDoc = json(&p, &["data", "add", "data/raw.csv", "data/images"], 0);
    let entries = &doc.entries;
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].change, Change::Added);
    assert_eq!(entries[1].kind, EntryType::Dir);
    assert_eq!(entries[1].files, 40);

    let lock = p.lock_text();
    assert!(lock.contains("version = 1"));
    let images = lock.find("[data.\"data/images\"]").unwrap();
    let raw = lock.find("[data.\"data/raw.csv\"]").unwrap();
    assert!(images < raw, "entries are sorted:\n{lock}");
    let gitignore = String::from_utf8(p.read(".gitignore")).unwrap();
    assert!(
        gitignore.contains("/data/raw.csv\n") && gitignore.contains("/data/images\n"),
        "{gitignore}"
    );

    // The objects are in the store, read-only, named by their BLAKE3 digest.
    let object = p.object_path(entries[0].digest.as_str());
    assert_eq!(std::fs::read(&object).unwrap(), p.read("data/raw.csv"));
    assert!(object.metadata().unwrap().permissions().readonly());
    let ls: LsDoc = json(&p, &["data", "ls"], 0);
    assert_eq!(ls.total_files, 41);
}

#[test]
fn re_adding_unchanged_data_changes_nothing() {
    let p = Project::new();
    p.tree("data", 30, 2);
    p.cairn(&["data", "add", "data"]).ok();
    let lock_before = std::fs::metadata(p.path("cairn.lock"))
        .unwrap()
        .modified()
        .unwrap();
    let gitignore_before = p.read(".gitignore");
    let doc: AddDoc = json(&p, &["data", "add", "data"], 0);
    assert_eq!(doc.entries[0].change, Change::Unchanged);
    assert_eq!(doc.entries[0].new_objects, 0);
    assert!(!doc.lock_written);
    assert_eq!(
        std::fs::metadata(p.path("cairn.lock"))
            .unwrap()
            .modified()
            .unwrap(),
        lock_before
    );
    assert_eq!(p.read(".gitignore"), gitignore_before);

    // A changed file is an update that stores only the new content.
    p.write("data/d0/f0.bin", "changed");
    let doc: AddDoc = json(&p, &["data", "add", "data"], 0);
    assert_eq!(doc.entries[0].change, Change::Updated);
    assert_eq!(
        doc.entries[0].new_objects, 2,
        "the new file and the new manifest"
    );
}

#[test]
fn add_refuses_paths_it_must_not_track() {
    let p = Project::new();
    p.write("tracked.csv", "in git\n");
    p.git(&["add", "tracked.csv"]);
    p.cairn(&["data", "add", "tracked.csv"])
        .code(2)
        .stderr_has("tracked by git")
        .stderr_has("git rm -r --cached tracked.csv");
    p.write("src/code.py", "print(1)\n");
    p.git(&["add", "src/code.py"]);
    p.cairn(&["data", "add", "src"])
        .code(2)
        .stderr_has("src/code.py is tracked by git");
    p.cairn(&["data", "add", "../outside"])
        .code(2)
        .stderr_has("outside the project");
    p.cairn(&["data", "add", ".cairn/objects"])
        .code(2)
        .stderr_has(".cairn");
    p.cairn(&["data", "add", ".git"]).code(2);
    p.cairn(&["data", "add", "nope.csv"])
        .code(2)
        .stderr_has("does not exist");
    p.cairn(&["data", "add", "."])
        .code(2)
        .stderr_has("project root");

    p.write("data/a.csv", "a\n");
    p.cairn(&["data", "add", "data"]).ok();
    p.cairn(&["data", "add", "data/a.csv"])
        .code(2)
        .stderr_has("overlaps");
    p.cairn(&["data", "add", "data", "data/a.csv"])
        .code(2)
        .stderr_has("overlaps");
    assert!(!p.lock_text().contains("data/a.csv"));
}

#[test]
fn special_names_empty_files_and_empty_directories() {
    let p = Project::new();
    p.write("weird/with space/ünïcödé 名前.csv", "x\n");
    p.write("weird/empty.bin", "");
    p.write("weird/#hash[1]*.txt", "glob chars\n");
    std::fs::create_dir_all(p.path("empty-dir")).unwrap();
    p.cairn(&["data", "add", "weird", "empty-dir"]).ok();
    let lock = p.lock_text();
    assert!(
        lock.contains("[data.empty-dir]") || lock.contains("[data.\"empty-dir\"]"),
        "{lock}"
    );
    std::fs::remove_dir_all(p.path("weird")).unwrap();
    std::fs::remove_dir_all(p.path("empty-dir")).unwrap();
    p.cairn(&["data", "status", "--check"]).code(1);
    p.cairn(&["data", "checkout"]).ok();
    assert_eq!(p.read("weird/with space/ünïcödé 名前.csv"), b"x\n");
    assert_eq!(p.read("weird/empty.bin"), b"");
    assert_eq!(p.read("weird/#hash[1]*.txt"), b"glob chars\n");
    assert!(p.path("empty-dir").is_dir());
    p.cairn(&["data", "status", "--check"]).ok();
    // git ignores exactly these paths, glob characters included.
    let ignored = p.git(&["status", "--porcelain", "--ignored"]);
    assert!(ignored.contains("!! weird/"), "{ignored}");
}

#[test]
fn symbolic_links_are_refused() {
    let p = Project::new();
    p.write("real.csv", "x\n");
    std::os::unix::fs::symlink("real.csv", p.path("link.csv")).unwrap();
    p.cairn(&["data", "add", "link.csv"])
        .code(2)
        .stderr_has("symbolic link");
    p.write("dir/a.csv", "a\n");
    std::os::unix::fs::symlink("/etc", p.path("dir/escape")).unwrap();
    p.cairn(&["data", "add", "dir"])
        .code(2)
        .stderr_has("dir/escape")
        .stderr_has("symbolic link");
    // A symlinked parent directory is refused too.
    std::os::unix::fs::symlink(p.path("dir"), p.path("alias")).unwrap();
    std::fs::remove_file(p.path("dir/escape")).unwrap();
    p.cairn(&["data", "add", "alias/a.csv"])
        .code(2)
        .stderr_has("symbolic link");
    assert!(!p.lock_text().contains("[data"), "{}", p.lock_text());
}

#[test]
fn executable_bit_is_recorded_and_restored() {
    use std::os::unix::fs::PermissionsExt;
    let p = Project::new();
    p.write("tools/run.sh", "#!/bin/sh\n");
    p.write("tools/data.csv", "x\n");
    std::fs::set_permissions(
        p.path("tools/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    p.cairn(&["data", "add", "tools"]).ok();
    std::fs::remove_dir_all(p.path("tools")).unwrap();
    p.cairn(&["data", "checkout"]).ok();
    let mode = |f: &str| std::fs::metadata(p.path(f)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("tools/run.sh") & 0o111, 0o111);
    assert_eq!(mode("tools/data.csv") & 0o111, 0);
    std::fs::set_permissions(
        p.path("tools/run.sh"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let doc: StatusDoc = json(&p, &["data", "status"], 0);
    assert_eq!(doc.entries[0].state, State::Modified);
    assert_eq!(doc.entries[0].modified, ["tools/run.sh"]);
}
