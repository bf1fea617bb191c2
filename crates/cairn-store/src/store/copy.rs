//! Copying a file while it is hashed: one read of the page cache per consumer, the copy in
//! the kernel.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::Digest;
use crate::atomic::TempFile;
use crate::hash::hash_file;

/// Large files are copied in chunks of this size so that a copy can stop early when the hash
/// shows the object is already stored.
const COPY_CHUNK: u64 = 64 << 20;

/// Copies `src` (the file at `path`, `len` bytes) into `dest` in the kernel
/// (`copy_file_range`) while hashing it on a memory map with all cores, so each byte is read
/// from the page cache once per consumer and written once. With `also`, a second copy goes
/// there at the same time, on a thread of its own. Returns the hash and the number of bytes
/// copied to each destination. The copies stop early when `stop(digest, size)` says the
/// result is not needed; with `writeback`, the data copied to `dest` starts going to disk
/// during the copy, so a later sync has little left to do.
pub(crate) fn copy_while_hashing(
    src: &File,
    path: &Path,
    len: u64,
    dest: &mut TempFile,
    also: Option<&mut TempFile>,
    writeback: bool,
    stop: impl Fn(&Digest, u64) -> bool,
) -> (io::Result<(Digest, u64)>, io::Result<u64>, io::Result<u64>) {
    dest.preallocate(len);
    let mut also = also;
    if let Some(also) = &mut also {
        also.preallocate(len);
    }
    let cancel = &AtomicBool::new(false);
    let flush_handle = if writeback {
        dest.file().try_clone().ok()
    } else {
        None
    };
    std::thread::scope(|scope| {
        let (chunk_done, chunks) = std::sync::mpsc::channel::<()>();
        if let Some(flush_handle) = flush_handle {
            scope.spawn(move || {
                while chunks.recv().is_ok() {
                    // Collapse a backlog into one flush; a failure here only costs speed (the
                    // batch sync reports real errors).
                    while chunks.try_recv().is_ok() {}
                    let _ = flush_handle.sync_data();
                }
            });
        } else {
            drop(chunks);
        }
        // Copies `from` (its own file offset) to `to` in chunks until it ends or is cancelled.
        let copy = move |from: &File, to: &mut File, done: &dyn Fn()| -> io::Result<u64> {
            let mut total = 0;
            while !cancel.load(Ordering::Relaxed) {
                let n = io::copy(&mut from.take(COPY_CHUNK), to)?;
                if n == 0 {
                    break;
                }
                total += n;
                done();
            }
            Ok(total)
        };
        let copier = scope.spawn(move || {
            copy(src, dest.file(), &|| {
                let _ = chunk_done.send(());
            })
        });
        let second = also.map(|also| {
            scope.spawn(move || {
                let from = File::open(path)?;
                copy(&from, also.file(), &|| ())
            })
        });
        let hashed = hash_file(path, len);
        if let Ok((digest, size)) = &hashed
            && stop(digest, *size)
        {
            cancel.store(true, Ordering::Relaxed);
        }
        let joined = |handle: std::thread::ScopedJoinHandle<'_, io::Result<u64>>| {
            handle
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("copy thread panicked")))
        };
        let copied = joined(copier);
        let also = second.map_or(Ok(0), joined);
        (hashed, copied, also)
    })
}
