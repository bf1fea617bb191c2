use cairn_core::EntryKind;
use cairn_data::{DiffChange, DiffEntry, DiffFile, DiffOptions, DiffSide, DiffVersion};

use super::Context;
use crate::CmdResult;
use crate::cli::DiffArgs;
use crate::error::Exit;
use crate::printer::{DIM, GREEN, OutputError, Printer, RED, YELLOW, bytes, paint, plural};

/// Without -v, at most this many files are listed per kind of change in a directory.
const LIST_LIMIT: usize = 20;

pub fn run(ctx: &Context<'_>, args: DiffArgs) -> CmdResult {
    let DiffArgs { rev_a, rev_b } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let outcome = cairn_data::diff(&project, &DiffOptions { rev_a, rev_b })?;
    p.json("data-diff", &outcome)?;
    for e in &outcome.entries {
        entry_lines(p, e)?;
    }
    for side in [&outcome.old, &outcome.new] {
        if !side.lock_found {
            p.status(format!(
                "note: {} has no cairn.lock; it was compared as an empty lock",
                match &side.rev {
                    Some(rev) => format!("git revision {rev}"),
                    None => "the workspace".to_string(),
                }
            ));
        }
    }
    let unavailable = outcome
        .entries
        .iter()
        .filter(|e| e.detail_unavailable)
        .count() as u64;
    if unavailable > 0 {
        p.status(format!(
            "note: the file-level changes of {} not shown: a manifest is not in the local store",
            plural(unavailable, "directory are", "directories are")
        ));
    }
    let between = format!("{} and {}", describe(&outcome.old), describe(&outcome.new));
    let changed = outcome.added + outcome.removed + outcome.modified;
    if changed == 0 {
        p.status(format!(
            "no tracked data differs between {between} ({} unchanged)",
            plural(outcome.unchanged, "path", "paths")
        ));
    } else {
        p.status(format!(
            "{} between {between}: {} added, {} removed, {} modified; {} unchanged",
            plural(changed, "path differs", "paths differ"),
            outcome.added,
            outcome.removed,
            outcome.modified,
            outcome.unchanged,
        ));
    }
    // Like `git diff` without `--exit-code`: a difference is information, not a failure.
    Ok(Exit::Ok)
}

fn describe(side: &DiffSide) -> String {
    match &side.rev {
        Some(rev) => format!("cairn.lock at {rev}"),
        None => "the workspace's cairn.lock".to_string(),
    }
}

/// `added   `, `removed `, `modified`, colored.
fn label(change: DiffChange) -> String {
    match change {
        DiffChange::Added => paint(GREEN, "added   "),
        DiffChange::Removed => paint(RED, "removed "),
        DiffChange::Modified => paint(YELLOW, "modified"),
    }
}

fn entry_lines(p: &Printer, e: &DiffEntry) -> Result<(), OutputError> {
    let detail = match (&e.old, &e.new) {
        (None, Some(v)) | (Some(v), None) => size_and_count(v),
        (Some(old), Some(new)) => modified_detail(e, old, new),
        (None, None) => String::new(),
    };
    let digests = match (&e.old, &e.new) {
        (Some(old), Some(new)) if p.verbose > 0 => {
            format!(
                "  {}",
                paint(DIM, format!("{} → {}", old.digest, new.digest))
            )
        }
        (Some(v), None) | (None, Some(v)) if p.verbose > 0 => {
            format!("  {}", paint(DIM, v.digest))
        }
        _ => String::new(),
    };
    p.line(format!(
        "{} {}  ({detail}){digests}",
        label(e.change),
        e.path
    ))?;
    if let Some(files) = &e.files {
        for (change, list) in [
            (DiffChange::Added, &files.added),
            (DiffChange::Removed, &files.removed),
            (DiffChange::Modified, &files.modified),
        ] {
            file_lines(p, change, list)?;
        }
    }
    Ok(())
}

fn size_and_count(v: &DiffVersion) -> String {
    match v.kind {
        EntryKind::File => bytes(v.size),
        EntryKind::Dir => format!("{}, {}", bytes(v.size), plural(v.files, "file", "files")),
    }
}

fn kind_name(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::File => "file",
        EntryKind::Dir => "dir",
    }
}

fn modified_detail(e: &DiffEntry, old: &DiffVersion, new: &DiffVersion) -> String {
    let sizes = format!("{} → {}", bytes(old.size), bytes(new.size));
    if old.kind != new.kind {
        return format!(
            "{} → {}; {} → {}",
            kind_name(old.kind),
            kind_name(new.kind),
            size_and_count(old),
            size_and_count(new)
        );
    }
    match new.kind {
        EntryKind::File => {
            let mut out = sizes;
            if old.executable != new.executable {
                out.push_str(if new.executable {
                    "; now executable"
                } else {
                    "; no longer executable"
                });
            }
            out
        }
        EntryKind::Dir => match &e.files {
            Some(f) => {
                let changed = (f.added.len() + f.removed.len() + f.modified.len()) as u64;
                format!(
                    "{} changed: {} added, {} removed, {} modified; {sizes}",
                    plural(changed, "file", "files"),
                    f.added.len(),
                    f.removed.len(),
                    f.modified.len(),
                )
            }
            None => {
                let files = if old.files == new.files {
                    plural(new.files, "file", "files")
                } else {
                    format!("{} → {} files", old.files, new.files)
                };
                format!(
                    "{files}; {sizes}; file-level detail unavailable: manifest not in the local store"
                )
            }
        },
    }
}

fn file_lines(p: &Printer, change: DiffChange, files: &[DiffFile]) -> Result<(), OutputError> {
    let limit = if p.verbose > 0 {
        usize::MAX
    } else {
        LIST_LIMIT
    };
    for f in files.iter().take(limit) {
        let detail = match (&f.old, &f.new) {
            (Some(old), Some(new)) => {
                let mut out = format!("{} → {}", bytes(old.size), bytes(new.size));
                if old.executable != new.executable {
                    out.push_str(if new.executable {
                        "; now executable"
                    } else {
                        "; no longer executable"
                    });
                }
                if p.verbose > 0 {
                    out.push_str(&format!("; {} → {}", old.digest, new.digest));
                }
                out
            }
            (Some(v), None) | (None, Some(v)) => bytes(v.size),
            (None, None) => String::new(),
        };
        p.line(format!("    {} {}  ({detail})", label(change), f.path))?;
    }
    if files.len() > limit {
        p.line(format!(
            "    {} … and {} more (-v lists all)",
            label(change),
            files.len() - limit
        ))?;
    }
    Ok(())
}
