//! `cargo xtask bench data [--quick]`: `cairn data add / status / checkout` on a seeded big
//! file and tree, each beside `cp` on the same disk in the same run, and the peak anonymous
//! memory of `data add big.bin`.

use std::fs::File;
use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::json;

use super::{
    Bench, Check, Figure, MIB, SAMPLE_EVERY, SEED, Setup, count, finish, print_table, report,
    setup, summary,
};
use crate::rng::Rng;
use crate::util::{Context, Result, fmt_bytes, fmt_count, fmt_duration, on_path};

const CHUNK: usize = super::CHUNK;
/// The most anonymous memory `data add` of the big file may hold: it hashes a memory map and
/// copies in the kernel, so its own buffers do not grow with the file.
const ANON_LIMIT: u64 = 100 << 20;

/// How much data to generate.
#[derive(Clone, Copy)]
pub(super) struct Scale {
    pub(super) quick: bool,
    pub(super) big_bytes: u64,
    pub(super) top_dirs: usize,
    pub(super) sub_dirs: usize,
    pub(super) files_per_dir: usize,
}

impl Scale {
    pub(super) const FULL: Scale = Scale {
        quick: false,
        big_bytes: 1 << 30,
        top_dirs: 20,
        sub_dirs: 10,
        files_per_dir: 100,
    };
    pub(super) const QUICK: Scale = Scale {
        quick: true,
        big_bytes: 64 << 20,
        top_dirs: 20,
        sub_dirs: 10,
        files_per_dir: 10,
    };
}

