//! `cairn hooks staged|config` and the repository's `.pre-commit-hooks.yaml`, run by the real
//! pre-commit tool (installed from PyPI into the target directory when it is not on PATH).

use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_e2e::{Project, cairn_bin};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Staged {
    kind: String,
    checked: usize,
    max_bytes: u64,
    findings: Vec<Finding>,
    clean: bool,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Finding {
    path: String,
    problem: String,
    tracked: Option<String>,
    inside: Option<bool>,
    bytes: Option<u64>,
}

fn finding(
    path: &str,
    problem: &str,
    tracked: Option<(&str, bool)>,
    bytes: Option<u64>,
) -> Finding {
    Finding {
        path: path.to_owned(),
        problem: problem.to_owned(),
        tracked: tracked.map(|(t, _)| t.to_owned()),
        inside: tracked.map(|(_, inside)| inside),
        bytes,
    }
}

fn project() -> Project {
    let p = Project::new();
    p.write("data/train.csv", "id,x\n1,2\n");
    p.tree("data/images", 3, 7);
    p.cairn(&["data", "add", "data/train.csv", "data/images"])
        .ok();
    p.commit("track data");
    p
}

#[test]
fn staged_refuses_tracked_data_the_store_and_large_files() {
    let p = project();
    p.write("src/train.py", "print('hi')\n");
    p.write("big.bin", vec![7u8; 600_000]);
    p.write("sub/ok.bin", vec![7u8; 600_000]);
    let image = std::fs::read_dir(p.path("data/images"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name()
        .into_string()
        .unwrap();
    let image = format!("data/images/{image}");
    let files = [
        "src/train.py",
        "data/train.csv",
        image.as_str(),
        ".cairn/config.toml",
        "big.bin",
        "gone.csv",
    ];
    p.write(".cairn/config.toml", "");
    let mut args = vec!["--json", "hooks", "staged"];
    args.extend(files);
    let run = p.cairn(&args);
    run.code(1);
    let doc: Staged = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc.kind, "hooks-staged");
    assert!(!doc.clean);
    // The deleted file is not counted: there is nothing of it to commit.
    assert_eq!(doc.checked, 5);
    assert_eq!(doc.max_bytes, 500_000);
    assert_eq!(
        doc.findings,
        [
            finding(
                "data/train.csv",
                "tracked",
                Some(("data/train.csv", false)),
                None
            ),
            finding(&image, "tracked", Some(("data/images", true)), None),
            finding(".cairn/config.toml", "state", None, None),
            finding("big.bin", "large", None, Some(600_000)),
        ]
    );
    // Human output names each file and why; the limit can be raised.
    p.cairn(&["hooks", "staged", "data/train.csv", "big.bin"])
        .code(1)
        .stdout_has("data/train.csv is tracked by cairn")
        .stdout_has("big.bin is 600.0 kB (more than 500.0 kB)")
        .stderr_has("git restore --staged");
    p.cairn(&[
        "hooks",
        "staged",
        "--max-size",
        "1MiB",
        "big.bin",
        "src/train.py",
    ])
    .ok()
    .stderr_has("2 files checked");
    // Paths are relative to the working directory, as git gives them to hooks run there.
    p.cairn_in("data", &["hooks", "staged", "train.csv"])
        .code(1)
        .stdout_has("train.csv is tracked by cairn");
    p.cairn(&["hooks", "staged", "--max-size", "lots", "big.bin"])
        .code(2)
        .stderr_has("--max-size");
}

#[test]
fn config_names_the_broken_file_and_line() {
    let p = project();
    p.cairn(&["hooks", "config"])
        .ok()
        .stderr_has("cairn.toml and cairn.lock are valid (2 tracked paths");
    let toml = String::from_utf8(p.read("cairn.toml")).unwrap();
    p.write(
        "cairn.toml",
        format!("{toml}\n[model.m]\nalgorithm = \"forest\"\n"),
    );
    let run = p.cairn(&["hooks", "config"]);
    run.code(2).stderr_has("cairn.toml");
    p.write("cairn.toml", &toml);
    let lock = p.lock_text();
    p.write("cairn.lock", lock.replacen("[data.", "[data", 1));
    p.cairn(&["hooks", "config"])
        .code(2)
        .stderr_has("cairn.lock");
}

/// The pre-commit executable: on PATH, or installed once from PyPI into the target directory.
fn pre_commit() -> PathBuf {
    if let Some(found) = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("pre-commit"))
            .find(|candidate| candidate.is_file())
    }) {
        return found;
    }
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pre-commit-venv");
    let bin = venv.join("bin/pre-commit");
    if !bin.is_file() {
        let run = |cmd: &mut Command| {
            let out = cmd.output().expect("python3 runs");
            assert!(
                out.status.success(),
                "installing pre-commit from PyPI failed ({cmd:?}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv));
        run(Command::new(venv.join("bin/pip")).args(["install", "-q", "pre-commit==4.7.0"]));
    }
    bin
}

#[test]
fn the_pre_commit_hooks_stop_commits_that_would_lose_or_leak_data() {
    let pre_commit = pre_commit();
    // The hooks' repository: this repository's .pre-commit-hooks.yaml at a commit.
    let hooks = Project::bare();
    hooks.git(&["init", "-q", "-b", "main"]);
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.pre-commit-hooks.yaml");
    hooks.write(
        ".pre-commit-hooks.yaml",
        std::fs::read(&manifest).expect("the repository's .pre-commit-hooks.yaml"),
    );
    hooks.commit("hooks");
    let rev = hooks.git(&["rev-parse", "HEAD"]);

    let p = project();
    p.write(
        ".pre-commit-config.yaml",
        format!(
            "repos:\n  - repo: {}\n    rev: {}\n    hooks:\n      - id: cairn-data-status\n      - id: cairn-staged\n      - id: cairn-config\n",
            hooks.root().display(),
            rev.trim()
        ),
    );
    p.git(&["add", ".pre-commit-config.yaml"]);
    let cache = tempfile::tempdir().unwrap();
    let bin_dir = cairn_bin().parent().unwrap().to_path_buf();
    let run = |args: &[&str]| {
        let mut path = vec![bin_dir.clone()];
        path.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        let out = Command::new(&pre_commit)
            .args(args)
            .current_dir(p.root())
            .env_clear()
            .env("PATH", std::env::join_paths(path).unwrap())
            .env("HOME", p.root())
            .env("PRE_COMMIT_HOME", cache.path())
            .env("NO_COLOR", "1")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .expect("pre-commit runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    };

    // All in order: the three hooks pass.
    let (code, out) = run(&["run"]);
    assert_eq!(code, 0, "{out}");
    for name in [
        "cairn data matches cairn.lock",
        "no cairn data or large files in git",
        "cairn.toml and cairn.lock are valid",
    ] {
        assert!(out.contains(name), "{name} did not run:\n{out}");
    }

    // Data cairn tracks, forced into git: the staged-files hook names it.
    p.git(&["add", "-f", "data/train.csv"]);
    let (code, out) = run(&["run"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("data/train.csv is tracked by cairn"), "{out}");
    p.git(&["rm", "-q", "--cached", "data/train.csv"]);

    // Tracked data changed without `cairn data add`: the status hook fails.
    p.write("data/train.csv", "id,x\n1,3\n");
    let (code, out) = run(&["run"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("data/train.csv"), "{out}");
    p.cairn(&["data", "add", "data/train.csv"]).ok();
    p.git(&["add", "cairn.lock"]);
    let (code, out) = run(&["run"]);
    assert_eq!(code, 0, "{out}");

    // A cairn.toml that does not parse: the config hook names it.
    p.write("cairn.toml", "[core\n");
    p.git(&["add", "cairn.toml"]);
    let (code, out) = run(&["run"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cairn.toml"), "{out}");

    // As a git hook: the commit itself is refused.
    let (code, out) = run(&["install"]);
    assert_eq!(code, 0, "{out}");
    let mut commit = Command::new("git");
    let mut path = vec![bin_dir.clone()];
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let out = commit
        .args(["commit", "-q", "-m", "broken config"])
        .current_dir(p.root())
        .env("PATH", std::env::join_paths(path).unwrap())
        .env("HOME", p.root())
        .env("PRE_COMMIT_HOME", cache.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "cairn tests")
        .env("GIT_AUTHOR_EMAIL", "tests@cairn.invalid")
        .env("GIT_COMMITTER_NAME", "cairn tests")
        .env("GIT_COMMITTER_EMAIL", "tests@cairn.invalid")
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the commit went through:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(p.git(&["log", "--format=%s", "-1"]).trim(), "track data");
}
