//! Probes of the machine a bench runs on: its description, load, the kernel's direct
//! compactions, memory the guest hands back to its host, and prefaulting memory before a run.
//! Why these matter on this project's VMs is in `docs/benchmarks.md`.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::util::{fmt_bytes, workspace_root};

pub(super) fn machine_info(dir: &Path) -> serde_json::Value {
    let nproc = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let uname = command_line("uname", &["-sr"]).unwrap_or_else(|| "unknown".to_owned());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("MemTotal:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<u64>().ok())
                .map(|kib| kib * 1024)
        });
    let dir = dir.to_string_lossy();
    let filesystem = command_line("stat", &["-f", "-c", "%T", &dir]);
    json!({
        "nproc": nproc,
        "uname": uname,
        "cpu": cpu,
        "memory_bytes": memory,
        "filesystem": filesystem,
    })
}

/// The kernel's count of direct compactions so far (`compact_stall` in `/proc/vmstat`); 0 where
/// it cannot be read.
pub(super) fn compact_stalls() -> u64 {
    std::fs::read_to_string("/proc/vmstat")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("compact_stall "))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Faults in `bytes` of anonymous memory and frees it again, so that the page cache the next
/// timed run fills comes from memory the host still backs ("Memory the host has taken back"
/// in docs/benchmarks.md).
#[allow(unsafe_code)]
pub(super) fn prefault_memory(bytes: u64) {
    let Ok(len) = usize::try_from(bytes) else {
        return;
    };
    if len == 0 {
        return;
    }
    // SAFETY: a private anonymous mapping of `len` bytes, written only inside its bounds and
    // unmapped before returning; a failed mapping is skipped.
    unsafe {
        let ptr = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if ptr == libc::MAP_FAILED {
            return;
        }
        let bytes = ptr.cast::<u8>();
        for offset in (0..len).step_by(4096) {
            std::ptr::write_volatile(bytes.add(offset), 1);
        }
        libc::munmap(ptr, len);
    }
}

/// How much free memory this guest has reported to its host so far, in KiB (free page
/// reporting); 0 where the kernel does not count it.
pub(super) fn reported_kib() -> u64 {
    std::fs::read_to_string("/sys/module/page_reporting/parameters/reported_kib")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0)
}

/// The 1-minute load average.
pub(super) fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The commit the workspace is at, and how many files under `crates/` differ from it (other
/// work in progress is measured too).
pub(super) fn source_info() -> serde_json::Value {
    let root = workspace_root();
    let root = root.to_string_lossy();
    let commit = command_line("git", &["-C", &root, "rev-parse", "--short", "HEAD"]);
    let changed = Command::new("git")
        .args(["-C", &root, "status", "--porcelain", "--", "crates"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).lines().count());
    json!({ "commit": commit, "crates_changed": changed, "load_average_at_start": load_average() })
}

pub(super) fn machine_line(machine: &serde_json::Value) -> String {
    let text = |key: &str| machine[key].as_str().unwrap_or("unknown").to_owned();
    let memory = machine["memory_bytes"]
        .as_u64()
        .map_or_else(|| "?".to_owned(), fmt_bytes);
    format!(
        "{} cores ({}), {memory} memory, {}, filesystem {}",
        machine["nproc"],
        text("cpu"),
        text("uname"),
        text("filesystem")
    )
}

pub(super) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// How long ago the previous bench (whose results are in `path`) ended.
pub(super) fn seconds_since_last_run(path: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let previous: serde_json::Value = serde_json::from_str(&text).ok()?;
    let finished = previous.get("finished_unix")?.as_u64()?;
    unix_now().checked_sub(finished)
}

/// The first line a command prints, if it runs and succeeds.
pub(super) fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .map(|line| line.trim().to_owned())
}
