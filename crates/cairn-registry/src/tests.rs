//! The public API on real projects in temporary directories: registering runs (by id, by the
//! best metric), references, promotion and its validation rule, rollback, aliases, the
//! history, verified artifact reads, refusals that leave the lock as it was, and two changes
//! racing.
#![allow(clippy::disallowed_methods)] // test fixtures are written with std::fs

use std::path::PathBuf;

use cairn_core::{DataEntry, EntryKind, InitOptions, Project};
use cairn_store::{Digest, NoProgress, RelPath};
use cairn_train::{TrainOptions, TrainOutcome};

use crate::*;

/// A seeded table: two numbers and a label that follows their sum.
fn table(rows: usize, seed: u64) -> String {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut unit = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) % 10_000) as f64 / 10_000.0
    };
    let mut out = String::from("x1,x2,label\n");
    for _ in 0..rows {
        let (x1, x2) = (unit(), unit());
        let label = if x1 + x2 > 1.0 { "yes" } else { "no" };
        out.push_str(&format!("{x1},{x2},label_{label}\n"));
    }
    out
}

const SPECS: &str = r#"
[model.tree]
data = "data/t.csv"
target = "label"
algorithm = "decision_tree_classifier"
params = { max_depth = 3 }
seed = 1

[model.broken]
data = "data/t.csv"
target = "no_such_column"
algorithm = "decision_tree_classifier"
"#;

/// A project (no git unless asked) with `data/t.csv` tracked and the specs above.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        Project::init(&root, &InitOptions { no_git: true }).unwrap();
        let toml = std::fs::read_to_string(root.join("cairn.toml")).unwrap();
        std::fs::write(root.join("cairn.toml"), toml + SPECS).unwrap();
        let f = Fixture { _dir: dir, root };
        f.track("data/t.csv", &table(80, 1));
        f
    }

    fn project(&self) -> Project {
        Project::discover(&self.root).unwrap()
    }

    fn track(&self, path: &str, text: &str) {
        let full = self.root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
        let project = self.project();
        let store = project.store().unwrap();
        let put = store.put_bytes(text.as_bytes()).unwrap();
        store.sync().unwrap();
        let mut lock = project.read_lock().unwrap();
        lock.data.insert(
            RelPath::new(path).unwrap(),
            DataEntry {
                kind: EntryKind::File,
                digest: put.digest,
                size: put.size,
                files: 0,
                executable: false,
            },
        );
        project
            .write_lock(&lock, &self.project().store().unwrap())
            .unwrap();
    }

    /// A finished run of `tree` with `max_depth` set (different depths: different artifacts).
    fn train(&self, depth: u32) -> TrainOutcome {
        self.try_train("tree", depth).unwrap()
    }

    fn try_train(&self, spec: &str, depth: u32) -> Result<TrainOutcome, cairn_train::TrainError> {
        cairn_train::train(
            &self.project(),
            &TrainOptions {
                model: spec.to_owned(),
                overrides: vec![("max_depth".to_owned(), depth.to_string())],
                ..TrainOptions::default()
            },
            &cairn_train::Quiet,
        )
    }

    fn register(&self, run: &str) -> Result<Registered, RegistryError> {
        register(
            &self.project(),
            &RegisterOptions {
                run: Some(run.to_owned()),
                ..RegisterOptions::default()
            },
            &NoProgress,
        )
    }

    fn promote(&self, reference: &str, to: Stage) -> Result<Promoted, RegistryError> {
        promote(
            &self.project(),
            &PromoteOptions {
                reference: reference.to_owned(),
                to,
                reason: None,
                force: false,
                expect_production: None,
            },
            &NoProgress,
        )
    }

    fn force(&self, reference: &str, reason: &str) -> Result<Promoted, RegistryError> {
        promote(
            &self.project(),
            &PromoteOptions {
                reference: reference.to_owned(),
                to: Stage::Production,
                reason: Some(reason.to_owned()),
                force: true,
                expect_production: None,
            },
            &NoProgress,
        )
    }

    fn lock_text(&self) -> String {
        std::fs::read_to_string(self.root.join("cairn.lock")).unwrap()
    }

    fn resolve(&self, reference: &str) -> Result<Resolved, RegistryError> {
        resolve_in(&self.project(), reference)
    }

    /// Stores a validation record (the fields the registry reads, and one it does not).
    fn validation_record(
        &self,
        model: &str,
        version: u32,
        artifact: &Digest,
        passed: bool,
    ) -> Digest {
        let json = format!(
            r#"{{"format":1,"model":"{model}","version":{version},"artifact":"{artifact}","passed":{passed},"gates":[]}}"#
        );
        let store = self.project().store().unwrap();
        let digest = store.put_bytes(json.as_bytes()).unwrap().digest;
        store.sync().unwrap();
        digest
    }

    /// Validates `name@version` with a passing record.
    fn pass(&self, name: &str, version: u32) -> Digest {
        let artifact = self
            .resolve(&format!("{name}@{version}"))
            .unwrap()
            .entry
            .artifact;
        let digest = self.validation_record(name, version, &artifact, true);
        record_validation(&self.project(), name, version, digest, true).unwrap();
        digest
    }

    /// Replaces an object's bytes (objects are read-only files).
    fn damage(&self, digest: &Digest) {
        let path = self.project().store().unwrap().object_path(digest);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, bytes).unwrap();
    }
}

