//! The online store on Redis against a real `redis-server` (started on 127.0.0.1 on a free
//! port by each test; a test fails when it is missing):
//! the same answers as SQLite, newer-wins, all-at-once visibility, an unreachable server and
//! its recovery.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use cairn_store::RemoteEnv;
use cairn_test_support::redis::RedisServer;
use serde_json::{Value, json};

use super::{DEFINITIONS, ENTITIES, Fixture};
use crate::online::{NewRow, NewRows, OnlineBackend};
use crate::online_redis::ViewRead;
use crate::{FeatureError, OnlineReader, OnlineStore, RedisStore, SharedOnlineReader, ViewInfo};

fn info(rows: u64) -> ViewInfo {
    ViewInfo {
        view: "v".into(),
        rows,
        offline: "0".repeat(64),
        definition: "1".repeat(64),
        ttl_seconds: None,
        materialized_at: 0,
    }
}

fn row(key: i64, event_us: i64, created_us: Option<i64>, value: i64) -> NewRow {
    NewRow {
        key: format!("[{key}]"),
        event_us,
        created_us,
        values: vec![None, Some(value.to_string())],
    }
}

/// The features: `gone` (always null) and `x`.
fn names() -> Vec<String> {
    vec!["gone".into(), "x".into()]
}

/// Rows of [`names`].
fn rows(rows: impl IntoIterator<Item = NewRow>) -> NewRows {
    NewRows {
        names: names(),
        rows: rows.into_iter().collect(),
    }
}

/// The value of `x` for each key, `None` where the key has no row, from either store.
fn values(store: &OnlineBackend, keys: &[i64]) -> Vec<Option<i64>> {
    let keys: Vec<String> = keys.iter().map(|k| format!("[{k}]")).collect();
    match store {
        OnlineBackend::Sqlite(s) => s
            .read("v", &keys)
            .unwrap()
            .into_iter()
            .map(|r| r.map(|r| r.features["x"].as_i64().unwrap()))
            .collect(),
        OnlineBackend::Redis(r) => {
            let read = ViewRead {
                view: "v",
                features: vec!["x", "gone"],
                keys: keys.iter().map(String::as_str).collect(),
            };
            let Some((_, rows)) = r.read_views(&[read]).unwrap().pop().unwrap() else {
                return vec![None; keys.len()];
            };
            rows.into_iter()
                .map(|r| {
                    r.map(|r| {
                        assert_eq!(r.values[1], None, "a null feature is not stored");
                        r.values[0].as_deref().unwrap().parse().unwrap()
                    })
                })
                .collect()
        }
    }
}

/// A SQLite store and a Redis store, fresh.
fn both() -> (tempfile::TempDir, RedisServer, Vec<OnlineBackend>) {
    let dir = tempfile::tempdir().unwrap();
    let mut stores = vec![OnlineBackend::Sqlite(
        OnlineStore::open(dir.path()).unwrap(),
    )];
    let server = RedisServer::start();
    stores.push(OnlineBackend::Redis(
        RedisStore::new(&server.url(), &RemoteEnv::default()).unwrap(),
    ));
    (dir, server, stores)
}

