//! Drift detection.

pub mod stats;
