//! Git information through gix, checked against the git command line.
#![allow(clippy::disallowed_methods)]

use std::path::Path;
use std::process::Command;

use cairn_core::Git;
use cairn_store::RelPath;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t.invalid")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn head_dirty_files_at_revisions_and_history() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    // The project lives in a subdirectory of the repository.
    let project = root.join("ml");
    std::fs::create_dir_all(&project).unwrap();
    git(root, &["init", "-q", "-b", "main"]);
    assert!(
        Git::discover(&project)
            .unwrap()
            .unwrap()
            .head_commit()
            .unwrap()
            .is_none(),
        "unborn HEAD"
    );

    std::fs::write(project.join("cairn.lock"), "version = 1\n# one\n").unwrap();
    std::fs::write(project.join("code.py"), "print(1)\n").unwrap();
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "one"]);
    std::fs::write(project.join("cairn.lock"), "version = 1\n# two\n").unwrap();
    git(root, &["commit", "-q", "-am", "two"]);
    git(root, &["checkout", "-q", "-b", "side", "HEAD~1"]);
    std::fs::write(project.join("cairn.lock"), "version = 1\n# side\n").unwrap();
    git(root, &["commit", "-q", "-am", "side"]);
    git(root, &["checkout", "-q", "main"]);

    let g = Git::discover(&project).unwrap().unwrap();
    assert_eq!(
        g.head_commit().unwrap().unwrap(),
        git(root, &["rev-parse", "HEAD"])
    );
    assert!(!g.is_dirty().unwrap());
    assert_eq!(
        g.file_at("HEAD~1", "cairn.lock").unwrap().unwrap(),
        b"version = 1\n# one\n"
    );
    assert_eq!(
        g.file_at("side", "cairn.lock").unwrap().unwrap(),
        b"version = 1\n# side\n"
    );
    assert!(g.file_at("HEAD", "nope.toml").unwrap().is_none());
    assert!(g.file_at("no-such-branch", "cairn.lock").is_err());

    let mut versions: Vec<String> = g
        .file_in_history("cairn.lock")
        .unwrap()
        .into_iter()
        .map(|(_, text)| String::from_utf8(text).unwrap())
        .collect();
    versions.sort();
    assert_eq!(versions.len(), 3, "every branch's versions: {versions:?}");

    assert_eq!(
        g.tracked_at_or_below(&RelPath::new("code.py").unwrap())
            .unwrap()
            .as_deref(),
        Some("code.py")
    );
    assert!(
        g.tracked_at_or_below(&RelPath::new("data").unwrap())
            .unwrap()
            .is_none()
    );

    std::fs::write(project.join("code.py"), "print(2)\n").unwrap();
    assert!(g.is_dirty().unwrap());
}

#[test]
fn no_repository_is_none() {
    let dir = tempfile::tempdir().unwrap();
    assert!(Git::discover(dir.path()).unwrap().is_none());
}
