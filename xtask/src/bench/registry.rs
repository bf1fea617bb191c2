//! `cargo xtask bench registry [--quick]`: the model registry and the deployment gates, as
//! whole `cairn` processes of the release build (issue 15's figures):
//!
//! - `cairn models list` over 1,000 versions of 50 models, under 50 ms;
//! - `cairn validate` of the training bench's 100-tree forest on its 40,000 held-out rows,
//!   under 1 s.
//!
//! One git repository and cairn project holds two tables written by the training bench's
//! generator (`super::train::generate`): `train.csv` (200,000 rows × 20 features; 20,000 with
//! `--quick`) and `small.csv` (2,000 rows), both tracked and committed. `cairn train forest`
//! fits the training bench's forest (100 trees, depth 10, 80/20 split) with gates declared;
//! `cairn train small --set seed=N` fits 20 small forests (10 trees), each a real run with its
//! own artifact (the seed is in the artifact's header). Then `cairn register RUN --name mNN`
//! registers each small run under each of 50 names (20 versions each, 1,000 in all: one
//! artifact is registered at most once under a name, not once overall), and per model
//! version 1 goes to staging, version 2 to production (forced, with a reason: the small
//! models declare no gates) and gets the alias `champion`. Everything in `cairn.lock` is
//! written by the binary; nothing is written by hand.
//!
//! Then the timed commands (each a whole process, `-q`, output to a file): `models list`,
//! `--json models list`, `models show`, `models history`, `register` of the forest's run (the
//! 1,001st version), and `validate forest@1` on the run's own held-out rows (rebuilt from the
//! pinned data digest, split and seed), whose record must say it passed on 40,000 rows.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Bench, Check, Figure, Setup, finish, print_table, report_usage, setup, summary};
use crate::util::{Context, Result, describe, fmt_bytes, fmt_count, fmt_duration};

const LIST_TARGET: Duration = Duration::from_millis(50);
const VALIDATE_TARGET: Duration = Duration::from_secs(1);
/// How many times each read-only command is timed.
const REPEATS: usize = 10;
/// How many times `validate` is timed (each writes a record and changes `cairn.lock`).
const VALIDATE_REPEATS: usize = 3;
const SMALL_ROWS: usize = 2_000;

/// The specs: the training bench's forest (as `super::train`'s whole-process `cairn train`)
/// with gates, and a small forest for the versions of the 50 models.
const SPECS: &str = r#"
[model.forest]
data = "train.csv"
target = "label"
algorithm = "random_forest_classifier"
params = { n_trees = 100, max_depth = 10, max_features = "sqrt", bootstrap = true }
split = { test_size = 0.2 }

[model.forest.gates]
accuracy = { min = 0.90 }
roc_auc = { min = 0.95 }
log_loss = { max = 0.5 }
determinism = true
latency = { p50_ms = 1, p99_ms = 5, calls = 1000 }

[model.small]
data = "small.csv"
target = "label"
algorithm = "random_forest_classifier"
params = { n_trees = 10, max_depth = 6 }
"#;

/// How big the registry and the forest's table are.
struct Size {
    rows: usize,
    models: usize,
    /// Small runs, each registered under every model name: versions per model.
    runs: usize,
}

impl Size {
    const FULL: Size = Size {
        rows: 200_000,
        models: 50,
        runs: 20,
    };
    const QUICK: Size = Size {
        rows: 20_000,
        models: 10,
        runs: 10,
    };
}

