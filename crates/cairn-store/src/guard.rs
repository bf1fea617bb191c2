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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Progress for Recorder {
        fn waiting_for_lock(&self, holder: &str) {
            self.0.lock().unwrap().push(holder.to_string());
        }
    }

    #[test]
    fn a_second_writer_waits_and_says_for_whom() {
        let dir = tempfile::tempdir().unwrap();
        let first = WriteGuard::acquire(dir.path(), &Recorder::default()).unwrap();
        let recorder = Recorder::default();
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| WriteGuard::acquire(dir.path(), &recorder).map(drop));
            std::thread::sleep(Duration::from_millis(200));
            assert!(!waiter.is_finished(), "the second writer must wait");
            drop(first);
            waiter.join().unwrap().unwrap();
        });
        let said = recorder.0.lock().unwrap();
        assert_eq!(said.len(), 1);
        assert!(
            said[0].contains(&format!("pid {}", std::process::id())),
            "{said:?}"
        );
    }
}
