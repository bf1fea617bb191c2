//! `cairn feature plan` (check every definition against its source, say what materialize
//! would do) and `cairn feature list`.

use std::collections::BTreeMap;

use cairn_core::Project;
use cairn_store::Digest;
use polars::prelude::len;
use serde::Serialize;

use crate::FeatureError;
use crate::online::OnlineBackend;
use crate::view;

#[derive(Debug, Clone, Serialize)]
pub struct PlanOutcome {
    pub views: Vec<PlannedView>,
    pub services: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedView {
    pub view: String,
    pub source: String,
    /// Rows the offline table would have.
    pub rows: u64,
    pub features: Vec<String>,
    /// `compute` (new or changed definition or source) or `up to date`.
    pub action: &'static str,
}

/// Computes every view, streaming (nothing is written): a missing column, a wrong type, a
/// timestamp that is not one, a missing join key or a SQL error stops with the view, the
/// column and the reason.
pub fn plan(project: &Project) -> Result<PlanOutcome, FeatureError> {
    let lock = project.read_lock()?;
    let mut views = Vec::new();
    for (name, spec) in &project.config().feature_view {
        let rows = view::with_source(project, spec, |source| {
            // Counted unsorted: the order changes no count, and a sort would hold the view.
            let table = view::compute_unsorted(project, name, spec, source)?.table;
            let count = cairn_core::table::collect_streaming(table.select([len().alias("rows")]))
                .and_then(|c| c.column("rows")?.get(0).map(|v| v.extract::<u64>()))
                .map_err(|e| FeatureError::Polars {
                    view: name.clone(),
                    message: e.to_string(),
                })?;
            Ok(count.unwrap_or(0))
        })?;
        let definition = view::definition_digest(project, name, spec);
        let source = view::source_digest(project, spec)?;
        let up_to_date = lock.feature.get(name).is_some_and(|e| {
            e.definition == definition
                && e.source == source
                && e.window_start.is_none()
                && e.window_end.is_none()
                && !e.incremental
        });
        views.push(PlannedView {
            view: name.clone(),
            source: spec.source.clone(),
            rows,
            features: spec.features.keys().cloned().collect(),
            action: if up_to_date { "up to date" } else { "compute" },
        });
    }
    Ok(PlanOutcome {
        views,
        services: project.config().feature_service.keys().cloned().collect(),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct ViewListing {
    pub view: String,
    pub source: String,
    pub entities: Vec<String>,
    pub join_keys: Vec<(String, &'static str)>,
    pub features: BTreeMap<String, &'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    pub definition: Digest,
    /// The pinned offline table, if the view was materialized.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline: Option<cairn_core::FeatureEntry>,
    /// When the online store was last written for this view (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub materialized_at: Option<String>,
    /// Entities in the online store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online_entities: Option<u64>,
}

/// What `cairn feature list` shows: every declared view, in name order.
#[derive(Debug, Clone, Serialize)]
pub struct ListOutcome {
    pub views: Vec<ViewListing>,
}

pub fn list(project: &Project) -> Result<ListOutcome, FeatureError> {
    let lock = project.read_lock()?;
    let online = if OnlineBackend::exists(project) {
        Some(OnlineBackend::open(project)?)
    } else {
        None
    };
    let mut out = Vec::new();
    for (name, spec) in &project.config().feature_view {
        let info = match &online {
            Some(o) => o.view(name)?,
            None => None,
        };
        out.push(ViewListing {
            view: name.clone(),
            source: spec.source.clone(),
            entities: spec.entities.clone(),
            join_keys: view::join_keys(project, spec)
                .into_iter()
                .map(|(k, t)| (k, t.as_str()))
                .collect(),
            features: spec
                .features
                .iter()
                .map(|(f, t)| (f.clone(), t.as_str()))
                .collect(),
            ttl: spec.ttl.clone(),
            definition: view::definition_digest(project, name, spec),
            offline: lock.feature.get(name).cloned(),
            materialized_at: info
                .as_ref()
                .map(|i| cairn_core::time::format_micros(i.materialized_at)),
            online_entities: info.map(|i| i.rows),
        });
    }
    Ok(ListOutcome { views: out })
}
