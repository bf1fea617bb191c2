//! Sharing through a directory remote: push, fetch, pull, status and gc against it.

use super::*;
use cairn_store::hash::LARGE_FILE;

/// A project that pushed its data to a directory remote, and a second machine: a project with
/// the same lock and remote, and nothing in its store or workspace.
struct Shared {
    remote: tempfile::TempDir,
    first: Fixture,
    second: Fixture,
}

impl Shared {
    fn new() -> Self {
        let remote = tempfile::tempdir().unwrap();
        let first = Fixture::new();
        first.add_remote(&remote.path().join("store"));
        first.write("a.csv", "a\n");
        first.write("data/x.csv", "x\n");
        first.write("data/sub/y.csv", "y\n");
        // Large enough to be copied in the kernel (or shared) rather than read into memory.
        let big: Vec<u8> = (0..LARGE_FILE + 1234).map(|i| (i % 251) as u8).collect();
        first.write("big.bin", &big);
        first.add(&["a.csv", "data", "big.bin"]);
        let second = Fixture::new();
        second.add_remote(&remote.path().join("store"));
        fs::copy(first.path("cairn.lock"), second.path("cairn.lock")).unwrap();
        Self {
            remote,
            first,
            second,
        }
    }

    fn push(&self) -> PushOutcome {
        push(
            &self.first.project(),
            &PushOptions {
                paths: Vec::new(),
                cwd: self.first.root().to_path_buf(),
                remote: None,
                all_commits: false,
                jobs: None,
            },
            &NoProgress,
        )
        .unwrap()
    }

    fn fetch_options(&self) -> FetchOptions {
        FetchOptions {
            paths: Vec::new(),
            cwd: self.second.root().to_path_buf(),
            remote: None,
            rev: None,
            jobs: Some(4),
            models_only: false,
        }
    }

    /// The object file of `digest` on the remote.
    fn remote_object(&self, digest: &Digest) -> PathBuf {
        let hex = digest.to_hex();
        self.remote
            .path()
            .join("store/objects")
            .join(&hex[..2])
            .join(&hex[2..])
    }
}

#[test]
fn push_then_pull_on_another_machine_reproduces_the_workspace() {
    let s = Shared::new();
    let pushed = s.push();
    assert!(pushed.complete());
    // a.csv, big.bin, data's manifest and its two files.
    assert_eq!((pushed.needed, pushed.uploaded.objects), (5, 5));
    assert_eq!(pushed.remote.name, "origin");
    let again = s.push();
    assert_eq!((again.already_there, again.uploaded.objects), (5, 0));

    let pulled = pull(&s.second.project(), &s.fetch_options(), false, &NoProgress).unwrap();
    assert!(pulled.fetch.complete());
    assert_eq!(pulled.fetch.downloaded.objects, 5);
    assert_eq!(pulled.checkout.files_written, 4);
    for path in ["a.csv", "data/x.csv", "data/sub/y.csv", "big.bin"] {
        assert_eq!(s.second.read(path), s.first.read(path), "{path}");
    }
    assert!(s.second.status(&[]).clean);

    // Fetching again downloads nothing.
    let fetched = fetch(&s.second.project(), &s.fetch_options(), &NoProgress).unwrap();
    assert_eq!((fetched.needed, fetched.already_here), (5, 5));
    assert_eq!(fetched.downloaded.objects, 0);
}

#[test]
fn fetch_of_some_paths_brings_only_their_objects() {
    let s = Shared::new();
    s.push();
    let options = FetchOptions {
        paths: vec![PathBuf::from("data")],
        ..s.fetch_options()
    };
    let out = fetch(&s.second.project(), &options, &NoProgress).unwrap();
    assert_eq!(out.downloaded.objects, 3);
    let store = s.second.project().store().unwrap();
    assert!(!store.contains(&s.first.pinned("a.csv")));
    assert!(store.contains(&Digest::of(b"x\n")));
    // The workspace is not touched by a fetch.
    assert!(!s.second.path("data").exists());
}

#[test]
fn a_corrupt_object_on_the_remote_is_reported_and_never_stored() {
    let s = Shared::new();
    s.push();
    let a = s.first.pinned("a.csv");
    damage(&s.remote_object(&a), b"tampered\n");
    let big = s.first.pinned("big.bin");
    let mut bytes = fs::read(s.remote_object(&big)).unwrap();
    bytes[1000] ^= 1;
    damage(&s.remote_object(&big), &bytes);

    let out = fetch(&s.second.project(), &s.fetch_options(), &NoProgress).unwrap();
    assert!(!out.complete());
    let failed: Vec<Digest> = out.downloaded.failures.iter().map(|f| f.digest).collect();
    let mut expected = vec![a, big];
    expected.sort();
    assert_eq!(failed, expected);
    assert_eq!(out.downloaded.objects, 3, "the others were fetched");
    let store = s.second.project().store().unwrap();
    assert!(!store.contains(&a) && !store.contains(&big));

    // A pull stops before the checkout: nothing is written to the workspace.
    let err = pull(&s.second.project(), &s.fetch_options(), false, &NoProgress).unwrap_err();
    let DataError::FetchIncomplete { failures } = &err else {
        panic!("{err}");
    };
    assert_eq!(failures.len(), 2);
    assert!(!s.second.path("data").exists());
    assert!(!s.second.path("a.csv").exists());
}

