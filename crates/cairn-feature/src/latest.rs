//! The latest row of each entity of a stored offline table, streamed: the table is sorted by
//! join keys, event time and created time, so an entity's latest row is the last of its run
//! of rows. The table is read by polars' streaming engine on a thread of its own, batch after
//! batch in order, and each batch's last rows of runs are handed out as online rows while the
//! next batch is read: the online store writes the first entities while the rest of the table
//! is still being read, and nothing but a batch and the rows not yet handed out is in memory
//! (a `group_by` over the whole table held every entity before the first was written).

use std::num::NonZeroUsize;
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use polars::prelude::*;

use crate::FeatureError;
use crate::materialize::online_rows;
use crate::online::NewRow;

/// Entities per batch handed out (a few in tests, so that they hand out many).
pub(crate) const ROW_BATCH: usize = if cfg!(test) { 5 } else { 10_000 };

/// Rows per batch read from the table (a few in tests, so that runs straddle batches).
const READ_BATCH: usize = if cfg!(test) { 7 } else { 65_536 };

/// The online rows of the latest row of each entity of a table sorted by `keys`, event time
/// and created time, [`ROW_BATCH`] at a time (see the module's documentation).
pub(crate) struct LatestRows<'a> {
    batches: Batches,
    keys: &'a [String],
    names: &'a [String],
    polars: Box<dyn Fn(PolarsError) -> FeatureError + Send + 'a>,
    /// The last row read: its entity's run may go on in the next batch.
    carry: Option<DataFrame>,
    /// Latest rows found, from `at` on not handed out yet.
    ready: Option<DataFrame>,
    at: usize,
    /// The table has been read to its end (or failed).
    done: bool,
    handed: u64,
}

impl<'a> LatestRows<'a> {
    /// Starts reading `table` (its columns: the keys, the times, the features `names`).
    pub(crate) fn start(
        table: LazyFrame,
        keys: &'a [String],
        names: &'a [String],
        polars: impl Fn(PolarsError) -> FeatureError + Send + 'a,
    ) -> Result<Self, FeatureError> {
        Ok(Self {
            batches: Batches::start(table).map_err(&polars)?,
            keys,
            names,
            polars: Box::new(polars),
            carry: None,
            ready: None,
            at: 0,
            done: false,
            handed: 0,
        })
    }

    /// The entities handed out so far: all of the table's once the iterator ended.
    pub(crate) fn entities(&self) -> u64 {
        self.handed
    }

    fn pending(&self) -> usize {
        self.ready.as_ref().map_or(0, |r| r.height() - self.at)
    }

    /// Takes in the next batch read: the rows that end a run (but the batch's last row, whose
    /// run may go on) join the ready ones; the last row is carried to the next batch.
    fn take(&mut self, batch: DataFrame) -> PolarsResult<()> {
        let rows = match self.carry.take() {
            Some(mut carry) => {
                carry.vstack_mut(&batch)?;
                carry
            }
            None => batch,
        };
        let height = rows.height();
        if height == 0 {
            return Ok(());
        }
        let ends = last_of_runs(&rows, self.keys)?;
        let ended = rows
            .slice(0, height - 1)
            .filter(&ends.slice(0, height - 1))?;
        self.carry = Some(rows.slice(height as i64 - 1, 1));
        self.push_ready(ended)
    }

    fn push_ready(&mut self, rows: DataFrame) -> PolarsResult<()> {
        let rest = match self.ready.take() {
            Some(ready) if ready.height() > self.at => {
                let mut rest = ready.slice(self.at as i64, ready.height() - self.at);
                rest.vstack_mut(&rows)?;
                rest
            }
            _ => rows,
        };
        self.ready = Some(rest);
        self.at = 0;
        Ok(())
    }
}

impl Iterator for LatestRows<'_> {
    type Item = Result<Vec<NewRow>, FeatureError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let pending = self.pending();
            if pending >= ROW_BATCH || (self.done && pending > 0) {
                let n = pending.min(ROW_BATCH);
                let ready = self.ready.as_ref()?;
                let slice = ready.slice(self.at as i64, n);
                self.at += n;
                self.handed += n as u64;
                return Some(online_rows(&slice, self.keys, self.names).map_err(&self.polars));
            }
            if self.done {
                return None;
            }
            let taken = match self.batches.next() {
                Some(Ok(batch)) => self.take(batch),
                Some(Err(e)) => Err(e),
                None => {
                    self.done = true;
                    match self.carry.take() {
                        Some(last) => self.push_ready(last),
                        None => Ok(()),
                    }
                }
            };
            if let Err(e) = taken {
                self.done = true;
                self.ready = None;
                return Some(Err((self.polars)(e)));
            }
        }
    }
}