#[test]
fn redis_and_sqlite_upserts_are_newer_wins_alike() {
    let (_dir, _server, mut stores) = both();
    for store in &mut stores {
        store
            .upsert_rows(
                &info(0),
                &rows([row(1, 10, Some(5), 1), row(2, 10, None, 1)]),
            )
            .unwrap();
        assert_eq!(values(store, &[1, 2, 3]), [Some(1), Some(1), None]);
        let steps = [
            (row(1, 9, Some(9), 2), 1, "an older event time loses"),
            (
                row(1, 10, Some(4), 3),
                1,
                "the same event time, created earlier, loses",
            ),
            (
                row(1, 10, None, 4),
                1,
                "a missing created time is older than any",
            ),
            (
                row(1, 10, Some(5), 5),
                5,
                "equal times: the newer write wins",
            ),
            (row(1, 11, None, 6), 6, "a newer event time wins"),
        ];
        for (new, want, why) in steps {
            store.upsert_rows(&info(0), &rows([new])).unwrap();
            assert_eq!(values(store, &[1])[0], Some(want), "{why}");
        }
        store
            .upsert_rows(&info(0), &rows([row(2, 10, None, 7)]))
            .unwrap();
        assert_eq!(values(store, &[2]), [Some(7)]);
        store
            .upsert_rows(&info(0), &rows([row(3, 1, None, 8)]))
            .unwrap();
        assert_eq!(
            store.view("v").unwrap().unwrap().rows,
            3,
            "entities counted"
        );
        // A replace drops what it does not carry; a drop forgets the view.
        store
            .replace_view(
                &info(1),
                &names(),
                &mut rows([row(2, 0, None, 9)]).batches(),
            )
            .unwrap();
        assert_eq!(values(store, &[1, 2]), [None, Some(9)]);
        // A row the replace wrote (on Redis, restored whole) takes upserts as any other.
        store
            .upsert_rows(&info(1), &rows([row(2, 0, None, 10)]))
            .unwrap();
        assert_eq!(
            values(store, &[2]),
            [Some(10)],
            "equal times: the newer write wins"
        );
        store
            .upsert_rows(&info(1), &rows([row(2, -1, None, 11)]))
            .unwrap();
        assert_eq!(values(store, &[2]), [Some(10)], "an older event time loses");
        assert_eq!(store.views().unwrap(), ["v"]);
        store.drop_view("v").unwrap();
        assert!(store.views().unwrap().is_empty() && store.view("v").unwrap().is_none());
    }
}

/// A reader reads every entity in a loop while the view is replaced `flips` times (each
/// generation's rows all hold the generation's number), and `after_flip` runs after each
/// flip with the generation that was replaced; every read must see one generation, whole.
fn read_through_flips(entities: i64, flips: i64, mut after_flip: impl FnMut(&RedisServer, u64)) {
    let server = RedisServer::start();
    let generation_rows =
        |generation: i64| rows((0..entities).map(|k| row(k, generation, None, generation)));
    let mut writer = RedisStore::new(&server.url(), &RemoteEnv::default()).unwrap();
    writer
        .replace_view(
            &info(entities as u64),
            &names(),
            &mut generation_rows(0).batches(),
        )
        .unwrap();
    let done = AtomicBool::new(false);
    let reads = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let store = OnlineBackend::Redis(
                RedisStore::new(&server.url(), &RemoteEnv::default()).unwrap(),
            );
            let keys: Vec<i64> = (0..entities).collect();
            let mut seen = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let got = values(&store, &keys);
                let first = got[0];
                assert!(
                    got.iter().all(|v| *v == first && v.is_some()),
                    "a read saw a mix of generations, or rows gone: {:?}",
                    got.iter().collect::<std::collections::BTreeSet<_>>()
                );
                seen.push(first.unwrap());
            }
            seen
        });
        for generation in 1..=flips {
            let (_, old) = writer.view_generation("v").unwrap().unwrap();
            writer
                .replace_view(
                    &info(entities as u64),
                    &names(),
                    &mut generation_rows(generation).batches(),
                )
                .unwrap();
            after_flip(&server, old);
        }
        done.store(true, Ordering::Relaxed);
        reader.join().unwrap()
    });
    let distinct: std::collections::BTreeSet<_> = reads.iter().collect();
    assert!(
        distinct.len() > 1,
        "the reader saw materializations come in ({} reads)",
        reads.len()
    );
}

#[test]
fn a_reader_sees_one_generation_of_a_view_never_a_mix() {
    read_through_flips(2_000, 20, |_, _| {});
}

