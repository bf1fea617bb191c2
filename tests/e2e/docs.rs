//! The JSON documents of `cairn init`, `cairn data …`, `cairn remote …` and of a failed
//! command, as structs that mirror their documented fields (docs/guide/data.md#json-output,
//! docs/guide/remotes.md#json-output; the outcome types of `cairn-data` and `cairn-core` where
//! the guides do not list every field). Unknown fields are refused and every field the binary
//! always writes is required, so a renamed, removed or retyped field fails the test that
//! decodes it instead of reading as `null`.
//!
//! A field decoded only to check that it is there and has its type is not read, hence the
//! `dead_code` allowance below.
#![allow(dead_code)]

use std::path::PathBuf;

use cairn_e2e::{Project, Run};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

/// A document's kind, as the printer writes it beside `schema_version`.
pub trait Document: DeserializeOwned {
    const KIND: &'static str;
}

#[derive(Deserialize)]
struct Envelope {
    kind: String,
    schema_version: u32,
}

/// Decodes stdout as one document of kind `T::KIND`, schema version 1. The text is decoded
/// directly (not through `serde_json::Value`), so a key written twice fails too.
#[track_caller]
pub fn decode<T: Document>(run: &Run) -> T {
    let envelope: Envelope = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}\n{}",
            run.stdout, run.stderr
        )
    });
    assert_eq!(
        (envelope.kind.as_str(), envelope.schema_version),
        (T::KIND, 1),
        "{}",
        run.stdout
    );
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not the documented {} ({e}):\n{}", T::KIND, run.stdout))
}

/// Runs `cairn --json ARGS`, asserts the exit code and decodes the document.
#[track_caller]
pub fn json<T: Document>(p: &Project, args: &[&str], code: i32) -> T {
    json_env(p, args, &[], code)
}

/// [`json`] with extra environment variables (credentials for a remote, say).
#[track_caller]
pub fn json_env<T: Document>(p: &Project, args: &[&str], env: &[(String, String)], code: i32) -> T {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let run = p.cairn_env(&all, env);
    run.code(code);
    decode(&run)
}

/// A field the binary always writes, possibly as `null`: unlike a plain `Option`, a missing
/// key is an error.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Option::<T>::deserialize(d)
}

/// A BLAKE3 digest: 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct Digest(String);

impl TryFrom<String> for Digest {
    type Error = String;

    fn try_from(hex: String) -> Result<Self, String> {
        if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(hex))
        } else {
            Err(format!("`{hex}` is not 64 lowercase hex digits"))
        }
    }
}

impl Digest {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Digest {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Digest {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// `type` of a tracked path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryType {
    File,
    Dir,
}

// ---------------------------------------------------------------------------------------
// init

/// `cairn init`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitDoc {
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(rename = "schema_version")]
    _schema_version: u32,
    pub root: PathBuf,
    pub git: bool,
    /// What was created, as the human output lists it (`.gitignore entry /.cairn/`).
    pub created: Vec<String>,
}

impl Document for InitDoc {
    const KIND: &'static str = "init";
}

// ---------------------------------------------------------------------------------------
// error

/// A failed command (docs/guide/data.md#json-output).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorDoc {
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(rename = "schema_version")]
    _schema_version: u32,
    pub message: String,
    #[serde(deserialize_with = "nullable")]
    pub hint: Option<String>,
    pub exit_code: u8,
}

impl Document for ErrorDoc {
    const KIND: &'static str = "error";
}

// ---------------------------------------------------------------------------------------
// data add

/// `change` of an added path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Updated,
    Unchanged,
}

/// `cairn data add`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddDoc {
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(rename = "schema_version")]
    _schema_version: u32,
    pub entries: Vec<AddedEntry>,
    pub lock_written: bool,
    pub gitignore_added: Vec<String>,
}

impl Document for AddDoc {
    const KIND: &'static str = "data-add";
}

