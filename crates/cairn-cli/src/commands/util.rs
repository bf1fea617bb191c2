//! `cairn util completions|mangen|markdown-help`: what is generated from the command line's
//! own definition (`cargo xtask gen` writes them all).

use std::path::Path;

use clap::CommandFactory;

use super::Context;
use crate::CmdResult;
use crate::cli::{Cli, UtilCommand};
use crate::error::{CliError, Exit};

pub fn run(ctx: &Context<'_>, cmd: UtilCommand) -> CmdResult {
    let p = ctx.printer;
    match cmd {
        UtilCommand::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "cairn", &mut out);
            p.line(String::from_utf8_lossy(&out).trim_end())?;
        }
        UtilCommand::Mangen { dir } => {
            let dir = ctx.cwd.join(dir);
            let written = mangen(&dir)?;
            p.status(format!("wrote {written} man pages into {}", dir.display()));
        }
        UtilCommand::MarkdownHelp => {
            let options = clap_markdown::MarkdownOptions::new()
                .title("cairn command reference".to_owned())
                .show_footer(false)
                .show_table_of_contents(true);
            let text = clap_markdown::help_markdown_command_custom(&Cli::command(), &options);
            p.line(text.trim_end())?;
        }
    }
    Ok(Exit::Ok)
}

/// One page per command, named as git names its pages (`cairn-data-add.1`).
fn mangen(dir: &Path) -> Result<usize, CliError> {
    // A failed write is the machine's, not the input's: exit 3, as everywhere.
    let write_error = |path: &Path, e: std::io::Error| CliError {
        message: format!("cannot write {}: {e}", path.display()),
        hint: None,
        exit: Exit::Internal,
    };
    std::fs::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
    let mut command = Cli::command();
    command.build();
    let mut pending = vec![command];
    let mut written = 0;
    while let Some(command) = pending.pop() {
        let path = dir.join(format!(
            "{}.1",
            command.get_display_name().unwrap_or("cairn")
        ));
        let mut page = Vec::new();
        clap_mangen::Man::new(command.clone())
            .render(&mut page)
            .map_err(|e| write_error(&path, e))?;
        cairn_store::atomic::write_atomic_beside(&path, &page, 0o644)
            .map_err(|e| write_error(&path, e))?;
        written += 1;
        pending.extend(
            command
                .get_subcommands()
                .filter(|sub| !sub.is_hide_set() && sub.get_name() != "help")
                .cloned(),
        );
    }
    Ok(written)
}
