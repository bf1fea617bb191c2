//! The guides in `docs/guide/`, checked against the binary: each guide's examples (a `$`
//! command and the output it shows) run in order in a project built for that guide from
//! seeded fixtures, and each output must be what cairn prints. How blocks are marked, what a
//! command sees and which values may vary is in [`runner`].
//!
//! Between the blocks, each test below builds what the guide's story assumes but does not
//! show (the files a user edits, a second machine, a remote's damaged object), with
//! [`Guide::write`] and [`Guide::sh`].

mod fixtures;
mod runner;

use std::time::Duration;

use runner::{Guide, Varies};
use serde::Deserialize;

/// `cairn runs list --json` and `cairn train --json`, as far as the setup steps read them.
#[derive(Deserialize)]
struct RunsDoc {
    runs: Vec<RunDoc>,
}

#[derive(Deserialize)]
struct RunDoc {
    id: String,
}

/// docs/guide/data.md: one project, `/work/fraud`, with a table and a directory of images.
#[test]
fn data_guide() {
    let mut g = Guide::open("data.md", "/work/fraud", Varies::default());
    g.sh("git init -q");
    g.check("init");

    fraud_data(&mut g);
    g.check("add");

    // The user edits the data: a label file changes, a picture goes, another comes, and the
    // table grows.
    g.write(
        "data/images/labels.csv",
        fixtures::image_labels(&["cats/1.png", "cats/new.png", "dogs/1.png"], 3),
    );
    g.write("data/images/cats/new.png", fixtures::image(450, 20));
    g.sh("rm data/images/cats/2.png");
    g.append(
        "data/transactions.csv",
        "2500,C-17,12.50,EUR,web,0,2026-11-28T10:00:00\n",
    );
    g.check("status");

    // The new images are recorded and committed; the table's edit is dropped; the workspace
    // goes back to the images of the first commit, so that a checkout has work to do.
    g.sh("cairn -q data checkout --force data/transactions.csv");
    g.write("data/features.parquet", fixtures::image(1234, 30));
    g.sh("cairn -q data add data/images data/features.parquet && git commit -qam 'more cats'");
    g.sh("cairn -q data checkout --rev HEAD~1 data/images");
    g.check("checkout");
    g.check("checkout-rev");
    g.sh("cairn -q data checkout");
    g.check("ls");
    g.check("diff");
    g.check("diff-json");
    g.check("gc");

    // Another project, with two registered versions of a model.
    g.cd("/work/churn");
    registered_project(&mut g, true);
    g.check("gc-models");

    // Back in /work/fraud, a damaged object.
    g.cd("/work/fraud");
    let features = g.toml_value(
        "cairn.lock",
        "[data.\"data/features.parquet\"]",
        0,
        "digest",
    );
    g.damage_object("/work/fraud", &features, "damaged");
    g.check("fsck-corrupt");
    g.sh("cairn -q data fsck --remove-corrupt; cairn -q data add data/features.parquet");

    // In /work/churn, churn@1's artifact damaged, then churn@2's record line naming the
    // record of a third run.
    g.cd("/work/churn");
    let artifact = g.toml_value("cairn.lock", "[[model.churn.versions]]", 0, "artifact");
    g.damage_object("/work/churn", &artifact, "tampered artifact");
    g.check("fsck-model-corrupt");
    g.sh("cairn -q data fsck --remove-corrupt; cairn -q data fetch");
    let third = g.sh("cairn --json train churn --set max_depth=1 2>/dev/null");
    let third: RunDoc = serde_json::from_str(&third).expect("a run document");
    let third_record = g.read(&format!(".cairn/runs/{}", third.id));
    let third_record = third_record
        .split_whitespace()
        .next()
        .expect("a record digest");
    let pinned = g.toml_value("cairn.lock", "[[model.churn.versions]]", 1, "record");
    let lock = g.read("cairn.lock").replace(&pinned, third_record);
    g.write("cairn.lock", lock);
    g.check("fsck-model-inconsistent");

    g.cd("/work/fraud");
    g.write("dir with space/a b.txt", "hi");
    g.check("add-space");

    g.cd("/work/demo");
    g.sh("git init -q && cairn -q init && echo a > data/raw.csv ; true");
    g.write("data/raw.csv", "a,b\n1,2\n");
    g.sh("cairn -q data add data/raw.csv && git add -A && git commit -qm data");
    g.write("data/raw.csv", "a,b\n1,3\n");
    g.write("z.csv", "z\n1\n");
    g.check("json");
    g.check("json-error");
    g.done();
}

