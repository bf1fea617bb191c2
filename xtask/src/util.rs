//! What the tasks share: the error type, finding cargo, the workspace and its target directory,
//! building the `cairn` binary, and formatting.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

/// A failure of a task: printed as `error: {message}` (unless empty), then exit with `code`.
#[derive(Debug)]
pub struct Error {
    pub code: i32,
    pub message: String,
}

impl Error {
    /// A usage error (exit 2).
    pub fn usage(message: String) -> Self {
        Error { code: 2, message }
    }
}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Error { code: 1, message }
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Error::from(message.to_owned())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds what was being done to an `io::Error` (or anything displayable).
pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: std::fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|err| Error::from(format!("{}: {err}", what())))
    }
}

/// The cargo that runs us (`$CARGO`), or `cargo` from PATH.
fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"))
}

/// A `cargo` command without the variables that `cargo run` (how `cargo xtask` starts this
/// program) sets for it: `CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME` and the like. Build scripts
/// declare some of them with `rerun-if-env-changed` (ring does), and cargo compares them with
/// its own environment: inherited, they made every build started from here rebuild ring and
/// everything above it (object_store, polars: 11 minutes in release), and the next build
/// started from a shell rebuild it all again.
pub fn cargo_command() -> Command {
    let mut cmd = Command::new(cargo());
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_MANIFEST_")
            || matches!(
                key,
                "CARGO_BIN_NAME" | "CARGO_CRATE_NAME" | "CARGO_PRIMARY_PACKAGE"
            )
        {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Makes sure this binary was built from the checkout `cargo xtask` was run in. Two
/// checkouts sharing a `CARGO_TARGET_DIR` (the README's way, and `.ci/run` in a clone) share
/// `<target>/debug/xtask`, and cargo does not copy its own fresh build over the file when the
/// other checkout built last: the other's binary would then build, test and bench the other
/// checkout (its paths are compiled in). `cargo run` says at run time which checkout it ran
/// in. When they differ, this checkout's xtask is rebuilt (its `src/main.rs` touched, so that
/// cargo builds it and puts it in place) and run with the same arguments, once; `Ok(Some)` is
/// that run's exit code, for the caller to return.
pub fn check_checkout(args: &[String]) -> Result<Option<i32>> {
    let built = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Some(ran) = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from) else {
        return Ok(None);
    };
    if ran == built {
        return Ok(None);
    }
    let main = ran.join("src").join("main.rs");
    if std::env::var_os(REBUILT).is_some() {
        return Err(format!(
            "this xtask binary was built from {}, not from {} where `cargo xtask` ran, even \
             after a rebuild; run `touch {}` and try again",
            built.display(),
            ran.display(),
            main.display()
        )
        .into());
    }
    eprintln!(
        "xtask: the binary in the target directory was built from {}; rebuilding it from {}",
        built.display(),
        ran.display()
    );
    std::fs::File::options()
        .append(true)
        .open(&main)
        .and_then(|file| file.set_modified(std::time::SystemTime::now()))
        .context(|| format!("cannot touch {}", main.display()))?;
    let status = cargo_command()
        .args(["run", "--quiet", "-p", "xtask", "--"])
        .args(args)
        .env(REBUILT, "1")
        .current_dir(ran.parent().unwrap_or(&ran))
        .status()
        .context(|| "cannot run `cargo run -p xtask`".to_owned())?;
    Ok(Some(status.code().unwrap_or(1)))
}

/// Set for the xtask that [`check_checkout`] rebuilt and ran.
const REBUILT: &str = "XTASK_REBUILT";

/// The workspace root: the parent of this crate's manifest directory.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// The workspace's target directory as cargo resolves it (honours `CARGO_TARGET_DIR`,
/// `build.target-dir` in config files, and so on).
pub fn target_dir() -> Result<PathBuf> {
    let root = workspace_root();
    let output = cargo_command()
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(root.join("Cargo.toml"))
        .stderr(Stdio::inherit())
        .output()
        .context(|| "cannot run `cargo metadata`".to_owned())?;
    if !output.status.success() {
        return Err(format!("`cargo metadata` failed ({})", describe(output.status)).into());
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)
        .context(|| "cannot parse the output of `cargo metadata`".to_owned())?;
    let dir = metadata
        .get("target_directory")
        .and_then(serde_json::Value::as_str)
        .ok_or("`cargo metadata` printed no \"target_directory\"")?;
    Ok(PathBuf::from(dir))
}

/// Builds `cairn` (debug or release) with cargo's output shown, and returns the binary's path.
/// `XTASK_CAIRN_BIN=PATH` skips the build and uses that binary instead.
pub fn build_cairn(release: bool) -> Result<PathBuf> {
    if let Some(bin) = std::env::var_os("XTASK_CAIRN_BIN") {
        let bin = PathBuf::from(bin);
        if !bin.is_file() {
            return Err(format!("XTASK_CAIRN_BIN={} is not a file", bin.display()).into());
        }
        println!("using {} (from XTASK_CAIRN_BIN)", bin.display());
        return std::path::absolute(&bin).context(|| format!("cannot resolve {}", bin.display()));
    }
    let mut cmd = cargo_command();
    cmd.arg("build");
    if release {
        cmd.arg("--release");
    }
    cmd.args(["-p", "cairn-cli", "--bin", "cairn"])
        .current_dir(workspace_root());
    let status = cmd
        .status()
        .context(|| "cannot run `cargo build`".to_owned())?;
    if !status.success() {
        return Err(format!("building cairn failed ({})", describe(status)).into());
    }
    let profile = if release { "release" } else { "debug" };
    let bin = target_dir()?
        .join(profile)
        .join(format!("cairn{}", std::env::consts::EXE_SUFFIX));
    if !bin.is_file() {
        return Err(format!("cargo built cairn but {} does not exist", bin.display()).into());
    }
    Ok(bin)
}

/// `cargo xtask test`: `cargo test --workspace [ARGS...]`, exiting with its exit code.
pub fn cargo_test(args: &[String]) -> Result<()> {
    let status = cargo_command()
        .args(["test", "--workspace"])
        .args(args)
        .current_dir(workspace_root())
        .status()
        .context(|| "cannot run `cargo test`".to_owned())?;
    passed_on(status)
}

/// A cargo command's outcome as xtask's: cargo has said what failed, so only its exit code
/// is passed on.
pub fn passed_on(status: ExitStatus) -> Result<()> {
    if status.success() {
        Ok(())
    } else {
        Err(Error {
            code: status.code().unwrap_or(1),
            message: String::new(),
        })
    }
}

/// "exit code 3" or "killed by signal 9".
pub fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => format!("{status}"),
    }
}

/// Whether `name` is an executable file in a directory of `PATH`.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// "12.3 ms" below one second, "1.234 s" above.
pub fn fmt_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 1.0 {
        format!("{:.1} ms", secs * 1000.0)
    } else {
        format!("{secs:.3} s")
    }
}

/// "1.0 GiB", "64.0 MiB", "12.5 KiB", "312 B".
pub fn fmt_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// "20,000".
pub fn fmt_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The median of some durations (the mean of the middle two for an even count).
pub fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    match sorted.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(fmt_count(20_000), "20,000");
        assert_eq!(fmt_count(999), "999");
        assert_eq!(fmt_bytes(1 << 30), "1.0 GiB");
        assert_eq!(fmt_bytes(64 << 20), "64.0 MiB");
        assert_eq!(fmt_duration(Duration::from_millis(12)), "12.0 ms");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.500 s");
    }

    #[test]
    fn medians() {
        let ms = Duration::from_millis;
        assert_eq!(median(&[ms(3), ms(1), ms(2)]), ms(2));
        assert_eq!(
            median(&[ms(4), ms(1), ms(2), ms(3)]),
            Duration::from_micros(2500)
        );
    }
}
