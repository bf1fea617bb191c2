/// How a long operation reports what it is doing. Libraries call it; only the binary draws
/// (with indicatif, on stderr). Every method has a no-op default.
pub trait Progress: Send + Sync {
    /// A new phase starts, with the number of files and bytes it will process (0 if unknown).
    fn start(&self, _phase: &str, _files: u64, _bytes: u64) {}
    /// Some files and bytes of the current phase are done.
    fn advance(&self, _files: u64, _bytes: u64) {}
    /// The current phase is over.
    fn finish(&self) {}
    /// The operation waits for another cairn process that holds the project's write lock.
    fn waiting_for_lock(&self, _holder: &str) {}
}

/// A [`Progress`] that reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {}
