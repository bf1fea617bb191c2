//! Turning library errors into what the user sees: one message, one hint, one exit code.
//! Library messages never name commands; the hints here do.

use std::process::ExitCode;

use cairn_core::{ConfigError, InitError, LockError, PathError, ProjectError};
use cairn_data::DataError;
use cairn_store::StoreError;

/// Exit codes, decided here and nowhere else.
///
/// One rule for failures to write: whatever the command and whatever it writes (an object, the
/// lock, an output file, `.gitignore`, standard output), a write that fails is the machine's
/// fault (a full disk, permissions, an I/O error), not the input's: exit 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything went as asked.
    Ok = 0,
    /// A check said no (workspace differs, corrupt objects found).
    CheckFailed = 1,
    /// The user's input or files are wrong.
    Usage = 2,
    /// A bug or an environment failure cairn cannot attribute to the input.
    Internal = 3,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub hint: Option<String>,
    pub exit: Exit,
}

/// For a command whose JSON outcome is already printed: the error goes to stderr only, so
/// stdout keeps exactly one document.
pub fn report_after_outcome(p: &crate::printer::Printer, e: CliError) -> Exit {
    p.error(&e.message, e.hint.as_deref());
    e.exit
}

impl CliError {
    pub fn usage(message: impl Into<String>, hint: Option<&str>) -> Self {
        Self {
            message: message.into(),
            hint: hint.map(str::to_owned),
            exit: Exit::Usage,
        }
    }
}

const FSCK_HINT: &str =
    "run `cairn data fsck --remove-corrupt`, then `cairn data add` the original data again";
const LOCK_HINT: &str = "cairn.lock is written by cairn: fix the line named above, or restore it from git \
     (`git checkout HEAD -- cairn.lock`; in a merge, `git checkout --ours cairn.lock` or `--theirs`) and add the data again";
const CONFIG_HINT: &str = "fix cairn.toml; its format is described in docs/formats/config.md";

fn store_hint(e: &StoreError) -> (Exit, Option<&'static str>) {
    match e {
        StoreError::Corrupt { .. } => (Exit::Usage, Some(FSCK_HINT)),
        StoreError::Missing { .. } => (
            Exit::Usage,
            Some(
                "`cairn data pull` gets it from a remote; without one, add the data again with `cairn data add` where it exists",
            ),
        ),
        StoreError::ChangedWhileReading { .. } => (
            Exit::Usage,
            Some("wait until the file is no longer being written, then run the command again"),
        ),
        StoreError::UnsupportedVersion { .. } => (
            Exit::Usage,
            Some("upgrade cairn to a version that understands this store"),
        ),
        StoreError::InvalidVersionFile { .. } => (
            Exit::Usage,
            Some("write the store version (`1`) into .cairn/version, then run `cairn data fsck`"),
        ),
        StoreError::Read { .. } => (
            Exit::Usage,
            Some("check that the file exists and is readable"),
        ),
        StoreError::Write { .. } => (
            Exit::Internal,
            Some("check the free space and permissions of the project directory"),
        ),
    }
}

fn lock_hint(e: &LockError) -> Option<&'static str> {
    match e {
        LockError::Version { .. } => Some("upgrade cairn to read this lock file"),
        LockError::Invalid(_) | LockError::Overlap { .. } => Some(LOCK_HINT),
    }
}

