//! The online store on Redis (`[online] store = "redis://HOST:PORT/DB"`), key layout version 1
//! (docs/formats/online.md):
//!
//! ```text
//! cairn:1:views                      set: the materialized views
//! cairn:1:view:VIEW                  hash: gen, rows, offline, definition, ttl_seconds,
//!                                    materialized_at (the generation readers read)
//! cairn:1:next:VIEW                  counter: the last generation handed out (INCR)
//! cairn:1:row:VIEW:GEN:KEY           hash per entity: @event_us, @created_us (absent when the
//!                                    view has no created time), one field per feature holding
//!                                    its value as JSON (absent when null); KEY is the JSON array
//!                                    of the join key values
//! ```
//!
//! A materialization writes its rows under a new generation (each entity's hash whole, by one
//! `RESTORE` of the payload `DUMP` would give for it, see `online_redis/dump.rs`; one
//! pipeline per batch of 10,000 rows, on [`WRITERS`] connections at once, each making its
//! next batch while the other waits for Redis), then flips the view's hash to it in one
//! transaction: a reader sees the old generation or the new one, never a mix. The old
//! generation's rows expire [`OLD_GENERATION_TTL`] later.
//!
//! A read is one round trip: one `EVALSHA` of a read-only Lua script ([`READ`]) that, for each
//! view, reads the view's hash and then, in the generation it names, `HMGET`s the requested
//! features of every entity. A script runs atomically, so the generation and the rows come
//! from the same moment, whatever a materialization flips meanwhile.
//!
//! The connection is synchronous (the `redis` crate's blocking API, with connect, read and
//! write timeouts): [`crate::OnlineReader`] is a blocking API, which the server already calls
//! off its async runtime, and each reader owns one connection as it owns one SQLite
//! connection. A failed command drops the connection; the next use connects again, so a
//! store that comes back is used again without a restart. A server's requests read through
//! a [`SharedReader`] instead: the same script, async, on one multiplexed connection that
//! they share.

use std::cell::RefCell;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use redis::{Commands as _, Connection, ConnectionLike as _, RedisResult};

use cairn_core::LocalOnline;
use cairn_store::RemoteEnv;

use crate::FeatureError;
use crate::online::{NewRow, NewRows, RowBatches, ViewInfo};

mod dump;

/// The version of the key layout, the second part of every key.
pub const REDIS_LAYOUT_VERSION: u32 = 1;

/// How long an old generation's rows outlive the flip to a new one.
pub const OLD_GENERATION_TTL: Duration = Duration::from_secs(60);

/// Connect, read and write timeout of every Redis command.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Rows written per pipeline.
const BATCH: usize = 10_000;

/// Connections that write a view's rows at once: while one waits for Redis to answer its
/// pipeline, another encodes the next.
pub const WRITERS: usize = 2;

/// The hash fields of the event and created times (not feature names: those cannot start
/// with `@`).
pub const EVENT_FIELD: &str = "@event_us";
pub const CREATED_FIELD: &str = "@created_us";

/// The environment variables of the credentials (never in `cairn.toml`).
pub const PASSWORD_ENV: &str = "CAIRN_REDIS_PASSWORD";
pub const USERNAME_ENV: &str = "CAIRN_REDIS_USERNAME";

/// Newer-wins for one entity: `KEYS[1]` the row, `ARGV` event, created ('' for none), then
/// field/value pairs. Replaces the row unless it holds a newer one (a larger event time, or
/// the same event time and a larger created time). Returns 0 (kept), 1 (replaced), 2 (new).
const UPSERT: &str = r"
local old = redis.call('HMGET', KEYS[1], '@event_us', '@created_us')
local result = 2
if old[1] then
  local e, oe = tonumber(ARGV[1]), tonumber(old[1])
  if e < oe then return 0 end
  if e == oe then
    local c = -math.huge
    if ARGV[2] ~= '' then c = tonumber(ARGV[2]) end
    local oc = -math.huge
    if old[2] then oc = tonumber(old[2]) end
    if c < oc then return 0 end
  end
  redis.call('DEL', KEYS[1])
  result = 1