/// Writes the data of `/work/fraud`: `data/transactions.csv` and `data/images` (a label
/// file and three pictures).
fn fraud_data(g: &mut Guide) {
    let images = ["cats/1.png", "cats/2.png", "dogs/1.png"];
    g.write("data/transactions.csv", fixtures::transactions(1500, 1));
    for (i, file) in images.iter().enumerate() {
        g.write(
            &format!("data/images/{file}"),
            fixtures::image(300 + 100 * i, 10 + i as u64),
        );
    }
    g.write("data/images/labels.csv", fixtures::image_labels(&images, 2));
}

/// Builds, in the session's current directory, a committed project with `data/train.csv`,
/// the `churn` spec and a remote `team` (`/mnt/team/cairn/churn`, written relative to the
/// project so that the commits do not depend on the session's directory), with two registered
/// versions of churn: 1 in production (forced), 2 in staging, both committed; the data
/// pushed, and the models too if `push`.
fn registered_project(g: &mut Guide, push: bool) {
    g.sh("git init -q && cairn -q init");
    g.write("data/train.csv", fixtures::churn_table(300, 1));
    let config = g.read("cairn.toml") + fixtures::CHURN_SPEC;
    g.write("cairn.toml", config);
    g.sh("cairn -q data add data/train.csv && cairn -q remote add team ../../mnt/team/cairn/churn");
    g.sh("git add -A && git commit -qm 'data, spec and remote'");
    let first = g.sh("cairn --json train churn 2>/dev/null");
    let second = g.sh("cairn --json train churn --set max_depth=2 2>/dev/null");
    for (run, version, stage) in [(first, 1, "production"), (second, 2, "staging")] {
        let run: RunDoc = serde_json::from_str(&run).expect("a run document");
        g.sh(&format!("cairn -q register {}", run.id));
        g.sh(&format!(
            "cairn -q models promote churn@{version} --to {stage} --force --reason 'first model'"
        ));
    }
    g.sh("git commit -qam 'churn@1 in production, churn@2 in staging'");
    g.sh(if push {
        "cairn -q data push"
    } else {
        "cairn -q data push data/train.csv"
    });
}

/// docs/guide/validate.md: `/work/fraud` with the card transactions (their times a day before
/// now, for the freshness check) and a directory of events.
#[test]
fn validate_guide() {
    let slack = Varies {
        slack: Duration::from_secs(3 * 86_400),
        ..Varies::default()
    };
    let mut g = Guide::open("validate.md", "/work/fraud", slack);
    g.sh("git init -q && cairn -q init");
    let newest = fixtures::now() - 86_400;
    g.write(
        "data/transactions.csv",
        fixtures::card_transactions(newest, false),
    );
    g.check("cat");
    g.check("nothing-declared");
    let config = g.read("cairn.toml");
    g.write(
        "cairn.toml",
        config.clone() + "\n" + &g.fixture("expectations"),
    );
    g.check("failing");
    g.check("verbose");
    g.write(
        "data/transactions.csv",
        fixtures::card_transactions(newest, true),
    );
    g.check("fixed");

    let with_events = g.read("cairn.toml") + "\n" + &g.fixture("events");
    g.write("cairn.toml", with_events);
    g.check("not-declared");
    for (path, text) in fixtures::events(fixtures::now() - 26 * 3600 - 300) {
        g.write(path, text);
    }
    g.check("events");

    // The JSON examples are about the failing file alone.
    g.write("cairn.toml", config + "\n" + &g.fixture("expectations"));
    g.write(
        "data/transactions.csv",
        fixtures::card_transactions(newest, false),
    );
    g.check("jq-failures");
    g.check("jq-excerpt");
    g.done();
}