impl From<cairn_feature::FeatureError> for CliError {
    fn from(e: cairn_feature::FeatureError) -> Self {
        use cairn_feature::FeatureError as F;
        let (exit, hint): (Exit, Option<String>) = match &e {
            F::Table(t) => (Exit::Usage, Some(t.hint().into())),
            F::View { .. } | F::Polars { .. } => (
                Exit::Usage,
                Some("fix the view in cairn.toml or its source data; `cairn feature plan` checks every view".into()),
            ),
            F::UnknownView { .. } | F::UnknownService { .. } | F::UnknownFeature { .. } => {
                (Exit::Usage, Some("`cairn feature list` shows the views and their features".into()))
            }
            F::BadReference { .. } | F::NothingRequested => (
                Exit::Usage,
                Some("name features as view:feature (--features a:x,b:y) or use --service NAME".into()),
            ),
            F::Stale { view } => (
                Exit::Usage,
                Some(format!("run `cairn feature materialize {view}`")),
            ),
            F::OutputDirectory { .. } => (
                Exit::Usage,
                Some("create the directory first, or name an output in one that exists".into()),
            ),
            F::Output { .. } => (
                Exit::Internal,
                Some("check that the directory exists and is writable".into()),
            ),
            F::NotMaterialized { view } => (
                Exit::Usage,
                Some(format!("run `cairn feature materialize {view}` first")),
            ),
            F::NameClash { .. } => (
                Exit::Usage,
                Some("pass --full-names to name columns view__feature (`cairn train` names them by feature: give the model only one of the two)".into()),
            ),
            F::Entities { .. } => (Exit::Usage, None),
            F::NoTimeColumn { .. } => (
                Exit::Usage,
                Some("name the entity table's time column with --timestamp (for `cairn train`, with `timestamp` in the model's spec)".into()),
            ),
            F::NoJoinKey { key, .. } => (
                Exit::Usage,
                Some(format!("add a `{key}` column to the entity table")),
            ),
            F::ColumnTaken { .. } => (
                Exit::Usage,
                Some("rename the entity table's column, or pass --full-names to name the features view__feature".into()),
            ),
            F::BadEntity { .. } => (
                Exit::Usage,
                Some("give each entity as --entity key=value[,key=value...], with every join key of the requested views (`cairn feature list` shows them)".into()),
            ),
            F::Read { .. } => (Exit::Usage, Some("check that the file exists and is readable".into())),
            F::Write { .. } => (
                Exit::Internal,
                Some("check the free space and permissions of the directory".into()),
            ),
            F::Unavailable { url, .. } => (
                Exit::Usage,
                Some(format!("check that Redis answers at {url} (`redis-cli -u {url} ping`) and that the password is right (`redis_password` in .cairn/config.toml's [online], else CAIRN_REDIS_PASSWORD); `[online] store` in cairn.toml names it")),
            ),
            F::LocalConfig(_) => (
                Exit::Usage,
                Some("fix .cairn/config.toml: it holds [remote.NAME] tables of object_store options and an [online] table with redis_username and redis_password".into()),
            ),
            F::SparkUnreachable { remote, .. } => (
                Exit::Usage,
                Some(format!("start the Spark Connect server at {remote} (`sbin/start-connect-server.sh` of a Spark or pyspark install), or fix `[offline] remote` in cairn.toml; `engine = \"polars\"` computes without Spark")),
            ),
            F::Spark { .. } => (
                Exit::Usage,
                Some("fix the view's SQL or its source in cairn.toml: on Spark it must be Spark SQL too (docs/guide/scale.md lists the subset both engines run)".into()),
            ),
            F::SparkNotBuilt => (
                Exit::Usage,
                Some("build cairn with its default features (the `spark` feature needs protoc), or set `[offline] engine = \"polars\"`".into()),
            ),
            F::Online { .. } => (
                Exit::Usage,
                Some("delete .cairn/online.db, then `cairn feature materialize` rebuilds it from the pinned tables".into()),
            ),
            F::Store(s) => {
                let (exit, hint) = store_hint(s);
                (exit, hint.map(str::to_owned))
            }
            F::Lock(l) => (Exit::Usage, lock_hint(l).map(str::to_owned)),
            F::Validation(cairn_core::validation::ValidationError::Table(t)) => {
                (Exit::Usage, Some(t.hint().into()))
            }
            F::Validation(_) => (Exit::Usage, None),
            F::IncrementalAfterChange { view } => (
                Exit::Usage,
                Some(format!("run `cairn feature materialize {view}` without --incremental")),
            ),
            F::ValidationFailed { .. } => (
                Exit::CheckFailed,
                Some("fix the data (`cairn data validate` shows the checks), or pass --skip-validation, which is recorded in cairn.lock".into()),
            ),
        };
        CliError {
            message: e.to_string(),
            hint,
            exit,
        }
    }
}

impl From<cairn_train::TrainError> for CliError {
    fn from(e: cairn_train::TrainError) -> Self {
        use cairn_train::TrainError as T;
        // The join to the feature views fails as `feature historical` would.
        let e = match e {
            T::Feature(f) => return f.into(),
            e => e,
        };
        let (exit, hint): (Exit, Option<String>) = match &e {
            T::Feature(_) => (Exit::Usage, None), // returned above
            T::Override { .. } | T::OverriddenSpec(_) => {
                return CliError::usage(
                    override_message(&e),
                    Some("fix the spec in cairn.toml (docs/guide/train.md lists each algorithm's params)"),
                );
            }
            T::NoSuchModel { .. } => (Exit::Usage, Some("declare it as `[model.NAME]` in cairn.toml (docs/guide/train.md)".into())),
            T::Spec(_) | T::Param { .. } => (Exit::Usage, Some("fix the spec in cairn.toml (docs/guide/train.md lists each algorithm's params)".into())),
            T::Untracked { path, .. } => (
                Exit::Usage,
                Some(format!("track it with `cairn data add {path}`, or pass --allow-untracked (recorded in the run)")),
            ),
            T::Modified { path, .. } => (
                Exit::Usage,
                Some(format!("`cairn data add {path}` pins the new content, `cairn data checkout {path}` restores the pinned one; or pass --allow-untracked")),
            ),
            T::Table(t) => (Exit::Usage, Some(t.hint().into())),
            T::Validation(cairn_core::validation::ValidationError::Table(t)) => {
                (Exit::Usage, Some(t.hint().into()))
            }
            T::Validation(_) => (Exit::Usage, None),
            T::ValidationFailed { .. } => (
                Exit::CheckFailed,
                Some("fix the data (`cairn data validate` shows the checks), or pass --skip-validation (recorded in the run)".into()),
            ),
            T::Input { .. } => (
                Exit::Usage,
                Some("declare the column's handling in `[model.NAME.columns.COLUMN]` (type, impute, encode), or fix the data".into()),
            ),
            T::Data { .. } => (Exit::Usage, None),
            T::Store(s) => {
                let (exit, hint) = store_hint(s);
                (exit, hint.map(str::to_owned))
            }
            T::Workspace(w) => {
                let (exit, hint) = workspace_hint(w);
                (exit, hint.map(str::to_owned))
            }
            T::Lock(l) => (Exit::Usage, lock_hint(l).map(str::to_owned)),
            T::Runs(r) => runs_hint(r),
            T::Git(_) => (Exit::Usage, None),
            T::Io { .. } => (Exit::Usage, Some("check that the file exists and is readable".into())),
            T::NewerRecord { .. } => (Exit::Usage, Some("upgrade cairn".into())),
            T::Record { .. } => (Exit::Internal, None),
        };
        CliError {
            message: e.to_string(),
            hint,
            exit,
        }
    }
}

