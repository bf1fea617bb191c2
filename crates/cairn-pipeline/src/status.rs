//! `status`: the whole project against its lock, on one screen — the data (the same
//! comparison as the data status, [`cairn_data::status`]), the feature views whose definition
//! or source changed since their table was materialized (the digests the feature store pins
//! them by), the registered models with their production and staging versions and their last
//! validation, and, when asked, what the remote lacks.

use std::path::PathBuf;

use cairn_core::Project;
use cairn_core::registry::{ModelVersion, Stage, Verdict};
use cairn_data::StatusOutcome;
use serde::{Deserialize, Serialize};

use crate::StatusError;

/// What `status` is asked.
#[derive(Debug, Clone, Default)]
pub struct StatusOptions {
    /// The directory the command runs in (paths are shown relative to the project anyway).
    pub cwd: PathBuf,
    /// Also ask a remote which objects it lacks: `Some(None)` for the default remote. Without
    /// it, no remote is contacted.
    pub remote: Option<Option<String>>,
}

/// A feature view against its pinned offline table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ViewState {
    /// Materialized from this definition and this source content.
    UpToDate,
    /// Materialized, but its definition (its `cairn.toml` table), its source's content, or
    /// both changed since.
    Changed { definition: bool, source: bool },
    /// Declared, never materialized.
    NotMaterialized,
    /// Its source cannot be read (missing, unreadable): whether it changed is unknown.
    SourceUnreadable { message: String },
    /// Pinned in `cairn.lock` but no longer declared in `cairn.toml`.
    Undeclared,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewStatus {
    pub view: String,
    #[serde(flatten)]
    pub state: ViewState,
}

impl ViewStatus {
    pub fn in_sync(&self) -> bool {
        self.state == ViewState::UpToDate
    }
}

/// The last drift check of a model recorded on this machine (`cairn_drift::last_check`), shown
/// beside the version it checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftResult {
    /// The drift record's digest (hex).
    pub record: String,
    /// The version checked.
    pub version: u32,
    /// When the check started (UTC).
    pub checked: String,
    /// What the current data was (a file, the prediction log).
    pub current: String,
    pub compared: u64,
    pub drifted: u64,
    pub dataset_drift: bool,
}

impl DriftResult {
    /// The last drift check of `model`, when one is recorded and readable. A ref or record
    /// that cannot be read is shown as no check: status and lineage are views, and
    /// `cairn drift` reports the problem itself.
    pub fn last_of(project: &Project, model: &str) -> Option<DriftResult> {
        let (digest, record) = cairn_drift::last_check(project, Some(model)).ok()??;
        let version = record.model.as_ref()?.version;
        Some(DriftResult {
            record: digest.to_hex(),
            version,
            checked: record.started.clone(),
            current: record.current.source.describe(),
            compared: record.compared,
            drifted: record.drifted,
            dataset_drift: record.dataset_drift,
        })
    }

    /// `dataset drift (3 of 5 columns) on 2026-12-01T08:00:00Z`.
    pub fn summary(&self) -> String {
        format!(
            "{} ({} of {} columns) on {}",
            if self.dataset_drift {
                "dataset drift"
            } else {
                "no dataset drift"
            },
            self.drifted,
            self.compared,
            self.checked
        )
    }
}

/// A version in a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedVersion {
    pub version: u32,
    /// Its last validation's verdict; `None` if never validated.
    pub validated: Option<Verdict>,
    /// The model's last drift check, when it checked this version.
    pub drift: Option<DriftResult>,
}

impl StagedVersion {
    fn of(v: &ModelVersion, drift: &Option<DriftResult>) -> Self {
        StagedVersion {
            version: v.version,
            validated: v.validated,
            drift: drift.clone().filter(|d| d.version == v.version),
        }
    }
}

/// A registered model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSummary {
    pub name: String,
    pub versions: usize,
    pub latest: Option<u32>,
    pub production: Option<StagedVersion>,
    pub staging: Option<StagedVersion>,
}

