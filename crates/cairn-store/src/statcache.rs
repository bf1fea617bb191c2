use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

use crate::Digest;

/// A file modified less than this long before it was hashed is not trusted from the cache: a
/// later edit within the same timestamp tick would leave its stat data unchanged (git's
/// "racily clean" problem). Such files are hashed again, once, by the next status.
const RACY_WINDOW: Duration = Duration::from_secs(1);

/// The schema version of `.cairn/cairn.db` (SQLite `user_version`).
const SCHEMA_VERSION: i64 = 2;

/// What cairn compares to decide that a file is unchanged without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    pub size: u64,
    pub mtime_ns: i64,
    pub inode: u64,
}

impl FileStat {
    pub fn from_metadata(meta: &Metadata) -> Self {
        Self {
            size: meta.len(),
            mtime_ns: meta
                .mtime()
                .saturating_mul(1_000_000_000)
                .saturating_add(meta.mtime_nsec()),
            inode: meta.ino(),
        }
    }
}

/// A cache row: the stat data a file had when it hashed to `digest`.
#[derive(Debug, Clone, Copy)]
pub struct CachedStat {
    pub stat: FileStat,
    pub digest: Digest,
    /// When the file was hashed (ns since the epoch).
    pub recorded_ns: i64,
}

impl CachedStat {
    /// The cached digest, if the file's current stat data proves it still applies.
    pub fn digest_if_fresh(&self, current: &FileStat) -> Option<Digest> {
        let safe = !StatCache::is_racy(self.stat.mtime_ns, self.recorded_ns);
        (safe && self.stat == *current).then_some(self.digest)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StatCacheError {
    #[error("cannot use the metadata database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the metadata database {path} has schema version {found}, newer than this cairn understands ({supported})"
    )]
    Version {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
}

/// Cache rows below one directory, sorted by relative path, with the paths packed in one
/// string (a status of 20,000 files should not make 20,000 allocations to look them up).
#[derive(Debug, Default)]
pub struct CacheRows {
    arena: String,
    rows: Vec<(u32, u32, CachedStat)>,
}

impl CacheRows {
    /// A single row under the empty key (the cache row of a tracked file).
    pub fn single(row: Option<CachedStat>) -> Self {
        let mut out = Self::default();
        if let Some(row) = row {
            out.push("", row);
        }
        out
    }

    /// Appends a row; rows must come in ascending path order.
    fn push(&mut self, rel: &str, cached: CachedStat) {
        let start = self.arena.len() as u32;
        self.arena.push_str(rel);
        self.rows.push((start, self.arena.len() as u32, cached));
    }