/// docs/guide/remotes.md: `/work/fraud` shared through the directory remote
/// `/mnt/team/cairn/fraud` with a teammate's clone in `/laptop/fraud`; `/work/churn` with
/// registered models; the git server is `/git/acme/`.
#[test]
fn remotes_guide() {
    let mut g = Guide::open("remotes.md", "/work/fraud", Varies::default());
    g.sh("git init -q && cairn -q init");
    fraud_data(&mut g);
    g.sh("cairn -q data add data/transactions.csv data/images");
    g.sh("git add -A && git commit -qm 'track transactions and images'");
    g.check("quickstart");

    // The teammate's machine.
    g.sh("git clone -q --bare . /git/acme/fraud.git");
    g.cd("/laptop");
    g.check("teammate");

    g.cd("/work/fraud");
    g.check("minio");
    g.sh("cairn -q remote add web https://data.example.com/cairn/fraud");
    g.check("read-only");

    // More cats.
    g.write("data/images/cats/3.png", fixtures::image(520, 40));
    g.write(
        "data/images/labels.csv",
        fixtures::image_labels(&["cats/1.png", "cats/2.png", "cats/3.png", "dogs/1.png"], 2),
    );
    g.check("more-cats");
    g.check("push-all-commits");

    // A remote that never got anything, while this machine's copy of a picture is damaged
    // and the table's object is gone.
    g.sh("cairn -q remote add spare /mnt/spare");
    let lock = "cairn.lock";
    let transactions = g.toml_value(lock, "[data.\"data/transactions.csv\"]", 0, "digest");
    g.damage_object("/work/fraud", &image_object(&g, "cats/1.png"), "damaged");
    remove_object(&g, "/work/fraud", &transactions);
    g.check("push-incomplete");
    g.sh("cairn -q data fsck --remove-corrupt; cairn -q data fetch");

    // The old version of the images is collected here, then fetched back.
    g.sh("cairn -q data gc");
    g.check("fetch-rev");
    remove_object(&g, "/work/fraud", &transactions);
    g.check("fetch-incomplete");
    g.sh("cairn -q data fetch && cairn -q data checkout");

    // The teammate pulls the new commits.
    g.sh("git push -q /git/acme/fraud.git main");
    g.cd("/laptop/fraud");
    g.check("pull");

    // Here, new pictures that are not pushed yet.
    g.cd("/work/fraud");
    g.write("data/images/dogs/2.png", fixtures::image(610, 41));
    g.write("data/images/dogs/3.png", fixtures::image(380, 42));
    g.sh("cairn -q data add data/images && git commit -qam 'dogs'");
    g.check("status-remote");
    g.cd("/work/churn");
    registered_project(&mut g, false);
    g.check("status-models");
    g.cd("/work/fraud");
    g.check("status-check");
    g.check("gc-remote");
    g.sh("cairn -q remote add backup /mnt/backup && cairn -q data push --remote backup");
    // The old versions' manifests are nowhere but on team.
    g.sh("cairn -q data gc");
    g.check("gc-remote-nowhere");

    // The registered models, shared.
    g.cd("/work/churn");
    g.sh("git clone -q --bare . /git/acme/churn.git");
    g.check("models-push");
    g.cd("/laptop");
    g.check("models-pull");

    // A damaged object on the remote: a fresh clone cannot pull it, a push from here
    // repairs it (another size). Then a damaged manifest.
    g.cd("/work/fraud");
    g.sh("cairn -q data push && git push -q /git/acme/fraud.git main");
    damage_remote_object(&g, "/mnt/team/cairn/fraud", &transactions, "cut short");
    g.cd("/laptop");
    g.sh("git clone -q git@example.com:acme/fraud.git fresh");
    g.cd("/laptop/fresh");
    g.check("pull-corrupt");
    g.cd("/work/fraud");
    g.check("push-repair");
    let manifest = g.toml_value(lock, "[data.\"data/images\"]", 0, "digest");
    damage_remote_object(&g, "/mnt/team/cairn/fraud", &manifest, "not a manifest");
    g.cd("/laptop");
    g.sh("git clone -q git@example.com:acme/fraud.git fresh2");
    g.cd("/laptop/fresh2");
    g.check("pull-corrupt-manifest");

    g.cd("/work/fraud");
    g.sh("cairn -q data push");
    g.check("json-push");
    remove_object(&g, "/work/fraud", &transactions);
    g.check("json-fetch");
    g.cd("/work/churn");
    g.check("json-status-models");
    g.done();
}

/// The object of a picture of `/work/fraud/data/images`, from the directory's manifest.
fn image_object(g: &Guide, file: &str) -> String {
    let manifest = g.toml_value(
        "/work/fraud/cairn.lock",
        "[data.\"data/images\"]",
        0,
        "digest",
    );
    let text = g.read(&format!(
        "/work/fraud/.cairn/objects/{}/{}",
        &manifest[..2],
        &manifest[2..]
    ));
    let manifest: Manifest = serde_json::from_str(&text).expect("a manifest");
    manifest
        .entries
        .into_iter()
        .find(|e| e.path == file)
        .unwrap_or_else(|| panic!("{file} is not in the manifest"))
        .digest
}

/// A directory manifest (docs/formats/store.md), as far as [`image_object`] reads it.
#[derive(Deserialize)]
struct Manifest {
    entries: Vec<ManifestEntry>,
}