impl AddDoc {
    /// The entry of `path`.
    #[track_caller]
    pub fn entry(&self, path: &str) -> &AddedEntry {
        self.entries
            .iter()
            .find(|e| e.path == path)
            .unwrap_or_else(|| panic!("{path} not in {self:#?}"))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddedEntry {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: EntryType,
    pub digest: Digest,
    pub size: u64,
    pub files: u64,
    pub change: Change,
    pub new_objects: u64,
    pub new_bytes: u64,
}

// ---------------------------------------------------------------------------------------
// data status

/// `state` of a tracked path (docs/guide/data.md, "See what changed").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Unchanged,
    Modified,
    Missing,
    NotInStore,
}

/// `cairn data status` (with `--remote`: docs/guide/remotes.md).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusDoc {
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(rename = "schema_version")]
    _schema_version: u32,
    pub entries: Vec<StatusEntry>,
    pub clean: bool,
    /// With `--remote` only.
    #[serde(default)]
    pub remote: Option<RemoteInfo>,
    /// With `--remote`, no paths and pinned feature tables only.
    #[serde(default)]
    pub features: Vec<FeatureStatus>,
    /// With `--remote`, no paths and registered model versions only.
    #[serde(default)]
    pub models: Vec<ModelStatus>,
}

impl Document for StatusDoc {
    const KIND: &'static str = "data-status";
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusEntry {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: EntryType,
    pub state: State,
    pub modified: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// With `--remote` only.
    #[serde(default)]
    pub remote: Option<RemotePresence>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureStatus {
    pub view: String,
    pub remote: RemotePresence,
}

/// A registered model version (`[[model.NAME.versions]]`) and how many of its objects
/// (artifact, run record, validation record) the remote has.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelStatus {
    pub model: String,
    pub version: u32,
    pub remote: RemotePresence,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemotePresence {
    pub present: u64,
    pub missing: u64,
    pub unknown: bool,
}

// ---------------------------------------------------------------------------------------
// data checkout

/// `cairn data checkout`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutDoc {
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(rename = "schema_version")]
    _schema_version: u32,
    #[serde(deserialize_with = "nullable")]
    pub rev: Option<String>,
    pub entries: Vec<CheckoutEntry>,
    pub files_written: u64,
    pub bytes_written: u64,
    pub files_removed: u64,
    /// The link modes used (docs/formats/store.md#link-modes).
    pub link_modes: Vec<String>,
}

impl Document for CheckoutDoc {
    const KIND: &'static str = "data-checkout";
}

/// The `checkout` of `data pull`: [`CheckoutDoc`] without `kind` and `schema_version`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkout {
    #[serde(deserialize_with = "nullable")]
    pub rev: Option<String>,
    pub entries: Vec<CheckoutEntry>,
    pub files_written: u64,
    pub bytes_written: u64,
    pub files_removed: u64,
    pub link_modes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutEntry {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: EntryType,
    pub written: u64,
    pub removed: u64,
    pub unchanged: u64,
}

// ---------------------------------------------------------------------------------------
// data ls

/// `cairn data ls`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LsDoc {
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(rename = "schema_version")]
    _schema_version: u32,
    pub entries: Vec<LsEntry>,
    pub total_size: u64,
    pub total_files: u64,
}

impl Document for LsDoc {
    const KIND: &'static str = "data-ls";
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LsEntry {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: EntryType,
    pub digest: Digest,
    pub size: u64,
    pub files: u64,
    pub executable: bool,
    pub in_store: bool,
}

// ---------------------------------------------------------------------------------------
// data diff

/// `change` of a path between two locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiffChange {
    Added,
    Removed,
    Modified,
}

/// `cairn data diff` (docs/guide/data.md, "Comparing versions").
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffDoc {
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(rename = "schema_version")]
    _schema_version: u32,
    pub old: DiffSide,
    pub new: DiffSide,
    pub entries: Vec<DiffEntry>,
    pub added: u64,
    pub removed: u64,
    pub modified: u64,
    pub unchanged: u64,
}

impl Document for DiffDoc {
    const KIND: &'static str = "data-diff";
}

impl DiffDoc {
    /// The entry of `path`.
    #[track_caller]
    pub fn entry(&self, path: &str) -> &DiffEntry {
        self.entries
            .iter()
            .find(|e| e.path == path)
            .unwrap_or_else(|| panic!("{path} not in {self:#?}"))
    }

