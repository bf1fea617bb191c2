//! `cairn feature online`: the latest features of entities from the online store, with the
//! view's ttl enforced on read (against the clock, or as of a given moment), and the
//! resolution of feature references shared with historical joins.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::SystemTime;

use cairn_core::Project;
use cairn_core::dataset::ColumnType;
use cairn_core::features::FeatureRef;
use serde::Serialize;

use crate::FeatureError;
use crate::online::{OnlineBackend, OnlineStore};
use crate::online_redis::{ReadViews, RedisStore, SharedReader, ViewRead};
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

/// Output column names: `feature`, or `view__feature` with `full_names`. This is where a clash
/// is refused: two views giving the same unqualified name is an error naming both (a service
/// may hold such features; it is asked for with `full_names` then).
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
    /// Name features `view__feature`. Without it, two requested features with one name (from
    /// two views) are refused with [`FeatureError::NameClash`].
    pub full_names: bool,
    /// The clock: without `at`, each view's ttl is measured against it.
    pub now: SystemTime,
    /// Serve the features as of this moment (UTC microseconds) instead of now: the ttl is
    /// measured against it, and a row whose event time is after it is not served. The online
    /// store keeps only each entity's latest row, so the value at `at` is then unknown: the
    /// view is listed in `missing`, as if the entity had no row.
    pub at: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OnlineOutcome {
    pub entities: Vec<EntityFeatures>,
    /// The moment served (RFC 3339), when it was given; absent: now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
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
    /// Views with no row for this entity (read as of a moment: no row at or before it), and
    /// no event time: their features are null.
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
    let request = Request::new(
        project,
        &options.features,
        options.service.as_deref(),
        options.full_names,
    )?;
    let entities: Vec<BTreeMap<String, serde_json::Value>> = options
        .entities
        .iter()
        .map(|e| parse_entity(e, &request.key_types))
        .collect::<Result<_, _>>()?;
    let reader = request.open(project)?;
    let moment = match options.at {
        Some(at) => Moment::at(at),
        None => Moment::now(options.now),
    };
    let entities = reader.read_entities(&entities, moment, |i| options.entities[i].clone())?;
    Ok(OnlineOutcome {
        entities,
        at: options.at.map(cairn_core::time::format_micros),
    })
}

/// The moment a read answers for.
#[derive(Debug, Clone, Copy)]
struct Moment {
    /// UTC microseconds; ttl is measured against it.
    us: i64,
    /// Whether rows with an event time after `us` are hidden (a moment given by the caller)
    /// or served (the clock: a row stamped in the future is the latest there is).
    hide_newer: bool,
}

impl Moment {
    fn now(now: SystemTime) -> Self {
        Moment {
            us: cairn_core::time::micros_of(now),
            hide_newer: false,
        }
    }

    fn at(us: i64) -> Self {
        Moment {
            us,
            hide_newer: true,
        }
    }
}

/// Online reads for a caller that reads many times, such as a model server: the features are
/// resolved against `cairn.toml` and the online store is opened once, by
/// [`OnlineReader::open`]; then every [`OnlineReader::read`] is one read transaction over
/// cached prepared statements. `cairn feature online` is one `open` and one `read`.
pub struct OnlineReader {
    store: OnlineBackend,
    request: Request,
}

/// The requested features, resolved against `cairn.toml`.
struct Request {
    views: Vec<ViewRequest>,
    /// The join keys of all the views, with their types.
    key_types: BTreeMap<String, ColumnType>,
    /// Every output name, in order.
    names: Vec<String>,
}

/// What a read needs of one view.
struct ViewRequest {
    view: String,
    /// The digest of its definition in `cairn.toml`, which the store's must match.
    definition: String,
    key_names: Vec<String>,
    ttl_us: Option<i64>,
    /// The requested features and their output names.
    features: Vec<(String, String)>,
}