impl From<cairn_registry::RegistryError> for CliError {
    fn from(e: cairn_registry::RegistryError) -> Self {
        use cairn_registry::RegistryError as R;
        // Finding the run to register fails as `runs show` would.
        let e = match e {
            R::Train(t) => return t.into(),
            e => e,
        };
        let show = |name: &str| {
            format!("`cairn models show {name}` lists its versions, stages and aliases")
        };
        let (exit, hint): (Exit, Option<String>) = match &e {
            R::Train(_) => (Exit::Usage, None), // returned above
            R::BadReference { .. } => (
                Exit::Usage,
                Some("name a version as NAME@REF: REF is production, staging, a version number, an alias or latest (a bare NAME is NAME@production)".into()),
            ),
            R::BadName { .. } => (Exit::Usage, Some("use letters, digits, `-` and `_`".into())),
            R::NoSuchModel { .. } => (
                Exit::Usage,
                Some("`cairn models list` shows the registered models; `cairn register RUN` registers a finished run".into()),
            ),
            R::NoSuchVersion { name, .. } | R::ManyInStage { name, .. } => (Exit::Usage, Some(show(name))),
            R::WhichRun => (
                Exit::Usage,
                Some("`cairn register RUN`, or `cairn register --best METRIC --model SPEC`".into()),
            ),
            R::RunNotFinished { .. } => (
                Exit::Usage,
                Some("`cairn runs list --where status=finished` shows the runs that can be registered".into()),
            ),
            R::NoFinishedRun { spec } => (
                Exit::Usage,
                Some(format!("train it first: `cairn train {spec}`")),
            ),
            R::NoSuchMetric { .. } => (Exit::Usage, Some("pick one of the metrics its runs have".into())),
            R::AlreadyRegistered { name, version, .. } => (
                Exit::Usage,
                Some(format!("it is {name}@{version}: `cairn models show {name}@{version}`")),
            ),
            R::AlreadyInStage { name, .. } => (Exit::Usage, Some(show(name))),
            R::ProductionChanged { name, .. } => (Exit::Usage, Some(show(name))),
            R::NoneStage => (Exit::Usage, None),
            R::NotValidated { name, version, .. } => (
                Exit::Usage,
                Some(format!(
                    "validate it: `cairn validate {name}@{version}`; or promote it anyway with --force --reason TEXT (recorded)"
                )),
            ),
            R::ForceWithoutReason => (Exit::Usage, Some("add --reason TEXT: a forced promotion is recorded with its reason".into())),
            R::BadAlias { .. } => (
                Exit::Usage,
                Some("pick another alias, such as champion or challenger".into()),
            ),
            R::AliasUnchanged { .. } => (Exit::Usage, None),
            R::NoSuchAlias { name, .. } => (Exit::Usage, Some(show(name))),
            R::NoRollback { name, .. } => (
                Exit::Usage,
                Some(format!("`cairn models history {name}` shows what production held")),
            ),
            R::Inconsistent { .. } => (
                Exit::Usage,
                Some("cairn.lock was edited by hand, or the store's objects were replaced: restore cairn.lock from git (`git checkout HEAD -- cairn.lock`), and run `cairn data fsck`".into()),
            ),
            R::Artifact {
                source: cairn_registry::ArtifactError::Version { .. },
                ..
            } => (Exit::Usage, Some("upgrade cairn".into())),
            R::Artifact { .. } => (Exit::Usage, Some(FSCK_HINT.into())),
            R::Store { source, .. } => {
                let (exit, hint) = store_hint(source);
                (exit, hint.map(str::to_owned))
            }
            R::ValidationRecord { .. } => (
                Exit::Usage,
                Some("validate the version again (`cairn validate NAME@VERSION`) to record a new verdict".into()),
            ),
            R::NewerValidationRecord { .. } => (Exit::Usage, Some("upgrade cairn".into())),
            R::Lock(l) => (Exit::Usage, lock_hint(l).map(str::to_owned)),
            R::Runs(r) => runs_hint(r),
            R::Git(_) => (Exit::Usage, Some("check the repository's git configuration (`git config --list`)".into())),
            R::Write { .. } => (
                Exit::Internal,
                Some("check the free space and permissions of the project directory".into()),
            ),
        };
        CliError {
            message: e.to_string(),
            hint,
            exit,
        }
    }
}

