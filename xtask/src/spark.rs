//! `cargo xtask test-spark`: the tests of the offline engine on Spark against a real Spark
//! Connect server. pyspark (which bundles the server) is installed into `<target>/spark-venv`
//! when missing; the tests start the server from there (once per test binary, on 127.0.0.1)
//! and need Java 17. They are built by `cargo test --workspace`, which skips them; this runs
//! the same build with only them, and `CAIRN_SPARK_VENV` set.

use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_test_support::spark::{PYSPARK_VERSION, SparkServer};

use crate::util::{
    Context, Result, cargo_command, describe, passed_on, target_dir, workspace_root,
};

/// The virtual environment with pyspark, made and filled when missing.
pub fn venv() -> Result<PathBuf> {
    let venv = target_dir()?.join("spark-venv");
    if SparkServer::spark_home(&venv).is_some() && installed(&venv) {
        return Ok(venv);
    }
    println!(
        "installing pyspark=={PYSPARK_VERSION} into {}",
        venv.display()
    );
    if !venv.join("bin").join("python").is_file() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    run(Command::new(venv.join("bin").join("pip"))
        .args(["install", "--quiet"])
        .arg(format!("pyspark=={PYSPARK_VERSION}")))?;
    Ok(venv)
}

/// Whether the venv holds the pinned pyspark version.
fn installed(venv: &Path) -> bool {
    Command::new(venv.join("bin").join("python"))
        .args([
            "-c",
            &format!("import pyspark, sys; sys.exit(pyspark.__version__ != '{PYSPARK_VERSION}')"),
        ])
        .status()
        .is_ok_and(|s| s.success())
}

fn run(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .context(|| format!("cannot run {command:?}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed ({})", describe(status)).into())
    }
}

/// Installs pyspark if needed, then runs the Spark tests (extra ARGS go to `cargo test`).
pub fn test(args: &[String]) -> Result<()> {
    let venv = venv()?;
    let status = cargo_command()
        // The everyday command's build (the same features, nothing rebuilt), only the Spark
        // tests run.
        .args(["test", "--workspace"])
        .args(args)
        .args(["--", "tests::spark::"])
        .env("CAIRN_SPARK_VENV", &venv)
        .current_dir(workspace_root())
        .status()
        .context(|| "cannot run `cargo test`".to_owned())?;
    passed_on(status)
}