#[test]
fn objects_that_no_machine_has_are_reported() {
    let s = Shared::new();
    // The first machine lost an object before pushing.
    let a = s.first.pinned("a.csv");
    s.first.project().store().unwrap().remove(&a).unwrap();
    let out = s.push();
    assert!(!out.complete());
    assert_eq!(out.missing.len(), 1);
    assert_eq!(
        (out.missing[0].path.as_str(), out.missing[0].digest),
        ("a.csv", a)
    );
    assert_eq!(out.uploaded.objects, 4);

    let fetched = fetch(&s.second.project(), &s.fetch_options(), &NoProgress).unwrap();
    assert_eq!(fetched.downloaded.failures.len(), 1);
    assert_eq!(fetched.downloaded.failures[0].digest, a);
    assert_eq!(fetched.downloaded.failures[0].reason, "not on the remote");
}

#[test]
fn status_with_a_remote_counts_what_it_has() {
    let s = Shared::new();
    let ask = |f: &Fixture| {
        status(&f.project(), &f.status_options(&[], Some(None)))
            .unwrap()
            .entries
            .into_iter()
            .map(|e| {
                let r = e.remote.unwrap();
                (e.path.to_string(), r.present, r.missing, r.unknown)
            })
            .collect::<Vec<_>>()
    };
    // Nothing pushed yet: the remote directory does not even exist.
    assert_eq!(
        ask(&s.first),
        [
            ("a.csv".to_owned(), 0, 1, false),
            ("big.bin".to_owned(), 0, 1, false),
            ("data".to_owned(), 0, 3, false),
        ]
    );
    s.push();
    let out = status(&s.first.project(), &s.first.status_options(&[], Some(None))).unwrap();
    assert_eq!(out.remote.unwrap().name, "origin");
    assert_eq!(
        ask(&s.first),
        [
            ("a.csv".to_owned(), 1, 0, false),
            ("big.bin".to_owned(), 1, 0, false),
            ("data".to_owned(), 3, 0, false),
        ]
    );
    // The second machine reads data's manifest from the remote.
    assert_eq!(ask(&s.second)[2], ("data".to_owned(), 3, 0, false));
}

#[test]
fn gc_on_the_remote_removes_what_no_lock_pins() {
    let s = Shared::new();
    s.push();
    s.first.write("a.csv", "a newer version\n");
    s.first.add(&["a.csv"]);
    s.push();
    let old = Digest::of(b"a\n");
    assert!(s.remote_object(&old).exists());
    let out = gc(
        &s.first.project(),
        &GcOptions {
            all_commits: false,
            dry_run: false,
            remote: Some(None),
        },
        &NoProgress,
    )
    .unwrap();
    let removed: Vec<Digest> = out.removed.iter().map(|r| r.digest).collect();
    assert_eq!(removed, [old]);
    assert!(!s.remote_object(&old).exists());
    assert!(s.remote_object(&s.first.pinned("a.csv")).exists());
    assert_eq!(out.remote.unwrap().name, "origin");
}

#[test]
fn runs_pushed_by_one_machine_are_listed_and_fetched_by_another() {
    let s = Shared::new();
    // A run as training records it: its record object and a ref naming it.
    let store = s.first.project().store().unwrap();
    let record = store.put_bytes(br#"{"id":"run-1"}"#).unwrap().digest;
    let run = cairn_core::runs::RunRef {
        id: "20260101-000000-abcd".to_owned(),
        record: record.to_hex(),
        artifact: None,
    };
    cairn_core::runs::write_ref(&s.first.project().state_dir(), &run).unwrap();
    s.push();

    let listed = list_remote_runs(&s.second.project(), None).unwrap();
    assert_eq!(listed.runs.len(), 1);
    assert_eq!(listed.runs[0].id, run.id);
    assert_eq!(
        listed.runs[0].json.as_deref(),
        Ok(&br#"{"id":"run-1"}"#[..])
    );

    let fetched = fetch(&s.second.project(), &s.fetch_options(), &NoProgress).unwrap();
    assert_eq!(fetched.runs_added, std::slice::from_ref(&run.id));
    assert!(fetched.runs_skipped.is_empty());
    let refs = cairn_core::runs::read_refs(&s.second.project().state_dir()).unwrap();
    assert_eq!(refs, [run]);
}