impl From<cairn_serve::LoadError> for CliError {
    fn from(e: cairn_serve::LoadError) -> Self {
        use cairn_serve::LoadError as L;
        let hint = match &e {
            // Mapped as a registry error below.
            L::Registry(_) => "",
            L::NoModels => "register a trained run first: `cairn register RUN`",
            L::NoProduction { .. } => {
                "promote a version (`cairn models promote NAME@VERSION --to production`), or name the versions to serve: `cairn serve NAME@REF`"
            }
            L::SameModel { .. } => {
                "serve one version per model; a second version goes in --canary NAME@REF=PERCENT"
            }
            L::CanaryWithoutModel { .. } => {
                "serve the model too: `cairn serve NAME@REF --canary NAME@REF2=PERCENT`"
            }
            L::CanaryIsPrimary { .. } => {
                "`cairn models list` shows each model's versions and stages"
            }
            L::CanaryShare { .. } => "give it as NAME@REF=PERCENT, such as churn@staging=10",
        };
        if let L::Registry(r) = e {
            return (*r).into();
        }
        CliError::usage(e.to_string(), Some(hint))
    }
}

impl From<cairn_serve::server::ServeError> for CliError {
    fn from(e: cairn_serve::server::ServeError) -> Self {
        use cairn_serve::server::ServeError as S;
        match e {
            S::Load(l) => l.into(),
            S::Bind { .. } => CliError::usage(
                e.to_string(),
                Some("pick another --port (0 picks a free one), or stop what listens there"),
            ),
            S::Runtime(_) | S::Log(_) => CliError {
                message: e.to_string(),
                hint: None,
                exit: Exit::Internal,
            },
        }
    }
}

impl From<cairn_serve::PredictError> for CliError {
    fn from(e: cairn_serve::PredictError) -> Self {
        use cairn_serve::PredictError as P;
        let (exit, hint): (Exit, Option<String>) = match e {
            P::Load(l) => return l.into(),
            P::Online(f) => return f.into(),
            P::Table(ref t) => (Exit::Usage, Some(t.hint().into())),
            P::Score { ref source, .. } => (
                Exit::Usage,
                Some(match source {
                    cairn_serve::ScoreError::UnknownField { .. } => {
                        "drop the column, or pass --ignore-unknown to skip columns that are not inputs".into()
                    }
                    _ => "`cairn models show NAME@VERSION` shows the model; GET /v1/models on a server lists its inputs and their types".into(),
                }),
            ),
            P::Read { .. } => (Exit::Usage, Some("check that the file exists and is a table".into())),
            P::OutputFormat { .. } | P::OutputIsInput { .. } => (
                Exit::Usage,
                Some("name an output file ending in .csv or .parquet, other than the input".into()),
            ),
            P::Write { .. } | P::Stdout(_) => (
                Exit::Internal,
                Some("check the free space and permissions of the output's directory".into()),
            ),
        };
        CliError {
            message: e.to_string(),
            hint,
            exit,
        }
    }
}

/// An override that cannot be applied, named as the `--set` that gave it.
fn override_message(e: &cairn_train::TrainError) -> String {
    use cairn_train::{OverrideProblem as P, TrainError as T};
    match e {
        T::Override {
            model,
            key,
            value,
            problem,
        } => {
            let problem = match problem {
                P::Unknown => "is not something --set changes (seed, split.test_size, split.stratify, or a param)".to_owned(),
                other => other.to_string(),
            };
            format!("--set {key}={value}: `model.{model}.{key}` {problem}")
        }
        T::OverriddenSpec(check) => format!("after --set: {check}"),
        other => other.to_string(),
    }
}

fn runs_hint(e: &cairn_core::runs::RunsError) -> (Exit, Option<String>) {
    use cairn_core::runs::RunsError as R;
    match e {
        R::NotFound(_) | R::Ambiguous { .. } | R::ShortPrefix(_) => {
            (Exit::Usage, Some("`cairn runs list` shows the runs".into()))
        }
        R::Version { .. } => (
            Exit::Usage,
            Some("upgrade cairn: a newer one wrote this project's runs index".into()),
        ),
        R::BadRef { path } => (
            Exit::Usage,
            Some(format!(
                "{} was damaged; if the run is not needed, delete the file (its objects go with the next `cairn data gc`)",
                path.display()
            )),
        ),
        R::Reindex { .. } => (
            Exit::Usage,
            Some("the run's record is not in the store (removed by hand?); if the run is lost, delete its ref in .cairn/runs/".into()),
        ),
        R::Sqlite { .. } | R::Ref { .. } => (
            Exit::Internal,
            Some("the runs index in .cairn/cairn.db can be deleted: it is rebuilt from .cairn/runs/ and the store".into()),
        ),
    }
}