end
redis.call('HSET', KEYS[1], '@event_us', ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], '@created_us', ARGV[2]) end
if #ARGV > 2 then redis.call('HSET', KEYS[1], unpack(ARGV, 3)) end
return result
";

/// One read, atomic (a script runs alone on the server) and read-only. KEYS: the hash of each
/// view read. ARGV, for each view in turn: the prefix of its row keys (`cairn:1:row:VIEW:`),
/// the number of fields F, the F fields (`@event_us`, `@created_us`, the features), the
/// number of entities N, the N entity keys. Returns, for each view, an array: the view's
/// hash as `HGETALL` gives it, then (when it names a generation `gen`) one `HMGET` answer per
/// entity, in order, from `PREFIX .. gen .. ':' .. KEY`.
pub const READ: &str = r"#!lua flags=no-writes
local out = {}
local a = 1
for v = 1, #KEYS do
  local prefix = ARGV[a]
  local nf = tonumber(ARGV[a + 1])
  local fields = {}
  for f = 1, nf do fields[f] = ARGV[a + 1 + f] end
  a = a + 2 + nf
  local nk = tonumber(ARGV[a])
  local info = redis.call('HGETALL', KEYS[v])
  local answer = {info}
  local gen = nil
  for i = 1, #info, 2 do
    if info[i] == 'gen' then gen = info[i + 1] end
  end
  if gen then
    local base = prefix .. gen .. ':'
    for k = 1, nk do
      answer[k + 1] = redis.call('HMGET', base .. ARGV[a + k], unpack(fields))
    end
  end
  a = a + 1 + nk
  out[v] = answer
end
return out
";

fn views_key() -> String {
    format!("cairn:{REDIS_LAYOUT_VERSION}:views")
}

fn info_key(view: &str) -> String {
    format!("cairn:{REDIS_LAYOUT_VERSION}:view:{view}")
}

fn next_key(view: &str) -> String {
    format!("cairn:{REDIS_LAYOUT_VERSION}:next:{view}")
}

fn row_key(view: &str, generation: u64, key: &str) -> String {
    format!("{}{generation}:{key}", row_prefix(view))
}

/// The row keys of `view` up to the generation: `cairn:1:row:VIEW:`.
fn row_prefix(view: &str) -> String {
    format!("cairn:{REDIS_LAYOUT_VERSION}:row:{view}:")
}

/// One entity's row of one view as Redis holds it: the requested features' JSON texts, in
/// the order asked for (`None` where the row has no such field: a null).
#[derive(Debug, Clone)]
pub struct RedisRow {
    pub event_us: i64,
    pub created_us: Option<i64>,
    pub values: Vec<Option<String>>,
}

/// What one view of a read needs: its name, the features to read, the entities' keys.
pub struct ViewRead<'a> {
    pub view: &'a str,
    pub features: Vec<&'a str>,
    pub keys: Vec<&'a str>,
}

/// The online store on a Redis server.
pub struct RedisStore {
    /// The URL as `cairn.toml` writes it (no password), for messages.
    url: String,
    client: redis::Client,
    conn: RefCell<Option<Connection>>,
}

/// The read script ([`READ`]), sent by its SHA-1 (and loaded when the server lacks it).
static READ_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(READ));

impl RedisStore {
    /// A store on `url` (`redis://[USER@]HOST:PORT/DB`), with the password (and user) of
    /// `CAIRN_REDIS_PASSWORD` (`CAIRN_REDIS_USERNAME`) in `env`, which the binary read from
    /// the process environment. Nothing is sent until the first use.
    pub fn new(url: &str, env: &RemoteEnv) -> Result<Self, FeatureError> {
        Self::with_credentials(url, &Credentials::resolve(env, &LocalOnline::default()))
    }

    /// A store on `url` with these credentials. Nothing is sent until the first use.
    pub fn with_credentials(url: &str, credentials: &Credentials) -> Result<Self, FeatureError> {
        Ok(Self {
            url: url.to_owned(),
            client: client(url, credentials)?,
            conn: RefCell::new(None),
        })
    }