impl Request {
    fn new(
        project: &Project,
        features: &[String],
        service: Option<&str>,
        full_names: bool,
    ) -> Result<Self, FeatureError> {
        let config = project.config();
        let grouped = resolve(project, features, service)?;
        let names = output_names(&grouped, full_names)?;
        let mut key_types = BTreeMap::new();
        let views = grouped
            .iter()
            .map(|(view, _)| {
                let spec = &config.feature_view[view];
                let keys = view::join_keys(project, spec);
                let key_names = keys.iter().map(|(k, _)| k.clone()).collect();
                for (k, t) in keys {
                    key_types.insert(k, t);
                }
                ViewRequest {
                    view: view.clone(),
                    definition: view::definition_digest(project, view, spec).to_hex(),
                    key_names,
                    ttl_us: spec.ttl().map(|d| d.as_micros() as i64),
                    features: names
                        .iter()
                        .filter(|(v, _, _)| v == view)
                        .map(|(_, feature, name)| (feature.clone(), name.clone()))
                        .collect(),
                }
            })
            .collect();
        Ok(Request {
            views,
            key_types,
            names: names.into_iter().map(|(_, _, name)| name).collect(),
        })
    }

    /// An entity's keys are join keys of the requested views, of their declared types.
    fn check_entity(&self, keys: &BTreeMap<String, serde_json::Value>) -> Result<(), FeatureError> {
        let types = &self.key_types;
        for (k, v) in keys {
            let reason = match (types.get(k), v) {
                (None, _) => format!(
                    "`{k}` is not a join key (the keys are: {})",
                    types.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
                (Some(ColumnType::Int), v) if v.is_i64() => continue,
                (Some(ColumnType::Int), v) => {
                    format!("`{k}` is an int key; `{v}` is not an integer")
                }
                (Some(_), serde_json::Value::String(_)) => continue,
                (Some(t), v) => format!("`{k}` is a {} key; `{v}` is not a string", t.as_str()),
            };
            return Err(FeatureError::BadEntity {
                text: entity_text(keys),
                reason,
            });
        }
        Ok(())
    }

    fn open(self, project: &Project) -> Result<OnlineReader, FeatureError> {
        // Reading never creates the store: without one, nothing was materialized here.
        if !OnlineBackend::exists(project) {
            return Err(FeatureError::NotMaterialized {
                view: self.views[0].view.clone(),
            });
        }
        Ok(OnlineReader {
            store: OnlineBackend::open(project)?,
            request: self,
        })
    }
}

impl OnlineReader {
    /// Resolves the features (explicit `view:feature` references and/or a service's list, as
    /// `cairn feature online` takes them) and opens the online store. The views are checked
    /// (materialized, not changed since) by every read, not here.
    pub fn open(
        project: &Project,
        features: &[String],
        service: Option<&str>,
        full_names: bool,
    ) -> Result<Self, FeatureError> {
        Request::new(project, features, service, full_names)?.open(project)
    }

    /// The output name of every requested feature, in order.
    pub fn names(&self) -> &[String] {
        &self.request.names
    }

    /// The join keys an entity needs, with their types.
    pub fn join_keys(&self) -> &BTreeMap<String, ColumnType> {
        &self.request.key_types
    }

    /// The latest features of each entity (its join keys: an integer for an `int` key, a
    /// string otherwise), in order, with each view's ttl enforced as of `now`: the same answer
    /// as `cairn feature online`. All the entities are read in one read transaction.
    pub fn read(
        &self,
        entities: &[BTreeMap<String, serde_json::Value>],
        now: SystemTime,
    ) -> Result<Vec<EntityFeatures>, FeatureError> {
        for keys in entities {
            self.check_entity(keys)?;
        }
        self.read_entities(entities, Moment::now(now), |i| entity_text(&entities[i]))
    }

    /// [`Self::read`] as of the moment `at` (UTC microseconds) instead of now: each view's ttl
    /// is measured against `at`, and a row whose event time is after `at` is not served (the
    /// store keeps only the latest row, so the value at `at` is unknown): the view is listed in
    /// `missing`. The same answer as `cairn feature online --at`.
    pub fn read_at(
        &self,
        entities: &[BTreeMap<String, serde_json::Value>],
        at: i64,
    ) -> Result<Vec<EntityFeatures>, FeatureError> {
        for keys in entities {
            self.check_entity(keys)?;
        }
        self.read_entities(entities, Moment::at(at), |i| entity_text(&entities[i]))
    }