    /// The paths of the entries, in order.
    pub fn paths(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.path.as_str()).collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffSide {
    /// `null` for the workspace's `cairn.lock`.
    #[serde(deserialize_with = "nullable")]
    pub rev: Option<String>,
    pub lock_found: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffEntry {
    pub path: String,
    pub change: DiffChange,
    #[serde(deserialize_with = "nullable")]
    pub old: Option<DiffVersion>,
    #[serde(deserialize_with = "nullable")]
    pub new: Option<DiffVersion>,
    #[serde(deserialize_with = "nullable")]
    pub files: Option<DiffFiles>,
    pub detail_unavailable: bool,
    pub missing_manifests: Vec<Digest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffVersion {
    #[serde(rename = "type")]
    pub kind: EntryType,
    pub digest: Digest,
    pub size: u64,
    pub files: u64,
    pub executable: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffFiles {
    pub added: Vec<DiffFile>,
    pub removed: Vec<DiffFile>,
    pub modified: Vec<DiffFile>,
    pub unchanged: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffFile {
    pub path: String,
    #[serde(deserialize_with = "nullable")]
    pub old: Option<DiffFileVersion>,
    #[serde(deserialize_with = "nullable")]
    pub new: Option<DiffFileVersion>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffFileVersion {
    pub digest: Digest,
    pub size: u64,
    pub executable: bool,
}

// ---------------------------------------------------------------------------------------
// registered model versions in the data documents (docs/guide/data.md#json-output)

/// `models` of `data-gc`, `data-fsck`, `data-push` and `data-fetch`: the registered model
/// versions of the locks read and the distinct objects they pin. Left out when there is
/// none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelObjects {
    pub versions: u64,
    pub objects: u64,
}

/// Which of a registered version's objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelObject {
    Artifact,
    Record,
    Validation,
}

// ---------------------------------------------------------------------------------------
// data gc

/// `cairn data gc` (with `--remote`: docs/guide/remotes.md).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcDoc {
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(rename = "schema_version")]
    _schema_version: u32,
    pub dry_run: bool,
    pub locks: u64,
    pub kept: u64,
    pub kept_bytes: u64,
    pub removed: Vec<RemovedObject>,
    pub removed_bytes: u64,
    pub unresolved_manifests: Vec<Digest>,
    pub temp_files_removed: u64,
    pub skipped_locks: Vec<SkippedLock>,
    /// With `--remote` only.
    #[serde(default)]
    pub remote: Option<RemoteInfo>,
    #[serde(default)]
    pub models: Option<ModelObjects>,
}

impl Document for GcDoc {
    const KIND: &'static str = "data-gc";
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemovedObject {
    pub digest: Digest,
    pub size: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkippedLock {
    pub commit: String,
    pub reason: String,
}

// ---------------------------------------------------------------------------------------
// data fsck

/// `cairn data fsck`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FsckDoc {
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(rename = "schema_version")]
    _schema_version: u32,
    pub checked: u64,
    pub bytes: u64,
    pub corrupt: Vec<CorruptObject>,
    pub strays: Vec<PathBuf>,
    pub missing: Vec<MissingObject>,
    /// Left out when none.
    #[serde(default)]
    pub inconsistent: Vec<Inconsistency>,
    #[serde(default)]
    pub models: Option<ModelObjects>,
    pub ok: bool,
}

impl Document for FsckDoc {
    const KIND: &'static str = "data-fsck";
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorruptObject {
    pub digest: Digest,
    /// What the content hashes to.
    pub actual: Digest,
    pub path: PathBuf,
    pub removed: bool,
    /// The registered objects it is (`model:churn@1`, `model:churn@1/record`); left out
    /// when none.
    #[serde(default)]
    pub needed_by: Vec<String>,
}

/// A registered model version whose object contradicts what `cairn.lock` pins.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inconsistency {
    pub model: String,
    pub version: u32,
    pub object: ModelObject,
    pub digest: Digest,
    pub problem: String,
}

/// A pinned object that is nowhere to be had (fsck: not in the local store; push: on
/// neither side).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissingObject {
    pub path: String,
    pub digest: Digest,
}

// ---------------------------------------------------------------------------------------
// data push, fetch, pull (docs/guide/remotes.md#json-output)

/// Where `credentials` came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Credentials {
    LocalConfig,
    Environment,
    AwsProfile,
    None,
}

