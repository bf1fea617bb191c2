//! Sorting a view into its offline table within a memory budget.
//!
//! The offline table is a view's rows sorted by join keys, event time and created time
//! (stable: ties keep the source's order). polars sorts in memory, even on its streaming
//! engine (0.55's streaming `Sort` collects its input), so a view larger than memory cannot be
//! sorted that way. When the view may not fit, materialize spills it instead and sorts it by
//! range partitioning (a bucket sort on disk):
//!
//! 1. the view's rows, unsorted, are streamed into a temporary Parquet file;
//! 2. its row count and the in-memory size of its first rows tell how many buckets of a
//!    sixth of the budget each the rows need (a sort holds its input, its sort keys and its
//!    output, and the reader and the writer their buffers: measured, about four times the
//!    bucket at a 256 MiB budget);
//! 3. a sample of the sort keys (every n-th row), sorted, gives the bucket boundaries: sort-key
//!    tuples, so that a heavy entity is split by event time like any other range;
//! 4. each bucket — the rows above one boundary and at most the next — is read back from the
//!    temporary file, sorted in memory and written to its own temporary file, in order;
//! 5. the buckets' files, scanned in order, are streamed into the store.
//!
//! Filtering and concatenating keep the rows' relative order, so ties come out as an in-memory
//! stable sort leaves them; and the Parquet writer cuts row groups of exactly
//! [`ROW_GROUP_ROWS`] rows whatever the batches it receives. So the spilled table has the same
//! bytes, and the same digest in `cairn.lock`, as the table sorted in memory: the budget is a
//! setting of the machine, never a part of the result (tested).
//!
//! What stays in memory: one bucket, the sample (a few thousand rows a bucket) and polars'
//! read-ahead. A single sort-key tuple repeated more than a bucket's worth of rows cannot be
//! split and is sorted in one piece.

use std::fs::File;
use std::sync::{Arc, Mutex};

use cairn_store::{Put, Store};
use polars::prelude::*;

use crate::FeatureError;

/// Rows in each row group of an offline table (the last one has fewer): polars' streaming
/// default, cut exactly so that the file does not depend on how the rows arrive. The crate's
/// own tests cut groups of 1,000, so that their small tables span many groups and the
/// comparisons of spilled and in-memory tables check that the cut does not move.
pub(crate) const ROW_GROUP_ROWS: usize = if cfg!(test) { 1_000 } else { 122_880 };
/// Sampled rows per bucket for the boundaries.
const SAMPLE_PER_BUCKET: usize = 4_096;
/// Rows read to estimate a row's size in memory.
const SIZE_PROBE_ROWS: usize = 65_536;

/// How the sort may use memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sorting {
    /// In memory, as one polars sort.
    InMemory,
    /// Spilled through temporary files in buckets that fit `budget` bytes.
    Spill { budget: u64 },
}

/// How a table was sorted, for the outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SortReport {
    /// Buckets sorted one after another (0: sorted in memory without spilling).
    pub buckets: usize,
}

/// Writes `table` sorted by `order` (stable) into a new Parquet object of `store` (not
/// synced). `polars` names the view in polars' errors.
pub(crate) fn sink_sorted(
    store: &Store,
    table: LazyFrame,
    order: &[String],
    sorting: Sorting,
    polars: &dyn Fn(PolarsError) -> FeatureError,
) -> Result<(Put, SortReport), FeatureError> {
    let sorted = |table: LazyFrame| {
        table.sort(
            order.to_vec(),
            SortMultipleOptions::default().with_maintain_order(true),
        )
    };
    let budget = match sorting {
        Sorting::InMemory => {
            let put = sink_object(store, sorted(table))?.map_err(polars)?;
            return Ok((put, SortReport::default()));
        }
        Sorting::Spill { budget } => budget.max(1),
    };
    let mut all = store.temp_object()?;
    sink_temp(&mut all, table).map_err(polars)?;
    let scan_all = || scan(all.path());
    let rows = count(scan_all().map_err(polars)?).map_err(polars)?;
    let probe = scan_all()
        .map_err(polars)?
        .slice(0, SIZE_PROBE_ROWS as IdxSize)
        .collect()
        .map_err(polars)?;
    let row_bytes = probe.estimated_size() as u64 / probe.height().max(1) as u64;
    let bucket_bytes = (budget / 6).max(1);
    let buckets = (rows.saturating_mul(row_bytes.max(1)))
        .div_ceil(bucket_bytes)
        .max(1);
    if buckets == 1 {
        let put = sink_object(store, sorted(scan_all().map_err(polars)?))?.map_err(polars)?;
        return Ok((put, SortReport { buckets: 1 }));
    }
    let bounds = boundaries(scan_all().map_err(polars)?, order, rows, buckets).map_err(polars)?;
    let mut files = Vec::with_capacity(bounds.len() + 1);
    for i in 0..=bounds.len() {
        let mut keep = lit(true);
        if i > 0 {
            keep = keep.and(above(order, &bounds[i - 1]));
        }
        if i < bounds.len() {
            keep = keep.and(above(order, &bounds[i]).not());
        }
        let mut file = store.temp_object()?;
        sink_temp(&mut file, sorted(scan_all().map_err(polars)?.filter(keep))).map_err(polars)?;
        files.push(file);
    }
    let paths: Vec<PlRefPath> = files
        .iter()
        .map(|f| PlRefPath::new(f.path().to_string_lossy().as_ref()))
        .collect();
    let buckets = files.len();
    let merged = LazyFrame::scan_parquet_sources(
        ScanSources::Paths(paths.into()),
        ScanArgsParquet::default(),
    )
    .map_err(polars)?;
    let put = sink_object(store, merged)?.map_err(polars)?;
    drop(files);
    drop(all);
    Ok((put, SortReport { buckets }))
}