    fn check_entity(&self, keys: &BTreeMap<String, serde_json::Value>) -> Result<(), FeatureError> {
        self.request.check_entity(keys)
    }

    /// [`Self::read`] without checking the keys' names and types; `text` names the `i`-th
    /// entity in an error.
    fn read_entities(
        &self,
        entities: &[BTreeMap<String, serde_json::Value>],
        moment: Moment,
        text: impl Fn(usize) -> String,
    ) -> Result<Vec<EntityFeatures>, FeatureError> {
        let mut out = blank(entities);
        match &self.store {
            OnlineBackend::Sqlite(store) => {
                self.read_sqlite(store, entities, moment, &text, &mut out)?;
            }
            OnlineBackend::Redis(store) => {
                self.read_redis(store, entities, moment, &text, &mut out)?;
            }
        }
        Ok(out)
    }

    /// The SQLite store: every view in one read transaction, one cached statement per view.
    fn read_sqlite(
        &self,
        store: &OnlineStore,
        entities: &[BTreeMap<String, serde_json::Value>],
        moment: Moment,
        text: &impl Fn(usize) -> String,
        out: &mut [EntityFeatures],
    ) -> Result<(), FeatureError> {
        // The views' definitions and their rows from the same version of the store.
        let _snapshot = store.snapshot()?;
        // All the keys of one view, one after another in one buffer.
        let mut buffer = String::new();
        let mut ends: Vec<usize> = Vec::with_capacity(entities.len());
        let mut values: Vec<serde_json::Value> = Vec::new();
        for request in &self.request.views {
            let view = &request.view;
            request.check(store.view(view)?)?;
            entity_keys(request, entities, text, &mut buffer, &mut ends)?;
            let keys = ends.iter().scan(0, |start, &end| {
                Some(&buffer[std::mem::replace(start, end)..end])
            });
            store.read_raw(view, keys, |i, row| {
                let event_us = match row {
                    Some(row) => {
                        pick_features(row.features, &request.features, &mut values)
                            .map_err(|e| store.damaged(view, &e))?;
                        Some(row.event_us)
                    }
                    None => None,
                };
                request.fill(&mut out[i], event_us, moment, &mut values);
                Ok(())
            })?;
        }
        Ok(())
    }

    /// The Redis store: every entity of every view in one round trip.
    fn read_redis(
        &self,
        store: &RedisStore,
        entities: &[BTreeMap<String, serde_json::Value>],
        moment: Moment,
        text: &impl Fn(usize) -> String,
        out: &mut [EntityFeatures],
    ) -> Result<(), FeatureError> {
        let keys = self.request.redis_keys(entities, text)?;
        let answers = store.read_views(&self.request.redis_reads(&keys))?;
        self.request.fill_redis(store.url(), answers, moment, out)
    }
}

/// Online reads for a server that answers many requests at once from the Redis online store:
/// one reader that every request shares, whose reads are async and go out on one multiplexed
/// connection (see [`SharedReader`]). The same answers as [`OnlineReader::read`].
pub struct SharedOnlineReader {
    store: SharedReader,
    request: Request,
}

impl SharedOnlineReader {
    /// [`OnlineReader::open`] for a project whose online store is Redis; `None` when it is
    /// SQLite (read it with an [`OnlineReader`]: SQLite has no async reads).
    pub fn open(
        project: &Project,
        features: &[String],
        service: Option<&str>,
        full_names: bool,
    ) -> Result<Option<Self>, FeatureError> {
        let reader = Request::new(project, features, service, full_names)?.open(project)?;
        match reader.store {
            OnlineBackend::Redis(store) => Ok(Some(Self {
                store: store.shared_reader(),
                request: reader.request,
            })),
            OnlineBackend::Sqlite(_) => Ok(None),
        }
    }

