//! Training runs on this machine. The run record is an object in the store
//! (docs/formats/run.md). Each run also has a ref, `.cairn/runs/ID`: one line with the record's
//! digest and the model artifact's (or `-`), written before the run counts as recorded. The
//! refs are the truth (`data gc` keeps what they name); the index in `.cairn/cairn.db` (SQLite,
//! WAL) is a cache for queries, rebuilt from the refs and records when it is missing or behind
//! ([`RunsDb::open_project`]).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

/// The version of the runs tables (in `cairn_meta`, key `runs_schema`).
pub const RUNS_SCHEMA: i64 = 2;

#[derive(Debug, thiserror::Error)]
pub enum RunsError {
    #[error("{path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "{path} holds runs tables of version {found}, but this cairn understands version {RUNS_SCHEMA}: it was written by a newer cairn"
    )]
    Version { path: PathBuf, found: i64 },
    #[error("no run `{0}`")]
    NotFound(String),
    #[error("`{0}`: a run id prefix needs at least 4 characters")]
    ShortPrefix(String),
    #[error("{path}: {source}")]
    Ref {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a run ref (expected `RECORD_DIGEST ARTIFACT_DIGEST|-`)")]
    BadRef { path: PathBuf },
    #[error("run {id}: its record object {digest} cannot be read to rebuild the index: {message}")]
    Reindex {
        id: String,
        digest: String,
        message: String,
    },
    #[error("`{prefix}` names several runs: {}", .ids.join(", "))]
    Ambiguous { prefix: String, ids: Vec<String> },
}

/// One row of the index.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub id: String,
    pub model: String,
    /// `finished` or `failed`.
    pub status: String,
    /// Microseconds since the epoch.
    pub started_us: i64,
    /// The run record as JSON (the object's content).
    pub record: String,
    /// The record object's digest.
    pub record_digest: String,
    /// The model artifact's digest (finished runs).
    pub artifact: Option<String>,
    /// The part of the record `runs list` reads (JSON), when the writer stored one; readers
    /// fall back to `record`.
    pub summary: Option<String>,
}

pub struct RunsDb {
    conn: Connection,
    path: PathBuf,
}

