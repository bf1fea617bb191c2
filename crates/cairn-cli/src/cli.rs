// The help texts name cairn.toml's tables in brackets (`[dataset]`, `[offline]`), which
// rustdoc would take for links.
#![allow(rustdoc::broken_intra_doc_links)]

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

/// cairn: version data, features and models of a tabular ML project, pinned in one lock file.
#[derive(Debug, Parser)]
#[command(
    name = "cairn",
    version = concat!(env!("CARGO_PKG_VERSION"), env!("CAIRN_VERSION_SUFFIX")),
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Run as if cairn was started in DIR.
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub directory: Option<PathBuf>,
    /// Print one JSON document on stdout instead of human-readable output.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print only errors (no progress, no report: the exit code is the answer).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more detail (full digests, every file).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// When to use colors (NO_COLOR is honoured by `auto`).
    #[arg(long, global = true, value_enum, default_value_t = ColorArg::Auto, value_name = "WHEN")]
    pub color: ColorArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a cairn project in the current directory.
    Init(InitArgs),
    /// Version data files and directories.
    #[command(subcommand)]
    Data(DataCommand),
    /// Manage remotes: object stores that share the data (S3, GCS, Azure, HTTP, a directory).
    #[command(subcommand)]
    Remote(RemoteCommand),
    /// The feature store: views declared in cairn.toml, offline tables, the online store.
    #[command(subcommand)]
    Feature(FeatureCommand),
    /// Train a model declared in cairn.toml (`[model.NAME]`) and record the run.
    Train(TrainArgs),
    /// Run a model version's deployment gates (`[model.SPEC.gates]`) on its run's held-out rows
    /// or on --data; record the verdict in cairn.lock. Exit 1 when a gate fails.
    Validate(ModelValidateArgs),
    /// Training runs: list, show, compare, remove.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Register a finished run's model as the next version of a model (pinned in cairn.lock).
    Register(RegisterArgs),
    /// The model registry: versions, stages, aliases, promotion, rollback, history.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Serve registered models over HTTP (predictions, MLflow's /invocations, metrics).
    Serve(ServeArgs),
    /// Score a table (CSV or Parquet) with a registered model, through the server's scoring path.
    Predict(PredictArgs),
    /// Rebuild a registered model version from what cairn.lock pins (its commit, data, feature
    /// tables, params and seed) and compare the new artifact's digest with the pinned one. Exit
    /// 1 when they differ, 2 when an input cannot be found.
    Reproduce(ReproduceArgs),
    /// The whole project on one screen: data against cairn.lock, feature views changed since
    /// they were materialized, models with their production and staging versions, and (with
    /// --remote) what the remote lacks.
    Status(ProjectStatusArgs),
    /// Where a model version comes from: data, validation, feature tables, the run, the
    /// version and its history, as a tree, Mermaid or Graphviz DOT.
    Lineage(LineageArgs),
    /// Compare current data with a reference, column by column (docs/guide/drift.md): the
    /// training data a model version pins, or --reference. Exit 1 on dataset drift.
    Drift(DriftArgs),
    /// Run the `[retrain.NAME]` loop once (docs/guide/retrain.md): check drift and production
    /// performance, then data add, materialize, train, register, validate and promote. Exit 1
    /// when the new version is not promoted (a gate failed) or a step failed.
    Retrain(RetrainArgs),
    /// Run `retrain --if-needed` on a schedule, in this process, until SIGINT or SIGTERM; send
    /// alerts (drift, performance drop, failed retrain, promotion) to the policy's notifiers.
    Monitor(MonitorArgs),
    /// Checks for git hooks (see .pre-commit-hooks.yaml): each exits 1 when it finds a problem.
    #[command(subcommand)]
    Hooks(HooksCommand),
    /// Shell completions, man pages and the command reference, generated from this binary.
    #[command(subcommand)]
    Util(UtilCommand),
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("checked").required(true).args(["current", "predictions"])))]
pub struct DriftArgs {
    /// A model version, NAME@REF: the reference is the training data it pins (unless
    /// --reference), its input columns are compared, and `[drift.NAME]` applies.
    #[arg(value_name = "NAME@REF")]
    pub model: Option<String>,
    /// The data to check (CSV or Parquet, a file or a directory).
    #[arg(long, value_name = "FILE")]
    pub current: Option<std::path::PathBuf>,
    /// Check the model's prediction log instead (the rows its version logged): its inputs,
    /// and its predictions against the model's predictions on the reference.
    #[arg(long, requires = "model")]
    pub predictions: bool,
    /// With --predictions: only rows logged at or after this time (RFC 3339, UTC, e.g.
    /// 2026-12-01 or 2026-12-01T08:00:00Z).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// The data to compare with (CSV or Parquet, a file or a directory); required without
    /// NAME@REF.
    #[arg(long, value_name = "FILE")]
    pub reference: Option<std::path::PathBuf>,
    /// Apply `[drift.NAME]` from cairn.toml (default: the model's name, when declared).
    #[arg(long, value_name = "NAME")]
    pub config: Option<String>,
    /// Write a self-contained HTML report to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PromoteArg {
    /// To production when every gate passes.
    Auto,
    /// To staging, for a person to promote.
    Manual,
}

