//! The writer: a cheap, cloneable handle that queues batches, and one background thread that
//! buffers them per segment and writes the segments.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::FEEDBACK_DIR;
use crate::batch::{DropReason, Dropped, FeedbackBatch, PredictionBatch, ValueKind};
use crate::buffers::{FeedbackBuffers, PredictionBuffers, PredictionSchema};
use crate::segment::{Buffers, Segment, WriteFailure, remove_stale_temporaries};

/// The most rows a row group holds: the writer's buffers hold at most this many rows per open
/// segment before they are written to the segment's temporary file.
pub const ROW_GROUP_ROWS: usize = 16_384;

/// How the log rotates and how much it queues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogOptions {
    /// A segment is completed once it holds at least this many rows (a request's rows are
    /// never split between segments).
    pub segment_rows: usize,
    /// A segment is completed at the latest this long after its first row arrived.
    pub segment_age: Duration,
    /// The most rows waiting for the writer; a batch that does not fit is dropped (so a
    /// batch of more rows than this is always dropped).
    pub queue_rows: usize,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            segment_rows: 100_000,
            segment_age: Duration::from_secs(60),
            queue_rows: 65_536,
        }
    }
}

/// What the log has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LogStats {
    /// Rows accepted and not yet taken by the writer (both kinds).
    pub queued_rows: u64,
    /// The most rows the queue holds ([`LogOptions::queue_rows`]).
    pub queue_capacity_rows: u64,
    pub predictions: KindStats,
    pub feedback: KindStats,
    /// Failed writes: creating, writing, completing or renaming a segment. Each one loses the
    /// rows of the segment it happened to (counted in `lost_rows`).
    pub write_errors: u64,
    /// What went wrong last, for the operator: a failed write, or a batch the writer refused
    /// (counted in `invalid_rows`).
    pub last_error: Option<String>,
}

/// The counts of one kind of rows. Every accepted row is queued, buffered, written or lost.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KindStats {
    /// Rows accepted into the queue.
    pub accepted_rows: u64,
    /// Rows refused because the queue was full or the log closed.
    pub dropped_rows: u64,
    /// Rows refused because their batch was malformed (a caller's bug).
    pub invalid_rows: u64,
    /// Rows taken by the writer and held in open segments (not yet readable).
    pub buffered_rows: u64,
    /// Rows in complete segments (readable).
    pub written_rows: u64,
    /// Rows accepted but lost to a write error.
    pub lost_rows: u64,
    /// Complete segments written.
    pub segments: u64,
}

/// Why the log cannot be opened or did not close cleanly.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("prediction log options: {0}")]
    Options(String),
    #[error("the prediction log directory {} does not end in a model name", path.display())]
    Dir { path: PathBuf },
    #[error("cannot start the prediction log writer: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("the prediction log writer stopped on an internal error")]
    WriterPanicked { stats: Box<LogStats> },
    #[error("{lost_rows} logged rows could not be written when the log closed: {message}")]
    Flush {
        lost_rows: u64,
        message: String,
        stats: Box<LogStats>,
    },
}

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    dropped: AtomicU64,
    invalid: AtomicU64,
    buffered: AtomicU64,
    written: AtomicU64,
    lost: AtomicU64,
    segments: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> KindStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        KindStats {
            accepted_rows: get(&self.accepted),
            dropped_rows: get(&self.dropped),
            invalid_rows: get(&self.invalid),
            buffered_rows: get(&self.buffered),
            written_rows: get(&self.written),
            lost_rows: get(&self.lost),
            segments: get(&self.segments),
        }
    }
}

/// State shared by the handles and the writer thread.
struct Shared {
    queued: AtomicUsize,
    capacity: usize,
    closed: AtomicBool,
    predictions: Counters,
    feedback: Counters,
    write_errors: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Shared {
    /// Counts a failed write.
    fn error(&self, message: String) {
        self.write_errors.fetch_add(1, Ordering::Relaxed);
        self.note(message);
    }

    /// Keeps the message of the last thing that went wrong.
    fn note(&self, message: String) {
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(message);
        }
    }

