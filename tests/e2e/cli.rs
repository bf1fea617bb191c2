use cairn_e2e::Project;

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

#[test]
fn json_documents_carry_kind_and_schema_version() {
    let p = Project::new();
    p.write("a.csv", "a\n");
    for (args, kind, code) in [
        (vec!["data", "add", "a.csv"], "data-add", 0),
        (vec!["data", "status"], "data-status", 0),
        (vec!["data", "checkout"], "data-checkout", 0),
        (vec!["data", "ls"], "data-ls", 0),
        (vec!["data", "gc", "--dry-run"], "data-gc", 0),
        (vec!["data", "fsck"], "data-fsck", 0),
        (vec!["data", "add", "missing.csv"], "error", 2),
    ] {
        let doc = p.json(&args, code);
        assert_eq!(doc["kind"], kind, "{args:?}");
        assert_eq!(doc["schema_version"], 1, "{args:?}");
    }
    let err = p.json(&["data", "add", "missing.csv"], 2);
    assert_eq!(err["exit_code"], 2);
    assert!(err["message"].as_str().unwrap().contains("missing.csv"));
    assert!(err["hint"].is_string());
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