#[derive(Deserialize)]
struct ManifestEntry {
    path: String,
    digest: String,
}

/// Deletes an object from a project's store.
fn remove_object(g: &Guide, project: &str, digest: &str) {
    let path = g
        .real(project)
        .join(".cairn/objects")
        .join(&digest[..2])
        .join(&digest[2..]);
    std::fs::remove_file(&path).unwrap_or_else(|e| panic!("rm {}: {e}", path.display()));
}

/// Overwrites an object of a directory remote.
fn damage_remote_object(g: &Guide, remote: &str, digest: &str, content: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = g
        .real(remote)
        .join("objects")
        .join(&digest[..2])
        .join(&digest[2..]);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
        .expect("writable object");
    std::fs::write(&path, content).expect("damage the remote's object");
}

/// docs/guide/features.md: `/tmp/fs/fraud` (the path its error messages show) with the
/// worked example's three tables, tracked.
#[test]
fn features_guide() {
    let mut g = Guide::open("features.md", "/tmp/fs/fraud", Varies::default());
    g.sh("git init -q && cairn -q init");
    g.write("data/customer_stats.csv", fixtures::CUSTOMER_STATS);
    g.write("data/merchants.csv", fixtures::MERCHANTS);
    g.write("data/labels.csv", fixtures::LABELS);
    g.sh("cairn -q data add data && git add -A && git commit -qm data");
    g.check("worked-data");
    let config = g.read("cairn.toml") + "\n" + &g.fixture("definitions");
    g.write("cairn.toml", config);
    g.check("plan-materialize");
    g.check("lock");
    g.check("materialize-again");
    g.check("historical");
    g.check("created-before");
    g.check("online");

    // `plan` and `materialize` show customer_spend to compute: its table was pinned with a
    // window.
    g.sh("cairn -q feature materialize customer_spend --start 2026-11-21");
    g.check("plan");
    g.check("materialize");
    g.check("window");
    g.check("lock-window");
    g.sh("cairn -q feature materialize customer_spend");
    g.check("incremental");

    // Back to the six rows, with expectations.
    g.write("data/customer_stats.csv", fixtures::CUSTOMER_STATS);
    let config = g.read("cairn.toml") + "\n" + &g.fixture("expectations");
    g.write("cairn.toml", config);
    g.check("validation-fails");
    g.check("skip-validation");

    g.write(
        "naive.csv",
        "customer_id,event_timestamp\nC-17,2026-11-24T23:30:00\n",
    );
    g.write(
        "zoned.csv",
        "customer_id,event_timestamp\nC-17,2026-11-24T23:30:00-01:00\nC-17,2026-11-25T00:30:00+01:00\n",
    );
    g.check("time-zones");
    g.write(
        "days.csv",
        "customer_id,day\nC-17,2026-11-24\nC-17,2026-11-25\n",
    );
    g.check("dates");
    g.check("online-at");
    g.check("list");
    g.check("json");
    g.check("json-error");
    g.done();
}

/// docs/guide/train.md: `/work/shop` with 60 customers, the models the guide declares, and
/// later a table of monthly activity.
#[test]
fn train_guide() {
    let mut g = Guide::open("train.md", "/work/shop", Varies::default());
    g.sh("git init -q && cairn -q init");
    g.write("data/customers.csv", fixtures::customers(60, 1));
    g.check("customers");
    let config = g.read("cairn.toml") + "\n" + &g.fixture("churn");
    g.write("cairn.toml", config);
    g.check("train");
    g.check("train-again");
    g.check("overrides");
    // Two more models, and one over a table that is not tracked yet.
    let config = g.read("cairn.toml") + "\n" + &g.fixture("more-models") + MARCH_SPEC;
    g.write("cairn.toml", config);
    g.write("data/march.csv", fixtures::march(3));
    g.sh("git commit -qam 'charges and churn_recent'");
    g.check("more-models");
    g.check("runs-list");
    g.check("runs-show");
    g.check("runs-compare");

    g.check("untracked");
    g.check("allow-untracked");
    g.sh("cairn -q data checkout --force data/customers.csv");
    let config = g.read("cairn.toml");
    g.write(
        "cairn.toml",
        config.clone() + "\n" + &g.fixture("expectations"),
    );
    g.sh("git commit -qam expectations");
    g.check("validation");
    g.write("cairn.toml", config);
    g.sh("git commit -qam 'no expectations'");

    g.check("where");
    // The march table, tracked: its run fails on a value.
    g.sh("cairn -q data add data/march.csv && git add -A && git commit -qm march");
    g.sh("cairn -q train churn_march; test $? = 2");
    let listed = g.sh("cairn --json runs list --model churn_march 2>/dev/null");
    let listed: RunsDoc = serde_json::from_str(&listed).expect("a runs-list document");
    let last = listed.runs.last().expect("the failed run");
    g.bind("b1991a2f01ba", &last.id);
    g.check("failed-run");
    g.check("runs-rm");

    let (activity, labels) = fixtures::activity_and_labels(4);
    g.write("data/activity.csv", activity);
    g.write("data/labels.csv", labels);
    g.check("head");
    let config = g.read("cairn.toml") + "\n" + &g.fixture("features");
    g.write("cairn.toml", config);
    g.check("features");
    g.check("json");
    g.done();
}

