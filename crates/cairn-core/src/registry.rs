//! The model registry's tables in `cairn.lock`: `[model.NAME]`, with the versions of the model
//! and its audit trail (docs/formats/lock.md, "`[model.NAME]` entries"). The operations on
//! them (register, promote, alias, rollback) live in `cairn-registry`; this module holds the
//! types, the checks a reader makes, and the form cairn writes.
//!
//! The form is chosen for git: each model is one block of lines, its versions in order, then
//! its history, appended to. Two clones that change different models change disjoint lines;
//! two that change the same one meet inside that model's block.

use std::collections::BTreeMap;
use std::fmt;

use crate::names::valid_name;
use cairn_store::Digest;
use serde::{Deserialize, Serialize};

/// The stage of a model version. A model has at most one version in `staging` and one in
/// `production`; `archived` holds any number.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Registered, not promoted (not written in the lock).
    #[default]
    None,
    Staging,
    Production,
    Archived,
}

impl Stage {
    pub const ALL: [Stage; 4] = [
        Stage::None,
        Stage::Staging,
        Stage::Production,
        Stage::Archived,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::None => "none",
            Stage::Staging => "staging",
            Stage::Production => "production",
            Stage::Archived => "archived",
        }
    }

    /// The stage named `name`, if it is one.
    pub fn parse(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the stage holds at most one version of a model.
    pub fn is_single(self) -> bool {
        matches!(self, Stage::Staging | Stage::Production)
    }

    fn is_none(&self) -> bool {
        *self == Stage::None
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict of a version's last validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Passed,
    Failed,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
        }
    }
}

/// `[model.NAME]`: a registered model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// Alias → version (`champion = 2`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aliases: BTreeMap<String, u32>,
    /// By version number, ascending.
    #[serde(default)]
    pub versions: Vec<ModelVersion>,
    /// What was done to the model, oldest first.
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
}

/// `[[model.NAME.versions]]`: one registered version: a finished run's model artifact, with
/// what the run recorded about where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelVersion {
    /// 1, 2, … per model; never reused.
    pub version: u32,
    #[serde(default, skip_serializing_if = "Stage::is_none")]
    pub stage: Stage,
    /// When it was registered (RFC 3339, UTC).
    pub registered: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The run's id.
    pub run: String,
    /// The run record's digest.
    pub record: Digest,
    /// The model artifact's digest.
    pub artifact: Digest,
    /// The artifact's size in bytes.
    pub size: u64,
    /// The `[model.SPEC]` that trained it (its gates apply).
    pub spec: String,
    pub algorithm: String,
    /// The code commit the run recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The work tree had uncommitted changes when the run started.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dirty: bool,
    /// The tables the run read: project path → digest.
    #[serde(default)]
    pub data: BTreeMap<String, Digest>,
    /// The feature tables the run read: view → digest.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub features: BTreeMap<String, Digest>,
    /// The run's metrics on its test rows (finite numbers).
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// The digest of the version's last validation record (an object in the store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<Digest>,
    /// Its verdict; present exactly when `validation` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validated: Option<Verdict>,
}

/// Metrics are finite (a reader refuses others), so equality is total.
impl Eq for ModelVersion {}

/// What a history entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Register,
    Promote,
    Alias,
    Unalias,
    Rollback,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Register => "register",
            Action::Promote => "promote",
            Action::Alias => "alias",
            Action::Unalias => "unalias",
            Action::Rollback => "rollback",
        }
    }
}

/// `from` and `to` of a history entry: a stage (promote, rollback) or a version (the version
/// an alias named before it moved).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Was {
    Stage(Stage),
    Version(u32),
}

impl fmt::Display for Was {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Was::Stage(s) => f.write_str(s.as_str()),
            Was::Version(v) => write!(f, "{v}"),
        }
    }
}