/// Runs `table`'s query on the streaming engine into a new Parquet object (see
/// [`cairn_store::Store::put_written`]), row groups of [`ROW_GROUP_ROWS`] rows.
fn sink_object(
    store: &Store,
    table: LazyFrame,
) -> Result<Result<Put, PolarsError>, cairn_store::StoreError> {
    store.put_written(|file| {
        sink(
            file,
            table,
            ParquetWriteOptions {
                row_group_size: Some(ROW_GROUP_ROWS),
                ..ParquetWriteOptions::default()
            },
        )
    })
}

/// Streams `table` into a temporary file: compressed for speed (LZ4), read back once per
/// bucket.
fn sink_temp(file: &mut cairn_store::atomic::TempFile, table: LazyFrame) -> PolarsResult<()> {
    let handle = file.file().try_clone()?;
    sink(
        handle,
        table,
        ParquetWriteOptions {
            compression: ParquetCompression::Lz4Raw,
            row_group_size: Some(ROW_GROUP_ROWS),
            ..ParquetWriteOptions::default()
        },
    )
}

fn sink(file: File, table: LazyFrame, options: ParquetWriteOptions) -> PolarsResult<()> {
    let target = SinkTarget::Dyn(SpecialEq::new(Arc::new(Mutex::new(Some(
        polars::io::utils::file::Writable::Local(file),
    )))));
    table
        .sink(
            SinkDestination::File { target },
            FileWriteFormat::Parquet(Arc::new(options)),
            UnifiedSinkArgs {
                maintain_order: true,
                ..UnifiedSinkArgs::default()
            },
        )?
        .collect_with_engine(Engine::Streaming)
        .map(drop)
}

/// Scans a Parquet file (a temporary file of the sort, or an object of the store).
pub(crate) fn scan(path: &std::path::Path) -> PolarsResult<LazyFrame> {
    LazyFrame::scan_parquet(
        PlRefPath::new(path.to_string_lossy().as_ref()),
        ScanArgsParquet::default(),
    )
}

fn count(table: LazyFrame) -> PolarsResult<u64> {
    let counted = cairn_core::table::collect_streaming(table.select([len().alias("rows")]))?;
    Ok(counted
        .column("rows")?
        .get(0)?
        .extract::<u64>()
        .unwrap_or(0))
}

/// The sort-key tuples that cut `rows` rows into about `buckets` ranges of equal size: the
/// tuples of a sorted sample at even steps, without repeats (a bucket is the rows above one
/// boundary and at most the next).
fn boundaries(
    table: LazyFrame,
    order: &[String],
    rows: u64,
    buckets: u64,
) -> PolarsResult<Vec<Vec<Scalar>>> {
    const INDEX: &str = "__cairn_row";
    let wanted = buckets.saturating_mul(SAMPLE_PER_BUCKET as u64).max(1);
    let step = (rows / wanted).max(1);
    let sample = cairn_core::table::collect_streaming(
        table
            .select(order.iter().map(|c| col(c.as_str())).collect::<Vec<_>>())
            .with_row_index(INDEX, None)
            .filter((col(INDEX).cast(DataType::UInt64) % lit(step)).eq(lit(0u64)))
            .select(order.iter().map(|c| col(c.as_str())).collect::<Vec<_>>()),
    )?
    .sort(
        order.iter().map(String::as_str).collect::<Vec<_>>(),
        SortMultipleOptions::default().with_maintain_order(true),
    )?;
    let n = sample.height();
    let columns = order
        .iter()
        .map(|c| sample.column(c).map(|c| c.as_materialized_series().clone()))
        .collect::<PolarsResult<Vec<_>>>()?;
    let mut bounds: Vec<Vec<Scalar>> = Vec::new();
    for j in 1..buckets {
        let at = (j as usize * n / buckets as usize).min(n.saturating_sub(1));
        if n == 0 {
            break;
        }
        let tuple = columns
            .iter()
            .map(|s| {
                s.get(at)
                    .map(|v| Scalar::new(s.dtype().clone(), v.into_static()))
            })
            .collect::<PolarsResult<Vec<_>>>()?;
        if bounds.last() != Some(&tuple) {
            bounds.push(tuple);
        }
    }
    Ok(bounds)
}