#[derive(Debug, Args)]
pub struct RetrainArgs {
    /// The registered model; cairn.toml must declare `[retrain.NAME]`.
    #[arg(value_name = "NAME")]
    pub model: String,
    /// Stop after the check when it finds neither drift nor a performance drop (exit 0).
    #[arg(long)]
    pub if_needed: bool,
    /// Override the policy's `promote`.
    #[arg(long, value_enum, value_name = "POLICY")]
    pub promote: Option<PromoteArg>,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("schedule").required(true).args(["every", "at"])))]
pub struct MonitorArgs {
    /// The registered model; cairn.toml must declare `[retrain.NAME]`.
    #[arg(value_name = "NAME")]
    pub model: String,
    /// Check now, then every DURATION (a whole number and s, m, h or d: 30m, 1h, 1d).
    #[arg(long, value_name = "DURATION")]
    pub every: Option<String>,
    /// Check every day at HH:MM (UTC).
    #[arg(long, value_name = "HH:MM")]
    pub at: Option<String>,
    /// Override the policy's `promote`.
    #[arg(long, value_enum, value_name = "POLICY")]
    pub promote: Option<PromoteArg>,
    /// Stop after N checks (for tests and one-off runs).
    #[arg(long, value_name = "N")]
    pub max_checks: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The models to serve, as NAME@REF (default: every registered model's production version).
    #[arg(value_name = "NAME@REF")]
    pub models: Vec<String>,
    /// The address to listen on (loopback unless told otherwise).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// The port (0: any free port; the address is printed).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Send PERCENT of a model's requests to another of its versions (repeatable, one per
    /// model): `--canary churn@staging=10`.
    #[arg(long = "canary", value_name = "NAME@REF=PERCENT")]
    pub canaries: Vec<String>,
    /// Log every prediction (inputs, outputs, version, request id) under
    /// .cairn/predictions/NAME/ for drift detection; enables the feedback endpoint.
    #[arg(long)]
    pub log_predictions: bool,
    /// Require `Authorization: Bearer TOKEN` on the prediction and feedback endpoints, with
    /// TOKEN read from the environment variable VAR.
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// The largest request body accepted (bytes, or with KiB/MiB): larger gets 413.
    #[arg(long, value_name = "SIZE", default_value = "4MiB")]
    pub max_body: bytesize::ByteSize,
    /// Ignore fields that are not inputs of the model instead of refusing the request.
    #[arg(long)]
    pub ignore_unknown: bool,
    /// Do not reload when cairn.lock changes (SIGHUP still reloads).
    #[arg(long)]
    pub no_watch: bool,
}

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// The model version: NAME@REF (a bare NAME is its production version).
    #[arg(value_name = "NAME@REF")]
    pub reference: String,
    /// The table to score: a .csv or .parquet file (or a directory of them).
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Where the predictions go: a .csv or .parquet file (default: CSV on standard output).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The table holds entities' join keys: the inputs are read from the online store.
    #[arg(long)]
    pub entities: bool,
    /// Ignore columns that are not inputs of the model instead of refusing the table.
    #[arg(long)]
    pub ignore_unknown: bool,
    /// Rows scored per batch.
    #[arg(long, value_name = "ROWS", default_value_t = 65_536)]
    pub batch_rows: usize,
}

#[derive(Debug, Subcommand)]
pub enum HooksCommand {
    /// Refuse files about to be committed to git that cairn tracks, that lie in .cairn/, or
    /// that are larger than --max-size.
    Staged(HooksStagedArgs),
    /// Check that cairn.toml and cairn.lock parse and are consistent.
    Config,
}

