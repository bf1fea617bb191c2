//! `cairn feature online`: the latest features of entities from the online store, with the
//! view's ttl enforced on read, and the resolution of feature references shared with
//! historical joins.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use cairn_core::Project;
use cairn_core::dataset::ColumnType;
use cairn_core::features::FeatureRef;
use serde::Serialize;

use crate::FeatureError;
use crate::online::OnlineStore;
use crate::view;

/// The requested features grouped by view, in the order first requested. Either explicit
/// `view:feature` references (comma-separated lists allowed) or a service's list.
pub(crate) fn resolve(
    project: &Project,
    features: &[String],
    service: Option<&str>,
) -> Result<Vec<(String, Vec<String>)>, FeatureError> {
    let config = project.config();
    let mut texts: Vec<String> = features
        .iter()
        .flat_map(|f| f.split(','))
        .map(|f| f.trim().to_owned())
        .filter(|f| !f.is_empty())
        .collect();
    if let Some(name) = service {
        let s = config
            .feature_service
            .get(name)
            .ok_or_else(|| FeatureError::UnknownService {
                name: name.to_owned(),
                declared: config
                    .feature_service
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        texts.extend(s.features.iter().cloned());
    }
    if texts.is_empty() {
        return Err(FeatureError::NothingRequested);
    }
    let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
    for text in texts {
        let r =
            FeatureRef::parse(&text).ok_or(FeatureError::BadReference { text: text.clone() })?;
        let spec = config
            .feature_view
            .get(&r.view)
            .ok_or_else(|| FeatureError::UnknownView {
                name: r.view.clone(),
                declared: config
                    .feature_view
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        if !spec.features.contains_key(&r.feature) {
            return Err(FeatureError::UnknownFeature {
                view: r.view.clone(),
                feature: r.feature.clone(),
                features: spec.features.keys().cloned().collect::<Vec<_>>().join(", "),
            });
        }
        match grouped.iter_mut().find(|(v, _)| *v == r.view) {
            Some((_, list)) => {
                if !list.contains(&r.feature) {
                    list.push(r.feature);
                }
            }
            None => grouped.push((r.view, vec![r.feature])),
        }
    }
    Ok(grouped)
}

/// Output column names: `feature`, or `view__feature` with `full_names`; two views giving the
/// same name is an error naming both.
pub(crate) fn output_names(
    grouped: &[(String, Vec<String>)],
    full_names: bool,
) -> Result<Vec<(String, String, String)>, FeatureError> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    for (view, features) in grouped {
        for feature in features {
            let name = if full_names {
                format!("{view}__{feature}")
            } else {
                feature.clone()
            };
            if let Some((first, _, _)) = out.iter().find(|(_, _, n)| *n == name) {
                return Err(FeatureError::NameClash {
                    feature: name,
                    first: first.clone(),
                    second: view.clone(),
                });
            }
            out.push((view.clone(), feature.clone(), name));
        }
    }
    Ok(out)
}

pub struct OnlineOptions {
    /// One entity per item: `key=value[,key=value…]`.
    pub entities: Vec<String>,
    pub features: Vec<String>,
    pub service: Option<String>,
    pub full_names: bool,
    pub now: SystemTime,
}

#[derive(Debug, Clone, Serialize)]
pub struct OnlineOutcome {
    pub entities: Vec<EntityFeatures>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EntityFeatures {
    pub keys: BTreeMap<String, serde_json::Value>,
    pub features: BTreeMap<String, serde_json::Value>,
    /// Event time of each view's row (RFC 3339); absent when the entity has no row.
    pub event_times: BTreeMap<String, String>,
    /// Views whose row is older than their ttl: their features are null.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expired: Vec<String>,
    /// Views with no row for this entity: their features are null.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// Parses `key=value,key=value` with the declared key types.
fn parse_entity(
    text: &str,
    types: &BTreeMap<String, ColumnType>,
) -> Result<BTreeMap<String, serde_json::Value>, FeatureError> {
    let bad = |reason: String| FeatureError::BadEntity {
        text: text.to_owned(),
        reason,
    };
    let mut keys = BTreeMap::new();
    for pair in text.split(',') {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| bad(format!("`{pair}` is not key=value")))?;
        let (k, v) = (k.trim(), v.trim());
        let value = match types.get(k) {
            None => {
                return Err(bad(format!(
                    "`{k}` is not a join key (the keys are: {})",
                    types.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            Some(ColumnType::Int) => v
                .parse::<i64>()
                .map(serde_json::Value::from)
                .map_err(|_| bad(format!("`{k}` is an int key; `{v}` is not an integer")))?,
            Some(_) => serde_json::Value::from(v),
        };
        keys.insert(k.to_owned(), value);
    }
    Ok(keys)
}

pub fn online(project: &Project, options: &OnlineOptions) -> Result<OnlineOutcome, FeatureError> {
    let config = project.config();
    let grouped = resolve(project, &options.features, options.service.as_deref())?;
    let names = output_names(&grouped, options.full_names)?;
    let mut types = BTreeMap::new();
    for (view, _) in &grouped {
        for (k, t) in view::join_keys(project, &config.feature_view[view]) {
            types.insert(k, t);
        }
    }
    let entities: Vec<BTreeMap<String, serde_json::Value>> = options
        .entities
        .iter()
        .map(|e| parse_entity(e, &types))
        .collect::<Result<_, _>>()?;
    // Reading never creates the store: without one, nothing was materialized here.
    if !project.state_dir().join("online.db").exists() {
        return Err(FeatureError::NotMaterialized {
            view: grouped[0].0.clone(),
        });
    }
    let store = OnlineStore::open(&project.state_dir())?;
    let now_us = options
        .now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64);
    let mut out: Vec<EntityFeatures> = entities
        .iter()
        .map(|keys| EntityFeatures {
            keys: keys.clone(),
            features: BTreeMap::new(),
            event_times: BTreeMap::new(),
            expired: Vec::new(),
            missing: Vec::new(),
        })
        .collect();
    for (view, _) in &grouped {
        let spec = &config.feature_view[view];
        match store.view(view)? {
            None => return Err(FeatureError::NotMaterialized { view: view.clone() }),
            Some(info)
                if info.definition != view::definition_digest(project, view, spec).to_hex() =>
            {
                return Err(FeatureError::Stale { view: view.clone() });
            }
            Some(_) => {}
        }
        let key_names: Vec<String> = view::join_keys(project, spec)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let keys: Vec<String> = entities
            .iter()
            .map(|e| {
                key_names
                    .iter()
                    .map(|k| {
                        e.get(k).cloned().ok_or_else(|| FeatureError::BadEntity {
                            text: options
                                .entities
                                .iter()
                                .zip(&entities)
                                .find(|(_, parsed)| !parsed.contains_key(k))
                                .map_or_else(String::new, |(text, _)| text.clone()),
                            reason: format!("view `{view}` needs the join key `{k}`"),
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(|v| serde_json::Value::Array(v).to_string())
            })
            .collect::<Result<_, _>>()?;
        let rows = store.read(view, &keys)?;
        let ttl_us = spec.ttl().map(|d| d.as_micros() as i64);
        for (entity, row) in out.iter_mut().zip(rows) {
            let fresh = match &row {
                None => {
                    entity.missing.push(view.clone());
                    None
                }
                Some(row) => {
                    entity
                        .event_times
                        .insert(view.clone(), crate::format_micros(row.event_us));
                    if ttl_us.is_some_and(|ttl| now_us - row.event_us > ttl) {
                        entity.expired.push(view.clone());
                        None
                    } else {
                        Some(row)
                    }
                }
            };
            for (_, feature, name) in names.iter().filter(|(v, _, _)| v == view) {
                let value = fresh
                    .and_then(|r| r.features.get(feature).cloned())
                    .unwrap_or(serde_json::Value::Null);
                entity.features.insert(name.clone(), value);
            }
        }
    }
    Ok(OnlineOutcome { entities: out })
}
