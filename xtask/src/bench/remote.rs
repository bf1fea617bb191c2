//! `cargo xtask bench remote [--quick] [--s3-fs]`: wall-clock timings of `cairn data push` and
//! `cairn data pull` against two remotes, a local directory on the project's disk and an S3
//! server on loopback (s3s in this process, over memory by default or over the project's disk
//! with `--s3-fs`, the end-to-end tests' server), next to `cp` on the same disk, checked against
//! the project's performance targets.
//!
//! Every timed push goes to a remote of its own that nothing was ever pushed to (a new directory,
//! or a new bucket), so that no run has to delete the thousands of objects of the one before
//! (see `Bench::discard`); every timed pull goes into a fresh `git clone` of the project, whose
//! `.cairn/` is empty.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::{FileExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cairn_test_support::s3::S3Server;
use serde_json::json;

use super::{
    Bench, Check, Figure, MIB, Measured, SEED, Scale, Setup, finish, print_table, report, walk,
    write_big, write_tree,
};
use crate::rng::Rng;
use crate::util::{Context, Result, fmt_bytes, fmt_count, fmt_duration, median};

/// The CSV file's size (it ends at the first row boundary past it).
const CSV_FULL: u64 = 200 << 20;
const CSV_QUICK: u64 = 20 << 20;
/// Files at least this large are deleted, not moved to the trash, when a run's output is got
/// out of the way: deleting a file drops its dirty pages, so the next run does not pay for
/// writing them back.
const LARGE: u64 = 1 << 20;
/// Quoted from the issue (measured there with DVC 3 on this machine, not here).
const DVC_PUSH: &str = "dvc push 10-12 s (quoted)";
const DVC_PULL: &str = "dvc pull 20-30 s (quoted)";

/// The two kinds of remote, each measured in every figure.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// A directory on the project's disk.
    Dir,
    /// s3s behind SigV4 on 127.0.0.1 (objects in memory, or s3s-fs on the project's disk).
    S3,
}

impl Kind {
    const ALL: [Kind; 2] = [Kind::Dir, Kind::S3];

    /// A key for JSON and remote names.
    fn id(self) -> &'static str {
        match self {
            Kind::Dir => "dir",
            Kind::S3 => "s3",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::Dir => "local dir",
            Kind::S3 => "S3 loopback",
        }
    }
}

/// Timed runs per figure (the median is reported)...
const RUNS: usize = 3;
/// ...and per 1 GiB push or pull, each with its own `cp`: this VM's memory management (direct
/// compaction for the page cache's large folios, reclaim, memory the host takes back) adds
/// 1-3 s to a random run of cp and cairn alike, and the median of 3 often caught one.
const BIG_RUNS: usize = 5;
/// ...unless the first run takes longer than this: then its noise is small next to the figure,
/// and more runs would take the bench past ten minutes (the full S3 pulls take 25-30 s each).
const LONG: Duration = Duration::from_secs(10);

/// The bench, its remotes and what the generated data looks like.
struct Remotes<'a> {
    bench: &'a Bench,
    server: S3Server,
    /// The S3 server's credentials and region, for every cairn child.
    env: Vec<(String, String)>,
    /// Where local-directory remotes are created.
    dirs: PathBuf,
    /// Where the clones go.
    clones: PathBuf,
    clones_made: std::cell::Cell<u32>,
    /// Relative path under the project -> size, for every tracked file.
    files: BTreeMap<PathBuf, u64>,
    /// A few files whose bytes are compared after each pull.
    samples: Vec<PathBuf>,
}

