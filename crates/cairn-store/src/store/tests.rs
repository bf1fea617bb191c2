#![allow(clippy::disallowed_methods)] // fixtures are written directly

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::materialize::relative_path;
use super::*;
use crate::FileStat;
use crate::hash::LARGE_FILE;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join(".cairn")).unwrap();
    (dir, store)
}

#[test]
fn put_is_content_addressed_and_idempotent() {
    let (_dir, store) = store();
    let a = store.put_bytes(b"hello").unwrap();
    assert!(a.stored);
    assert_eq!(a.digest, Digest::of(b"hello"));
    let b = store.put_bytes(b"hello").unwrap();
    assert!(!b.stored);
    let path = store.object_path(&a.digest);
    assert!(fs::metadata(&path).unwrap().permissions().readonly());
    assert_eq!(store.read(&a.digest).unwrap(), b"hello");
    let shard = path.parent().unwrap().to_path_buf();
    assert_eq!(fs::read_dir(&shard).unwrap().count(), 1, "only the object");
    let tmp = store.tmp_dir().to_path_buf();
    drop(store);
    assert_eq!(
        fs::read_dir(&tmp).unwrap().count(),
        0,
        "no temp file left behind"
    );
}

#[test]
fn temp_files_of_a_killed_writer_are_swept_from_the_shards() {
    let (_dir, store) = store();
    let put = store.put_bytes(b"kept").unwrap();
    let shard = store
        .object_path(&put.digest)
        .parent()
        .unwrap()
        .to_path_buf();
    // What a process killed during a write leaves: its marker and a partial object.
    fs::write(store.tmp_dir().join("999999-0.tmp"), b"").unwrap();
    fs::write(shard.join("999999-1.tmp"), b"partial").unwrap();
    let (objects, strays) = store.list().unwrap();
    assert_eq!((objects.len(), strays.len()), (1, 0));
    assert_eq!(store.clean_tmp().unwrap(), 2);
    assert_eq!(fs::read_dir(&shard).unwrap().count(), 1);
    assert_eq!(store.read(&put.digest).unwrap(), b"kept");
}

#[test]
fn large_corrupt_objects_are_never_materialised_in_any_mode() {
    let (dir, store) = store();
    let src = dir.path().join("big");
    let mut bytes: Vec<u8> = (0..(LARGE_FILE as usize + 4096))
        .map(|i| (i * 7) as u8)
        .collect();
    fs::write(&src, &bytes).unwrap();
    let put = store.put_file(&src, bytes.len() as u64).unwrap();
    // Same size, one byte changed: only hashing can tell.
    let path = store.object_path(&put.digest);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    bytes[12345] ^= 1;
    atomic::write_atomic_beside(&path, &bytes, 0o444).unwrap();
    // A new handle, as a later process would open it (this one remembers what it wrote).
    let store = Store::open(store.dir()).unwrap();
    for modes in [
        &[LinkMode::Copy][..],
        &[LinkMode::Reflink, LinkMode::Copy],
        &[LinkMode::Hardlink],
        &[LinkMode::Symlink],
    ] {
        let dest = dir.path().join("out");
        let err = store
            .materialize(&put.digest, &dest, modes, false)
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Corrupt { .. }),
            "{modes:?}: {err}"
        );
        assert!(!dest.exists(), "{modes:?}");
    }
    // The intact object of a new store is copied, and verified on the way.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    bytes[12345] ^= 1;
    atomic::write_atomic_beside(&path, &bytes, 0o444).unwrap();
    let dest = dir.path().join("ok");
    store
        .materialize(&put.digest, &dest, &[LinkMode::Copy], false)
        .unwrap();
    assert_eq!(fs::read(&dest).unwrap(), bytes);
}

