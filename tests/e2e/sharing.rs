//! Registered model versions shared through a remote: train → register → promote → `data
//! push` → a fresh `git clone` → `data pull` shows the same registry and reads the production
//! artifact; `runs rm` + `data gc` keep a registered version's objects; `data fsck` names the
//! version a corrupt artifact belongs to.

use std::collections::BTreeMap;

use cairn_e2e::{Project, Rng};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::docs::{self, FsckDoc, GcDoc, ModelObjects, PullDoc, PushDoc, StatusDoc};

const MODELS: Option<ModelObjects> = Some(ModelObjects {
    versions: 2,
    objects: 4,
});

// The registry's documents, as far as these tests read them (tests/e2e/registry.rs has them
// whole).

/// `cairn train`.
#[derive(Debug, Deserialize)]
struct RunDoc {
    id: String,
    status: String,
}

#[derive(Debug, Deserialize)]
struct VersionDoc {
    version: u32,
    #[serde(default)]
    stage: Option<String>,
    record: String,
    artifact: String,
}

/// `cairn models show`.
#[derive(Debug, Deserialize)]
struct ShowDoc {
    kind: String,
    versions: Vec<VersionDoc>,
}

/// `cairn models rollback`.
#[derive(Debug, Deserialize)]
struct RollbackDoc {
    kind: String,
    version: u32,
    archived: u32,
    was_forced: bool,
}

/// Runs `cairn --json ARGS`, asserts the exit code, decodes stdout (a registry or run
/// document; the data documents go through [`docs::json`]).
#[track_caller]
fn doc<T: DeserializeOwned>(p: &Project, args: &[&str], code: i32) -> T {
    let run = json_run(p, args, code);
    serde_json::from_str(&run).unwrap_or_else(|e| panic!("not the documented JSON ({e}):\n{run}"))
}

/// Runs `cairn --json ARGS`, asserts the exit code, returns stdout.
#[track_caller]
fn json_run(p: &Project, args: &[&str], code: i32) -> String {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let run = p.cairn(&all);
    run.code(code);
    run.stdout.clone()
}

/// A seeded table: two numbers and a label that follows their sum, with noise.
fn table(rows: usize, seed: u64) -> String {
    let mut rng = Rng(seed);
    let unit = |rng: &mut Rng| (rng.next() % 10_000) as f64 / 10_000.0;
    let mut out = String::from("x1,x2,label\n");
    for _ in 0..rows {
        let (x1, x2) = (unit(&mut rng), unit(&mut rng));
        let noise = unit(&mut rng) * 0.3;
        let label = if x1 + x2 + noise > 1.15 { "yes" } else { "no" };
        out.push_str(&format!("{x1},{x2},{label}\n"));
    }
    out
}

const SPEC: &str = r#"
[model.churn]
data = "data/train.csv"
target = "label"
algorithm = "decision_tree_classifier"
params = { max_depth = 3 }
seed = 7
"#;

/// Trains churn with `max_depth` set and returns the run's id.
fn train(p: &Project, depth: u32) -> String {
    let run: RunDoc = doc(
        p,
        &["train", "churn", "--set", &format!("max_depth={depth}")],
        0,
    );
    assert_eq!(run.status, "finished");
    run.id
}

fn show(p: &Project) -> ShowDoc {
    doc(p, &["models", "show", "churn"], 0)
}

/// A committed project with data, a remote, and two registered versions of churn whose runs
/// were removed: 1 in production (forced), 2 in staging.
fn registered(remote: &std::path::Path) -> Project {
    let p = Project::new();
    p.git(&["config", "user.name", "Ann"]);
    p.git(&["config", "user.email", "ann@example.com"]);
    p.write("data/train.csv", table(300, 1));
    let mut config = String::from_utf8(p.read("cairn.toml")).unwrap();
    config.push_str(SPEC);
    p.write("cairn.toml", config);
    p.cairn(&["data", "add", "data/train.csv"]).ok();
    p.cairn(&["remote", "add", "shared", remote.to_str().unwrap()])
        .ok();
    p.commit("data, spec, remote");
    let first = train(&p, 3);
    p.cairn(&["register", &first]).ok();
    p.cairn(&[
        "models",
        "promote",
        "churn@1",
        "--to",
        "production",
        "--force",
        "--reason",
        "first model",
    ])
    .ok();
    let second = train(&p, 2);
    p.cairn(&["register", &second]).ok();
    p.cairn(&["models", "promote", "churn@2", "--to", "staging"])
        .ok();
    p.commit("churn@1 in production, churn@2 in staging");
    // The runs go: only the registry keeps their objects now.
    p.cairn(&["runs", "rm", &first, &second]).ok();
    p
}

