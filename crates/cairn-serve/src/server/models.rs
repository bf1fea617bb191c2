//! The set of served models: per model name a primary version and an optional canary, behind
//! an atomic pointer (`ArcSwap`) that a reload replaces in one store. A request loads the
//! pointer once and keeps its `Arc` to the end, so it finishes on the version it started
//! with whatever a reload does meanwhile.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::HeaderValue;
use cairn_core::{Lock, Project};
use cairn_registry::Stage;
use serde::Serialize;

use crate::error::LoadError;
use crate::model::Model;

use super::Canary;
use super::log::ModelLog;
use super::metrics::{Metrics, VersionMetrics};

/// A model version as the server holds it: the model, and what every response of it repeats,
/// rendered once.
pub(crate) struct Loaded {
    pub(crate) model: Model,
    /// `{"model":"NAME","version":N,"digest":"…"`: the start of every prediction body.
    pub(crate) prefix: String,
    /// `,"classes":[…]` for classifiers, empty for regressors.
    pub(crate) classes: String,
    pub(crate) version_header: HeaderValue,
    pub(crate) metrics: Arc<VersionMetrics>,
    pub(crate) log: Option<ModelLog>,
}

impl Loaded {
    pub(crate) fn new(model: Model, metrics: &Metrics, log: Option<ModelLog>) -> Loaded {
        let name = serde_json::to_string(&model.name).unwrap_or_default();
        let prefix = format!(
            "{{\"model\":{name},\"version\":{},\"digest\":\"{}\"",
            model.version, model.digest
        );
        let classes = if model.labels_json.is_empty() {
            String::new()
        } else {
            format!(",\"classes\":[{}]", model.labels_json.join(","))
        };
        let labels = model
            .labels()
            .map(|labels| labels.iter().map(ToString::to_string).collect());
        let version_metrics = metrics.version(&model.name, model.version, labels);
        Loaded {
            version_header: HeaderValue::from(model.version),
            prefix,
            classes,
            metrics: version_metrics,
            log,
            model,
        }
    }
}

/// One served model: its primary version, and a canary that gets a share of the requests.
pub(crate) struct Slot {
    pub(crate) primary: Arc<Loaded>,
    pub(crate) canary: Option<(Arc<Loaded>, f64)>,
    /// Requests routed so far (the canary's share is taken evenly from this count).
    pub(crate) routed: AtomicU64,
}

impl Slot {
    /// The version that answers the next request. Deterministic: of every 100 consecutive
    /// requests, the canary gets its percentage (rounded down, spread evenly), whichever
    /// worker thread takes them.
    pub(crate) fn route(&self) -> &Arc<Loaded> {
        match &self.canary {
            None => &self.primary,
            Some((canary, percent)) => {
                let n = self.routed.fetch_add(1, Ordering::Relaxed) as f64;
                if ((n + 1.0) * percent / 100.0).floor() > (n * percent / 100.0).floor() {
                    canary
                } else {
                    &self.primary
                }
            }
        }
    }

    /// The served version numbered `version` (the primary or the canary).
    pub(crate) fn version(&self, version: u32) -> Option<&Arc<Loaded>> {
        if self.primary.model.version == version {
            return Some(&self.primary);
        }
        self.canary
            .as_ref()
            .map(|(c, _)| c)
            .filter(|c| c.model.version == version)
    }

    /// `3` or `3, canary 4`: for messages.
    pub(crate) fn versions(&self) -> String {
        match &self.canary {
            None => self.primary.model.version.to_string(),
            Some((c, _)) => format!("{}, canary {}", self.primary.model.version, c.model.version),
        }
    }
}

/// Every served model, by name.
#[derive(Default)]
pub(crate) struct ModelSet {
    pub(crate) slots: BTreeMap<String, Slot>,
}