#[derive(Debug, Args)]
pub struct HooksStagedArgs {
    /// The files being committed (pre-commit passes the staged files).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The largest file git should get (e.g. 500KB, 2MiB, 1000000).
    #[arg(long, value_name = "SIZE", default_value = "500KB")]
    pub max_size: bytesize::ByteSize,
}

#[derive(Debug, Subcommand)]
pub enum UtilCommand {
    /// Print a completion script for SHELL on stdout
    /// (e.g. `cairn util completions bash > ~/.local/share/bash-completion/completions/cairn`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write a man page for cairn and each of its commands into DIR.
    Mangen {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Print the command reference in Markdown (docs/reference/cli.md).
    MarkdownHelp,
}

#[derive(Debug, Args)]
pub struct ProjectStatusArgs {
    /// Exit with status 1 when anything is out of sync (for CI and pre-commit hooks).
    #[arg(long)]
    pub check: bool,
    /// Also ask a remote (the default one without NAME) which pinned objects it lacks.
    #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "")]
    pub remote: Option<String>,
}

#[derive(Debug, Args)]
pub struct LineageArgs {
    /// The version: NAME@REF (REF: production, staging, a version number, an alias, latest).
    #[arg(value_name = "NAME@REF")]
    pub reference: String,
    /// How to draw it.
    #[arg(long, value_enum, default_value_t = LineageFormat::Tree)]
    pub format: LineageFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LineageFormat {
    /// An indented tree.
    Tree,
    /// A Mermaid flowchart (for Markdown, pull requests).
    Mermaid,
    /// A Graphviz DOT digraph.
    Dot,
}

#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// The version: NAME@REF (REF: production, staging, a version number, an alias, latest).
    #[arg(value_name = "NAME@REF")]
    pub reference: String,
    /// Rebuild in DIR (created if missing; it must be empty) and keep it, instead of a
    /// temporary directory under .cairn/tmp that is removed afterwards.
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["run", "best"])))]
pub struct RegisterArgs {
    /// A finished run's id (or a unique prefix of at least 4 characters).
    pub run: Option<String>,
    /// Instead of RUN: the best finished run of --model by this metric (largest first, or
    /// smallest for rmse, mae, log_loss).
    #[arg(
        long,
        value_name = "METRIC",
        requires = "model",
        conflicts_with = "run"
    )]
    pub best: Option<String>,
    /// With --best: the spec whose runs are compared (`[model.SPEC]`).
    #[arg(long, value_name = "SPEC", requires = "best")]
    pub model: Option<String>,
    /// With --best: the smallest value is the best.
    #[arg(long, requires = "best")]
    pub asc: bool,
    /// The registered model's name (default: the run's spec name).
    #[arg(long)]
    pub name: Option<String>,
    /// What this version is (recorded in cairn.lock).
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// When the model is already registered (the same artifact: an unchanged commit trains
    /// the same bytes), say which version it is and exit 0 instead of refusing. For CI.
    #[arg(long)]
    pub if_new: bool,
    /// Also point ALIAS at the version (e.g. `candidate`), so that later steps can say
    /// `NAME@ALIAS` without knowing its number.
    #[arg(long, value_name = "ALIAS")]
    pub alias: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// The registered models: versions, the production and staging versions, aliases.
    List,
    /// A model's versions, or one version (NAME@REF): the run, lineage, validation.
    Show(ModelsShowArgs),
    /// Move a version to a stage (one version each in staging and production).
    Promote(ModelsPromoteArgs),
    /// Point an alias (champion, challenger…) at a version.
    Alias(ModelsAliasArgs),
    /// Remove an alias.
    Unalias(ModelsUnaliasArgs),
    /// Put the previous production version back in production.
    Rollback(ModelsRollbackArgs),
    /// Every register, promote, alias, unalias and rollback of a model: when, who, what.
    History(ModelsHistoryArgs),
}

#[derive(Debug, Args)]
pub struct ModelsShowArgs {
    /// NAME (every version) or NAME@REF (REF: production, staging, a version number, an alias,
    /// latest).
    #[arg(value_name = "NAME[@REF]")]
    pub reference: String,
}

/// The stages a version can be promoted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StageArg {
    Staging,
    Production,
    Archived,
}

