//! The binary starts and reports usage errors with exit code 2. (Its presence also makes
//! `cargo test --workspace` build the `cairn` binary that the end-to-end tests in `tests/`
//! drive.)

use std::process::Command;

#[test]
fn version_and_usage_error() {
    let bin = env!("CARGO_BIN_EXE_cairn");
    let out = Command::new(bin).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("cairn "));
    let out = Command::new(bin).arg("--no-such-flag").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
