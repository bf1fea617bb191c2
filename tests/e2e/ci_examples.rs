//! examples/ci: the GitHub Actions workflow and the GitLab CI file run the same cairn commands
//! as examples/ci/pipeline.sh, in the same order; the script itself runs as CI would, in fresh
//! clones of a sample project: a run on main promotes, a pull request's run validates only, a
//! failed gate fails the job and leaves production as it was.

use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_e2e::{Project, Rng, cairn_bin};
use yaml_rust2::{Yaml, YamlLoader};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/ci")
        .join(name)
}

/// The cairn command lines of a shell text, in order, trimmed.
fn cairn_lines(script: &str) -> Vec<String> {
    script
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("cairn "))
        .map(str::to_owned)
        .collect()
}

fn yaml(name: &str) -> Yaml {
    let text = std::fs::read_to_string(example(name)).unwrap();
    YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{name} is not YAML: {e}"))
        .remove(0)
}

#[test]
fn the_workflows_run_the_scripts_commands() {
    let script = cairn_lines(&std::fs::read_to_string(example("pipeline.sh")).unwrap());
    assert!(script.len() >= 7, "{script:?}");

    let github = yaml("github-actions.yml");
    let steps = github["jobs"]["model"]["steps"]
        .as_vec()
        .expect("jobs.model.steps");
    let github_lines: Vec<String> = steps
        .iter()
        .filter_map(|step| step["run"].as_str())
        .flat_map(cairn_lines)
        .collect();
    assert_eq!(github_lines, script, "github-actions.yml");
    // Promotion only on main.
    let promote = steps
        .iter()
        .find(|step| {
            step["run"]
                .as_str()
                .is_some_and(|r| r.contains("models promote"))
        })
        .unwrap();
    assert!(promote["if"].as_str().unwrap().contains("refs/heads/main"));

    let gitlab = yaml("gitlab-ci.yml");
    let gitlab_lines: Vec<String> = gitlab["model"]["script"]
        .as_vec()
        .expect("model.script")
        .iter()
        .filter_map(Yaml::as_str)
        .flat_map(cairn_lines)
        .collect();
    assert_eq!(gitlab_lines, script, "gitlab-ci.yml");
}

const SPEC: &str = r#"
[remote.store]
url = "REMOTE"

[core]
remote = "store"

[dataset."data/train.csv"]
rows = { min = 100 }

[dataset."data/train.csv".columns.label]
not_null = true
allowed = ["yes", "no"]

[model.churn]
data = "data/train.csv"
target = "label"
exclude = ["id"]
algorithm = "random_forest_classifier"
params = { n_trees = 8, max_depth = 5 }
seed = 3

[model.churn.gates]
accuracy = { min = 0.8 }
"#;

fn table(rows: usize) -> String {
    let mut rng = Rng(5);
    let mut out = String::from("id,x1,x2,label\n");
    for i in 0..rows {
        let x1 = (rng.next() % 1000) as f64 / 1000.0;
        let x2 = (rng.next() % 1000) as f64 / 1000.0;
        let label = if x1 + x2 > 1.0 { "yes" } else { "no" };
        out.push_str(&format!("{i},{x1},{x2},{label}\n"));
    }
    out
}

/// Runs examples/ci/pipeline.sh in `dir` as a CI job would: `cairn` on PATH, MODEL set.
fn pipeline(dir: &Path, main: bool) -> (i32, String) {
    let mut path = vec![cairn_bin().parent().unwrap().to_path_buf()];
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let out = Command::new("bash")
        .arg(example("pipeline.sh"))
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::join_paths(path).unwrap())
        .env("HOME", dir)
        .env("NO_COLOR", "1")
        .env("MODEL", "churn")
        .env("MAIN", if main { "1" } else { "0" })
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "cairn CI")
        .env("GIT_AUTHOR_EMAIL", "ci@cairn.invalid")
        .env("GIT_COMMITTER_NAME", "cairn CI")
        .env("GIT_COMMITTER_EMAIL", "ci@cairn.invalid")
        .output()
        .expect("bash runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// A fresh clone of the bare repository `origin`, as a CI checkout.
fn checkout(origin: &Path) -> Project {
    let p = Project::bare();
    let out = Command::new("git")
        .args(["clone", "-q"])
        .arg(origin)
        .arg(p.root())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    p
}

#[test]
fn the_pipeline_promotes_on_main_and_stops_on_a_failed_gate() {
    let remote = tempfile::tempdir().unwrap();
    let origin = tempfile::tempdir().unwrap();
    // The team's project: data tracked and pushed, the spec committed, pushed to `origin`.
    let dev = Project::new();
    dev.write("data/train.csv", table(400));
    let toml = String::from_utf8(dev.read("cairn.toml")).unwrap();
    dev.write(
        "cairn.toml",
        toml + &SPEC.replace("REMOTE", remote.path().to_str().unwrap()),
    );
    dev.cairn(&["data", "add", "data/train.csv"]).ok();
    dev.cairn(&["data", "push"]).ok();
    dev.commit("data and the churn spec");
    dev.git(&[
        "clone",
        "-q",
        "--bare",
        ".",
        origin.path().to_str().unwrap(),
    ]);

    // On main: trained, registered, gated, promoted, published.
    let ci = checkout(origin.path());
    let (code, out) = pipeline(ci.root(), true);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("churn@1"), "{out}");
    dev.git(&["pull", "-q", origin.path().to_str().unwrap(), "main"]);
    dev.cairn(&["models", "show", "churn@production"])
        .ok()
        .stdout_has("churn@1");
    // The published objects are on the remote: a new clone can load the model.
    let reader = checkout(origin.path());
    reader.cairn(&["data", "pull"]).ok();
    reader.cairn(&["validate", "churn@production"]).ok();

    // A pull request's job validates but neither promotes nor commits.
    let pr = checkout(origin.path());
    let (code, out) = pipeline(pr.root(), false);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("churn@candidate"), "{out}");
    assert!(
        !out.contains("production ←") && !out.contains("promoted"),
        "{out}"
    );
    let head = pr.git(&["log", "-1", "--format=%s"]);
    assert!(head.contains("[skip ci]"), "the job made a commit: {head}");
    assert!(out.contains("validated churn@2  passed"), "{out}");

    // A change that fails its gate fails the job; production stays churn@1.
    let toml = String::from_utf8(dev.read("cairn.toml")).unwrap();
    dev.write(
        "cairn.toml",
        toml.replace("max_depth = 5", "max_depth = 1")
            .replace("accuracy = { min = 0.8 }", "accuracy = { min = 0.99 }"),
    );
    dev.commit("a shallower model");
    dev.git(&["push", "-q", origin.path().to_str().unwrap(), "main"]);
    let failing = checkout(origin.path());
    let (code, out) = pipeline(failing.root(), true);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("accuracy"), "{out}");
    let head = failing.git(&["log", "-1", "--format=%s"]);
    assert_eq!(head.trim(), "a shallower model", "nothing was committed");
    let later = checkout(origin.path());
    later
        .cairn(&["models", "show", "churn@production"])
        .ok()
        .stdout_has("churn@1");
}
