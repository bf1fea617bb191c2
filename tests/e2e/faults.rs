use std::process::Stdio;
use std::time::Duration;

use cairn_e2e::{Project, Rng};

use crate::docs::{AddDoc, FsckDoc, GcDoc, json};

/// SIGKILL at several points during `data add`: the store holds only complete objects, the
/// lock is the old or the new one, byte for byte, and running add again finishes the job.
#[test]
fn killed_add_leaves_a_consistent_project() {
    let fixture = |p: &Project| {
        p.tree("data/tree", 1500, 7);
        p.write("data/big.bin", Rng(8).bytes(24 << 20));
    };
    // The new lock, as a complete add of the same files writes it in a twin project.
    let twin = Project::new();
    fixture(&twin);
    twin.cairn(&["data", "add", "data/tree", "data/big.bin"])
        .ok();
    let lock_after = twin.lock_text();
    let entries = parse_lock(&lock_after);
    assert_eq!(
        entries,
        [
            ("data/big.bin".to_owned(), "file", 24 << 20, None),
            ("data/tree".to_owned(), "dir", entries[1].2, Some(1500)),
        ],
        "{lock_after}"
    );
    drop(twin);

    let p = Project::new();
    fixture(&p);
    let mut killed_mid_way = 0;
    for delay_ms in [5u64, 20, 40, 80, 150, 300] {
        let lock_before = p.lock_text();
        let mut child = p
            .command(&["data", "add", "data/tree", "data/big.bin"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            killed_mid_way += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        let fsck: FsckDoc = json(&p, &["data", "fsck"], 0);
        assert!(
            fsck.corrupt.is_empty(),
            "after kill at {delay_ms} ms: {fsck:?}"
        );
        assert!(fsck.strays.is_empty(), "{fsck:?}");
        let lock = p.lock_text();
        assert!(
            lock == lock_before || lock == lock_after,
            "after kill at {delay_ms} ms, the lock is neither the old nor the new one:\n{lock}"
        );
        // Reset, so every round starts from an untracked state.
        std::fs::write(p.path("cairn.lock"), "version = 1\n").unwrap();
    }
    assert!(
        killed_mid_way > 0,
        "no add was killed while running; make the fixture larger"
    );
    p.cairn(&["data", "add", "data/tree", "data/big.bin"]).ok();
    assert_eq!(p.lock_text(), lock_after);
    p.cairn(&["data", "status", "--check"]).ok();
    p.cairn(&["data", "fsck"]).ok();
    assert_eq!(
        std::fs::read_dir(p.path(".cairn/tmp")).unwrap().count(),
        0,
        "temp files cleaned"
    );
}

/// A strict parse of `cairn.lock` in the form cairn writes (docs/formats/lock.md, "The form
/// cairn writes"): the header, `version = 1`, then `[data."PATH"]` blocks separated by one
/// blank line, keys in the documented order. Returns (path, type, size, files) per entry.
fn parse_lock(text: &str) -> Vec<(String, &str, u64, Option<u64>)> {
    let header = "# cairn.lock: what cairn pins (format: docs/formats/lock.md).\n\
                  # Written by cairn; commit it, do not edit it by hand.\n\
                  version = 1\n";
    let body = text
        .strip_prefix(header)
        .unwrap_or_else(|| panic!("no header:\n{text}"));
    let number = |line: &str, key: &str| -> u64 {
        line.strip_prefix(key)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("expected `{key}N`, found `{line}`"))
    };
    let mut entries = Vec::new();
    for block in body.split("\n\n").filter(|b| !b.is_empty()) {
        let lines: Vec<&str> = block.trim_start_matches('\n').lines().collect();
        let path = lines[0]
            .strip_prefix("[data.\"")
            .and_then(|l| l.strip_suffix("\"]"))
            .unwrap_or_else(|| panic!("not a data entry: `{}`", lines[0]));
        let kind = match lines.get(1) {
            Some(&"type = \"file\"") => "file",
            Some(&"type = \"dir\"") => "dir",
            other => panic!("bad type line {other:?}"),
        };
        let digest = lines[2]
            .strip_prefix("digest = \"")
            .and_then(|l| l.strip_suffix('"'))
            .unwrap_or_else(|| panic!("bad digest line `{}`", lines[2]));
        assert!(
            digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()),
            "{digest}"
        );
        let size = number(lines[3], "size = ");
        let files = lines.get(4).map(|line| number(line, "files = "));
        assert!(lines.len() <= 5, "unexpected keys in {block}");
        entries.push((path.to_owned(), kind, size, files));
    }
    entries
}

