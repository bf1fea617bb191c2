use cairn_e2e::Project;

use crate::docs::{EntryType, State, StatusDoc, json};

#[test]
fn status_reports_each_kind_of_change() {
    let p = Project::new();
    p.write("data/raw.csv", "a\n");
    p.tree("data/images", 20, 3);
    p.cairn(&["data", "add", "data/raw.csv", "data/images"])
        .ok();
    let doc: StatusDoc = json(&p, &["data", "status"], 0);
    assert!(doc.clean);
    p.cairn(&["data", "status", "--check"])
        .ok()
        .stderr_has("matches cairn.lock");

    p.write("data/images/d1/f1.bin", "modified");
    p.write("data/images/new/extra.bin", "new");
    std::fs::remove_file(p.path("data/images/d2/f2.bin")).unwrap();
    std::fs::remove_file(p.path("data/raw.csv")).unwrap();
    let doc: StatusDoc = json(&p, &["data", "status"], 0);
    assert!(!doc.clean);
    let images = &doc.entries[0];
    assert_eq!(images.path, "data/images");
    assert_eq!(images.kind, EntryType::Dir);
    assert_eq!(images.state, State::Modified);
    assert_eq!(images.modified, ["data/images/d1/f1.bin"]);
    assert_eq!(images.added, ["data/images/new/extra.bin"]);
    assert_eq!(images.removed, ["data/images/d2/f2.bin"]);
    assert_eq!(doc.entries[1].path, "data/raw.csv");
    assert_eq!(doc.entries[1].state, State::Missing);

    // --check says no with exit 1; a path filter narrows the report.
    p.cairn(&["data", "status", "--check"])
        .code(1)
        .stdout_has("modified")
        .stdout_has("missing");
    let doc: StatusDoc = json(&p, &["data", "status", "--check", "data/images/d1"], 1);
    assert_eq!(doc.entries[0].modified, ["data/images/d1/f1.bin"]);
    assert!(doc.entries[0].added.is_empty(), "{doc:?}");
    p.cairn(&["data", "status", "untracked.csv"])
        .code(2)
        .stderr_has("not tracked");
}

#[test]
fn status_notices_same_size_edits() {
    let p = Project::new();
    p.write("a.csv", "1234\n");
    p.cairn(&["data", "add", "a.csv"]).ok();
    // Same size, written right after the add: the racily-clean rule must catch it.
    p.write("a.csv", "5678\n");
    p.cairn(&["data", "status", "--check"]).code(1);
}

/// Files older than the racily-clean window let status trust a snapshot of the directory's
/// stat data; every kind of change must still be seen through it.
#[test]
fn status_sees_changes_behind_a_directory_snapshot() {
    use std::os::unix::fs::PermissionsExt;
    use std::time::{Duration, SystemTime};
    let p = Project::new();
    p.tree("data", 30, 11);
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    let age = |rel: &str, t: SystemTime| {
        let f = std::fs::File::options()
            .write(true)
            .open(p.path(rel))
            .unwrap();
        f.set_modified(t).unwrap();
    };
    let all: Vec<String> = (0..30)
        .map(|i| format!("data/d{}/f{i}.bin", i % 7))
        .collect();
    for f in &all {
        age(f, old);
    }
    p.cairn(&["data", "add", "data"]).ok();
    // Twice: the first run may record the snapshot, the second uses it.
    p.cairn(&["data", "status", "--check"]).ok();
    p.cairn(&["data", "status", "--check"]).ok();
    let snapshots = std::process::Command::new("python3")
        .arg("-c")
        .arg("import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from dir_snapshot').fetchone()[0])")
        .arg(p.path(".cairn/cairn.db"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&snapshots.stdout).trim(),
        "1",
        "the snapshot path is exercised"
    );

    // Same size, older-looking but different mtime.
    let before = p.read("data/d1/f1.bin");
    let mut changed = before.clone();
    changed[0] ^= 0xff;
    std::fs::write(p.path("data/d1/f1.bin"), &changed).unwrap();
    age("data/d1/f1.bin", old + Duration::from_secs(60));
    let doc: StatusDoc = json(&p, &["data", "status"], 0);
    assert_eq!(doc.entries[0].modified, ["data/d1/f1.bin"]);
    std::fs::write(p.path("data/d1/f1.bin"), &before).unwrap();
    age("data/d1/f1.bin", old);
    p.cairn(&["data", "status", "--check"]).ok();

    std::fs::set_permissions(
        p.path("data/d2/f2.bin"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let doc: StatusDoc = json(&p, &["data", "status"], 0);
    assert_eq!(doc.entries[0].modified, ["data/d2/f2.bin"]);
    std::fs::set_permissions(
        p.path("data/d2/f2.bin"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();

    p.write("data/d0/extra.bin", "x");
    age("data/d0/extra.bin", old);
    let doc: StatusDoc = json(&p, &["data", "status"], 0);
    assert_eq!(doc.entries[0].added, ["data/d0/extra.bin"]);
    std::fs::remove_file(p.path("data/d0/extra.bin")).unwrap();

    std::fs::remove_file(p.path("data/d3/f3.bin")).unwrap();
    let doc: StatusDoc = json(&p, &["data", "status"], 0);
    assert_eq!(doc.entries[0].removed, ["data/d3/f3.bin"]);
}
