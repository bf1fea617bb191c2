use cairn_e2e::Project;

use crate::docs::{ErrorDoc, InitDoc, json};

#[test]
fn init_creates_the_project_and_refuses_twice() {
    let p = Project::new();
    assert!(p.exists("cairn.toml") && p.exists("cairn.lock") && p.exists(".cairn/objects"));
    let gitignore = String::from_utf8(p.read(".gitignore")).unwrap();
    assert!(gitignore.lines().any(|l| l == "/.cairn/"), "{gitignore}");
    let before = p.read("cairn.toml");
    p.cairn(&["init"])
        .code(2)
        .stderr_has("already a cairn project");
    let err: ErrorDoc = json(&p, &["init"], 2);
    assert_eq!(err.exit_code, 2);
    assert!(err.message.contains("already a cairn project"), "{err:?}");
    assert_eq!(p.read("cairn.toml"), before);
}

#[test]
fn init_outside_git_needs_no_git() {
    let p = Project::bare();
    p.cairn(&["init"])
        .code(2)
        .stderr_has("not inside a git repository")
        .stderr_has("--no-git");
    assert!(!p.exists("cairn.toml"));
    let init: InitDoc = json(&p, &["init", "--no-git"], 0);
    assert!(!init.git);
    assert!(
        init.created.iter().all(|c| !c.contains(".gitignore")),
        "no .gitignore upkeep without git: {init:?}"
    );
    assert!(p.exists("cairn.toml"));
    // Data commands work without git; history-aware ones say why they cannot.
    p.write("a.csv", "x\n");
    p.cairn(&["data", "add", "a.csv"]).ok();
    p.cairn(&["data", "checkout", "--rev", "HEAD"])
        .code(2)
        .stderr_has("git repository");
}

#[test]
fn commands_find_the_project_from_a_subdirectory() {
    let p = Project::new();
    p.write("data/sub/x.csv", "1\n");
    p.cairn_in("data/sub", &["data", "add", "x.csv"]).ok();
    assert!(
        p.lock_text().contains("[data.\"data/sub/x.csv\"]"),
        "{}",
        p.lock_text()
    );
    p.cairn_in("data", &["data", "status", "--check"]).ok();
    let other = Project::bare();
    other
        .cairn(&["data", "status"])
        .code(2)
        .stderr_has("no cairn project")
        .stderr_has("cairn init");
}
