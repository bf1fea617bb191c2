//! Timing one child process: wall time from spawn to exit, its own CPU and peak RSS (`wait4`),
//! its peak anonymous memory (sampled), and what the host did meanwhile; the bench's project
//! and how its outputs are got out of the way between runs.

use std::cell::Cell;
use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use super::CHUNK;
use super::host::{compact_stalls, prefault_memory, reported_kib};
use crate::util::{Context, Result, describe, fmt_bytes, median};

/// One timed child process.
pub(super) struct Measured {
    pub(super) wall: Duration,
    /// The child's own peak resident set size, in bytes: file pages it mapped count too.
    pub(super) maxrss: u64,
    /// The largest anonymous memory (`RssAnon`) the child held, sampled every
    /// [`SAMPLE_EVERY`] while it ran; `None` where `/proc` could not be read.
    pub(super) anon_peak: Option<u64>,
    /// The child's own CPU time (user + system), and the system part of it.
    pub(super) cpu: Duration,
    pub(super) sys: Duration,
    /// This process's CPU time while the child ran: the work of any server it runs for the
    /// child (`bench remote`'s S3 server).
    pub(super) host_cpu: Duration,
    /// Direct compactions the kernel counted while the child ran (`compact_stall` in
    /// `/proc/vmstat`, machine-wide).
    pub(super) compact_stalls: u64,
    /// Free memory the guest handed back to its host while the child ran, in KiB
    /// (`reported_kib` of the `page_reporting` module; 0 where the kernel does not count it).
    pub(super) reported_kib: u64,
}

/// Repeated timings of one command.
pub(super) struct Figure {
    pub(super) samples: Vec<Duration>,
    pub(super) maxrss: u64,
    /// The largest of the runs' anonymous-memory peaks; `None` if no run measured one.
    pub(super) anon_peak: Option<u64>,
    pub(super) cpu: Vec<Duration>,
    pub(super) sys: Vec<Duration>,
    pub(super) host_cpu: Vec<Duration>,
    pub(super) compact_stalls: Vec<u64>,
    pub(super) reported_kib: Vec<u64>,
}

impl Figure {
    pub(super) fn new() -> Self {
        Figure {
            samples: Vec::new(),
            maxrss: 0,
            anon_peak: None,
            cpu: Vec::new(),
            sys: Vec::new(),
            host_cpu: Vec::new(),
            compact_stalls: Vec::new(),
            reported_kib: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, m: &Measured) {
        self.samples.push(m.wall);
        self.maxrss = self.maxrss.max(m.maxrss);
        self.anon_peak = self.anon_peak.max(m.anon_peak);
        self.cpu.push(m.cpu);
        self.sys.push(m.sys);
        self.host_cpu.push(m.host_cpu);
        self.compact_stalls.push(m.compact_stalls);
        self.reported_kib.push(m.reported_kib);
    }

    pub(super) fn median(&self) -> Duration {
        median(&self.samples)
    }

    pub(super) fn max(&self) -> Duration {
        self.samples.iter().copied().max().unwrap_or_default()
    }

    pub(super) fn json(&self) -> serde_json::Value {
        json!({
            "samples_s": self.samples.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
            "median_s": self.median().as_secs_f64(),
            "max_s": self.max().as_secs_f64(),
            "max_rss_bytes": self.maxrss,
            "max_rss_anon_bytes": self.anon_peak,
            "cpu_median_s": median(&self.cpu).as_secs_f64(),
            "sys_median_s": median(&self.sys).as_secs_f64(),
            "host_cpu_median_s": median(&self.host_cpu).as_secs_f64(),
            "compact_stalls": self.compact_stalls,
            "host_reported_kib": self.reported_kib,
        })
    }
}

/// Where the benchmark runs: `tmp/proj` holds the data and the cairn project; `tmp` holds the
/// captured output of the children.
pub(super) struct Bench {
    pub(super) cairn: PathBuf,
    pub(super) tmp: PathBuf,
    pub(super) proj: PathBuf,
    /// How many paths `discard` has moved to the trash.
    pub(super) discarded: Cell<u32>,
    /// Bytes of memory to fault in and free again right before each timed run (0: none); see
    /// [`prefault_memory`].
    pub(super) prefault: Cell<u64>,
}

impl Bench {
    /// `cairn -q ARGS` in the project, timed; its output is shown only if it fails.
    pub(super) fn cairn(&self, args: &[&str]) -> Result<Measured> {
        let mut cmd = Command::new(&self.cairn);
        cmd.arg("-q").args(args);
        self.run(&format!("cairn -q {}", args.join(" ")), &mut cmd)
    }