impl From<DataError> for CliError {
    fn from(e: DataError) -> Self {
        let (exit, hint): (Exit, Option<String>) = match &e {
            DataError::Path(p) => return p_error(p, e.to_string()),
            DataError::NotFound { .. } => (Exit::Usage, Some("check the path; `cairn data ls` lists what is tracked".into())),
            DataError::Scan(e) => {
                let (exit, hint) = scan_hint(e);
                (exit, hint.map(str::to_owned))
            }
            DataError::BadPath(_) => (Exit::Usage, Some("rename the file".into())),
            DataError::TrackedByGit { path, .. } => (
                Exit::Usage,
                Some(format!("stop tracking it in git first: `git rm -r --cached {path}` (the files stay on disk)")),
            ),
            DataError::Overlap { .. } => (Exit::Usage, Some("track a directory or files inside it, not both".into())),
            DataError::NotTracked { .. } => (Exit::Usage, Some("`cairn data ls` lists what is tracked".into())),
            DataError::Write { .. } => (Exit::Internal, Some("check the free space and the permissions of the directory".into())),
            DataError::StatCache(cairn_store::StatCacheError::Version { .. }) => (
                Exit::Usage,
                Some("upgrade cairn, or delete .cairn/cairn.db (a cache: it is rebuilt, more slowly, on the next run)".into()),
            ),
            DataError::Guard { .. } | DataError::StatCache(_) => (Exit::Internal, None),
            DataError::Store(s) => {
                let (exit, hint) = store_hint(s);
                (exit, hint.map(str::to_owned))
            }
            DataError::Lock(l) => (Exit::Usage, lock_hint(l).map(str::to_owned)),
            DataError::Runs(r) => runs_hint(r),
            DataError::Git(_) => (Exit::Usage, None),
            DataError::Gitignore(_) => (Exit::Internal, Some("check the permissions of .gitignore".into())),
            DataError::DriftRef(cairn_core::drift::DriftRefError::Io { .. }) => (Exit::Internal, None),
            DataError::DriftRef(cairn_core::drift::DriftRefError::BadRef { .. }) => (
                Exit::Usage,
                Some("the ref was damaged: delete it (the next `cairn drift` writes it again)".into()),
            ),
            DataError::Manifest { .. } => (Exit::Usage, Some(FSCK_HINT.into())),
            DataError::MissingObjects { .. } => (
                Exit::Usage,
                Some("`cairn data pull` gets them from a remote; without one, add the data again with `cairn data add` where it exists".into()),
            ),
            DataError::Conflicts { .. } => (
                Exit::Usage,
                Some("keep the changes with `cairn data add`, or discard them with `--force`".into()),
            ),
            DataError::NoGit => (
                Exit::Usage,
                Some("revisions and history (`--rev`, `--all-commits`, `data diff`) need the project to be in a git repository".into()),
            ),
            DataError::Remote(r) => return remote_error(r),
            DataError::RemoteConfig(r) => {
                let hint = match r {
                    cairn_core::RemoteError::Unknown { .. } | cairn_core::RemoteError::NoDefault => {
                        "`cairn remote list` shows the remotes; `cairn remote add NAME URL` adds one"
                    }
                    cairn_core::RemoteError::Exists { .. } => "`cairn remote remove NAME` first, or pick another name",
                    cairn_core::RemoteError::BadName { .. } => "use letters, digits, `-` and `_`",
                    cairn_core::RemoteError::Edit { .. } | cairn_core::RemoteError::Config(_) => CONFIG_HINT,
                };
                (Exit::Usage, Some(hint.into()))
            }
            DataError::FetchIncomplete { .. } => (
                Exit::Usage,
                Some("nothing corrupt was stored; delete the corrupt objects on the remote, then push them again from a machine that has good copies".into()),
            ),
            DataError::UnresolvedManifests { .. } => (
                Exit::Usage,
                Some("push the data (and its manifests) from a machine that has it, then collect again".into()),
            ),
            DataError::Validation(cairn_core::validation::ValidationError::Table(t)) => {
                (Exit::Usage, Some(t.hint().into()))
            }
            DataError::NoExpectations { path } => (
                Exit::Usage,
                Some(format!(
                    "declare them in cairn.toml under [dataset.\"{}\"] (docs/guide/validate.md)",
                    path.as_deref().unwrap_or("PATH")
                )),
            ),
            DataError::Validation(cairn_core::validation::ValidationError::Polars { .. }) => {
                (Exit::Usage, Some("check that the file holds the table you expect".into()))
            }
            DataError::NoLockInRevision { .. } => (Exit::Usage, Some("pick a revision where cairn.lock was committed (`git log -- cairn.lock`)".into())),
        };
        Self {
            message: e.to_string(),
            hint,
            exit,
        }
    }
}