#[test]
fn a_large_file_is_stored_under_its_digest_once_without_leftovers() {
    let (dir, store) = store();
    let src = dir.path().join("big");
    let content: Vec<u8> = (0..(LARGE_FILE as usize + 12345))
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    atomic::write_atomic_beside(&src, &content, 0o644).unwrap();
    let put = store.put_file(&src, content.len() as u64).unwrap();
    assert!(put.stored);
    assert_eq!(put.digest, Digest::of(&content));
    assert_eq!(fs::read(store.object_path(&put.digest)).unwrap(), content);
    let again = store.put_file(&src, content.len() as u64).unwrap();
    assert!(!again.stored);
    assert_eq!(fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
}

#[test]
fn a_download_writes_the_workspace_copy_that_the_checkout_moves_into_place() {
    use std::os::unix::fs::MetadataExt;
    let (dir, store) = store();
    let src = dir.path().join("remote-object");
    let content: Vec<u8> = (0..(LARGE_FILE as usize + 999))
        .map(|i| (i * 17 % 253) as u8)
        .collect();
    atomic::write_atomic_beside(&src, &content, 0o644).unwrap();
    let digest = Digest::of(&content);
    let temporaries = || -> Vec<PathBuf> {
        fs::read_dir(store.tmp_dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    };
    assert!(store.copies_needed(&[LinkMode::Copy]));
    assert!(!store.copies_needed(&[LinkMode::Hardlink, LinkMode::Copy]));

    // Content that does not match: neither the object nor the copy stays.
    store.want_copies(
        [(Digest::of(b"something else"), content.len() as u64)],
        &[LinkMode::Copy],
    );
    let err = store
        .put_file_expecting(&src, &Digest::of(b"something else"))
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert_eq!(temporaries(), Vec::<PathBuf>::new());

    store.want_copies([(digest, content.len() as u64)], &[LinkMode::Copy]);
    assert!(store.put_file_expecting(&src, &digest).unwrap().stored);
    // The copy waits in tmp/, and a clean-up by this process leaves it.
    store.clean_tmp().unwrap();
    let waiting = temporaries();
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    let inode = fs::metadata(&waiting[0]).unwrap().ino();

    let dest = dir.path().join("out.bin");
    let (mode, stat) = store
        .materialize(&digest, &dest, &[LinkMode::Copy], false)
        .unwrap();
    assert_eq!(mode, LinkMode::Copy);
    let meta = fs::metadata(&dest).unwrap();
    assert_eq!(
        meta.ino(),
        inode,
        "the prepared copy is moved, not copied again"
    );
    assert_eq!(stat, FileStat::from_metadata(&meta));
    assert_eq!(meta.permissions().mode() & 0o777, 0o644);
    assert_eq!(fs::read(&dest).unwrap(), content);
    assert_eq!(temporaries(), Vec::<PathBuf>::new());

    // A second file with the same content is copied from the object.
    let second = dir.path().join("again.bin");
    store
        .materialize(&digest, &second, &[LinkMode::Copy], true)
        .unwrap();
    let meta = fs::metadata(&second).unwrap();
    assert_ne!(meta.ino(), inode);
    assert_eq!(meta.permissions().mode() & 0o777, 0o755);
    assert_eq!(fs::read(&second).unwrap(), content);
}

/// A read-only file of a directory remote enters the store as a second name of the same
/// file, once verified; the workspace still gets a file of its own, and no link mode ever
/// links the workspace to it.
#[test]
fn a_read_only_remote_file_is_shared_not_copied() {
    use std::os::unix::fs::MetadataExt;
    let (dir, store) = store();
    let temporaries = || -> Vec<PathBuf> {
        fs::read_dir(store.tmp_dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    };
    let content: Vec<u8> = (0..LARGE_FILE + 4321).map(|i| (i % 251) as u8).collect();
    let digest = Digest::of(&content);
    let remote = dir.path().join("remote-object");
    fs::write(&remote, &content).unwrap();
    fs::set_permissions(&remote, fs::Permissions::from_mode(0o444)).unwrap();

    // Not allowed until the link modes are known, nor when they link workspace files.
    assert!(
        store
            .link_file_expecting(&remote, &digest)
            .unwrap()
            .is_none()
    );
    store.share_objects(&[LinkMode::Hardlink, LinkMode::Copy]);
    assert!(
        store
            .link_file_expecting(&remote, &digest)
            .unwrap()
            .is_none()
    );
    store.share_objects(&[LinkMode::Reflink, LinkMode::Copy]);

    // Content that does not match its name: nothing stays, the remote's file is untouched.
    let err = store
        .link_file_expecting(&remote, &Digest::of(b"something else"))
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert_eq!(temporaries(), Vec::<PathBuf>::new());
    assert_eq!(fs::metadata(&remote).unwrap().nlink(), 1);

    // A file someone may write is not shared.
    let writable = dir.path().join("writable");
    fs::write(&writable, &content).unwrap();
    assert!(
        store
            .link_file_expecting(&writable, &digest)
            .unwrap()
            .is_none()
    );
    assert_eq!(temporaries(), Vec::<PathBuf>::new());
    assert!(!store.contains(&digest));
    let marker = store.dir().join(SHARED_MARKER);
    assert!(!marker.exists(), "nothing was shared yet");

    store.want_copies([(digest, content.len() as u64)], &[LinkMode::Copy]);
    let put = store
        .link_file_expecting(&remote, &digest)
        .unwrap()
        .unwrap();
    assert!(put.stored);
    assert!(marker.exists());
    let remote_inode = fs::metadata(&remote).unwrap().ino();
    let object = fs::metadata(store.object_path(&digest)).unwrap();
    assert_eq!(
        object.ino(),
        remote_inode,
        "the object is the remote's file"
    );
    assert_eq!(object.nlink(), 2);
    // The workspace copy was written during the verification, and is moved into place.
    let waiting = temporaries();
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    let copy_inode = fs::metadata(&waiting[0]).unwrap().ino();
    let dest = dir.path().join("out.bin");
    store
        .materialize(&digest, &dest, &[LinkMode::Copy], false)
        .unwrap();
    assert_eq!(fs::metadata(&dest).unwrap().ino(), copy_inode);
    assert_eq!(fs::read(&dest).unwrap(), content);

    // A shared object is never linked into the workspace: an edit there would reach the
    // remote. Hard link and symbolic link modes copy it instead.
    for (i, mode) in [LinkMode::Hardlink, LinkMode::Symlink]
        .into_iter()
        .enumerate()
    {
        let dest = dir.path().join(format!("linked-{i}.bin"));
        let (used, _) = store.materialize(&digest, &dest, &[mode], false).unwrap();
        assert_eq!(used, LinkMode::Copy, "{mode:?}");
        let meta = fs::symlink_metadata(&dest).unwrap();
        assert!(meta.file_type().is_file());
        assert_ne!(meta.ino(), remote_inode);
        assert!(!meta.permissions().readonly());
        assert_eq!(fs::read(&dest).unwrap(), content);
    }
    assert_eq!(fs::metadata(&remote).unwrap().nlink(), 2);

    // A pull killed between the link and the rename leaves a name in tmp/: the next
    // clean-up removes that name only.
    std::mem::forget(TempFile::link_in(store.tmp_dir(), &remote).unwrap());
    assert_eq!(fs::metadata(&remote).unwrap().nlink(), 3);
    assert_eq!(store.clean_tmp().unwrap(), 1);
    assert_eq!(fs::metadata(&remote).unwrap().nlink(), 2);
    assert_eq!(fs::read(&remote).unwrap(), content);
    store.verify(&digest).unwrap();
}

/// In a store that never shared an object with a remote, hard links of one large object
/// at several workspace paths are fine: every name is the same read-only data.
#[test]
fn hardlink_mode_links_a_large_object_at_several_paths() {
    use std::os::unix::fs::MetadataExt;
    let (dir, store) = store();
    let content: Vec<u8> = (0..LARGE_FILE + 99).map(|i| (i % 241) as u8).collect();
    let put = store.put_bytes(&content).unwrap();
    for name in ["one.bin", "two.bin"] {
        let dest = dir.path().join(name);
        let (used, _) = store
            .materialize(&put.digest, &dest, &[LinkMode::Hardlink], false)
            .unwrap();
        assert_eq!(used, LinkMode::Hardlink, "{name}");
    }
    assert_eq!(
        fs::metadata(store.object_path(&put.digest))
            .unwrap()
            .nlink(),
        3
    );
}

#[test]
fn corrupt_objects_are_detected_and_never_materialised() {
    let (dir, store) = store();
    let put = store.put_bytes(b"precious").unwrap();
    let path = store.object_path(&put.digest);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    atomic::write_atomic_beside(&path, b"garbage!", 0o444).unwrap();
    assert!(matches!(
        store.verify(&put.digest),
        Err(StoreError::Corrupt { .. })
    ));
    let dest = dir.path().join("out");
    let err = store
        .materialize(&put.digest, &dest, &[LinkMode::Copy], false)
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }));
    assert!(!dest.exists());
}