    fn stats(&self) -> LogStats {
        LogStats {
            queued_rows: self.queued.load(Ordering::Relaxed) as u64,
            queue_capacity_rows: self.capacity as u64,
            predictions: self.predictions.snapshot(),
            feedback: self.feedback.snapshot(),
            write_errors: self.write_errors.load(Ordering::Relaxed),
            last_error: self.last_error.lock().ok().and_then(|l| l.clone()),
        }
    }

    /// Reserves room for `rows` in the queue, or says why not.
    fn reserve(&self, rows: usize) -> Result<(), DropReason> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(DropReason::Closed);
        }
        let mut current = self.queued.load(Ordering::Relaxed);
        loop {
            if current.saturating_add(rows) > self.capacity {
                return Err(DropReason::QueueFull);
            }
            match self.queued.compare_exchange_weak(
                current,
                current + rows,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(now) => current = now,
            }
        }
    }
}

enum Message {
    Predictions(PredictionBatch),
    Feedback(FeedbackBatch),
    Close,
    /// For tests: the writer blocks until the sender of the channel drops or sends, after
    /// saying so on the first channel.
    #[cfg(test)]
    Pause(mpsc::Sender<()>, Receiver<()>),
    /// For tests: the writer stops as a killed process would, leaving its temporary files.
    #[cfg(test)]
    Abort,
}

struct Inner {
    sender: Sender<Message>,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<Result<(), WriteFailure>>>>,
}

/// A model's prediction log, open for writing. Cloning gives another handle to the same log
/// (and writer thread). Dropped without [`PredictionLog::close`], the writer completes the open
/// segments in the background, which a process that exits right away does not wait for.
#[derive(Clone)]
pub struct PredictionLog {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PredictionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PredictionLog")
            .field("stats", &self.stats())
            .finish()
    }
}