pub(super) fn run(scale: Scale, s3_fs: bool) -> Result<()> {
    let Setup {
        tmp,
        bench,
        machine,
        source,
        results,
        built: _,
    } = super::setup("bench-remote.json", scale.quick, false)?;
    let csv_target = if scale.quick { CSV_QUICK } else { CSV_FULL };
    // At its peak: the project (file and object), the two remotes, clones of everything and
    // the paths discarded but not yet deleted. A run of the full scale used 11.5 GiB at its
    // peak, and one stopped with ENOSPC at 11 GiB free.
    super::require_free_space(
        &bench.tmp,
        12 * (scale.big_bytes + csv_target),
        "several copies of big.bin and data.csv exist at once",
    )?;

    // The S3 server keeps its buckets in a temporary directory from tempfile's default
    // location; put it beside the project, so that both remotes write to the same disk.
    let default_tmp = std::env::temp_dir();
    let same_fs = |a: &Path, b: &Path| -> Option<bool> {
        Some(std::fs::metadata(a).ok()?.dev() == std::fs::metadata(b).ok()?.dev())
    };
    let default_same = same_fs(&default_tmp, &bench.proj);
    let overridden = tempfile::env::override_temp_dir(&bench.tmp).is_ok();
    // The in-memory backend by default: s3s-fs's own costs (a walk of the whole bucket for
    // each listing page, MD5 of every body, 4 KiB reads) would dominate the S3 figures.
    let server = if s3_fs {
        S3Server::start()
    } else {
        S3Server::start_in_memory()
    };
    let s3_same = if s3_fs {
        same_fs(server.root(), &bench.proj)
    } else {
        None
    };
    if s3_fs {
        println!(
            "S3 server: s3s-fs at {}, data in {} ({})",
            server.endpoint(),
            server.root().display(),
            match s3_same {
                Some(true) => "same filesystem as the project",
                Some(false) => "WARNING: a different filesystem from the project",
                None => "filesystem unknown",
            }
        );
    } else {
        println!(
            "S3 server: s3s with objects in memory (crates/cairn-test-support/src/s3_mem.rs) at {}; \
             `--s3-fs` for s3s-fs",
            server.endpoint()
        );
    }
    println!(
        "tempfile's default directory is {} ({}){}",
        default_tmp.display(),
        match default_same {
            Some(true) => "the project's filesystem",
            Some(false) => "a DIFFERENT filesystem from the project's",
            None => "filesystem unknown",
        },
        if overridden {
            "; overridden for this run"
        } else {
            "; could not override it"
        }
    );
    println!(
        "note: the S3 server runs in this process, on the same 2 cores as cairn: its share of \
         them is part of the S3 figures"
    );

    // The data: the tree and the big file of `bench data`, then a CSV file of text rows.
    let mut rng = Rng::new(SEED);
    let started = Instant::now();
    write_big(&bench.proj.join("big.bin"), scale.big_bytes, &mut rng)?;
    let (tree_files, tree_bytes) = write_tree(&bench.proj.join("tree"), scale, &mut rng)?;
    let (csv_rows, csv_bytes) = write_csv(&bench.proj.join("data.csv"), csv_target, &mut rng)?;
    println!(
        "generated big.bin ({}), tree/ ({} files, {}) and data.csv ({} rows, {}) in {:.1} s",
        fmt_bytes(scale.big_bytes),
        fmt_count(tree_files),
        fmt_bytes(tree_bytes),
        fmt_count(csv_rows),
        fmt_bytes(csv_bytes),
        started.elapsed().as_secs_f64()
    );

    let dirs = bench.tmp.join("remotes");
    let clones = bench.tmp.join("clones");
    for dir in [&dirs, &clones] {
        std::fs::create_dir(dir).context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut files = BTreeMap::new();
    for file in walk(&bench.proj.join("tree"))? {
        let size = std::fs::metadata(&file)
            .context(|| format!("cannot stat {}", file.display()))?
            .len();
        let rel = file
            .strip_prefix(&bench.proj)
            .unwrap_or(&file)
            .to_path_buf();
        files.insert(rel, size);
    }
    let tree_list: Vec<PathBuf> = files.keys().cloned().collect();
    files.insert(PathBuf::from("big.bin"), scale.big_bytes);
    files.insert(PathBuf::from("data.csv"), csv_bytes);
    let mut pick = Rng::new(SEED ^ 0x5A3D);
    let samples = (0..64).map(|_| pick.pick(&tree_list).clone()).collect();
    // Bodies unsigned, as cairn sends them to any https endpoint (a real S3, GCS's or Azure's
    // S3 layer, a MinIO behind TLS): SigV4 then signs the headers only, and the content is
    // covered by cairn's own digests. This server speaks plain HTTP, over which cairn signs
    // bodies by default (SHA-256 of every byte on both sides); one extra figure measures that.
    let mut env = server.env();
    env.push(("AWS_UNSIGNED_PAYLOAD".to_owned(), "true".to_owned()));
    println!(
        "S3 runs send bodies unsigned (AWS_UNSIGNED_PAYLOAD=true: cairn's default over https); \
         `push big.bin, signed body` measures the plain-HTTP default"
    );
    let remotes = Remotes {
        bench: &bench,
        env,
        server,
        dirs,
        clones,
        clones_made: std::cell::Cell::new(0),
        files,
        samples,
    };

    // The project: everything tracked and committed, with the two remotes every pull uses.
    let started = Instant::now();
    bench.git_init()?;
    bench.cairn(&["init"])?;
    bench.cairn(&["data", "add", "tree", "big.bin", "data.csv"])?;
    for kind in Kind::ALL {
        remotes.add_remote(kind, kind.id())?;
    }
    bench.run("git add -A", Command::new("git").args(["add", "-A"]))?;
    bench.run(
        "git commit",
        Command::new("git").args([
            "-c",
            "user.name=cairn bench",
            "-c",
            "user.email=bench@cairn.invalid",
            "commit",
            "-q",
            "-m",
            "data",
        ]),
    )?;
    println!(
        "tracked and committed in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let (big, tree) = (Path::new("big.bin"), Path::new("tree"));
    let store = bench.proj.join(".cairn").join("objects");
    // Every timed run from here on starts with memory the host backs (see `prefault_memory`):
    // three times big.bin, what a pull of it writes (store and workspace) and more.
    bench.prefault.set(3 * scale.big_bytes);
    println!(
        "before each timed run the bench faults in and frees {} of memory (this VM hands free \
         memory back to its host, and the first touch of it is slow)",
        fmt_bytes(3 * scale.big_bytes)
    );

    // References, measured in this run on the same disk (see `bench data`).
    println!();
    let cp_big = super::cp_figure(&bench, big)?;
    let cp_sync_big = super::cp_sync_figure(&bench, big)?;
    let cp_tree = super::cp_tree_figure(&bench, tree)?;

    // Pushes of one path to a remote nothing was pushed to. Before each run the local store is
    // read once (warm page cache); after it the remote is got out of the way.
    let mut push_big = BTreeMap::new();
    let mut push_tree = BTreeMap::new();
    // `cp` of big.bin right before each push and pull of it: the same page-cache and
    // fresh-memory conditions as the cairn run that follows (see docs/benchmarks.md).
    // Per figure: a cp beside the local pushes is not beside the S3 pulls.
    let mut cp_push: BTreeMap<Kind, Figure> = BTreeMap::new();
    let mut cp_pull: BTreeMap<Kind, Figure> = BTreeMap::new();
    let paired_cp = |figure: &mut Figure| -> Result<()> {
        bench.warm(big)?;
        let measured = bench.run(
            "cp big.bin copy.bin",
            Command::new("cp").arg(big).arg("copy.bin"),
        )?;
        figure.push(&measured);
        bench.discard(Path::new("copy.bin"))
    };
    for (what, path, out) in [("big", big, &mut push_big), ("tree", tree, &mut push_tree)] {
        for kind in Kind::ALL {
            let mut figure = Figure::new();
            let runs = if what == "big" { BIG_RUNS } else { RUNS };
            for i in 1..=runs {
                let name = format!("{}-{what}-{i}", kind.id());
                let backing = remotes.add_remote(kind, &name)?;
                if what == "big" {
                    paired_cp(cp_push.entry(kind).or_insert_with(Figure::new))?;
                }
                bench.warm(&store)?;
                let (measured, doc) =
                    remotes.cairn(&bench.proj, &["data", "push", path_str(path)?, "-r", &name])?;
                let uploaded = expect_push(&doc, None)?;
                if i == 1 {
                    println!(
                        "  ({} pushed {} objects to a new remote)",
                        kind.label(),
                        fmt_count(uploaded)
                    );
                }
                figure.push(&measured);
                if kind == Kind::S3 && remotes.server.in_memory() {
                    remotes.server.delete_bucket(&bucket(&name));
                } else {
                    remotes.discard_deep(&backing)?;
                }
                if i == 1 && measured.wall > LONG {
                    break;
                }
            }
            report_cpu(
                &format!("push {} ({})", path.display(), kind.label()),
                &figure,
                kind,
                true,
            );
            out.insert(kind, figure);
        }
    }

    // The 1 GiB push to S3 with signed bodies, cairn's default over plain HTTP.
    let mut push_big_signed = Figure::new();
    let signed_env: Vec<(String, String)> = remotes
        .env
        .iter()
        .filter(|(key, _)| key != "AWS_UNSIGNED_PAYLOAD")
        .cloned()
        .collect();
    for i in 1..=RUNS {
        let name = format!("s3-signed-{i}");
        let backing = remotes.add_remote(Kind::S3, &name)?;
        paired_cp(cp_push.entry(Kind::S3).or_insert_with(Figure::new))?;
        bench.warm(&store)?;
        let (measured, doc) = remotes.cairn_with(
            &bench.proj,
            &["data", "push", path_str(big)?, "-r", &name],
            &signed_env,
        )?;
        expect_push(&doc, None)?;
        push_big_signed.push(&measured);
        if remotes.server.in_memory() {
            remotes.server.delete_bucket(&bucket(&name));
        } else {
            remotes.discard_deep(&backing)?;
        }
    }
    report_cpu(
        "push big.bin (S3, signed body)",
        &push_big_signed,
        Kind::S3,
        false,
    );

    // Everything to the remotes that the pulls use, then pushes with nothing to send.
    let mut push_all = BTreeMap::new();
    let mut push_noop = BTreeMap::new();
    for kind in Kind::ALL {
        bench.warm(&store)?;
        let (measured, doc) = remotes.cairn(&bench.proj, &["data", "push", "-r", kind.id()])?;
        let uploaded = expect_push(&doc, None)?;
        let mut figure = Figure::new();
        figure.push(&measured);
        report_cpu(
            &format!("push everything ({})", kind.label()),
            &figure,
            kind,
            false,
        );
        println!(
            "  ({} objects, {})",
            fmt_count(uploaded),
            fmt_bytes(doc["uploaded"]["bytes"].as_u64().unwrap_or(0))
        );
        push_all.insert(kind, figure);
    }
    for kind in Kind::ALL {
        let mut figure = Figure::new();
        for i in 1..=RUNS {
            warm_small(&store)?;
            if !(kind == Kind::S3 && remotes.server.in_memory()) {
                warm_small(&remotes.backing(kind, kind.id()))?;
            }
            let (measured, doc) = remotes.cairn(&bench.proj, &["data", "push", "-r", kind.id()])?;
            expect_push(&doc, Some(0))?;
            figure.push(&measured);
            if i == 1 && measured.wall > LONG {
                break;
            }
        }
        report_cpu(
            &format!("push, nothing new ({})", kind.label()),
            &figure,
            kind,
            true,
        );
        push_noop.insert(kind, figure);
    }

    // Pulls into fresh clones, from the remotes that have everything.
    let mut pull_big = BTreeMap::new();
    let mut pull_all = BTreeMap::new();
    for (what, paths, out) in [
        ("big.bin", vec!["big.bin"], &mut pull_big),
        ("everything", vec![], &mut pull_all),
    ] {
        for kind in Kind::ALL {
            let mut figure = Figure::new();
            let runs = if what == "big.bin" { BIG_RUNS } else { RUNS };
            for i in 1..=runs {
                let clone = remotes.clone_project()?;
                if what == "big.bin" {
                    paired_cp(cp_pull.entry(kind).or_insert_with(Figure::new))?;
                }
                if !(kind == Kind::S3 && remotes.server.in_memory()) {
                    bench.warm(&remotes.backing(kind, kind.id()))?;
                }
                let mut args = vec!["data", "pull", "-r", kind.id()];
                args.extend(&paths);
                let (measured, doc) = remotes.cairn(&clone, &args)?;
                let failures = doc["fetch"]["downloaded"]["failures"]
                    .as_array()
                    .map_or(0, Vec::len);
                if failures > 0 {
                    return Err(format!("`cairn data pull` reported failures: {doc}").into());
                }
                let only = paths.first().map(Path::new);
                remotes.verify(&clone, only)?;
                if i == 1 && what == "big.bin" {
                    println!(
                        "  ({}: the clone's object of big.bin {})",
                        kind.label(),
                        // Objects stored as a second name of the remote's file.
                        if doc["fetch"]["downloaded"]["shared"].as_u64() > Some(0) {
                            "is the remote's file, shared by a hard link"
                        } else {
                            "is a file of its own"
                        }
                    );
                }
                figure.push(&measured);
                remotes.discard_deep(&clone)?;
                if i == 1 && measured.wall > LONG {
                    break;
                }
            }
            report_cpu(
                &format!("pull {what} into a clone ({})", kind.label()),
                &figure,
                kind,
                true,
            );
            out.insert(kind, figure);
        }
    }
    println!(
        "every pull was checked: file sizes, the bytes of {} tree files and of 3 MiB windows of \
         big.bin and data.csv, and `cairn data status --check` in the clone",
        remotes.samples.len()
    );

    // References for the S3 pull of big.bin, each beside a cp of its own: the same pull
    // writing once (the workspace file a hard link of the stored object, as with
    // `cache.link = ["hardlink", "copy"]`), and curl getting the object into a file (a plain
    // client: one write, no verification).
    let mut cp_refs = Figure::new();
    let mut pull_once = Figure::new();
    let mut curl_get = Figure::new();
    let curl = remotes.curl_command(&bench.proj.join("cairn.lock"), "big.bin")?;
    if curl.is_none() {
        println!("(no curl with --aws-sigv4 here: the curl reference is left out)");
    }
    for _ in 0..BIG_RUNS {
        paired_cp(&mut cp_refs)?;
        if let Some(curl) = &curl {
            let out = remotes.clones.join("curl.out");
            let mut cmd = Command::new("curl");
            cmd.args(curl).arg("-o").arg(&out);
            curl_get.push(&bench.run("curl GET big.bin's object", &mut cmd)?);
            if std::fs::metadata(&out).map(|m| m.len()).ok() != Some(scale.big_bytes) {
                return Err(
                    format!("curl did not get the whole object into {}", out.display()).into(),
                );
            }
            std::fs::remove_file(&out).context(|| format!("cannot remove {}", out.display()))?;
        }
        let clone = remotes.clone_project()?;
        let config = clone.join("cairn.toml");
        let text = std::fs::read_to_string(&config)
            .context(|| format!("cannot read {}", config.display()))?;
        let linked = text.replacen(
            "link = [\"reflink\", \"copy\"]",
            "link = [\"hardlink\", \"copy\"]",
            1,
        );
        if linked == text {
            return Err(
                format!("{} has no default `link` line to change", config.display()).into(),
            );
        }
        std::fs::write(&config, linked).context(|| format!("cannot write {}", config.display()))?;
        let (measured, _) =
            remotes.cairn(&clone, &["data", "pull", "-r", Kind::S3.id(), "big.bin"])?;
        remotes.verify(&clone, Some(Path::new("big.bin")))?;
        pull_once.push(&measured);
        remotes.discard_deep(&clone)?;
    }
    report("cp big.bin, beside the references", &cp_refs);
    report_cpu(
        "pull big.bin, S3, written once",
        &pull_once,
        Kind::S3,
        false,
    );
    if curl.is_some() {
        report_cpu_of(
            "curl GET big.bin's object to a file",
            &curl_get,
            Kind::S3,
            false,
            "curl",
        );
    }
    for kind in Kind::ALL {
        report(
            &format!("cp big.bin, beside push ({})", kind.label()),
            &cp_push[&kind],
        );
        report(
            &format!("cp big.bin, beside pull ({})", kind.label()),
            &cp_pull[&kind],
        );
    }

    // The verdicts.
    let secs = |f: &Figure| f.median().as_secs_f64();
    let ratio = |a: &Figure, b: &Figure| secs(a) / secs(b);
    let mut checks = vec![
        Check {
            id: "cp_big",
            value: secs(&cp_big),
            name: format!("cp big.bin ({})", fmt_bytes(scale.big_bytes)),
            measured: fmt_duration(cp_big.median()),
            reference: format!("cp+sync {}", fmt_duration(cp_sync_big.median())),
            ratio: None,
            target: "reference",
            pass: None,
        },
        Check {
            id: "cp_tree",
            value: secs(&cp_tree),
            name: format!("cp -r tree ({} files)", fmt_count(tree_files)),
            measured: fmt_duration(cp_tree.median()),
            reference: "-".to_owned(),
            ratio: None,
            target: "reference",
            pass: None,
        },
    ];
    for kind in Kind::ALL {
        let f = &push_tree[&kind];
        checks.push(Check {
            id: if kind == Kind::Dir {
                "push_tree_dir"
            } else {
                "push_tree_s3"
            },
            value: secs(f),
            name: format!(
                "push tree, {} files, {}",
                fmt_count(tree_files),
                kind.label()
            ),
            measured: fmt_duration(f.median()),
            reference: format!("cp -r {}; {DVC_PUSH}", fmt_duration(cp_tree.median())),
            ratio: Some(ratio(f, &cp_tree)),
            target: if kind == Kind::Dir {
                "< 3 s"
            } else {
                "- (< 3 s is for a dir)"
            },
            pass: (kind == Kind::Dir).then(|| secs(f) < 3.0),
        });
    }
    for kind in Kind::ALL {
        let f = &push_noop[&kind];
        checks.push(Check {
            id: if kind == Kind::Dir {
                "push_noop_dir"
            } else {
                "push_noop_s3"
            },
            value: secs(f),
            name: format!("push, nothing new, {}", kind.label()),
            measured: format!(
                "{} (max {})",
                fmt_duration(f.median()),
                fmt_duration(f.max())
            ),
            reference: "-".to_owned(),
            ratio: None,
            target: "< 1 s",
            pass: Some(secs(f) < 1.0),
        });
    }
    for kind in Kind::ALL {
        let f = &pull_all[&kind];
        checks.push(Check {
            id: if kind == Kind::Dir {
                "pull_all_dir"
            } else {
                "pull_all_s3"
            },
            value: secs(f),
            name: format!("pull everything into a clone, {}", kind.label()),
            measured: fmt_duration(f.median()),
            reference: DVC_PULL.to_owned(),
            ratio: None,
            target: "< 8 s",
            pass: Some(secs(f) < 8.0),
        });
    }
    for kind in Kind::ALL {
        let f = &push_big[&kind];
        let cp_paired = &cp_push[&kind];
        checks.push(Check {
            id: if kind == Kind::Dir {
                "push_big_dir"
            } else {
                "push_big_s3"
            },
            value: secs(f),
            name: format!(
                "push big.bin ({}), {}",
                fmt_bytes(scale.big_bytes),
                kind.label()
            ),
            measured: fmt_duration(f.median()),
            reference: format!(
                "cp beside {} (first cp {})",
                fmt_duration(cp_paired.median()),
                fmt_duration(cp_big.median())
            ),
            ratio: Some(ratio(f, cp_paired)),
            target: "<= 2x cp beside",
            pass: Some(ratio(f, cp_paired) <= 2.0),
        });
    }
    checks.push(Check {
        id: "push_big_s3_signed",
        value: secs(&push_big_signed),
        name: format!(
            "push big.bin ({}), S3 loopback, signed body",
            fmt_bytes(scale.big_bytes)
        ),
        measured: fmt_duration(push_big_signed.median()),
        reference: format!("cp beside {}", fmt_duration(cp_push[&Kind::S3].median())),
        ratio: Some(ratio(&push_big_signed, &cp_push[&Kind::S3])),
        target: "- (plain-HTTP default)",
        pass: None,
    });
    for kind in Kind::ALL {
        let f = &pull_big[&kind];
        let cp_paired = &cp_pull[&kind];
        checks.push(Check {
            id: if kind == Kind::Dir {
                "pull_big_dir"
            } else {
                "pull_big_s3"
            },
            value: secs(f),
            name: format!("pull big.bin into a clone, {}", kind.label()),
            measured: fmt_duration(f.median()),
            reference: format!(
                "cp beside {} (first cp {}, cp+sync {})",
                fmt_duration(cp_paired.median()),
                fmt_duration(cp_big.median()),
                fmt_duration(cp_sync_big.median()),
            ),
            ratio: Some(ratio(f, cp_paired)),
            target: "<= 2x cp beside",
            pass: Some(ratio(f, cp_paired) <= 2.0),
        });
    }
    checks.push(Check {
        id: "pull_big_s3_once",
        value: secs(&pull_once),
        name: "pull big.bin, S3, written once (hardlink)".to_owned(),
        measured: fmt_duration(pull_once.median()),
        reference: format!("cp beside {}", fmt_duration(cp_refs.median())),
        ratio: Some(ratio(&pull_once, &cp_refs)),
        target: "- (not the default)",
        pass: None,
    });
    if curl.is_some() {
        checks.push(Check {
            id: "curl_get_big_s3",
            value: secs(&curl_get),
            name: "curl GET of big.bin's object to a file, S3".to_owned(),
            measured: fmt_duration(curl_get.median()),
            reference: format!("cp beside {}", fmt_duration(cp_refs.median())),
            ratio: Some(ratio(&curl_get, &cp_refs)),
            target: "- (reference)",
            pass: None,
        });
    }
    for kind in Kind::ALL {
        let f = &push_all[&kind];
        checks.push(Check {
            id: if kind == Kind::Dir {
                "push_all_dir"
            } else {
                "push_all_s3"
            },
            value: secs(f),
            name: format!("push everything (1 run), {}", kind.label()),
            measured: fmt_duration(f.median()),
            reference: "-".to_owned(),
            ratio: None,
            target: "-",
            pass: None,
        });
    }
    for kind in Kind::ALL {
        let (push, pull) = (&push_big[&kind], &pull_big[&kind]);
        checks.push(Check {
            id: if kind == Kind::Dir {
                "rss_big_dir"
            } else {
                "rss_big_s3"
            },
            value: push.maxrss.max(pull.maxrss) as f64,
            name: format!("peak RSS, push / pull big.bin, {}", kind.label()),
            measured: format!(
                "{:.0} MiB / {:.0} MiB",
                push.maxrss as f64 / MIB,
                pull.maxrss as f64 / MIB
            ),
            reference: "-".to_owned(),
            ratio: None,
            target: "-",
            pass: None,
        });
    }

    println!();
    print_table(&checks);
    println!("\n{}", super::summary(&checks));
    println!(
        "(`pull` writes each fetched object into the store and its copy in the clone at the same \
         time: it writes twice what cp writes. Each 1 GiB figure is compared with the cp run \
         right before each of its own runs, in the same page-cache and memory conditions)"
    );
    // Who used the CPU in the S3 figures: the server runs on the same two cores.
    println!("\nCPU per S3 run (medians)          cairn        S3 server");
    for (what, f) in [
        ("push big.bin", &push_big[&Kind::S3]),
        ("push big.bin, signed body", &push_big_signed),
        ("push tree", &push_tree[&Kind::S3]),
        ("push everything", &push_all[&Kind::S3]),
        ("push, nothing new", &push_noop[&Kind::S3]),
        ("pull big.bin", &pull_big[&Kind::S3]),
        ("pull everything", &pull_all[&Kind::S3]),
    ] {
        println!(
            "  {what:<31} {:>10}  {:>10}",
            fmt_duration(median(&f.cpu)),
            fmt_duration(median(&f.host_cpu))
        );
    }
    if s3_fs {
        println!(
            "(s3s-fs walks the whole bucket for every page of a listing, and serves a GET in 4 \
             KiB reads: where the server's CPU exceeds cairn's, the S3 figure measures the test \
             server)"
        );
    }

    let mut figures = serde_json::Map::new();
    for (name, per_kind) in [
        ("push_big", &push_big),
        ("push_tree", &push_tree),
        ("push_all", &push_all),
        ("push_noop", &push_noop),
        ("pull_big", &pull_big),
        ("pull_all", &pull_all),
    ] {
        for (kind, figure) in per_kind {
            figures.insert(format!("{name}_{}", kind.id()), figure.json());
        }
    }
    figures.insert("push_big_s3_signed".to_owned(), push_big_signed.json());
    figures.insert("pull_big_s3_once".to_owned(), pull_once.json());
    figures.insert("cp_big_refs".to_owned(), cp_refs.json());
    if curl.is_some() {
        figures.insert("curl_get_big_s3".to_owned(), curl_get.json());
    }
    figures.insert("cp_big".to_owned(), cp_big.json());
    for kind in Kind::ALL {
        figures.insert(format!("cp_big_push_{}", kind.id()), cp_push[&kind].json());
        figures.insert(format!("cp_big_pull_{}", kind.id()), cp_pull[&kind].json());
    }
    figures.insert("cp_sync_big".to_owned(), cp_sync_big.json());
    figures.insert("cp_tree".to_owned(), cp_tree.json());
    let document = json!({
        "kind": "bench-remote",
        "schema_version": 1,
        "quick": scale.quick,
        "machine": machine,
        "source": source,
        "data": {
            "seed": SEED,
            "big_bytes": scale.big_bytes,
            "tree_files": tree_files,
            "tree_bytes": tree_bytes,
            "csv_rows": csv_rows,
            "csv_bytes": csv_bytes,
        },
        "s3": {
            "server": if s3_fs {
                "s3s-fs (crates/cairn-test-support/src/s3.rs), in process"
            } else {
                "s3s over memory (crates/cairn-test-support/src/s3_mem.rs), in process"
            },
            "optimised": !cfg!(debug_assertions),
            "root": if s3_fs { Some(remotes.server.root()) } else { None },
            "same_filesystem_as_project": s3_same,
            "tempfile_default_dir": default_tmp,
            "tempfile_default_same_filesystem": default_same,
        },
        "figures": figures,
        "checks": checks.iter().map(Check::json).collect::<Vec<_>>(),
    });

    // The server removes its directory when it stops; then the rest goes.
    let Remotes { server, .. } = remotes;
    drop(server);
    finish(tmp, document, &results)
}

/// `report`, then where the CPU time went (medians): cairn's own, and for S3 the server's, that
/// is this process's while cairn ran; `capped` says whether the figure stops after one run
/// longer than [`LONG`].
fn report_cpu(what: &str, figure: &Figure, kind: Kind, capped: bool) {
    report_cpu_of(what, figure, kind, capped, "cairn");
}

/// [`report_cpu`] of a command other than cairn.
fn report_cpu_of(what: &str, figure: &Figure, kind: Kind, capped: bool, client: &str) {
    report(what, figure);
    let mut line = format!(
        "{:<34} cpu    {:>10} {client} ({} system)",
        "",
        fmt_duration(median(&figure.cpu)),
        fmt_duration(median(&figure.sys))
    );
    if kind == Kind::S3 {
        line.push_str(&format!(
            ", {} S3 server",
            fmt_duration(median(&figure.host_cpu))
        ));
    }
    if capped && figure.samples.len() == 1 && figure.samples[0] > LONG {
        line.push_str(&format!(
            "; 1 run, as it took more than {} s",
            LONG.as_secs()
        ));
    }
    println!("{line}");
}

impl Remotes<'_> {
    /// The directory that holds what a remote stores: the local directory, or the bucket's
    /// directory on the S3 server (none for the in-memory server: a path that does not exist).
    fn backing(&self, kind: Kind, name: &str) -> PathBuf {
        match kind {
            Kind::Dir => self.dirs.join(name),
            Kind::S3 if self.server.in_memory() => self.clones.join("no-such-dir"),
            Kind::S3 => self.server.root().join(bucket(name)),
        }
    }

    /// `cairn remote add NAME ...` for a new, empty remote (a directory that does not exist yet,
    /// or a new bucket); returns the directory that will hold its objects.
    fn add_remote(&self, kind: Kind, name: &str) -> Result<PathBuf> {
        let backing = self.backing(kind, name);
        let mut args: Vec<String> = vec!["remote".into(), "add".into(), name.into()];
        match kind {
            Kind::Dir => args.push(path_str(&backing)?.to_owned()),
            Kind::S3 => {
                let bucket = bucket(name);
                self.server.create_bucket(&bucket);
                args.extend([
                    format!("s3://{bucket}/cairn"),
                    "--endpoint".into(),
                    self.server.endpoint(),
                    "--region".into(),
                    self.server.region().into(),
                    "--allow-http".into(),
                    "--path-style".into(),
                ]);
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.bench.cairn(&args)?;
        Ok(backing)
    }

    /// `cairn --json ARGS` in `dir` with the S3 server's environment, timed; returns the JSON
    /// document it printed.
    fn cairn(&self, dir: &Path, args: &[&str]) -> Result<(Measured, serde_json::Value)> {
        self.cairn_with(dir, args, &self.env)
    }

    /// [`Remotes::cairn`] with this environment instead of the S3 server's usual one.
    fn cairn_with(
        &self,
        dir: &Path,
        args: &[&str],
        env: &[(String, String)],
    ) -> Result<(Measured, serde_json::Value)> {
        let mut cmd = Command::new(&self.bench.cairn);
        cmd.arg("--json")
            .args(args)
            .current_dir(dir)
            .envs(env.iter().map(|(k, v)| (k, v)));
        let shown = format!("cairn --json {}", args.join(" "));
        let measured = self.bench.run(&shown, &mut cmd)?;
        let out = self.bench.tmp.join("child.stdout");
        let text =
            std::fs::read_to_string(&out).context(|| format!("cannot read {}", out.display()))?;
        let doc = serde_json::from_str(text.lines().last().unwrap_or_default())
            .context(|| format!("`{shown}` printed no JSON document"))?;
        Ok((measured, doc))
    }

    /// curl's arguments for a GET of the S3 remote's copy of the object that `lock` pins at
    /// `path` (SigV4 with the server's credentials, unsigned body as cairn sends), or `None`
    /// when this curl cannot sign (`--aws-sigv4` came in curl 7.75).
    fn curl_command(&self, lock: &Path, path: &str) -> Result<Option<Vec<String>>> {
        let help = Command::new("curl").args(["--help", "all"]).output();
        if !help.is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("--aws-sigv4")) {
            return Ok(None);
        }
        let text =
            std::fs::read_to_string(lock).context(|| format!("cannot read {}", lock.display()))?;
        let header = format!("[data.\"{path}\"]");
        let digest = text
            .split_once(&header)
            .and_then(|(_, rest)| {
                rest.lines()
                    .find_map(|line| line.strip_prefix("digest = \""))
                    .and_then(|d| d.strip_suffix('"'))
            })
            .ok_or_else(|| format!("{} pins no digest for {path}", lock.display()))?;
        let var = |name: &str| -> Result<String> {
            self.env
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| format!("the S3 server's environment has no {name}").into())
        };
        Ok(Some(vec![
            "-sSf".into(),
            "--aws-sigv4".into(),
            format!("aws:amz:{}:s3", self.server.region()),
            "--user".into(),
            format!(
                "{}:{}",
                var("AWS_ACCESS_KEY_ID")?,
                var("AWS_SECRET_ACCESS_KEY")?
            ),
            "-H".into(),
            "x-amz-content-sha256: UNSIGNED-PAYLOAD".into(),
            format!(
                "{}/{}/cairn/objects/{}/{}",
                self.server.endpoint(),
                bucket(Kind::S3.id()),
                &digest[..2],
                &digest[2..]
            ),
        ]))
    }

    /// A fresh `git clone` of the project (no `.cairn/`, no data).
    fn clone_project(&self) -> Result<PathBuf> {
        let n = self.clones_made.get() + 1;
        self.clones_made.set(n);
        let clone = self.clones.join(n.to_string());
        self.bench.run(
            "git clone",
            Command::new("git")
                .args(["clone", "-q"])
                .arg(&self.bench.proj)
                .arg(&clone),
        )?;
        Ok(clone)
    }

    /// Fails loudly unless the clone holds the project's data (or only `only`): the same files
    /// with the same sizes, the same bytes in the sampled files, and `cairn data status --check`
    /// content with it.
    fn verify(&self, clone: &Path, only: Option<&Path>) -> Result<()> {
        let fail = |what: String| -> Result<()> {
            Err(format!("the pull into {} is wrong: {what}", clone.display()).into())
        };
        for (rel, size) in &self.files {
            if only.is_some_and(|only| !rel.starts_with(only)) {
                continue;
            }
            let got = clone.join(rel);
            match std::fs::metadata(&got) {
                Ok(meta) if meta.len() == *size => {}
                Ok(meta) => {
                    return fail(format!(
                        "{} has {} bytes, expected {size}",
                        rel.display(),
                        meta.len()
                    ));
                }
                Err(err) => return fail(format!("{}: {err}", rel.display())),
            }
        }
        if only.is_none() {
            let (files, _) = super::count(&clone.join("tree"))?;
            let expected = self.files.len() as u64 - 2;
            if files != expected {
                return fail(format!("tree/ has {files} files, expected {expected}"));
            }
        }
        for rel in self
            .samples
            .iter()
            .map(PathBuf::as_path)
            .chain([Path::new("big.bin"), Path::new("data.csv")])
            .filter(|rel| only.is_none_or(|only| rel.starts_with(only)))
        {
            let size = self.files.get(rel).copied().unwrap_or(0);
            let a = self.bench.proj.join(rel);
            let b = clone.join(rel);
            for offset in [0, size / 2, size.saturating_sub(LARGE)] {
                if window(&a, offset)? != window(&b, offset)? {
                    return fail(format!(
                        "{} differs from the original near byte {offset}",
                        rel.display()
                    ));
                }
            }
        }
        let mut status = Command::new(&self.bench.cairn);
        status
            .args(["-q", "data", "status", "--check"])
            .args(only)
            .current_dir(clone);
        self.bench
            .run("cairn data status --check (in the clone)", &mut status)
            .map(drop)
    }

    /// Gets a run's output out of the way: its large files are deleted (their dirty pages are
    /// never written back), the rest goes as `Bench::discard` says.
    fn discard_deep(&self, dir: &Path) -> Result<()> {
        if !dir.exists() {
            return Ok(());
        }
        for file in walk(dir)? {
            let meta = std::fs::symlink_metadata(&file)
                .context(|| format!("cannot stat {}", file.display()))?;
            if meta.is_file() && meta.len() >= LARGE {
                std::fs::remove_file(&file)
                    .context(|| format!("cannot remove {}", file.display()))?;
            }
        }
        self.bench.discard(dir)
    }
}

/// Checks the `--json` outcome of a push: no failure, nothing missing, and every object it
/// needed either uploaded or already there (`uploaded`, when given, is how many it must have
/// sent). Returns how many it sent.
fn expect_push(doc: &serde_json::Value, uploaded: Option<u64>) -> Result<u64> {
    let num = |v: &serde_json::Value| v.as_u64().unwrap_or(u64::MAX);
    let sent = num(&doc["uploaded"]["objects"]);
    let failures = doc["uploaded"]["failures"].as_array().map_or(1, Vec::len);
    let missing = doc["missing"].as_array().map_or(1, Vec::len);
    let needed = num(&doc["needed"]);
    let there = num(&doc["already_there"]);
    let complete = failures == 0 && missing == 0 && sent.checked_add(there) == Some(needed);
    if !complete || uploaded.is_some_and(|n| n != sent) {
        return Err(format!("`cairn data push` did not do what was expected: {doc}").into());
    }
    Ok(sent)
}

/// Up to 1 MiB of a file from `offset`.
fn window(path: &Path, offset: u64) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).context(|| format!("cannot open {}", path.display()))?;
    let mut buf = vec![0u8; LARGE as usize];
    let mut filled = 0;
    while filled < buf.len() {
        let n = file
            .read_at(&mut buf[filled..], offset + filled as u64)
            .context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    buf.truncate(filled);
    Ok(buf)
}

