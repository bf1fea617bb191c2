//! Registered model versions (`[model.NAME]` in cairn.lock, built here with cairn-core's
//! types, as the registry writes them): push and fetch carry their objects, status --remote
//! counts them, gc keeps them whatever became of their runs, fsck checks them.

use std::collections::BTreeMap;

use cairn_core::registry::{ModelVersion, Stage, Verdict};

use super::*;

/// The objects of one registered version, stored in a project's store.
#[derive(Clone, Copy)]
struct Objects {
    artifact: Digest,
    record: Digest,
    validation: Option<Digest>,
}

impl Objects {
    fn all(&self) -> Vec<Digest> {
        [Some(self.artifact), Some(self.record), self.validation]
            .into_iter()
            .flatten()
            .collect()
    }
}

/// Stores an artifact, the run record of `run` that names it, and (when `validated`) a
/// passing validation record of `model@version`, as train and validate would.
fn store_version(f: &Fixture, model: &str, version: u32, run: &str, validated: bool) -> Objects {
    let store = f.project().store().unwrap();
    let artifact = store
        .put_bytes(format!("artifact of {run}").as_bytes())
        .unwrap()
        .digest;
    let record = store
        .put_bytes(run_record(run, &artifact).as_bytes())
        .unwrap()
        .digest;
    let validation = validated.then(|| {
        store
            .put_bytes(validation_record(model, version, &artifact, true).as_bytes())
            .unwrap()
            .digest
    });
    Objects {
        artifact,
        record,
        validation,
    }
}

fn run_record(run: &str, artifact: &Digest) -> String {
    format!(
        r#"{{"format": 1, "id": "{run}", "model": "churn", "status": "finished", "artifact": "{artifact}"}}"#
    )
}

fn validation_record(model: &str, version: u32, artifact: &Digest, passed: bool) -> String {
    format!(
        r#"{{"format": 1, "model": "{model}", "version": {version}, "artifact": "{artifact}", "passed": {passed}, "gates": []}}"#
    )
}

/// Registers `objects` as `model@version` in the project's cairn.lock, in `stage`.
fn register(f: &Fixture, model: &str, version: u32, run: &str, objects: Objects, stage: Stage) {
    let project = f.project();
    let store = project.store().unwrap();
    let size = store.object_meta(&objects.artifact).unwrap().0;
    let mut lock = project.read_lock().unwrap();
    let entry = lock.model.entry(model.to_owned()).or_default();
    entry.versions.push(ModelVersion {
        version,
        stage,
        registered: "2026-12-06T10:00:00Z".to_owned(),
        description: None,
        run: run.to_owned(),
        record: objects.record,
        artifact: objects.artifact,
        size,
        spec: model.to_owned(),
        algorithm: "decision_tree_classifier".to_owned(),
        commit: None,
        dirty: false,
        data: BTreeMap::new(),
        features: BTreeMap::new(),
        metrics: BTreeMap::from([("accuracy".to_owned(), 0.9)]),
        validation: objects.validation,
        validated: objects.validation.map(|_| Verdict::Passed),
    });
    project.write_lock(&lock, &store).unwrap();
}

fn object_file(f: &Fixture, digest: &Digest) -> PathBuf {
    f.project().store().unwrap().object_path(digest)
}

fn remote_file(remote: &Path, digest: &Digest) -> PathBuf {
    let hex = digest.to_hex();
    remote.join("objects").join(&hex[..2]).join(&hex[2..])
}

fn push_all(f: &Fixture, all_commits: bool) -> PushOutcome {
    push(
        &f.project(),
        &PushOptions {
            paths: Vec::new(),
            cwd: f.root().to_path_buf(),
            remote: None,
            all_commits,
            jobs: None,
        },
        &NoProgress,
    )
    .unwrap()
}

fn fetch_options(f: &Fixture) -> FetchOptions {
    FetchOptions {
        paths: Vec::new(),
        cwd: f.root().to_path_buf(),
        remote: None,
        rev: None,
        jobs: Some(4),
        models_only: false,
    }
}