#[test]
fn concurrent_adds_both_land_in_the_lock() {
    let p = Project::new();
    p.tree("one", 800, 9);
    p.tree("two", 800, 10);
    let spawn = |path: &str| {
        p.command(&["data", "add", path])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn("one");
    let b = spawn("two");
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let lock = p.lock_text();
    assert!(
        lock.contains("[data.one]") && lock.contains("[data.two]"),
        "{lock}"
    );
    p.cairn(&["data", "status", "--check"]).ok();
}

#[test]
fn malformed_lock_files_are_refused_with_a_line_and_nothing_is_written() {
    let p = Project::new();
    p.write("a.csv", "a\n");
    let digest = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";
    let cases = [
        (
            "version = 1\n[data.\"a.csv\"\ntype = \"file\"\n".to_string(),
            "cairn.lock:2",
        ),
        ("version = 99\n".to_string(), "newer cairn"),
        (
            format!(
                "version = 1\n\n[data.\"../escape.csv\"]\ntype = \"file\"\ndigest = \"{digest}\"\nsize = 0\n"
            ),
            "cairn.lock:3",
        ),
        (
            format!(
                "version = 1\n[data.\"/tmp/abs.csv\"]\ntype = \"file\"\ndigest = \"{digest}\"\nsize = 0\n"
            ),
            "cairn.lock:2",
        ),
        (
            "version = 1\n[data.\"x\"]\ntype = \"file\"\ndigest = \"nothex\"\nsize = 0\n"
                .to_string(),
            "cairn.lock:4",
        ),
    ];
    for (text, expected) in cases {
        std::fs::write(p.path("cairn.lock"), &text).unwrap();
        p.cairn(&["data", "status"]).code(2).stderr_has(expected);
        p.cairn(&["data", "checkout"]).code(2).stderr_has(expected);
        p.cairn(&["data", "add", "a.csv"])
            .code(2)
            .stderr_has(expected);
        assert_eq!(p.lock_text(), text, "the lock is left as it was");
    }
    assert!(!p.root().parent().unwrap().join("escape.csv").exists());
}

#[test]
fn a_crafted_manifest_cannot_write_outside_the_project() {
    let p = Project::new();
    // A valid object whose content is a manifest listing `../../escaped`.
    let empty = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";
    p.write(
        "evil.json",
        format!(r#"{{"format":"cairn-manifest","version":1,"entries":[{{"path":"../../escaped","digest":"{empty}","size":0}}]}}"#),
    );
    p.write("empty", "");
    let doc: AddDoc = json(&p, &["data", "add", "evil.json", "empty"], 0);
    let manifest = doc.entry("evil.json").digest.to_string();
    std::fs::write(
        p.path("cairn.lock"),
        format!("version = 1\n[data.victim]\ntype = \"dir\"\ndigest = \"{manifest}\"\nsize = 0\nfiles = 1\n"),
    )
    .unwrap();
    p.cairn(&["data", "checkout"])
        .code(2)
        .stderr_has("manifest");
    assert!(!p.root().parent().unwrap().join("escaped").exists());
    assert!(!p.exists("victim"));
}

#[test]
fn checkout_refuses_to_write_through_a_symlinked_directory() {
    let p = Project::new();
    let outside = tempfile::tempdir().unwrap();
    p.write("out/x.csv", "x\n");
    p.cairn(&["data", "add", "out/x.csv"]).ok();
    std::fs::remove_dir_all(p.path("out")).unwrap();
    std::os::unix::fs::symlink(outside.path(), p.path("out")).unwrap();
    p.cairn(&["data", "checkout"])
        .code(2)
        .stderr_has("symbolic link");
    assert!(!outside.path().join("x.csv").exists());
}

#[test]
fn malformed_config_names_the_line_and_key() {
    let p = Project::new();
    std::fs::write(
        p.path("cairn.toml"),
        "version = 1\n[cache]\nlink = \"copy\"\n",
    )
    .unwrap();
    p.cairn(&["data", "status"])
        .code(2)
        .stderr_has("cairn.toml:3")
        .stderr_has("hint:");
    std::fs::write(
        p.path("cairn.toml"),
        "version = 1\n[cache]\nlinks = [\"copy\"]\n",
    )
    .unwrap();
    p.cairn(&["data", "ls"])
        .code(2)
        .stderr_has("cairn.toml:3")
        .stderr_has("links");
    std::fs::write(p.path("cairn.toml"), "version = 7\n").unwrap();
    p.cairn(&["data", "ls"]).code(2).stderr_has("newer cairn");
}

#[test]
fn unreadable_files_are_named_and_the_lock_is_untouched() {
    use std::os::unix::fs::PermissionsExt;
    let p = Project::bare();
    p.cairn(&["init", "--no-git"]).ok();
    p.write("data/ok.csv", "fine\n");
    p.write("data/secret.csv", "no\n");
    std::fs::set_permissions(
        p.path("data/secret.csv"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    let lock_before = p.lock_text();
    let is_root = unsafe_free_euid() == 0;
    let run = if is_root {
        // Root reads anything: run cairn as an unprivileged user instead.
        let status = std::process::Command::new("chmod")
            .args(["-R", "a+rwX"])
            .arg(p.root())
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::set_permissions(
            p.path("data/secret.csv"),
            std::fs::Permissions::from_mode(0o000),
        )
        .unwrap();
        let mut all = vec!["--reuid=65534", "--regid=65534", "--clear-groups"];
        let bin = cairn_e2e::cairn_bin();
        all.push(bin.to_str().unwrap());
        all.extend(["data", "add", "data"]);
        let out = std::process::Command::new("setpriv")
            .args(&all)
            .current_dir(p.root())
            .env("HOME", p.root())
            .env("NO_COLOR", "1")
            .output()
            .expect("setpriv runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    } else {
        let r = p.cairn(&["data", "add", "data"]);
        (r.code, r.stderr)
    };
    assert_eq!(run.0, 2, "{}", run.1);
    assert!(run.1.contains("data/secret.csv"), "{}", run.1);
    assert_eq!(p.lock_text(), lock_before);
}

/// The effective user id, read from /proc (no unsafe code).
fn unsafe_free_euid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(u32::MAX)
}

/// A power loss can leave an object with its name but not all of its bytes; adding the data
/// again must repair it rather than trust the name.
#[test]
fn a_truncated_object_is_repaired_by_adding_again() {
    use std::os::unix::fs::PermissionsExt;
    let p = Project::new();
    p.write("a.csv", "the full content of the file\n");
    let digest = json::<AddDoc>(&p, &["data", "add", "a.csv"], 0).entries[0]
        .digest
        .to_string();
    let object = p.object_path(&digest);
    std::fs::set_permissions(&object, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&object, "").unwrap();
    // Force a cache miss too, as after a reboot.
    std::fs::remove_file(p.path(".cairn/cairn.db")).unwrap();
    let _: AddDoc = json(&p, &["data", "add", "a.csv"], 0);
    p.cairn(&["data", "fsck"]).ok();
    assert_eq!(std::fs::read(&object).unwrap(), p.read("a.csv"));
}

#[test]
fn gc_all_commits_skips_an_unreadable_lock_in_history() {
    let p = Project::new();
    p.write(
        "cairn.lock",
        "<<<<<<< HEAD\nversion = 1\n=======\n>>>>>>> other\n",
    );
    p.commit("a broken lock");
    std::fs::write(p.path("cairn.lock"), "version = 1\n").unwrap();
    p.write("a.csv", "a\n");
    p.cairn(&["data", "add", "a.csv"]).ok();
    p.commit("fixed");
    let doc: GcDoc = json(&p, &["data", "gc", "--all-commits"], 0);
    assert_eq!(doc.skipped_locks.len(), 1, "{doc:?}");
    assert_eq!(doc.kept, 1);
}

#[test]
fn a_newer_metadata_database_is_a_usage_error() {
    let p = Project::new();
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg("import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('PRAGMA user_version = 9'); c.commit()")
        .arg(p.path(".cairn/cairn.db"))
        .status()
        .unwrap();
    assert!(status.success());
    p.write("a.csv", "a\n");
    p.cairn(&["data", "add", "a.csv"])
        .code(2)
        .stderr_has("schema version 9")
        .stderr_has("hint:");
}