pub(super) fn run(scale: Scale) -> Result<()> {
    let Setup {
        tmp,
        bench,
        machine,
        source,
        results,
        built: _,
    } = setup("bench-data.json", scale.quick, false)?;

    // The data.
    let mut rng = Rng::new(SEED);
    let started = Instant::now();
    write_big(&bench.proj.join("big.bin"), scale.big_bytes, &mut rng)?;
    let (tree_files, tree_bytes) = write_tree(&bench.proj.join("tree"), scale, &mut rng)?;
    println!(
        "generated big.bin ({}) and tree/ ({} files, {}) in {:.1} s",
        fmt_bytes(scale.big_bytes),
        fmt_count(tree_files),
        fmt_bytes(tree_bytes),
        started.elapsed().as_secs_f64()
    );
    bench.git_init()?;
    let (big, tree) = (Path::new("big.bin"), Path::new("tree"));

    // Before each timed run the input is read once, so that every run starts from a warm page
    // cache (this machine pages out file data that was not touched for a minute); outputs are
    // got out of the way between runs as `Bench::discard` explains.
    println!();
    let cp_big = cp_figure(&bench, big)?;
    let cp_sync_big = cp_sync_figure(&bench, big)?;
    let cp_tree = cp_tree_figure(&bench, tree)?;

    let b3sum = match on_path("b3sum") {
        Some(b3sum) => {
            let mut figure = Figure::new();
            for _ in 0..3 {
                bench.warm(big)?;
                figure.push(&bench.run("b3sum big.bin", Command::new(&b3sum).arg(big))?);
            }
            report("b3sum big.bin", &figure);
            Some(figure)
        }
        None => {
            println!("{:<34} skipped (b3sum is not on PATH)", "b3sum big.bin");
            None
        }
    };

    let mut add_big = Figure::new();
    for _ in 0..3 {
        bench.fresh_project()?;
        bench.warm(big)?;
        add_big.push(&bench.cairn(&["data", "add", "big.bin"])?);
    }
    report("cairn data add big.bin", &add_big);

    let mut add_tree = Figure::new();
    for _ in 0..3 {
        bench.fresh_project()?;
        bench.warm(tree)?;
        add_tree.push(&bench.cairn(&["data", "add", "tree"])?);
    }
    report("cairn data add tree", &add_tree);

    bench.cairn(&["data", "status", "tree"])?;
    let mut status = Figure::new();
    for _ in 0..10 {
        status.push(&bench.cairn(&["data", "status", "tree"])?);
    }
    report("cairn data status tree", &status);

    // The pre-commit hooks (`.pre-commit-hooks.yaml`) as pre-commit runs them, on the tracked
    // tree with a warm stat cache: `data status --check` on every commit, `hooks staged` with
    // the staged files (a commit of 100 source files and the lock), `hooks config` when
    // cairn.toml or cairn.lock is staged.
    let staged = write_sources(&bench.proj.join("src"), HOOK_FILES)?;
    let mut staged_args = vec!["hooks", "staged", "cairn.lock"];
    staged_args.extend(staged.iter().map(String::as_str));
    let hooks: Vec<(&str, Vec<&str>)> = vec![
        ("hook cairn-data-status", vec!["data", "status", "--check"]),
        ("hook cairn-staged", staged_args),
        ("hook cairn-config", vec!["hooks", "config"]),
    ];
    let mut hook_figures = Vec::new();
    for (name, args) in &hooks {
        bench.cairn(args)?;
        let mut figure = Figure::new();
        for _ in 0..10 {
            figure.push(&bench.cairn(args)?);
        }
        report(name, &figure);
        hook_figures.push((*name, figure));
    }

    let mut checkout = Figure::new();
    for _ in 0..3 {
        bench.discard(tree)?;
        checkout.push(&bench.cairn(&["data", "checkout", "tree"])?);
        let (files, bytes) = count(&bench.proj.join(tree))?;
        if (files, bytes) != (tree_files, tree_bytes) {
            return Err(format!(
                "`cairn data checkout tree` restored {} files ({}), expected {} ({})",
                fmt_count(files),
                fmt_bytes(bytes),
                fmt_count(tree_files),
                fmt_bytes(tree_bytes)
            )
            .into());
        }
    }
    report("cairn data checkout tree", &checkout);

    let mut readd = Figure::new();
    for _ in 0..3 {
        bench.warm(tree)?;
        readd.push(&bench.cairn(&["data", "add", "tree"])?);
    }
    report("cairn data add tree (unchanged)", &readd);

    // The verdicts.
    let ratio = |a: &Figure, b: &Figure| a.median().as_secs_f64() / b.median().as_secs_f64();
    let secs = |f: &Figure| f.median().as_secs_f64();
    let mut checks = vec![
        Check {
            id: "add_big",
            value: secs(&add_big),
            name: format!("add big.bin ({})", fmt_bytes(scale.big_bytes)),
            measured: fmt_duration(add_big.median()),
            reference: format!("cp {}", fmt_duration(cp_big.median())),
            ratio: Some(ratio(&add_big, &cp_big)),
            target: "<= 1.3x cp, < 1.5 s",
            pass: Some(ratio(&add_big, &cp_big) <= 1.3 && secs(&add_big) < 1.5),
        },
        Check {
            id: "add_big_durable",
            value: secs(&add_big),
            name: format!(
                "add big.bin vs durable copy ({})",
                fmt_bytes(scale.big_bytes)
            ),
            measured: fmt_duration(add_big.median()),
            reference: format!("cp+sync {}", fmt_duration(cp_sync_big.median())),
            ratio: Some(ratio(&add_big, &cp_sync_big)),
            target: "<= 1.3x cp+sync",
            pass: Some(ratio(&add_big, &cp_sync_big) <= 1.3),
        },
        Check {
            id: "add_tree",
            value: secs(&add_tree),
            name: format!("add tree ({} files)", fmt_count(tree_files)),
            measured: fmt_duration(add_tree.median()),
            reference: format!("cp -r {}", fmt_duration(cp_tree.median())),
            ratio: Some(ratio(&add_tree, &cp_tree)),
            target: "<= 1.5x cp -r, < 2 s",
            pass: Some(ratio(&add_tree, &cp_tree) <= 1.5 && secs(&add_tree) < 2.0),
        },
        Check {
            id: "status_tree",
            value: secs(&status),
            name: "status tree, unchanged".to_owned(),
            measured: format!(
                "{} (max {})",
                fmt_duration(status.median()),
                fmt_duration(status.max())
            ),
            reference: "-".to_owned(),
            ratio: None,
            target: "< 50 ms",
            pass: Some(secs(&status) < 0.050),
        },
        Check {
            id: "checkout_tree",
            value: secs(&checkout),
            name: "checkout tree (after rm -rf)".to_owned(),
            measured: fmt_duration(checkout.median()),
            reference: format!("cp -r {}", fmt_duration(cp_tree.median())),
            ratio: Some(ratio(&checkout, &cp_tree)),
            target: "<= 1.5x cp -r",
            pass: Some(ratio(&checkout, &cp_tree) <= 1.5),
        },
        Check {
            id: "readd_tree",
            value: secs(&readd),
            name: "re-add tree, unchanged".to_owned(),
            measured: fmt_duration(readd.median()),
            reference: format!("cp -r {}", fmt_duration(cp_tree.median())),
            ratio: Some(ratio(&readd, &cp_tree)),
            target: "-",
            pass: None,
        },
        Check {
            id: "anon_add_big",
            value: add_big.anon_peak.map_or(f64::NAN, |bytes| bytes as f64),
            name: "peak anonymous memory of add big.bin".to_owned(),
            measured: add_big.anon_peak.map_or_else(
                || "not measured".to_owned(),
                |bytes| format!("{:.1} MiB", bytes as f64 / MIB),
            ),
            reference: format!(
                "peak RSS {:.0} MiB (file pages included)",
                add_big.maxrss as f64 / MIB
            ),
            ratio: None,
            target: "< 100 MiB",
            pass: add_big.anon_peak.map(|bytes| bytes < ANON_LIMIT),
        },
    ];
    for (name, figure) in &hook_figures {
        checks.push(Check {
            id: match *name {
                "hook cairn-data-status" => "hook_data_status",
                "hook cairn-staged" => "hook_staged",
                _ => "hook_config",
            },
            value: secs(figure),
            name: format!("{name} ({} files tracked)", fmt_count(tree_files)),
            measured: format!(
                "{} (max {})",
                fmt_duration(figure.median()),
                fmt_duration(figure.max())
            ),
            reference: "-".to_owned(),
            ratio: None,
            target: "< 200 ms",
            pass: Some(secs(figure) < 0.200),
        });
    }
    if let Some(b3sum) = &b3sum {
        checks.push(Check {
            id: "add_big_vs_b3sum",
            value: secs(&add_big),
            name: "add big.bin vs b3sum".to_owned(),
            measured: fmt_duration(add_big.median()),
            reference: format!("b3sum {}", fmt_duration(b3sum.median())),
            ratio: Some(ratio(&add_big, b3sum)),
            target: "-",
            pass: None,
        });
    }

    println!();
    print_table(&checks);
    println!("\n{}", summary(&checks));
    println!(
        "(anonymous memory: RssAnon of the process, sampled every {} ms while it ran; the \
         memory map of the file and the page cache do not count, a buffer holding the file does)",
        SAMPLE_EVERY.as_millis()
    );

    let figures = json!({
        "cp_big": cp_big.json(),
        "cp_tree": cp_tree.json(),
        "b3sum_big": b3sum.as_ref().map(Figure::json),
        "add_big": add_big.json(),
        "add_tree": add_tree.json(),
        "status_tree": status.json(),
        "checkout_tree": checkout.json(),
        "readd_tree": readd.json(),
        "hooks": hook_figures
            .iter()
            .map(|(name, figure)| (name.to_string(), figure.json()))
            .collect::<serde_json::Map<_, _>>(),
    });
    let document = json!({
        "kind": "bench-data",
        "schema_version": 2,
        "quick": scale.quick,
        "machine": machine,
        "source": source,
        "data": {
            "seed": SEED,
            "big_bytes": scale.big_bytes,
            "tree_files": tree_files,
            "tree_bytes": tree_bytes,
        },
        "figures": figures,
        "peak_rss_add_big_bytes": add_big.maxrss,
        "peak_anon_add_big_bytes": add_big.anon_peak,
        "checks": checks.iter().map(Check::json).collect::<Vec<_>>(),
    });

    finish(tmp, document, &results)
}

