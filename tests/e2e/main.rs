//! End-to-end tests: the real `cairn` binary in throwaway git repositories. One test binary
//! (linking is the slow part of a build here).
#![allow(clippy::disallowed_methods)]

mod add;
mod checkout;
mod cli;
mod diff;
mod docs;
mod faults;
mod feature;
mod gc_fsck;
mod init;
mod registry;
mod remote;
mod s3_harness;
mod serve;
mod sharing;
mod status;
mod train;
mod validate;
mod validate_gates;