/// Whether each row is the last of its run of equal keys: its keys differ from the next
/// row's (the last row's from nothing). Without keys every row is one entity's.
fn last_of_runs(rows: &DataFrame, keys: &[String]) -> PolarsResult<BooleanChunked> {
    let mut ends: Option<BooleanChunked> = None;
    for key in keys {
        let column = rows.column(key)?.as_materialized_series();
        let differs = column.not_equal_missing(&column.shift(-1))?;
        ends = Some(match ends {
            Some(ends) => &ends | &differs,
            None => differs,
        });
    }
    Ok(ends.unwrap_or_else(|| {
        let mut ends = vec![false; rows.height()];
        if let Some(last) = ends.last_mut() {
            *last = true;
        }
        BooleanChunked::from_slice("ends".into(), &ends)
    }))
}

/// A query's result batches, in order, as polars' streaming engine makes them on a thread of
/// its own; the channel holds one batch, so the query reads ahead by one batch only. Dropped
/// early, the query stops at its next batch, and the drop waits for it.
struct Batches {
    recv: Option<Receiver<PolarsResult<DataFrame>>>,
    thread: Option<JoinHandle<()>>,
}

impl Batches {
    fn start(query: LazyFrame) -> PolarsResult<Self> {
        let (send, recv) = sync_channel(1);
        let failed = send.clone();
        // The callback answers whether to stop: when nobody takes the batches any more.
        let sink = query.sink_batches(
            PlanCallback::new(move |batch| Ok(send.send(Ok(batch)).is_err())),
            true,
            NonZeroUsize::new(READ_BATCH),
        )?;
        let thread = std::thread::Builder::new()
            .name("cairn-latest".into())
            .spawn(move || {
                if let Err(e) = sink.collect_with_engine(Engine::Streaming) {
                    failed.send(Err(e)).ok();
                }
            })
            .map_err(|e| PolarsError::ComputeError(format!("cannot start a thread: {e}").into()))?;
        Ok(Self {
            recv: Some(recv),
            thread: Some(thread),
        })
    }
}

impl Iterator for Batches {
    type Item = PolarsResult<DataFrame>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.recv.as_ref()?.recv() {
            Ok(batch) => Some(batch),
            // The query ended: its thread returns, unless it panicked, which must not pass
            // for the end of the table.
            Err(_) => match self.thread.take()?.join() {
                Ok(()) => None,
                Err(_) => Some(Err(PolarsError::ComputeError(
                    "the reader of the table stopped before its end (it panicked)".into(),
                ))),
            },
        }
    }
}

impl Drop for Batches {
    fn drop(&mut self) {
        drop(self.recv.take());
        if let Some(thread) = self.thread.take() {
            thread.join().ok();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::TS;

    /// Entities `(a, b)` in key order with runs of 1 to 17 rows (some shorter than a read
    /// batch, some longer, some straddling two): `a` alone does not tell two entities apart.
    fn table() -> (DataFrame, Vec<(String, i64, Option<String>)>) {
        let (mut a, mut b, mut ts, mut x) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut want = Vec::new();
        let mut t = 0i64;
        for entity in 0..40i64 {
            let run = 1 + (entity * 7) % 17;
            for i in 0..run {
                t += 1;
                a.push(entity / 3);
                b.push(format!("k{}", entity % 3));
                ts.push(t);
                x.push((i % 4 != 3).then_some(t as f64 / 2.0));
            }
            let key = format!("[{},\"k{}\"]", entity / 3, entity % 3);
            let value = x
                .last()
                .copied()
                .flatten()
                .map(|v| serde_json::Number::from_f64(v).unwrap().to_string());
            want.push((key, t, value));
        }
        let frame = df!("a" => a, "b" => b, TS => ts, "x" => x).unwrap();
        (frame, want)
    }

    fn latest(frame: DataFrame) -> Vec<(String, i64, Option<String>)> {
        let keys = ["a".to_owned(), "b".to_owned()];
        let names = ["x".to_owned()];
        let rows = LatestRows::start(frame.lazy(), &keys, &names, |e| FeatureError::Polars {
            view: "v".into(),
            message: e.to_string(),
        })
        .unwrap();
        let mut out = Vec::new();
        let mut handed = 0;
        let mut rows = rows;
        for batch in rows.by_ref() {
            let batch = batch.unwrap();
            assert!(batch.len() <= ROW_BATCH);
            handed += batch.len();
            out.extend(
                batch
                    .into_iter()
                    .map(|r| (r.key, r.event_us, r.values.into_iter().next().flatten())),
            );
        }
        assert_eq!(rows.entities(), handed as u64);
        out
    }

    #[test]
    fn the_last_row_of_each_entity_is_found_across_read_batches() {
        let (frame, want) = table();
        let batches = Batches::start(frame.clone().lazy()).unwrap().count();
        assert!(batches > 10, "read in {batches} batches");
        assert_eq!(latest(frame), want);
    }

    #[test]
    fn a_table_without_rows_has_no_latest_rows() {
        let (frame, _) = table();
        assert!(latest(frame.slice(0, 0)).is_empty());
        let (frame, want) = table();
        assert_eq!(
            latest(frame.slice(0, 1)),
            [(want[0].0.clone(), 1, Some("0.5".into()))]
        );
    }
}