/// How many source files the `cairn-staged` hook's commit stages beside `cairn.lock`.
const HOOK_FILES: usize = 100;

/// `count` small source files in `dir` (the files of a commit the hooks check); returns their
/// paths relative to the project.
fn write_sources(dir: &Path, count: usize) -> Result<Vec<String>> {
    std::fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
    (0..count)
        .map(|i| {
            let path = dir.join(format!("step_{i:03}.py"));
            std::fs::write(&path, format!("def step_{i}(x):\n    return x + {i}\n"))
                .context(|| format!("cannot write {}", path.display()))?;
            Ok(format!("src/step_{i:03}.py"))
        })
        .collect()
}

/// `cp big.bin copy.bin` in the project: four runs, the first of which is not counted.
pub(super) fn cp_figure(bench: &Bench, big: &Path) -> Result<Figure> {
    let mut cp_big = Figure::new();
    for run in 0..4 {
        bench.warm(big)?;
        let measured = bench.run(
            "cp big.bin copy.bin",
            Command::new("cp").arg(big).arg("copy.bin"),
        )?;
        if run > 0 {
            cp_big.push(&measured);
        }
        bench.discard(Path::new("copy.bin"))?;
    }
    report("cp big.bin copy.bin", &cp_big);
    Ok(cp_big)
}