#[test]
fn a_read_is_one_atomic_round_trip_even_when_the_old_generation_vanishes_at_the_flip() {
    // Each flip is followed at once by the deletion of the generation before it: a reader
    // that looked the generation up, then read the rows in a second round trip, would find
    // them gone. One script reads both at the same moment.
    read_through_flips(1_000, 30, |server, old| {
        let mut raw = plain(server);
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("cairn:1:row:v:{old}:*"))
            .query(&mut raw)
            .unwrap();
        assert!(!keys.is_empty(), "generation {old} had rows");
        redis::cmd("DEL").arg(&keys).query::<()>(&mut raw).unwrap();
    });
}

/// `[online] store` pointing at `url` before the definitions.
/// `ACL SETUSER ARGS…` on a plain connection to the server.
fn set_user(raw: &mut redis::Connection, args: &[&str]) {
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg(args)
        .query::<()>(raw)
        .unwrap();
}

/// A plain connection to the server, for what the tests check or set by hand.
fn plain(server: &RedisServer) -> redis::Connection {
    redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .unwrap()
}

/// The environment of ACL user `user`, password `secret`.
fn login(user: &str) -> RemoteEnv {
    RemoteEnv::from_vars([
        ("CAIRN_REDIS_USERNAME".to_owned(), user.to_owned()),
        ("CAIRN_REDIS_PASSWORD".to_owned(), "secret".to_owned()),
    ])
}

fn on_redis(url: &str, definitions: &str) -> String {
    format!("[online]\nstore = \"{url}\"\n{definitions}")
}

/// 2026-01-DAY, within the `stats` view's ttl of its rows.
fn jan(day: u32) -> std::time::SystemTime {
    cairn_core::time::system_time(super::time(&format!("2026-01-{day:02}T00:00:00")))
}

fn entity(id: i64) -> BTreeMap<String, Value> {
    BTreeMap::from([("customer_id".to_owned(), json!(id))])
}

#[test]
fn a_project_answers_the_same_on_redis_as_on_sqlite() {
    let server = RedisServer::start();
    let f = Fixture::new(DEFINITIONS);
    f.write("entities.csv", ENTITIES);
    let features = ["stats:amount", "stats:n", "ratio:per_item"];
    let entities = ["customer_id=1", "customer_id=2", "customer_id=9"];
    let answers = |f: &Fixture| {
        let mut options = f.online_options(&entities, &features);
        options.now = jan(3);
        let now = serde_json::to_value(crate::online(&f.project(), &options).unwrap()).unwrap();
        let at = serde_json::to_value(
            f.online_at(&entities, &features, "2026-01-01T13:00:00")
                .unwrap(),
        )
        .unwrap();
        let historical = f.historical("entities.csv", &features).unwrap();
        (now, at, format!("{:?}", historical.frame))
    };
    f.materialize(&[]).unwrap();
    let sqlite = answers(&f);
    // Redis: the pinned tables are unchanged, so materialize only fills the new store.
    f.define(&on_redis(&server.url(), DEFINITIONS));
    let filled = f.materialize(&[]).unwrap();
    assert!(filled.views.iter().all(|v| v.skipped && v.entities == 2));
    assert_eq!(answers(&f), sqlite);
    assert_eq!(sqlite.0["entities"][0]["features"]["n"], 5);
    // Nothing of the SQLite store was needed: the answers come from Redis.
    std::fs::remove_file(f.path(".cairn/online.db")).unwrap();
    assert_eq!(answers(&f), sqlite);
    // An incremental run upserts newer rows into Redis as into SQLite.
    let more =
        "customer_id,ts,created,amount,n\n1,2026-01-03T00:00:00,2026-01-03T00:00:00,30.0,6\n";
    let mut events = std::fs::read_to_string(f.path("data/events.csv")).unwrap();
    events.push_str(&more[more.find('\n').unwrap() + 1..]);
    f.write("data/events.csv", &events);
    f.materialize_with(&["stats"], |o| o.incremental = true)
        .unwrap();
    let reader = OnlineReader::open(&f.project(), &["stats:n".into()], None, false).unwrap();
    let read = reader.read(&[entity(1), entity(2)], jan(4)).unwrap();
    assert_eq!(
        (&read[0].features["n"], &read[1].features["n"]),
        (&json!(6), &Value::Null)
    );
}