impl RunsDb {
    /// Opens (creating the tables if needed) the runs index in the database at `path`.
    pub fn open(path: &Path) -> Result<RunsDb, RunsError> {
        let err = |source| RunsError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = cairn_store::open_metadata_db(path).map_err(err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS cairn_meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID;",
        )
        .map_err(err)?;
        let found: Option<i64> = conn
            .query_row(
                "SELECT value FROM cairn_meta WHERE key = 'runs_schema'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        match found {
            Some(v) if v > RUNS_SCHEMA => {
                return Err(RunsError::Version {
                    path: path.to_path_buf(),
                    found: v,
                });
            }
            // 2 added the summary column.
            Some(1) => conn
                .execute_batch(
                    "BEGIN IMMEDIATE;
                     ALTER TABLE runs ADD COLUMN summary TEXT;
                     UPDATE cairn_meta SET value = 2 WHERE key = 'runs_schema';
                     COMMIT;",
                )
                .map_err(err)?,
            Some(_) => {}
            None => conn
                .execute_batch(&format!(
                    "BEGIN IMMEDIATE;
                     CREATE TABLE IF NOT EXISTS runs (
                         id TEXT PRIMARY KEY NOT NULL,
                         model TEXT NOT NULL,
                         status TEXT NOT NULL,
                         started_us INTEGER NOT NULL,
                         record TEXT NOT NULL,
                         record_digest TEXT NOT NULL,
                         artifact TEXT,
                         summary TEXT
                     ) WITHOUT ROWID;
                     CREATE INDEX IF NOT EXISTS runs_by_model ON runs (model, started_us);
                     INSERT OR REPLACE INTO cairn_meta (key, value) VALUES ('runs_schema', {RUNS_SCHEMA});
                     COMMIT;"
                ))
                .map_err(err)?,
        }
        Ok(RunsDb {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> RunsError + '_ {
        |source| RunsError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    pub fn insert(&self, row: &RunRow) -> Result<(), RunsError> {
        self.insert_rows(std::slice::from_ref(row))
    }

    /// Many rows in one transaction (benchmarks, reindexing).
    pub fn insert_many(&mut self, rows: &[RunRow]) -> Result<(), RunsError> {
        self.insert_rows(rows)
    }

    fn insert_rows(&self, rows: &[RunRow]) -> Result<(), RunsError> {
        let path = self.path.clone();
        let err = |source| RunsError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.unchecked_transaction().map_err(err)?;
        {
            let mut stmt = tx
                .prepare(
                    "INSERT OR REPLACE INTO runs (id, model, status, started_us, record, record_digest, artifact, summary)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(err)?;
            for row in rows {
                stmt.execute(params![
                    row.id,
                    row.model,
                    row.status,
                    row.started_us,
                    row.record,
                    row.record_digest,
                    row.artifact,
                    row.summary
                ])
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// Every run's (of `model`, if given) summary, or its record where it has none: id and
    /// JSON text, oldest first. Much less to read than [`RunsDb::list`].
    pub fn list_summaries(&self, model: Option<&str>) -> Result<Vec<(String, String)>, RunsError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, COALESCE(summary, record) FROM runs
                 WHERE ?1 IS NULL OR model = ?1 ORDER BY started_us, id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([model], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        Ok(rows)
    }

    /// Every run (of `model`, if given), oldest first.
    pub fn list(&self, model: Option<&str>) -> Result<Vec<RunRow>, RunsError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, model, status, started_us, record, record_digest, artifact, summary FROM runs
                 WHERE ?1 IS NULL OR model = ?1 ORDER BY started_us, id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([model], row_of)
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        Ok(rows)
    }

    /// The run whose id is `id` or starts with it (at least 4 characters).
    pub fn get(&self, id: &str) -> Result<RunRow, RunsError> {
        check_prefix(id)?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, model, status, started_us, record, record_digest, artifact, summary FROM runs
                 WHERE id >= ?1 AND id < ?1 || '~' ORDER BY id LIMIT 6",
            )
            .map_err(self.err())?;
        let mut rows = stmt
            .query_map([id], row_of)
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        if let Some(exact) = rows.iter().position(|r| r.id == id) {
            return Ok(rows.swap_remove(exact));
        }
        match rows.len() {
            0 => Err(RunsError::NotFound(id.to_owned())),
            1 => Ok(rows.remove(0)),
            _ => Err(RunsError::Ambiguous {
                prefix: id.to_owned(),
                ids: rows.into_iter().map(|r| r.id).collect(),
            }),
        }
    }

    /// Removes a run from the index (its record object stays until `data gc`).
    pub fn remove(&self, id: &str) -> Result<(), RunsError> {
        let n = self
            .conn
            .execute("DELETE FROM runs WHERE id = ?1", [id])
            .map_err(self.err())?;
        if n == 0 {
            return Err(RunsError::NotFound(id.to_owned()));
        }
        Ok(())
    }

    /// Every run's id with its record and artifact digests.
    pub fn digests(
        &self,
    ) -> Result<std::collections::BTreeMap<String, (String, Option<String>)>, RunsError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, record_digest, artifact FROM runs")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        Ok(rows)
    }

    /// The digests of every run record and artifact in the index (`data gc` keeps them).
    pub fn referenced_digests(&self) -> Result<Vec<String>, RunsError> {
        let mut stmt = self
            .conn
            .prepare("SELECT record_digest, artifact FROM runs")
            .map_err(self.err())?;
        let mut out = Vec::new();
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
            })
            .map_err(self.err())?;
        for row in rows {
            let (record, artifact) = row.map_err(self.err())?;
            out.push(record);
            out.extend(artifact);
        }
        Ok(out)
    }
}

/// A run's ref: the digests that keep its objects alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRef {
    pub id: String,
    pub record: String,
    pub artifact: Option<String>,
}

/// A run id or prefix that could name a run: only id characters, at least 4 of them.
fn check_prefix(id: &str) -> Result<(), RunsError> {
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(RunsError::NotFound(id.to_owned()));
    }
    if id.len() < 4 {
        return Err(RunsError::ShortPrefix(id.to_owned()));
    }
    Ok(())
}