/// `cp big.bin copy.bin && sync`: cairn makes the objects it stores durable (one syncfs
/// before the lock is replaced, or after a fetch); plain `cp` does not. A durable copy is the
/// like-for-like reference.
pub(super) fn cp_sync_figure(bench: &Bench, big: &Path) -> Result<Figure> {
    let mut cp_sync_big = Figure::new();
    for _ in 0..3 {
        bench.warm(big)?;
        let measured = bench.run(
            "cp big.bin copy.bin && sync",
            Command::new("sh")
                .arg("-c")
                .arg("cp big.bin copy.bin && sync"),
        )?;
        cp_sync_big.push(&measured);
        bench.discard(Path::new("copy.bin"))?;
    }
    report("cp big.bin copy.bin && sync", &cp_sync_big);
    Ok(cp_sync_big)
}

/// `cp -r tree tree-copy` in the project: four runs, the first of which is not counted.
pub(super) fn cp_tree_figure(bench: &Bench, tree: &Path) -> Result<Figure> {
    let mut cp_tree = Figure::new();
    for run in 0..4 {
        bench.warm(tree)?;
        let measured = bench.run(
            "cp -r tree tree-copy",
            Command::new("cp").arg("-r").arg(tree).arg("tree-copy"),
        )?;
        if run > 0 {
            cp_tree.push(&measured);
        }
        bench.discard(Path::new("tree-copy"))?;
    }
    report("cp -r tree tree-copy", &cp_tree);
    Ok(cp_tree)
}

/// One file of incompressible pseudo-random bytes, written in 8 MiB chunks.
pub(super) fn write_big(path: &Path, size: u64, rng: &mut Rng) -> Result<()> {
    let mut file = File::create(path).context(|| format!("cannot create {}", path.display()))?;
    let mut buf = vec![0u8; CHUNK];
    let mut left = size;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        rng.fill(&mut buf[..n]);
        file.write_all(&buf[..n])
            .context(|| format!("cannot write {}", path.display()))?;
        left -= n as u64;
    }
    Ok(())
}

/// `top/sub/file` folders of files of 1–16 KiB. Returns the number of files and their bytes.
pub(super) fn write_tree(root: &Path, scale: Scale, rng: &mut Rng) -> Result<(u64, u64)> {
    let mut buf = vec![0u8; 16 << 10];
    let (mut files, mut bytes) = (0, 0);
    for top in 0..scale.top_dirs {
        for sub in 0..scale.sub_dirs {
            let dir = root.join(format!("d{top:02}")).join(format!("s{sub}"));
            std::fs::create_dir_all(&dir).context(|| format!("cannot create {}", dir.display()))?;
            for i in 0..scale.files_per_dir {
                let size = rng.between(1 << 10, 16 << 10) as usize;
                rng.fill(&mut buf[..size]);
                let path = dir.join(format!("f{i:03}.bin"));
                std::fs::write(&path, &buf[..size])
                    .context(|| format!("cannot write {}", path.display()))?;
                files += 1;
                bytes += size as u64;
            }
        }
    }
    Ok((files, bytes))
}
