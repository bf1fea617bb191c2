//! The online store, `.cairn/online.db` (SQLite, WAL): the latest row of each entity for each
//! view, one row per entity per view (docs/formats/online.md).
//!
//! ```sql
//! CREATE TABLE views (view TEXT PRIMARY KEY, rows INTEGER, offline TEXT, definition TEXT,
//!                     ttl_seconds INTEGER, materialized_at INTEGER);
//! CREATE TABLE "fv:VIEW" (key TEXT PRIMARY KEY,       -- JSON array of the join key values
//!                         event_us INTEGER NOT NULL,  -- event time, UTC microseconds
//!                         created_us INTEGER,         -- created time, UTC microseconds
//!                         features TEXT NOT NULL);    -- JSON object: feature -> value
//! ```
//! A view's rows are replaced in one transaction (a new table renamed over the old one), so a
//! reader sees the old rows or the new ones, never a mix.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::FeatureError;

/// The version of the online store's schema (`PRAGMA user_version`).
pub const ONLINE_VERSION: i64 = 1;

pub struct OnlineStore {
    conn: Connection,
    path: PathBuf,
}

/// One entity's row of one view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OnlineRow {
    pub event_us: i64,
    pub created_us: Option<i64>,
    pub features: serde_json::Map<String, serde_json::Value>,
}

/// What the store knows about a materialized view.
#[derive(Debug, Clone, Serialize)]
pub struct ViewInfo {
    pub view: String,
    pub rows: u64,
    pub offline: String,
    pub definition: String,
    pub ttl_seconds: Option<u64>,
    pub materialized_at: i64,
}

/// Rows to replace a view with, a batch at a time (see [`OnlineStore::replace_view`]).
pub type RowBatches<'a> = dyn Iterator<Item = Result<Vec<NewRow>, FeatureError>> + Send + 'a;

/// The rows to write into one view: the view's features, and one row per entity.
#[derive(Debug, Clone, Default)]
pub struct NewRows {
    /// The features' names, in name order: the order of every row's `values`.
    pub names: Vec<String>,
    pub rows: Vec<NewRow>,
}

/// A row to write: the JSON key, the times, and each feature's value as JSON text.
#[derive(Debug, Clone)]
pub struct NewRow {
    pub key: String,
    pub event_us: i64,
    pub created_us: Option<i64>,
    /// The value of each of [`NewRows::names`] as compact JSON text; `None` for a null.
    pub values: Vec<Option<String>>,
}

impl NewRows {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Each row's features as SQLite's `features` column holds them: a JSON object with
    /// every feature in name order, `null` for a missing value (`names` as JSON strings,
    /// from [`Self::quoted_names`]).
    fn object(quoted: &[String], row: &NewRow, out: &mut String) {
        out.clear();
        out.push('{');
        for (n, (name, value)) in quoted.iter().zip(&row.values).enumerate() {
            if n > 0 {
                out.push(',');
            }
            out.push_str(name);
            out.push(':');
            out.push_str(value.as_deref().unwrap_or("null"));
        }
        out.push('}');
    }

    /// The names as JSON strings (quoted and escaped).
    fn quoted_names(&self) -> Vec<String> {
        quoted(&self.names)
    }

    /// The rows as one batch, for [`OnlineBackend::replace_view`].
    pub fn batches(&self) -> impl Iterator<Item = Result<Vec<NewRow>, FeatureError>> + Send {
        std::iter::once(Ok(self.rows.clone()))
    }
}

/// Names as JSON strings (quoted and escaped).
fn quoted(names: &[String]) -> Vec<String> {
    names
        .iter()
        .map(|n| serde_json::Value::from(n.as_str()).to_string())
        .collect()
}

/// The `views` row of a view, inside the transaction that wrote its rows.
fn record_view(tx: &rusqlite::Transaction<'_>, info: &ViewInfo, rows: i64) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO views (view, rows, offline, definition, ttl_seconds, materialized_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(view) DO UPDATE SET rows = excluded.rows, offline = excluded.offline,
             definition = excluded.definition, ttl_seconds = excluded.ttl_seconds,
             materialized_at = excluded.materialized_at",
        params![
            info.view,
            rows,
            info.offline,
            info.definition,
            info.ttl_seconds.map(|s| s as i64),
            info.materialized_at
        ],
    )
    .map(drop)
}

fn table(view: &str) -> String {
    format!("\"fv:{view}\"")
}

