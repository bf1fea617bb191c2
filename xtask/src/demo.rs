//! `cargo xtask demo`: the lifecycle as far as it goes today (data versioning, validation, the
//! feature store, training, the model registry and its deployment gates, status, lineage,
//! reproduce, drift, retrain, serve and predict, remotes), start to
//! end, in a git repository with a seeded fraud-detection-like data set, generated under
//! `examples/fraud-detection/` and left there to explore (`--tmp`: a temporary directory,
//! removed afterwards). Every step's exit code is checked.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use crate::rng::Rng;
use crate::util::{Context, Result, build_cairn, describe, fmt_bytes, fmt_count};

const SEED: u64 = 0xCA1B_2025;
const ROWS: u64 = 5_000;
const CSV: &str = "data/transactions.csv";
const IMAGES: &str = "data/images";
const EVENTS: u64 = 2_400;
const EVENTS_CSV: &str = "data/card_events.csv";
const LABELS_CSV: &str = "labels.csv";

/// What the feature part of the demo declares in cairn.toml.
const DECLARATIONS: &str = r#"
[dataset."data/card_events.csv"]
rows = { min = 1000 }
unique = ["customer_id", "ts"]

[dataset."data/card_events.csv".columns.amount]
dtype = "float"
not_null = true
min = 0

[dataset."data/card_events.csv".columns.online]
allowed = [0, 1]

[entity.customer]
join_keys = { customer_id = "string" }

[feature_view.card]
source = "data/card_events.csv"
entities = ["customer"]
timestamp = "ts"
ttl = "1d"
features = { amount = "float", online = "int" }

[feature_view.card_totals]
source = "data/card_events.csv"
entities = ["customer"]
timestamp = "ts"
sql = """
SELECT customer_id, ts,
       SUM(amount) OVER (PARTITION BY customer_id ORDER BY ts
                         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS spend_to_date
FROM source
"""
features = { spend_to_date = "float" }

[feature_service.fraud]
features = ["card:amount", "card:online", "card_totals:spend_to_date"]
"#;

/// The model specs the demo trains.
const MODELS: &str = r#"
[model.fraud]
data = "data/transactions.csv"
target = "is_fraud"
features = ["amount", "merchant_category", "hour"]
algorithm = "random_forest_classifier"
params = { n_trees = 60, max_depth = 8 }
seed = 42

[model.fraud.columns.merchant_category]
encode = "one_hot"

[model.fraud_features]
entities = "labels.csv"
service = "fraud"
target = "is_fraud"
algorithm = "gradient_boosting_classifier"
params = { n_iterations = 50, num_leaves = 7, learning_rate = 0.1, min_samples_leaf = 10 }

# Customers without events (or past the ttl) have no features at that time. Gradient
# boosting takes them as missing (each split learns which side missing values go to), so
# unlike the other algorithms it needs no `impute`.
"#;

/// The deployment gates of `[model.fraud]`: the first version fails `roc_auc`.
const GATES: &str = r#"
[model.fraud.gates]
roc_auc = { min = 0.60 }
determinism = true
latency = { p99_ms = 50, calls = 200 }
"#;

/// The spec's params, and the fix that makes a version that passes: leaves of at least 20
/// rows (the depth-8 trees with single-row leaves rank the rare frauds poorly).
const FRAUD_PARAMS: &str = "params = { n_trees = 60, max_depth = 8 }";
const FRAUD_PARAMS_FIXED: &str = "params = { n_trees = 60, max_depth = 8, min_samples_leaf = 20 }";

/// The retraining policy of `[model.fraud]`: train on the tracked table again (new rows were
/// added to it), validate with its gates, promote when they pass.
const RETRAIN: &str = r#"
[retrain.fraud]
data = ["data/transactions.csv"]
promote = "auto"
"#;

/// The environment of every git and cairn command of the demo: a fixed identity, and no global
/// or system git configuration (so that, say, `commit.gpgsign` on the host cannot break it).
const GIT_ENV: [(&str, &str); 6] = [
    ("GIT_CONFIG_GLOBAL", "/dev/null"),
    ("GIT_CONFIG_NOSYSTEM", "1"),
    ("GIT_AUTHOR_NAME", "Cairn Demo"),
    ("GIT_AUTHOR_EMAIL", "demo@example.invalid"),
    ("GIT_COMMITTER_NAME", "Cairn Demo"),
    ("GIT_COMMITTER_EMAIL", "demo@example.invalid"),
];

/// Where the demo leaves its example project: the project, its directory remote and a
/// teammate's clone, side by side, for the user to explore afterwards.
pub const EXAMPLE_DIR: &str = "examples/fraud-detection";

/// The file that marks a directory as the demo's own, so that a rerun may replace it.
const MARKER: &str = ".cairn-demo";

/// What the demo may replace inside `EXAMPLE_DIR` (everything else there is left alone: the
/// committed README).
const GENERATED: [&str; 4] = ["project", "remote", "clone", MARKER];

/// Where the demo runs: `examples/fraud-detection/` of the workspace (replaced at every run,
/// kept afterwards), or a temporary directory removed afterwards (`--tmp`).
enum Place {
    Example(PathBuf),
    Temporary(tempfile::TempDir),
}

impl Place {
    fn root(&self) -> &std::path::Path {
        match self {
            Place::Example(dir) => dir,
            Place::Temporary(tmp) => tmp.path(),
        }
    }
}

