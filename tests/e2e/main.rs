//! End-to-end tests: the real `cairn` binary in throwaway git repositories. One test binary
//! (linking is the slow part of a build here).
#![allow(clippy::disallowed_methods)]

mod add;
mod boosting;
mod checkout;
mod ci_examples;
mod cli;
mod deploy_examples;
mod diff;
mod docs;
mod drift;
mod faults;
mod feature;
mod gc_fsck;
mod guides;
mod hooks;
mod init;
mod lineage;
mod project_status;
mod reference;
mod registry;
mod remote;
mod reproduce;
mod retrain;
mod s3_harness;
mod serve;
mod sharing;
mod status;
mod train;
mod validate;
mod validate_gates;