    /// Runs a command (in the project, unless it has a directory of its own) after `sync`, timing it from spawn to exit and reading its
    /// own resource usage with `wait4`. Its output goes to files, shown only if it fails.
    pub(super) fn run(&self, shown: &str, cmd: &mut Command) -> Result<Measured> {
        let out_path = self.tmp.join("child.stdout");
        let err_path = self.tmp.join("child.stderr");
        let out =
            File::create(&out_path).context(|| format!("cannot create {}", out_path.display()))?;
        let err =
            File::create(&err_path).context(|| format!("cannot create {}", err_path.display()))?;
        if cmd.get_current_dir().is_none() {
            cmd.current_dir(&self.proj);
        }
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        sync();
        prefault_memory(self.prefault.get());
        reset_peak_rss();
        let host_before = own_cpu();
        let stalls_before = compact_stalls();
        let reported_before = reported_kib();
        let start = Instant::now();
        let child = cmd.spawn().context(|| format!("cannot run `{shown}`"))?;
        let anon = AnonPeak::start(child.id());
        let (status, maxrss, cpu, sys) =
            wait_with_rusage(child).context(|| format!("waiting for `{shown}`"))?;
        let wall = start.elapsed();
        let anon_peak = anon.finish();
        let host_cpu = own_cpu().saturating_sub(host_before);
        let compact_stalls = compact_stalls().saturating_sub(stalls_before);
        let reported_kib = reported_kib().saturating_sub(reported_before);
        if !status.success() {
            let _ = std::io::stdout().flush();
            for (name, path) in [("stdout", &out_path), ("stderr", &err_path)] {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                if !text.trim().is_empty() {
                    eprintln!("--- {name} of `{shown}`:\n{}", text.trim_end());
                }
            }
            return Err(format!("`{shown}` failed ({})", describe(status)).into());
        }
        Ok(Measured {
            wall,
            maxrss,
            anon_peak,
            cpu,
            sys,
            host_cpu,
            compact_stalls,
            reported_kib,
        })
    }

    pub(super) fn git_init(&self) -> Result<()> {
        let mut cmd = Command::new("git");
        cmd.args(["init", "-q", "-b", "main"]);
        self.run("git init", &mut cmd).map(drop)
    }

    /// Turns the project back into a just-initialised one, keeping the data and `.git`.
    pub(super) fn fresh_project(&self) -> Result<()> {
        for name in [".cairn", "cairn.toml", "cairn.lock", ".gitignore"] {
            self.discard(Path::new(name))?;
        }
        self.cairn(&["init"]).map(drop)
    }

    /// Gets a file or directory of the project out of the way, if it exists: deletes it, unless
    /// it is a directory of many files, which is moved to `tmp/trash` (deleted at the end).
    /// Why not delete every tree: "Getting outputs out of the way" in docs/benchmarks.md.
    pub(super) fn discard(&self, rel: &Path) -> Result<()> {
        let path = self.proj.join(rel);
        let meta = match std::fs::symlink_metadata(&path) {
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            result => result.context(|| format!("cannot stat {}", path.display()))?,
        };
        let removed = if !meta.is_dir() {
            std::fs::remove_file(&path)
        } else if walk(&path)?.len() < 1000 {
            std::fs::remove_dir_all(&path)
        } else {
            let trash = self.tmp.join("trash");
            std::fs::create_dir_all(&trash)
                .context(|| format!("cannot create {}", trash.display()))?;
            let n = self.discarded.get() + 1;
            self.discarded.set(n);
            let to = trash.join(n.to_string());
            return std::fs::rename(&path, &to)
                .context(|| format!("cannot move {} to {}", path.display(), to.display()));
        };
        removed.context(|| format!("cannot remove {}", path.display()))
    }