/// The exit code and hint for the workspace-vs-lock check's errors.
fn workspace_hint(e: &cairn_core::workspace::WorkspaceError) -> (Exit, Option<&'static str>) {
    use cairn_core::workspace::WorkspaceError as W;
    match e {
        W::Scan(s) => scan_hint(s),
        W::Store(s) => store_hint(s),
        W::StatCache(cairn_store::StatCacheError::Version { .. }) => (
            Exit::Usage,
            Some(
                "upgrade cairn, or delete .cairn/cairn.db (a cache: it is rebuilt, more slowly, on the next run)",
            ),
        ),
        W::StatCache(_) => (Exit::Internal, None),
        W::Manifest { .. } => (Exit::Usage, Some(FSCK_HINT)),
    }
}

/// The exit code and hint for a workspace that cannot be read. Also meant for the workspace
/// check's errors in other commands (`cairn_core::workspace::WorkspaceError::Scan`).
pub fn scan_hint(e: &cairn_store::scan::ScanError) -> (Exit, Option<&'static str>) {
    use cairn_store::scan::ScanError as S;
    match e {
        S::Symlink { .. } => (
            Exit::Usage,
            Some(
                "cairn does not follow symbolic links: add the link's target, or replace the link with what it points to",
            ),
        ),
        S::SpecialFile { .. } => (
            Exit::Usage,
            Some("remove sockets, pipes and device files from the data"),
        ),
        S::NonUtf8 { .. } | S::BadPath(_) => (Exit::Usage, Some("rename the file")),
        S::Read { .. } => (
            Exit::Usage,
            Some("check that the file exists and is readable"),
        ),
        S::StatCache(cairn_store::StatCacheError::Version { .. }) => (
            Exit::Usage,
            Some(
                "upgrade cairn, or delete .cairn/cairn.db (a cache: it is rebuilt, more slowly, on the next run)",
            ),
        ),
        S::StatCache(_) => (Exit::Internal, None),
    }
}

fn remote_error(e: &cairn_store::RemoteError) -> CliError {
    use cairn_store::RemoteError as R;
    let (exit, hint) = match e {
        R::BadUrl { .. } => (
            Exit::Usage,
            "fix the remote's url in cairn.toml (s3://bucket/prefix, gs://…, az://…, https://…, or a directory)",
        ),
        R::BadOption { .. } => (
            Exit::Usage,
            "fix .cairn/config.toml: its keys are object_store options such as aws_access_key_id",
        ),
        R::Corrupt { .. } => (
            Exit::Usage,
            "delete that object on the remote, then push it again from a machine with a good copy",
        ),
        R::Denied { .. } => (
            Exit::Usage,
            "check the credentials: .cairn/config.toml when it names this remote, otherwise the environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, GOOGLE_*, AZURE_*), otherwise the AWS profile (AWS_PROFILE or `default` in ~/.aws/credentials and ~/.aws/config); `cairn -v` says which was used",
        ),
        R::AwsProfile { .. } => (
            Exit::Usage,
            "fix that AWS profile, or choose another: AWS_PROFILE, or `aws_profile = \"NAME\"` in the remote's table of .cairn/config.toml",
        ),
        R::NotFound { .. } => (
            Exit::Usage,
            "check the bucket (or directory) name, and create it first if it is new",
        ),
        R::ReadOnly { .. } => (
            Exit::Usage,
            "http(s) remotes can only be read; push to an object store or a directory",
        ),
        R::Failed { .. } => (
            Exit::Internal,
            "check the remote's endpoint and the network, then run the command again: transfers resume",
        ),
        R::Version { .. } => (Exit::Usage, "upgrade cairn to use this remote"),
        R::Store(s) => {
            let (exit, hint) = store_hint(s);
            return CliError {
                message: e.to_string(),
                hint: hint.map(str::to_owned),
                exit,
            };
        }
    };
    CliError {
        message: e.to_string(),
        hint: Some(hint.to_string()),
        exit,
    }
}

impl From<cairn_core::RemoteError> for CliError {
    fn from(e: cairn_core::RemoteError) -> Self {
        DataError::RemoteConfig(e).into()
    }
}

fn p_error(e: &PathError, message: String) -> CliError {
    let hint = match e {
        PathError::Outside { .. } => {
            "cairn tracks paths inside the project only; copy or move the data into it"
        }
        PathError::Root { .. } => "name the files or directories to track, not the project itself",
        PathError::Reserved { .. } => {
            "cairn manages .cairn and git manages .git; track other paths"
        }
        PathError::Invalid(_) => "rename the file",
    };
    CliError::usage(message, Some(hint))
}

impl From<ProjectError> for CliError {
    fn from(e: ProjectError) -> Self {
        let hint = match &e {
            ProjectError::NotFound { .. } => {
                Some("run `cairn init` in the project's root directory first")
            }
            ProjectError::Io { .. } => None,
            ProjectError::Config(ConfigError::Version { .. }) => {
                Some("upgrade cairn to read this cairn.toml")
            }
            ProjectError::Config(_) => Some(CONFIG_HINT),
        };
        CliError::usage(e.to_string(), hint)
    }
}

