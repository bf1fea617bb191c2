use cairn_e2e::Project;

use crate::docs::{
    AddDoc, CheckoutDoc, DiffDoc, ErrorDoc, FetchDoc, FsckDoc, GcDoc, InitDoc, LsDoc, PullDoc,
    PushDoc, RemoteAddDoc, RemoteDefaultDoc, RemoteListDoc, RemoteRemoveDoc, StatusDoc, json,
};

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let p = Project::bare();
    p.cairn(&["--help"]).ok().stdout_has("data");
    p.cairn(&["data", "--help"]).ok().stdout_has("checkout");
    p.cairn(&["--version"]).ok();
    p.cairn(&["data", "frobnicate"]).code(2);
    p.cairn(&["data", "add"]).code(2);
    p.cairn(&["--color", "purple", "data", "ls"]).code(2);
}

/// Every document of init, data and remote commands decodes as its documented kind
/// (`json` checks `kind` and `schema_version` and refuses unknown or missing fields).
#[test]
fn json_documents_carry_kind_and_schema_version() {
    let p = Project::bare();
    p.git(&["init", "-q", "-b", "main"]);
    let init: InitDoc = json(&p, &["init"], 0);
    assert!(init.git);
    assert_eq!(init.root, p.root().canonicalize().unwrap());
    p.write("a.csv", "a\n");
    let _: AddDoc = json(&p, &["data", "add", "a.csv"], 0);
    let _: StatusDoc = json(&p, &["data", "status"], 0);
    let _: CheckoutDoc = json(&p, &["data", "checkout"], 0);
    let _: LsDoc = json(&p, &["data", "ls"], 0);
    let _: DiffDoc = json(&p, &["data", "diff"], 0);
    let _: GcDoc = json(&p, &["data", "gc", "--dry-run"], 0);
    let _: FsckDoc = json(&p, &["data", "fsck"], 0);
    let remote = tempfile::tempdir().unwrap();
    let url = remote.path().to_str().unwrap();
    let added: RemoteAddDoc = json(&p, &["remote", "add", "shared", url], 0);
    assert_eq!((added.name.as_str(), added.url.as_str()), ("shared", url));
    let listed: RemoteListDoc = json(&p, &["remote", "list"], 0);
    assert_eq!(listed.remotes.len(), 1);
    let _: RemoteDefaultDoc = json(&p, &["remote", "default", "shared"], 0);
    let _: PushDoc = json(&p, &["data", "push"], 0);
    let _: FetchDoc = json(&p, &["data", "fetch"], 0);
    let _: PullDoc = json(&p, &["data", "pull"], 0);
    let _: RemoteRemoveDoc = json(&p, &["remote", "remove", "shared"], 0);
    let err: ErrorDoc = json(&p, &["data", "add", "missing.csv"], 2);
    assert_eq!(err.exit_code, 2);
    assert!(err.message.contains("missing.csv"), "{err:?}");
    assert!(err.hint.is_some(), "{err:?}");
}

#[test]
fn errors_have_a_hint_and_colors_follow_the_flag() {
    let p = Project::new();
    let run = p.cairn(&["data", "add", "nope.csv"]);
    run.code(2);
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    assert!(run.stderr.contains("\nhint: "), "{}", run.stderr);
    assert!(!run.stderr.contains('\x1b'), "NO_COLOR is honoured");
    let run = p.cairn(&["--color", "always", "data", "add", "nope.csv"]);
    assert!(run.stderr.contains('\x1b'), "--color always forces colors");
    let run = p.cairn(&["--color", "never", "data", "add", "nope.csv"]);
    assert!(!run.stderr.contains('\x1b'));
}

#[test]
fn quiet_mode_prints_nothing_on_success() {
    let p = Project::new();
    p.write("a.csv", "a\n");
    let run = p.cairn(&["-q", "data", "add", "a.csv"]);
    run.ok();
    assert_eq!(run.stderr, "");
}

#[test]
fn a_failed_write_to_stdout_is_an_error_and_a_closed_pipe_is_not() {
    let p = Project::new();
    p.write("a.csv", "a\n");
    p.cairn(&["data", "add", "a.csv"]).ok();
    // A full disk: /dev/full refuses every write with ENOSPC.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = p
        .command(&["data", "ls"])
        .stdout(full)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("cairn runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("cannot write to standard output"),
        "{stderr}"
    );
    // A reader that went away: quiet, exit 0.
    let mut child = p
        .command(&["data", "ls"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cairn runs");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("cairn ends");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