    /// The join keys an entity needs, with their types.
    pub fn join_keys(&self) -> &BTreeMap<String, ColumnType> {
        &self.request.key_types
    }

    /// [`OnlineReader::read`], async.
    pub async fn read(
        &self,
        entities: &[BTreeMap<String, serde_json::Value>],
        now: SystemTime,
    ) -> Result<Vec<EntityFeatures>, FeatureError> {
        for keys in entities {
            self.request.check_entity(keys)?;
        }
        let text = |i: usize| entity_text(&entities[i]);
        let mut out = blank(entities);
        let keys = self.request.redis_keys(entities, &text)?;
        let answers = self
            .store
            .read_views(&self.request.redis_reads(&keys))
            .await?;
        self.request
            .fill_redis(self.store.url(), answers, Moment::now(now), &mut out)?;
        Ok(out)
    }
}

/// Each entity with its keys and nothing read yet.
fn blank(entities: &[BTreeMap<String, serde_json::Value>]) -> Vec<EntityFeatures> {
    entities
        .iter()
        .map(|keys| EntityFeatures {
            keys: keys.clone(),
            features: BTreeMap::new(),
            event_times: BTreeMap::new(),
            expired: Vec::new(),
            missing: Vec::new(),
        })
        .collect()
}

/// The keys of every entity for one view, one after another in a buffer, and where each ends.
type ViewKeys = (String, Vec<usize>);

impl Request {
    /// Each view's entity keys (see [`entity_keys`]).
    fn redis_keys(
        &self,
        entities: &[BTreeMap<String, serde_json::Value>],
        text: &impl Fn(usize) -> String,
    ) -> Result<Vec<ViewKeys>, FeatureError> {
        let mut buffers = Vec::with_capacity(self.views.len());
        for request in &self.views {
            let mut buffer = String::new();
            let mut ends = Vec::with_capacity(entities.len());
            entity_keys(request, entities, text, &mut buffer, &mut ends)?;
            buffers.push((buffer, ends));
        }
        Ok(buffers)
    }

    /// What to read of each view, with the keys of [`Self::redis_keys`].
    fn redis_reads<'a>(&'a self, keys: &'a [ViewKeys]) -> Vec<ViewRead<'a>> {
        self.views
            .iter()
            .zip(keys)
            .map(|(request, (buffer, ends))| ViewRead {
                view: &request.view,
                features: request.features.iter().map(|(f, _)| f.as_str()).collect(),
                keys: ends
                    .iter()
                    .scan(0, |start, &end| {
                        Some(&buffer[std::mem::replace(start, end)..end])
                    })
                    .collect(),
            })
            .collect()
    }

    /// Puts what Redis answered into `out`: each view checked (materialized, unchanged),
    /// each feature's JSON text decoded.
    fn fill_redis(
        &self,
        url: &str,
        answers: ReadViews,
        moment: Moment,
        out: &mut [EntityFeatures],
    ) -> Result<(), FeatureError> {
        let mut values: Vec<serde_json::Value> = Vec::new();
        for (request, answer) in self.views.iter().zip(answers) {
            let (info, rows) = match answer {
                Some((info, rows)) => (Some(info), rows),
                None => (None, Vec::new()),
            };
            request.check(info)?;
            for (i, row) in rows.into_iter().enumerate() {
                let event_us = match row {
                    Some(row) => {
                        values.clear();
                        for value in row.values {
                            values.push(match value {
                                Some(json) => serde_json::from_str(&json).map_err(|e| {
                                    FeatureError::Unavailable {
                                        url: url.to_owned(),
                                        message: format!(
                                            "a row of view {} is damaged: {e}",
                                            request.view
                                        ),
                                    }
                                })?,
                                None => serde_json::Value::Null,
                            });
                        }
                        Some(row.event_us)
                    }
                    None => None,
                };
                request.fill(&mut out[i], event_us, moment, &mut values);
            }
        }
        Ok(())
    }
}

impl ViewRequest {
    /// The store's record of the view: materialized, from the definition in `cairn.toml`.
    fn check(&self, info: Option<crate::ViewInfo>) -> Result<(), FeatureError> {
        match info {
            None => Err(FeatureError::NotMaterialized {
                view: self.view.clone(),
            }),
            Some(info) if info.definition != self.definition => Err(FeatureError::Stale {
                view: self.view.clone(),
            }),
            Some(_) => Ok(()),
        }
    }

