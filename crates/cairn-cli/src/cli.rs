use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// cairn: version data, features and models of a tabular ML project, pinned in one lock file.
#[derive(Debug, Parser)]
#[command(
    name = "cairn",
    version,
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
    /// Delete objects that no lock refers to.
    Gc(GcArgs),
    /// Re-hash every object in the store and report corrupt ones.
    Fsck(FsckArgs),
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
pub struct GcArgs {
    /// Also keep everything that any cairn.lock in the git history refers to.
    #[arg(long)]
    pub all_commits: bool,
    /// Only report what would be deleted.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct FsckArgs {
    /// Delete corrupt objects so that a later add or pull can store them again.
    #[arg(long)]
    pub remove_corrupt: bool,
}
