//! The store step: the model artifact (header, fitted model) as an object in the store.

use cairn_core::Project;
use cairn_core::models::ModelSpec;
use cairn_model::artifact::{Artifact, Header, Provenance, format_of};
use cairn_model::prep::Input;
use cairn_store::Put;

use crate::TrainError;
use crate::fit::Fit;
use crate::record::RunRecord;

/// The artifact of a fit: the spec, the inputs, and the provenance the record holds so far
/// (data, features, code, rows).
pub(crate) fn artifact(
    model: &str,
    spec: &ModelSpec,
    fit: Fit,
    inputs: Vec<Input>,
    record: &RunRecord,
) -> Artifact {
    Artifact {
        header: Header {
            // The oldest format that holds this model (what `to_bytes` writes).
            format: format_of(&fit.fitted),
            model: model.to_owned(),
            algorithm: spec.algorithm.as_str().to_owned(),
            params: fit.params,
            seed: spec.seed,
            target: spec.target.clone(),
            task: fit.task,
            inputs,
            provenance: Provenance {
                data: record.data.clone(),
                features: record.features.clone(),
                code_commit: record.code.commit.clone(),
                code_dirty: record.code.dirty,
                train_rows: record.train_rows,
                test_rows: record.test_rows,
            },
        },
        fitted: fit.fitted,
    }
}

/// Stores the artifact's bytes.
pub(crate) fn put(project: &Project, artifact: &Artifact) -> Result<Put, TrainError> {
    Ok(project.store()?.put_bytes(&artifact.to_bytes())?)
}