    /// Reads a file, or every file under a directory, of the project.
    pub(super) fn warm(&self, rel: &Path) -> Result<()> {
        let path = self.proj.join(rel);
        if path.is_dir() {
            for file in walk(&path)? {
                read_all(&file)?;
            }
            Ok(())
        } else {
            read_all(&path)
        }
    }
}

/// How often [`AnonPeak`] reads a child's `RssAnon`.
pub(super) const SAMPLE_EVERY: Duration = Duration::from_millis(2);

/// The peak anonymous memory of a running child: a thread reads `RssAnon` from the child's
/// `/proc/PID/status` every [`SAMPLE_EVERY`] until [`AnonPeak::finish`]. The file is opened
/// once, right after the spawn, so every read is of that process (a reaped child's file reads
/// as an error, never as another process that got its id). Anonymous memory is what a process
/// allocated (heap, stacks, buffers), not the file pages it maps or the page cache it fills,
/// so a `Vec` holding a whole input shows here whatever the file's size.
pub(super) struct AnonPeak {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Option<u64>>>,
}

impl AnonPeak {
    pub(super) fn start(pid: u32) -> AnonPeak {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = File::open(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|mut file| {
                std::thread::Builder::new()
                    .name("rss-anon".to_owned())
                    .spawn(move || {
                        let mut peak: Option<u64> = None;
                        let mut text = String::new();
                        loop {
                            text.clear();
                            let read = file
                                .seek(SeekFrom::Start(0))
                                .and_then(|_| file.read_to_string(&mut text));
                            if read.is_ok() {
                                peak = peak.max(rss_anon_bytes(&text));
                            }
                            if flag.load(Ordering::Relaxed) {
                                return peak;
                            }
                            std::thread::sleep(SAMPLE_EVERY);
                        }
                    })
                    .ok()
            });
        AnonPeak { stop, thread }
    }

    /// Stops sampling; the largest `RssAnon` seen, in bytes.
    pub(super) fn finish(self) -> Option<u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.and_then(|thread| thread.join().ok()).flatten()
    }
}

/// `RssAnon` of a `/proc/PID/status` text, in bytes (the kernel writes it in kB).
pub(super) fn rss_anon_bytes(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("RssAnon:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<u64>().ok())
        .map(|kib| kib * 1024)
}

/// Waits for `child` with `wait4`, which also returns the child's own resource usage (unlike
/// `getrusage(RUSAGE_CHILDREN)`, which only reports the largest child so far): its peak RSS in
/// bytes, its CPU time and the system part of that.
#[allow(unsafe_code)]
pub(super) fn wait_with_rusage(
    child: Child,
) -> std::io::Result<(ExitStatus, u64, Duration, Duration)> {
    use std::os::unix::process::ExitStatusExt;
    let pid = libc::pid_t::try_from(child.id()).map_err(std::io::Error::other)?;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is a plain C struct of integers, for which all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own child, not yet reaped (we never call `Child::wait`); the
        // pointers are to live locals of the right types.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    // Linux reports ru_maxrss in KiB.
    let maxrss = u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024;
    let sys = duration(usage.ru_stime);
    let cpu = duration(usage.ru_utime) + sys;
    Ok((ExitStatus::from_raw(status), maxrss, cpu, sys))
}

/// Lowers this process's peak RSS to its current RSS, so that a child's peak RSS (which Linux
/// starts from the memory of the process it was spawned from) is its own, plus what this
/// process holds at the spawn.
pub(super) fn reset_peak_rss() {
    // "5" resets the peak to the current RSS (Linux 4.0+); without it the figures are only
    // less exact.
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/self/clear_refs")
        .and_then(|mut file| file.write_all(b"5"));
}

/// The CPU time (user + system) of this process, all threads, so far.
#[allow(unsafe_code)]
pub(super) fn own_cpu() -> Duration {
    // SAFETY: as in `wait_with_rusage`.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF is valid and the pointer is to a live local of the right type.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    duration(usage.ru_utime) + duration(usage.ru_stime)
}

pub(super) fn duration(tv: libc::timeval) -> Duration {
    let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
    let micros = u32::try_from(tv.tv_usec).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(u64::from(micros))
}

/// Flushes dirty pages so that one measurement does not pay for the writes of the one before.
#[allow(unsafe_code)]
pub(super) fn sync() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() }
}

