//! A reproduction's inputs, gathered into its own store: every object is taken from the user's
//! store (verified while it is copied) or, when the user's store lacks it, read from the
//! default remote (verified) — never written to the user's store.

use std::collections::BTreeMap;
use std::path::Path;

use cairn_core::{DataEntry, EntryKind, FeatureEntry, Lock, Project};
use cairn_store::{Digest, LinkMode, Manifest, Remote, RemoteOptions, Store};

use crate::ReproduceError;
use crate::reproduce::{InputKind, InputSource, MissingInput};

/// Where objects come from, and where they go.
pub(crate) struct Objects<'a> {
    project: &'a Project,
    local: Store,
    pub temp: Store,
    /// Opened on first need: `None` inside when no remote is configured (or it cannot be
    /// opened: the reason is kept).
    remote: Option<Option<(String, Remote)>>,
    pub remote_problem: Option<String>,
    pub missing: Vec<MissingInput>,
}

impl<'a> Objects<'a> {
    pub fn new(project: &'a Project, temp: Store) -> Result<Self, ReproduceError> {
        // The user's read-only object files are shared (hard links) where the file system
        // allows; the rebuild's workspace files are then never links to objects (`MODES`).
        temp.share_objects(&MODES);
        Ok(Objects {
            project,
            local: project.store()?,
            temp,
            remote: None,
            remote_problem: None,
            missing: Vec::new(),
        })
    }

    /// The name of the remote asked (once one was needed and configured).
    pub fn remote_name(&self) -> Option<String> {
        match &self.remote {
            Some(Some((name, _))) => Some(name.clone()),
            _ => None,
        }
    }

    /// The configured default remote's name, if any (without opening it).
    pub fn default_remote(&self) -> Option<String> {
        self.project.remote(None).ok().map(|r| r.name)
    }

    fn remote(&mut self) -> Option<&(String, Remote)> {
        if self.remote.is_none() {
            let opened = match self.project.remote(None) {
                Ok(resolved) => {
                    let name = resolved.name.clone();
                    let options = RemoteOptions {
                        url: resolved.config.url.clone(),
                        endpoint: resolved.config.endpoint.clone(),
                        region: resolved.config.region.clone(),
                        allow_http: resolved.config.allow_http,
                        virtual_hosted_style: resolved.config.virtual_hosted_style,
                        extra: resolved.secrets,
                        env: resolved.env,
                        root: resolved.root,
                    };
                    match Remote::open(&options) {
                        Ok(remote) => Some((name, remote)),
                        Err(e) => {
                            self.remote_problem = Some(format!("remote `{name}`: {e}"));
                            None
                        }
                    }
                }
                Err(cairn_core::RemoteError::NoDefault) => None,
                Err(e) => {
                    self.remote_problem = Some(e.to_string());
                    None
                }
            };
            self.remote = Some(opened);
        }
        self.remote.as_ref().and_then(Option::as_ref)
    }

    /// Puts object `digest` in the reproduction's store. `None` when neither the user's store
    /// nor the remote has it (it is then listed as missing, as `kind` `name`).
    pub fn get(
        &mut self,
        digest: &Digest,
        kind: InputKind,
        name: &str,
    ) -> Result<Option<InputSource>, ReproduceError> {
        if self.local.contains(digest) {
            if !self.temp.contains(digest) {
                let path = self.local.object_path(digest);
                if self.temp.link_file_expecting(&path, digest)?.is_none() {
                    self.temp.put_file_expecting(&path, digest)?;
                }
            }
            return Ok(Some(InputSource::LocalStore));
        }
        if self.temp.contains(digest) {
            return Ok(Some(
                self.remote_name()
                    .map_or(InputSource::LocalStore, |name| InputSource::Remote {
                        remote: name,
                    }),
            ));
        }
        let read = self
            .remote()
            .map(|(name, remote)| (name.clone(), remote.read(digest)));
        match read {
            Some((name, Ok(Some(bytes)))) => {
                self.temp.put_bytes(&bytes)?;
                Ok(Some(InputSource::Remote { remote: name }))
            }
            Some((remote, Err(e))) => {
                self.remote_problem = Some(format!("remote `{remote}`: {e}"));
                self.missing(digest, kind, name.to_owned());
                Ok(None)
            }
            _ => {
                self.missing(digest, kind, name.to_owned());
                Ok(None)
            }
        }
    }

