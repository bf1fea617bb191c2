//! Entity-keyed rows: the client sends join keys, the inputs come from the online store,
//! read by the same reader as `cairn feature online` (`cairn_feature::OnlineReader`), so the
//! model sees the features its training joined and training/serving skew cannot creep in.
//!
//! A model trained on feature views (`entities` in its spec) records the views it read; each
//! of its inputs is the feature of that name in one of them. A feature the store does not
//! have for an entity, or whose row is older than the view's ttl, is null, and the model's
//! declared imputation fills it (the answer says which inputs were imputed); without one,
//! the row is refused.
//!
//! On Redis, the server reads through one [`SharedOnlineReader`] that every request shares:
//! its reads are async, on one multiplexed connection, so that no thread of the blocking pool
//! waits for Redis and concurrent requests' reads travel together
//! ([`shared_entity_rows`]). On SQLite, each read takes a reader (one connection) from a
//! pool, on the blocking pool ([`entity_rows`]).
//!
//! When the online store cannot answer at all (Redis down or slow: `FeatureError::Unavailable`),
//! every input of the request is imputed as the model declares, the answer says why
//! (`online_store_unavailable`) and `cairn_online_store_unavailable_total` counts it; a model
//! without an imputation for some input gets a 503. The next request tries the store again.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use cairn_core::Project;
use cairn_core::dataset::ColumnType;
use cairn_feature::{EntityFeatures, FeatureError, OnlineReader, SharedOnlineReader};
use cairn_model::artifact::Artifact;
use serde_json::Value;

use crate::error::ScoreError;
use crate::model::Model;
use crate::rows::Rows;

/// Whether and how a model's inputs are read from the online store.
pub(crate) enum Online {
    Ready(OnlineFeatures),
    /// Why entity-keyed rows cannot be scored with this model.
    Unavailable(String),
}

/// The online features of a model's inputs, and open readers to reuse.
pub(crate) struct OnlineFeatures {
    project: Arc<Project>,
    /// `view:feature` for each input, in input order.
    refs: Vec<String>,
    /// The view of each input.
    views: Vec<String>,
    /// Readers not in use (a reader is one SQLite connection: not shared between threads).
    readers: Mutex<Vec<OnlineReader>>,
    /// The reader every request shares when the store is Redis (`Some(None)`: the store is
    /// SQLite; `None`: not opened yet, or opening failed and is tried again).
    shared: Mutex<Option<Option<Arc<SharedOnlineReader>>>>,
}

/// Entity-keyed requests answered by imputation because the online store could not answer
/// (`/metrics`: `cairn_online_store_unavailable_total`).
pub(crate) static STORE_UNAVAILABLE: AtomicU64 = AtomicU64::new(0);

/// What [`entity_rows`] does when the online store cannot answer at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenUnavailable {
    /// Impute every input as the model declares (the server: an answer now beats none).
    Impute,
    /// Fail with the store's error (batch scoring: a table of guesses is worse than a retry).
    Fail,
}

/// Entity rows with their inputs, and which inputs of each row were imputed.
#[derive(Debug, Clone)]
pub struct EntityRows {
    pub rows: Rows,
    pub imputed: Vec<Vec<String>>,
    /// Why the online store could not answer, when every input was imputed for that reason.
    pub unavailable: Option<String>,
}

