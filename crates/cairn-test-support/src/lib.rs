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

/// Whether a server a test needs must be there (`CI=true`: `.ci/run` installs it) rather than
/// the test being skipped. The one place the test helpers read the environment.
pub fn required_by_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}