#[derive(Debug, Args)]
pub struct ModelsPromoteArgs {
    /// The version: NAME@REF (REF: a version number, staging, an alias, latest).
    #[arg(value_name = "NAME@REF")]
    pub reference: String,
    /// The stage.
    #[arg(long, value_enum)]
    pub to: StageArg,
    /// Why (recorded in the history).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Promote to production without a passing validation (needs --reason; recorded).
    #[arg(long, requires = "reason")]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ModelsAliasArgs {
    /// The version: NAME@REF.
    #[arg(value_name = "NAME@REF")]
    pub reference: String,
    /// The alias (letters, digits, `-`, `_`; not a stage name, `latest` or a number).
    pub alias: String,
}

#[derive(Debug, Args)]
pub struct ModelsUnaliasArgs {
    /// The model.
    pub name: String,
    /// The alias to remove.
    pub alias: String,
}

#[derive(Debug, Args)]
pub struct ModelsRollbackArgs {
    /// The model.
    pub name: String,
    /// Why (recorded in the history).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct ModelsHistoryArgs {
    /// The model.
    pub name: String,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The model spec to train (`[model.NAME]` in cairn.toml).
    pub model: String,
    /// Override the spec for this run: a param (`n_trees=200` or `params.n_trees=200`),
    /// `seed=7`, `split.test_size=0.3` or `split.stratify=false`. Repeatable; recorded.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Tag the run (repeatable): `--tag team=risk`.
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    pub tags: Vec<String>,
    /// Train even if the data is not tracked or differs from cairn.lock (recorded in the run).
    #[arg(long)]
    pub allow_untracked: bool,
    /// Train even if the data fails its [dataset] expectations (recorded in the run).
    #[arg(long)]
    pub skip_validation: bool,
    /// Register the trained model as the next version of the model named after the spec
    /// (when the same artifact is already a version, say which and register nothing).
    #[arg(long)]
    pub register: bool,
    /// With --register: also point ALIAS at the version (e.g. `candidate`).
    #[arg(long, value_name = "ALIAS", requires = "register")]
    pub alias: Option<String>,
}

#[derive(Debug, Args)]
pub struct ModelValidateArgs {
    /// The version: NAME@REF (REF: production, staging, a version number, an alias, latest;
    /// a bare NAME is NAME@production).
    #[arg(value_name = "NAME@REF")]
    pub reference: String,
    /// Validate on this table (CSV or Parquet, a file or a directory) instead of the run's
    /// held-out rows: the model's input columns and its target.
    #[arg(long, value_name = "FILE")]
    pub data: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List runs, oldest first (or sorted), with their main metrics.
    List(RunsListArgs),
    /// Everything a run recorded.
    Show(RunsShowArgs),
    /// Runs side by side: params and metrics, differences highlighted.
    Compare(RunsCompareArgs),
    /// Remove runs from the index (artifacts stay in the store until `cairn data gc`).
    Rm(RunsRmArgs),
}

