mod data;
mod drift;
mod feature;
mod hooks;
mod init;
mod lineage;
mod models;
mod monitor;
mod predict;
mod register;
mod remote;
mod reproduce;
mod retrain;
mod runs;
mod serve;
mod status;
mod train;
mod util;
mod validate;

use std::path::PathBuf;

use cairn_core::Project;

use crate::CmdResult;
use crate::cli::{Cli, Command};
use crate::error::CliError;
use crate::printer::Printer;
use crate::settings::Settings;

/// Where the command runs (the process's directory, or `-C DIR`), where its output goes, and
/// what the environment says.
pub struct Context<'a> {
    pub cwd: PathBuf,
    pub printer: &'a Printer,
    pub settings: &'a Settings,
}

impl Context<'_> {
    /// The project around the working directory, with the environment its remotes use.
    pub fn project(&self) -> Result<Project, CliError> {
        Ok(Project::discover(&self.cwd)?.with_remote_env(self.settings.remote_env.clone()))
    }
}

pub fn run(cli: Cli, printer: &Printer, settings: &Settings) -> CmdResult {
    let Cli { global, command } = cli;
    let base = std::env::current_dir()
        .map_err(|e| CliError::usage(format!("cannot read the current directory: {e}"), None))?;
    let cwd = match &global.directory {
        Some(dir) => base.join(dir).canonicalize().map_err(|e| {
            CliError::usage(format!("cannot change to {}: {e}", dir.display()), None)
        })?,
        None => base,
    };
    let ctx = Context {
        cwd,
        printer,
        settings,
    };
    match command {
        Command::Init(args) => init::run(&ctx, args),
        Command::Data(cmd) => data::run(&ctx, cmd),
        Command::Remote(cmd) => remote::run(&ctx, cmd),
        Command::Feature(cmd) => feature::run(&ctx, cmd),
        Command::Train(args) => train::run(&ctx, args),
        Command::Validate(args) => validate::run(&ctx, args),
        Command::Runs(cmd) => runs::run(&ctx, cmd),
        Command::Register(args) => register::run(&ctx, args),
        Command::Models(cmd) => models::run(&ctx, cmd),
        Command::Reproduce(args) => reproduce::run(&ctx, args),
        Command::Status(args) => status::run(&ctx, args),
        Command::Lineage(args) => lineage::run(&ctx, args),
        Command::Drift(args) => drift::run(&ctx, args),
        Command::Retrain(args) => retrain::run(&ctx, args),
        Command::Monitor(args) => monitor::run(&ctx, args),
        Command::Hooks(cmd) => hooks::run(&ctx, cmd),
        Command::Util(cmd) => util::run(&ctx, cmd),
        Command::Serve(args) => serve::run(&ctx, args),
        Command::Predict(args) => predict::run(&ctx, args),
    }
}
