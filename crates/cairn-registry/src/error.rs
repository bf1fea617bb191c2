//! What can stop a registry operation. Messages name the model, the version and what exists;
//! they never name a command (the CLI adds hints).

use std::path::PathBuf;

use cairn_core::registry::Stage;
use cairn_store::Digest;

/// What a reference could have named, for messages about one that names nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub versions: Vec<u32>,
    pub staging: Option<u32>,
    pub production: Option<u32>,
    pub aliases: Vec<(String, u32)>,
}

impl std::fmt::Display for Existing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let versions: Vec<String> = self.versions.iter().map(u32::to_string).collect();
        write!(f, "versions: {}", or_none(&versions))?;
        let stages: Vec<String> = [
            (Stage::Production, self.production),
            (Stage::Staging, self.staging),
        ]
        .into_iter()
        .filter_map(|(s, v)| v.map(|v| format!("{s} = {v}")))
        .collect();
        write!(f, "; stages: {}", or_none(&stages))?;
        let aliases: Vec<String> = self
            .aliases
            .iter()
            .map(|(a, v)| format!("{a} = {v}"))
            .collect();
        write!(f, "; aliases: {}", or_none(&aliases))
    }
}

fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// Why a version may not go to production without `force`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unvalidated {
    #[error("it has not been validated")]
    Never,
    #[error("its last validation failed (record {0})")]
    Failed(Digest),
    #[error("its validation record {0} is not in the local store")]
    Missing(Digest),
    /// The record is unreadable, of a newer format, or about another model, version or
    /// artifact, or its verdict is not the one the lock records.
    #[error("its validation record {digest} {problem}")]
    Mismatch { digest: Digest, problem: String },
}