#[derive(Debug, Args)]
pub struct RunsListArgs {
    /// Only runs of this model.
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// Sort by a metric or field, best first (largest, or smallest for rmse, mae, log_loss).
    #[arg(long, value_name = "FIELD")]
    pub sort: Option<String>,
    /// With --sort: smallest first.
    #[arg(long, requires = "sort", conflicts_with = "desc")]
    pub asc: bool,
    /// With --sort: largest first.
    #[arg(long, requires = "sort")]
    pub desc: bool,
    /// Only runs that meet conditions: 'accuracy>0.9', 'params.n_trees>=100,status=finished'.
    #[arg(long = "where", value_name = "CONDITIONS")]
    pub filter: Option<String>,
    /// At most this many runs (after sorting).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// The runs pushed to a remote (the default one without NAME) instead of this machine's:
    /// their records are read, nothing is fetched.
    #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "")]
    pub remote: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunsShowArgs {
    /// A run id (or a unique prefix of at least 4 characters).
    pub id: String,
    #[command(flatten)]
    pub on: RemoteRuns,
}

#[derive(Debug, Args)]
pub struct RunsCompareArgs {
    /// Two or more run ids (or unique prefixes).
    #[arg(required = true, num_args = 2..)]
    pub ids: Vec<String>,
    #[command(flatten)]
    pub on: RemoteRuns,
}

/// `--remote[=NAME]` of the run commands that take run ids: the `=` is required, since an id
/// follows.
#[derive(Debug, Args)]
pub struct RemoteRuns {
    /// Runs pushed to a remote (the default one without =NAME), read from there without
    /// fetching them.
    #[arg(
        long,
        value_name = "NAME",
        num_args = 0..=1,
        default_missing_value = "",
        require_equals = true
    )]
    pub remote: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunsRmArgs {
    /// Run ids (or unique prefixes).
    #[arg(required = true)]
    pub ids: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum FeatureCommand {
    /// Check every feature view against its source and say what materialize would do.
    Plan,
    /// Compute feature views into offline tables (pinned in cairn.lock) and the online store.
    Materialize(MaterializeArgs),
    /// Point-in-time join of an entity table with feature views, written as Parquet.
    Historical(HistoricalArgs),
    /// The latest features of entities, from the online store, as JSON.
    Online(OnlineArgs),
    /// The feature views, their features and what was materialized.
    List,
}

#[derive(Debug, Args)]
pub struct MaterializeArgs {
    /// Only these views (default: every one).
    #[arg(value_name = "VIEW")]
    pub views: Vec<String>,
    /// Materialize even if a source fails its [dataset] expectations (recorded in cairn.lock).
    #[arg(long)]
    pub skip_validation: bool,
    /// Only events at or after this time (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS, UTC).
    #[arg(long, value_name = "TIME", conflicts_with = "incremental")]
    pub start: Option<String>,
    /// Only events before this time (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS, UTC).
    #[arg(long, value_name = "TIME", conflicts_with = "incremental")]
    pub end: Option<String>,
    /// Append only the events newer than the pinned table's newest one.
    #[arg(long)]
    pub incremental: bool,
    /// Memory the sort of a view may use, e.g. 2GiB: a larger view is sorted through
    /// temporary files (default: [offline] memory_budget, else a quarter of the machine's).
    #[arg(long, value_name = "SIZE", value_parser = cairn_core::parse_size)]
    pub memory_budget: Option<u64>,
}

#[derive(Debug, Args)]
pub struct HistoricalArgs {
    /// The entity table (CSV or Parquet): join keys and a time per row.
    #[arg(long, value_name = "FILE")]
    pub entities: PathBuf,
    /// The entity table's time column.
    #[arg(long, value_name = "COLUMN", default_value = "event_timestamp")]
    pub timestamp: String,
    /// Features as view:feature, comma-separated or repeated.
    #[arg(long, value_name = "VIEW:FEATURE,...")]
    pub features: Vec<String>,
    /// The features of a feature service.
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    /// Name columns view__feature.
    #[arg(long)]
    pub full_names: bool,
    /// Leave out feature rows created after the entity row's time (backfills).
    #[arg(long)]
    pub created_before: bool,
    /// The file to write: Parquet, or CSV for a .csv name.
    #[arg(short, long, value_name = "OUT.parquet")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct OnlineArgs {
    /// One entity: key=value[,key=value...] (repeat for several entities).
    #[arg(long = "entity", value_name = "KEY=VALUE", required = true)]
    pub entities: Vec<String>,
    /// Features as view:feature, comma-separated or repeated.
    #[arg(long, value_name = "VIEW:FEATURE,...")]
    pub features: Vec<String>,
    /// The features of a feature service.
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    /// Name features view__feature.
    #[arg(long)]
    pub full_names: bool,
    /// Serve the features as of this time instead of now (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS,
    /// UTC): the ttl counts from it, and a row newer than it is missing.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum RemoteCommand {
    /// Add a remote to cairn.toml.
    Add(RemoteAddArgs),
    /// List the remotes.
    List(RemoteListArgs),
    /// Remove a remote from cairn.toml (its data stays where it is).
    Remove(RemoteNameArgs),
    /// Make a remote the default for push, fetch and pull.
    Default(RemoteNameArgs),
}

#[derive(Debug, Args)]
pub struct RemoteAddArgs {
    /// A name for the remote (letters, digits, `-`, `_`).
    pub name: String,
    /// s3://bucket/prefix, gs://bucket/prefix, az://container/prefix, https://host/path
    /// (read-only) or a directory.
    pub url: String,
    /// Make it the default remote (the first remote always is).
    #[arg(long)]
    pub default: bool,
    /// The endpoint of an S3-compatible server (e.g. http://127.0.0.1:9000).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// The region (S3).
    #[arg(long)]
    pub region: Option<String>,
    /// Allow a plain http:// endpoint.
    #[arg(long)]
    pub allow_http: bool,
    /// Record path-style requests (host/bucket/key; also the default), as most
    /// S3-compatible servers want.
    #[arg(long)]
    pub path_style: bool,
    /// Concurrent transfers for this remote.
    #[arg(long, value_name = "N")]
    pub jobs: Option<std::num::NonZeroUsize>,
}

#[derive(Debug, Args)]
pub struct RemoteListArgs {}

#[derive(Debug, Args)]
pub struct RemoteNameArgs {
    pub name: String,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Allow a project outside a git repository (no history-aware commands).
    #[arg(long)]
    pub no_git: bool,
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Store files or directories and pin them in cairn.lock.
    Add(AddArgs),
    /// Compare the workspace with cairn.lock.
    Status(StatusArgs),
    /// Make the workspace match cairn.lock (or the lock of a git revision).
    Checkout(CheckoutArgs),
    /// List what cairn.lock tracks.
    Ls(LsArgs),
    /// Show what changed in tracked data between two git revisions' locks.
    Diff(DiffArgs),
    /// Delete objects that no lock refers to (locally, or on a remote).
    Gc(GcArgs),
    /// Upload the objects the lock pins that a remote lacks.
    Push(PushArgs),
    /// Download the objects the lock pins that the local store lacks.
    Fetch(FetchCmdArgs),
    /// Fetch, then checkout.
    Pull(PullArgs),
    /// Re-hash every object in the store and report corrupt ones.
    Fsck(FsckArgs),
    /// Check tables against the expectations declared in cairn.toml ([dataset."PATH"]).
    Validate(ValidateArgs),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Files or directories to track.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Tracked paths (or paths inside tracked directories) to check; all when omitted.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Exit with status 1 when anything differs (for CI and pre-commit hooks).
    #[arg(long)]
    pub check: bool,
    /// Also say whether a remote (the default one without NAME) has each path.
    #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "")]
    pub remote: Option<String>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Tracked paths to push; all when omitted.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The remote (default: core.remote in cairn.toml).
    #[arg(long, short = 'r', value_name = "NAME")]
    pub remote: Option<String>,
    /// Also push what every cairn.lock in the git history pins.
    #[arg(long)]
    pub all_commits: bool,
    /// Concurrent transfers.
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<std::num::NonZeroUsize>,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Tracked paths to fetch; all when omitted.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The remote (default: core.remote in cairn.toml).
    #[arg(long, short = 'r', value_name = "NAME")]
    pub remote: Option<String>,
    /// What cairn.lock pins at this git revision.
    #[arg(long, value_name = "GITREV")]
    pub rev: Option<String>,
    /// Concurrent transfers.
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<std::num::NonZeroUsize>,
}

#[derive(Debug, Args)]
pub struct FetchCmdArgs {
    #[command(flatten)]
    pub fetch: FetchArgs,
    /// Only the registered model versions' artifacts and records: what `cairn serve` needs,
    /// without the data, feature tables or runs (for a server's start-up).
    #[arg(long, conflicts_with = "paths")]
    pub models: bool,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    #[command(flatten)]
    pub fetch: FetchArgs,
    /// Overwrite or delete local changes that are not in the store.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CheckoutArgs {
    /// Tracked paths (or paths inside tracked directories) to restore; all when omitted.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Use cairn.lock as of this git revision (e.g. HEAD~3, a tag, a commit).
    #[arg(long, value_name = "GITREV")]
    pub rev: Option<String>,
    /// Overwrite or delete local changes that are not in the store.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only these tracked paths.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The old side: a git revision (default: HEAD).
    #[arg(value_name = "REV_A")]
    pub rev_a: Option<String>,
    /// The new side: a git revision (default: the workspace's cairn.lock).
    #[arg(value_name = "REV_B")]
    pub rev_b: Option<String>,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Also keep everything that any cairn.lock in the git history refers to.
    #[arg(long)]
    pub all_commits: bool,
    /// Only report what would be deleted.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Collect garbage on a remote (the default one without NAME) instead of locally.
    #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "")]
    pub remote: Option<String>,
    /// Really delete from the remote (without it, `--remote` only lists).
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Only these declared datasets (default: every one).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FsckArgs {
    /// Delete corrupt objects so that a later add or pull can store them again.
    #[arg(long)]
    pub remove_corrupt: bool,
}