/// The remote a command talked to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteInfo {
    pub name: String,
    pub url: String,
    pub credentials: Credentials,
    /// With `aws-profile`: which profile, and where its credentials were written.
    #[serde(default)]
    pub aws_profile: Option<String>,
}

/// `uploaded` of a push, `downloaded` of a fetch.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    pub objects: u64,
    pub bytes: u64,
    pub shared: u64,
    pub failures: Vec<TransferFailure>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferFailure {
    pub digest: Digest,
    pub reason: String,
}

/// `cairn data push`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushDoc {
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(rename = "schema_version")]
    _schema_version: u32,
    pub remote: RemoteInfo,
    pub needed: u64,
    pub already_there: u64,
    pub uploaded: Transfer,
    pub missing: Vec<MissingObject>,
    /// Without paths, when a lock registers a model.
    #[serde(default)]
    pub models: Option<ModelObjects>,
}

impl Document for PushDoc {
    const KIND: &'static str = "data-push";
}

/// `cairn data fetch`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchDoc {
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(rename = "schema_version")]
    _schema_version: u32,
    pub remote: RemoteInfo,
    pub needed: u64,
    pub already_here: u64,
    pub downloaded: Transfer,
    /// Ids of the runs recorded.
    pub runs_added: Vec<String>,
    /// Runs not fetched whole.
    pub runs_skipped: Vec<SkippedRun>,
    /// Without paths, when the lock registers a model.
    #[serde(default)]
    pub models: Option<ModelObjects>,
}

impl Document for FetchDoc {
    const KIND: &'static str = "data-fetch";
}

/// The `fetch` of `data pull`: [`FetchDoc`] without `kind` and `schema_version`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fetch {
    pub remote: RemoteInfo,
    pub needed: u64,
    pub already_here: u64,
    pub downloaded: Transfer,
    pub runs_added: Vec<String>,
    pub runs_skipped: Vec<SkippedRun>,
    #[serde(default)]
    pub models: Option<ModelObjects>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkippedRun {
    pub id: String,
    pub digest: Digest,
    pub reason: String,
}

/// `cairn data pull`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullDoc {
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(rename = "schema_version")]
    _schema_version: u32,
    pub fetch: Fetch,
    pub checkout: Checkout,
}

impl Document for PullDoc {
    const KIND: &'static str = "data-pull";
}

// ---------------------------------------------------------------------------------------
// remote add, list, remove, default (docs/guide/remotes.md#json-output)

/// `cairn remote add`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteAddDoc {
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(rename = "schema_version")]
    _schema_version: u32,
    pub name: String,
    pub url: String,
    /// Whether it is now the default remote.
    pub default: bool,
}

impl Document for RemoteAddDoc {
    const KIND: &'static str = "remote-add";
}

/// `cairn remote list`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteListDoc {
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(rename = "schema_version")]
    _schema_version: u32,
    pub remotes: Vec<ListedRemote>,
}

impl Document for RemoteListDoc {
    const KIND: &'static str = "remote-list";
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListedRemote {
    pub name: String,
    pub url: String,
    pub default: bool,
    /// The settings below are written only when set.
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub allow_http: Option<bool>,
    #[serde(default)]
    pub virtual_hosted_style: Option<bool>,
    #[serde(default)]
    pub jobs: Option<u64>,
}

/// `cairn remote remove`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteRemoveDoc {
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(rename = "schema_version")]
    _schema_version: u32,
    pub name: String,
}

impl Document for RemoteRemoveDoc {
    const KIND: &'static str = "remote-remove";
}

/// `cairn remote default`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteDefaultDoc {
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(rename = "schema_version")]
    _schema_version: u32,
    pub name: String,
}

impl Document for RemoteDefaultDoc {
    const KIND: &'static str = "remote-default";
}