fn fetch_all(f: &Fixture) -> FetchOutcome {
    fetch(&f.project(), &fetch_options(f), &NoProgress).unwrap()
}

fn gc_with(f: &Fixture, all_commits: bool, remote: Option<Option<String>>) -> GcOutcome {
    gc(
        &f.project(),
        &GcOptions {
            all_commits,
            dry_run: false,
            remote,
        },
        &NoProgress,
    )
    .unwrap()
}

fn fsck_of(f: &Fixture) -> FsckOutcome {
    fsck(
        &f.project(),
        &FsckOptions {
            remove_corrupt: false,
        },
        &NoProgress,
    )
    .unwrap()
}

/// A project with data and two registered versions of `churn`: 1 in production (validated),
/// 2 archived (never validated); and a directory remote, nothing pushed yet.
struct Registered {
    remote: tempfile::TempDir,
    f: Fixture,
    v1: Objects,
    v2: Objects,
}

impl Registered {
    fn new(f: Fixture) -> Self {
        let remote = tempfile::tempdir().unwrap();
        f.add_remote(&remote.path().join("store"));
        f.write("data/x.csv", "x\n");
        f.add(&["data/x.csv"]);
        let v1 = store_version(&f, "churn", 1, "run-1", true);
        let v2 = store_version(&f, "churn", 2, "run-2", false);
        register(&f, "churn", 1, "run-1", v1, Stage::Production);
        register(&f, "churn", 2, "run-2", v2, Stage::Archived);
        Self { remote, f, v1, v2 }
    }

    fn remote_dir(&self) -> PathBuf {
        self.remote.path().join("store")
    }

    /// Another machine: the same lock and remote, an empty store.
    fn second(&self) -> Fixture {
        let second = Fixture::new();
        second.add_remote(&self.remote_dir());
        fs::copy(self.f.path("cairn.lock"), second.path("cairn.lock")).unwrap();
        second
    }
}

#[test]
fn push_and_fetch_carry_every_registered_versions_objects() {
    let r = Registered::new(Fixture::new());
    let before = status(&r.f.project(), &r.f.status_options(&[], Some(None))).unwrap();
    let presence: Vec<(String, u32, u64, u64)> = before
        .models
        .iter()
        .map(|m| {
            (
                m.model.clone(),
                m.version,
                m.remote.present,
                m.remote.missing,
            )
        })
        .collect();
    assert_eq!(
        presence,
        [("churn".into(), 1, 0, 3), ("churn".into(), 2, 0, 2)],
        "version 1 pins an artifact, a run record and a validation record; 2 no validation"
    );

    let pushed = push_all(&r.f, false);
    assert!(pushed.complete(), "{pushed:?}");
    assert_eq!(
        pushed.models,
        ModelObjects {
            versions: 2,
            objects: 5
        }
    );
    // The data file and the five registered objects.
    assert_eq!((pushed.needed, pushed.uploaded.objects), (6, 6));
    for digest in r.v1.all().iter().chain(&r.v2.all()) {
        assert!(remote_file(&r.remote_dir(), digest).exists());
    }
    let after = status(&r.f.project(), &r.f.status_options(&[], Some(None))).unwrap();
    assert!(after.models.iter().all(|m| m.remote.missing == 0));

    // A second machine with the lock alone fetches them all, archived versions included.
    let second = r.second();
    let fetched = fetch_all(&second);
    assert!(fetched.complete(), "{fetched:?}");
    assert_eq!(fetched.models.versions, 2);
    assert_eq!(fetched.downloaded.objects, 6);
    let store = second.project().store().unwrap();
    for digest in r.v1.all().iter().chain(&r.v2.all()) {
        assert_eq!(
            store.read(digest).unwrap(),
            r.f.project().store().unwrap().read(digest).unwrap()
        );
    }
    // Fetched objects were verified: a fetch again finds them all here.
    let again = fetch_all(&second);
    assert_eq!((again.already_here, again.downloaded.objects), (6, 0));
    assert!(fsck_of(&second).ok);

    // With paths, only those paths travel.
    let narrowed = push(
        &r.f.project(),
        &PushOptions {
            paths: vec![PathBuf::from("data/x.csv")],
            cwd: r.f.root().to_path_buf(),
            remote: None,
            all_commits: false,
            jobs: None,
        },
        &NoProgress,
    )
    .unwrap();
    assert_eq!((narrowed.needed, narrowed.models.versions), (1, 0));
}