impl PredictionLog {
    /// Opens the log in `dir` (`.cairn/predictions/NAME`; NAME, the registered model's name,
    /// goes in every row) and starts its writer thread. The directory is created when the
    /// first segment is written; one that cannot be written makes the writer count errors,
    /// not this call fail. Temporary files left by killed writers are removed.
    pub fn open(dir: &Path, options: &LogOptions) -> Result<PredictionLog, LogError> {
        if options.segment_rows == 0 {
            return Err(LogError::Options("segment_rows must be at least 1".into()));
        }
        if options.queue_rows == 0 {
            return Err(LogError::Options("queue_rows must be at least 1".into()));
        }
        if options.segment_age.is_zero() {
            return Err(LogError::Options(
                "segment_age must be longer than zero".into(),
            ));
        }
        let model = dir
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| LogError::Dir {
                path: dir.to_path_buf(),
            })?
            .to_owned();
        remove_stale_temporaries(dir);
        remove_stale_temporaries(&dir.join(FEEDBACK_DIR));
        let shared = Arc::new(Shared {
            queued: AtomicUsize::new(0),
            capacity: options.queue_rows,
            closed: AtomicBool::new(false),
            predictions: Counters::default(),
            feedback: Counters::default(),
            write_errors: AtomicU64::new(0),
            last_error: Mutex::new(None),
        });
        let (sender, receiver) = mpsc::channel();
        let writer = Writer {
            dir: dir.to_path_buf(),
            feedback_dir: dir.join(FEEDBACK_DIR),
            model,
            row_group: ROW_GROUP_ROWS.min(options.segment_rows),
            options: options.clone(),
            shared: shared.clone(),
            predictions: Vec::new(),
            feedback: Vec::new(),
        };
        let thread = std::thread::Builder::new()
            .name("cairn-predlog".into())
            .spawn(move || writer.run(receiver))
            .map_err(LogError::Spawn)?;
        Ok(PredictionLog {
            inner: Arc::new(Inner {
                sender,
                shared,
                thread: Mutex::new(Some(thread)),
            }),
        })
    }

    /// Queues a request's rows for the writer. Never blocks: when the queue is full (or the log
    /// is closed, or the batch is malformed) the batch is dropped, counted and returned as
    /// [`Dropped`]. A batch without rows is accepted and ignored.
    pub fn log(&self, batch: PredictionBatch) -> Result<(), Dropped> {
        let rows = batch.rows();
        let counters = &self.inner.shared.predictions;
        if let Err(reason) = batch.check() {
            counters.invalid.fetch_add(rows as u64, Ordering::Relaxed);
            return Err(Dropped {
                rows,
                reason: DropReason::Invalid(reason),
            });
        }
        if rows == 0 {
            return Ok(());
        }
        self.send(rows, counters, Message::Predictions(batch))
    }

    /// Queues feedback labels for the writer; never blocks, as [`PredictionLog::log`].
    pub fn feedback(&self, batch: FeedbackBatch) -> Result<(), Dropped> {
        let rows = batch.records.len();
        if rows == 0 {
            return Ok(());
        }
        self.send(rows, &self.inner.shared.feedback, Message::Feedback(batch))
    }

    fn send(&self, rows: usize, counters: &Counters, message: Message) -> Result<(), Dropped> {
        let shared = &self.inner.shared;
        let refused = |reason: DropReason| {
            counters.dropped.fetch_add(rows as u64, Ordering::Relaxed);
            Err(Dropped { rows, reason })
        };
        if let Err(reason) = shared.reserve(rows) {
            return refused(reason);
        }
        if self.inner.sender.send(message).is_err() {
            shared.queued.fetch_sub(rows, Ordering::AcqRel);
            return refused(DropReason::Closed);
        }
        counters.accepted.fetch_add(rows as u64, Ordering::Relaxed);
        Ok(())
    }

    /// The counts so far.
    pub fn stats(&self) -> LogStats {
        self.inner.shared.stats()
    }

    /// Stops accepting, writes everything queued and buffered, completes the open segments and
    /// stops the writer. Later `log` calls on other handles are refused as closed. The final
    /// stats are returned; `Err` when rows could not be written at this point (earlier write
    /// errors are only counted).
    pub fn close(self) -> Result<LogStats, LogError> {
        let shared = &self.inner.shared;
        shared.closed.store(true, Ordering::SeqCst);
        let _ = self.inner.sender.send(Message::Close);
        let handle = self
            .inner
            .thread
            .lock()
            .ok()
            .and_then(|mut thread| thread.take());
        let Some(handle) = handle else {
            // Another handle closed the log already.
            return Ok(shared.stats());
        };
        match handle.join() {
            Ok(Ok(())) => Ok(shared.stats()),
            Ok(Err(failure)) => Err(LogError::Flush {
                lost_rows: failure.lost_rows as u64,
                message: failure.message,
                stats: Box::new(shared.stats()),
            }),
            Err(_) => Err(LogError::WriterPanicked {
                stats: Box::new(shared.stats()),
            }),
        }
    }

    /// For tests: makes the writer wait until the returned sender sends or drops, once it has
    /// taken everything queued before. Returns when the writer waits.
    #[cfg(test)]
    pub(crate) fn pause(&self) -> mpsc::Sender<()> {
        let (paused_tx, paused_rx) = mpsc::channel();
        let (resume_tx, resume_rx) = mpsc::channel();
        let _ = self.inner.sender.send(Message::Pause(paused_tx, resume_rx));
        let _ = paused_rx.recv();
        resume_tx
    }

    /// For tests: stops the writer as a killed process would (nothing completed, temporary
    /// files left behind) and waits until it stopped.
    #[cfg(test)]
    pub(crate) fn abort(self) {
        let _ = self.inner.sender.send(Message::Abort);
        let handle = self
            .inner
            .thread
            .lock()
            .ok()
            .and_then(|mut thread| thread.take());
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

/// The writer thread's state.
struct Writer {
    dir: PathBuf,
    feedback_dir: PathBuf,
    model: String,
    row_group: usize,
    options: LogOptions,
    shared: Arc<Shared>,
    /// One open segment per model version (a canary serves two at once).
    predictions: Vec<Segment<PredictionBuffers>>,
    /// One open segment per kind of label.
    feedback: Vec<Segment<FeedbackBuffers>>,
}

/// Records, if the writer thread dies of a panic, that it did.
struct PanicGuard(Arc<Shared>);

impl Drop for PanicGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0
                .error("the prediction log writer stopped on an internal error".into());
        }
    }
}

enum Step {
    Continue,
    Stop,
    #[cfg(test)]
    Abort,
}