pub(super) fn run(quick: bool) -> Result<()> {
    let size = if quick { Size::QUICK } else { Size::FULL };
    let Setup {
        tmp,
        bench,
        machine,
        source,
        results,
        built: _,
    } = setup("bench-registry.json", quick, false)?;

    let started = Instant::now();
    let (bytes, _) = super::train::generate(&bench.proj.join("train.csv"), size.rows)?;
    super::train::generate(&bench.proj.join("small.csv"), SMALL_ROWS)?;
    println!(
        "generated train.csv ({} rows x 20 features, {}) and small.csv ({} rows) in {:.1} s",
        fmt_count(size.rows as u64),
        fmt_bytes(bytes),
        fmt_count(SMALL_ROWS as u64),
        started.elapsed().as_secs_f64()
    );
    project(&bench)?;

    println!("\ntraining the forest (100 trees, depth 10) with `cairn train forest`...");
    let trained = bench.cairn(&["--json", "train", "forest"])?;
    let forest = child_json(&bench)?;
    let forest_run = text(&forest, "id")?;
    println!(
        "  run {forest_run}: {} ({} CPU); accuracy {:.4}, {} test rows",
        fmt_duration(trained.wall),
        fmt_duration(trained.cpu),
        forest["metrics"]["accuracy"].as_f64().unwrap_or(f64::NAN),
        forest["test_rows"]
    );

    let versions = size.models * size.runs;
    println!(
        "training {} small forests (`cairn train small --set seed=N`), then registering each \
         under {} model names ({} versions)...",
        size.runs,
        size.models,
        fmt_count(versions as u64)
    );
    let started = Instant::now();
    let mut small = Vec::new();
    for seed in 1..=size.runs {
        let (_, out) = quiet(
            &bench,
            &["--json", "train", "small", "--set", &format!("seed={seed}")],
        )?;
        let doc: Value = serde_json::from_slice(&out)
            .context(|| "`cairn --json train small` printed no JSON document".to_owned())?;
        small.push(text(&doc, "id")?);
    }
    let trained_in = started.elapsed();
    let started = Instant::now();
    let mut registers = Vec::with_capacity(versions);
    for model in 0..size.models {
        let name = model_name(model);
        for run in &small {
            let (took, _) = quiet(&bench, &["register", run, "--name", &name])?;
            registers.push(took);
        }
    }
    let registered_in = started.elapsed();
    for model in 0..size.models {
        let name = model_name(model);
        let (v1, v2) = (format!("{name}@1"), format!("{name}@2"));
        quiet(
            &bench,
            &[
                "models", "promote", &v1, "--to", "staging", "--reason", "bench",
            ],
        )?;
        quiet(
            &bench,
            &[
                "models",
                "promote",
                &v2,
                "--to",
                "production",
                "--force",
                "--reason",
                "bench: the small models declare no gates",
            ],
        )?;
        quiet(&bench, &["models", "alias", &v2, "champion"])?;
    }
    let lock_bytes = std::fs::metadata(bench.proj.join("cairn.lock"))
        .context(|| "cannot stat cairn.lock".to_owned())?
        .len();
    let last = &registers[registers.len().saturating_sub(size.models)..];
    println!(
        "  {} runs trained in {:.1} s; {} versions registered in {:.1} s (`register` at the \
         end, median of the last {}: {}); stages and aliases set in {:.1} s; cairn.lock is {}",
        small.len(),
        trained_in.as_secs_f64(),
        fmt_count(versions as u64),
        registered_in.as_secs_f64(),
        last.len(),
        fmt_duration(crate::util::median(last)),
        (started.elapsed() - registered_in).as_secs_f64(),
        fmt_bytes(lock_bytes)
    );
    check_registry(&bench, &size)?;

    println!("\ntimings (whole processes; median of {REPEATS} unless said):");
    let m00 = model_name(0);
    let times = |what: &str, args: &[&str], n: usize| -> Result<Figure> {
        let mut figure = Figure::new();
        for _ in 0..n {
            figure.push(&bench.cairn(args)?);
        }
        report_usage(what, &figure);
        Ok(figure)
    };
    let list = times("models list", &["models", "list"], REPEATS)?;
    let list_json = times("--json models list", &["--json", "models", "list"], REPEATS)?;
    let show = times(
        &format!("models show {m00}"),
        &["models", "show", &m00],
        REPEATS,
    )?;
    let show_one = times(
        &format!("models show {m00}@production"),
        &["models", "show", &format!("{m00}@production")],
        REPEATS,
    )?;
    let history = times(
        &format!("models history {m00}"),
        &["models", "history", &m00],
        REPEATS,
    )?;
    let register = times(
        &format!("register (version {})", versions + 1),
        &["register", &forest_run],
        1,
    )?;
    let validate = times(
        "validate forest@1",
        &["--json", "validate", "forest@1"],
        VALIDATE_REPEATS,
    )?;
    let record = child_json(&bench)?;
    let gates = check_record(&record, size.rows / 5)?;
    println!(
        "  validate forest@1: passed on {} held-out rows; the record says {:.3} s inside the \
         process",
        fmt_count(size.rows as u64 / 5),
        record["duration_s"].as_f64().unwrap_or(f64::NAN)
    );
    for gate in &gates {
        println!("    {gate}");
    }

    let checks = vec![
        Check {
            id: "models_list",
            value: list.median().as_secs_f64(),
            name: format!(
                "`models list`, {} versions of {} models",
                fmt_count(versions as u64),
                size.models
            ),
            measured: fmt_duration(list.median()),
            reference: "-".to_owned(),
            ratio: None,
            target: "< 50 ms",
            pass: Some(list.median() < LIST_TARGET),
        },
        Check {
            id: "validate",
            value: validate.median().as_secs_f64(),
            name: format!(
                "`validate` of the 100-tree forest, {} held-out rows",
                fmt_count(size.rows as u64 / 5)
            ),
            measured: fmt_duration(validate.median()),
            reference: "-".to_owned(),
            ratio: None,
            target: "< 1 s",
            pass: Some(validate.median() < VALIDATE_TARGET),
        },
    ];
    println!();
    print_table(&checks);
    println!("\n{}", summary(&checks));
    if quick {
        println!("(quick run: the targets are for the full sizes)");
    }

    let document = json!({
        "kind": "bench-registry",
        "schema_version": 1,
        "quick": quick,
        "machine": machine,
        "source": source,
        "data": { "rows": size.rows, "csv_bytes": bytes, "small_rows": SMALL_ROWS },
        "registry": {
            "models": size.models,
            "versions": versions,
            "small_runs": small.len(),
            "lock_bytes": lock_bytes,
            "train_small_s": trained_in.as_secs_f64(),
            "register_all_s": registered_in.as_secs_f64(),
            "register_last_median_s": crate::util::median(last).as_secs_f64(),
        },
        "forest": {
            "run": forest_run,
            "train_wall_s": trained.wall.as_secs_f64(),
            "train_cpu_s": trained.cpu.as_secs_f64(),
            "metrics": forest["metrics"],
        },
        "figures": {
            "models_list": list.json(),
            "models_list_json": list_json.json(),
            "models_show": show.json(),
            "models_show_one": show_one.json(),
            "models_history": history.json(),
            "register": register.json(),
            "validate": validate.json(),
        },
        "validation": record,
        "checks": checks.iter().map(Check::json).collect::<Vec<_>>(),
    });
    finish(tmp, document, &results)
}

