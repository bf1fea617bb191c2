//! Everything cairn writes to the terminal goes through here: data on stdout, status and
//! hints on stderr, colors decided once.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};
use serde::Serialize;

use crate::cli::{ColorArg, GlobalArgs};

pub const SCHEMA_VERSION: u32 = 1;

pub struct Printer {
    pub json: bool,
    pub quiet: bool,
    pub verbose: u8,
}

pub const RED: Style = AnsiColor::Red.on_default();
pub const GREEN: Style = AnsiColor::Green.on_default();
pub const YELLOW: Style = AnsiColor::Yellow.on_default();
pub const BOLD: Style = Style::new().bold();
pub const DIM: Style = Style::new().dimmed();

/// Wraps text in a style (stripped later by anstream when colors are off).
pub fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

/// Writing to stdout failed.
#[derive(Debug)]
pub enum OutputError {
    /// The reader went away (`cairn … | head`): not an error, the command stops quietly.
    BrokenPipe,
    /// Anything else (a full disk, an I/O error): the output is lost, so the command fails.
    Failed(io::Error),
}

impl Printer {
    pub fn new(global: &GlobalArgs) -> Self {
        let choice = match global.color {
            ColorArg::Always => anstream::ColorChoice::Always,
            ColorArg::Never => anstream::ColorChoice::Never,
            ColorArg::Auto => anstream::ColorChoice::Auto,
        };
        choice.write_global();
        Self {
            json: global.json,
            quiet: global.quiet,
            verbose: global.verbose,
        }
    }

    /// Whether progress bars may be drawn.
    pub fn progress_enabled(&self) -> bool {
        !self.json && !self.quiet && io::IsTerminal::is_terminal(&io::stderr())
    }

    /// A line of human output on stdout (suppressed in JSON and quiet mode: then the exit
    /// code is the answer).
    pub fn line(&self, text: impl AsRef<str>) -> Result<(), OutputError> {
        if self.json || self.quiet {
            return Ok(());
        }
        write_stdout(text.as_ref())
    }

    /// A status line or hint on stderr (suppressed by `--quiet` and `--json`).
    pub fn status(&self, text: impl AsRef<str>) {
        if !self.quiet && !self.json {
            let _ = writeln!(anstream::stderr(), "{}", text.as_ref());
        }
    }

    /// A warning on stderr (shown even with `--json`, hidden by `--quiet`).
    pub fn warn(&self, text: impl AsRef<str>) {
        if !self.quiet {
            let _ = writeln!(
                anstream::stderr(),
                "{}: {}",
                paint(YELLOW.bold(), "warning"),
                text.as_ref()
            );
        }
    }

    /// Another cairn process holds the project's write lock and this one waits for it
    /// (stderr; shown even with `--json`, hidden by `--quiet`). Every progress reporter says
    /// it through here.
    pub fn waiting_for_lock(&self, holder: &str) {
        if !self.quiet {
            let _ = writeln!(
                anstream::stderr(),
                "waiting for {holder} to release the project's write lock (.cairn/lock)…"
            );
        }
    }

    /// An error and its hint on stderr; always shown.
    pub fn error(&self, message: &str, hint: Option<&str>) {
        let mut err = anstream::stderr();
        let _ = writeln!(err, "{}: {message}", paint(RED.bold(), "error"));
        if let Some(hint) = hint {
            let _ = writeln!(err, "{}: {hint}", paint(GREEN.bold(), "hint"));
        }
    }

    /// The JSON document of a command (only in JSON mode).
    pub fn json<T: Serialize>(&self, kind: &str, outcome: &T) -> Result<(), OutputError> {
        if !self.json {
            return Ok(());
        }
        #[derive(Serialize)]
        struct Envelope<'a, T> {
            kind: &'a str,
            schema_version: u32,
            #[serde(flatten)]
            outcome: &'a T,
        }
        let doc = serde_json::to_string(&Envelope {
            kind,
            schema_version: SCHEMA_VERSION,
            outcome,
        })
        .unwrap_or_else(|e| {
            format!("{{\"kind\":\"error\",\"schema_version\":1,\"message\":\"{e}\"}}")
        });
        write_stdout(&doc)
    }
}

fn write_stdout(text: &str) -> Result<(), OutputError> {
    let mut out = anstream::stdout();
    // Rust's stdout is line-buffered: the newline flushes, so a failed write shows here.
    match writeln!(out, "{text}") {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(OutputError::BrokenPipe),
        Err(e) => Err(OutputError::Failed(e)),
    }
}

/// `1.5 GiB`, `12.0 KiB`, `512 B`.
pub fn bytes(n: u64) -> String {
    indicatif::BinaryBytes(n).to_string()
}

pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