impl Writer {
    fn run(mut self, receiver: Receiver<Message>) -> Result<(), WriteFailure> {
        let _guard = PanicGuard(self.shared.clone());
        loop {
            let message = match self.next_deadline() {
                None => receiver.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(deadline) => {
                    receiver.recv_timeout(deadline.saturating_duration_since(Instant::now()))
                }
            };
            let step = match message {
                Ok(message) => self.handle(message),
                Err(RecvTimeoutError::Timeout) => Step::Continue,
                Err(RecvTimeoutError::Disconnected) => Step::Stop,
            };
            match step {
                Step::Continue => self.complete_aged(Instant::now()),
                Step::Stop => break,
                #[cfg(test)]
                Step::Abort => {
                    for segment in self.predictions.drain(..) {
                        segment.abandon();
                    }
                    for segment in self.feedback.drain(..) {
                        segment.abandon();
                    }
                    return Ok(());
                }
            }
        }
        // Whatever raced in after the close is refused, as later calls are.
        while let Ok(message) = receiver.try_recv() {
            let (rows, counters) = match &message {
                Message::Predictions(b) => (b.rows(), &self.shared.predictions),
                Message::Feedback(b) => (b.records.len(), &self.shared.feedback),
                _ => continue,
            };
            self.shared.queued.fetch_sub(rows, Ordering::AcqRel);
            counters.accepted.fetch_sub(rows as u64, Ordering::Relaxed);
            counters.dropped.fetch_add(rows as u64, Ordering::Relaxed);
        }
        self.complete_all()
    }

    fn handle(&mut self, message: Message) -> Step {
        match message {
            Message::Predictions(batch) => {
                self.shared.queued.fetch_sub(batch.rows(), Ordering::AcqRel);
                self.predictions(batch);
            }
            Message::Feedback(batch) => {
                self.shared
                    .queued
                    .fetch_sub(batch.records.len(), Ordering::AcqRel);
                self.feedback(&batch);
            }
            Message::Close => return Step::Stop,
            #[cfg(test)]
            Message::Pause(paused, resume) => {
                let _ = paused.send(());
                let _ = resume.recv();
            }
            #[cfg(test)]
            Message::Abort => return Step::Abort,
        }
        Step::Continue
    }

    /// The earliest moment an open segment is due for completion by age.
    fn next_deadline(&self) -> Option<Instant> {
        let age = self.options.segment_age;
        self.predictions
            .iter()
            .map(|s| s.opened)
            .chain(self.feedback.iter().map(|s| s.opened))
            .min()
            .map(|opened| opened + age)
    }

    fn predictions(&mut self, batch: PredictionBatch) {
        let rows = batch.rows();
        let counters = &self.shared.predictions;
        let now = Instant::now();
        let mut index = self
            .predictions
            .iter()
            .position(|s| s.buffers.schema().version == batch.version);
        // The same version with another schema (another artifact under the version number, a
        // caller that changed its inputs): complete the segment and start another.
        if let Some(i) = index
            && !self.predictions[i].buffers.schema().matches(&batch)
        {
            let segment = self.predictions.swap_remove(i);
            complete(segment, &self.dir, &self.shared, counters);
            index = None;
        }
        let i = match index {
            Some(i) => i,
            None => match PredictionBuffers::new(
                PredictionSchema::of(&batch),
                &self.model,
                self.row_group,
            ) {
                Ok(buffers) => {
                    let metadata = buffers.metadata();
                    self.predictions.push(Segment::new(buffers, metadata, now));
                    self.predictions.len() - 1
                }
                Err(reason) => {
                    counters.accepted.fetch_sub(rows as u64, Ordering::Relaxed);
                    counters.invalid.fetch_add(rows as u64, Ordering::Relaxed);
                    self.shared.note(format!(
                        "a batch of model version {} was refused: {reason}",
                        batch.version
                    ));
                    return;
                }
            },
        };
        let ts = batch.ts_us;
        let segment = &mut self.predictions[i];
        segment.buffers.append(batch);
        segment.appended(rows, ts);
        counters.buffered.fetch_add(rows as u64, Ordering::Relaxed);
        if segment.rows >= self.options.segment_rows {
            let segment = self.predictions.swap_remove(i);
            complete(segment, &self.dir, &self.shared, counters);
        } else if segment.buffers.rows() >= self.row_group
            && let Err(failure) = segment.flush(&self.dir)
        {
            lost(failure, &self.shared, counters);
            self.predictions.swap_remove(i);
        }
    }