impl OnlineStore {
    pub fn open(cairn_dir: &Path) -> Result<Self, FeatureError> {
        let path = cairn_dir.join("online.db");
        let db = |e: rusqlite::Error| FeatureError::Online {
            path: path.clone(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(cairn_dir).map_err(|source| FeatureError::Write {
            path: cairn_dir.to_path_buf(),
            source,
        })?;
        let conn = Connection::open(&path).map_err(db)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(db)?;
        if version > ONLINE_VERSION {
            return Err(FeatureError::Online {
                path: path.clone(),
                message: format!(
                    "schema version {version}, but this cairn understands {ONLINE_VERSION}: it was written by a newer cairn"
                ),
            });
        }
        if version < ONLINE_VERSION {
            conn.execute_batch(&format!(
                "CREATE TABLE IF NOT EXISTS views (
                     view TEXT PRIMARY KEY, rows INTEGER NOT NULL, offline TEXT NOT NULL,
                     definition TEXT NOT NULL, ttl_seconds INTEGER,
                     materialized_at INTEGER NOT NULL);
                 PRAGMA user_version = {ONLINE_VERSION};"
            ))
            .map_err(db)?;
        }
        Ok(Self { conn, path })
    }

    fn db(&self) -> impl Fn(rusqlite::Error) -> FeatureError + '_ {
        |e| FeatureError::Online {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Replaces all rows of `info.view` at once with the rows of `batches` (each row's values
    /// in the order of `names`); the view's row count is the number of rows written
    /// (`info.rows` is not read).
    pub fn replace_view(
        &mut self,
        info: &ViewInfo,
        names: &[String],
        batches: &mut RowBatches<'_>,
    ) -> Result<(), FeatureError> {
        let path = self.path.clone();
        let db = |e: rusqlite::Error| FeatureError::Online {
            path: path.clone(),
            message: e.to_string(),
        };
        let tx = self.conn.transaction().map_err(db)?;
        let mut written: i64 = 0;
        let fresh = table(&format!("{}#new", info.view));
        tx.execute_batch(&format!(
            "DROP TABLE IF EXISTS {fresh};
             CREATE TABLE {fresh} (key TEXT PRIMARY KEY, event_us INTEGER NOT NULL,
                                   created_us INTEGER, features TEXT NOT NULL);"
        ))
        .map_err(db)?;
        {
            let mut insert = tx
                .prepare(&format!(
                    "INSERT INTO {fresh} (key, event_us, created_us, features) VALUES (?1, ?2, ?3, ?4)"
                ))
                .map_err(db)?;
            let quoted = quoted(names);
            let mut features = String::new();
            for batch in batches {
                for row in batch? {
                    NewRows::object(&quoted, &row, &mut features);
                    insert
                        .execute(params![row.key, row.event_us, row.created_us, features])
                        .map_err(db)?;
                    written += 1;
                }
            }
        }
        let old = table(&info.view);
        tx.execute_batch(&format!(
            "DROP TABLE IF EXISTS {old}; ALTER TABLE {fresh} RENAME TO {old};"
        ))
        .map_err(db)?;
        record_view(&tx, info, written).map_err(db)?;
        tx.commit().map_err(db)
    }

    /// Adds or updates rows of `info.view` in one transaction, never replacing a row with an
    /// older one (a smaller event time, or the same event time and a smaller created time).
    pub fn upsert_rows(&mut self, info: &ViewInfo, rows: &NewRows) -> Result<(), FeatureError> {
        let path = self.path.clone();
        let db = |e: rusqlite::Error| FeatureError::Online {
            path: path.clone(),
            message: e.to_string(),
        };
        let tx = self.conn.transaction().map_err(db)?;
        let t = table(&info.view);
        tx.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {t} (key TEXT PRIMARY KEY, event_us INTEGER NOT NULL,
                                             created_us INTEGER, features TEXT NOT NULL);"
        ))
        .map_err(db)?;
        {
            let mut upsert = tx
                .prepare(&format!(
                    "INSERT INTO {t} (key, event_us, created_us, features) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(key) DO UPDATE SET event_us = excluded.event_us,
                         created_us = excluded.created_us, features = excluded.features
                     WHERE excluded.event_us > {t}.event_us
                        OR (excluded.event_us = {t}.event_us
                            AND coalesce(excluded.created_us, -9223372036854775808)
                                >= coalesce({t}.created_us, -9223372036854775808))"
                ))
                .map_err(db)?;
            let quoted = rows.quoted_names();
            let mut features = String::new();
            for row in &rows.rows {
                NewRows::object(&quoted, row, &mut features);
                upsert
                    .execute(params![row.key, row.event_us, row.created_us, features])
                    .map_err(db)?;
            }
        }
        let count: i64 = tx
            .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
            .map_err(db)?;
        record_view(&tx, info, count).map_err(db)?;
        tx.commit().map_err(db)
    }

    /// The views the store holds rows for.
    pub fn views(&self) -> Result<Vec<String>, FeatureError> {
        let mut query = self
            .conn
            .prepare("SELECT view FROM views ORDER BY view")
            .map_err(self.db())?;
        let rows = query
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(self.db())?;
        rows.collect::<Result<_, _>>().map_err(self.db())
    }

    /// Forgets a view: its rows and its `views` row, in one transaction.
    pub fn drop_view(&mut self, view: &str) -> Result<(), FeatureError> {
        let path = self.path.clone();
        let db = |e: rusqlite::Error| FeatureError::Online {
            path: path.clone(),
            message: e.to_string(),
        };
        let tx = self.conn.transaction().map_err(db)?;
        tx.execute_batch(&format!("DROP TABLE IF EXISTS {};", table(view)))
            .map_err(db)?;
        tx.execute("DELETE FROM views WHERE view = ?1", params![view])
            .map_err(db)?;
        tx.commit().map_err(db)
    }

    /// What the store holds for `view`, if it was ever materialized.
    pub fn view(&self, view: &str) -> Result<Option<ViewInfo>, FeatureError> {
        self.conn
            .prepare_cached(
                "SELECT view, rows, offline, definition, ttl_seconds, materialized_at
                 FROM views WHERE view = ?1",
            )
            .map_err(self.db())?
            .query_row(params![view], |r| {
                Ok(ViewInfo {
                    view: r.get(0)?,
                    rows: r.get::<_, i64>(1)? as u64,
                    offline: r.get(2)?,
                    definition: r.get(3)?,
                    ttl_seconds: r.get::<_, Option<i64>>(4)?.map(|s| s as u64),
                    materialized_at: r.get(5)?,
                })
            })
            .optional()
            .map_err(self.db())
    }

    /// Starts a read transaction, which lasts as long as the returned guard: every read in it
    /// sees the same version of the store, whatever a materialize commits meanwhile. Inside
    /// another read transaction, the guard does nothing.
    pub fn snapshot(&self) -> Result<Snapshot<'_>, FeatureError> {
        if !self.conn.is_autocommit() {
            return Ok(Snapshot { store: None });
        }
        self.conn
            .prepare_cached("BEGIN")
            .and_then(|mut begin| begin.execute([]))
            .map_err(self.db())?;
        Ok(Snapshot { store: Some(self) })
    }