#[test]
fn an_unreachable_redis_is_named_and_a_reader_recovers_when_it_is_back() {
    let mut server = RedisServer::start();
    let f = Fixture::new(&on_redis(&server.url(), DEFINITIONS));
    f.materialize(&[]).unwrap();
    let reader = OnlineReader::open(&f.project(), &["stats:n".into()], None, false).unwrap();
    let now = jan(3);
    assert_eq!(reader.read(&[entity(1)], now).unwrap()[0].features["n"], 5);
    server.kill();
    let err = reader.read(&[entity(1)], now).unwrap_err();
    assert!(
        matches!(&err, FeatureError::Unavailable { url, .. } if *url == server.url()),
        "{err}"
    );
    let err = f.materialize(&[]).unwrap_err();
    assert!(matches!(err, FeatureError::Unavailable { .. }), "{err}");
    // Back, empty (nothing persisted): the same reader connects again.
    server.restart();
    let err = reader.read(&[entity(1)], now).unwrap_err();
    assert!(matches!(err, FeatureError::NotMaterialized { .. }), "{err}");
    f.materialize(&[]).unwrap();
    assert_eq!(reader.read(&[entity(1)], now).unwrap()[0].features["n"], 5);
}

#[test]
fn a_view_of_many_batches_is_written_whole_by_every_writer() {
    let server = RedisServer::start();
    // More rows than two pipelines hold, so that both writers write, and features of every
    // kind of value, nulls left out.
    const ENTITIES: i64 = 25_001;
    let mut store = RedisStore::new(&server.url(), &RemoteEnv::default()).unwrap();
    let all = rows((0..ENTITIES).map(|k| NewRow {
        key: format!("[{k}]"),
        event_us: k,
        created_us: (k % 2 == 0).then_some(k + 1),
        values: vec![None, Some(k.to_string())],
    }));
    let mut batches = all.rows.chunks(10_000).map(|c| Ok(c.to_vec()));
    store
        .replace_view(&info(ENTITIES as u64), &all.names, &mut batches)
        .unwrap();
    let mut raw = plain(&server);
    let size: u64 = redis::cmd("DBSIZE").query(&mut raw).unwrap();
    assert_eq!(
        size,
        ENTITIES as u64 + 3,
        "the rows, the set, the hash, the counter"
    );
    let keys: Vec<String> = (0..ENTITIES).map(|k| format!("[{k}]")).collect();
    let read = ViewRead {
        view: "v",
        features: vec!["x", "gone"],
        keys: keys.iter().map(String::as_str).collect(),
    };
    let (_, got) = store.read_views(&[read]).unwrap().pop().unwrap().unwrap();
    for (k, row) in got.into_iter().enumerate() {
        let row = row.unwrap_or_else(|| panic!("entity {k} has no row"));
        let k = k as i64;
        assert_eq!(row.event_us, k);
        assert_eq!(row.created_us, (k % 2 == 0).then_some(k + 1));
        assert_eq!(row.values, [Some(k.to_string()), None]);
    }
}

#[test]
fn a_reader_needs_only_read_rights_and_the_script_commands() {
    let server = RedisServer::start();
    let mut writer = RedisStore::new(&server.url(), &RemoteEnv::default()).unwrap();
    writer
        .replace_view(
            &info(2),
            &names(),
            &mut rows([row(1, 1, None, 7), row(2, 1, None, 8)]).batches(),
        )
        .unwrap();
    let mut raw = plain(&server);
    // The ACL of docs/formats/online.md, on a server that does not know the script yet.
    set_user(
        &mut raw,
        &[
            "reader",
            "on",
            ">secret",
            "~cairn:*",
            "+@read",
            "+evalsha",
            "+script|load",
        ],
    );
    redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query::<()>(&mut raw)
        .unwrap();
    let env = login("reader");
    let reader = OnlineBackend::Redis(RedisStore::new(&server.url(), &env).unwrap());
    assert_eq!(values(&reader, &[1, 2, 3]), [Some(7), Some(8), None]);
    // Without the script commands, the read is refused, and says why.
    set_user(&mut raw, &["reader", "-evalsha"]);
    let OnlineBackend::Redis(store) = &reader else {
        unreachable!()
    };
    let read = ViewRead {
        view: "v",
        features: vec!["x"],
        keys: vec!["[1]"],
    };
    let err = store.read_views(&[read]).unwrap_err();
    assert!(
        matches!(&err, FeatureError::Unavailable { message, .. } if message.contains("evalsha")),
        "{err}"
    );
}