impl From<InitError> for CliError {
    fn from(e: InitError) -> Self {
        let (exit, hint) = match &e {
            InitError::AlreadyInitialized { .. } => (
                Exit::Usage,
                Some("edit cairn.toml to change the project's configuration"),
            ),
            InitError::NotInGit { .. } => (
                Exit::Usage,
                Some("run `git init` first, or pass `--no-git` for a project without git"),
            ),
            InitError::Write { .. } | InitError::Gitignore(_) => (
                Exit::Internal,
                Some("check the free space and the permissions of the directory"),
            ),
            InitError::Git(_) => (Exit::Usage, None),
            InitError::Store(s) => store_hint(s),
            InitError::StatCache(cairn_store::StatCacheError::Version { .. }) => {
                (Exit::Usage, Some("upgrade cairn"))
            }
            InitError::StatCache(_) => (Exit::Internal, None),
        };
        Self {
            message: e.to_string(),
            hint: hint.map(str::to_owned),
            exit,
        }
    }
}

impl From<cairn_validate::ValidateError> for CliError {
    fn from(e: cairn_validate::ValidateError) -> Self {
        use cairn_validate::ValidateError as V;
        let gates =
            |spec: &str| format!("fix `[model.{spec}.gates]` in cairn.toml (docs/guide/gates.md)");
        let (exit, hint): (Exit, Option<String>) = match &e {
            V::Table(t) => (Exit::Usage, Some(t.hint().into())),
            V::NoRows { .. } => (
                Exit::Usage,
                Some("validate on a table with rows (--data FILE)".into()),
            ),
            V::Input { model, version, .. } => (
                Exit::Usage,
                Some(format!(
                    "the data needs every input column of the model, with the types it was trained on (`cairn models show {model}@{version}` names its run; `cairn runs show RUN` its data)"
                )),
            ),
            V::NoTarget { .. } | V::Target { .. } => (
                Exit::Usage,
                Some(
                    "the data needs the model's target column, with values the model knows".into(),
                ),
            ),
            V::TaskMismatch { spec, .. } => (Exit::Usage, Some(gates(spec))),
            V::NoGroupColumn { spec, .. } | V::SingleGroup { spec, .. } => (
                Exit::Usage,
                Some(format!(
                    "{}, or validate on rows with several groups (--data FILE)",
                    gates(spec)
                )),
            ),
            V::Store(s) => {
                let (exit, hint) = store_hint(s);
                (exit, hint.map(str::to_owned))
            }
            V::NewerRecord { .. } => (Exit::Usage, Some("upgrade cairn".into())),
            V::Record { .. } => (Exit::Internal, None),
        };
        CliError {
            message: e.to_string(),
            hint,
            exit,
        }
    }
}

impl From<cairn_pipeline::ReproduceError> for CliError {
    fn from(e: cairn_pipeline::ReproduceError) -> Self {
        use cairn_pipeline::ReproduceError as P;
        let (exit, hint): (Exit, Option<String>) = match e {
            P::Registry(r) => return (*r).into(),
            P::Train(t) => return t.into(),
            P::Project(p) => return p.into(),
            P::Store(ref s) => {
                let (exit, hint) = store_hint(s);
                (exit, hint.map(str::to_owned))
            }
            P::Lock(ref l) => (Exit::Usage, lock_hint(l).map(str::to_owned)),
            P::InputsMissing {
                ref remote,
                ref missing,
                ..
            } => {
                use cairn_pipeline::InputKind;
                let code = missing.iter().any(|m| m.kind == InputKind::Code);
                let objects = missing.iter().any(|m| m.kind != InputKind::Code);
                let mut hints = Vec::new();
                if objects {
                    hints.push(match remote {
                        Some(_) => "push them from a machine that has them (`cairn data push --all-commits`)",
                        None => "add a remote that has them (`cairn remote add NAME URL`)",
                    });
                }
                if code {
                    hints.push("fetch the commit (`git fetch`); a run trained outside git cannot be reproduced");
                }
                (Exit::Usage, Some(hints.join("; ")))
            }
            P::Inconsistent { .. } => (
                Exit::Usage,
                Some("cairn.lock or the store was changed by hand: `cairn data fsck` checks the registered versions".to_owned()),
            ),
            P::Git { .. } => (Exit::Usage, None),
            P::Workdir { .. } => (
                Exit::Usage,
                Some("name an empty or new directory with --workdir".to_owned()),
            ),
            P::Io { .. } => (
                Exit::Internal,
                Some("check the free space and permissions of the directory".to_owned()),
            ),
        };
        CliError {
            message: e.to_string(),
            hint,
            exit,
        }
    }
}

impl From<cairn_pipeline::StatusError> for CliError {
    fn from(e: cairn_pipeline::StatusError) -> Self {
        use cairn_pipeline::StatusError as S;
        match e {
            S::Data(d) => d.into(),
            S::Feature(f) => f.into(),
            S::Lock(l) => CliError {
                hint: lock_hint(&l).map(str::to_owned),
                message: l.to_string(),
                exit: Exit::Usage,
            },
        }
    }
}