/// Which of `ids` `id` names (its position), as [`RunsDb::get`] resolves it in the index: the
/// id itself, or the only one that starts with it (a prefix of at least 4 characters).
pub fn resolve_id(ids: &[&str], id: &str) -> Result<usize, RunsError> {
    check_prefix(id)?;
    if let Some(exact) = ids.iter().position(|c| *c == id) {
        return Ok(exact);
    }
    let matching: Vec<usize> = (0..ids.len()).filter(|&i| ids[i].starts_with(id)).collect();
    match matching.as_slice() {
        [] => Err(RunsError::NotFound(id.to_owned())),
        [one] => Ok(*one),
        _ => {
            let mut named: Vec<String> = matching.iter().map(|&i| ids[i].to_owned()).collect();
            named.sort_unstable();
            Err(RunsError::Ambiguous {
                prefix: id.to_owned(),
                ids: named,
            })
        }
    }
}

fn refs_dir(state: &Path) -> PathBuf {
    state.join("runs")
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl RunRef {
    /// The ref file's content: `RECORD ARTIFACT|-` and a newline.
    pub fn line(&self) -> String {
        format!(
            "{} {}\n",
            self.record,
            self.artifact.as_deref().unwrap_or("-")
        )
    }

    /// Parses a ref file's content.
    pub fn parse(id: &str, text: &str) -> Option<RunRef> {
        let mut parts = text.split_whitespace();
        let (Some(record), Some(artifact), None) = (parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let hex = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
        (valid_id(id) && hex(record) && (artifact == "-" || hex(artifact))).then(|| RunRef {
            id: id.to_owned(),
            record: record.to_owned(),
            artifact: (artifact != "-").then(|| artifact.to_owned()),
        })
    }
}

/// The refs directory's mtime (ns) mixed with its number of entries; `None` when it does not
/// exist.
fn refs_signature(state: &Path) -> Result<Option<i64>, RunsError> {
    let dir = refs_dir(state);
    let err = |source| RunsError::Ref {
        path: dir.clone(),
        source,
    };
    let meta = match std::fs::metadata(&dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(e)),
    };
    let mtime = meta
        .modified()
        .map_err(err)?
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    let entries = std::fs::read_dir(&dir).map_err(err)?.count() as i64;
    Ok(Some(mtime.wrapping_mul(31).wrapping_add(entries)))
}

/// Writes (atomically, durably) the ref of a run.
pub fn write_ref(state: &Path, r: &RunRef) -> Result<(), RunsError> {
    let dir = refs_dir(state);
    let path = dir.join(&r.id);
    let err = |source| RunsError::Ref {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(err)?;
    let line = r.line();
    cairn_store::atomic::write_atomic_beside(&path, line.as_bytes(), 0o644).map_err(err)
}

/// Removes a run's ref (a missing ref is not an error).
pub fn remove_ref(state: &Path, id: &str) -> Result<(), RunsError> {
    let path = refs_dir(state).join(id);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(RunsError::Ref { path, source: e })
        }
        _ => Ok(()),
    }
}

/// Every run ref, by id.
pub fn read_refs(state: &Path) -> Result<Vec<RunRef>, RunsError> {
    let dir = refs_dir(state);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(RunsError::Ref { path: dir, source }),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| RunsError::Ref {
            path: dir.clone(),
            source,
        })?;
        let name = entry.file_name();
        let Some(id) = name.to_str().filter(|id| valid_id(id)) else {
            // Temporary files of an interrupted write, or something that is not ours.
            continue;
        };
        let path = entry.path();
        let text = std::fs::read_to_string(&path).map_err(|source| RunsError::Ref {
            path: path.clone(),
            source,
        })?;
        out.push(RunRef::parse(id, &text).ok_or(RunsError::BadRef { path })?);
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

