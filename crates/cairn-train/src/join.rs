//! A spec over an entity table: its rows joined point-in-time to the feature views, by the
//! feature store (the same code as `historical`).

use std::collections::BTreeMap;

use cairn_core::Project;
use cairn_core::models::ModelSpec;
use polars::prelude::DataFrame;

use crate::TrainError;

/// Training rows joined to feature views.
pub(crate) struct Joined {
    pub frame: DataFrame,
    /// The feature columns the join added: the model's inputs, in order.
    pub feature_columns: Vec<String>,
    /// View → the digest of the offline table joined.
    pub tables: BTreeMap<String, String>,
}

/// The entity table of `spec` (which has `entities`) with its features as of each row's time.
pub(crate) fn entity_features(
    project: &Project,
    entities: &str,
    spec: &ModelSpec,
) -> Result<Joined, TrainError> {
    entity_features_from(project, &project.root().join(entities), spec)
}

/// [`entity_features`] with the entity table read from `entities` (a file or directory
/// anywhere: the held-out rows of a run may be rebuilt from a copy made from the store).
pub(crate) fn entity_features_from(
    project: &Project,
    entities: &std::path::Path,
    spec: &ModelSpec,
) -> Result<Joined, TrainError> {
    let joined = cairn_feature::historical_frame(
        project,
        &cairn_feature::HistoricalOptions {
            entities: entities.to_path_buf(),
            timestamp: spec.entity_timestamp().to_owned(),
            features: spec.features.clone().unwrap_or_default(),
            service: spec.service.clone(),
            full_names: false,
            created_before: false,
            output: std::path::PathBuf::new(),
        },
    )?;
    Ok(Joined {
        frame: joined.frame,
        feature_columns: joined.feature_columns,
        tables: joined
            .tables
            .into_iter()
            .map(|(view, digest)| (view, digest.to_hex()))
            .collect(),
    })
}