    fn feedback(&mut self, batch: &FeedbackBatch) {
        let counters = &self.shared.feedback;
        let now = Instant::now();
        for kind in [ValueKind::Number, ValueKind::Text] {
            if !batch.records.iter().any(|r| r.label.kind() == kind) {
                continue;
            }
            let i = match self.feedback.iter().position(|s| s.buffers.kind() == kind) {
                Some(i) => i,
                None => {
                    let buffers = FeedbackBuffers::new(kind, &self.model, self.row_group);
                    let metadata = buffers.metadata();
                    self.feedback.push(Segment::new(buffers, metadata, now));
                    self.feedback.len() - 1
                }
            };
            let segment = &mut self.feedback[i];
            let rows = segment.buffers.append(batch);
            segment.appended(rows, batch.ts_us);
            counters.buffered.fetch_add(rows as u64, Ordering::Relaxed);
            if segment.rows >= self.options.segment_rows {
                let segment = self.feedback.swap_remove(i);
                complete(segment, &self.feedback_dir, &self.shared, counters);
            } else if segment.buffers.rows() >= self.row_group
                && let Err(failure) = segment.flush(&self.feedback_dir)
            {
                lost(failure, &self.shared, counters);
                self.feedback.swap_remove(i);
            }
        }
    }

    /// Completes the segments opened at least `segment_age` ago.
    fn complete_aged(&mut self, now: Instant) {
        let age = self.options.segment_age;
        let due = |opened: Instant| now.saturating_duration_since(opened) >= age;
        let mut i = 0;
        while i < self.predictions.len() {
            if due(self.predictions[i].opened) {
                let segment = self.predictions.swap_remove(i);
                complete(segment, &self.dir, &self.shared, &self.shared.predictions);
            } else {
                i += 1;
            }
        }
        let mut i = 0;
        while i < self.feedback.len() {
            if due(self.feedback[i].opened) {
                let segment = self.feedback.swap_remove(i);
                complete(
                    segment,
                    &self.feedback_dir,
                    &self.shared,
                    &self.shared.feedback,
                );
            } else {
                i += 1;
            }
        }
    }

    /// Completes every open segment; the last failure, if any.
    fn complete_all(&mut self) -> Result<(), WriteFailure> {
        let mut failure: Option<WriteFailure> = None;
        let mut note = |f: Option<WriteFailure>| {
            if let Some(f) = f {
                failure = Some(match failure.take() {
                    Some(before) => WriteFailure {
                        lost_rows: before.lost_rows + f.lost_rows,
                        message: f.message,
                    },
                    None => f,
                });
            }
        };
        for segment in self.predictions.drain(..) {
            note(complete(
                segment,
                &self.dir,
                &self.shared,
                &self.shared.predictions,
            ));
        }
        for segment in self.feedback.drain(..) {
            note(complete(
                segment,
                &self.feedback_dir,
                &self.shared,
                &self.shared.feedback,
            ));
        }
        failure.map_or(Ok(()), Err)
    }
}

/// Completes a segment and counts the outcome; the failure, if it failed.
fn complete<B: Buffers>(
    segment: Segment<B>,
    dir: &Path,
    shared: &Shared,
    counters: &Counters,
) -> Option<WriteFailure> {
    let rows = segment.rows as u64;
    match segment.finish(dir) {
        Ok((written, path)) => {
            counters.buffered.fetch_sub(rows, Ordering::Relaxed);
            counters
                .written
                .fetch_add(written as u64, Ordering::Relaxed);
            if path.is_some() {
                counters.segments.fetch_add(1, Ordering::Relaxed);
            }
            None
        }
        Err(failure) => {
            // `finish` loses every row of the segment when it fails.
            counters.buffered.fetch_sub(rows, Ordering::Relaxed);
            counters
                .lost
                .fetch_add(failure.lost_rows as u64, Ordering::Relaxed);
            shared.error(failure.message.clone());
            Some(failure)
        }
    }
}

/// Counts a segment lost while it was being written.
fn lost(failure: WriteFailure, shared: &Shared, counters: &Counters) {
    counters
        .buffered
        .fetch_sub(failure.lost_rows as u64, Ordering::Relaxed);
    counters
        .lost
        .fetch_add(failure.lost_rows as u64, Ordering::Relaxed);
    shared.error(failure.message);
}
