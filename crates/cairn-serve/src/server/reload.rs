//! Hot reload: a thread that checks `cairn.lock` every poll (its size, modification time and
//! inode; its BLAKE3 digest when they changed) and, on a change or on SIGHUP, resolves the
//! served references again, loads the versions that changed beside the ones being served,
//! and swaps the new set in with one atomic store. Requests in flight keep the set they
//! loaded; none fails because of a swap.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, SystemTime};

use cairn_core::{Lock, Project};

use super::models::{Wanted, load_set};
use super::{App, Event};

pub(crate) enum Signal {
    /// SIGHUP: resolve and load again, whether the lock changed or not.
    Reload,
}

/// What identifies a version of the lock file cheaply.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

fn stamp(path: &std::path::Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        len: meta.len(),
        modified: meta.modified().ok(),
        inode: meta.ino(),
    })
}

/// Starts the reload thread; it ends when `signals`' sender is dropped.
pub(crate) fn spawn(
    app: Arc<App>,
    project: Arc<Project>,
    wanted: Wanted,
    watch_lock: bool,
    poll: Duration,
    signals: Receiver<Signal>,
) {
    let path = project.lock_path();
    let mut last_stamp = stamp(&path);
    let mut last_digest = std::fs::read(&path).ok().map(|b| blake3::hash(&b));
    let reporter = Arc::clone(&app.reporter);
    let spawned = std::thread::Builder::new()
        .name("cairn-reload".into())
        .spawn(move || {
            loop {
                let forced = match signals.recv_timeout(poll) {
                    Ok(Signal::Reload) => true,
                    Err(RecvTimeoutError::Timeout) => false,
                    Err(RecvTimeoutError::Disconnected) => return,
                };
                if !forced && !watch_lock {
                    continue;
                }
                let now = stamp(&path);
                if !forced && now == last_stamp {
                    continue;
                }
                last_stamp = now;
                let bytes = match std::fs::read(&path) {
                    Ok(bytes) => bytes,
                    Err(e) => {
                        app.reporter.event(&Event::ReloadFailed {
                            reason: format!("cannot read {}: {e}", path.display()),
                        });
                        continue;
                    }
                };
                let digest = blake3::hash(&bytes);
                if !forced && Some(digest) == last_digest {
                    continue;
                }
                last_digest = Some(digest);
                reload(&app, &project, &wanted, &bytes);
            }
        });
    if let Err(e) = spawned {
        reporter.event(&Event::ReloadFailed {
            reason: format!("cannot start the reload thread: {e}"),
        });
    }
}

/// Loads what changed in `lock_bytes` and swaps it in.
fn reload(app: &Arc<App>, project: &Arc<Project>, wanted: &Wanted, lock_bytes: &[u8]) {
    let lock = match std::str::from_utf8(lock_bytes)
        .map_err(|e| e.to_string())
        .and_then(|text| Lock::parse(text, "cairn.lock").map_err(|e| e.to_string()))
    {
        Ok(lock) => lock,
        Err(reason) => {
            app.reporter.event(&Event::ReloadFailed { reason });
            return;
        }
    };
    let previous = app.models.load_full();
    match load_set(project, &lock, wanted, previous.as_deref(), false, &|m| {
        app.wrap(m)
    }) {
        Ok(loaded) => {
            app.models.store(Some(Arc::new(loaded.set)));
            for swap in loaded.swaps {
                app.reporter.event(&Event::Swapped(swap));
            }
            for reason in loaded.failures {
                app.reporter.event(&Event::ReloadFailed { reason });
            }
        }
        Err(e) => app.reporter.event(&Event::ReloadFailed {
            reason: e.to_string(),
        }),
    }
}