/// Runs `f`, asserting that it fails and that `cairn.lock` is byte for byte as before.
#[track_caller]
fn refused<T: std::fmt::Debug>(
    f: &Fixture,
    op: impl FnOnce() -> Result<T, RegistryError>,
) -> RegistryError {
    let before = f.lock_text();
    let err = op().expect_err("refused");
    assert_eq!(
        f.lock_text(),
        before,
        "a refusal changed cairn.lock ({err})"
    );
    err
}

#[test]
fn a_run_registers_as_version_1_pinning_what_it_recorded() {
    let f = Fixture::new();
    let trained = f.train(3);
    let run = &trained.record;
    let registered = register(
        &f.project(),
        &RegisterOptions {
            run: Some(run.id[..6].to_owned()),
            description: Some("first cut".into()),
            ..RegisterOptions::default()
        },
        &NoProgress,
    )
    .unwrap();
    assert_eq!((registered.name.as_str(), registered.version), ("tree", 1));
    let v = &registered.entry;
    assert_eq!(v.run, run.id);
    assert_eq!(v.record, trained.record_digest);
    assert_eq!(v.artifact.to_hex(), *run.artifact.as_ref().unwrap());
    assert_eq!(Some(v.size), run.artifact_size);
    assert_eq!(
        (v.spec.as_str(), v.algorithm.as_str()),
        ("tree", "decision_tree_classifier")
    );
    assert_eq!(v.stage, Stage::None);
    assert_eq!(v.description.as_deref(), Some("first cut"));
    assert_eq!(v.commit, None, "no git: no commit");
    assert_eq!(v.data["data/t.csv"].to_hex(), run.data["data/t.csv"]);
    assert_eq!(v.metrics, run.metrics);
    assert_eq!(v.validated, None);
    // What the lock holds is what the outcome says.
    let lock = f.project().read_lock().unwrap();
    let model = &lock.model["tree"];
    assert_eq!(model.versions, std::slice::from_ref(&registered.entry));
    match model.history.as_slice() {
        [h] => {
            assert_eq!((h.action, h.version), (Action::Register, 1));
            assert_eq!(h.actor, "unknown", "no git: no identity");
            assert_eq!(h.at, v.registered);
            assert!(h.at.ends_with('Z') && h.at.len() == 20, "{}", h.at);
        }
        other => panic!("{other:?}"),
    }
    // A second run is version 2, under another name version 1.
    let second = f.train(1).record;
    assert_eq!(f.register(&second.id).unwrap().version, 2);
    let renamed = register(
        &f.project(),
        &RegisterOptions {
            run: Some(second.id.clone()),
            name: Some("tree-small".into()),
            ..RegisterOptions::default()
        },
        &NoProgress,
    )
    .unwrap();
    assert_eq!((renamed.name.as_str(), renamed.version), ("tree-small", 1));
    assert_eq!(renamed.entry.spec, "tree", "the spec that trained it");
}