/// `[[model.NAME.history]]`: one change to the model, appended by the command that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryEntry {
    /// RFC 3339, UTC.
    pub at: String,
    /// `Name <email>` from git's `user.name` and `user.email`, or `unknown`.
    pub actor: String,
    pub action: Action,
    /// The version acted on (registered, promoted, aliased, rolled back to).
    pub version: u32,
    /// Promote and rollback: the version's stage before. Alias: the version the alias named
    /// before, if it named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Was>,
    /// Promote and rollback: the stage after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Was>,
    /// Alias and unalias: the alias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Promoted to production without a passing validation (`force`, with a reason).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forced: bool,
    /// The version this change moved to `archived` (the previous holder of the stage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived: Option<u32>,
}

impl ModelEntry {
    pub fn version(&self, version: u32) -> Option<&ModelVersion> {
        self.versions.iter().find(|v| v.version == version)
    }

    pub fn version_mut(&mut self, version: u32) -> Option<&mut ModelVersion> {
        self.versions.iter_mut().find(|v| v.version == version)
    }

    /// The version in `stage` (for `staging` and `production`, at most one).
    pub fn in_stage(&self, stage: Stage) -> Option<&ModelVersion> {
        self.versions.iter().find(|v| v.stage == stage)
    }

    /// The highest version number.
    pub fn latest(&self) -> Option<&ModelVersion> {
        self.versions.iter().max_by_key(|v| v.version)
    }

    /// The number the next version gets: one more than any version the model has or its
    /// history names, so that a number is never given to two artifacts.
    pub fn next_version(&self) -> u32 {
        let versions = self.versions.iter().map(|v| v.version);
        let named = self.history.iter().map(|h| h.version);
        versions.chain(named).max().unwrap_or(0) + 1
    }

    /// The aliases that name `version`.
    pub fn aliases_of(&self, version: u32) -> Vec<String> {
        self.aliases
            .iter()
            .filter(|(_, v)| **v == version)
            .map(|(a, _)| a.clone())
            .collect()
    }
}

/// Why `alias` cannot be an alias, if it cannot: a reference must mean one thing.
pub fn alias_problem(alias: &str) -> Option<&'static str> {
    if !valid_name(alias) {
        Some("an alias uses letters, digits, `-` and `_`")
    } else if Stage::parse(alias).is_some() {
        Some("that is a stage name")
    } else if alias == "latest" {
        Some("`latest` always means the highest version")
    } else if alias.bytes().all(|b| b.is_ascii_digit()) {
        Some("a number names a version")
    } else {
        None
    }
}

/// What a reader checks beyond the types: names, unique versions, one version per single
/// stage, aliases that name versions, finite metrics, a verdict with its record. Sorts each
/// model's versions by number. `name` is the lock's name in messages.
pub(crate) fn check(name: &str, models: &mut BTreeMap<String, ModelEntry>) -> Result<(), String> {
    for (model, entry) in models.iter_mut() {
        let at = |what: String| format!("{name}: [model.{model}]: {what}");
        if !valid_name(model) {
            return Err(at("a model name uses letters, digits, `-` and `_`".into()));
        }
        entry.versions.sort_by_key(|v| v.version);
        for pair in entry.versions.windows(2) {
            if pair[0].version == pair[1].version {
                return Err(at(format!("two versions numbered {}", pair[0].version)));
            }
        }
        for v in &entry.versions {
            if v.version == 0 {
                return Err(at("version numbers start at 1".into()));
            }
            if let Some((metric, _)) = v.metrics.iter().find(|(_, x)| !x.is_finite()) {
                return Err(at(format!(
                    "version {}: metric `{metric}` is not a finite number",
                    v.version
                )));
            }
            if v.validation.is_some() != v.validated.is_some() {
                return Err(at(format!(
                    "version {}: `validation` and `validated` go together",
                    v.version
                )));
            }
        }
        for stage in [Stage::Staging, Stage::Production] {
            let held: Vec<String> = entry
                .versions
                .iter()
                .filter(|v| v.stage == stage)
                .map(|v| v.version.to_string())
                .collect();
            if held.len() > 1 {
                return Err(at(format!(
                    "versions {} are all in {stage}; a stage holds one version",
                    held.join(", ")
                )));
            }
        }
        for (alias, version) in &entry.aliases {
            if let Some(problem) = alias_problem(alias) {
                return Err(at(format!("`{alias}` cannot be an alias: {problem}")));
            }
            if entry.version(*version).is_none() {
                return Err(at(format!(
                    "alias `{alias}` names version {version}, which does not exist"
                )));
            }
        }
    }
    Ok(())
}

