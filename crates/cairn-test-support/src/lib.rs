//! What cairn's end-to-end tests and `cargo xtask` share: a real S3-compatible server on
//! 127.0.0.1, in-process ([`s3::S3Server`]), over a temporary directory (s3s-fs, for the
//! tests) or over memory ([`s3::MemS3`], for the benchmark and `cargo xtask s3-server`); a
//! real `redis-server` on 127.0.0.1 ([`redis::RedisServer`]); a real Spark Connect server on
//! 127.0.0.1 from a pyspark install ([`spark::SparkServer`]).
//!
//! Not part of cairn: no cairn crate depends on it outside its tests.

pub mod redis;
pub mod s3;
mod s3_mem;
pub mod spark;

/// A test's use of a server it needs (`launched`: the server, or what is missing to start
/// it): the server; or, when something is missing, `None` with a "skipped" line in the test's
/// output, except under `CI=true` (`.ci/run` installs everything), where the test fails: CI
/// must not pass vacuously. For test binaries only, which have no `main` to read `CI` once
/// and pass it down: benchmarks and tools call the servers' `launch` and report a missing
/// tool themselves.
#[allow(
    clippy::print_stderr,
    reason = "a test helper: the skip must show in the test's output"
)]
pub fn skip_unless_ci<T>(launched: Result<T, String>) -> Option<T> {
    match launched {
        Ok(server) => Some(server),
        Err(missing) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{missing}, and CI=true: .ci/run must install it")
        }
        Err(missing) => {
            eprintln!("skipped: {missing}");
            None
        }
    }
}
