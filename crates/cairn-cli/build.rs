//! Puts the git commit this binary is built from into `cairn --version`
//! (`cairn 0.1.0 (c38c54f 2026-12-06)`), as cargo and uv do. Outside a git checkout (a
//! source tarball) the version is the package's alone.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn main() {
    let mut suffix = String::new();
    if let (Some(git_dir), Some(common_dir)) = (
        git(&["rev-parse", "--absolute-git-dir"]),
        git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]),
    ) {
        // A new commit moves HEAD or the branch it names (loose or packed).
        println!("cargo:rerun-if-changed={git_dir}/HEAD");
        println!("cargo:rerun-if-changed={common_dir}/refs/heads");
        println!("cargo:rerun-if-changed={common_dir}/packed-refs");
        if let Some(info) = git(&["log", "-1", "--format=%h %cs"]) {
            suffix = format!(" ({info})");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-env=CAIRN_VERSION_SUFFIX={suffix}");
}