#[test]
fn a_fresh_clone_pulls_the_registry_and_reads_the_production_artifact() {
    let remote = tempfile::tempdir().unwrap();
    let p = registered(remote.path());
    let versions = show(&p).versions;
    let objects: Vec<&str> = versions
        .iter()
        .flat_map(|v| [v.artifact.as_str(), v.record.as_str()])
        .collect();

    // runs rm + gc: the registered versions' artifacts and records stay.
    let gc: GcDoc = docs::json(&p, &["data", "gc"], 0);
    assert_eq!(gc.models, MODELS);
    for digest in &objects {
        assert!(p.object_path(digest).exists(), "gc removed {digest}");
        assert!(gc.removed.iter().all(|r| r.digest != *digest));
    }

    // Not pushed yet: status --remote --check says so, per version.
    let status: StatusDoc = docs::json(&p, &["data", "status", "--remote", "--check"], 1);
    assert!(status.clean, "the workspace matches the lock");
    let missing: Vec<(&str, u32, u64, u64)> = status
        .models
        .iter()
        .map(|m| {
            (
                m.model.as_str(),
                m.version,
                m.remote.present,
                m.remote.missing,
            )
        })
        .collect();
    assert_eq!(missing, [("churn", 1, 0, 2), ("churn", 2, 0, 2)]);
    p.cairn(&["data", "status", "--remote"])
        .ok()
        .stdout_has("model:churn@1  [shared: 2 of 2 objects missing]");

    let pushed: PushDoc = docs::json(&p, &["data", "push"], 0);
    assert_eq!(pushed.models, MODELS);
    assert!(pushed.missing.is_empty() && pushed.uploaded.failures.is_empty());
    assert_eq!(
        (pushed.needed, pushed.uploaded.objects),
        (5, 5),
        "the data and 4"
    );
    p.cairn(&["data", "status", "--remote", "--check"])
        .ok()
        .stdout_has("model:churn@2  [shared: pushed]");

    // A fresh clone: the same registry, its objects fetched through the registry's pins (the
    // runs are gone, so no run brings them).
    let clone = p.clone_repo();
    let pulled: PullDoc = docs::json(&clone, &["data", "pull"], 0);
    assert_eq!(pulled.fetch.models, MODELS);
    assert!(pulled.fetch.runs_added.is_empty());
    assert_eq!(pulled.fetch.downloaded.objects, 5);
    assert_eq!(
        json_run(&clone, &["models", "show", "churn"], 0),
        json_run(&p, &["models", "show", "churn"], 0),
        "the clone shows the same registry"
    );
    let shown = show(&clone);
    assert_eq!(shown.kind, "models-show");
    let production = shown
        .versions
        .iter()
        .find(|v| v.stage.as_deref() == Some("production"))
        .expect("a production version");
    assert_eq!(production.version, 1);
    assert_eq!(
        clone.read(&rel_object(&production.artifact)),
        p.read(&rel_object(&production.artifact)),
        "the production artifact, byte for byte"
    );
    let fsck: FsckDoc = docs::json(&clone, &["data", "fsck"], 0);
    assert!(fsck.ok && fsck.missing.is_empty() && fsck.inconsistent.is_empty());
    assert_eq!(fsck.models, MODELS);

    // The clone reads both artifacts through the registry's verified read: staging goes to
    // production, then a rollback puts the production artifact back.
    clone
        .cairn(&[
            "models",
            "promote",
            "churn@staging",
            "--to",
            "production",
            "--force",
            "--reason",
            "from the clone",
        ])
        .ok();
    let rolled: RollbackDoc = doc(&clone, &["models", "rollback", "churn"], 0);
    assert_eq!(rolled.kind, "models-rollback");
    assert_eq!((rolled.version, rolled.archived), (1, 2));
    assert!(rolled.was_forced);
}

#[test]
fn fsck_names_the_model_version_of_a_corrupt_or_missing_registered_object() {
    use std::os::unix::fs::PermissionsExt;
    let remote = tempfile::tempdir().unwrap();
    let p = registered(remote.path());
    let versions = show(&p).versions;
    let production = versions.iter().find(|v| v.version == 1).unwrap();

    let object = p.object_path(&production.artifact);
    std::fs::set_permissions(&object, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&object, "tampered artifact").unwrap();
    p.cairn(&["data", "fsck"])
        .code(1)
        .stdout_has(&production.artifact)
        .stdout_has("needed by model:churn@1");
    let fsck: FsckDoc = docs::json(&p, &["data", "fsck"], 1);
    assert!(!fsck.ok);
    let corrupt: Vec<(&str, &[String])> = fsck
        .corrupt
        .iter()
        .map(|c| (c.digest.as_str(), c.needed_by.as_slice()))
        .collect();
    assert_eq!(
        corrupt,
        [(
            production.artifact.as_str(),
            ["model:churn@1".to_owned()].as_slice()
        )]
    );
    // Reading it is refused too.
    p.cairn(&["models", "promote", "churn@1", "--to", "staging"])
        .code(2)
        .stderr_has("corrupt");

    // Removed, it is missing, named by its version; a push reports it the same way.
    p.cairn(&["data", "fsck", "--remove-corrupt"]).code(1);
    let fsck: FsckDoc = docs::json(&p, &["data", "fsck"], 0);
    let missing: BTreeMap<&str, &str> = fsck
        .missing
        .iter()
        .map(|m| (m.path.as_str(), m.digest.as_str()))
        .collect();
    assert_eq!(
        missing,
        BTreeMap::from([("model:churn@1", production.artifact.as_str())])
    );
    let pushed: PushDoc = docs::json(&p, &["data", "push"], 2);
    let missing: Vec<&str> = pushed.missing.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(missing, ["model:churn@1"]);
}

/// The project-relative path of an object file.
fn rel_object(digest: &str) -> String {
    format!(".cairn/objects/{}/{}", &digest[..2], &digest[2..])
}