/// Rows whose sort-key tuple is above `bound` in the sort's order (lexicographic, nulls
/// first: only the created time can be null, the rest of a view's keys are never).
fn above(order: &[String], bound: &[Scalar]) -> Expr {
    let mut expr: Option<Expr> = None;
    // Built from the last column outwards: above = greater(c0) | equal(c0) & above(c1..).
    for (column, value) in order.iter().zip(bound).rev() {
        let c = col(column.as_str());
        let (greater, equal) = if value.is_null() {
            (c.clone().is_not_null(), c.is_null())
        } else {
            let v = lit(value.clone());
            (
                c.clone().gt(v.clone()).fill_null(lit(false)),
                c.eq(v).fill_null(lit(false)),
            )
        };
        expr = Some(match expr {
            None => greater,
            Some(rest) => greater.or(equal.and(rest)),
        });
    }
    expr.unwrap_or(lit(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two text keys (one value of the first holding most rows), a time with ties and a
    /// created time that is often missing: sorted on disk in a budget far below the table,
    /// the object is the one sorted in memory, and every row is there.
    #[test]
    fn text_keys_heavy_values_and_missing_times_sort_on_disk_as_in_memory() {
        let n = 6_000usize;
        let region: Vec<&str> = (0..n)
            .map(|i| {
                if i % 4 != 0 {
                    "eu"
                } else {
                    ["us", "ap", ""][i % 3]
                }
            })
            .collect();
        let shop: Vec<String> = (0..n).map(|i| format!("s{}", (i * 7) % 13)).collect();
        let ts: Vec<i64> = (0..n).map(|i| ((i * 31) % 17) as i64).collect();
        let created: Vec<Option<i64>> = (0..n)
            .map(|i| (i % 5 != 0).then_some(((i * 11) % 3) as i64))
            .collect();
        let value: Vec<i64> = (0..n as i64).collect();
        let frame = df!(
            "region" => region,
            "shop" => shop,
            "ts" => ts,
            "created" => created,
            "value" => value,
        )
        .unwrap();
        let order: Vec<String> = ["region", "shop", "ts", "created"]
            .map(str::to_owned)
            .to_vec();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(".cairn")).unwrap();
        let polars = |e: PolarsError| FeatureError::Polars {
            view: "test".to_owned(),
            message: e.to_string(),
        };
        let (memory, report) = sink_sorted(
            &store,
            frame.clone().lazy(),
            &order,
            Sorting::InMemory,
            &polars,
        )
        .unwrap();
        assert_eq!(report.buckets, 0);
        let (disk, report) = sink_sorted(
            &store,
            frame.lazy(),
            &order,
            Sorting::Spill { budget: 40_000 },
            &polars,
        )
        .unwrap();
        assert!(report.buckets >= 5, "{report:?}");
        assert_eq!(disk.digest, memory.digest);
        let read = scan(&store.object_path(&disk.digest))
            .unwrap()
            .collect()
            .unwrap();
        assert_eq!(read.height(), n);
        // Sorted, and ties keep the input's order: `value` rises within equal keys.
        let text = |c: &str| -> Vec<Option<String>> {
            let column = read.column(c).unwrap().str().unwrap();
            column.iter().map(|v| v.map(str::to_owned)).collect()
        };
        let int = |c: &str| -> Vec<Option<i64>> {
            read.column(c).unwrap().i64().unwrap().iter().collect()
        };
        let (region, shop, ts, created, value) = (
            text("region"),
            text("shop"),
            int("ts"),
            int("created"),
            int("value"),
        );
        for i in 1..n {
            let key = |j: usize| (&region[j], &shop[j], ts[j], created[j]);
            assert!(key(i - 1) <= key(i), "row {i}");
            if key(i - 1) == key(i) {
                assert!(value[i - 1] < value[i], "row {i}");
            }
        }
    }
}