fn model_name(i: usize) -> String {
    format!("m{i:02}")
}

/// The git repository and the cairn project: identity, specs, both tables tracked and
/// committed.
pub(super) fn project(bench: &Bench) -> Result<()> {
    bench.git_init()?;
    for (key, value) in [
        ("user.name", "cairn bench"),
        ("user.email", "bench@cairn.invalid"),
    ] {
        let mut cmd = Command::new("git");
        cmd.args(["config", key, value]);
        bench.run(&format!("git config {key}"), &mut cmd)?;
    }
    quiet(bench, &["init"])?;
    let config = bench.proj.join("cairn.toml");
    let mut text =
        std::fs::read_to_string(&config).context(|| format!("cannot read {}", config.display()))?;
    text.push_str(SPECS);
    std::fs::write(&config, text).context(|| format!("cannot write {}", config.display()))?;
    quiet(bench, &["data", "add", "train.csv", "small.csv"])?;
    for args in [
        &["add", "-A"][..],
        &["commit", "-q", "-m", "bench: data and specs"][..],
    ] {
        let mut cmd = Command::new("git");
        cmd.args(args);
        bench.run(&format!("git {}", args.join(" ")), &mut cmd)?;
    }
    Ok(())
}

/// `cairn ARGS` in the project, untimed by the harness (no `sync`, no sampling): the set-up
/// steps. Fails with its stderr when it fails; returns its wall time and stdout.
pub(super) fn quiet(bench: &Bench, args: &[&str]) -> Result<(Duration, Vec<u8>)> {
    let started = Instant::now();
    let out = Command::new(&bench.cairn)
        .args(args)
        .current_dir(&bench.proj)
        .stdin(Stdio::null())
        .output()
        .context(|| format!("cannot run cairn {}", args.join(" ")))?;
    let took = started.elapsed();
    if !out.status.success() {
        return Err(format!(
            "`cairn {}` failed ({}): {}",
            args.join(" "),
            describe(out.status),
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok((took, out.stdout))
}

/// The JSON document the last command timed by the harness printed.
pub(super) fn child_json(bench: &Bench) -> Result<Value> {
    let path = bench.tmp.join("child.stdout");
    let bytes = std::fs::read(&path).context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&bytes).context(|| format!("{} holds no JSON document", path.display()))
}

pub(super) fn text(doc: &Value, key: &str) -> Result<String> {
    doc[key]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no string `{key}` in {doc}").into())
}

/// `cairn --json models list` lists every model, with its versions, stages and alias.
fn check_registry(bench: &Bench, size: &Size) -> Result<()> {
    let (_, out) = quiet(bench, &["--json", "models", "list"])?;
    let doc: Value = serde_json::from_slice(&out)
        .context(|| "`cairn --json models list` printed no JSON document".to_owned())?;
    let models = doc["models"]
        .as_array()
        .ok_or_else(|| format!("no `models` list in `cairn --json models list`: {doc}"))?;
    let versions: u64 = models.iter().filter_map(|m| m["versions"].as_u64()).sum();
    let staged = models
        .iter()
        .filter(|m| {
            m["staging"] == json!(1)
                && m["production"] == json!(2)
                && m["aliases"]["champion"] == json!(2)
        })
        .count();
    if models.len() != size.models
        || versions != (size.models * size.runs) as u64
        || staged != size.models
    {
        return Err(format!(
            "`cairn --json models list` lists {} models, {versions} versions, {staged} with \
             staging 1, production 2 and champion 2; expected {} models of {} versions each",
            models.len(),
            size.models,
            size.runs
        )
        .into());
    }
    Ok(())
}

/// The validation record passed, on the run's held-out rows, all `rows` of them; one line per
/// gate.
fn check_record(record: &Value, rows: usize) -> Result<Vec<String>> {
    if record["passed"] != json!(true)
        || record["rows"] != json!(rows)
        || record["data"]["source"] != json!("held_out")
    {
        return Err(format!(
            "the validation of forest@1 should have passed on {rows} held-out rows: {record}"
        )
        .into());
    }
    let gates = record["gates"]
        .as_array()
        .ok_or_else(|| format!("no `gates` in the validation record: {record}"))?;
    Ok(gates
        .iter()
        .map(|gate| {
            format!(
                "{:<12} {:<8} {}",
                gate["gate"].as_str().unwrap_or("?"),
                gate["status"].as_str().unwrap_or("?"),
                gate.get("measured")
                    .map_or_else(String::new, Value::to_string)
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(passed: bool, rows: usize, source: &str) -> Value {
        json!({
            "passed": passed,
            "rows": rows,
            "data": { "source": source },
            "gates": [
                { "gate": "schema", "status": "passed" },
                { "gate": "accuracy", "status": "passed", "measured": 0.95 },
            ],
        })
    }

    #[test]
    fn a_validation_counts_only_when_it_passed_on_every_held_out_row() {
        let lines = check_record(&record(true, 40_000, "held_out"), 40_000).unwrap();
        assert_eq!(lines.len(), 2);
        assert!(lines[1].starts_with("accuracy") && lines[1].ends_with("0.95"));
        assert!(check_record(&record(false, 40_000, "held_out"), 40_000).is_err());
        assert!(check_record(&record(true, 4_000, "held_out"), 40_000).is_err());
        assert!(check_record(&record(true, 40_000, "file"), 40_000).is_err());
    }

    #[test]
    fn the_specs_declare_the_forest_of_the_training_bench_and_its_gates() {
        assert!(SPECS.contains("n_trees = 100, max_depth = 10"));
        assert!(SPECS.contains("[model.forest.gates]"));
        assert_eq!(model_name(7), "m07");
        assert_eq!(Size::FULL.models * Size::FULL.runs, 1_000);
    }
}