/// Whether a remote was asked what it lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RemoteCheck {
    /// No remote is configured.
    NoRemote,
    /// A remote is configured (`default`, when one is the default) but was not asked.
    NotChecked { default: Option<String> },
    /// Asked: the objects the lock pins (data, feature tables, registered versions) that it
    /// lacks, and whether some directory's files are unknown (its manifest is on neither side).
    Checked {
        name: String,
        url: String,
        missing: u64,
        unknown: bool,
    },
}

/// What `status` found.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectStatus {
    /// The data against `cairn.lock` (and, when asked, the remote), as the data status says.
    pub data: StatusOutcome,
    pub features: Vec<ViewStatus>,
    pub models: Vec<ModelSummary>,
    pub remote: RemoteCheck,
    /// Nothing is out of sync: the data matches the lock, every view is up to date, and the
    /// remote (when asked) has every object.
    pub in_sync: bool,
}

/// The project's status.
pub fn status(project: &Project, options: &StatusOptions) -> Result<ProjectStatus, StatusError> {
    let StatusOptions { cwd, remote } = options;
    let data = cairn_data::status(
        project,
        &cairn_data::StatusOptions {
            paths: Vec::new(),
            cwd: cwd.clone(),
            remote: remote.clone(),
        },
    )?;
    let lock = project.read_lock()?;
    let config = project.config();
    let mut features = Vec::new();
    for (name, spec) in &config.feature_view {
        let state = match lock.feature.get(name) {
            None => ViewState::NotMaterialized,
            Some(entry) => {
                let definition =
                    entry.definition != cairn_feature::view::definition_digest(project, name, spec);
                match cairn_feature::view::source_digest(project, spec) {
                    Ok(source) => {
                        let source = entry.source != source;
                        if definition || source {
                            ViewState::Changed { definition, source }
                        } else {
                            ViewState::UpToDate
                        }
                    }
                    Err(e) => ViewState::SourceUnreadable {
                        message: e.to_string(),
                    },
                }
            }
        };
        features.push(ViewStatus {
            view: name.clone(),
            state,
        });
    }
    for name in lock.feature.keys() {
        if !config.feature_view.contains_key(name) {
            features.push(ViewStatus {
                view: name.clone(),
                state: ViewState::Undeclared,
            });
        }
    }
    let models = lock
        .model
        .iter()
        .map(|(name, entry)| {
            let drift = DriftResult::last_of(project, name);
            ModelSummary {
                name: name.clone(),
                versions: entry.versions.len(),
                latest: entry.latest().map(|v| v.version),
                production: entry
                    .in_stage(Stage::Production)
                    .map(|v| StagedVersion::of(v, &drift)),
                staging: entry
                    .in_stage(Stage::Staging)
                    .map(|v| StagedVersion::of(v, &drift)),
            }
        })
        .collect();
    let remote = match &data.remote {
        Some(info) => {
            let entries = data.entries.iter().filter_map(|e| e.remote);
            let tables = data.features.iter().map(|f| f.remote);
            let versions = data.models.iter().map(|m| m.remote);
            let (missing, unknown) = entries
                .chain(tables)
                .chain(versions)
                .fold((0, false), |(m, u), p| (m + p.missing, u || p.unknown));
            RemoteCheck::Checked {
                name: info.name.clone(),
                url: info.url.clone(),
                missing,
                unknown,
            }
        }
        None if config.remote.is_empty() => RemoteCheck::NoRemote,
        None => RemoteCheck::NotChecked {
            default: project.remote(None).ok().map(|r| r.name),
        },
    };
    let in_sync = data.clean
        && features.iter().all(ViewStatus::in_sync)
        && !matches!(remote, RemoteCheck::Checked { missing, unknown, .. } if missing > 0 || unknown);
    Ok(ProjectStatus {
        data,
        features,
        models,
        remote,
        in_sync,
    })
}