impl RunsDb {
    /// Opens the index of a project's state directory, first bringing it in line with the refs:
    /// runs with a ref but no row are read back from their record objects (after `cairn.db`
    /// was deleted), and rows without a ref get their ref back (a lost ref must not let
    /// `data gc` delete a run). Removing a run is `runs rm`: both go.
    ///
    /// Reading every ref costs a file read per run, so the directory's signature (its mtime and
    /// number of entries; refs are only ever created, replaced and removed by rename or unlink,
    /// which change both or the mtime) is remembered, and an unchanged directory is not read.
    pub fn open_project(state: &Path, store: &cairn_store::Store) -> Result<RunsDb, RunsError> {
        let db = RunsDb::open(&state.join("cairn.db"))?;
        let before = refs_signature(state)?;
        if before.is_some() && before == db.meta("runs_refs_signature")? {
            return Ok(db);
        }
        db.reconcile(state, store)?;
        if let Some(after) = refs_signature(state)? {
            db.set_meta("runs_refs_signature", after)?;
        }
        Ok(db)
    }

    fn meta(&self, key: &str) -> Result<Option<i64>, RunsError> {
        self.conn
            .query_row("SELECT value FROM cairn_meta WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.err())
    }

    fn set_meta(&self, key: &str, value: i64) -> Result<(), RunsError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO cairn_meta (key, value) VALUES (?1, ?2)",
                params![key, value],
            )
            .map(drop)
            .map_err(self.err())
    }

    fn reconcile(&self, state: &Path, store: &cairn_store::Store) -> Result<(), RunsError> {
        let db = self;
        let refs = read_refs(state)?;
        let mut indexed = db.digests()?;
        let mut missing = Vec::new();
        for r in &refs {
            match indexed.remove(&r.id) {
                Some((record, _)) if record == r.record => {}
                _ => missing.push(r),
            }
        }
        for (id, (record, artifact)) in indexed {
            write_ref(
                state,
                &RunRef {
                    id,
                    record,
                    artifact,
                },
            )?;
        }
        if missing.is_empty() {
            return Ok(());
        }
        let mut rows = Vec::with_capacity(missing.len());
        for r in missing {
            let reindex = |message: String| RunsError::Reindex {
                id: r.id.clone(),
                digest: r.record.clone(),
                message,
            };
            let digest: cairn_store::Digest = r
                .record
                .parse()
                .map_err(|e: cairn_store::ParseDigestError| reindex(e.to_string()))?;
            let bytes = store.read(&digest).map_err(|e| reindex(e.to_string()))?;
            let record: serde_json::Value =
                serde_json::from_slice(&bytes).map_err(|e| reindex(e.to_string()))?;
            let field = |k: &str| {
                record
                    .get(k)
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            rows.push(RunRow {
                id: r.id.clone(),
                model: field("model"),
                status: field("status"),
                started_us: record
                    .get("started_us")
                    .and_then(serde_json::Value::as_i64)
                    .unwrap_or(0),
                record: String::from_utf8_lossy(&bytes).into_owned(),
                record_digest: r.record.clone(),
                artifact: r.artifact.clone(),
                summary: None,
            });
        }
        db.insert_rows(&rows)
    }
}