/// Why there is nothing to roll back to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoRollback {
    #[error("it has no version in production")]
    NoProduction,
    #[error("version {current} is the first version it had in production")]
    NoPrevious { current: u32 },
    #[error("version {previous}, in production before version {current}, is no longer registered")]
    Gone { current: u32, previous: u32 },
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// `NAME@REF` that does not parse.
    #[error("`{reference}` is not a model reference: {problem}")]
    BadReference { reference: String, problem: String },
    #[error("`{name}` is not a valid model name: use letters, digits, `-` and `_`")]
    BadName { name: String },
    #[error("no model `{name}` is registered{}", registered(.name, .models))]
    NoSuchModel { name: String, models: Vec<String> },
    /// A version, stage or alias that names nothing.
    #[error("{name}@{at}: {} ({existing})", what(.at))]
    NoSuchVersion {
        name: String,
        at: String,
        existing: Existing,
    },
    /// `NAME@archived` or `NAME@none`: those stages hold any number of versions.
    #[error(
        "{name}@{stage}: `{stage}` holds any number of versions; name one by its number ({existing})"
    )]
    ManyInStage {
        name: String,
        stage: Stage,
        existing: Existing,
    },
    /// Neither a run nor a best-run choice, or both.
    #[error(
        "say which run to register: a run id, or the best run of a spec by a metric (not both)"
    )]
    WhichRun,
    #[error("run {id} {status}{}: only a finished run can be registered", .error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default())]
    RunNotFinished {
        id: String,
        status: String,
        error: Option<String>,
    },
    #[error("no finished run of `{spec}` to choose from")]
    NoFinishedRun { spec: String },
    #[error("no finished run of `{spec}` has the metric `{metric}` (its runs have: {})", or_none(.available))]
    NoSuchMetric {
        spec: String,
        metric: String,
        available: Vec<String>,
    },
    #[error("run {run}'s model artifact {artifact} is already registered as {name}@{version}")]
    AlreadyRegistered {
        name: String,
        version: u32,
        run: String,
        artifact: Digest,
    },
    /// The promotion expected another production version (`expect_production`): someone
    /// promoted or rolled back since the caller looked.
    #[error(
        "{name}: production is {} now, not {} as expected: it changed meanwhile",
        version_or_none(.found),
        version_or_none(.expected)
    )]
    ProductionChanged {
        name: String,
        expected: Option<u32>,
        found: Option<u32>,
    },
    #[error("{name}@{version} is already in {stage}")]
    AlreadyInStage {
        name: String,
        version: u32,
        stage: Stage,
    },
    #[error(
        "a version cannot be promoted back to `none`; promote it to staging, production or archived"
    )]
    NoneStage,
    #[error("{name}@{version} cannot go to production: {why}")]
    NotValidated {
        name: String,
        version: u32,
        why: Unvalidated,
    },
    #[error("a forced promotion needs a reason (it is recorded)")]
    ForceWithoutReason,
    #[error("`{alias}` cannot be an alias: {problem}")]
    BadAlias {
        alias: String,
        problem: &'static str,
    },
    #[error("{name}: alias `{alias}` already names version {version}")]
    AliasUnchanged {
        name: String,
        alias: String,
        version: u32,
    },
    #[error("{name} has no alias `{alias}` (aliases: {})", or_none(.aliases))]
    NoSuchAlias {
        name: String,
        alias: String,
        aliases: Vec<String>,
    },
    #[error("{name}: nothing to roll back to: {why}")]
    NoRollback { name: String, why: NoRollback },
    /// A version whose pins disagree with its run record (the lock was edited by hand, or the
    /// record is another run's).
    #[error(
        "{name}@{version}: cairn.lock pins {what} {pinned}, but its run record {record} names {found}"
    )]
    Inconsistent {
        name: String,
        version: u32,
        what: &'static str,
        pinned: String,
        found: String,
        record: Digest,
    },
    #[error("{name}@{version}: {source}")]
    Artifact {
        name: String,
        version: u32,
        source: cairn_model::artifact::ArtifactError,
    },
    /// A store read or write, with the model version it was for when there is one.
    #[error("{}{source}", .context.as_deref().map(|c| format!("{c}: ")).unwrap_or_default())]
    Store {
        context: Option<String>,
        source: cairn_store::StoreError,
    },
    #[error("validation record {digest}: {message}")]
    ValidationRecord { digest: Digest, message: String },
    #[error(
        "validation record {digest} has format {found}, but this cairn reads format {supported}: it was written by a newer cairn"
    )]
    NewerValidationRecord {
        digest: Digest,
        found: u64,
        supported: u32,
    },
    #[error(transparent)]
    Lock(#[from] cairn_core::LockError),
    #[error(transparent)]
    Train(#[from] cairn_train::TrainError),
    #[error(transparent)]
    Runs(#[from] cairn_core::runs::RunsError),
    #[error("cannot read git's user.name and user.email: {0}")]
    Git(String),
    /// Taking the write lock or writing `cairn.lock`.
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl From<cairn_store::StoreError> for RegistryError {
    fn from(source: cairn_store::StoreError) -> Self {
        RegistryError::Store {
            context: None,
            source,
        }
    }
}

/// The registered names, the closest one first when the name looks like a typo of it (as
/// clap suggests a subcommand: Jaro similarity above 0.7).
fn registered(name: &str, models: &[String]) -> String {
    if models.is_empty() {
        return " (none is)".to_owned();
    }
    let closest = models
        .iter()
        .map(|m| (strsim::jaro(name, m), m))
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match closest {
        Some((_, m)) => format!("; did you mean `{m}`? (registered: {})", models.join(", ")),
        None => format!(" (registered: {})", models.join(", ")),
    }
}

fn what(at: &str) -> String {
    if Stage::parse(at).is_some() {
        format!("no version is in {at}")
    } else if at.bytes().all(|b| b.is_ascii_digit()) {
        format!("no version {at}")
    } else if at == "latest" {
        "no version is registered".to_owned()
    } else {
        format!("no alias `{at}`")
    }
}

fn version_or_none(version: &Option<u32>) -> String {
    version.map_or_else(|| "no version".to_owned(), |v| format!("version {v}"))
}