#[test]
fn duplicate_entities_of_a_source_resolve_alike_on_redis_and_sqlite() {
    let server = RedisServer::start();
    // Customer 1: its latest event first in the file; customer 2: a tie on the event time that
    // the created time breaks; customer 3: a tie on both, which the later row of the source
    // wins; customer 4: a tie on the event time, one created time missing (older than any).
    let events = "\
customer_id,ts,created,amount,n
1,2026-01-02T00:00:00,2026-01-02T00:00:00,12.0,1
1,2026-01-01T00:00:00,2026-01-05T00:00:00,11.0,2
2,2026-01-02T00:00:00,2026-01-04T00:00:00,22.0,3
2,2026-01-02T00:00:00,2026-01-03T00:00:00,21.0,4
3,2026-01-02T00:00:00,2026-01-02T00:00:00,31.0,5
3,2026-01-02T00:00:00,2026-01-02T00:00:00,32.0,6
4,2026-01-02T00:00:00,2026-01-02T00:00:00,42.0,7
4,2026-01-02T00:00:00,,41.0,8
";
    let f = Fixture::new(DEFINITIONS);
    f.write("data/events.csv", events);
    let entities = [
        "customer_id=1",
        "customer_id=2",
        "customer_id=3",
        "customer_id=4",
    ];
    let answer = |f: &Fixture| {
        let mut options = f.online_options(&entities, &["stats:amount", "stats:n"]);
        options.now = jan(3);
        crate::online(&f.project(), &options).unwrap()
    };
    f.materialize(&["stats"]).unwrap();
    let sqlite = answer(&f);
    let amounts: Vec<&Value> = sqlite
        .entities
        .iter()
        .map(|e| &e.features["amount"])
        .collect();
    assert_eq!(
        amounts,
        [&json!(12.0), &json!(22.0), &json!(32.0), &json!(42.0)]
    );
    // A project on Redis from the start: the view computed, its rows written to Redis.
    let on = Fixture::new(&on_redis(&server.url(), DEFINITIONS));
    on.write("data/events.csv", events);
    assert!(!on.materialize(&["stats"]).unwrap().views[0].skipped);
    let redis = answer(&on);
    assert_eq!(
        serde_json::to_value(&redis).unwrap(),
        serde_json::to_value(&sqlite).unwrap()
    );
}