/// A served model as reports describe it.
#[derive(Debug, Clone, Serialize)]
pub struct ServedModel {
    pub name: String,
    pub version: u32,
    pub stage: &'static str,
    pub digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<ServedCanary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServedCanary {
    pub version: u32,
    pub stage: &'static str,
    pub digest: String,
    pub percent: f64,
}

impl ModelSet {
    pub(crate) fn served(&self) -> Vec<ServedModel> {
        self.slots
            .iter()
            .map(|(name, slot)| ServedModel {
                name: name.clone(),
                version: slot.primary.model.version,
                stage: slot.primary.model.stage.as_str(),
                digest: slot.primary.model.digest.clone(),
                canary: slot.canary.as_ref().map(|(c, percent)| ServedCanary {
                    version: c.model.version,
                    stage: c.model.stage.as_str(),
                    digest: c.model.digest.clone(),
                    percent: *percent,
                }),
            })
            .collect()
    }
}

/// What to serve, as the user asked.
#[derive(Debug, Clone)]
pub(crate) struct Wanted {
    /// `NAME@REF` of each model; `None`: every registered model's production version.
    pub(crate) models: Option<Vec<String>>,
    pub(crate) canaries: Vec<Canary>,
}

/// A version swapped in by a load.
#[derive(Debug, Clone, Serialize)]
pub struct Swap {
    pub model: String,
    /// The version served before (none: the model was not served).
    pub from: Option<u32>,
    pub to: u32,
    pub canary: bool,
}

/// The result of loading what is wanted.
pub(crate) struct LoadedSet {
    pub(crate) set: ModelSet,
    pub(crate) swaps: Vec<Swap>,
    /// What could not be loaded on a reload (the previous version stays).
    pub(crate) failures: Vec<String>,
}

/// Loads what `wanted` names as `lock` pins it, reusing the versions `previous` holds
/// (a version is loaded once). `strict` (the first load): any failure fails the whole load;
/// otherwise (a reload) a model that cannot be resolved or loaded keeps its previous version,
/// a canary that cannot is dropped, and the failures are returned.
pub(crate) fn load_set(
    project: &Arc<Project>,
    lock: &Lock,
    wanted: &Wanted,
    previous: Option<&ModelSet>,
    strict: bool,
    make: &dyn Fn(Model) -> Loaded,
) -> Result<LoadedSet, LoadError> {
    let references: Vec<String> = match &wanted.models {
        Some(refs) => refs.clone(),
        None => {
            if lock.model.is_empty() && strict {
                return Err(LoadError::NoModels);
            }
            let refs: Vec<String> = lock
                .model
                .iter()
                .filter(|(_, entry)| entry.in_stage(Stage::Production).is_some())
                .map(|(name, _)| format!("{name}@production"))
                .collect();
            if refs.is_empty() && strict {
                return Err(LoadError::NoProduction {
                    models: lock.model.keys().cloned().collect::<Vec<_>>().join(", "),
                });
            }
            refs
        }
    };
    let mut failures = Vec::new();
    let mut swaps = Vec::new();
    let mut slots: BTreeMap<String, Slot> = BTreeMap::new();
    // Where each model was asked for, to name both in an error.
    let mut asked: BTreeMap<String, String> = BTreeMap::new();
    let old = |name: &str| previous.and_then(|p| p.slots.get(name));
    for reference in &references {
        let resolved = match cairn_registry::resolve(lock, reference) {
            Ok(r) => r,
            Err(e) if strict => return Err(e.into()),
            Err(e) => {
                failures.push(format!("{reference}: {e}"));
                continue;
            }
        };
        if let Some(other) = asked.insert(resolved.name.clone(), reference.clone()) {
            return Err(LoadError::SameModel {
                reference: reference.clone(),
                other,
            });
        }
        let before = old(&resolved.name);
        let reused = before.and_then(|s| s.version(resolved.version)).cloned();
        let loaded = match reused {
            Some(l) => l,
            None => match Model::load(project, lock, reference) {
                Ok(model) => Arc::new(make(model)),
                Err(e) if strict => return Err(e),
                Err(e) => {
                    failures.push(format!("{reference}: {e}"));
                    if let Some(b) = before {
                        slots.insert(resolved.name.clone(), copy_slot(b, false));
                    }
                    continue;
                }
            },
        };
        let from = before.map(|b| b.primary.model.version);
        if from != Some(loaded.model.version) {
            swaps.push(Swap {
                model: resolved.name.clone(),
                from,
                to: loaded.model.version,
                canary: false,
            });
        }
        slots.insert(
            resolved.name,
            Slot {
                primary: loaded,
                canary: None,
                routed: AtomicU64::new(0),
            },
        );
    }
    for canary in &wanted.canaries {
        let resolved = match cairn_registry::resolve(lock, &canary.reference) {
            Ok(r) => r,
            Err(e) if strict => return Err(e.into()),
            Err(e) => {
                failures.push(format!("canary {}: {e}", canary.reference));
                continue;
            }
        };
        let Some(slot) = slots.get_mut(&resolved.name) else {
            if strict {
                return Err(LoadError::CanaryWithoutModel {
                    reference: canary.reference.clone(),
                    name: resolved.name,
                });
            }
            continue;
        };
        if slot.primary.model.version == resolved.version {
            let e = LoadError::CanaryIsPrimary {
                reference: canary.reference.clone(),
                name: resolved.name.clone(),
                version: resolved.version,
            };
            if strict {
                return Err(e);
            }
            failures.push(format!("canary dropped: {e}"));
            continue;
        }
        let before = old(&resolved.name);
        let reused = before.and_then(|s| s.version(resolved.version)).cloned();
        let loaded = match reused {
            Some(l) => l,
            None => match Model::load(project, lock, &canary.reference) {
                Ok(model) => Arc::new(make(model)),
                Err(e) if strict => return Err(e),
                Err(e) => {
                    failures.push(format!("canary {}: {e}", canary.reference));
                    continue;
                }
            },
        };
        let from = before.and_then(|b| b.canary.as_ref().map(|(c, _)| c.model.version));
        if from != Some(loaded.model.version) {
            swaps.push(Swap {
                model: resolved.name.clone(),
                from,
                to: loaded.model.version,
                canary: true,
            });
        }
        slot.canary = Some((loaded, canary.percent));
    }
    // A model no longer wanted (no production version any more, on a reload of every
    // model) keeps being served: a reload never stops serving a model.
    if let Some(previous) = previous {
        for (name, slot) in &previous.slots {
            if !slots.contains_key(name) {
                slots.insert(name.clone(), copy_slot(slot, true));
            }
        }
    }
    Ok(LoadedSet {
        set: ModelSet { slots },
        swaps,
        failures,
    })
}

fn copy_slot(slot: &Slot, with_canary: bool) -> Slot {
    Slot {
        primary: Arc::clone(&slot.primary),
        canary: if with_canary {
            slot.canary.clone()
        } else {
            None
        },
        routed: AtomicU64::new(slot.routed.load(Ordering::Relaxed)),
    }
}