    /// A reader on the same server for many concurrent async callers (see [`SharedReader`]).
    pub fn shared_reader(&self) -> SharedReader {
        SharedReader {
            url: self.url.clone(),
            client: self.client.clone(),
            conn: std::sync::Mutex::new(None),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn error(&self, e: &redis::RedisError) -> FeatureError {
        unavailable(&self.url, e)
    }

    /// Runs `f` on the connection, connecting first if there is none; a failure drops the
    /// connection, so the next call starts afresh.
    fn run<T>(&self, f: impl FnOnce(&mut Connection) -> RedisResult<T>) -> Result<T, FeatureError> {
        let mut slot = self.conn.borrow_mut();
        let conn = match slot.as_mut() {
            Some(conn) => conn,
            None => slot.insert(connect(&self.client, &self.url)?),
        };
        f(conn).map_err(|e| {
            *slot = None;
            self.error(&e)
        })
    }

    /// What the store holds for `view`, with its generation.
    pub fn view_generation(&self, view: &str) -> Result<Option<(ViewInfo, u64)>, FeatureError> {
        let fields: Vec<(String, String)> = self.run(|c| c.hgetall(info_key(view)))?;
        parse_info(&self.url, view, fields)
    }

    pub fn view(&self, view: &str) -> Result<Option<ViewInfo>, FeatureError> {
        Ok(self.view_generation(view)?.map(|(info, _)| info))
    }

    pub fn views(&self) -> Result<Vec<String>, FeatureError> {
        let mut views: Vec<String> = self.run(|c| c.smembers(views_key()))?;
        views.sort();
        Ok(views)
    }

    /// The `HSET` of a view's hash pointing at `generation`.
    fn info_command(info: &ViewInfo, rows: u64, generation: u64) -> redis::Cmd {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(info_key(&info.view))
            .arg("gen")
            .arg(generation)
            .arg("rows")
            .arg(rows)
            .arg("offline")
            .arg(&info.offline)
            .arg("definition")
            .arg(&info.definition)
            .arg("ttl_seconds")
            .arg(info.ttl_seconds.map_or(String::new(), |s| s.to_string()))
            .arg("materialized_at")
            .arg(info.materialized_at);
        cmd
    }

    /// Replaces all rows of `info.view`: written under a new generation, then made visible at
    /// once by pointing the view's hash at it; the old generation expires. The view's row
    /// count is the number of rows written (`info.rows` is not read).
    /// The rows come from `batches` (each row's values in the order of `names`), taken by
    /// the writers as they need them.
    pub fn replace_view(
        &mut self,
        info: &ViewInfo,
        names: &[String],
        batches: &mut RowBatches<'_>,
    ) -> Result<(), FeatureError> {
        check_names(&info.view, names)?;
        let previous = self.view_generation(&info.view)?;
        let generation: u64 = self.run(|c| c.incr(next_key(&info.view), 1))?;
        let rows = write_rows(
            &self.client,
            &self.url,
            &info.view,
            generation,
            names,
            batches,
        )?;
        let mut flip = redis::pipe();
        flip.atomic()
            .add_command(Self::info_command(info, rows, generation))
            .ignore()
            .sadd(views_key(), &info.view)
            .ignore();
        self.run(|c| flip.query::<()>(c))?;
        if let Some((_, old)) = previous {
            self.expire_generation(&info.view, old)?;
        }
        Ok(())
    }

    /// Adds or updates rows of `info.view` in its current generation in one transaction
    /// (MULTI/EXEC), never replacing a row with an older one.
    pub fn upsert_rows(&mut self, info: &ViewInfo, rows: &NewRows) -> Result<(), FeatureError> {
        check_names(&info.view, &rows.names)?;
        let (count, generation) = match self.view_generation(&info.view)? {
            Some((old, generation)) => (old.rows, generation),
            None => (0, self.run(|c| c.incr(next_key(&info.view), 1))?),
        };
        let mut pipe = redis::pipe();
        pipe.atomic();
        for row in &rows.rows {
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(UPSERT)
                .arg(1)
                .arg(row_key(&info.view, generation, &row.key))
                .arg(row.event_us)
                .arg(row.created_us.map_or(String::new(), |c| c.to_string()));
            feature_args(&mut cmd, &rows.names, row);
            pipe.add_command(cmd);
        }
        let results: Vec<i64> = if rows.is_empty() {
            Vec::new()
        } else {
            self.run(|c| pipe.query(c))?
        };
        let added = results.iter().filter(|&&r| r == 2).count() as u64;
        let mut flip = redis::pipe();
        flip.atomic()
            .add_command(Self::info_command(info, count + added, generation))
            .ignore()
            .sadd(views_key(), &info.view)
            .ignore();
        self.run(|c| flip.query::<()>(c))
    }

    /// Forgets a view: its hash at once, its rows after [`OLD_GENERATION_TTL`].
    pub fn drop_view(&mut self, view: &str) -> Result<(), FeatureError> {
        let previous = self.view_generation(view)?;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .del(info_key(view))
            .ignore()
            .srem(views_key(), view)
            .ignore();
        self.run(|c| pipe.query::<()>(c))?;
        if let Some((_, old)) = previous {
            self.expire_generation(view, old)?;
        }
        Ok(())
    }

    /// Sets the rows of a generation no longer read to expire.
    fn expire_generation(&self, view: &str, generation: u64) -> Result<(), FeatureError> {
        let pattern = row_key(view, generation, "*");
        let seconds = OLD_GENERATION_TTL.as_secs() as i64;
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = self.run(|c| {
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(BATCH)
                    .query(c)
            })?;
            if !keys.is_empty() {
                let mut pipe = redis::pipe();
                for key in &keys {
                    pipe.expire(key, seconds).ignore();
                }
                self.run(|c| pipe.query::<()>(c))?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    /// Reads several views at once, in one round trip (one `EVALSHA` of [`READ`]): for each
    /// view, its hash and, in the generation it names, the requested features of every
    /// entity. For each view, its info (`None`: not materialized, and no rows read) and its
    /// rows in key order.
    pub fn read_views(&self, reads: &[ViewRead<'_>]) -> Result<ReadViews, FeatureError> {
        let invocation = read_invocation(reads);
        let answers = self.run(|c| invocation.invoke(c))?;
        parse_answers(&self.url, reads, answers)
    }
}

/// What [`RedisStore::read_views`] answers: for each view, its info (`None`: not
/// materialized) and each entity's row (`None`: the entity has none).
pub type ReadViews = Vec<Option<(ViewInfo, Vec<Option<RedisRow>>)>>;

/// The answer of [`READ`]: per view, the hash's fields and values, then one `HMGET` answer
/// per entity.
type ReadAnswers = Vec<Vec<Vec<Option<String>>>>;

/// The invocation of [`READ`] for `reads`.
fn read_invocation(reads: &[ViewRead<'_>]) -> redis::ScriptInvocation<'static> {
    let mut invocation = READ_SCRIPT.prepare_invoke();
    for read in reads {
        invocation
            .key(info_key(read.view))
            .arg(row_prefix(read.view))
            .arg(2 + read.features.len())
            .arg(EVENT_FIELD)
            .arg(CREATED_FIELD)
            .arg(&read.features)
            .arg(read.keys.len())
            .arg(&read.keys);
    }
    invocation
}

/// [`READ`]'s answer as each view's info and rows.
fn parse_answers(
    url: &str,
    reads: &[ViewRead<'_>],
    answers: ReadAnswers,
) -> Result<ReadViews, FeatureError> {
    if answers.len() != reads.len() {
        return Err(FeatureError::Unavailable {
            url: url.to_owned(),
            message: format!(
                "the read script answered for {} views, not {}",
                answers.len(),
                reads.len()
            ),
        });
    }
    let mut out = Vec::with_capacity(reads.len());
    for (read, answer) in reads.iter().zip(answers) {
        let mut answer = answer.into_iter();
        let fields = answer.next().unwrap_or_default();
        let mut pairs = Vec::with_capacity(fields.len() / 2);
        let mut fields = fields.into_iter();
        while let (Some(k), Some(v)) = (fields.next(), fields.next()) {
            pairs.push((k.unwrap_or_default(), v.unwrap_or_default()));
        }
        let Some((info, _)) = parse_info(url, read.view, pairs)? else {
            out.push(None);
            continue;
        };
        let mut view_rows = Vec::with_capacity(read.keys.len());
        for _ in &read.keys {
            view_rows.push(parse_row(
                url,
                read.view,
                answer.next().unwrap_or_default(),
            )?);
        }
        out.push(Some((info, view_rows)));
    }
    Ok(out)
}

/// A view's hash as `HGETALL` answers it: its info and generation; `None` for no hash.
fn parse_info(
    url: &str,
    view: &str,
    fields: Vec<(String, String)>,
) -> Result<Option<(ViewInfo, u64)>, FeatureError> {
    if fields.is_empty() {
        return Ok(None);
    }
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let damaged = |field: &str| FeatureError::Unavailable {
        url: url.to_owned(),
        message: format!(
            "key {} is damaged: field `{field}` is missing or not a number",
            info_key(view)
        ),
    };
    let number = |field: &str| -> Result<i64, FeatureError> {
        get(field)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| damaged(field))
    };
    let generation = number("gen")? as u64;
    let info = ViewInfo {
        view: view.to_owned(),
        rows: number("rows")? as u64,
        offline: get("offline").unwrap_or_default().to_owned(),
        definition: get("definition").unwrap_or_default().to_owned(),
        ttl_seconds: match get("ttl_seconds") {
            None | Some("") => None,
            Some(_) => Some(number("ttl_seconds")? as u64),
        },
        materialized_at: number("materialized_at")?,
    };
    Ok(Some((info, generation)))
}

/// An HMGET answer (event, created, features…) as a row; `None` when the entity has none.
fn parse_row(
    url: &str,
    view: &str,
    mut answer: Vec<Option<String>>,
) -> Result<Option<RedisRow>, FeatureError> {
    if answer.len() < 2 {
        return Ok(None);
    }
    let values = answer.split_off(2);
    let mut times = answer.into_iter();
    let Some(event) = times.next().flatten() else {
        return Ok(None);
    };
    let damaged = || FeatureError::Unavailable {
        url: url.to_owned(),
        message: format!("a row of view {view} is damaged: its times are not numbers"),
    };
    Ok(Some(RedisRow {
        event_us: event.parse().map_err(|_| damaged())?,
        created_us: match times.next().flatten() {
            Some(c) => Some(c.parse().map_err(|_| damaged())?),
            None => None,
        },
        values,
    }))
}

/// Connects to the server, with the connect, read and write timeouts of every command.
fn connect(client: &redis::Client, url: &str) -> Result<Connection, FeatureError> {
    client
        .get_connection_with_timeout(TIMEOUT)
        .and_then(|c| {
            c.set_read_timeout(Some(TIMEOUT))?;
            c.set_write_timeout(Some(TIMEOUT))?;
            Ok(c)
        })
        .map_err(|e| unavailable(url, &e))
}

/// The error of a command that failed on the store at `url`.
fn unavailable(url: &str, e: &redis::RedisError) -> FeatureError {
    let message = if e.is_timeout() {
        format!("no answer within {} s ({e})", TIMEOUT.as_secs())
    } else {
        e.to_string()
    };
    FeatureError::Unavailable {
        url: url.to_owned(),
        message,
    }
}

/// A feature name cannot start with `@`: the row's hash keeps those fields for its times.
fn check_names(view: &str, names: &[String]) -> Result<(), FeatureError> {
    match names.iter().find(|n| n.starts_with('@')) {
        Some(name) => Err(FeatureError::View {
            view: view.to_owned(),
            column: name.clone(),
            reason: "starts with `@`, which the Redis online store keeps for its times: rename the feature".into(),
        }),
        None => Ok(()),
    }
}

/// The field/value pairs of a row's features, nulls left out.
fn feature_args(cmd: &mut redis::Cmd, names: &[String], row: &NewRow) {
    for (name, value) in names.iter().zip(&row.values) {
        if let Some(value) = value {
            cmd.arg(name).arg(value);
        }
    }
}

/// Writes every row of `batches` into `generation` of `view`, one pipeline per batch, on
/// [`WRITERS`] connections of their own: each takes the next batch (made then, while the other
/// writer waits for Redis) when its pipeline was answered. The first error stops every writer.
/// Returns the number of rows written.
///
/// Each row's hash is sent whole, as the `DUMP` payload of the hash `HSET` would make
/// (`RESTORE KEY 0 PAYLOAD REPLACE`, see [`dump`]), which costs the server a third less than
/// parsing and inserting each field. A row whose hash Redis would not keep as a listpack (a
/// field or value over 64 bytes, over 128 features) is sent as one `HSET`, as is every row
/// once the server refused a `RESTORE` (a server older than 7.0, an ACL without
/// `@dangerous`): the batch is sent again by `HSET`s, which write the same fields.
fn write_rows(
    client: &redis::Client,
    url: &str,
    view: &str,
    generation: u64,
    names: &[String],
    batches: &mut RowBatches<'_>,
) -> Result<u64, FeatureError> {
    let prefix = row_key(view, generation, "");
    let batches = std::sync::Mutex::new(batches);
    let written = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let restore = AtomicBool::new(true);
    let write = || -> Result<(), FeatureError> {
        let mut conn: Option<Connection> = None;
        let mut encoder = Encoder::new(&prefix, names);
        while !failed.load(Ordering::Relaxed) {
            let next = batches.lock().unwrap_or_else(|p| p.into_inner()).next();
            let Some(batch) = next else {
                break;
            };
            let batch = batch?;
            if batch.is_empty() {
                continue;
            }
            let conn = match conn.as_mut() {
                Some(conn) => conn,
                None => conn.insert(connect(client, url)?),
            };
            loop {
                let by_restore = restore.load(Ordering::Relaxed);
                let packed = encoder.batch(&batch, by_restore);
                let answers = conn
                    .req_packed_commands(packed, 0, batch.len())
                    .map_err(|e| unavailable(url, &e))?;
                let refused = answers.into_iter().find_map(|answer| match answer {
                    redis::Value::ServerError(e) => Some(redis::RedisError::from(e)),
                    _ => None,
                });
                match refused {
                    None => break,
                    Some(_) if by_restore => restore.store(false, Ordering::Relaxed),
                    Some(e) => return Err(unavailable(url, &e)),
                }
            }
            written.fetch_add(batch.len(), Ordering::Relaxed);
        }
        Ok(())
    };
    std::thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|_| {
                scope.spawn(|| {
                    let result = write();
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    result
                })
            })
            .collect();
        let mut result = Ok(());
        for writer in writers {
            let done = writer
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            if result.is_ok() {
                result = done;
            }
        }
        result
    })?;
    Ok(written.into_inner() as u64)
}

/// Packs a batch of rows into the commands that write them, reusing its buffers from batch
/// to batch.
struct Encoder<'a> {
    prefix: &'a str,
    names: &'a [String],
    key: String,
    cmd: redis::Cmd,
    payload: Vec<u8>,
    packed: Vec<u8>,
}

impl<'a> Encoder<'a> {
    fn new(prefix: &'a str, names: &'a [String]) -> Self {
        Self {
            prefix,
            names,
            key: String::new(),
            cmd: redis::Cmd::new(),
            payload: Vec::new(),
            packed: Vec::new(),
        }
    }

    /// The commands of `batch`, one per row: `RESTORE` of its hash's payload when `restore`
    /// and the hash fits a listpack, else `HSET` of its fields.
    fn batch(&mut self, batch: &[NewRow], restore: bool) -> &[u8] {
        self.packed.clear();
        let (mut event, mut created) = (itoa::Buffer::new(), itoa::Buffer::new());
        for row in batch {
            self.key.clear();
            self.key.push_str(self.prefix);
            self.key.push_str(&row.key);
            let event = event.format(row.event_us).as_bytes();
            let created = row.created_us.map(|c| created.format(c).as_bytes());
            let pairs = || {
                let times = std::iter::once((EVENT_FIELD.as_bytes(), event))
                    .chain(created.map(|c| (CREATED_FIELD.as_bytes(), c)));
                times.chain(
                    self.names
                        .iter()
                        .zip(&row.values)
                        .filter_map(|(name, value)| {
                            value.as_ref().map(|v| (name.as_bytes(), v.as_bytes()))
                        }),
                )
            };
            self.cmd.clear();
            if restore && dump::fits(pairs()) {
                dump::payload(pairs(), &mut self.payload);
                self.cmd
                    .arg("RESTORE")
                    .arg(self.key.as_bytes())
                    .arg(0)
                    .arg(self.payload.as_slice())
                    .arg("REPLACE");
            } else {
                self.cmd.arg("HSET").arg(self.key.as_bytes());
                for (field, value) in pairs() {
                    self.cmd.arg(field).arg(value);
                }
            }
            self.cmd.write_packed_command(&mut self.packed);
        }
        &self.packed
    }
}

/// A reader of the Redis online store for many concurrent async callers (a server's
/// requests): one multiplexed connection (the `redis` crate's tokio connection), on which the
/// reads of concurrent requests are queued and answered in order, so that Redis and the
/// caller wake once for several reads instead of once per read, and no thread waits for an
/// answer. Connected on first use, with the connect and response timeouts of every command;
/// a read that fails drops the connection, and the next one connects again.
pub struct SharedReader {
    url: String,
    client: redis::Client,
    conn: std::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
}

impl SharedReader {
    pub fn url(&self) -> &str {
        &self.url
    }

    /// [`RedisStore::read_views`], async, on the shared connection.
    pub async fn read_views(&self, reads: &[ViewRead<'_>]) -> Result<ReadViews, FeatureError> {
        let mut conn = self.connection().await?;
        let invocation = read_invocation(reads);
        let answers: ReadAnswers = match invocation.invoke_async(&mut conn).await {
            Ok(answers) => answers,
            Err(e) => {
                *self.conn.lock().unwrap_or_else(|p| p.into_inner()) = None;
                return Err(unavailable(&self.url, &e));
            }
        };
        parse_answers(&self.url, reads, answers)
    }

    async fn connection(&self) -> Result<redis::aio::MultiplexedConnection, FeatureError> {
        if let Some(conn) = self.conn.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            return Ok(conn.clone());
        }
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT));
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| unavailable(&self.url, &e))?;
        Ok(self
            .conn
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(conn)
            .clone())
    }
}