impl Online {
    pub(crate) fn for_model(project: &Arc<Project>, artifact: &Artifact) -> Online {
        let header = &artifact.header;
        if header.provenance.features.is_empty() {
            return Online::Unavailable(format!(
                "model `{}` was trained on a table, not on feature views: send its inputs, not entities",
                header.model
            ));
        }
        let config = project.config();
        let mut refs = Vec::with_capacity(header.inputs.len());
        let mut views = Vec::with_capacity(header.inputs.len());
        for input in &header.inputs {
            let view = header.provenance.features.keys().find(|view| {
                config
                    .feature_view
                    .get(*view)
                    .is_some_and(|spec| spec.features.contains_key(&input.name))
            });
            let Some(view) = view else {
                return Online::Unavailable(format!(
                    "input `{}` is not a feature of the views the model was trained on ({}) as cairn.toml declares them",
                    input.name,
                    header
                        .provenance
                        .features
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            };
            refs.push(format!("{view}:{}", input.name));
            views.push(view.clone());
        }
        Online::Ready(OnlineFeatures {
            project: Arc::clone(project),
            refs,
            views,
            readers: Mutex::new(Vec::new()),
            shared: Mutex::new(None),
        })
    }

    pub(crate) fn is_ready(&self) -> bool {
        matches!(self, Online::Ready(_))
    }
}

/// The join keys of a model's entity rows, with their types.
pub(crate) fn join_keys(model: &Model) -> Result<BTreeMap<String, ColumnType>, EntityError> {
    match &model.online {
        Online::Ready(store) => Ok(store.join_keys()?),
        Online::Unavailable(reason) => Err(ScoreError::NotOnline {
            reason: reason.clone(),
        }
        .into()),
    }
}

/// Why entity-keyed rows cannot be scored.
#[derive(Debug, thiserror::Error)]
pub enum EntityError {
    /// The request's fault (HTTP 400).
    #[error(transparent)]
    Input(#[from] ScoreError),
    /// The online store cannot answer (not materialized, changed since, unreadable): HTTP 503.
    #[error(transparent)]
    Store(#[from] FeatureError),
}

impl OnlineFeatures {
    /// A reader from the pool, or a new one.
    fn reader(&self) -> Result<OnlineReader, FeatureError> {
        let pooled = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match pooled {
            Some(reader) => Ok(reader),
            None => OnlineReader::open(&self.project, &self.refs, None, false),
        }
    }

    /// The reader every request shares, when the store is Redis; `None` for SQLite.
    fn shared(&self) -> Result<Option<Arc<SharedOnlineReader>>, FeatureError> {
        let mut slot = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(opened) = slot.as_ref() {
            return Ok(opened.clone());
        }
        let opened =
            SharedOnlineReader::open(&self.project, &self.refs, None, false)?.map(Arc::new);
        *slot = Some(opened.clone());
        Ok(opened)
    }

    fn give_back(&self, reader: OnlineReader) {
        self.readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(reader);
    }

    /// The join keys an entity needs, with their types.
    pub(crate) fn join_keys(&self) -> Result<BTreeMap<String, ColumnType>, FeatureError> {
        let reader = self.reader()?;
        let keys = reader.join_keys().clone();
        self.give_back(reader);
        Ok(keys)
    }

    /// The features of each entity as of `now`, the keys checked first (each error names the
    /// key and the row).
    fn read(
        &self,
        entities: &[BTreeMap<String, Value>],
        now: SystemTime,
    ) -> Result<Vec<EntityFeatures>, EntityError> {
        let reader = self.reader()?;
        let checked = check_keys(reader.join_keys(), entities);
        let result = checked
            .map_err(EntityError::from)
            .and_then(|()| reader.read(entities, now).map_err(EntityError::from));
        self.give_back(reader);
        result
    }
}

/// Every row has each join key, of its declared type, and nothing else.
fn check_keys(
    keys: &BTreeMap<String, ColumnType>,
    entities: &[BTreeMap<String, Value>],
) -> Result<(), ScoreError> {
    let listing = || keys.keys().cloned().collect::<Vec<_>>().join(", ");
    for (row, entity) in entities.iter().enumerate() {
        for (name, value) in entity {
            let reason = match (keys.get(name), value) {
                (None, _) => format!("`{name}` is not a join key (the keys: {})", listing()),
                (Some(ColumnType::Int), v) if v.is_i64() => continue,
                (Some(ColumnType::Int), v) => format!("`{name}` is an int key; {v} is not"),
                (Some(_), Value::String(_)) => continue,
                (Some(t), v) => format!("`{name}` is a {} key; {v} is not a string", t.as_str()),
            };
            return Err(ScoreError::Entity {
                field: Some(name.clone()),
                row,
                reason,
            });
        }
        if let Some(missing) = keys.keys().find(|k| !entity.contains_key(*k)) {
            return Err(ScoreError::Entity {
                field: Some(missing.clone()),
                row,
                reason: format!("the join key `{missing}` is missing"),
            });
        }
    }
    Ok(())
}

/// Reads the inputs of entity-keyed rows from the online store, as of `now`.
pub fn entity_rows(
    model: &Model,
    entities: &[BTreeMap<String, Value>],
    now: SystemTime,
    when_unavailable: WhenUnavailable,
) -> Result<EntityRows, EntityError> {
    let store = ready(model, entities)?;
    let read = store.read(entities, now);
    assemble(model, store, entities, read, when_unavailable)
}

/// [`entity_rows`] for the server, when the online store is Redis: the read is async, through
/// the reader every request shares. `None` when the store is SQLite (read it with
/// [`entity_rows`], off the async runtime).
pub async fn shared_entity_rows(
    model: &Model,
    entities: &[BTreeMap<String, Value>],
    now: SystemTime,
    when_unavailable: WhenUnavailable,
) -> Option<Result<EntityRows, EntityError>> {
    let store = match ready(model, entities) {
        Ok(store) => store,
        Err(e) => return Some(Err(e)),
    };
    let read = match store.shared() {
        Ok(None) => return None,
        Ok(Some(reader)) => match check_keys(reader.join_keys(), entities) {
            Ok(()) => reader.read(entities, now).await.map_err(EntityError::from),
            Err(e) => Err(e.into()),
        },
        Err(e) => Err(e.into()),
    };
    Some(assemble(model, store, entities, read, when_unavailable))
}

/// The model's online features, for a request with some entities.
fn ready<'m>(
    model: &'m Model,
    entities: &[BTreeMap<String, Value>],
) -> Result<&'m OnlineFeatures, EntityError> {
    let store = match &model.online {
        Online::Unavailable(reason) => {
            return Err(ScoreError::NotOnline {
                reason: reason.clone(),
            }
            .into());
        }
        Online::Ready(store) => store,
    };
    if entities.is_empty() {
        return Err(ScoreError::Empty.into());
    }
    Ok(store)
}

/// The rows of the model's inputs from what the online store answered: the features read,
/// or, when it could not answer, every input imputed (`WhenUnavailable::Impute`).
fn assemble(
    model: &Model,
    store: &OnlineFeatures,
    entities: &[BTreeMap<String, Value>],
    read: Result<Vec<EntityFeatures>, EntityError>,
    when_unavailable: WhenUnavailable,
) -> Result<EntityRows, EntityError> {
    let schema = &model.schema;
    let (found, unavailable) = match read {
        Err(EntityError::Store(e @ FeatureError::Unavailable { .. }))
            if when_unavailable == WhenUnavailable::Impute =>
        {
            // Nothing read: every view is missing for every entity, and each input is
            // imputed (or the request refused with the store's error).
            let imputes_all = (0..schema.len()).all(|slot| schema.imputes(slot));
            if !imputes_all {
                return Err(e.into());
            }
            let mut views: Vec<String> = store.views.clone();
            views.sort();
            views.dedup();
            let none = entities
                .iter()
                .map(|keys| EntityFeatures {
                    keys: keys.clone(),
                    features: BTreeMap::new(),
                    event_times: BTreeMap::new(),
                    expired: Vec::new(),
                    missing: views.clone(),
                })
                .collect();
            STORE_UNAVAILABLE.fetch_add(1, Ordering::Relaxed);
            (none, Some(e.to_string()))
        }
        other => (other?, None),
    };
    let mut rows = Rows::with_capacity(schema.len(), found.len());
    let mut imputed = Vec::with_capacity(found.len());
    for (row_features, entity) in found.into_iter().zip(0..) {
        let row = rows.push_row();
        debug_assert_eq!(row, entity);
        let EntityFeatures {
            mut features,
            expired,
            missing,
            ..
        } = row_features;
        let mut filled = Vec::new();
        for (slot, input) in schema.inputs().iter().enumerate() {
            let value = features.remove(&input.name).unwrap_or(Value::Null);
            if value.is_null() {
                let view = &store.views[slot];
                if !schema.imputes(slot) {
                    let why = if expired.iter().any(|v| v == view) {
                        format!("view `{view}`'s row for this entity is older than its ttl")
                    } else if missing.iter().any(|v| v == view) {
                        format!("the online store has no row of view `{view}` for this entity")
                    } else {
                        format!("the online store holds null for it in view `{view}`")
                    };
                    return Err(ScoreError::Null {
                        field: input.name.clone(),
                        row,
                        why: Some(why),
                    }
                    .into());
                }
                filled.push(input.name.clone());
            }
            let _ = rows.set(row, slot, value);
        }
        imputed.push(filled);
    }
    Ok(EntityRows {
        rows,
        imputed,
        unavailable,
    })
}