    /// The rows of `view` for each key (JSON arrays of join key values), in order; `None`
    /// where the entity has no row. One statement, reused for every key, in one read
    /// transaction.
    pub fn read(
        &self,
        view: &str,
        keys: &[String],
    ) -> Result<Vec<Option<OnlineRow>>, FeatureError> {
        let mut rows = Vec::with_capacity(keys.len());
        self.read_raw(view, keys.iter().map(String::as_str), |_, row| {
            rows.push(
                row.map(|row| {
                    Ok::<_, FeatureError>(OnlineRow {
                        event_us: row.event_us,
                        created_us: row.created_us,
                        features: serde_json::from_str(row.features)
                            .map_err(|e| self.damaged(view, &e))?,
                    })
                })
                .transpose()?,
            );
            Ok(())
        })?;
        Ok(rows)
    }

    /// Calls `each` with the index and the row of every key (a JSON array of join key values)
    /// in turn, `None` where the entity has no row; the row borrows its features' JSON text
    /// from SQLite. One cached statement, in one read transaction (see [`Self::snapshot`]).
    pub fn read_raw<'k>(
        &self,
        view: &str,
        keys: impl IntoIterator<Item = &'k str>,
        mut each: impl FnMut(usize, Option<RawRow<'_>>) -> Result<(), FeatureError>,
    ) -> Result<(), FeatureError> {
        let _snapshot = self.snapshot()?;
        let mut query = self
            .conn
            .prepare_cached(&format!(
                "SELECT event_us, created_us, features FROM {} WHERE key = ?1",
                table(view)
            ))
            .map_err(self.db())?;
        for (i, key) in keys.into_iter().enumerate() {
            let mut rows = query.query(params![key]).map_err(self.db())?;
            match rows.next().map_err(self.db())? {
                None => each(i, None)?,
                Some(r) => {
                    let row = RawRow {
                        event_us: r.get(0).map_err(self.db())?,
                        created_us: r.get(1).map_err(self.db())?,
                        features: r
                            .get_ref(2)
                            .and_then(|v| v.as_str().map_err(Into::into))
                            .map_err(self.db())?,
                    };
                    each(i, Some(row))?;
                }
            }
        }
        Ok(())
    }