#[test]
fn a_models_only_fetch_brings_the_registered_objects_and_no_data() {
    let r = Registered::new(Fixture::new());
    assert!(push_all(&r.f, false).complete());
    let server = r.second();
    let fetched = fetch(
        &server.project(),
        &FetchOptions {
            models_only: true,
            ..fetch_options(&server)
        },
        &NoProgress,
    )
    .unwrap();
    assert!(fetched.complete(), "{fetched:?}");
    assert_eq!(fetched.models.versions, 2);
    assert_eq!((fetched.needed, fetched.downloaded.objects), (5, 5));
    let store = server.project().store().unwrap();
    for digest in r.v1.all().iter().chain(&r.v2.all()) {
        assert!(store.contains(digest));
    }
    let data =
        r.f.project()
            .read_lock()
            .unwrap()
            .data
            .into_values()
            .next()
            .unwrap();
    assert!(!store.contains(&data.digest), "the data came too");
}

#[test]
fn a_registered_object_nobody_has_is_reported_by_push_and_fails_the_fetch() {
    let r = Registered::new(Fixture::new());
    let store = r.f.project().store().unwrap();
    store.remove(&r.v2.record).unwrap();
    let pushed = push_all(&r.f, false);
    assert!(!pushed.complete());
    let missing: Vec<(String, Digest)> = pushed
        .missing
        .iter()
        .map(|m| (m.path.to_string(), m.digest))
        .collect();
    assert_eq!(missing, [("model:churn@2/record".to_owned(), r.v2.record)]);

    let second = r.second();
    let fetched = fetch_all(&second);
    assert!(!fetched.complete());
    let failed: Vec<Digest> = fetched
        .downloaded
        .failures
        .iter()
        .map(|f| f.digest)
        .collect();
    assert_eq!(failed, [r.v2.record]);
    // The rest was fetched.
    assert!(second.project().store().unwrap().contains(&r.v2.artifact));
    // And a pull checks nothing out.
    let pulled = pull(
        &second.project(),
        &FetchOptions {
            paths: Vec::new(),
            cwd: second.root().to_path_buf(),
            remote: None,
            rev: None,
            jobs: None,
            models_only: false,
        },
        false,
        &NoProgress,
    );
    assert!(matches!(pulled, Err(DataError::FetchIncomplete { .. })));
    assert!(!second.path("data/x.csv").exists());
}

