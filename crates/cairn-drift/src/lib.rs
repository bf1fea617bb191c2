//! Drift detection: per-column statistics between a reference and a current table, the
//! dataset verdict, the drift record (docs/formats/drift.md) and a self-contained HTML report.

mod check;
mod column;
mod error;
mod predictions;
pub mod record;
pub mod report;
mod sample;
mod source;
pub mod stats;

pub use check::{Checked, DriftOptions, check, compare};
pub use column::{FEW_VALUES, MIN_SCALE, SMALL_REFERENCE, VALUE_BINS, auto_method};
pub use error::{DriftError, Side};
pub use predictions::{LoggedPredictions, PREDICTION};
pub use record::{DriftRecord, last_check, read_record, store_check};
pub use source::{Table, Training};

#[cfg(test)]
mod tests;