/// Appends the `[model.NAME]` tables in the form cairn writes: models sorted by name; in each,
/// the aliases, then the versions by number, then the history in order; one blank line
/// before each table header.
pub(crate) fn write_models(out: &mut String, models: &BTreeMap<String, ModelEntry>) {
    for (name, entry) in models {
        let name = key(name);
        out.push_str(&format!("\n[model.{name}]\n"));
        if !entry.aliases.is_empty() {
            let aliases: Vec<(String, String)> = entry
                .aliases
                .iter()
                .map(|(a, v)| (a.clone(), v.to_string()))
                .collect();
            line(out, "aliases", &inline(&aliases));
        }
        for v in &entry.versions {
            out.push_str(&format!("\n[[model.{name}.versions]]\n"));
            write_version(out, v);
        }
        for h in &entry.history {
            out.push_str(&format!("\n[[model.{name}.history]]\n"));
            write_history(out, h);
        }
    }
}

fn write_version(out: &mut String, v: &ModelVersion) {
    line(out, "version", &v.version.to_string());
    if v.stage != Stage::None {
        line(out, "stage", &string(v.stage.as_str()));
    }
    line(out, "registered", &string(&v.registered));
    if let Some(d) = &v.description {
        line(out, "description", &string(d));
    }
    line(out, "run", &string(&v.run));
    line(out, "record", &string(&v.record.to_hex()));
    line(out, "artifact", &string(&v.artifact.to_hex()));
    line(out, "size", &v.size.to_string());
    line(out, "spec", &string(&v.spec));
    line(out, "algorithm", &string(&v.algorithm));
    if let Some(c) = &v.commit {
        line(out, "commit", &string(c));
    }
    if v.dirty {
        line(out, "dirty", "true");
    }
    let digests = |map: &BTreeMap<String, Digest>| {
        let pairs: Vec<(String, String)> = map
            .iter()
            .map(|(k, d)| (k.clone(), string(&d.to_hex())))
            .collect();
        inline(&pairs)
    };
    line(out, "data", &digests(&v.data));
    if !v.features.is_empty() {
        line(out, "features", &digests(&v.features));
    }
    let metrics: Vec<(String, String)> = v
        .metrics
        .iter()
        .map(|(k, x)| (k.clone(), toml::Value::Float(*x).to_string()))
        .collect();
    line(out, "metrics", &inline(&metrics));
    if let Some(d) = &v.validation {
        line(out, "validation", &string(&d.to_hex()));
    }
    if let Some(verdict) = v.validated {
        line(out, "validated", &string(verdict.as_str()));
    }
}

fn write_history(out: &mut String, h: &HistoryEntry) {
    line(out, "at", &string(&h.at));
    line(out, "actor", &string(&h.actor));
    line(out, "action", &string(h.action.as_str()));
    line(out, "version", &h.version.to_string());
    let was = |w: &Was| match w {
        Was::Stage(s) => string(s.as_str()),
        Was::Version(v) => v.to_string(),
    };
    if let Some(w) = &h.from {
        line(out, "from", &was(w));
    }
    if let Some(w) = &h.to {
        line(out, "to", &was(w));
    }
    if let Some(a) = &h.alias {
        line(out, "alias", &string(a));
    }
    if let Some(r) = &h.reason {
        line(out, "reason", &string(r));
    }
    if h.forced {
        line(out, "forced", "true");
    }
    if let Some(a) = h.archived {
        line(out, "archived", &a.to_string());
    }
}