#[test]
fn materialize_modes() {
    let (dir, store) = store();
    let put = store.put_bytes(b"content").unwrap();
    for mode in LinkMode::ALL {
        let dest = dir.path().join(format!("out-{}", mode.as_str()));
        let (used, _) = store
            .materialize(&put.digest, &dest, &[mode, LinkMode::Copy], true)
            .unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"content");
        if used == LinkMode::Copy {
            let perm = fs::metadata(&dest).unwrap().permissions();
            assert!(!perm.readonly());
            assert_eq!(perm.mode() & 0o111, 0o111, "executable bit restored");
        }
        if matches!(used, LinkMode::Hardlink | LinkMode::Symlink) {
            assert!(fs::metadata(&dest).unwrap().permissions().readonly());
        }
        if used == LinkMode::Symlink {
            assert!(fs::read_link(&dest).unwrap().is_relative());
            assert_eq!(
                link_target_digest(store.objects_dir(), &dest),
                Some(put.digest)
            );
        }
    }
    let missing = Digest::of(b"nope");
    let err = store
        .materialize(&missing, &dir.path().join("x"), &[LinkMode::Copy], false)
        .unwrap_err();
    assert!(matches!(err, StoreError::Missing { .. }));
}

#[test]
fn list_finds_objects_and_strays() {
    let (_dir, store) = store();
    let a = store.put_bytes(b"a").unwrap();
    atomic::write_atomic_beside(&store.objects_dir().join("junk"), b"x", 0o644).unwrap();
    let (objects, strays) = store.list().unwrap();
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0].digest, a.digest);
    assert_eq!(strays.len(), 1);
}