    /// The error for a row whose features are not a JSON object.
    pub(crate) fn damaged(&self, view: &str, e: &serde_json::Error) -> FeatureError {
        FeatureError::Online {
            path: self.path.clone(),
            message: format!("a row of view {view} is damaged: {e}"),
        }
    }
}

/// One entity's row of one view as SQLite holds it: the features are JSON text.
#[derive(Debug, Clone, Copy)]
pub struct RawRow<'a> {
    pub event_us: i64,
    pub created_us: Option<i64>,
    pub features: &'a str,
}

/// A read transaction of an [`OnlineStore`]; it ends when this is dropped.
pub struct Snapshot<'a> {
    store: Option<&'a OnlineStore>,
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        if let Some(store) = self.store {
            // A read transaction has nothing to commit; if it cannot end cleanly, roll back so
            // that the connection is not left inside it.
            let commit = store
                .conn
                .prepare_cached("COMMIT")
                .and_then(|mut c| c.execute([]));
            if commit.is_err() && !store.conn.is_autocommit() {
                let _ = store.conn.execute_batch("ROLLBACK");
            }
        }
    }
}

/// The online store `[online] store` names: SQLite in `.cairn/online.db` (the default) or
/// Redis. Materialize, `cairn feature list` and the reader go through this.
pub enum OnlineBackend {
    Sqlite(OnlineStore),
    Redis(crate::online_redis::RedisStore),
}

impl OnlineBackend {
    /// Opens the project's online store (SQLite: created if missing; Redis: connected on
    /// first use).
    pub fn open(project: &cairn_core::Project) -> Result<Self, FeatureError> {
        match project.config().online.location() {
            cairn_core::OnlineLocation::Sqlite => {
                OnlineStore::open(&project.state_dir()).map(Self::Sqlite)
            }
            cairn_core::OnlineLocation::Redis(url) => {
                let local = project.local_online().map_err(FeatureError::LocalConfig)?;
                crate::online_redis::RedisStore::with_credentials(
                    &url,
                    &crate::online_redis::Credentials::resolve(project.remote_env(), &local),
                )
                .map(Self::Redis)
            }
        }
    }

    /// Whether the store may hold rows: a SQLite store that was never created holds none
    /// (and reading must not create it); a Redis server is asked.
    pub fn exists(project: &cairn_core::Project) -> bool {
        match project.config().online.location() {
            cairn_core::OnlineLocation::Sqlite => project.state_dir().join("online.db").exists(),
            cairn_core::OnlineLocation::Redis(_) => true,
        }
    }

    /// Replaces all rows of `info.view` with the rows of `batches` (see the stores'); the
    /// view's row count is the number of rows written (`info.rows` is not read).
    pub fn replace_view(
        &mut self,
        info: &ViewInfo,
        names: &[String],
        batches: &mut RowBatches<'_>,
    ) -> Result<(), FeatureError> {
        match self {
            Self::Sqlite(s) => s.replace_view(info, names, batches),
            Self::Redis(r) => r.replace_view(info, names, batches),
        }
    }

    pub fn upsert_rows(&mut self, info: &ViewInfo, rows: &NewRows) -> Result<(), FeatureError> {
        match self {
            Self::Sqlite(s) => s.upsert_rows(info, rows),
            Self::Redis(r) => r.upsert_rows(info, rows),
        }
    }

    pub fn views(&self) -> Result<Vec<String>, FeatureError> {
        match self {
            Self::Sqlite(s) => s.views(),
            Self::Redis(r) => r.views(),
        }
    }

    pub fn drop_view(&mut self, view: &str) -> Result<(), FeatureError> {
        match self {
            Self::Sqlite(s) => s.drop_view(view),
            Self::Redis(r) => r.drop_view(view),
        }
    }

    pub fn view(&self, view: &str) -> Result<Option<ViewInfo>, FeatureError> {
        match self {
            Self::Sqlite(s) => s.view(view),
            Self::Redis(r) => r.view(view),
        }
    }
}
