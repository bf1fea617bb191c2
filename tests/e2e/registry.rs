//! The model registry through the binary: `cairn register`, `cairn models …`, their JSON
//! documents (decoded into the documented shapes), exit codes and hints, refusals that leave
//! cairn.lock alone, two processes promoting at once, and real `git merge`s of registry
//! changes.

use std::collections::BTreeMap;
use std::process::Command;

use cairn_e2e::{Project, Rng};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// A version's entry (docs/formats/lock.md, `[[model.NAME.versions]]`), as JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionDoc {
    version: u32,
    #[serde(default)]
    stage: Option<String>,
    registered: String,
    #[serde(default)]
    description: Option<String>,
    run: String,
    record: String,
    artifact: String,
    size: u64,
    spec: String,
    algorithm: String,
    #[serde(default)]
    commit: Option<String>,
    #[serde(default)]
    dirty: bool,
    data: BTreeMap<String, String>,
    #[serde(default)]
    features: BTreeMap<String, String>,
    metrics: BTreeMap<String, f64>,
    #[serde(default)]
    validation: Option<String>,
    #[serde(default)]
    validated: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterDoc {
    kind: String,
    schema_version: u32,
    name: String,
    version: u32,
    #[serde(default)]
    best: Option<BestDoc>,
    entry: VersionDoc,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BestDoc {
    metric: String,
    value: f64,
    candidates: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListDoc {
    kind: String,
    schema_version: u32,
    models: Vec<ListedDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListedDoc {
    name: String,
    versions: usize,
    #[serde(default)]
    latest: Option<u32>,
    #[serde(default)]
    production: Option<u32>,
    #[serde(default)]
    staging: Option<u32>,
    aliases: BTreeMap<String, u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShowDoc {
    kind: String,
    schema_version: u32,
    name: String,
    #[serde(default)]
    reference: Option<String>,
    aliases: BTreeMap<String, u32>,
    versions: Vec<ShownDoc>,
}

#[derive(Debug, Deserialize)]
struct ShownDoc {
    #[serde(flatten)]
    entry: VersionDoc,
    aliases: Vec<String>,
}

/// `from` and `to` of a history entry: a stage, or (aliases) a version.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum WasDoc {
    Stage(String),
    Version(u32),
}

fn stage(s: &str) -> Option<WasDoc> {
    Some(WasDoc::Stage(s.to_owned()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryEntryDoc {
    at: String,
    actor: String,
    action: String,
    version: u32,
    #[serde(default)]
    from: Option<WasDoc>,
    #[serde(default)]
    to: Option<WasDoc>,
    #[serde(default)]
    alias: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    forced: bool,
    #[serde(default)]
    archived: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryDoc {
    kind: String,
    schema_version: u32,
    name: String,
    history: Vec<HistoryEntryDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PromoteDoc {
    kind: String,
    schema_version: u32,
    name: String,
    version: u32,
    from: String,
    to: String,
    #[serde(default)]
    archived: Option<u32>,
    forced: bool,
    #[serde(default)]
    reason: Option<String>,
    entry: HistoryEntryDoc,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackDoc {
    kind: String,
    schema_version: u32,
    name: String,
    version: u32,
    from: String,
    archived: u32,
    #[serde(default)]
    reason: Option<String>,
    was_forced: bool,
    entry: HistoryEntryDoc,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AliasDoc {
    kind: String,
    schema_version: u32,
    name: String,
    alias: String,
    version: u32,
    #[serde(default)]
    previous: Option<u32>,
    entry: HistoryEntryDoc,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnaliasDoc {
    kind: String,
    schema_version: u32,
    name: String,
    alias: String,
    version: u32,
    entry: HistoryEntryDoc,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorDoc {
    kind: String,
    schema_version: u32,
    message: String,
    hint: Option<String>,
    exit_code: u8,
}

#[derive(Debug, Deserialize)]
struct RunDoc {
    id: String,
    status: String,
    #[serde(default)]
    artifact: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RunsDoc {
    runs: Vec<RunDoc>,
}

/// Runs cairn with `--json`, asserts the exit code, decodes the document.
#[track_caller]
fn doc<T: DeserializeOwned>(p: &Project, args: &[&str], code: i32) -> T {
    let value = p.json(args, code);
    serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("not the documented JSON ({e}):\n{value:#}"))
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

const SPECS: &str = r#"
[model.churn]
data = "data/train.csv"
target = "label"
algorithm = "decision_tree_classifier"
params = { max_depth = 3 }
seed = 7

[model.tree]
data = "data/train.csv"
target = "label"
algorithm = "decision_tree_classifier"
params = { max_depth = 2 }
seed = 3

[model.broken]
data = "data/train.csv"
target = "no_such_column"
algorithm = "decision_tree_classifier"
"#;

/// A committed project with data, the specs above, and a git identity for the history.
fn project() -> Project {
    let p = Project::new();
    p.git(&["config", "user.name", "Ann"]);
    p.git(&["config", "user.email", "ann@example.com"]);
    p.write("data/train.csv", table(300, 1));
    let mut config = String::from_utf8(p.read("cairn.toml")).unwrap();
    config.push_str(SPECS);
    p.write("cairn.toml", config);
    p.cairn(&["data", "add", "data/train.csv"]).ok();
    p.commit("data and specs");
    p
}

/// Trains `spec` with `max_depth` set and returns the run's id.
fn train(p: &Project, spec: &str, depth: u32) -> String {
    let run: RunDoc = doc(
        p,
        &["train", spec, "--set", &format!("max_depth={depth}")],
        0,
    );
    assert_eq!(run.status, "finished");
    run.id
}

#[track_caller]
fn register(p: &Project, run: &str) -> RegisterDoc {
    doc(p, &["register", run], 0)
}

#[track_caller]
fn force(p: &Project, reference: &str, reason: &str) -> PromoteDoc {
    doc(
        p,
        &[
            "models",
            "promote",
            reference,
            "--to",
            "production",
            "--force",
            "--reason",
            reason,
        ],
        0,
    )
}

/// Runs cairn, asserting exit 2, an error with `message` and a hint with `hint` on stderr, and that cairn.lock is
/// byte for byte as before.
#[track_caller]
fn refused(p: &Project, args: &[&str], message: &str, hint: &str) {
    let before = p.lock_text();
    let run = p.cairn(args);
    run.code(2)
        .stderr_has("error: ")
        .stderr_has(message)
        .stderr_has("\nhint: ")
        .stderr_has(hint);
    assert_eq!(p.lock_text(), before, "{args:?} changed cairn.lock");
    let error: ErrorDoc = doc(p, args, 2);
    assert_eq!(
        (error.kind.as_str(), error.schema_version, error.exit_code),
        ("error", 1, 2)
    );
    assert!(error.message.contains(message), "{error:?}");
    assert!(error.hint.is_some_and(|h| h.contains(hint)));
    assert_eq!(p.lock_text(), before, "{args:?} --json changed cairn.lock");
}

#[test]
fn register_promote_replace_roll_back_each_step_in_show_history_and_git() {
    let p = project();
    let first = train(&p, "churn", 3);
    let head = p.git(&["rev-parse", "HEAD"]).trim().to_owned();
    let registered: RegisterDoc = doc(
        &p,
        &["register", &first[..6], "--description", "first cut"],
        0,
    );
    assert_eq!(
        (registered.kind.as_str(), registered.schema_version),
        ("register", 1)
    );
    assert_eq!((registered.name.as_str(), registered.version), ("churn", 1));
    let v = &registered.entry;
    assert_eq!((v.version, v.stage.as_deref()), (1, None));
    assert_eq!(v.run, first);
    assert_eq!(v.description.as_deref(), Some("first cut"));
    assert_eq!(
        (v.spec.as_str(), v.algorithm.as_str()),
        ("churn", "decision_tree_classifier")
    );
    assert_eq!(v.commit.as_deref(), Some(head.as_str()));
    assert!(!v.dirty);
    assert!(p.exists(&format!(
        ".cairn/objects/{}/{}",
        &v.artifact[..2],
        &v.artifact[2..]
    )));
    assert!(v.size > 0 && v.record.len() == 64 && v.registered.ends_with('Z'));
    let pinned = p.lock_text();
    assert!(
        pinned.contains(&v.data["data/train.csv"]),
        "the data digest is the lock's"
    );
    assert!(v.metrics["accuracy"] > 0.5, "{:?}", v.metrics);
    assert!(v.features.is_empty() && v.validation.is_none() && v.validated.is_none());
    p.commit("register churn@1");

    // Staging needs no validation; production does.
    let staged: PromoteDoc = doc(&p, &["models", "promote", "churn@1", "--to", "staging"], 0);
    assert_eq!(
        (staged.from.as_str(), staged.to.as_str(), staged.archived),
        ("none", "staging", None)
    );
    refused(
        &p,
        &["models", "promote", "churn@staging", "--to", "production"],
        "churn@1 cannot go to production: it has not been validated",
        "validate it: `cairn validate churn@1`; or promote it anyway with --force --reason TEXT",
    );
    // --force without --reason is a usage error.
    let before = p.lock_text();
    p.cairn(&[
        "models",
        "promote",
        "churn@1",
        "--to",
        "production",
        "--force",
    ])
    .code(2)
    .stderr_has("--reason");
    assert_eq!(p.lock_text(), before);
    let promoted = force(&p, "churn@1", "validated by hand");
    assert_eq!(
        (promoted.kind.as_str(), promoted.schema_version),
        ("models-promote", 1)
    );
    assert_eq!((promoted.name.as_str(), promoted.version), ("churn", 1));
    assert_eq!(promoted.reason.as_deref(), Some("validated by hand"));
    assert_eq!(
        (promoted.from.as_str(), promoted.to.as_str()),
        ("staging", "production")
    );
    assert!(promoted.forced);
    assert_eq!(promoted.entry.actor, "Ann <ann@example.com>");
    // `git diff` shows the change in cairn.lock, inside [model.churn].
    let diff = p.git(&["diff", "--", "cairn.lock"]);
    assert!(diff.contains("+stage = \"production\""), "{diff}");
    assert!(diff.contains("+reason = \"validated by hand\""), "{diff}");
    p.commit("churn@1 in production");

    // A second version replaces it; the first is archived.
    let second = train(&p, "churn", 5);
    assert_eq!(register(&p, &second).version, 2);
    let replaced = force(&p, "churn@2", "deeper trees");
    assert_eq!(replaced.archived, Some(1));
    let alias: AliasDoc = doc(&p, &["models", "alias", "churn@2", "champion"], 0);
    assert_eq!(
        (
            alias.kind.as_str(),
            alias.schema_version,
            alias.version,
            alias.previous
        ),
        ("models-alias", 1, 2, None)
    );
    assert_eq!(
        (alias.name.as_str(), alias.alias.as_str()),
        ("churn", "champion")
    );
    assert_eq!(alias.entry.alias.as_deref(), Some("champion"));
    let listed: ListDoc = doc(&p, &["models", "list"], 0);
    assert_eq!(
        (listed.kind.as_str(), listed.schema_version),
        ("models-list", 1)
    );
    match listed.models.as_slice() {
        [m] => {
            assert_eq!(m.name, "churn");
            assert_eq!(
                (m.versions, m.latest, m.production, m.staging),
                (2, Some(2), Some(2), None)
            );
            assert_eq!(m.aliases, BTreeMap::from([("champion".to_owned(), 2)]));
        }
        other => panic!("{other:?}"),
    }

    // Rollback: churn@1 is production again, and says it went there forced.
    let back: RollbackDoc = doc(
        &p,
        &["models", "rollback", "churn", "--reason", "2 misbehaves"],
        0,
    );
    assert_eq!(
        (back.kind.as_str(), back.schema_version),
        ("models-rollback", 1)
    );
    assert_eq!(
        (
            back.name.as_str(),
            back.version,
            back.from.as_str(),
            back.archived
        ),
        ("churn", 1, "archived", 2)
    );
    assert!(back.was_forced);
    assert_eq!(
        (back.entry.action.as_str(), back.entry.version),
        ("rollback", 1)
    );
    assert_eq!(back.reason.as_deref(), Some("2 misbehaves"));
    let human = p.cairn(&["models", "rollback", "churn"]);
    human.code(2).stderr_has("nothing to roll back to");

    // show: the model, one version by alias, the production version by a bare name.
    let whole: ShowDoc = doc(&p, &["models", "show", "churn"], 0);
    assert_eq!(
        (
            whole.kind.as_str(),
            whole.schema_version,
            whole.name.as_str()
        ),
        ("models-show", 1, "churn")
    );
    assert_eq!(whole.reference, None);
    let stages: Vec<Option<&str>> = whole
        .versions
        .iter()
        .map(|v| v.entry.stage.as_deref())
        .collect();
    assert_eq!(stages, [Some("production"), Some("archived")]);
    assert_eq!(whole.versions[1].aliases, ["champion"]);
    assert_eq!(whole.aliases["champion"], 2);
    let one: ShowDoc = doc(&p, &["models", "show", "churn@champion"], 0);
    assert_eq!(one.reference.as_deref(), Some("champion"));
    assert_eq!(one.versions.len(), 1);
    assert_eq!(one.versions[0].entry.run, second);
    let text = p.cairn(&["models", "show", "churn@production"]);
    text.ok()
        .stdout_has("churn@1  production")
        .stdout_has("description first cut");

    // The history: every change, in order, who and from → to.
    let history: HistoryDoc = doc(&p, &["models", "history", "churn"], 0);
    assert_eq!(
        (
            history.kind.as_str(),
            history.schema_version,
            history.name.as_str()
        ),
        ("models-history", 1, "churn")
    );
    /// action, version, from, to, archived
    type Change<'a> = (&'a str, u32, Option<WasDoc>, Option<WasDoc>, Option<u32>);
    let summary: Vec<Change> = history
        .history
        .iter()
        .map(|h| {
            (
                h.action.as_str(),
                h.version,
                h.from.clone(),
                h.to.clone(),
                h.archived,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("register", 1, None, None, None),
            ("promote", 1, stage("none"), stage("staging"), None),
            ("promote", 1, stage("staging"), stage("production"), None),
            ("register", 2, None, None, None),
            ("promote", 2, stage("none"), stage("production"), Some(1)),
            ("alias", 2, None, None, None),
            (
                "rollback",
                1,
                stage("archived"),
                stage("production"),
                Some(2)
            ),
        ]
    );
    let h = &history.history;
    assert!(
        h.iter()
            .all(|e| e.actor == "Ann <ann@example.com>" && e.at.ends_with('Z'))
    );
    assert_eq!(
        (h[2].forced, h[2].reason.as_deref()),
        (true, Some("validated by hand"))
    );
    assert_eq!(h[5].alias.as_deref(), Some("champion"));
    let table = p.cairn(&["models", "history", "churn"]);
    table
        .ok()
        .stdout_has("rollback        1  archived → production, archived 2")
        .stdout_has("2 misbehaves");

    // Unalias, and the lock still parses for every other command.
    let gone: UnaliasDoc = doc(&p, &["models", "unalias", "churn", "champion"], 0);
    assert_eq!(
        (gone.kind.as_str(), gone.alias.as_str(), gone.version),
        ("models-unalias", "champion", 2)
    );
    assert_eq!(gone.entry.action, "unalias");
    assert_eq!((gone.schema_version, gone.name.as_str()), (1, "churn"));
    p.cairn(&["data", "status", "--check"]).ok();
}

#[test]
fn best_registers_the_best_finished_run_of_a_spec() {
    let p = project();
    for depth in [1, 2, 6] {
        train(&p, "churn", depth);
    }
    let best: RegisterDoc = doc(
        &p,
        &["register", "--best", "log_loss", "--model", "churn"],
        0,
    );
    let chosen = best.best.unwrap();
    assert_eq!((chosen.metric.as_str(), chosen.candidates), ("log_loss", 3));
    assert_eq!(best.entry.metrics["log_loss"], chosen.value);
    let runs: RunsDoc = doc(
        &p,
        &[
            "runs", "list", "--model", "churn", "--sort", "log_loss", "--limit", "1",
        ],
        0,
    );
    assert_eq!(
        best.entry.run, runs.runs[0].id,
        "the run `runs list --sort` puts first"
    );
    // With --asc the smallest accuracy; --asc needs --best, --best needs --model.
    let worst: RegisterDoc = doc(
        &p,
        &[
            "register", "--best", "accuracy", "--model", "churn", "--asc", "--name", "worst",
        ],
        0,
    );
    assert_eq!(worst.name, "worst");
    p.cairn(&["register", "--asc"]).code(2);
    p.cairn(&["register", "--best", "accuracy"]).code(2);
    p.cairn(&["register"]).code(2);
    refused(
        &p,
        &["register", "--best", "rmse", "--model", "churn"],
        "no finished run of `churn` has the metric `rmse` (its runs have: accuracy,",
        "pick one of the metrics",
    );
    refused(
        &p,
        &["register", "--best", "accuracy", "--model", "tree"],
        "no finished run of `tree` to choose from",
        "`cairn train tree`",
    );
}

#[test]
fn bad_input_is_refused_with_what_exists_and_nothing_changes() {
    let p = project();
    // The same spec trained twice at one commit: the same artifact, two runs.
    let first = train(&p, "churn", 3);
    let again = train(&p, "churn", 3);
    register(&p, &first);
    refused(
        &p,
        &["register", &again],
        &format!("run {again}'s model artifact"),
        "it is churn@1: `cairn models show churn@1`",
    );
    p.cairn(&["train", "broken"]).code(2);
    let failed: RunsDoc = doc(&p, &["runs", "list", "--model", "broken"], 0);
    let failed = &failed.runs[0];
    assert_eq!(
        (failed.status.as_str(), failed.artifact.as_deref()),
        ("failed", None)
    );
    refused(
        &p,
        &["register", &failed.id],
        &format!("run {} failed (", failed.id),
        "`cairn runs list --where status=finished`",
    );
    refused(
        &p,
        &["register", "0123456789ab"],
        "no run `0123456789ab`",
        "`cairn runs list`",
    );
    refused(
        &p,
        &["models", "show", "churn@7"],
        "churn@7: no version 7 (versions: 1; stages: none; aliases: none)",
        "`cairn models show churn` lists its versions",
    );
    refused(
        &p,
        &["models", "promote", "churn", "--to", "staging"],
        "churn@production: no version is in production (versions: 1;",
        "`cairn models show churn`",
    );
    refused(
        &p,
        &["models", "promote", "churn@archived", "--to", "staging"],
        "`archived` holds any number of versions",
        "`cairn models show churn`",
    );
    refused(
        &p,
        &["models", "show", "fraud"],
        "no model `fraud` is registered (registered: churn)",
        "`cairn models list`",
    );
    refused(
        &p,
        &["models", "alias", "churn@1", "7"],
        "`7` cannot be an alias: a number names a version",
        "pick another alias",
    );
    for alias in ["staging", "latest"] {
        refused(
            &p,
            &["models", "alias", "churn@1", alias],
            &format!("`{alias}` cannot be an alias"),
            "pick another alias",
        );
    }
    refused(
        &p,
        &["models", "unalias", "churn", "champion"],
        "churn has no alias `champion` (aliases: none)",
        "`cairn models show churn`",
    );
    refused(
        &p,
        &[
            "models",
            "promote",
            "churn@1",
            "--to",
            "production",
            "--force",
            "--reason",
            " ",
        ],
        "a forced promotion needs a reason",
        "add --reason TEXT",
    );
    refused(
        &p,
        &["models", "show", "churn@a/b"],
        "is not a model reference",
        "NAME@REF",
    );

    // A hand-edited entry pinning another artifact: refused, fsck-style, both digests named.
    let v1: ShowDoc = doc(&p, &["models", "show", "churn@1"], 0);
    let v1 = &v1.versions[0].entry;
    let other = p.lock_text(); // any other object: the data file
    let data = v1.data["data/train.csv"].clone();
    assert!(other.contains(&data));
    p.write("cairn.lock", other.replacen(&v1.artifact, &data, 1));
    refused(
        &p,
        &["models", "promote", "churn@1", "--to", "staging"],
        &format!(
            "churn@1: cairn.lock pins model artifact {data}, but its run record {} names {}",
            v1.record, v1.artifact
        ),
        "cairn.lock was edited by hand",
    );
    p.write("cairn.lock", other);

    // A lock written by a newer cairn: refused, as for every command.
    let current = p.lock_text();
    p.write(
        "cairn.lock",
        current.replacen("version = 1\n", "version = 2\n", 1),
    );
    refused(
        &p,
        &["models", "list"],
        "cairn.lock has version 2, but this cairn understands version 1",
        "upgrade cairn to read this lock file",
    );
    refused(
        &p,
        &["models", "promote", "churn@1", "--to", "staging"],
        "cairn.lock has version 2",
        "upgrade cairn",
    );
    p.write("cairn.lock", current);
    // A damaged artifact is refused where it is read.
    let path = p.object_path(&v1.artifact);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[20] ^= 1;
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, bytes).unwrap();
    refused(
        &p,
        &["models", "promote", "churn@1", "--to", "staging"],
        &format!(
            "churn@1: its model artifact: object {} is corrupt",
            v1.artifact
        ),
        "cairn data fsck --remove-corrupt",
    );
}

#[test]
fn two_promotions_racing_both_land_and_one_version_is_in_production() {
    let p = project();
    for depth in [2, 3, 4] {
        register(&p, &train(&p, "churn", depth));
    }
    let promote = |reference: &str| {
        let mut cmd = p.command(&[
            "models",
            "promote",
            reference,
            "--to",
            "production",
            "--force",
            "--reason",
            "race",
        ]);
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        cmd.spawn().unwrap()
    };
    let children: Vec<_> = ["churn@1", "churn@2", "churn@3"].map(promote).into();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let history: HistoryDoc = doc(&p, &["models", "history", "churn"], 0);
    let promotions: Vec<&HistoryEntryDoc> = history
        .history
        .iter()
        .filter(|h| h.action == "promote")
        .collect();
    assert_eq!(promotions.len(), 3, "none is lost: {:?}", history.history);
    let mut versions: Vec<u32> = promotions.iter().map(|h| h.version).collect();
    versions.sort_unstable();
    assert_eq!(versions, [1, 2, 3]);
    // Serialised: each promotion after the first archived the one before it.
    assert_eq!(promotions[0].archived, None);
    for pair in promotions.windows(2) {
        assert_eq!(pair[1].archived, Some(pair[0].version));
    }
    let listed: ListDoc = doc(&p, &["models", "list"], 0);
    assert_eq!(listed.models[0].production, Some(promotions[2].version));
    let show: ShowDoc = doc(&p, &["models", "show", "churn"], 0);
    let in_production = show
        .versions
        .iter()
        .filter(|v| v.entry.stage.as_deref() == Some("production"))
        .count();
    assert_eq!(in_production, 1);
}

/// A clone of `origin` with its `.cairn/` copied (the store the promotions verify).
fn clone_with_store(origin: &Project, who: &str) -> Project {
    let clone = origin.clone_repo();
    let out = Command::new("cp")
        .arg("-a")
        .arg(origin.path(".cairn"))
        .arg(clone.path(".cairn"))
        .output()
        .unwrap();
    assert!(out.status.success());
    clone.git(&["config", "user.name", who]);
    clone.git(&["config", "user.email", &format!("{who}@example.com")]);
    clone
}

/// `git pull` of `from`'s main into `into`; whether git merged without a conflict.
fn merge(into: &Project, from: &Project) -> bool {
    into.git(&["fetch", "-q", from.root().to_str().unwrap(), "main"]);
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=m",
            "-c",
            "user.email=m@m",
            "merge",
            "-q",
            "--no-edit",
            "FETCH_HEAD",
        ])
        .current_dir(into.root())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    out.status.success()
}

#[test]
fn clones_promoting_different_models_merge_cleanly_and_the_same_model_conflicts_inside_it() {
    let origin = project();
    register(&origin, &train(&origin, "churn", 3));
    register(&origin, &train(&origin, "tree", 2));
    origin.commit("two models");

    // Different models: a clean merge, and the merged lock has both promotions.
    let a = clone_with_store(&origin, "a");
    let b = clone_with_store(&origin, "b");
    doc::<PromoteDoc>(&a, &["models", "promote", "churn@1", "--to", "staging"], 0);
    a.commit("churn@1 to staging");
    force(&b, "tree@1", "b's call");
    doc::<AliasDoc>(&b, &["models", "alias", "tree@1", "champion"], 0);
    b.commit("tree@1 to production");
    assert!(merge(&a, &b), "different models must merge cleanly");
    let merged: ListDoc = doc(&a, &["models", "list"], 0);
    let by_name: BTreeMap<&str, &ListedDoc> =
        merged.models.iter().map(|m| (m.name.as_str(), m)).collect();
    assert_eq!(by_name["churn"].staging, Some(1));
    assert_eq!(by_name["tree"].production, Some(1));
    assert_eq!(by_name["tree"].aliases["champion"], 1);
    let history: HistoryDoc = doc(&a, &["models", "history", "tree"], 0);
    assert_eq!(history.history.last().unwrap().actor, "b <b@example.com>");

    // The same model: a conflict, and every conflicted line is inside [model.churn].
    let c = clone_with_store(&origin, "c");
    let d = clone_with_store(&origin, "d");
    doc::<PromoteDoc>(&c, &["models", "promote", "churn@1", "--to", "staging"], 0);
    c.commit("churn@1 to staging");
    force(&d, "churn@1", "d's call");
    d.commit("churn@1 to production");
    assert!(!merge(&c, &d), "two promotions of one model must conflict");
    let lock = c.lock_text();
    let start = lock.find("\n[model.churn]\n").expect("the churn block");
    let end = lock.find("\n[model.tree]\n").expect("the tree block");
    let markers: Vec<usize> = ["<<<<<<< ", "\n=======\n", ">>>>>>> "]
        .iter()
        .flat_map(|m| lock.match_indices(m).map(|(i, _)| i))
        .collect();
    assert!(!markers.is_empty(), "{lock}");
    assert!(
        markers.iter().all(|&i| start < i && i < end),
        "a conflict outside [model.churn]:\n{lock}"
    );
    // Until it is resolved, cairn refuses the lock with the merge hint.
    c.cairn(&["models", "list"])
        .code(2)
        .stderr_has("git checkout --ours cairn.lock");
}