#[test]
fn gc_keeps_registered_objects_without_their_runs_and_on_the_remote() {
    let r = Registered::new(Fixture::with_git());
    let store = r.f.project().store().unwrap();
    let stray = store
        .put_bytes(b"an artifact nobody registered")
        .unwrap()
        .digest;
    // No run refs here at all: only the registry's pins keep the versions' objects.
    let out = gc_with(&r.f, false, None);
    let removed: Vec<Digest> = out.removed.iter().map(|o| o.digest).collect();
    assert_eq!(removed, [stray]);
    assert_eq!(
        out.models,
        ModelObjects {
            versions: 2,
            objects: 5
        }
    );
    for digest in r.v1.all().iter().chain(&r.v2.all()) {
        assert!(store.contains(digest), "gc removed {digest}");
    }

    // On the remote too.
    push_all(&r.f, false);
    let remote = remote_file(&r.remote_dir(), &r.v2.artifact);
    let out = gc_with(&r.f, false, Some(None));
    assert!(out.removed.is_empty(), "{:?}", out.removed);
    assert!(remote.exists());

    // A version only a committed lock still registers is kept with --all-commits only.
    r.f.commit("two versions");
    let project = r.f.project();
    let mut lock = project.read_lock().unwrap();
    let churn = lock.model.get_mut("churn").unwrap();
    churn.versions.retain(|v| v.version == 1);
    project.write_lock(&lock, &store).unwrap();
    let kept = gc_with(&r.f, true, Some(None));
    assert!(kept.removed.is_empty());
    assert_eq!(kept.models.versions, 2);
    assert!(remote.exists());
    let kept = gc_with(&r.f, true, None);
    assert!(kept.removed.is_empty());
    assert!(store.contains(&r.v2.artifact));
    let out = gc_with(&r.f, false, None);
    let mut removed: Vec<Digest> = out.removed.iter().map(|o| o.digest).collect();
    removed.sort();
    let mut expected = r.v2.all();
    expected.sort();
    assert_eq!(removed, expected);
    assert!(store.contains(&r.v1.artifact));
}

#[test]
fn fsck_reports_missing_corrupt_and_inconsistent_registered_versions() {
    let r = Registered::new(Fixture::new());
    let clean = fsck_of(&r.f);
    assert!(clean.ok && clean.missing.is_empty() && clean.inconsistent.is_empty());
    assert_eq!(clean.models.objects, 5);

    // Missing: named by the version that needs it; not a failure, as for data.
    r.f.project()
        .store()
        .unwrap()
        .remove(&r.v1.validation.unwrap())
        .unwrap();
    let out = fsck_of(&r.f);
    let missing: Vec<String> = out.missing.iter().map(|m| m.path.to_string()).collect();
    assert_eq!(missing, ["model:churn@1/validation"]);
    assert!(out.ok);

    // Corrupt: named by the version it belongs to.
    damage(&object_file(&r.f, &r.v2.artifact), b"something else");
    let out = fsck_of(&r.f);
    assert!(!out.ok);
    let corrupt: Vec<(Digest, Vec<String>)> = out
        .corrupt
        .iter()
        .map(|c| (c.digest, c.needed_by.clone()))
        .collect();
    assert_eq!(corrupt, [(r.v2.artifact, vec!["model:churn@2".to_owned()])]);
}

#[test]
fn fsck_reports_records_that_contradict_the_pins() {
    let r = Registered::new(Fixture::new());
    let project = r.f.project();
    let store = project.store().unwrap();
    // Version 2's record now names version 1's artifact; version 1's validation record is
    // about version 2.
    let record = store
        .put_bytes(run_record("run-2", &r.v1.artifact).as_bytes())
        .unwrap()
        .digest;
    let validation = store
        .put_bytes(validation_record("churn", 2, &r.v1.artifact, true).as_bytes())
        .unwrap()
        .digest;
    let mut lock = project.read_lock().unwrap();
    let churn = lock.model.get_mut("churn").unwrap();
    churn.version_mut(2).unwrap().record = record;
    churn.version_mut(1).unwrap().validation = Some(validation);
    project.write_lock(&lock, &store).unwrap();
    let out = fsck_of(&r.f);
    assert!(!out.ok);
    assert!(out.corrupt.is_empty());
    let found: Vec<(u32, ModelObject, Digest)> = out
        .inconsistent
        .iter()
        .map(|i| (i.version, i.object, i.digest))
        .collect();
    assert_eq!(
        found,
        [
            (1, ModelObject::Validation, validation),
            (2, ModelObject::Record, record)
        ]
    );
    assert!(
        out.inconsistent[1]
            .problem
            .contains(&format!("names model artifact {}", r.v1.artifact)),
        "{}",
        out.inconsistent[1].problem
    );
    assert!(out.inconsistent[0].problem.contains("churn@2, not churn@1"));
}