#[test]
fn a_short_object_is_repaired_by_storing_it_again() {
    let (_dir, store) = store();
    let put = store.put_bytes(b"complete content").unwrap();
    let path = store.object_path(&put.digest);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    atomic::write_atomic_beside(&path, b"", 0o444).unwrap();
    assert!(!store.has(&put.digest, put.size));
    assert!(store.put_bytes(b"complete content").unwrap().stored);
    assert_eq!(store.read(&put.digest).unwrap(), b"complete content");
}

#[test]
fn relative_paths() {
    assert_eq!(
        relative_path(
            Path::new("/p/data/sub"),
            Path::new("/p/.cairn/objects/ab/cd")
        ),
        Path::new("../../.cairn/objects/ab/cd")
    );
    assert_eq!(
        relative_path(Path::new("/p"), Path::new("/p/.cairn/x")),
        Path::new(".cairn/x")
    );
}

#[test]
fn refuses_newer_store_version() {
    let dir = tempfile::tempdir().unwrap();
    let cairn = dir.path().join(".cairn");
    Store::open(&cairn).unwrap();
    atomic::write_atomic_beside(&cairn.join("version"), b"7\n", 0o644).unwrap();
    assert!(matches!(
        Store::open(&cairn),
        Err(StoreError::UnsupportedVersion { found: 7, .. })
    ));
    atomic::write_atomic_beside(&cairn.join("version"), b"garbage\n", 0o644).unwrap();
    assert!(matches!(
        Store::open(&cairn),
        Err(StoreError::InvalidVersionFile { .. })
    ));
}
