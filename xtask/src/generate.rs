//! `cargo xtask gen [--out DIR]`: what is generated from cairn's command line — the command
//! reference (`docs/reference/cli.md`, committed; a test checks that it is fresh), shell
//! completions and man pages (into DIR, default `dist/`, not committed).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{Context, Result, build_cairn, describe, workspace_root};

pub fn run(out: Option<PathBuf>) -> Result<()> {
    let root = workspace_root();
    let out = out.unwrap_or_else(|| root.join("dist"));
    let cairn = build_cairn(false)?;
    let reference = root.join("docs/reference/cli.md");
    let text = capture(&cairn, &["util", "markdown-help"])?;
    write(&reference, &text)?;
    println!("wrote {}", reference.display());
    for (shell, file) in [
        ("bash", "cairn.bash"),
        ("zsh", "_cairn"),
        ("fish", "cairn.fish"),
        ("elvish", "cairn.elv"),
        ("powershell", "_cairn.ps1"),
    ] {
        let path = out.join("completions").join(file);
        write(&path, &capture(&cairn, &["util", "completions", shell])?)?;
        println!("wrote {}", path.display());
    }
    let man = out.join("man");
    let status = Command::new(&cairn)
        .args(["util", "mangen"])
        .arg(&man)
        .status()
        .context(|| format!("cannot run {}", cairn.display()))?;
    if !status.success() {
        return Err(format!("`cairn util mangen` failed ({})", describe(status)).into());
    }
    Ok(())
}

fn capture(cairn: &Path, args: &[&str]) -> Result<String> {
    let output = Command::new(cairn)
        .args(args)
        .output()
        .context(|| format!("cannot run {}", cairn.display()))?;
    if !output.status.success() {
        return Err(format!(
            "`cairn {}` failed ({}): {}",
            args.join(" "),
            describe(output.status),
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    String::from_utf8(output.stdout)
        .map_err(|_| format!("`cairn {}` printed non-UTF-8", args.join(" ")).into())
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, text).context(|| format!("cannot write {}", path.display()))
}