#[test]
fn the_same_artifact_twice_a_failed_run_or_no_run_is_refused() {
    let f = Fixture::new();
    let run = f.train(3).record;
    f.register(&run.id).unwrap();
    // Training the same spec again gives the same artifact (another run).
    let again = f.train(3).record;
    assert_eq!(again.artifact, run.artifact);
    let err = refused(&f, || f.register(&again.id));
    assert!(
        matches!(&err, RegistryError::AlreadyRegistered { name, version: 1, run, .. } if name == "tree" && *run == again.id),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("is already registered as tree@1"),
        "{err}"
    );
    // Unless the existing version will do: it is the outcome, and nothing is written.
    let before = f.lock_text();
    let existing = register(
        &f.project(),
        &RegisterOptions {
            run: Some(again.id.clone()),
            existing_ok: true,
            ..RegisterOptions::default()
        },
        &NoProgress,
    )
    .unwrap();
    assert!(existing.existing);
    assert_eq!((existing.name.as_str(), existing.version), ("tree", 1));
    assert_eq!(existing.entry.run, run.id, "the version's own run");
    assert_eq!(f.lock_text(), before);
    // With an alias, the alias is moved to it (and only then is the lock written).
    let third = f.train(2).record;
    let aliased = register(
        &f.project(),
        &RegisterOptions {
            run: Some(third.id.clone()),
            alias: Some("candidate".into()),
            ..RegisterOptions::default()
        },
        &NoProgress,
    )
    .unwrap();
    assert_eq!(aliased.version, 2);
    assert_eq!(
        aliased.aliased.as_ref().map(|a| (a.version, a.previous)),
        Some((2, None))
    );
    assert_eq!(f.resolve("tree@candidate").unwrap().version, 2);
    let back = register(
        &f.project(),
        &RegisterOptions {
            run: Some(again.id.clone()),
            existing_ok: true,
            alias: Some("candidate".into()),
            ..RegisterOptions::default()
        },
        &NoProgress,
    )
    .unwrap();
    assert!(back.existing);
    assert_eq!(
        back.aliased.map(|a| (a.version, a.previous)),
        Some((1, Some(2)))
    );
    assert_eq!(f.resolve("tree@candidate").unwrap().version, 1);
    let err = refused(&f, || {
        register(
            &f.project(),
            &RegisterOptions {
                run: Some(third.id.clone()),
                existing_ok: true,
                alias: Some("production".into()),
                ..RegisterOptions::default()
            },
            &NoProgress,
        )
    });
    assert!(matches!(err, RegistryError::BadAlias { .. }), "{err:?}");
    let failed = f.try_train("broken", 2).unwrap_err();
    assert!(failed.to_string().contains("no_such_column"), "{failed}");
    let failed_run = cairn_train::list_runs(
        &f.project(),
        &cairn_train::Selection {
            model: Some("broken".into()),
            ..Default::default()
        },
    )
    .unwrap()
    .runs
    .remove(0);
    match refused(&f, || f.register(&failed_run.id)) {
        e @ RegistryError::RunNotFinished { .. } => {
            let text = e.to_string();
            assert!(
                text.contains("failed") && text.contains("only a finished run"),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        refused(&f, || f.register("ffffffffffff")),
        RegistryError::Runs(cairn_core::runs::RunsError::NotFound(_))
    ));
    assert!(matches!(
        refused(&f, || register(
            &f.project(),
            &RegisterOptions::default(),
            &NoProgress
        )),
        RegistryError::WhichRun
    ));
    let bad_name = RegisterOptions {
        run: Some(run.id.clone()),
        name: Some("no spaces".into()),
        ..RegisterOptions::default()
    };
    assert!(matches!(
        refused(&f, || register(&f.project(), &bad_name, &NoProgress)),
        RegistryError::BadName { .. }
    ));
}

#[test]
fn best_picks_the_best_finished_run_by_a_metric() {
    let f = Fixture::new();
    let runs: Vec<_> = [1, 2, 5].map(|d| f.train(d).record).into();
    let best = |metric: &str, ascending: Option<bool>| {
        register(
            &f.project(),
            &RegisterOptions {
                best: Some(BestBy {
                    metric: metric.into(),
                    spec: "tree".into(),
                    ascending,
                }),
                ..RegisterOptions::default()
            },
            &NoProgress,
        )
    };
    // log_loss: smaller is better by default.
    let lowest = runs
        .iter()
        .min_by(|a, b| a.metrics["log_loss"].total_cmp(&b.metrics["log_loss"]))
        .unwrap();
    let registered = best("log_loss", None).unwrap();
    assert_eq!(registered.entry.run, lowest.id);
    let chosen = registered.best.unwrap();
    assert_eq!((chosen.metric.as_str(), chosen.candidates), ("log_loss", 3));
    assert_eq!(chosen.value, lowest.metrics["log_loss"]);
    // Largest first when asked.
    let highest = runs
        .iter()
        .max_by(|a, b| a.metrics["log_loss"].total_cmp(&b.metrics["log_loss"]))
        .unwrap();
    assert_ne!(highest.id, lowest.id);
    assert_eq!(best("log_loss", Some(false)).unwrap().entry.run, highest.id);
    match refused(&f, || best("rmse", None)) {
        RegistryError::NoSuchMetric { available, .. } => {
            assert!(available.contains(&"accuracy".to_owned()), "{available:?}");
        }
        other => panic!("{other:?}"),
    }
    let none = RegisterOptions {
        best: Some(BestBy {
            metric: "accuracy".into(),
            spec: "broken".into(),
            ascending: None,
        }),
        ..RegisterOptions::default()
    };
    assert!(matches!(
        refused(&f, || register(&f.project(), &none, &NoProgress)),
        RegistryError::NoFinishedRun { .. }
    ));
}

/// Three versions of `tree`: 1 archived, 2 in production, 3 in staging, `champion` on 2.
fn three_versions() -> Fixture {
    let f = Fixture::new();
    for depth in [1, 2, 3] {
        let run = f.train(depth).record;
        f.register(&run.id).unwrap();
    }
    f.force("tree@1", "first").unwrap();
    f.force("tree@2", "second").unwrap();
    f.promote("tree@3", Stage::Staging).unwrap();
    alias(&f.project(), "tree@2", "champion", &NoProgress).unwrap();
    f
}

#[test]
fn references_name_versions_and_unknown_ones_list_what_exists() {
    let f = three_versions();
    for (reference, version) in [
        ("tree", 2),
        ("tree@production", 2),
        ("tree@staging", 3),
        ("tree@1", 1),
        ("tree@champion", 2),
        ("tree@latest", 3),
    ] {
        let resolved = f.resolve(reference).unwrap();
        assert_eq!(
            (resolved.name.as_str(), resolved.version),
            ("tree", version),
            "{reference}"
        );
        assert_eq!(resolved.entry.version, version);
    }
    for (reference, message) in [
        (
            "tree@9",
            "tree@9: no version 9 (versions: 1, 2, 3; stages: production = 2, staging = 3; aliases: champion = 2)",
        ),
        (
            "tree@challenger",
            "tree@challenger: no alias `challenger` (versions: 1, 2, 3;",
        ),
        (
            "tree@archived",
            "`archived` holds any number of versions; name one by its number",
        ),
        ("nope@1", "no model `nope` is registered (registered: tree)"),
        (
            "tre@1",
            "no model `tre` is registered; did you mean `tree`? (registered: tree)",
        ),
        ("tree@", "nothing follows `@`"),
        ("a b@1", "is not a model reference"),
        ("tree@x.y", "REF is a stage"),
    ] {
        let err = f.resolve(reference).unwrap_err().to_string();
        assert!(err.contains(message), "{reference}: {err}");
    }
    // A model with no production version.
    let g = Fixture::new();
    g.register(&g.train(3).record.id).unwrap();
    let err = g.resolve("tree").unwrap_err().to_string();
    assert!(err.contains("tree@production: no version is in production (versions: 1; stages: none; aliases: none)"), "{err}");
}

#[test]
fn production_needs_a_passing_validation_of_that_version_or_a_reason_to_force() {
    let f = Fixture::new();
    for depth in [1, 2] {
        f.register(&f.train(depth).record.id).unwrap();
    }
    // Staging needs no validation.
    let staged = f.promote("tree@1", Stage::Staging).unwrap();
    assert_eq!(
        (staged.from, staged.to, staged.archived),
        (Stage::None, Stage::Staging, None)
    );
    match refused(&f, || f.promote("tree@staging", Stage::Production)) {
        e @ RegistryError::NotValidated {
            why: Unvalidated::Never,
            ..
        } => {
            assert_eq!(
                e.to_string(),
                "tree@1 cannot go to production: it has not been validated"
            );
        }
        other => panic!("{other:?}"),
    }
    let no_reason = PromoteOptions {
        reference: "tree@1".into(),
        to: Stage::Production,
        reason: Some("  ".into()),
        force: true,
        expect_production: None,
    };
    assert!(matches!(
        refused(&f, || promote(&f.project(), &no_reason, &NoProgress)),
        RegistryError::ForceWithoutReason
    ));
    // A failed validation, then records about another version or artifact.
    let artifact1 = f.resolve("tree@1").unwrap().entry.artifact;
    let artifact2 = f.resolve("tree@2").unwrap().entry.artifact;
    let failed = f.validation_record("tree", 1, &artifact1, false);
    record_validation(&f.project(), "tree", 1, failed, false).unwrap();
    assert!(matches!(
        refused(&f, || f.promote("tree@1", Stage::Production)),
        RegistryError::NotValidated { why: Unvalidated::Failed(d), .. } if d == failed
    ));
    for (record, message) in [
        (
            f.validation_record("tree", 2, &artifact2, true),
            "is about tree@2, not tree@1",
        ),
        (
            f.validation_record("other", 1, &artifact1, true),
            "is about model `other`, not `tree`",
        ),
        (
            f.validation_record("tree", 1, &artifact2, true),
            "but tree@1 pins",
        ),
    ] {
        let err = refused(&f, || {
            record_validation(&f.project(), "tree", 1, record, true)
        });
        assert!(err.to_string().contains(message), "{err}");
    }
    let passed = f.validation_record("tree", 1, &artifact1, true);
    let err = refused(&f, || {
        record_validation(&f.project(), "tree", 1, passed, false)
    });
    assert!(
        err.to_string().contains("says passed = true, not false"),
        "{err}"
    );
    let newer = {
        let store = f.project().store().unwrap();
        store
            .put_bytes(br#"{"format":2,"model":"tree","version":1}"#)
            .unwrap()
            .digest
    };
    assert!(matches!(
        refused(&f, || record_validation(
            &f.project(),
            "tree",
            1,
            newer,
            true
        )),
        RegistryError::NewerValidationRecord { found: 2, .. }
    ));

    // A passing record: production, not forced.
    record_validation(&f.project(), "tree", 1, passed, true).unwrap();
    let v1 = f.resolve("tree@1").unwrap().entry;
    assert_eq!(
        (v1.validation, v1.validated),
        (Some(passed), Some(Verdict::Passed))
    );
    let promoted = f.promote("tree@1", Stage::Production).unwrap();
    assert_eq!(
        (promoted.from, promoted.forced, promoted.archived),
        (Stage::Staging, false, None)
    );
    assert_eq!(
        refused(&f, || f.promote("tree@1", Stage::Production)).to_string(),
        "tree@1 is already in production"
    );
    assert!(matches!(
        refused(&f, || f.promote("tree@1", Stage::None)),
        RegistryError::NoneStage
    ));

    // Version 2, forced with a reason: version 1 is archived, the override recorded.
    let forced = f.force("tree@2", "hotfix, validated by hand").unwrap();
    assert_eq!((forced.forced, forced.archived), (true, Some(1)));
    let lock = f.project().read_lock().unwrap();
    let model = &lock.model["tree"];
    assert_eq!(model.in_stage(Stage::Production).unwrap().version, 2);
    assert_eq!(model.version(1).unwrap().stage, Stage::Archived);
    let last = model.history.last().unwrap();
    assert_eq!(
        (
            last.action,
            last.version,
            last.from,
            last.to,
            last.forced,
            last.archived
        ),
        (
            Action::Promote,
            2,
            Some(Was::Stage(Stage::None)),
            Some(Was::Stage(Stage::Production)),
            true,
            Some(1)
        )
    );
    assert_eq!(last.reason.as_deref(), Some("hotfix, validated by hand"));

    // The record of a validated version lost from the store: refused again.
    let g = Fixture::new();
    g.register(&g.train(2).record.id).unwrap();
    let record = g.pass("tree", 1);
    std::fs::remove_file(g.project().store().unwrap().object_path(&record)).unwrap();
    assert!(matches!(
        refused(&g, || g.promote("tree@1", Stage::Production)),
        RegistryError::NotValidated {
            why: Unvalidated::Missing(_),
            ..
        }
    ));
}

#[test]
fn one_version_per_stage_and_rollback_walks_production_back() {
    let f = three_versions();
    let lock = f.project().read_lock().unwrap();
    let stages: Vec<Stage> = lock.model["tree"]
        .versions
        .iter()
        .map(|v| v.stage)
        .collect();
    assert_eq!(stages, [Stage::Archived, Stage::Production, Stage::Staging]);
    // A new staging version archives the old one.
    let v4 = f.train(4).record;
    f.register(&v4.id).unwrap();
    let staged = f.promote("tree@4", Stage::Staging).unwrap();
    assert_eq!(staged.archived, Some(3));
    // An archived version straight to production, with the same rule.
    f.pass("tree", 3);
    let promoted = f.promote("tree@3", Stage::Production).unwrap();
    assert_eq!(
        (promoted.from, promoted.archived),
        (Stage::Archived, Some(2))
    );

    // Production went 1, 2, 3: rollbacks walk back 3 → 2 → 1, then there is nothing before.
    let back = rollback(&f.project(), "tree", Some("3 is slow"), &NoProgress).unwrap();
    assert_eq!(
        (back.version, back.from, back.archived, back.was_forced),
        (2, Stage::Archived, 3, true)
    );
    assert_eq!(back.reason.as_deref(), Some("3 is slow"));
    assert_eq!(f.resolve("tree").unwrap().version, 2);
    let back = rollback(&f.project(), "tree", None, &NoProgress).unwrap();
    assert_eq!((back.version, back.archived), (1, 2));
    match refused(&f, || rollback(&f.project(), "tree", None, &NoProgress)) {
        e @ RegistryError::NoRollback {
            why: NoRollback::NoPrevious { current: 1 },
            ..
        } => {
            assert_eq!(
                e.to_string(),
                "tree: nothing to roll back to: version 1 is the first version it had in production"
            );
        }
        other => panic!("{other:?}"),
    }
    // A promotion after rollbacks starts from there: 1, then 3; rollback gives 1.
    f.promote("tree@3", Stage::Production).unwrap();
    assert_eq!(
        rollback(&f.project(), "tree", None, &NoProgress)
            .unwrap()
            .version,
        1
    );

    // Without production there is nothing to roll back.
    f.promote("tree@1", Stage::Archived).unwrap();
    assert!(matches!(
        refused(&f, || rollback(&f.project(), "tree", None, &NoProgress)),
        RegistryError::NoRollback {
            why: NoRollback::NoProduction,
            ..
        }
    ));

    // The history has every change, in order, with from → to.
    let h = history(&f.project(), "tree").unwrap().history;
    let summary: Vec<String> = h
        .iter()
        .map(|e| {
            let mut s = format!("{} {}", e.action.as_str(), e.version);
            if let (Some(from), Some(to)) = (e.from, e.to) {
                s.push_str(&format!(" {from}->{to}"));
            }
            if let Some(a) = e.archived {
                s.push_str(&format!(" archived {a}"));
            }
            s
        })
        .collect();
    assert_eq!(
        summary,
        [
            "register 1",
            "register 2",
            "register 3",
            "promote 1 none->production",
            "promote 2 none->production archived 1",
            "promote 3 none->staging",
            "alias 2",
            "register 4",
            "promote 4 none->staging archived 3",
            "promote 3 archived->production archived 2",
            "rollback 2 archived->production archived 3",
            "rollback 1 archived->production archived 2",
            "promote 3 archived->production archived 1",
            "rollback 1 archived->production archived 3",
            "promote 1 production->archived",
        ]
    );
    // A model is meant: a version reference is refused.
    assert!(matches!(
        history(&f.project(), "tree@2"),
        Err(RegistryError::BadReference { .. })
    ));
    assert!(matches!(
        refused(&f, || rollback(&f.project(), "tree@2", None, &NoProgress)),
        RegistryError::BadReference { .. }
    ));
    assert!(matches!(
        refused(&f, || unalias(&f.project(), "tree@1", "x", &NoProgress)),
        RegistryError::BadReference { .. }
    ));
}

#[test]
fn aliases_move_and_go_and_may_not_look_like_other_references() {
    let f = three_versions();
    let moved = alias(&f.project(), "tree@3", "champion", &NoProgress).unwrap();
    assert_eq!((moved.version, moved.previous), (3, Some(2)));
    assert_eq!(moved.entry.from, Some(Was::Version(2)));
    assert_eq!(f.resolve("tree@champion").unwrap().version, 3);
    let err = refused(&f, || {
        alias(&f.project(), "tree@latest", "champion", &NoProgress)
    });
    assert_eq!(
        err.to_string(),
        "tree: alias `champion` already names version 3"
    );
    for bad in ["production", "staging", "latest", "7", "two words"] {
        assert!(
            matches!(
                refused(&f, || alias(&f.project(), "tree@1", bad, &NoProgress)),
                RegistryError::BadAlias { .. }
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        refused(&f, || alias(&f.project(), "tree@8", "old", &NoProgress)),
        RegistryError::NoSuchVersion { .. }
    ));
    let gone = unalias(&f.project(), "tree", "champion", &NoProgress).unwrap();
    assert_eq!(gone.version, 3);
    match refused(&f, || {
        unalias(&f.project(), "tree", "champion", &NoProgress)
    }) {
        e @ RegistryError::NoSuchAlias { .. } => {
            assert_eq!(
                e.to_string(),
                "tree has no alias `champion` (aliases: none)"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        refused(&f, || unalias(&f.project(), "nope", "x", &NoProgress)),
        RegistryError::NoSuchModel { .. }
    ));
}

#[test]
fn list_and_show_read_the_registry() {
    let f = three_versions();
    f.register(&f.train(3).record.id).map(drop).unwrap_err();
    let listed = list(&f.project()).unwrap();
    match listed.models.as_slice() {
        [m] => {
            assert_eq!(m.name, "tree");
            assert_eq!(
                (m.versions, m.latest, m.production, m.staging),
                (3, Some(3), Some(2), Some(3))
            );
            assert_eq!(m.aliases.get("champion"), Some(&2));
        }
        other => panic!("{other:?}"),
    }
    let whole = show(&f.project(), "tree").unwrap();
    assert_eq!(whole.reference, None);
    let numbers: Vec<u32> = whole.versions.iter().map(|v| v.entry.version).collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert_eq!(whole.versions[1].aliases, ["champion"]);
    let one = show(&f.project(), "tree@champion").unwrap();
    assert_eq!(one.reference.as_deref(), Some("champion"));
    assert_eq!(one.versions.len(), 1);
    assert_eq!(one.versions[0].entry.version, 2);
    // The JSON form of a version: the entry's fields and its aliases, side by side.
    let json = serde_json::to_value(&one).unwrap();
    assert_eq!(json["versions"][0]["stage"], "production");
    assert_eq!(json["versions"][0]["aliases"][0], "champion");
    assert!(json["versions"][0]["artifact"].as_str().unwrap().len() == 64);
    assert!(matches!(
        show(&f.project(), "nope"),
        Err(RegistryError::NoSuchModel { .. })
    ));
    assert!(list(&Fixture::new().project()).unwrap().models.is_empty());
}

#[test]
fn artifacts_are_read_verified_against_the_pins_and_their_bytes() {
    let f = three_versions();
    let resolved = f.resolve("tree@champion").unwrap();
    let artifact = load_artifact(&f.project(), &resolved).unwrap();
    assert_eq!(artifact.header.model, "tree");
    assert_eq!(artifact.header.algorithm, "decision_tree_classifier");

    // A hand-edited entry that pins another artifact (version 1's): refused, both digests named.
    let v1 = f.resolve("tree@1").unwrap().entry.artifact;
    let pinned = resolved.entry.artifact;
    let edited = f.lock_text().replacen(&pinned.to_hex(), &v1.to_hex(), 1);
    std::fs::write(f.root.join("cairn.lock"), edited).unwrap();
    let resolved = f.resolve("tree@2").unwrap();
    let err = load_artifact(&f.project(), &resolved).unwrap_err();
    assert!(
        matches!(err, RegistryError::Inconsistent { version: 2, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with("tree@2: cairn.lock pins model artifact ")
            && text.contains(&v1.to_hex())
            && text.contains(&pinned.to_hex()),
        "{text}"
    );
    // Promotion reads it the same way.
    assert!(matches!(
        refused(&f, || f.promote("tree@2", Stage::Staging)),
        RegistryError::Inconsistent { .. }
    ));

    // Damaged bytes in the store: refused.
    let g = three_versions();
    let resolved = g.resolve("tree@3").unwrap();
    g.damage(&resolved.entry.artifact);
    match load_artifact(&g.project(), &resolved).unwrap_err() {
        RegistryError::Store {
            context: Some(context),
            source: cairn_store::StoreError::Corrupt { .. },
        } => assert_eq!(context, "tree@3: its model artifact"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_lock_from_a_newer_cairn_is_refused_and_left_alone() {
    let f = three_versions();
    let newer = f.lock_text().replacen("version = 1\n", "version = 2\n", 1);
    std::fs::write(f.root.join("cairn.lock"), &newer).unwrap();
    assert!(matches!(
        list(&f.project()),
        Err(RegistryError::Lock(cairn_core::LockError::Version {
            found: 2,
            ..
        }))
    ));
    assert!(matches!(
        refused(&f, || f.promote("tree@3", Stage::Archived)),
        RegistryError::Lock(cairn_core::LockError::Version { .. })
    ));
}

#[test]
fn two_promotions_racing_both_land_and_one_version_is_in_production() {
    let f = Fixture::new();
    for depth in [1, 2, 3] {
        f.register(&f.train(depth).record.id).unwrap();
    }
    for _ in 0..3 {
        std::thread::scope(|scope| {
            let a = scope.spawn(|| f.force("tree@1", "race a"));
            let b = scope.spawn(|| f.force("tree@2", "race b"));
            let c = scope.spawn(|| alias(&f.project(), "tree@3", "challenger", &NoProgress));
            let (a, b) = (a.join().unwrap(), b.join().unwrap());
            // The alias lands once; later rounds find it set.
            let _ = c.join().unwrap();
            // The second to run may find its version already in production (from the round
            // before): refused, nothing lost.
            for r in [&a, &b] {
                if let Err(e) = r {
                    assert!(matches!(e, RegistryError::AlreadyInStage { .. }), "{e:?}");
                }
            }
            assert!(a.is_ok() || b.is_ok());
        });
    }
    let lock = f.project().read_lock().unwrap();
    let model = &lock.model["tree"];
    let in_production = model
        .versions
        .iter()
        .filter(|v| v.stage == Stage::Production)
        .count();
    assert_eq!(in_production, 1);
    let promotions = model
        .history
        .iter()
        .filter(|h| h.action == Action::Promote)
        .count();
    let aliases = model
        .history
        .iter()
        .filter(|h| h.action == Action::Alias)
        .count();
    assert!(
        promotions >= 4,
        "{promotions} promotions: {:?}",
        model.history
    );
    assert_eq!(aliases, 1);
    assert_eq!(model.aliases.get("challenger"), Some(&3));
    // Every promotion to production but the first archived the one before.
    let production: Vec<&HistoryEntry> = model
        .history
        .iter()
        .filter(|h| h.action == Action::Promote)
        .collect();
    for pair in production.windows(2) {
        assert_eq!(pair[1].archived, Some(pair[0].version), "{production:?}");
    }
}

#[test]
fn the_actor_is_git_s_user_name_and_email() {
    let f = Fixture::new();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(&f.root)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q"]);
    // The repository's own settings win over the user's and the system's.
    git(&["config", "user.email", "ann@example.com"]);
    git(&["config", "user.name", "Ann Smith"]);
    assert_eq!(
        crate::write::actor(&f.project()).unwrap(),
        "Ann Smith <ann@example.com>"
    );
    f.register(&f.train(2).record.id).unwrap();
    let lock = f.project().read_lock().unwrap();
    assert_eq!(
        lock.model["tree"].history[0].actor,
        "Ann Smith <ann@example.com>"
    );
}

#[test]
fn a_promotion_that_expects_another_production_version_is_refused() {
    let f = Fixture::new();
    let one = f.train(3).record;
    f.register(&one.id).unwrap();
    let two = f.train(2).record;
    f.register(&two.id).unwrap();
    f.force("tree@1", "first").unwrap();
    let expecting = |expected: Option<u32>| {
        promote(
            &f.project(),
            &PromoteOptions {
                reference: "tree@2".to_owned(),
                to: Stage::Production,
                reason: Some("automated".to_owned()),
                force: true,
                expect_production: Some(expected),
            },
            &NoProgress,
        )
    };
    // Someone promoted 1 after the caller saw no production version: refused, nothing written.
    let err = refused(&f, || expecting(None));
    assert!(
        matches!(
            err,
            RegistryError::ProductionChanged {
                expected: None,
                found: Some(1),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("production is version 1 now, not no version"),
        "{err}"
    );
    // With the version it really is, the promotion goes through.
    let promoted = expecting(Some(1)).unwrap();
    assert_eq!((promoted.version, promoted.archived), (2, Some(1)));
}
