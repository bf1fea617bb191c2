//! The `cairn` binary: parses arguments, calls the libraries, renders outcomes, maps errors to
//! exit codes. The only crate that talks to the terminal.

mod cli;
mod commands;
mod error;
mod printer;
mod progress;
mod settings;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::error::{CliError, Exit};
use crate::printer::{OutputError, Printer};

/// What a command returns: the exit status it asks for, or an error.
pub type CmdResult = Result<Exit, CmdError>;

pub enum CmdError {
    Cli(CliError),
    Output(OutputError),
}

impl<E: Into<CliError>> From<E> for CmdError {
    fn from(e: E) -> Self {
        Self::Cli(e.into())
    }
}

impl From<OutputError> for CmdError {
    fn from(e: OutputError) -> Self {
        Self::Output(e)
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version exit 0; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { Exit::Usage as u8 } else { 0 });
        }
    };
    // A panic inside a smartcore fit is caught and reported as the run's error (cairn-model's
    // guard): Rust's default hook would print it to stderr first, with a backtrace hint.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !cairn_train::panic_is_caught() {
            default_hook(info);
        }
    }));
    let printer = Printer::new(&cli.global);
    // The environment is read here, once; the libraries get values.
    let settings = settings::Settings::from_env();
    match commands::run(cli, &printer, &settings) {
        Ok(exit) => exit.into(),
        Err(CmdError::Output(OutputError::BrokenPipe)) => ExitCode::SUCCESS,
        Err(CmdError::Output(OutputError::Failed(e))) => {
            // Standard output is gone: the error goes to stderr only.
            printer.error(
                &format!("cannot write to standard output: {e}"),
                Some("check the free space of the file system that standard output goes to"),
            );
            Exit::Internal.into()
        }
        Err(CmdError::Cli(e)) => {
            printer.error(&e.message, e.hint.as_deref());
            if printer.json {
                /// The JSON document of a failed command.
                #[derive(serde::Serialize)]
                struct ErrorDoc<'a> {
                    message: &'a str,
                    hint: Option<&'a str>,
                    exit_code: u8,
                }
                let doc = ErrorDoc {
                    message: &e.message,
                    hint: e.hint.as_deref(),
                    exit_code: e.exit as u8,
                };
                let _ = printer.json("error", &doc);
            }
            e.exit.into()
        }
    }
}