fn line(out: &mut String, key: &str, value: &str) {
    out.push_str(key);
    out.push_str(" = ");
    out.push_str(value);
    out.push('\n');
}

/// A TOML string.
fn string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// A key: bare when TOML allows it, quoted otherwise.
fn key(k: &str) -> String {
    if valid_name(k) {
        k.to_owned()
    } else {
        string(k)
    }
}

/// An inline table of values already in TOML form: `{ a = 1, "b/c" = "x" }`, or `{}`.
fn inline(pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return "{}".to_owned();
    }
    let items: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{} = {v}", key(k)))
        .collect();
    format!("{{ {} }}", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Lock, LockError};

    fn version(n: u32, stage: Stage) -> ModelVersion {
        ModelVersion {
            version: n,
            stage,
            registered: "2026-12-06T10:00:00Z".into(),
            description: (n == 1).then(|| "first \"quoted\" one".into()),
            run: format!("abcdef00000{n}"),
            record: Digest::of(format!("record {n}").as_bytes()),
            artifact: Digest::of(format!("artifact {n}").as_bytes()),
            size: 1000 + u64::from(n),
            spec: "churn".into(),
            algorithm: "random_forest_classifier".into(),
            commit: Some("a0c3f1cc4988f5434d2554a75fb858c7221b6e50".into()),
            dirty: n == 2,
            data: BTreeMap::from([("data/a b.csv".into(), Digest::of(b"data"))]),
            features: if n == 2 {
                BTreeMap::from([("spend".into(), Digest::of(b"features"))])
            } else {
                BTreeMap::new()
            },
            metrics: BTreeMap::from([("accuracy".into(), 0.95), ("log_loss".into(), 1e-7)]),
            validation: (n == 2).then(|| Digest::of(b"validation")),
            validated: (n == 2).then_some(Verdict::Passed),
        }
    }

    fn history(action: Action, n: u32) -> HistoryEntry {
        HistoryEntry {
            at: "2026-12-06T10:00:00Z".into(),
            actor: "Ann <ann@example.com>".into(),
            action,
            version: n,
            from: None,
            to: None,
            alias: None,
            reason: None,
            forced: false,
            archived: None,
        }
    }

    fn lock() -> Lock {
        let mut entry = ModelEntry {
            aliases: BTreeMap::from([("champion".into(), 2)]),
            versions: vec![version(1, Stage::Archived), version(2, Stage::Production)],
            history: vec![history(Action::Register, 1), history(Action::Register, 2)],
        };
        entry.history.push(HistoryEntry {
            from: Some(Was::Stage(Stage::None)),
            to: Some(Was::Stage(Stage::Production)),
            reason: Some("CI passed".into()),
            forced: true,
            archived: Some(1),
            ..history(Action::Promote, 2)
        });
        entry.history.push(HistoryEntry {
            from: Some(Was::Version(1)),
            alias: Some("champion".into()),
            ..history(Action::Alias, 2)
        });
        let mut lock = Lock::default();
        lock.model.insert("churn".into(), entry);
        lock.model.insert(
            "fraud-v2".into(),
            ModelEntry {
                versions: vec![version(1, Stage::None)],
                ..ModelEntry::default()
            },
        );
        lock
    }

    #[test]
    fn models_round_trip_in_the_documented_form() {
        let lock = lock();
        let text = lock.to_toml();
        assert_eq!(Lock::parse(&text, "cairn.lock").unwrap(), lock, "{text}");
        assert_eq!(Lock::parse(&text, "cairn.lock").unwrap().to_toml(), text);
        for expected in [
            "version = 1\n\n[model.churn]\naliases = { champion = 2 }\n\n[[model.churn.versions]]\nversion = 1\nstage = \"archived\"\n",
            "data = { \"data/a b.csv\" = \"",
            "metrics = { accuracy = 0.95, log_loss = 0.0000001 }\n",
            "dirty = true\n",
            "features = { spend = \"",
            "validated = \"passed\"\n\n[[model.churn.history]]\n",
            "action = \"alias\"\nversion = 2\nfrom = 1\nalias = \"champion\"\n",
            "from = \"none\"\nto = \"production\"\nreason = \"CI passed\"\nforced = true\narchived = 1\n",
            "\n[model.fraud-v2]\n\n[[model.fraud-v2.versions]]\nversion = 1\nregistered",
        ] {
            assert!(text.contains(expected), "{expected:?} not in\n{text}");
        }
        // A version in no stage has no stage line.
        let fraud = &text[text.find("[model.fraud-v2]").unwrap()..];
        assert!(!fraud.contains("stage ="), "{fraud}");
    }

    #[test]
    fn versions_are_sorted_on_read() {
        let mut lock = lock();
        lock.model.get_mut("churn").unwrap().versions.reverse();
        let parsed = Lock::parse(&lock.to_toml(), "cairn.lock").unwrap();
        let numbers: Vec<u32> = parsed.model["churn"]
            .versions
            .iter()
            .map(|v| v.version)
            .collect();
        assert_eq!(numbers, [1, 2]);
    }

    #[test]
    fn inconsistent_tables_are_refused_with_the_model_named() {
        let text = lock().to_toml();
        let cases = [
            (
                "version = 1\nstage = \"archived\"",
                "version = 2\nstage = \"archived\"",
                "two versions numbered 2",
            ),
            (
                "stage = \"archived\"",
                "stage = \"production\"",
                "versions 1, 2 are all in production",
            ),
            (
                "champion = 2",
                "champion = 7",
                "alias `champion` names version 7",
            ),
            (
                "champion = 2",
                "staging = 2",
                "`staging` cannot be an alias",
            ),
            ("champion = 2", "latest = 2", "`latest` cannot be an alias"),
            (
                "accuracy = 0.95",
                "accuracy = nan",
                "metric `accuracy` is not a finite number",
            ),
            (
                "validated = \"passed\"\n",
                "",
                "`validation` and `validated` go together",
            ),
        ];
        for (from, to, message) in cases {
            let bad = text.replacen(from, to, 1);
            assert_ne!(bad, text, "{from}");
            match Lock::parse(&bad, "cairn.lock") {
                Err(LockError::Invalid(m)) => {
                    assert!(m.starts_with("cairn.lock: [model.churn]: "), "{m}");
                    assert!(m.contains(message), "{m} (expected {message})");
                }
                other => panic!("{other:?} for {to}"),
            }
        }
        // Unknown keys and bad values name their line, as in the rest of the lock.
        for (from, to) in [
            ("spec = \"churn\"", "spec = \"churn\"\ncolor = 1"),
            ("stage = \"archived\"", "stage = \"retired\""),
            ("action = \"alias\"", "action = \"delete\""),
        ] {
            let bad = text.replacen(from, to, 1);
            let err = Lock::parse(&bad, "cairn.lock").unwrap_err().to_string();
            assert!(err.starts_with("cairn.lock:"), "{err}");
            assert!(
                err.chars().nth(11).is_some_and(|c| c.is_ascii_digit()),
                "{err}"
            );
        }
    }

    #[test]
    fn next_version_counts_versions_removed_by_hand() {
        let mut entry = lock().model["churn"].clone();
        assert_eq!(entry.next_version(), 3);
        entry.versions.retain(|v| v.version == 1);
        assert_eq!(entry.next_version(), 3, "version 2 is in the history");
        assert_eq!(ModelEntry::default().next_version(), 1);
    }

    #[test]
    fn aliases_may_not_look_like_other_references() {
        for bad in ["production", "none", "latest", "12", "", "a b", "x@y"] {
            assert!(alias_problem(bad).is_some(), "{bad}");
        }
        for good in ["champion", "challenger-2", "v1", "2nd"] {
            assert_eq!(alias_problem(good), None, "{good}");
        }
    }
}
