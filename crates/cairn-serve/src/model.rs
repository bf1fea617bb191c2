//! A registered model version loaded for scoring: the verified artifact, its schema, and
//! (for a model trained on feature views) the online features it reads for entity-keyed
//! rows.

use std::sync::Arc;

use cairn_core::{Lock, Project};
use cairn_model::artifact::{Artifact, Label, Task};
use cairn_registry::Stage;
use serde::Serialize;

use crate::entities::Online;
use crate::error::LoadError;
use crate::schema::{InputDoc, Schema};

/// A model version ready to score.
pub struct Model {
    /// The registered model's name.
    pub name: String,
    pub version: u32,
    /// Its stage when it was loaded.
    pub stage: Stage,
    /// The artifact's BLAKE3 digest (hex).
    pub digest: String,
    pub artifact: Artifact,
    pub schema: Schema,
    /// For classifiers: each label as JSON text, in class order.
    pub(crate) labels_json: Vec<String>,
    pub(crate) online: Online,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("digest", &self.digest)
            .finish_non_exhaustive()
    }
}

/// A model as `GET /v1/models` and `cairn predict` describe it.
#[derive(Debug, Clone, Serialize)]
pub struct ModelDoc {
    pub name: String,
    pub version: u32,
    pub stage: &'static str,
    pub digest: String,
    pub algorithm: String,
    /// `classification` or `regression`.
    pub task: &'static str,
    /// Classifiers: the labels, in the order of the probabilities.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<serde_json::Value>>,
    pub inputs: Vec<InputDoc>,
    /// Whether entity-keyed rows can be scored (the inputs are online features).
    pub entities: bool,
}

impl Model {
    /// Loads `reference` (`NAME@REF`) as `lock` pins it: the artifact is read from the store
    /// and verified against its digest.
    pub fn load(project: &Arc<Project>, lock: &Lock, reference: &str) -> Result<Model, LoadError> {
        let resolved = cairn_registry::resolve(lock, reference)?;
        let artifact = cairn_registry::load_artifact(project, &resolved)?;
        Ok(Model::new(
            project,
            resolved.name,
            resolved.version,
            resolved.entry.stage,
            resolved.entry.artifact.to_hex(),
            artifact,
        ))
    }

    /// A model from an artifact already read.
    pub fn new(
        project: &Arc<Project>,
        name: String,
        version: u32,
        stage: Stage,
        digest: String,
        artifact: Artifact,
    ) -> Model {
        let schema = Schema::new(artifact.header.inputs.clone());
        let labels_json = artifact
            .labels()
            .map(|labels| labels.iter().map(label_json).collect())
            .unwrap_or_default();
        let online = Online::for_model(project, &artifact);
        Model {
            name,
            version,
            stage,
            digest,
            artifact,
            schema,
            labels_json,
            online,
        }
    }

    /// A model that reads nothing from the online store (tests).
    #[cfg(test)]
    pub(crate) fn detached(name: &str, version: u32, artifact: Artifact) -> Model {
        let schema = Schema::new(artifact.header.inputs.clone());
        let labels_json = artifact
            .labels()
            .map(|labels| labels.iter().map(label_json).collect())
            .unwrap_or_default();
        Model {
            name: name.to_owned(),
            version,
            stage: Stage::None,
            digest: "0".repeat(64),
            artifact,
            schema,
            labels_json,
            online: Online::Unavailable("no online store in tests".into()),
        }
    }

    /// `NAME@VERSION`.
    pub fn label(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    pub fn is_classifier(&self) -> bool {
        matches!(self.artifact.header.task, Task::Classification { .. })
    }

    /// The class labels (classifiers), in the order of the probabilities.
    pub fn labels(&self) -> Option<&[Label]> {
        self.artifact.labels()
    }

    pub fn doc(&self) -> ModelDoc {
        ModelDoc {
            name: self.name.clone(),
            version: self.version,
            stage: self.stage.as_str(),
            digest: self.digest.clone(),
            algorithm: self.artifact.header.algorithm.clone(),
            task: if self.is_classifier() {
                "classification"
            } else {
                "regression"
            },
            classes: self
                .labels()
                .map(|labels| labels.iter().map(Label::to_json).collect()),
            inputs: self.schema.docs(),
            entities: self.online.is_ready(),
        }
    }
}

/// A label as JSON text.
fn label_json(label: &Label) -> String {
    label.to_json().to_string()
}
