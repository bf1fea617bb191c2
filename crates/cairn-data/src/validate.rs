//! `cairn data validate`: the declared datasets chosen on the command line, each checked by
//! [`cairn_core::validation`].

use std::time::SystemTime;

use cairn_core::Project;
use cairn_core::dataset::DatasetSpec;
pub use cairn_core::validation::{CheckReport, DatasetReport, Example};
use serde::Serialize;

use crate::DataError;

pub struct ValidateOptions {
    /// Declared datasets to check (relative to `cwd`); empty: every declared dataset.
    pub paths: Vec<std::path::PathBuf>,
    pub cwd: std::path::PathBuf,
    /// The time freshness is measured against.
    pub now: SystemTime,
}

#[derive(Debug, Clone, Serialize)]
pub struct ValidateOutcome {
    pub passed: bool,
    pub datasets: Vec<DatasetReport>,
}

pub fn validate(
    project: &Project,
    options: &ValidateOptions,
) -> Result<ValidateOutcome, DataError> {
    let declared = &project.config().dataset;
    let mut selected: Vec<(&String, &DatasetSpec)> = Vec::new();
    if options.paths.is_empty() {
        if declared.is_empty() {
            return Err(DataError::NoExpectations { path: None });
        }
        selected.extend(declared.iter());
    } else {
        for path in &options.paths {
            let rel = project.resolve(&options.cwd, path)?;
            let (key, spec) =
                declared
                    .get_key_value(rel.as_str())
                    .ok_or_else(|| DataError::NoExpectations {
                        path: Some(rel.as_str().to_owned()),
                    })?;
            selected.push((key, spec));
        }
    }
    let mut datasets = Vec::with_capacity(selected.len());
    for (path, spec) in selected {
        datasets.push(cairn_core::validation::check_table(
            project.root(),
            path,
            spec,
            options.now,
        )?);
    }
    Ok(ValidateOutcome {
        passed: datasets.iter().all(|d| d.passed),
        datasets,
    })
}
