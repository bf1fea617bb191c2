use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::path::Path;

use crate::Progress;

/// The project's write lock (`.cairn/lock`): every command that changes the store, the lock
/// file or the workspace holds it, so concurrent cairn processes take turns instead of
/// interleaving. Readers (status, ls) do not need it. Released on drop, and by the kernel if
/// the process dies.
pub struct WriteGuard {
    file: File,
}

impl WriteGuard {
    pub fn acquire(cairn_dir: &Path, progress: &dyn Progress) -> io::Result<Self> {
        let path = cairn_dir.join("lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() {
                    "another cairn process".to_string()
                } else {
                    format!("another cairn process ({holder})")
                };
                progress.waiting_for_lock(&holder);
                file.lock()?;
            }
            Err(TryLockError::Error(e)) => return Err(e),
        }
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "pid {}", std::process::id())?;
        Ok(Self { file })
    }
}

impl Drop for WriteGuard {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}
