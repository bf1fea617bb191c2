//! In-process latency of online reads, through the API a model server uses: an
//! [`OnlineReader`] opened once on a materialized project, then many reads.
//!
//! ```text
//! online_latency PROJECT_DIR (--features VIEW:F,... | --service NAME) --entities FILE
//!                --out OUT.json [--one N] [--many N] [--batch N] [--answers FILE]
//! ```
//!
//! The figures go to `OUT.json` (one JSON document); nothing is printed. A failure is the
//! `Err` of `main` (exit code 1).
//!
//! `FILE` holds one entity per line as a JSON object of its join keys (`{"customer_id":7}`).
//! The one-entity reads go through the entities in turn (`--one`, 10,000 by default); the
//! batch reads (`--many`, 200 by default) take `--batch` (1,000) consecutive entities each,
//! starting `len / many` further on every time, so that every read asks for another set.
//! One untimed pass over all the entities comes first (warm page cache and statement cache).
//!
//! Prints one JSON document: the medians and 99th percentiles, and how many entities were
//! found, missing or expired over all the timed reads. `--answers` writes the first batch's
//! answer as `{"entities": [...]}`, the shape of `cairn --json feature online`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use cairn_core::Project;
use cairn_feature::{EntityFeatures, OnlineReader};
use serde_json::{Value, json};

type Entity = BTreeMap<String, Value>;

struct Args {
    project: PathBuf,
    features: Vec<String>,
    service: Option<String>,
    entities: PathBuf,
    one: usize,
    many: usize,
    batch: usize,
    answers: Option<PathBuf>,
    out: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        project: PathBuf::new(),
        features: Vec::new(),
        service: None,
        entities: PathBuf::new(),
        one: 10_000,
        many: 200,
        batch: 1_000,
        answers: None,
        out: PathBuf::new(),
    };
    let mut project = None;
    let mut entities = None;
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        let number = |text: String| {
            text.parse::<usize>()
                .map_err(|_| format!("`{text}` is not a count"))
        };
        match arg.as_str() {
            "--features" => parsed.features.push(value()?),
            "--service" => parsed.service = Some(value()?),
            "--entities" => entities = Some(PathBuf::from(value()?)),
            "--one" => parsed.one = number(value()?)?,
            "--many" => parsed.many = number(value()?)?,
            "--batch" => parsed.batch = number(value()?)?,
            "--answers" => parsed.answers = Some(PathBuf::from(value()?)),
            "--out" => parsed.out = PathBuf::from(value()?),
            other if !other.starts_with('-') && project.is_none() => {
                project = Some(PathBuf::from(other));
            }
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    parsed.project = project.ok_or("the project directory is missing")?;
    parsed.entities = entities.ok_or("--entities FILE is missing")?;
    if parsed.out.as_os_str().is_empty() {
        return Err("--out OUT.json is missing".into());
    }
    Ok(parsed)
}

/// Found, missing and expired entities (entity x view) over some answers.
#[derive(Default)]
struct Tally {
    entities: u64,
    found: u64,
    missing: u64,
    expired: u64,
}

impl Tally {
    fn add(&mut self, answers: &[EntityFeatures]) {
        for answer in answers {
            self.entities += 1;
            self.missing += answer.missing.len() as u64;
            self.expired += answer.expired.len() as u64;
            self.found += answer.event_times.len() as u64;
        }
    }

    fn json(&self) -> Value {
        json!({
            "entities": self.entities,
            "found": self.found,
            "missing": self.missing,
            "expired": self.expired,
        })
    }
}

/// The sample at quantile `q` of sorted samples (nearest rank).
fn quantile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64()
}

fn summary(mut samples: Vec<Duration>, tally: &Tally) -> Value {
    samples.sort();
    json!({
        "reads": samples.len(),
        "median_s": quantile(&samples, 0.5),
        "p99_s": quantile(&samples, 0.99),
        "min_s": quantile(&samples, 0.0),
        "max_s": quantile(&samples, 1.0),
        "answers": tally.json(),
    })
}

fn run(args: &Args) -> Result<Value, String> {
    let text = std::fs::read_to_string(&args.entities)
        .map_err(|e| format!("cannot read {}: {e}", args.entities.display()))?;
    let entities: Vec<Entity> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).map_err(|e| format!("`{line}`: {e}")))
        .collect::<Result<_, _>>()?;
    if entities.is_empty() {
        return Err(format!("{} holds no entities", args.entities.display()));
    }

    let started = Instant::now();
    let project = Project::discover(&args.project).map_err(|e| e.to_string())?;
    let reader = OnlineReader::open(&project, &args.features, args.service.as_deref(), false)
        .map_err(|e| e.to_string())?;
    let opened = started.elapsed();

    // One untimed pass: the pages of online.db in memory, the statements prepared.
    for chunk in entities.chunks(args.batch.max(1)) {
        reader
            .read(chunk, SystemTime::now())
            .map_err(|e| e.to_string())?;
    }

    let n = entities.len();
    let mut one = Vec::with_capacity(args.one);
    let mut one_tally = Tally::default();
    for i in 0..args.one {
        let entity = std::slice::from_ref(&entities[i % n]);
        let now = SystemTime::now();
        let start = Instant::now();
        let answer = reader.read(entity, now).map_err(|e| e.to_string())?;
        one.push(start.elapsed());
        one_tally.add(&answer);
    }

    let batch = args.batch.min(n);
    let step = (n / args.many.max(1)).max(1);
    let mut many = Vec::with_capacity(args.many);
    let mut many_tally = Tally::default();
    let mut wanted: Vec<Entity> = Vec::with_capacity(batch);
    for i in 0..args.many {
        wanted.clear();
        wanted.extend((0..batch).map(|j| entities[(i * step + j) % n].clone()));
        let now = SystemTime::now();
        let start = Instant::now();
        let answer = reader.read(&wanted, now).map_err(|e| e.to_string())?;
        many.push(start.elapsed());
        many_tally.add(&answer);
        if i == 0
            && let Some(path) = &args.answers
        {
            write(path, &json!({ "entities": answer }))?;
        }
    }

    Ok(json!({
        "kind": "online-latency",
        "features": reader.names(),
        "entities_given": n,
        "open_s": opened.as_secs_f64(),
        "one": summary(one, &one_tally),
        "batch": batch,
        "many": summary(many, &many_tally),
    }))
}

fn write(path: &std::path::Path, doc: &serde_json::Value) -> Result<(), String> {
    cairn_store::atomic::write_atomic_beside(path, doc.to_string().as_bytes(), 0o644)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn main() -> Result<(), String> {
    let args = parse_args()?;
    write(&args.out, &run(&args)?)
}