/// The user and password cairn logs in to Redis with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub username: Option<String>,
    pub password: Option<String>,
}

impl Credentials {
    /// Each of `[online]`'s `redis_username` and `redis_password` in `.cairn/config.toml`,
    /// else `CAIRN_REDIS_USERNAME` and `CAIRN_REDIS_PASSWORD` of the environment the binary
    /// read; a user of the URL (`redis://USER@HOST`) is used when neither names one.
    pub fn resolve(env: &RemoteEnv, local: &LocalOnline) -> Self {
        Self {
            username: local
                .redis_username
                .clone()
                .or_else(|| env.get(USERNAME_ENV).map(str::to_owned)),
            password: local
                .redis_password
                .clone()
                .or_else(|| env.get(PASSWORD_ENV).map(str::to_owned)),
        }
    }
}

/// A client of `url` (`redis://[USER@]HOST:PORT/DB`) with these credentials.
fn client(url: &str, credentials: &Credentials) -> Result<redis::Client, FeatureError> {
    let bad = |e: redis::RedisError| FeatureError::Unavailable {
        url: url.to_owned(),
        message: e.to_string(),
    };
    let mut info = redis::IntoConnectionInfo::into_connection_info(url).map_err(bad)?;
    let mut settings = info.redis_settings().clone();
    if let Some(password) = &credentials.password {
        settings = settings.set_password(password);
    }
    if let Some(user) = &credentials.username {
        settings = settings.set_username(user);
    }
    info = info.set_redis_settings(settings);
    redis::Client::open(info).map_err(bad)
}