/// Reads the small files under `dir` and stats the large ones: what a push with nothing to send
/// touches (manifests, directory listings), without reading gigabytes.
fn warm_small(dir: &Path) -> Result<()> {
    for file in walk(dir)? {
        let meta =
            std::fs::metadata(&file).context(|| format!("cannot stat {}", file.display()))?;
        if meta.len() < LARGE {
            super::read_all(&file)?;
        }
    }
    Ok(())
}

/// The bucket of an S3 remote (bucket names have at least 3 characters).
fn bucket(remote: &str) -> String {
    format!("bench-{remote}")
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str()
        .ok_or_else(|| format!("{} is not UTF-8", path.display()).into())
}

/// A CSV file of about `size` bytes of seeded rows (ids, timestamps, users, countries,
/// categories, amounts, scores, labels), ending at the first row boundary past `size`. Returns
/// the number of data rows and the file's size.
fn write_csv(path: &Path, size: u64, rng: &mut Rng) -> Result<(u64, u64)> {
    const COUNTRIES: [&str; 12] = [
        "DE", "FR", "US", "GB", "JP", "BR", "IN", "NL", "SE", "ES", "IT", "CA",
    ];
    const CATEGORIES: [&str; 8] = [
        "books",
        "electronics",
        "garden",
        "grocery",
        "health",
        "music",
        "sports",
        "toys",
    ];
    let mut file =
        std::fs::File::create(path).context(|| format!("cannot create {}", path.display()))?;
    let mut buf: Vec<u8> = Vec::with_capacity(super::CHUNK + 256);
    buf.extend_from_slice(b"id,timestamp,user,country,category,amount,score,label\n");
    let (mut rows, mut written) = (0u64, 0u64);
    while written + (buf.len() as u64) < size {
        rows += 1;
        digits(&mut buf, rows, 1);
        buf.push(b',');
        // An ISO-8601 time within about a year, in a simple 30-day-month calendar.
        let t = rng.below(365 * 86_400);
        let (day, sec) = (t / 86_400, t % 86_400);
        buf.extend_from_slice(b"2024-");
        digits(&mut buf, day / 30 % 12 + 1, 2);
        buf.push(b'-');
        digits(&mut buf, day % 28 + 1, 2);
        buf.push(b'T');
        digits(&mut buf, sec / 3600, 2);
        buf.push(b':');
        digits(&mut buf, sec / 60 % 60, 2);
        buf.push(b':');
        digits(&mut buf, sec % 60, 2);
        buf.extend_from_slice(b"Z,u");
        digits(&mut buf, rng.below(1_000_000), 6);
        buf.push(b',');
        buf.extend_from_slice(rng.pick(&COUNTRIES).as_bytes());
        buf.push(b',');
        buf.extend_from_slice(rng.pick(&CATEGORIES).as_bytes());
        buf.push(b',');
        let cents = (rng.normal().abs() * 5_000.0) as u64 + rng.below(100);
        digits(&mut buf, cents / 100, 1);
        buf.push(b'.');
        digits(&mut buf, cents % 100, 2);
        buf.extend_from_slice(b",0.");
        digits(&mut buf, rng.below(10_000), 4);
        buf.push(b',');
        buf.push(if rng.below(4) == 0 { b'1' } else { b'0' });
        buf.push(b'\n');
        if buf.len() >= super::CHUNK {
            file.write_all(&buf)
                .context(|| format!("cannot write {}", path.display()))?;
            written += buf.len() as u64;
            buf.clear();
        }
    }
    file.write_all(&buf)
        .context(|| format!("cannot write {}", path.display()))?;
    written += buf.len() as u64;
    Ok((rows, written))
}

/// Appends `n` in decimal, zero-padded to `width` digits.
fn digits(buf: &mut Vec<u8>, n: u64, width: usize) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    let mut n = n;
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    while tmp.len() - i < width {
        i -= 1;
        tmp[i] = b'0';
    }
    buf.extend_from_slice(&tmp[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_zero_padded() {
        let mut buf = Vec::new();
        digits(&mut buf, 7, 2);
        digits(&mut buf, 1234, 2);
        digits(&mut buf, 0, 1);
        assert_eq!(buf, b"0712340");
    }

    #[test]
    fn csv_rows_are_seeded_and_end_past_the_size() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
        let (rows, bytes) = write_csv(&a, 100_000, &mut Rng::new(1)).unwrap();
        write_csv(&b, 100_000, &mut Rng::new(1)).unwrap();
        let text = std::fs::read_to_string(&a).unwrap();
        assert_eq!(text, std::fs::read_to_string(&b).unwrap());
        assert_eq!(text.len() as u64, bytes);
        assert!((100_000..100_200).contains(&bytes));
        assert_eq!(text.lines().count() as u64, rows + 1);
        assert!(text.lines().all(|line| line.split(',').count() == 8));
    }
}