/// A model over `data/march.csv`, whose `monthly_charges` holds a text value.
const MARCH_SPEC: &str = r#"
[model.churn_march]
data = "data/march.csv"
target = "churned"
exclude = ["customer_id", "signup"]
algorithm = "logistic_regression"

[model.churn_march.columns.monthly_charges]
type = "float"

[model.churn_march.columns.plan]
encode = "one_hot"

[model.churn_march.columns.support_calls]
impute = "median"
"#;

/// docs/guide/registry.md: `/work/churn` with 400 customers and the `churn` spec, committed,
/// with a directory remote `team` and a git server for a second machine.
#[test]
fn registry_guide() {
    let registry = Varies {
        registry: true,
        ..Varies::default()
    };
    let mut g = Guide::open("registry.md", "/work/churn", registry);
    g.sh("git init -q && cairn -q init");
    g.write("data/customers.csv", fixtures::customers(400, 8));
    let config = g.read("cairn.toml") + "\n" + &g.fixture("spec");
    g.write("cairn.toml", config);
    g.sh("cairn -q data add data/customers.csv && cairn -q remote add team ../../mnt/team/cairn/churn");
    g.sh("git add -A && git commit -qm 'customers and the churn spec'");
    g.check("register");
    g.check("promote");
    g.check("force");
    g.check("second");
    g.check("rollback");
    g.check("json");
    g.check("errors");
    g.sh(
        "git commit -qam 'churn@1 back in production' && git clone -q --bare . /git/acme/churn.git",
    );
    g.check("push");
    g.cd("/laptop");
    g.check("pull");
    g.done();
}

/// docs/guide/scale.md: `/work/shop`, the training guide's activity view and `churn_fs`
/// (imputing both inputs) registered and promoted, with its online store moved to a real
/// `redis-server` that this test starts on a free port of 127.0.0.1 (the test fails where
/// `redis-server` is missing). The guide shows port 6379: the
/// `[online]` table it shows is written with the test's port, and the blocks that print the
/// URL mark the port as varying. The guide's own Redis commands (start, `redis-cli`,
/// shutdown) and the `cairn serve` replicas are marked not checked; this test kills and
/// restarts the server where the guide stops and starts it.
#[test]
fn scale_guide() {
    let mut redis = cairn_test_support::redis::RedisServer::start();
    let mut g = Guide::open("scale.md", "/work/shop", Varies::default());
    g.sh("git init -q && cairn -q init");
    let (activity, labels) = fixtures::activity_and_labels(4);
    g.write("data/activity.csv", activity);
    g.write("data/labels.csv", labels);
    let config = g.read("cairn.toml") + "\n" + &g.fixture("project");
    g.write("cairn.toml", config);
    g.sh("cairn -q data add data && cairn -q feature materialize && git add -A && git commit -qm activity");
    g.sh("cairn -q train churn_fs && cairn -q register --best accuracy --model churn_fs");
    g.sh("cairn -q models promote churn_fs@1 --to production --force --reason 'the scale guide'");
    g.sh("git commit -qam 'churn_fs@1 in production'");

    let shown = g.fixture("online");
    assert!(
        shown.contains("127.0.0.1:6379"),
        "the guide's [online] table names 127.0.0.1:6379"
    );
    let online = shown.replace("127.0.0.1:6379", &format!("127.0.0.1:{}", redis.port()));
    let config = g.read("cairn.toml") + "\n" + &online;
    g.write("cairn.toml", config);
    g.sh("git commit -qam 'the online store on Redis'");
    g.check("materialize");
    g.check("online");
    g.check("list");
    g.check("replica");

    // The guide stops Redis (`redis-cli shutdown`); nothing is persisted.
    redis.kill();
    g.check("down");
    // ... and starts it again, empty.
    redis.restart();
    g.check("back");
    g.done();
}
