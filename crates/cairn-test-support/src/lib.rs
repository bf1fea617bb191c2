//! What cairn's end-to-end tests and `cargo xtask` share: a real S3-compatible server on
//! 127.0.0.1, in-process ([`s3::S3Server`]), over a temporary directory (s3s-fs, for the
//! tests) or over memory ([`s3::MemS3`], for the benchmark and `cargo xtask s3-server`); a
//! real `redis-server` on 127.0.0.1 ([`redis::RedisServer`]); a real Spark Connect server on
//! 127.0.0.1 from a pyspark install ([`spark::SparkServer`]).
//!
//! Not part of cairn: no cairn crate depends on it outside its tests.
//!
//! A test that needs a server calls its `start`, which fails the test, saying what to
//! install, when the server cannot be started: the tools are requirements of the tests, as
//! git and python3 are (README), so that no test passes without running. Benchmarks and
//! tools call `launch` and report a missing tool in their own words.

pub mod redis;
pub mod s3;
mod s3_mem;
pub mod spark;