    fn missing(&mut self, digest: &Digest, kind: InputKind, name: String) {
        self.missing.push(MissingInput {
            kind,
            name,
            digest: digest.to_hex(),
        });
    }
}

/// How a tracked path is pinned: a file, or a directory (its manifest object).
pub(crate) struct PlacedData {
    pub entry: DataEntry,
    pub manifest: Option<Manifest>,
}

/// Gathers the objects of data `path` pinned at `digest`. `kind_hint` is the kind a lock
/// gave the path (the commit's or the user's), if one did; otherwise a table's extension
/// says a file and anything else a directory. `None` when an object is missing.
pub(crate) fn gather_data(
    objects: &mut Objects<'_>,
    path: &str,
    digest: &Digest,
    known: Option<&DataEntry>,
) -> Result<(Option<PlacedData>, InputSource), ReproduceError> {
    let is_file = match known {
        Some(entry) => entry.kind == EntryKind::File,
        None => cairn_core::table::Format::of(Path::new(path)).is_some(),
    };
    let Some(from) = objects.get(digest, InputKind::Data, path)? else {
        return Ok((None, InputSource::LocalStore));
    };
    if is_file {
        let (size, _) = objects.temp.object_meta(digest)?;
        let entry = DataEntry {
            kind: EntryKind::File,
            digest: *digest,
            size,
            files: 0,
            executable: known.is_some_and(|k| k.executable),
        };
        return Ok((
            Some(PlacedData {
                entry,
                manifest: None,
            }),
            from,
        ));
    }
    let manifest = Manifest::from_bytes(&objects.temp.read(digest)?).map_err(|e| {
        ReproduceError::Inconsistent {
            reference: path.to_owned(),
            record: digest.to_hex(),
            problem: format!("is not a readable directory manifest ({e})"),
        }
    })?;
    let mut complete = true;
    let mut size = 0;
    for file in manifest.entries() {
        size += file.size;
        let name = format!("{path}/{}", file.path);
        if objects.get(&file.digest, InputKind::Data, &name)?.is_none() {
            complete = false;
        }
    }
    if !complete {
        return Ok((None, from));
    }
    let entry = DataEntry {
        kind: EntryKind::Dir,
        digest: *digest,
        size,
        files: manifest.entries().len() as u64,
        executable: false,
    };
    Ok((
        Some(PlacedData {
            entry,
            manifest: Some(manifest),
        }),
        from,
    ))
}

/// How the rebuild's workspace files are made from its store: never as links to objects,
/// which may be the user's own object files.
const MODES: [LinkMode; 2] = [LinkMode::Reflink, LinkMode::Copy];

/// Writes a gathered path into the reproduction's directory, from its store.
pub(crate) fn place_data(
    temp: &Store,
    root: &Path,
    path: &str,
    placed: &PlacedData,
) -> Result<(), ReproduceError> {
    let dest = root.join(path);
    let io = |p: &Path, source| ReproduceError::Io {
        path: p.to_path_buf(),
        source,
    };
    // The checkout may hold a file of the same name (data committed to git, or a placeholder).
    if dest.is_dir() {
        std::fs::remove_dir_all(&dest).map_err(|e| io(&dest, e))?;
    } else if dest.symlink_metadata().is_ok() {
        std::fs::remove_file(&dest).map_err(|e| io(&dest, e))?;
    }
    match &placed.manifest {
        None => {
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
            }
            temp.materialize(&placed.entry.digest, &dest, &MODES, placed.entry.executable)?;
        }
        Some(manifest) => {
            for file in manifest.entries() {
                let target = file.path.to_path(&dest);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
                }
                temp.materialize(&file.digest, &target, &MODES, file.executable)?;
            }
        }
    }
    Ok(())
}

/// The lock of the reproduction's project: the commit's lock (if it has a readable one) with
/// its data and feature pins replaced by the version's, and no models.
pub(crate) fn replay_lock(
    commit_lock: Option<Lock>,
    data: BTreeMap<cairn_store::RelPath, DataEntry>,
    features: BTreeMap<String, FeatureEntry>,
) -> Lock {
    let mut lock = commit_lock.unwrap_or_default();
    lock.data = data;
    lock.feature = features;
    lock.model.clear();
    lock
}