pub(super) fn read_all(path: &Path) -> Result<()> {
    let mut file = File::open(path).context(|| format!("cannot open {}", path.display()))?;
    let mut buf = vec![0u8; CHUNK];
    while file
        .read(&mut buf)
        .context(|| format!("cannot read {}", path.display()))?
        > 0
    {}
    Ok(())
}

/// Every file under `root`, recursively.
pub(super) fn walk(root: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries =
            std::fs::read_dir(&dir).context(|| format!("cannot list {}", dir.display()))?;
        for entry in entries {
            let entry = entry.context(|| format!("cannot list {}", dir.display()))?;
            let kind = entry
                .file_type()
                .context(|| format!("cannot stat {}", entry.path().display()))?;
            if kind.is_dir() {
                dirs.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
    }
    Ok(files)
}

/// The number of files under `root` and their total size.
pub(super) fn count(root: &Path) -> Result<(u64, u64)> {
    if !root.exists() {
        return Ok((0, 0));
    }
    let mut bytes = 0;
    let files = walk(root)?;
    for file in &files {
        bytes += std::fs::metadata(file)
            .context(|| format!("cannot stat {}", file.display()))?
            .len();
    }
    Ok((files.len() as u64, bytes))
}

/// Fails, before any data is generated, when the file system of `dir` has less than `need`
/// bytes free: a bench that runs out of space half way wastes its first minutes and leaves
/// the disk full.
#[allow(unsafe_code)]
pub(super) fn require_free_space(dir: &Path, need: u64, why: &str) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| format!("{} contains a NUL byte", dir.display()))?;
    // SAFETY: `statvfs` is a plain C struct of integers, for which all-zero is a valid value;
    // the pointers are to a NUL-terminated string and a local, both live for the call.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        // Unknown: the bench will tell soon enough.
        return Ok(());
    }
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    if free < need {
        return Err(format!(
            "{} has {} free; this bench needs about {} ({why}). Free some space, or set \
             CARGO_TARGET_DIR to a directory on a larger file system",
            dir.display(),
            fmt_bytes(free),
            fmt_bytes(need)
        )
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_anon_is_read_from_a_status_text() {
        let status =
            "Name:\tcairn\nVmRSS:\t  1056768 kB\nRssAnon:\t    10240 kB\nRssFile:\t  1046528 kB\n";
        assert_eq!(rss_anon_bytes(status), Some(10 << 20));
        assert_eq!(rss_anon_bytes("Name:\tzombie\nState:\tZ (zombie)\n"), None);
    }

    /// A child that holds 64 MiB of its own memory shows at least that much anonymous memory,
    /// and a child that only maps and reads a 64 MiB file shows far less: the distinction the
    /// data bench's memory verdict rests on.
    #[test]
    fn anonymous_memory_counts_buffers_not_mapped_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big.bin");
        std::fs::write(&file, vec![7u8; 64 << 20]).unwrap();
        let peak = |script: &str| {
            let child = Command::new("python3")
                .args(["-c", script])
                .arg(&file)
                .spawn()
                .unwrap();
            let anon = AnonPeak::start(child.id());
            let (status, ..) = wait_with_rusage(child).unwrap();
            assert!(status.success());
            anon.finish().expect("RssAnon sampled")
        };
        let buffered = peak(
            "import sys, time\ndata = bytearray(open(sys.argv[1], 'rb').read())\ntime.sleep(0.2)",
        );
        let mapped = peak(
            "import mmap, sys, time\nf = open(sys.argv[1], 'rb')\nm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)\nsum(m[i] for i in range(0, len(m), 4096))\ntime.sleep(0.2)",
        );
        assert!(buffered >= 64 << 20, "buffered: {buffered}");
        assert!(mapped < 32 << 20, "mapped: {mapped}");
    }
}