#[test]
fn a_shared_reader_answers_as_a_reader_does_for_concurrent_callers_and_recovers() {
    let mut server = RedisServer::start();
    let f = Fixture::new(&on_redis(&server.url(), DEFINITIONS));
    f.materialize(&[]).unwrap();
    let features = [
        "stats:amount".to_owned(),
        "stats:n".into(),
        "ratio:per_item".into(),
    ];
    let reader = OnlineReader::open(&f.project(), &features, None, false).unwrap();
    let shared = SharedOnlineReader::open(&f.project(), &features, None, false)
        .unwrap()
        .expect("a Redis store has a shared reader");
    let entities = [entity(1), entity(2), entity(9)];
    let now = jan(3);
    let want = serde_json::to_value(reader.read(&entities, now).unwrap()).unwrap();
    assert_eq!(want[0]["features"]["n"], 5);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Many reads at once, on the one connection: each gets its own answer.
    let answers = runtime.block_on(async {
        let reads = (0..50).map(|n| {
            let shared = &shared;
            let entities = &entities;
            async move {
                let one = [entities[n % 3].clone()];
                (n % 3, shared.read(&one, now).await.unwrap())
            }
        });
        futures::future::join_all(reads).await
    });
    for (i, got) in answers {
        assert_eq!(serde_json::to_value(&got[0]).unwrap(), want[i]);
    }
    let all = runtime.block_on(shared.read(&entities, now)).unwrap();
    assert_eq!(serde_json::to_value(all).unwrap(), want);
    // A bad key is refused as by the reader.
    let bad = BTreeMap::from([("customer_id".to_owned(), json!("x"))]);
    let err = runtime.block_on(shared.read(&[bad], now)).unwrap_err();
    assert!(matches!(err, FeatureError::BadEntity { .. }), "{err}");
    // Down: unavailable; back and filled: the same reader answers again.
    server.kill();
    let err = runtime.block_on(shared.read(&entities, now)).unwrap_err();
    assert!(matches!(err, FeatureError::Unavailable { .. }), "{err}");
    server.restart();
    f.materialize(&[]).unwrap();
    let again = runtime.block_on(shared.read(&entities, now)).unwrap();
    assert_eq!(serde_json::to_value(again).unwrap(), want);
    // On SQLite there is no shared reader.
    let sqlite = Fixture::new(DEFINITIONS);
    sqlite.materialize(&[]).unwrap();
    assert!(
        SharedOnlineReader::open(&sqlite.project(), &features, None, false)
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_view_of_more_entities_than_a_batch_is_written_whole_to_either_store() {
    let server = RedisServer::start();
    // 10,001 entities: two batches of online rows, the last one short.
    const ENTITIES: u32 = 10_001;
    let mut events = String::from("customer_id,ts,created,amount,n\n");
    for id in 0..ENTITIES {
        events.push_str(&format!(
            "{id},2026-01-02T00:00:00,2026-01-02T00:00:00,{id}.5,{}\n",
            id % 7
        ));
    }
    let ids = [0, 5_000, 9_999, ENTITIES - 1];
    let entities: Vec<String> = ids.iter().map(|id| format!("customer_id={id}")).collect();
    let entities: Vec<&str> = entities.iter().map(String::as_str).collect();
    let mut answers = Vec::new();
    for definitions in [DEFINITIONS.to_owned(), on_redis(&server.url(), DEFINITIONS)] {
        let f = Fixture::new(&definitions);
        f.write("data/events.csv", &events);
        let done = f.materialize(&["stats"]).unwrap();
        assert_eq!(done.views[0].entities, u64::from(ENTITIES));
        let mut options = f.online_options(&entities, &["stats:amount", "stats:n"]);
        options.now = jan(3);
        let answer = crate::online(&f.project(), &options).unwrap();
        for (entity, id) in answer.entities.iter().zip(ids) {
            assert_eq!(entity.features["amount"], json!(f64::from(id) + 0.5));
            assert_eq!(entity.features["n"], json!(id % 7));
        }
        answers.push(serde_json::to_value(answer).unwrap());
    }
    assert_eq!(answers[0], answers[1]);
}

#[test]
fn redis_credentials_come_from_the_local_config_then_the_environment() {
    use crate::online_redis::Credentials;
    let env = RemoteEnv::from_vars([
        ("CAIRN_REDIS_USERNAME".to_owned(), "env-user".to_owned()),
        ("CAIRN_REDIS_PASSWORD".to_owned(), "env-secret".to_owned()),
    ]);
    let none = cairn_core::LocalOnline::default();
    assert_eq!(
        Credentials::resolve(&env, &none),
        Credentials {
            username: Some("env-user".into()),
            password: Some("env-secret".into()),
        }
    );
    let local = cairn_core::LocalOnline {
        redis_username: None,
        redis_password: Some("local-secret".into()),
    };
    assert_eq!(
        Credentials::resolve(&env, &local),
        Credentials {
            username: Some("env-user".into()),
            password: Some("local-secret".into()),
        }
    );
    assert_eq!(
        Credentials::resolve(&RemoteEnv::default(), &none),
        Credentials::default()
    );

    let server = RedisServer::start();
    let f = Fixture::new(&on_redis(&server.url(), DEFINITIONS));
    let mut raw = plain(&server);
    set_user(
        &mut raw,
        &["cairn", "on", ">local-secret", "~*", "&*", "+@all"],
    );
    set_user(&mut raw, &["default", "off"]);
    // Without credentials the server refuses, and the error says where they go.
    let err = f.materialize(&["stats"]).unwrap_err();
    assert!(matches!(err, FeatureError::Unavailable { .. }), "{err}");
    f.write(
        ".cairn/config.toml",
        "[online]\nredis_username = \"cairn\"\nredis_password = \"local-secret\"\n",
    );
    f.materialize(&["stats"]).unwrap();
    // The local config's password wins over a wrong one in the environment.
    let project = f.project().with_remote_env(RemoteEnv::from_vars([(
        "CAIRN_REDIS_PASSWORD".to_owned(),
        "wrong".to_owned(),
    )]));
    let store = OnlineBackend::open(&project).unwrap();
    let OnlineBackend::Redis(redis) = &store else {
        panic!("the project's online store is Redis")
    };
    let read = ViewRead {
        view: "stats",
        features: vec!["amount"],
        keys: vec!["[1]"],
    };
    redis.read_views(&[read]).unwrap();
    // A misspelt key of [online] is refused, naming the file.
    f.write(".cairn/config.toml", "[online]\nredis_pasword = \"x\"\n");
    let err = OnlineBackend::open(&f.project()).err().unwrap();
    assert!(
        matches!(err, FeatureError::LocalConfig(_))
            && err.to_string().contains(".cairn/config.toml"),
        "{err}"
    );
}

/// How many calls of `command` the server took, and how many it refused (`INFO
/// commandstats`; an ACL refusal counts as `rejected_calls`).
fn command_calls(raw: &mut redis::Connection, command: &str) -> (u64, u64) {
    let info: String = redis::cmd("INFO").arg("commandstats").query(raw).unwrap();
    let Some(line) = info
        .lines()
        .find(|l| l.starts_with(&format!("cmdstat_{command}:")))
    else {
        return (0, 0);
    };
    let field = |name: &str| -> u64 {
        line.split([':', ','])
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .map_or(0, |v| v.parse().unwrap())
    };
    (
        field("calls"),
        field("rejected_calls") + field("failed_calls"),
    )
}

/// Rows whose features take every listpack encoding: integers at each size's edges, texts
/// that look like integers but are not (`-0`, `007`, `+1`), floats, strings, nulls, and one
/// value past the 64 bytes a listpack keeps.
fn varied_rows() -> NewRows {
    let values = [
        "0",
        "127",
        "128",
        "-1",
        "-4096",
        "4095",
        "-4097",
        "4096",
        "32767",
        "-32768",
        "32768",
        "8388607",
        "-8388608",
        "8388608",
        "2147483647",
        "-2147483648",
        "2147483648",
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
        "-0",
        "007",
        "+1",
        "1.5",
        "-2.25e-7",
        "\"\"",
        "\"text\"",
        "\"été\"",
        "true",
        "null",
    ];
    let names: Vec<String> = (0..4).map(|i| format!("f{i}")).collect();
    let mut rows = Vec::new();
    for (k, _) in values.iter().enumerate() {
        rows.push(NewRow {
            key: format!("[{k}]"),
            event_us: 1_700_000_000_000_000 + k as i64,
            created_us: (k % 3 != 0).then_some(-(k as i64)),
            values: (0..4)
                .map(|i| {
                    let v = values[(k + i * 7) % values.len()];
                    (v != "null").then(|| v.to_owned())
                })
                .collect(),
        });
    }
    rows.push(NewRow {
        key: "[\"long\"]".into(),
        event_us: 1,
        created_us: None,
        values: vec![Some(format!("\"{}\"", "x".repeat(70))), None, None, None],
    });
    NewRows { names, rows }
}

/// The fields and values of a row's hash, as `HSET` takes them.
fn hash_of(names: &[String], row: &NewRow) -> Vec<(String, String)> {
    let mut fields = vec![("@event_us".to_owned(), row.event_us.to_string())];
    if let Some(c) = row.created_us {
        fields.push(("@created_us".to_owned(), c.to_string()));
    }
    for (name, value) in names.iter().zip(&row.values) {
        if let Some(v) = value {
            fields.push((name.clone(), v.clone()));
        }
    }
    fields
}

#[test]
fn rows_written_whole_are_the_hashes_hset_makes_byte_for_byte() {
    let server = RedisServer::start();
    let all = varied_rows();
    let mut store = RedisStore::new(&server.url(), &RemoteEnv::default()).unwrap();
    store
        .replace_view(&info(all.rows.len() as u64), &all.names, &mut all.batches())
        .unwrap();
    let mut raw = plain(&server);
    let (restores, refused) = command_calls(&mut raw, "restore");
    assert_eq!(
        (restores, refused),
        (all.rows.len() as u64 - 1, 0),
        "every row but the long one restored"
    );
    for row in &all.rows {
        let key = format!("cairn:1:row:v:1:{}", row.key);
        let copy = format!("copy:{}", row.key);
        let mut hset = redis::cmd("HSET");
        hset.arg(&copy);
        for (field, value) in hash_of(&all.names, row) {
            hset.arg(field).arg(value);
        }
        hset.query::<()>(&mut raw).unwrap();
        let encoding = |key: &str, raw: &mut redis::Connection| -> String {
            redis::cmd("OBJECT")
                .arg("ENCODING")
                .arg(key)
                .query(raw)
                .unwrap()
        };
        assert_eq!(
            encoding(&key, &mut raw),
            encoding(&copy, &mut raw),
            "{}",
            row.key
        );
        if encoding(&copy, &mut raw) == "listpack" {
            let dump = |key: &str, raw: &mut redis::Connection| -> Vec<u8> {
                redis::cmd("DUMP").arg(key).query(raw).unwrap()
            };
            assert_eq!(dump(&key, &mut raw), dump(&copy, &mut raw), "{}", row.key);
        } else {
            let all = |key: &str, raw: &mut redis::Connection| -> BTreeMap<String, String> {
                redis::cmd("HGETALL").arg(key).query(raw).unwrap()
            };
            assert_eq!(all(&key, &mut raw), all(&copy, &mut raw), "{}", row.key);
        }
    }
}

#[test]
fn a_server_that_refuses_restore_gets_every_row_by_hset() {
    let server = RedisServer::start();
    let mut raw = plain(&server);
    set_user(
        &mut raw,
        &["writer", "on", ">secret", "~cairn:*", "+@all", "-restore"],
    );
    let env = login("writer");
    let all = rows((0..25_001).map(|k| row(k, k, (k % 2 == 0).then_some(k), k * 3)));
    let mut store = RedisStore::new(&server.url(), &env).unwrap();
    let mut batches = all.rows.chunks(10_000).map(|c| Ok(c.to_vec()));
    store
        .replace_view(&info(all.rows.len() as u64), &all.names, &mut batches)
        .unwrap();
    let (_, refused) = command_calls(&mut raw, "restore");
    assert!(refused > 0, "the writer tried RESTORE first");
    let (hsets, _) = command_calls(&mut raw, "hset");
    assert!(hsets >= 25_001, "every row again by HSET: {hsets}");
    let reader = OnlineBackend::Redis(store);
    let keys: Vec<i64> = (0..25_001).collect();
    let want: Vec<Option<i64>> = keys.iter().map(|k| Some(k * 3)).collect();
    assert_eq!(values(&reader, &keys), want);
}
