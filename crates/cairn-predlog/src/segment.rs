//! A segment: one Parquet file of the log. It is written under a temporary name in the log's
//! directory, one row group at a time, and renamed to its final name only when it is complete
//! (footer written, fsynced), so a reader never sees a torn segment.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use cairn_store::atomic::{TempFile, sync_dir};
use polars::prelude::*;

use crate::FORMAT_VERSION;

/// Metadata keys every segment carries in its Parquet key-value metadata.
pub const FORMAT_KEY: &str = "cairn.prediction_log.format";
pub const KIND_KEY: &str = "cairn.prediction_log.kind";
pub const MODEL_KEY: &str = "cairn.model";
pub const MODEL_VERSION_KEY: &str = "cairn.model_version";

/// Numbers the segments this process names (with the pid, a name no other writer uses).
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A complete segment's file name: `v<format>_<first ts>_<last ts>_<pid>_<sequence>.parquet`,
/// timestamps in microseconds, zero-padded to 16 digits so that names sort by time.
pub fn segment_name(min_ts: i64, max_ts: i64) -> String {
    let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    format!(
        "v{FORMAT_VERSION}_{min_ts:016}_{max_ts:016}_{}_{n}.parquet",
        std::process::id()
    )
}

/// What a segment's file name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentName {
    pub format: u32,
    pub min_ts: i64,
    pub max_ts: i64,
}

/// Why a `.parquet` file in a log directory cannot be taken as a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    /// Not a segment name at all.
    Unrecognised,
    /// A segment of a format this crate does not know.
    Newer(u32),
}