fn row_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        id: r.get(0)?,
        model: r.get(1)?,
        status: r.get(2)?,
        started_us: r.get(3)?,
        record: r.get(4)?,
        record_digest: r.get(5)?,
        artifact: r.get(6)?,
        summary: r.get(7)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_resolves_as_in_the_index_exact_first_then_a_unique_prefix() {
        let ids = ["abcd1234", "abcd5678", "abcd", "ffff0000"];
        assert_eq!(resolve_id(&ids, "abcd").unwrap(), 2, "an exact id wins");
        assert_eq!(resolve_id(&ids, "ffff").unwrap(), 3);
        assert_eq!(resolve_id(&ids, "abcd5").unwrap(), 1);
        match resolve_id(&ids, "abcd1") {
            Ok(0) => {}
            other => panic!("{other:?}"),
        }
        match resolve_id(&["abcd1234", "abcd5678"], "abcd") {
            Err(RunsError::Ambiguous { prefix, ids }) => {
                assert_eq!(prefix, "abcd");
                assert_eq!(ids, ["abcd1234", "abcd5678"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            resolve_id(&ids, "abc"),
            Err(RunsError::ShortPrefix(_))
        ));
        assert!(matches!(
            resolve_id(&ids, "0000"),
            Err(RunsError::NotFound(_))
        ));
        assert!(matches!(
            resolve_id(&ids, "ab/d"),
            Err(RunsError::NotFound(_))
        ));
    }

    fn row(id: &str, model: &str, t: i64) -> RunRow {
        RunRow {
            id: id.into(),
            model: model.into(),
            status: "finished".into(),
            started_us: t,
            record: "{}".into(),
            record_digest: format!("r{id}"),
            artifact: Some(format!("a{id}")),
            summary: None,
        }
    }

    #[test]
    fn a_version_1_index_gains_the_summary_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cairn.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE cairn_meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID;
             CREATE TABLE runs (id TEXT PRIMARY KEY NOT NULL, model TEXT NOT NULL, status TEXT NOT NULL,
                 started_us INTEGER NOT NULL, record TEXT NOT NULL, record_digest TEXT NOT NULL,
                 artifact TEXT) WITHOUT ROWID;
             INSERT INTO cairn_meta VALUES ('runs_schema', 1);
             INSERT INTO runs VALUES ('abcd0000', 'm', 'finished', 1, '{\"id\":1}', 'r', NULL);",
        )
        .unwrap();
        drop(conn);
        let db = RunsDb::open(&path).unwrap();
        // Without a summary, the record is what list_summaries returns.
        assert_eq!(
            db.list_summaries(None).unwrap(),
            [("abcd0000".to_owned(), "{\"id\":1}".to_owned())]
        );
        let mut with = row("abcd1111", "m", 2);
        with.summary = Some("{}".into());
        db.insert(&with).unwrap();
        assert_eq!(db.list_summaries(Some("m")).unwrap()[1].1, "{}");
        assert_eq!(db.get("abcd1").unwrap().summary.as_deref(), Some("{}"));
    }

    #[test]
    fn insert_list_get_by_prefix_and_remove() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cairn.db");
        let mut db = RunsDb::open(&path).unwrap();
        db.insert_many(&[
            row("abcd1111", "m", 2),
            row("abcd2222", "m", 1),
            row("ffff0000", "n", 3),
        ])
        .unwrap();
        let ids: Vec<_> = db
            .list(Some("m"))
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["abcd2222", "abcd1111"]);
        assert_eq!(db.list(None).unwrap().len(), 3);
        assert_eq!(db.get("abcd1").unwrap().id, "abcd1111");
        assert!(matches!(db.get("abcd"), Err(RunsError::Ambiguous { .. })));
        assert!(matches!(db.get("zzzz"), Err(RunsError::NotFound(_))));
        db.remove("ffff0000").unwrap();
        assert!(matches!(db.remove("ffff0000"), Err(RunsError::NotFound(_))));
        let mut digests = db.referenced_digests().unwrap();
        digests.sort();
        assert_eq!(
            digests,
            ["aabcd1111", "aabcd2222", "rabcd1111", "rabcd2222"]
        );
        drop(db);
        // The stat cache shares the file and its own user_version.
        cairn_store::StatCache::open(&path).unwrap();
        assert_eq!(RunsDb::open(&path).unwrap().list(None).unwrap().len(), 2);
    }
}