/// Empties the demo's part of `examples/fraud-detection/` for a new run: only what an earlier
/// run made (it left [`MARKER`]) is removed; a directory of the user's is refused.
fn prepare_example(root: &std::path::Path) -> Result<()> {
    let generated: Vec<PathBuf> = GENERATED.iter().map(|name| root.join(name)).collect();
    let earlier = generated.iter().any(|p| p.exists());
    if earlier && !root.join(MARKER).is_file() {
        return Err(format!(
            "{} holds files the demo did not make (no {MARKER} there); move them away, or run \
             `cargo xtask demo --tmp` to use a temporary directory",
            root.display()
        )
        .into());
    }
    for path in &generated {
        if path.is_dir() {
            std::fs::remove_dir_all(path)
                .context(|| format!("cannot remove {}", path.display()))?;
        } else if path.exists() {
            std::fs::remove_file(path).context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    std::fs::create_dir_all(root).context(|| format!("cannot create {}", root.display()))?;
    std::fs::write(
        root.join(MARKER),
        "made by `cargo xtask demo`; the next run replaces project/, remote/ and clone/\n",
    )
    .context(|| format!("cannot write {}", root.join(MARKER).display()))
}

pub fn run(temporary: bool) -> Result<()> {
    let cairn = build_cairn(false)?;
    let place = if temporary {
        Place::Temporary(
            tempfile::Builder::new()
                .prefix("cairn-demo-")
                .tempdir()
                .context(|| "cannot create a temporary directory".to_owned())?,
        )
    } else {
        let root = crate::util::workspace_root().join(EXAMPLE_DIR);
        prepare_example(&root)?;
        Place::Example(root)
    };
    // The project, its remote and a teammate's clone side by side.
    let project = place.root().join("project");
    std::fs::create_dir(&project).context(|| format!("cannot create {}", project.display()))?;
    let mut demo = Demo {
        dir: project,
        cairn,
        steps: 0,
        cairn_runs: 0,
    };
    println!("demo repository: {}", demo.dir.display());

    let started = Instant::now();
    let result = demo.script();
    if result.is_ok() {
        println!("\n## summary\n");
        println!(
            "{} steps ({} cairn commands) ran with the expected exit codes in {:.1} s:",
            demo.steps,
            demo.cairn_runs,
            started.elapsed().as_secs_f64()
        );
        println!("- {CSV} and {IMAGES}/ are tracked by cairn.lock; git holds none of their bytes");
        println!(
            "- `status --check` exited 1 after the edits, 0 once `checkout --force` undid them"
        );
        println!("- `checkout --rev HEAD~1` brought back the first table, `checkout` the second");
        println!("- gc dropped what no lock refers to, and fsck found the store intact");
        println!(
            "- `data validate` checked {EVENTS_CSV} against its declared expectations, and stopped \
             `feature materialize` when a bad row came in"
        );
        println!(
            "- two feature views were materialized once (a second run computed nothing), joined \
             point-in-time onto {LABELS_CSV} for training, and read from the online store"
        );
        println!(
            "- `train` fitted a random forest from its spec twice with one seed and got the same \
             artifact digest; runs were listed, filtered, sorted and compared; a second model \
             (gradient boosting, missing features left missing) trained on features joined \
             point-in-time"
        );
        println!(
            "- `register` made the first run fraud@1; `validate` failed it on a gate (exit 1) \
             and production refused it (exit 2); with the spec fixed, fraud@2 passed its gates \
             and went to staging, then production; `models history` shows every step, and \
             `cairn.lock` holds them all in git"
        );
        println!(
            "- `status` showed data, features and models at a glance, `lineage` where fraud@2 \
             comes from (as a tree and as Mermaid), `reproduce` rebuilt it from its pins with the \
             same artifact digest, and `drift` flagged this week's shifted transactions (exit 1) \
             with a self-contained HTML report"
        );
        println!(
            "- `retrain` tracked the table with this week's labelled rows, trained, registered, \
             validated fraud@3 against its gates and promoted it by the `[retrain.fraud]` \
             policy; `serve` answered a prediction over HTTP with it and stopped cleanly on \
             SIGTERM, and `predict` scored this week's file through the same path"
        );
        println!(
            "- push sent the pinned objects (data, feature tables, run records and models) to a \
             directory remote (a second push sent nothing); a fresh clone listed the runs on the \
             remote before fetching anything (`runs list --remote`), and `data pull` there \
             restored everything, verified, with the runs (`runs list` shows them there)"
        );
    }
    let _ = std::io::stdout().flush();
    match &place {
        Place::Example(root) => println!(
            "\nthe example project is in {}: `cd {}` and try `cairn status`, `cairn models list`, \
             `cairn lineage fraud` (with the cairn just built: {})",
            root.display(),
            demo.dir.display(),
            demo.cairn.display()
        ),
        Place::Temporary(_) if result.is_err() => {
            eprintln!("(rerun without `--tmp` to keep the project in {EXAMPLE_DIR}/)");
        }
        Place::Temporary(_) => {}
    }
    result
}

struct Demo {
    dir: PathBuf,
    cairn: PathBuf,
    steps: u32,
    cairn_runs: u32,
}

impl Demo {
    fn script(&mut self) -> Result<()> {
        self.heading("a git repository with a seeded data set");
        self.git(&["init", "-q", "-b", "main"], 0)?;
        self.quiet_git(&["config", "user.name", "Cairn Demo"])?;
        self.quiet_git(&["config", "user.email", "demo@example.invalid"])?;
        let mut rng = Rng::new(SEED);
        let v1 = transactions(&mut rng, 1, ROWS, true);
        self.write(CSV, v1.as_bytes())?;
        let (images, image_bytes) = self.write_images(&mut rng)?;
        println!(
            "generated {CSV} ({} rows, {}) and {IMAGES}/ ({images} images, {}) from seed {SEED:#x}",
            fmt_count(ROWS),
            fmt_bytes(v1.len() as u64),
            fmt_bytes(image_bytes),
        );

        self.heading("start tracking the data");
        self.cairn(&["init"], 0)?;
        self.cairn(&["data", "add", CSV, IMAGES], 0)?;
        self.commit("track data")?;
        self.check_git_does_not_hold_data()?;
        self.cairn(&["data", "status"], 0)?;

        self.heading("change the workspace: append rows, delete an image, add an image");
        let mut appended = v1.clone();
        appended.push_str(&transactions(&mut rng, ROWS + 1, 250, false));
        self.write(CSV, appended.as_bytes())?;
        let deleted = format!("{IMAGES}/train/dog/dog_0007.pgm");
        std::fs::remove_file(self.dir.join(&deleted))
            .context(|| format!("cannot delete {deleted}"))?;
        let added = format!("{IMAGES}/val/cat/cat_0100.pgm");
        self.write(&added, &pgm(&mut rng))?;
        println!("appended 250 rows to {CSV}, deleted {deleted}, added {added}");
        self.cairn(&["data", "status"], 0)?;
        self.cairn(&["data", "status", "--check"], 1)?;
        println!("(exit 1, as expected: the workspace differs from cairn.lock)");

        self.heading("throw the changes away");
        self.cairn(&["data", "checkout", "--force"], 0)?;
        self.cairn(&["data", "status", "--check"], 0)?;
        self.expect_content(CSV, v1.as_bytes(), "the first version")?;
        self.expect_exists(&deleted, true)?;
        self.expect_exists(&added, false)?;
        println!("(exit 0: {CSV} and {IMAGES}/ match cairn.lock again)");

        self.heading("a second version of the table");
        let mut v2 = v1.clone();
        v2.push_str(&transactions(&mut Rng::new(SEED ^ 2), ROWS + 1, 500, false));
        self.write(CSV, v2.as_bytes())?;
        println!(
            "appended 500 new rows to {CSV} ({} rows now)",
            fmt_count(ROWS + 500)
        );
        self.cairn(&["data", "add", CSV], 0)?;
        self.commit("more transactions")?;

        self.heading("travel back one commit, and return");
        self.cairn(&["data", "checkout", "--rev", "HEAD~1"], 0)?;
        self.cairn(&["data", "status"], 0)?;
        self.expect_content(CSV, v1.as_bytes(), "the first version")?;
        println!(
            "({CSV} is the first version again: {} rows)",
            fmt_count(ROWS)
        );
        self.cairn(&["data", "checkout"], 0)?;
        self.expect_content(CSV, v2.as_bytes(), "the second version")?;
        self.cairn(&["data", "status", "--check"], 0)?;
        println!(
            "({CSV} is the second version again: {} rows)",
            fmt_count(ROWS + 500)
        );

        self.heading("look after the store");
        self.cairn(&["data", "ls"], 0)?;
        self.cairn(&["data", "gc", "--dry-run"], 0)?;
        self.cairn(&["data", "gc"], 0)?;
        self.cairn(&["data", "fsck"], 0)?;

        self.features(&mut Rng::new(SEED ^ 3))?;
        let first = self.training()?;
        self.registry(&first)?;
        self.watch(&mut Rng::new(SEED ^ 5))?;
        self.serve()?;

        self.heading("share the data through a remote");
        let parent = self.dir.parent().map(PathBuf::from).unwrap_or_default();
        let remote = parent.join("remote");
        let remote = remote
            .to_str()
            .ok_or("the temporary path is not UTF-8")?
            .to_owned();
        self.cairn(&["remote", "add", "shared", &remote], 0)?;
        self.commit("add a remote")?;
        self.cairn(&["data", "status", "--remote", "--check"], 1)?;
        println!("(exit 1, as expected: nothing is on the remote yet)");
        self.cairn(&["data", "push"], 0)?;
        self.cairn(&["data", "push"], 0)?;
        self.cairn(&["data", "status", "--remote", "--check"], 0)?;

        self.heading("a teammate's fresh clone gets the data");
        let clone = parent.join("clone");
        let clone_arg = clone
            .to_str()
            .ok_or("the temporary path is not UTF-8")?
            .to_owned();
        self.git(&["clone", "-q", ".", &clone_arg], 0)?;
        let project = std::mem::replace(&mut self.dir, clone);
        println!("(now in {})", self.dir.display());
        self.cairn(&["data", "status", "--check"], 1)?;
        println!("(exit 1, as expected: a clone has the lock but not the data)");
        self.cairn(&["runs", "list", "--remote", "--sort", "roc_auc"], 0)?;
        let listed = self.cairn_json(&["runs", "list", "--remote"])?;
        let on_remote = listed["runs"].as_array().map_or(0, Vec::len);
        if on_remote == 0 {
            return Err("`runs list --remote` shows none of the pushed runs".into());
        }
        println!("(the {on_remote} runs on the remote, read before anything was fetched)");
        self.cairn(&["data", "pull"], 0)?;
        self.cairn(&["data", "status", "--check"], 0)?;
        // The table as the first checkout last committed it (this week's rows appended).
        let committed = std::fs::read(project.join(CSV))
            .context(|| format!("cannot read {CSV} of the first checkout"))?;
        self.expect_content(CSV, &committed, "the pulled table")?;
        let runs = self.cairn_json(&["runs", "list"])?;
        let pulled = runs["runs"].as_array().map_or(0, Vec::len);
        if pulled != on_remote {
            return Err(format!(
                "the clone's `data pull` brought {pulled} runs, and the remote lists {on_remote}"
            )
            .into());
        }
        println!("(the {pulled} runs trained in the first checkout came too)");
        self.cairn(&["models", "list"], 0)?;
        println!("(the clone knows every version and stage: they are in cairn.lock)");
        println!("(the pinned feature tables came too: the online store is rebuilt from them)");
        self.cairn(&["feature", "materialize"], 0)?;
        self.cairn(
            &[
                "feature",
                "online",
                "--entity",
                "customer_id=C00001",
                "--service",
                "fraud",
            ],
            0,
        )?;
        self.dir = project;
        Ok(())
    }

    /// Training and tracking: a forest on the transactions, twice with one seed (same
    /// artifact), once with another param; runs listed and compared; a model on features.
    /// Returns the id of the first run of `fraud` the demo compares.
    fn training(&mut self) -> Result<String> {
        self.heading("train a model on the tracked table, and track the run");
        let config = std::fs::read_to_string(self.dir.join("cairn.toml"))
            .context(|| "cannot read cairn.toml".to_owned())?;
        self.write("cairn.toml", format!("{config}{MODELS}").as_bytes())?;
        println!("appended to cairn.toml:");
        print!("{MODELS}");
        println!("(the labels were committed to git so far; cairn tracks them from now on)");
        self.git(&["rm", "-q", "--cached", LABELS_CSV], 0)?;
        self.cairn(&["data", "add", LABELS_CSV], 0)?;
        self.commit("model specs")?;
        self.cairn(&["train", "fraud", "--tag", "owner=demo"], 0)?;

        self.heading("training is reproducible: same data, spec and seed, same artifact");
        let first = self.cairn_json(&["train", "fraud"])?;
        let second = self.cairn_json(&["train", "fraud"])?;
        let digest = |run: &serde_json::Value| run["artifact"].as_str().unwrap_or("").to_owned();
        if digest(&first).is_empty() || digest(&first) != digest(&second) {
            return Err(format!(
                "two runs of one spec gave artifacts {} and {}",
                digest(&first),
                digest(&second)
            )
            .into());
        }
        println!(
            "runs {} and {}: both artifacts are {}",
            first["id"].as_str().unwrap_or("?"),
            second["id"].as_str().unwrap_or("?"),
            digest(&first)
        );
        let deeper = self.cairn_json(&["train", "fraud", "--set", "max_depth=12"])?;
        self.cairn(&["runs", "list", "--sort", "roc_auc"], 0)?;
        let (a, b) = (
            first["id"].as_str().unwrap_or("").to_owned(),
            deeper["id"].as_str().unwrap_or("").to_owned(),
        );
        self.cairn(&["runs", "compare", &a, &b], 0)?;
        self.cairn(&["runs", "list", "--where", "params.max_depth>=12"], 0)?;

        self.heading(
            "a gradient-boosted model on features, joined point-in-time to the labelled times",
        );
        self.cairn(&["train", "fraud_features"], 0)?;
        self.cairn(&["runs", "show", &b], 0)?;
        Ok(a)
    }

    /// The registry and its gates: a version registered and validated (a gate fails: exit 1,
    /// and production refuses it), the spec fixed, a new version that passes, promoted to
    /// staging and production; the history, and the change to `cairn.lock` in git.
    fn registry(&mut self, run: &str) -> Result<()> {
        self.heading("register the model, and declare the gates it must pass");
        let config = std::fs::read_to_string(self.dir.join("cairn.toml"))
            .context(|| "cannot read cairn.toml".to_owned())?;
        self.write("cairn.toml", format!("{config}{GATES}").as_bytes())?;
        println!("appended to cairn.toml:");
        print!("{GATES}");
        self.commit("gates for fraud")?;
        self.cairn(&["register", run, "--description", "60 trees, depth 8"], 0)?;
        self.cairn(&["models", "list"], 0)?;

        self.heading("validate it: a gate fails, and production refuses the version");
        self.cairn(&["validate", "fraud@1"], 1)?;
        println!("(exit 1, as expected: its roc_auc on the run's own held-out rows is under 0.60)");
        self.cairn(&["models", "promote", "fraud@1", "--to", "production"], 2)?;
        println!("(exit 2, as expected: production needs a passing validation of that version)");

        self.heading("fix the spec, and register a version that passes");
        let config = std::fs::read_to_string(self.dir.join("cairn.toml"))
            .context(|| "cannot read cairn.toml".to_owned())?;
        if !config.contains(FRAUD_PARAMS) {
            return Err(format!("cairn.toml does not declare `{FRAUD_PARAMS}`").into());
        }
        self.write(
            "cairn.toml",
            config
                .replacen(FRAUD_PARAMS, FRAUD_PARAMS_FIXED, 1)
                .as_bytes(),
        )?;
        self.git(&["--no-pager", "diff", "--", "cairn.toml"], 0)?;
        self.commit("fraud: leaves of at least 20 rows")?;
        let trained = self.cairn_json(&["train", "fraud"])?;
        let fixed = trained["id"]
            .as_str()
            .ok_or("`cairn --json train fraud` printed no run id")?
            .to_owned();
        println!(
            "run {fixed}: roc_auc {:.4} on its held-out rows",
            trained["metrics"]["roc_auc"].as_f64().unwrap_or(f64::NAN)
        );
        self.cairn(
            &[
                "register",
                &fixed,
                "--description",
                "leaves of at least 20 rows",
            ],
            0,
        )?;
        self.cairn(&["validate", "fraud@2"], 0)?;

        self.heading("promote it to staging, then to production");
        self.cairn(
            &[
                "models",
                "promote",
                "fraud@2",
                "--to",
                "staging",
                "--reason",
                "passed its gates",
            ],
            0,
        )?;
        self.cairn(
            &["models", "promote", "fraud@staging", "--to", "production"],
            0,
        )?;
        self.cairn(&["models", "show", "fraud@production"], 0)?;
        self.cairn(&["models", "history", "fraud"], 0)?;
        self.git(&["--no-pager", "diff", "--stat", "--", "cairn.lock"], 0)?;
        self.commit("fraud@2 in production")?;
        println!(
            "(the registry is in cairn.lock: registrations, verdicts and promotions are \
             reviewed and shared as commits)"
        );
        Ok(())
    }

    /// The model in production, watched: the project at a glance, where the version comes
    /// from, its rebuild proved bit for bit, and drift on shifted traffic with the HTML report.
    fn watch(&mut self, rng: &mut Rng) -> Result<()> {
        self.heading("the project at a glance, and where the production model comes from");
        self.cairn(&["status"], 0)?;
        self.cairn(&["lineage", "fraud@production"], 0)?;
        self.cairn(&["lineage", "fraud@production", "--format", "mermaid"], 0)?;

        self.heading("rebuild the production model from its pins, bit for bit");
        self.cairn(&["reproduce", "fraud@production"], 0)?;
        println!(
            "(the code at its commit, the data by digest, the run's params and seed: the same \
             artifact digest)"
        );

        self.heading("drift: this week's transactions against the training data");
        // Amounts three times larger and the hours moved six hours later: two of the model's
        // three inputs drift.
        let mut shifted =
            String::from("transaction_id,customer_id,amount,merchant_category,hour,is_fraud\n");
        for line in transactions(rng, 900_000, 2_000, false).lines() {
            let mut cells: Vec<String> = line.split(',').map(str::to_owned).collect();
            let amount: f64 = cells[2]
                .parse()
                .map_err(|_| "a generated amount does not parse")?;
            let hour: u64 = cells[4]
                .parse()
                .map_err(|_| "a generated hour does not parse")?;
            cells[2] = format!("{:.2}", amount * 3.0);
            cells[4] = ((hour + 6) % 24).to_string();
            shifted.push_str(&cells.join(","));
            shifted.push('\n');
        }
        self.write("this_week.csv", shifted.as_bytes())?;
        println!("generated this_week.csv: 2,000 transactions, amounts x3, hours +6");
        self.cairn(&["data", "add", "this_week.csv"], 0)?;
        self.cairn(
            &[
                "drift",
                "fraud@production",
                "--current",
                "this_week.csv",
                "--report",
                "drift.html",
            ],
            1,
        )?;
        let report = std::fs::metadata(self.dir.join("drift.html"))
            .context(|| "`cairn drift --report drift.html` wrote no report".to_owned())?;
        println!(
            "(exit 1: the dataset drifted; drift.html is {} and self-contained: open it in a browser)",
            fmt_bytes(report.len())
        );
        let ignore = std::fs::read_to_string(self.dir.join(".gitignore")).unwrap_or_default();
        self.write(".gitignore", format!("{ignore}/drift.html\n").as_bytes())?;
        self.commit("this week's transactions")?;
        self.cairn(&["status"], 0)?;

        self.heading("retrain: this week's labelled transactions join the training data");
        let table =
            std::fs::read_to_string(self.dir.join(CSV)).context(|| format!("cannot read {CSV}"))?;
        let week: String = shifted.lines().skip(1).map(|l| format!("{l}\n")).collect();
        self.write(CSV, format!("{table}{week}").as_bytes())?;
        println!(
            "appended this week's 2,000 labelled transactions to {CSV}; declared in cairn.toml:"
        );
        print!("{RETRAIN}");
        let config = std::fs::read_to_string(self.dir.join("cairn.toml"))
            .context(|| "cannot read cairn.toml".to_owned())?;
        self.write("cairn.toml", format!("{config}{RETRAIN}").as_bytes())?;
        self.commit("a retraining policy for fraud")?;
        self.cairn(&["retrain", "fraud"], 0)?;
        self.cairn(&["models", "history", "fraud"], 0)?;
        self.commit("fraud retrained on this week's data")?;
        Ok(())
    }

    /// The production model behind HTTP: `cairn serve` started on a free port, a prediction
    /// asked for, SIGTERM; then the same scoring path from the terminal with `cairn predict`.
    fn serve(&mut self) -> Result<()> {
        self.heading("serve the production model over HTTP, and score a file in batch");
        let shown = "cairn serve fraud@production --port 0";
        println!("$ {shown} &");
        self.steps += 1;
        self.cairn_runs += 1;
        let _ = std::io::stdout().flush();
        let mut server = Command::new(&self.cairn)
            .args(["serve", "fraud@production", "--port", "0"])
            .current_dir(&self.dir)
            .envs(GIT_ENV)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .context(|| format!("step {} `{shown}`: cannot run", self.steps))?;
        let stderr = server.stderr.take().ok_or("no stderr")?;
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
        let mut address = None;
        for line in lines.by_ref() {
            let line = line.context(|| "cannot read the server's output".to_owned())?;
            println!("{line}");
            if let Some(at) = line.strip_prefix("listening on http://") {
                address = Some(at.trim().to_owned());
            }
            if line.starts_with("ready in") {
                break;
            }
        }
        let Some(address) = address else {
            let _ = server.kill();
            return Err(format!(
                "step {} `{shown}`: the server never said where it listens",
                self.steps
            )
            .into());
        };
        let body = r#"{"instances": [{"amount": 1250.0, "merchant_category": "electronics", "hour": 3}, {"amount": 12.5, "merchant_category": "grocery", "hour": 14}]}"#;
        println!("$ curl -s http://{address}/v1/models/fraud/predict -d '{body}'");
        self.steps += 1;
        let answer = post(&address, "/v1/models/fraud/predict", body);
        // Stop it as a supervisor would, whatever the answer was.
        let _ = Command::new("kill")
            .args(["-TERM", &server.id().to_string()])
            .status();
        let (status, text) = answer?;
        println!("{text}");
        if status != 200 {
            let _ = server.wait();
            return Err(format!("step {}: the server answered {status}", self.steps).into());
        }
        for line in lines.map_while(std::result::Result::ok) {
            println!("{line}");
        }
        let stopped = server
            .wait()
            .context(|| "cannot wait for the server".to_owned())?;
        println!("$ kill -TERM %1   (exit {})", stopped.code().unwrap_or(-1));
        if !stopped.success() {
            return Err(format!("`{shown}` did not stop cleanly: {}", describe(stopped)).into());
        }
        self.cairn(
            &[
                "predict",
                "fraud@production",
                "--input",
                "this_week.csv",
                "--ignore-unknown",
                "-o",
                "scored.csv",
            ],
            0,
        )?;
        let scored = std::fs::read_to_string(self.dir.join("scored.csv"))
            .context(|| "cannot read scored.csv".to_owned())?;
        println!(
            "scored.csv ({} rows); the first ones:",
            scored.lines().count().saturating_sub(1)
        );
        for line in scored.lines().take(3) {
            println!("  {line}");
        }
        std::fs::remove_file(self.dir.join("scored.csv"))
            .context(|| "cannot remove scored.csv".to_owned())?;
        Ok(())
    }

    /// Runs `cairn --json ARGS`, shown like the other steps, and returns its document.
    fn cairn_json(&mut self, args: &[&str]) -> Result<serde_json::Value> {
        let shown = format!("cairn --json {}", shell_words(args));
        println!("$ {shown}");
        self.steps += 1;
        self.cairn_runs += 1;
        let output = Command::new(&self.cairn)
            .arg("--json")
            .args(args)
            .current_dir(&self.dir)
            .envs(GIT_ENV)
            .output()
            .context(|| format!("step {} `{shown}`: cannot run", self.steps))?;
        if !output.status.success() {
            return Err(format!(
                "step {} `{shown}` failed: {}\n{}",
                self.steps,
                describe(output.status),
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
        serde_json::from_slice(&output.stdout)
            .map_err(|e| format!("step {} `{shown}`: not JSON: {e}", self.steps).into())
    }

    /// Data validation and the feature store on a table of card events per customer.
    fn features(&mut self, rng: &mut Rng) -> Result<()> {
        self.heading("declare expectations and features in cairn.toml");
        let mut events = String::from("customer_id,ts,amount,online\n");
        for i in 0..EVENTS {
            let customer = 1 + i % 200;
            // One event per customer every six hours, over 2026-01-01..2026-01-03.
            let minutes = (i / 200) * 360 + rng.below(60);
            let (day, hour, minute) = (1 + minutes / 1440, minutes % 1440 / 60, minutes % 60);
            let amount = (3.0 + rng.normal()).exp().clamp(0.5, 5_000.0);
            let online = u8::from(rng.unit() < 0.3);
            events.push_str(&format!(
                "C{customer:05},2026-01-{day:02}T{hour:02}:{minute:02}:00,{amount:.2},{online}\n"
            ));
        }
        self.write(EVENTS_CSV, events.as_bytes())?;
        let mut labels = String::from("customer_id,event_timestamp,is_fraud\n");
        for i in 0..300 {
            let customer = 1 + rng.below(220); // some customers have no events at all
            let hour = rng.below(60);
            labels.push_str(&format!(
                "C{customer:05},2026-01-{:02}T{:02}:00:00,{}\n",
                1 + hour / 24,
                hour % 24,
                u8::from(i % 17 == 0)
            ));
        }
        self.write(LABELS_CSV, labels.as_bytes())?;
        let config = std::fs::read_to_string(self.dir.join("cairn.toml"))
            .context(|| "cannot read cairn.toml".to_owned())?;
        self.write("cairn.toml", format!("{config}{DECLARATIONS}").as_bytes())?;
        println!(
            "generated {EVENTS_CSV} ({} events of 200 customers) and {LABELS_CSV} (300 labelled times); appended to cairn.toml:",
            fmt_count(EVENTS)
        );
        print!("{DECLARATIONS}");

        self.heading("validate the data, then build features from it");
        self.cairn(&["data", "validate"], 0)?;
        self.cairn(&["data", "add", EVENTS_CSV], 0)?;
        self.cairn(&["feature", "plan"], 0)?;
        self.cairn(&["feature", "materialize"], 0)?;
        self.cairn(&["feature", "materialize"], 0)?;
        println!("(unchanged definitions and sources are not computed again)");
        self.commit("features")?;

        self.heading("training rows: a point-in-time join; serving: the online store");
        self.cairn(
            &[
                "feature",
                "historical",
                "--entities",
                LABELS_CSV,
                "--service",
                "fraud",
                "-o",
                "train.csv",
            ],
            0,
        )?;
        let train = std::fs::read_to_string(self.dir.join("train.csv"))
            .context(|| "cannot read train.csv".to_owned())?;
        let rows = train.lines().count().saturating_sub(1);
        if rows != 300 {
            return Err(
                format!("train.csv has {rows} rows, not one per labelled time (300)").into(),
            );
        }
        println!("train.csv: one row per labelled time, in order ({rows} rows); the first ones:");
        for line in train.lines().take(4) {
            println!("  {line}");
        }
        self.cairn(
            &[
                "feature",
                "online",
                "--entity",
                "customer_id=C00001",
                "--entity",
                "customer_id=C00002",
                "--service",
                "fraud",
            ],
            0,
        )?;
        self.cairn(&["feature", "list"], 0)?;

        self.heading("bad data stops the features");
        let bad = format!("{events}C00001,2026-01-03T23:00:00,-5.00,1\n");
        self.write(EVENTS_CSV, bad.as_bytes())?;
        println!("appended an event with a negative amount to {EVENTS_CSV}");
        self.cairn(&["data", "validate"], 1)?;
        self.cairn(&["feature", "materialize"], 1)?;
        println!("(exit 1: nothing was computed or pinned from the bad data)");
        self.cairn(&["data", "checkout", "--force", EVENTS_CSV], 0)?;
        self.cairn(&["data", "validate"], 0)?;
        Ok(())
    }

    fn heading(&self, title: &str) {
        println!("\n## {title}\n");
    }

    /// Runs `cairn ARGS` in the repository, output streamed through, and checks its exit code.
    fn cairn(&mut self, args: &[&str], expect: i32) -> Result<()> {
        self.cairn_runs += 1;
        let mut cmd = Command::new(&self.cairn);
        cmd.args(args);
        self.step(&format!("cairn {}", shell_words(args)), cmd, expect)
    }

    /// Runs `git ARGS` in the repository, output streamed through, and checks its exit code.
    fn git(&mut self, args: &[&str], expect: i32) -> Result<()> {
        let mut cmd = Command::new("git");
        cmd.args(args);
        self.step(&format!("git {}", shell_words(args)), cmd, expect)
    }

    /// `git add -A && git commit -m MESSAGE`, shown as one step.
    fn commit(&mut self, message: &str) -> Result<()> {
        let shown = format!("git add -A && git commit -q -m {}", shell_word(message));
        println!("$ {shown}");
        self.steps += 1;
        let mut add = Command::new("git");
        add.args(["add", "-A"]);
        self.run_checked(&shown, add, 0)?;
        let mut commit = Command::new("git");
        commit.args(["commit", "-q", "-m", message]);
        self.run_checked(&shown, commit, 0)
    }

    fn step(&mut self, shown: &str, cmd: Command, expect: i32) -> Result<()> {
        println!("$ {shown}");
        self.steps += 1;
        self.run_checked(shown, cmd, expect)
    }

    fn run_checked(&self, shown: &str, mut cmd: Command, expect: i32) -> Result<()> {
        cmd.current_dir(&self.dir).envs(GIT_ENV);
        // Let what we printed so far come out before the child's output.
        let _ = std::io::stdout().flush();
        let status = cmd
            .status()
            .context(|| format!("step {} `{shown}`: cannot run", self.steps))?;
        if status.code() != Some(expect) {
            return Err(format!(
                "step {} `{shown}` failed: {}, expected exit code {expect}",
                self.steps,
                describe(status)
            )
            .into());
        }
        Ok(())
    }

    /// Git set-up that is not worth showing.
    fn quiet_git(&self, args: &[&str]) -> Result<()> {
        let output = Command::new("git")
            .args(args)
            .current_dir(&self.dir)
            .envs(GIT_ENV)
            .output()
            .context(|| format!("cannot run `git {}`", shell_words(args)))?;
        if !output.status.success() {
            return Err(format!(
                "`git {}` failed ({}): {}",
                shell_words(args),
                describe(output.status),
                String::from_utf8_lossy(&output.stderr).trim()
            )
            .into());
        }
        Ok(())
    }

    /// The data must be ignored by git: only cairn's small files are committed.
    fn check_git_does_not_hold_data(&mut self) -> Result<()> {
        println!("$ git ls-files");
        self.steps += 1;
        let output = Command::new("git")
            .args(["ls-files"])
            .current_dir(&self.dir)
            .envs(GIT_ENV)
            .output()
            .context(|| "cannot run `git ls-files`".to_owned())?;
        let listing = String::from_utf8_lossy(&output.stdout);
        print!("{listing}");
        if let Some(path) = listing
            .lines()
            .find(|path| *path == CSV || path.starts_with(&format!("{IMAGES}/")))
        {
            return Err(format!(
                "step {} `git ls-files`: git tracks {path}; `cairn data add` should have made \
                 git ignore the data",
                self.steps
            )
            .into());
        }
        Ok(())
    }

    fn write(&self, rel: &str, contents: &[u8]) -> Result<()> {
        let path = self.dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, contents).context(|| format!("cannot write {}", path.display()))
    }

    /// 50 small greyscale PGM images in `train/{cat,dog}` and `val/{cat,dog}`.
    fn write_images(&self, rng: &mut Rng) -> Result<(u32, u64)> {
        let mut count = 0;
        let mut bytes = 0;
        for (split, per_class) in [("train", 18), ("val", 7)] {
            for class in ["cat", "dog"] {
                for i in 1..=per_class {
                    let image = pgm(rng);
                    bytes += image.len() as u64;
                    count += 1;
                    self.write(
                        &format!("{IMAGES}/{split}/{class}/{class}_{i:04}.pgm"),
                        &image,
                    )?;
                }
            }
        }
        Ok((count, bytes))
    }

    fn expect_content(&self, rel: &str, expected: &[u8], which: &str) -> Result<()> {
        let actual = std::fs::read(self.dir.join(rel)).context(|| format!("cannot read {rel}"))?;
        if actual != expected {
            return Err(format!(
                "after step {}: {rel} should be {which} ({}) but is {} of other content",
                self.steps,
                fmt_bytes(expected.len() as u64),
                fmt_bytes(actual.len() as u64),
            )
            .into());
        }
        Ok(())
    }

    fn expect_exists(&self, rel: &str, exists: bool) -> Result<()> {
        if self.dir.join(rel).exists() != exists {
            let should = if exists {
                "should exist but does not"
            } else {
                "should be gone"
            };
            return Err(format!("after step {}: {rel} {should}", self.steps).into());
        }
        Ok(())
    }
}

const CATEGORIES: [&str; 10] = [
    "grocery",
    "restaurant",
    "fuel",
    "online_retail",
    "travel",
    "electronics",
    "pharmacy",
    "entertainment",
    "utilities",
    "cash_advance",
];

/// `n` rows of transactions numbered from `first`, with a header line if asked. Fraud is rare
/// and more likely at night, for risky categories and for large amounts.
fn transactions(rng: &mut Rng, first: u64, n: u64, header: bool) -> String {
    let mut out = String::with_capacity(n as usize * 48);
    if header {
        out.push_str("transaction_id,customer_id,amount,merchant_category,hour,is_fraud\n");
    }
    for id in first..first + n {
        let customer = rng.between(1, 800);
        let amount = (3.4 + 1.1 * rng.normal()).exp().clamp(0.5, 9_999.0);
        let category = *rng.pick(&CATEGORIES);
        let hour = if rng.unit() < 0.85 {
            rng.between(7, 22)
        } else {
            rng.below(24)
        };
        let mut p_fraud = 0.008;
        if hour < 6 {
            p_fraud *= 4.0;
        }
        if matches!(category, "online_retail" | "electronics" | "cash_advance") {
            p_fraud *= 3.0;
        }
        if amount > 500.0 {
            p_fraud *= 3.0;
        }
        let is_fraud = u8::from(rng.unit() < p_fraud);
        out.push_str(&format!(
            "T{id:07},C{customer:05},{amount:.2},{category},{hour},{is_fraud}\n"
        ));
    }
    out
}

/// A small binary greyscale image (PGM, 24–64 pixels a side): a gradient with noise.
fn pgm(rng: &mut Rng) -> Vec<u8> {
    let width = rng.between(24, 64) as usize;
    let height = rng.between(24, 64) as usize;
    let mut out = format!("P5\n{width} {height}\n255\n").into_bytes();
    let phase = rng.below(256) as usize;
    for y in 0..height {
        for x in 0..width {
            let base = (x * 255 / width + y * 128 / height + phase) % 256;
            let noise = rng.below(32) as usize;
            out.push(((base + noise) % 256) as u8);
        }
    }
    out
}

fn shell_words(args: &[&str]) -> String {
    args.iter()
        .map(|arg| shell_word(arg))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./~=:@%+,".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("\"{}\"", word.replace('"', "\\\""))
    }
}

/// One HTTP/1.1 POST to `address` (a loopback address the server printed): status and body.
fn post(address: &str, path: &str, body: &str) -> Result<(u16, String)> {
    use std::io::Read as _;
    let mut stream =
        std::net::TcpStream::connect(address).context(|| format!("cannot connect to {address}"))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .context(|| format!("cannot send to {address}"))?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .context(|| format!("cannot read from {address}"))?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("not an HTTP response")?;
    let text = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Ok((status, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactions_are_seeded_and_well_formed() {
        let a = transactions(&mut Rng::new(1), 1, 100, true);
        let b = transactions(&mut Rng::new(1), 1, 100, true);
        assert_eq!(a, b);
        let lines: Vec<&str> = a.lines().collect();
        assert_eq!(lines.len(), 101);
        assert!(lines[1..].iter().all(|line| line.split(',').count() == 6));
        assert!(lines[1].starts_with("T0000001,C"));
    }

    #[test]
    fn pgm_header_matches_size() {
        let image = pgm(&mut Rng::new(3));
        let text = String::from_utf8_lossy(&image[..16]).to_string();
        let mut parts = text.split_whitespace();
        assert_eq!(parts.next(), Some("P5"));
        let w: usize = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let h: usize = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let header = format!("P5\n{w} {h}\n255\n").len();
        assert_eq!(image.len(), header + w * h);
    }

    #[test]
    fn the_spec_fix_applies_to_the_declared_params() {
        assert_eq!(MODELS.matches(FRAUD_PARAMS).count(), 1);
        let fixed = MODELS.replacen(FRAUD_PARAMS, FRAUD_PARAMS_FIXED, 1);
        assert!(fixed.contains("min_samples_leaf = 20"));
        assert!(GATES.starts_with("\n[model.fraud.gates]\n"));
    }

    #[test]
    fn quoting() {
        assert_eq!(
            shell_words(&["data", "checkout", "--rev", "HEAD~1"]),
            "data checkout --rev HEAD~1"
        );
        assert_eq!(shell_word("track data"), "\"track data\"");
    }
}