/// Parses a segment's file name. Files that are not `.parquet` are not segments (`None`):
/// temporary files of open segments, anything else a user put there.
pub fn parse_segment_name(name: &str) -> Option<Result<SegmentName, NameError>> {
    let stem = name.strip_suffix(".parquet")?;
    let Some(rest) = stem.strip_prefix('v') else {
        return Some(Err(NameError::Unrecognised));
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let Ok(format) = rest[..digits].parse::<u32>() else {
        return Some(Err(NameError::Unrecognised));
    };
    if format > FORMAT_VERSION {
        return Some(Err(NameError::Newer(format)));
    }
    let fields: Vec<&str> = rest[digits..].split('_').collect();
    let parsed = match fields.as_slice() {
        ["", min, max, pid, seq] if format == FORMAT_VERSION => {
            match (
                min.parse(),
                max.parse(),
                pid.parse::<u32>(),
                seq.parse::<u64>(),
            ) {
                (Ok(min_ts), Ok(max_ts), Ok(_), Ok(_)) => Ok(SegmentName {
                    format,
                    min_ts,
                    max_ts,
                }),
                _ => Err(NameError::Unrecognised),
            }
        }
        _ => Err(NameError::Unrecognised),
    };
    Some(parsed)
}

/// Columnar buffers of one kind of segment: rows appended by the writer, taken out as a frame
/// one row group at a time.
pub trait Buffers {
    /// Rows buffered since the last [`Buffers::take_frame`].
    fn rows(&self) -> usize;
    /// The buffered rows as a frame of [`Buffers::schema`]; the buffers are empty afterwards.
    fn take_frame(&mut self) -> PolarsResult<DataFrame>;
    /// The segment's columns.
    fn schema(&self) -> &Schema;
}

/// Rows that were accepted but will not reach a complete segment, and why.
#[derive(Debug)]
pub struct WriteFailure {
    pub lost_rows: usize,
    pub message: String,
}

/// The temporary file of a segment being written, and its Parquet writer.
struct OpenFile {
    tmp: TempFile,
    writer: polars::io::parquet::write::BatchedWriter<BufWriter<File>>,
}

/// A segment being filled.
pub struct Segment<B: Buffers> {
    pub buffers: B,
    file: Option<OpenFile>,
    /// When the first row arrived (rotation by age).
    pub opened: Instant,
    min_ts: i64,
    max_ts: i64,
    /// Rows in row groups already written to the temporary file.
    rows_in_file: usize,
    /// Total rows (in the file and buffered).
    pub rows: usize,
    metadata: Vec<(String, String)>,
}

impl<B: Buffers> Segment<B> {
    pub fn new(buffers: B, metadata: Vec<(String, String)>, now: Instant) -> Self {
        Segment {
            buffers,
            file: None,
            opened: now,
            min_ts: i64::MAX,
            max_ts: i64::MIN,
            rows_in_file: 0,
            rows: 0,
            metadata,
        }
    }

    /// Records that `rows` rows with timestamp `ts` were appended to the buffers.
    pub fn appended(&mut self, rows: usize, ts: i64) {
        self.rows += rows;
        self.min_ts = self.min_ts.min(ts);
        self.max_ts = self.max_ts.max(ts);
    }

    /// Writes the buffered rows to the temporary file as one row group, creating the file
    /// (and `dir`, if it went missing) first. On failure the segment is done for: its
    /// temporary file is removed, every row in it counts as lost, and the caller drops it.
    pub fn flush(&mut self, dir: &Path) -> Result<(), WriteFailure> {
        if self.buffers.rows() == 0 {
            return Ok(());
        }
        if let Err(message) = self.write_row_group(dir) {
            // Dropping the temporary file removes it.
            self.file = None;
            return Err(WriteFailure {
                lost_rows: self.rows,
                message,
            });
        }
        Ok(())
    }

    fn write_row_group(&mut self, dir: &Path) -> Result<(), String> {
        let frame = self
            .buffers
            .take_frame()
            .map_err(|e| format!("cannot build a row group: {e}"))?;
        if self.file.is_none() {
            self.file = Some(self.create(dir)?);
        }
        let Some(open) = self.file.as_mut() else {
            return Err("no open segment file".into());
        };
        open.writer
            .write_batch(&frame)
            .map_err(|e| format!("cannot write a segment in {}: {}", dir.display(), e))?;
        self.rows_in_file += frame.height();
        Ok(())
    }

    fn create(&self, dir: &Path) -> Result<OpenFile, String> {
        let cannot = |e: io::Error| format!("cannot create a segment in {}: {e}", dir.display());
        let mut tmp = match TempFile::new_in(dir, 0o644) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir).map_err(cannot)?;
                TempFile::new_in(dir, 0o644).map_err(cannot)?
            }
            other => other.map_err(cannot)?,
        };
        let handle = tmp.file().try_clone().map_err(cannot)?;
        let writer = ParquetWriter::new(BufWriter::with_capacity(256 * 1024, handle))
            .set_parallel(false)
            .with_key_value_metadata(Some(KeyValueMetadata::from_static(self.metadata.clone())))
            .batched(self.buffers.schema())
            .map_err(|e| format!("cannot start a segment in {}: {e}", dir.display()))?;
        Ok(OpenFile { tmp, writer })
    }

    /// Writes what is buffered, the footer, fsyncs and renames the segment into place. Returns
    /// the rows it holds (0: nothing was written, no file).
    pub fn finish(mut self, dir: &Path) -> Result<(usize, Option<PathBuf>), WriteFailure> {
        self.flush(dir)?;
        let Some(open) = self.file.take() else {
            return Ok((0, None));
        };
        let rows = self.rows_in_file;
        let fail = |message: String| WriteFailure {
            lost_rows: rows,
            message,
        };
        let OpenFile { mut tmp, writer } = open;
        writer.finish().map_err(|e| {
            fail(format!(
                "cannot complete a segment in {}: {}",
                dir.display(),
                e
            ))
        })?;
        drop(writer);
        tmp.sync()
            .map_err(|e| fail(format!("cannot sync a segment in {}: {e}", dir.display())))?;
        let dest = dir.join(segment_name(self.min_ts, self.max_ts));
        tmp.persist(&dest).map_err(|e| {
            fail(format!(
                "cannot rename a segment into {}: {e}",
                dest.display()
            ))
        })?;
        // The rename is durable once the directory is synced; the segment is complete either
        // way, so a failure here is not a loss.
        let _ = sync_dir(dir);
        Ok((rows, Some(dest)))
    }

    /// For tests: stops as a killed process would, leaving the temporary file as it is.
    #[cfg(test)]
    pub fn abandon(mut self) {
        if let Some(open) = self.file.take() {
            std::mem::forget(open);
        }
    }
}

/// Removes temporary files left in `dir` by writers that are gone (a process that was killed
/// with a segment open): `<pid>-<n>.tmp` whose process no longer runs. Best effort.
pub fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return;
    }
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(pid) = name
            .strip_suffix(".tmp")
            .and_then(|stem| stem.split_once('-'))
            .and_then(|(pid, n)| n.parse::<u64>().ok().and(pid.parse::<u32>().ok()))
        else {
            continue;
        };
        if pid != std::process::id() && !proc.join(pid.to_string()).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
