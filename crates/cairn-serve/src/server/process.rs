//! The process' own resource use, read from `/proc/self` (Linux; elsewhere the figures are
//! absent from `/metrics`). The clock tick and page size come from the auxiliary vector
//! (`/proc/self/auxv`), so nothing here needs `libc`.

use std::sync::OnceLock;

/// One reading.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sample {
    pub(crate) cpu_seconds: Option<f64>,
    pub(crate) resident_bytes: Option<f64>,
    pub(crate) virtual_bytes: Option<f64>,
    pub(crate) open_fds: Option<f64>,
}

/// `(clock ticks per second, page size)`.
fn constants() -> (f64, f64) {
    static CONSTANTS: OnceLock<(f64, f64)> = OnceLock::new();
    *CONSTANTS.get_or_init(|| {
        // AT_PAGESZ = 6, AT_CLKTCK = 17; entries are (key, value) pairs of native words.
        let mut ticks = 100.0;
        let mut page = 4096.0;
        if let Ok(auxv) = std::fs::read("/proc/self/auxv") {
            for pair in auxv.chunks_exact(16) {
                let key = u64::from_ne_bytes(pair[..8].try_into().unwrap_or([0; 8]));
                let value = u64::from_ne_bytes(pair[8..].try_into().unwrap_or([0; 8]));
                match key {
                    6 if value > 0 => page = value as f64,
                    17 if value > 0 => ticks = value as f64,
                    _ => {}
                }
            }
        }
        (ticks, page)
    })
}

pub(crate) fn sample() -> Sample {
    let (ticks, page) = constants();
    let mut s = Sample::default();
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // The command name (field 2) is in parentheses and may hold spaces: count fields
        // from the last `)`. utime and stime are fields 14 and 15.
        if let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) {
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime = fields.get(11).and_then(|f| f.parse::<f64>().ok());
            let stime = fields.get(12).and_then(|f| f.parse::<f64>().ok());
            if let (Some(u), Some(st)) = (utime, stime) {
                s.cpu_seconds = Some((u + st) / ticks);
            }
        }
    }
    if let Ok(statm) = std::fs::read_to_string("/proc/self/statm") {
        let mut fields = statm.split_whitespace();
        s.virtual_bytes = fields
            .next()
            .and_then(|f| f.parse::<f64>().ok())
            .map(|p| p * page);
        s.resident_bytes = fields
            .next()
            .and_then(|f| f.parse::<f64>().ok())
            .map(|p| p * page);
    }
    if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
        // The directory handle being read is one of them.
        s.open_fds = Some(entries.count().saturating_sub(1) as f64);
    }
    s
}