    pub fn get(&self, rel: &str) -> Option<&CachedStat> {
        self.rows
            .binary_search_by(|(s, e, _)| self.arena[*s as usize..*e as usize].cmp(rel))
            .ok()
            .map(|i| &self.rows[i].2)
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// The rows in ascending path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &CachedStat)> {
        self.rows
            .iter()
            .map(|(s, e, c)| (&self.arena[*s as usize..*e as usize], c))
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// The stat cache in `.cairn/cairn.db` (SQLite in WAL mode): project-relative path → (size,
/// mtime, inode) → digest.
pub struct StatCache {
    conn: Connection,
    path: PathBuf,
}

pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Opens the metadata database `.cairn/cairn.db` as every user of it does: WAL, synchronous
/// NORMAL, waiting up to 30 s for another process's write.
pub fn open_metadata_db(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

impl StatCache {
    pub fn open(path: &Path) -> Result<Self, StatCacheError> {
        let err = |source| StatCacheError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = open_metadata_db(path).map_err(err)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)?;
        if version > SCHEMA_VERSION {
            return Err(StatCacheError::Version {
                path: path.to_path_buf(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        // Migrations, each in its own transaction: 1 added the stat cache, 2 the directory
        // snapshots.
        let migrations = [
            "CREATE TABLE IF NOT EXISTS stat_cache (
                 path TEXT PRIMARY KEY NOT NULL,
                 size INTEGER NOT NULL,
                 mtime_ns INTEGER NOT NULL,
                 inode INTEGER NOT NULL,
                 digest BLOB NOT NULL,
                 recorded_ns INTEGER NOT NULL
             ) WITHOUT ROWID;",
            "CREATE TABLE IF NOT EXISTS dir_snapshot (
                 path TEXT PRIMARY KEY NOT NULL,
                 manifest BLOB NOT NULL,
                 stat_digest BLOB NOT NULL,
                 recorded_ns INTEGER NOT NULL
             ) WITHOUT ROWID;",
        ];
        for (i, sql) in migrations.iter().enumerate().skip(version.max(0) as usize) {
            conn.execute_batch(&format!(
                "BEGIN IMMEDIATE; {sql} PRAGMA user_version = {}; COMMIT;",
                i + 1
            ))
            .map_err(err)?;
        }
        Ok(Self {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StatCacheError + '_ {
        |source| StatCacheError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    pub fn get(&self, path: &str) -> Result<Option<CachedStat>, StatCacheError> {
        self.conn
            .prepare_cached(
                "SELECT size, mtime_ns, inode, digest, recorded_ns FROM stat_cache WHERE path = ?1",
            )
            .and_then(|mut stmt| stmt.query_row([path], row_to_cached).optional())
            .map_err(self.err())
    }

    /// Every row for the paths below `dir`, keyed by the path relative to `dir`.
    pub fn load_under(&self, dir: &str) -> Result<CacheRows, StatCacheError> {
        // All paths below `dir/` sort between `dir/` and `dir0` ('0' follows '/').
        let lo = format!("{dir}/");
        let hi = format!("{dir}0");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT path, size, mtime_ns, inode, digest, recorded_ns FROM stat_cache
                 WHERE path >= ?1 AND path < ?2 ORDER BY path",
            )
            .map_err(self.err())?;
        let mut rows = stmt.query(params![lo, hi]).map_err(self.err())?;
        let mut out = CacheRows::default();
        while let Some(row) = rows.next().map_err(self.err())? {
            let path = row
                .get_ref(0)
                .and_then(|v| Ok(v.as_str()?))
                .map_err(self.err())?;
            let rel = path.get(lo.len()..).unwrap_or_default();
            let cached = row_to_cached_at(row, 1).map_err(self.err())?;
            out.push(rel, cached);
        }
        Ok(out)
    }

    /// The snapshot of a tracked directory: the manifest it matched and the digest of its
    /// files' stat data at that time.
    pub fn snapshot(&self, dir: &str) -> Result<Option<(Digest, Digest)>, StatCacheError> {
        self.conn
            .prepare_cached("SELECT manifest, stat_digest FROM dir_snapshot WHERE path = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([dir], |row| {
                    let a: [u8; 32] = row.get(0)?;
                    let b: [u8; 32] = row.get(1)?;
                    Ok((Digest::from_bytes(a), Digest::from_bytes(b)))
                })
                .optional()
            })
            .map_err(self.err())
    }

    /// Records that directory `dir`, with files whose stat data hashes to `stat_digest`,
    /// matched `manifest`. Only for files that were all older than the racy window at
    /// `recorded_ns` (see [`StatCache::is_racy`]).
    pub fn record_snapshot(
        &self,
        dir: &str,
        manifest: &Digest,
        stat_digest: &Digest,
        recorded_ns: i64,
    ) -> Result<(), StatCacheError> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO dir_snapshot (path, manifest, stat_digest, recorded_ns)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    dir,
                    &manifest.as_bytes()[..],
                    &stat_digest.as_bytes()[..],
                    recorded_ns
                ])
            })
            .map(drop)
            .map_err(self.err())
    }

    /// Whether a file with this mtime, read after `recorded_ns`, could still change without
    /// its stat data showing it.
    pub fn is_racy(mtime_ns: i64, recorded_ns: i64) -> bool {
        mtime_ns.saturating_add(RACY_WINDOW.as_nanos() as i64) >= recorded_ns
    }

    /// Records many rows in one transaction. `recorded_ns` must be a time taken before the
    /// files were read.
    pub fn record(
        &mut self,
        rows: &[(String, FileStat, Digest)],
        recorded_ns: i64,
    ) -> Result<(), StatCacheError> {
        if rows.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let err = |source| StatCacheError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO stat_cache (path, size, mtime_ns, inode, digest, recorded_ns)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(err)?;
            for (p, stat, digest) in rows {
                stmt.execute(params![
                    p,
                    stat.size as i64,
                    stat.mtime_ns,
                    stat.inode as i64,
                    &digest.as_bytes()[..],
                    recorded_ns
                ])
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }
}

fn row_to_cached(row: &rusqlite::Row<'_>) -> rusqlite::Result<CachedStat> {
    row_to_cached_at(row, 0)
}

fn row_to_cached_at(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<CachedStat> {
    let blob = row.get_ref(at + 3)?.as_blob()?;
    let bytes: [u8; 32] = blob.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            at + 3,
            rusqlite::types::Type::Blob,
            "a digest is 32 bytes".into(),
        )
    })?;
    Ok(CachedStat {
        stat: FileStat {
            size: row.get::<_, i64>(at)? as u64,
            mtime_ns: row.get(at + 1)?,
            inode: row.get::<_, i64>(at + 2)? as u64,
        },
        digest: Digest::from_bytes(bytes),
        recorded_ns: row.get(at + 4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_loads_by_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = StatCache::open(&dir.path().join("cairn.db")).unwrap();
        let stat = FileStat {
            size: 3,
            mtime_ns: 1_000,
            inode: 7,
        };
        let d = Digest::of(b"abc");
        let rows = vec![
            ("data/a".to_string(), stat, d),
            ("data/sub/b".to_string(), stat, d),
            ("database/c".to_string(), stat, d),
            ("data".to_string(), stat, d),
        ];
        cache.record(&rows, 10_000_000_000).unwrap();
        let under = cache.load_under("data").unwrap();
        assert_eq!(under.len(), 2);
        assert!(under.get("a").is_some() && under.get("sub/b").is_some());
        assert!(under.get("c").is_none() && under.get("data/a").is_none());
        let got = cache.get("database/c").unwrap().unwrap();
        assert_eq!(got.digest_if_fresh(&stat), Some(d));
        assert_eq!(got.digest_if_fresh(&FileStat { size: 4, ..stat }), None);
    }

    #[test]
    fn racily_clean_entries_are_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = StatCache::open(&dir.path().join("cairn.db")).unwrap();
        let stat = FileStat {
            size: 3,
            mtime_ns: 5_000_000_000,
            inode: 7,
        };
        cache
            .record(&[("f".to_string(), stat, Digest::of(b"x"))], 5_100_000_000)
            .unwrap();
        assert_eq!(
            cache.get("f").unwrap().unwrap().digest_if_fresh(&stat),
            None
        );
    }
}