impl From<cairn_pipeline::RetrainError> for CliError {
    fn from(e: cairn_pipeline::RetrainError) -> Self {
        use cairn_pipeline::RetrainError as R;
        match e {
            R::Registry(r) => (*r).into(),
            R::NoPolicy { .. } => CliError {
                message: e.to_string(),
                hint: Some(
                    "declare `[retrain.NAME]` in cairn.toml (docs/formats/config.md#retrainname)"
                        .to_owned(),
                ),
                exit: Exit::Usage,
            },
            R::BadWindow { .. } => CliError {
                message: e.to_string(),
                hint: Some(CONFIG_HINT.to_owned()),
                exit: Exit::Usage,
            },
        }
    }
}

impl From<cairn_pipeline::LineageError> for CliError {
    fn from(e: cairn_pipeline::LineageError) -> Self {
        use cairn_pipeline::LineageError as L;
        match e {
            L::Registry(r) => (*r).into(),
            L::Train(t) => t.into(),
            L::Store(s) => {
                let (exit, hint) = store_hint(&s);
                CliError {
                    message: s.to_string(),
                    hint: hint.map(str::to_owned),
                    exit,
                }
            }
        }
    }
}

impl From<cairn_drift::DriftError> for CliError {
    fn from(e: cairn_drift::DriftError) -> Self {
        use cairn_drift::DriftError as D;
        const SPEC_HINT: &str = "fix `[drift.NAME]` in cairn.toml (docs/formats/config.md#drift)";
        let (exit, hint): (Exit, Option<String>) = match &e {
            D::Table(t) => (Exit::Usage, Some(t.hint().into())),
            D::Read { .. } => (
                Exit::Usage,
                Some("fix the value named above, or declare the column's type in `[drift.NAME.columns.COLUMN]`".into()),
            ),
            D::NoRows { .. } => (Exit::Usage, Some("compare tables that have rows".into())),
            D::NoColumns { .. } => (
                Exit::Usage,
                Some("compare tables with numeric or categorical columns, or list fewer columns in `[drift.NAME].ignore`".into()),
            ),
            D::NotInReference { .. } => (
                Exit::Usage,
                Some("compare with a reference that has the column, or remove it from `[drift.NAME]`".into()),
            ),
            D::TypeMismatch { column, .. } => (
                Exit::Usage,
                Some(format!(
                    "fix the current data, or compare the column as categories on both sides: `[drift.NAME.columns.{column}] type = \"categorical\"`"
                )),
            ),
            D::NotNumeric { .. } | D::MethodType { .. } => (Exit::Usage, Some(SPEC_HINT.into())),
            D::NoTrainingData { .. } | D::JoinedTraining { .. } => (
                Exit::Usage,
                Some("compare with a table instead: --reference FILE".into()),
            ),
            D::TrainingUnavailable { .. } => (
                Exit::Usage,
                Some("`cairn data pull` gets it from a remote; or compare with a table instead: --reference FILE".into()),
            ),
            D::Log { .. } => (
                Exit::Usage,
                Some("the log is under .cairn/predictions/NAME (docs/formats/predictions.md)".into()),
            ),
            D::Predict { .. } => (
                Exit::Usage,
                Some("the reference needs every input column of the model, with values it can score".into()),
            ),
            D::Store(s) => {
                let (exit, hint) = store_hint(s);
                (exit, hint.map(str::to_owned))
            }
            D::Write { .. } => (
                Exit::Internal,
                Some("check the free space and permissions of the directory".into()),
            ),
            D::Io { .. } => (Exit::Internal, None),
            D::NewerRecord { .. } => (Exit::Usage, Some("upgrade cairn".into())),
            D::Record { .. } | D::BadRef { .. } => (Exit::Internal, None),
        };
        CliError {
            message: e.to_string(),
            hint,
            exit,
        }
    }
}

impl From<cairn_pipeline::VersionValidateError> for CliError {
    fn from(e: cairn_pipeline::VersionValidateError) -> Self {
        use cairn_pipeline::VersionValidateError as V;
        let hint = match e {
            V::Registry(r) => return (*r).into(),
            V::Validate(v) => return v.into(),
            V::Train(t) => return t.into(),
            V::Store(s) => {
                let (exit, hint) = store_hint(&s);
                return CliError {
                    message: s.to_string(),
                    hint: hint.map(str::to_owned),
                    exit,
                };
            }
            V::SpecNotDeclared { .. } => {
                "declare the spec again (`git log -p cairn.toml` shows it), with its `[model.SPEC.gates]`"
            }
            V::NoHeldOutRows { .. } => {
                "pass --data FILE: a table with the model's input columns and its target"
            }
        };
        CliError {
            message: e.to_string(),
            hint: Some(hint.to_owned()),
            exit: Exit::Usage,
        }
    }
}