    /// Puts the view's features into `entity`: `values` (the requested features in order)
    /// when the row (its event time) is there, fresh and not newer than the moment; nulls
    /// otherwise, with the view listed as missing or expired.
    fn fill(
        &self,
        entity: &mut EntityFeatures,
        event_us: Option<i64>,
        moment: Moment,
        values: &mut [serde_json::Value],
    ) {
        let view = &self.view;
        let fresh = match event_us {
            None => {
                entity.missing.push(view.clone());
                false
            }
            // Newer than the moment asked for: what the entity had then is not kept.
            Some(event_us) if moment.hide_newer && event_us > moment.us => {
                entity.missing.push(view.clone());
                false
            }
            Some(event_us) => {
                entity
                    .event_times
                    .insert(view.clone(), cairn_core::time::format_micros(event_us));
                if self.ttl_us.is_some_and(|ttl| moment.us - event_us > ttl) {
                    entity.expired.push(view.clone());
                    false
                } else {
                    true
                }
            }
        };
        for (n, (_, name)) in self.features.iter().enumerate() {
            let value = if fresh {
                std::mem::take(&mut values[n])
            } else {
                serde_json::Value::Null
            };
            entity.features.insert(name.clone(), value);
        }
    }
}

/// The keys of every entity for one view (JSON arrays of its join key values, compact as
/// materialize wrote them), one after another in `buffer`, each ending at its `ends` entry.
fn entity_keys(
    request: &ViewRequest,
    entities: &[BTreeMap<String, serde_json::Value>],
    text: &impl Fn(usize) -> String,
    buffer: &mut String,
    ends: &mut Vec<usize>,
) -> Result<(), FeatureError> {
    buffer.clear();
    ends.clear();
    for (i, e) in entities.iter().enumerate() {
        buffer.push('[');
        for (n, k) in request.key_names.iter().enumerate() {
            let value = e.get(k).ok_or_else(|| FeatureError::BadEntity {
                text: text(i),
                reason: format!("view `{}` needs the join key `{k}`", request.view),
            })?;
            if n > 0 {
                buffer.push(',');
            }
            let _ = write!(buffer, "{value}");
        }
        buffer.push(']');
        ends.push(buffer.len());
    }
    Ok(())
}

/// An entity as `key=value[,key=value…]` (how `cairn feature online` takes it), for messages.
fn entity_text(keys: &BTreeMap<String, serde_json::Value>) -> String {
    keys.iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Decodes the requested features from a row's JSON object into `values` (in the order of
/// `features`; null where the object has no such feature), skipping the others.
fn pick_features(
    json: &str,
    features: &[(String, String)],
    values: &mut Vec<serde_json::Value>,
) -> Result<(), serde_json::Error> {
    use serde::de::DeserializeSeed as _;
    values.clear();
    values.resize(features.len(), serde_json::Value::Null);
    let mut de = serde_json::Deserializer::from_str(json);
    Pick { features, values }.deserialize(&mut de)?;
    de.end()
}

/// The `DeserializeSeed` of [`pick_features`].
struct Pick<'a> {
    features: &'a [(String, String)],
    values: &'a mut [serde_json::Value],
}

impl<'de> serde::de::DeserializeSeed<'de> for Pick<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Pick<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let name = match &key {
                Key::Borrowed(k) => k,
                Key::Owned(k) => k.as_str(),
            };
            match self.features.iter().position(|(f, _)| f == name) {
                // A repeated feature: the last value counts.
                Some(n) => self.values[n] = map.next_value()?,
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// An object's key, borrowed from the JSON text unless it has escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> serde::de::Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }

            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_owned()))
            }
        }
        de.deserialize_str(KeyVisitor)
    }
}
