//! Remotes: a local directory and a real S3 server on 127.0.0.1 (s3s-fs, in this process).

use std::process::Stdio;
use std::time::Duration;

use cairn_e2e::s3::S3Server;
use cairn_e2e::{Project, Rng};

use crate::docs::{
    AddDoc, Credentials, FetchDoc, GcDoc, PullDoc, PushDoc, RemoteAddDoc, RemoteDefaultDoc,
    RemoteListDoc, RemoteRemoveDoc, StatusDoc, decode, json, json_env,
};

/// A project with a tree, a large file (uploaded in parts) and a CSV, all committed.
fn project_with_data() -> Project {
    let p = Project::new();
    p.tree("data/images", 120, 21);
    p.write("data/big.bin", Rng(22).bytes(40 << 20));
    p.write("data/table.csv", "id,amount\n1,2.5\n2,3.5\n");
    p.cairn(&[
        "data",
        "add",
        "data/images",
        "data/big.bin",
        "data/table.csv",
    ])
    .ok();
    p
}

/// `cairn remote add shared DIR`.
fn add_dir_remote(p: &Project, dir: &std::path::Path) {
    p.cairn(&["remote", "add", "shared", dir.to_str().unwrap()])
        .ok();
}

fn add_s3_remote(p: &Project, s3: &S3Server, bucket: &str) {
    let url = format!("s3://{bucket}/projects/demo");
    let endpoint = s3.endpoint();
    p.cairn(&[
        "remote",
        "add",
        "origin",
        &url,
        "--endpoint",
        &endpoint,
        "--region",
        s3.region(),
        "--allow-http",
        "--path-style",
    ])
    .ok();
}

/// Every file below `dir`, relative, with its bytes.
fn snapshot(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn local_directory_remote_round_trip() {
    let p = project_with_data();
    let remote_dir = tempfile::tempdir().unwrap();
    let url = remote_dir.path().join("store");
    p.cairn(&["remote", "add", "shared", url.to_str().unwrap()])
        .ok();
    // Nothing is on the remote yet: --check says so.
    p.cairn(&["data", "status", "--remote", "--check"])
        .code(1)
        .stderr_has("data push");
    let first: PushDoc = json(&p, &["data", "push"], 0);
    assert_eq!(first.uploaded.objects, first.needed);
    assert!(first.needed > 120, "{first:?}");
    let second: PushDoc = json(&p, &["data", "push"], 0);
    assert_eq!(second.uploaded.objects, 0, "nothing new to send");
    assert_eq!(second.already_there, first.needed);
    let status: StatusDoc = json(&p, &["data", "status", "--remote"], 0);
    let remote = status
        .remote
        .as_ref()
        .expect("status --remote names the remote");
    assert_eq!(remote.name, "shared");
    let presence = status.entries[0].remote.as_ref();
    assert_eq!(presence.map(|r| r.missing), Some(0), "{status:?}");
    p.commit("data and remote");

    let clone = p.clone_repo();
    assert!(!clone.exists(".cairn"));
    clone.cairn(&["data", "status", "--check"]).code(1);
    let _: PullDoc = json(&clone, &["data", "pull"], 0);
    assert_eq!(
        snapshot(&clone.path("data")),
        snapshot(&p.path("data")),
        "byte for byte"
    );
    clone.cairn(&["data", "status", "--check"]).ok();
    clone.cairn(&["data", "fsck"]).ok();
}

/// A plain static web server (no WebDAV listing, no Range requests: Python's `http.server`)
/// serving a directory remote's files: `data pull` needs neither, and gets every file, the
/// 40 MiB one in one streamed GET.
#[test]
fn a_plain_web_server_serves_a_pull() {
    use std::io::BufRead;
    let p = project_with_data();
    let remote_dir = tempfile::tempdir().unwrap();
    add_dir_remote(&p, remote_dir.path());
    p.cairn(&["data", "push"]).ok();
    p.commit("data and remote");
    let mut server = std::process::Command::new("python3")
        .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1"])
        .current_dir(remote_dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs Python's http.server");
    let mut banner = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
    let port = banner
        .split_whitespace()
        .skip_while(|word| *word != "port")
        .nth(1)
        .unwrap_or_else(|| panic!("no port in {banner:?}"))
        .to_owned();

    let clone = p.clone_repo();
    clone
        .cairn(&["remote", "add", "web", &format!("http://127.0.0.1:{port}")])
        .ok();
    let pulled = clone.cairn(&["data", "pull", "--remote", "web"]);
    let _ = server.kill();
    let _ = server.wait();
    pulled.ok();
    assert!(
        snapshot(&clone.path("data")) == snapshot(&p.path("data")),
        "byte for byte"
    );
    clone.cairn(&["data", "fsck"]).ok();
}

/// A large object damaged in a directory remote (same size, one byte flipped) never enters
/// the store or the workspace, whether the pull would share the remote's read-only file or
/// copy a writable one. The intact object is shared: the store's object is the remote's file,
/// and the workspace file is a copy of its own.
#[test]
fn a_damaged_large_object_in_a_directory_remote_is_never_used() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let remote_dir = tempfile::tempdir().unwrap();
    let p = Project::new();
    add_dir_remote(&p, remote_dir.path());
    p.write("large.bin", Rng(32).bytes(12 << 20));
    let doc: AddDoc = json(&p, &["data", "add", "large.bin"], 0);
    let digest = doc.entries[0].digest.to_string();
    p.cairn(&["data", "push"]).ok();
    p.commit("large file");
    let object = remote_dir
        .path()
        .join(format!("objects/{}/{}", &digest[..2], &digest[2..]));
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode();
    assert_eq!(mode(&object) & 0o777, 0o444, "pushed objects are read-only");
    let rewrite = |bytes: &[u8], mode: u32| {
        std::fs::set_permissions(&object, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(&object, bytes).unwrap();
        std::fs::set_permissions(&object, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    let mut bytes = std::fs::read(&object).unwrap();
    bytes[5 << 20] ^= 0x01;

    let clone = p.clone_repo();
    for mode in [0o444, 0o644] {
        rewrite(&bytes, mode);
        clone
            .cairn(&["data", "pull"])
            .code(2)
            .stderr_has(&digest)
            .stderr_has("hashes to");
        assert!(!clone.object_path(&digest).exists(), "{mode:o}");
        assert!(!clone.exists("large.bin"));
        assert_eq!(temporaries(&clone), Vec::<std::path::PathBuf>::new());
        assert_eq!(std::fs::metadata(&object).unwrap().nlink(), 1);
    }
    // Repaired from the good copy (same size, so `push` cannot tell): pull works again.
    rewrite(&p.read("large.bin"), 0o444);
    let doc: PullDoc = json(&clone, &["data", "pull"], 0);
    assert_eq!(doc.fetch.downloaded.objects, 1, "{doc:?}");
    assert_eq!(doc.fetch.downloaded.shared, 1, "{doc:?}");
    assert!(clone.path(".cairn/shared-objects").exists());
    assert_eq!(clone.read("large.bin"), p.read("large.bin"));
    assert_eq!(temporaries(&clone), Vec::<std::path::PathBuf>::new());
    let remote_inode = std::fs::metadata(&object).unwrap().ino();
    let stored = std::fs::metadata(clone.object_path(&digest)).unwrap();
    assert_eq!(
        stored.ino(),
        remote_inode,
        "the store shares the remote's file"
    );
    let workspace = std::fs::metadata(clone.path("large.bin")).unwrap();
    assert_ne!(workspace.ino(), remote_inode);
    assert_eq!(workspace.permissions().mode() & 0o777, 0o644);
    clone.cairn(&["data", "fsck"]).ok();

    // Where checkouts link workspace files to objects, nothing is shared with the remote.
    let linked = p.clone_repo();
    let config = String::from_utf8(linked.read("cairn.toml")).unwrap();
    let default_modes = "link = [\"reflink\", \"copy\"]";
    assert!(config.contains(default_modes), "{config}");
    linked.write(
        "cairn.toml",
        config.replace(default_modes, "link = [\"hardlink\", \"copy\"]"),
    );
    let doc: PullDoc = json(&linked, &["data", "pull"], 0);
    assert_eq!(doc.fetch.downloaded.shared, 0, "{doc:?}");
    assert!(!linked.path(".cairn/shared-objects").exists());
    assert_eq!(linked.read("large.bin"), p.read("large.bin"));
    let stored = std::fs::metadata(linked.object_path(&digest)).unwrap();
    assert_ne!(stored.ino(), remote_inode);
    let workspace = std::fs::metadata(linked.path("large.bin")).unwrap();
    assert_eq!(
        workspace.ino(),
        stored.ino(),
        "hardlink mode links the workspace"
    );
    assert_eq!(std::fs::metadata(&object).unwrap().nlink(), 2);

    // The summary says what was shared.
    p.clone_repo()
        .cairn(&["data", "fetch"])
        .ok()
        .stdout_has("fetched 1 object (12.00 MiB; 1 shared with the remote's file by a hard link)");
}

/// Files left in the store's temporary directory (a pull's workspace copies are made there).
fn temporaries(p: &Project) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(p.path(".cairn/tmp"))
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

/// A large object on S3 is downloaded in ranges, in parallel, each hashed as it arrives, and
/// written to the store and the workspace at once: one flipped byte in a middle range, or an
/// object cut short, and nothing enters either; the intact object comes down byte for byte.
#[test]
fn a_damaged_large_object_on_s3_is_never_used() {
    use std::os::unix::fs::PermissionsExt;
    // Three ranges of 16 MiB, the last one short.
    let (s3, p, digest, object) = pushed_to_s3(&[("large.bin", &Rng(33).bytes((40 << 20) + 123))]);
    let good = p.read("large.bin");

    let mut flipped = good.clone();
    flipped[(16 << 20) + 7] ^= 0x80;
    std::fs::write(&object, &flipped).unwrap();
    let clone = p.clone_repo();
    clone
        .cairn_env(&["data", "pull"], &s3.env())
        .code(2)
        .stderr_has(&digest)
        .stderr_has("hashes to");
    assert!(!clone.object_path(&digest).exists());
    assert!(!clone.exists("large.bin"));
    assert_eq!(temporaries(&clone), Vec::<std::path::PathBuf>::new());

    std::fs::write(&object, &good[..30 << 20]).unwrap();
    clone
        .cairn_env(&["data", "pull"], &s3.env())
        .code(2)
        .stderr_has(&digest)
        .stderr_has(&format!("{} bytes instead of {}", 30 << 20, good.len()));
    assert!(!clone.object_path(&digest).exists());
    assert!(!clone.exists("large.bin"));

    std::fs::write(&object, &good).unwrap();
    clone.cairn_env(&["data", "pull"], &s3.env()).ok();
    assert!(clone.read("large.bin") == good, "the pulled file differs");
    let mode = std::fs::metadata(clone.path("large.bin"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644, "a copy in the workspace is writable");
    assert_eq!(temporaries(&clone), Vec::<std::path::PathBuf>::new());
    clone.cairn(&["data", "status", "--check"]).ok();
    clone.cairn(&["data", "fsck"]).ok();
}

/// Kills `child` as soon as `arrived` holds, or once it has exited: not after a fixed time,
/// which a busy machine may miss (nothing arrived yet) and a quiet one overshoot (all done).
fn kill_once(child: &mut std::process::Child, nothing: &str, arrived: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !arrived() && child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{nothing} in 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn s3_push_pull_and_resume() {
    let s3 = S3Server::start();
    s3.create_bucket("cairn-data");
    let p = project_with_data();
    add_s3_remote(&p, &s3, "cairn-data");
    p.commit("data and remote");
    let env = s3.env();

    // Killed part-way, then resumed: nothing already on the server is sent again.
    let mut child = p
        .command(&["data", "push", "--jobs", "2"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    kill_once(&mut child, "the push sent nothing", || {
        s3.list("cairn-data")
            .iter()
            .any(|k| k.contains("/objects/"))
    });
    let resumed: PushDoc = json_env(&p, &["data", "push"], &env, 0);
    let needed = resumed.needed;
    let sent = resumed.uploaded.objects;
    let already = resumed.already_there;
    assert_eq!(already + sent, needed);
    assert!(
        already > 0 && sent > 0,
        "the push was interrupted part-way: {already} there, {sent} sent"
    );
    let again: PushDoc = json_env(&p, &["data", "push"], &env, 0);
    assert_eq!(again.uploaded.objects, 0, "a second push sends nothing");
    // Only whole objects are visible on the server.
    let keys = s3.list("cairn-data");
    assert_eq!(
        keys.iter().filter(|k| k.contains("/objects/")).count() as u64,
        needed,
        "{keys:?}"
    );

    // A fresh clone with an empty .cairn/ gets everything back, verified.
    let clone = p.clone_repo();
    let pulled: PullDoc = json_env(&clone, &["data", "pull"], &env, 0);
    assert_eq!(pulled.fetch.downloaded.objects, needed);
    assert_eq!(snapshot(&clone.path("data")), snapshot(&p.path("data")));
    clone.cairn(&["data", "fsck"]).ok();
    let status: StatusDoc = json_env(&clone, &["data", "status", "--remote", "--check"], &env, 0);
    assert!(status.clean, "{status:?}");
    assert!(
        status
            .entries
            .iter()
            .all(|e| e.remote.as_ref().is_some_and(|r| r.missing == 0)),
        "{status:?}"
    );
}

/// The in-memory S3 backend the benchmark uses speaks the same protocol: a project with more
/// objects than one listing page and a multipart-sized file goes there and back.
#[test]
fn the_benchmark_s3_server_round_trips_a_project() {
    let s3 = S3Server::start_in_memory();
    s3.create_bucket("bench");
    let p = project_with_data();
    p.tree("data/many", 1100, 23);
    p.cairn(&["data", "add", "data/many"]).ok();
    add_s3_remote(&p, &s3, "bench");
    p.commit("data and remote");
    let env = s3.env();
    let first: PushDoc = json_env(&p, &["data", "push"], &env, 0);
    let needed = first.needed;
    assert!(needed > 1200, "{needed}");
    assert_eq!(
        s3.list("bench").len() as u64,
        needed + 1,
        "objects and the version"
    );
    // A second push lists more than one page and sends nothing.
    let second: PushDoc = json_env(&p, &["data", "push"], &env, 0);
    assert_eq!(second.uploaded.objects, 0);
    assert_eq!(second.already_there, needed);

    let clone = p.clone_repo();
    clone.cairn_env(&["data", "pull"], &env).ok();
    assert_eq!(snapshot(&clone.path("data")), snapshot(&p.path("data")));
    clone.cairn(&["data", "fsck"]).ok();
}

#[test]
fn a_bucket_name_the_server_refuses_is_a_usage_error() {
    let s3 = S3Server::start_in_memory();
    let p = Project::new();
    p.write("a.csv", "a\n1\n");
    p.cairn(&["data", "add", "a.csv"]).ok();
    add_s3_remote(&p, &s3, "ab");
    p.cairn_env(&["data", "push"], &s3.env())
        .code(2)
        .stderr_has("bucket name");
}

/// Bodies sent without a payload hash (UNSIGNED-PAYLOAD, the default over TLS) are accepted,
/// and stored byte for byte.
#[test]
fn unsigned_payloads_can_be_chosen_in_the_local_config() {
    let s3 = S3Server::start();
    s3.create_bucket("unsigned");
    let p = project_with_data();
    add_s3_remote(&p, &s3, "unsigned");
    p.write(
        ".cairn/config.toml",
        "[remote.origin]\naws_unsigned_payload = \"true\"\n",
    );
    p.commit("data and remote");
    let env = s3.env();
    p.cairn_env(&["data", "push"], &env).ok();
    let clone = p.clone_repo();
    clone.cairn_env(&["data", "pull"], &env).ok();
    assert_eq!(snapshot(&clone.path("data")), snapshot(&p.path("data")));
}

/// A project with these files tracked, committed and pushed to a new S3 server; returns the
/// server, the project, and the first file's digest and the path of its object on the server.
fn pushed_to_s3(files: &[(&str, &[u8])]) -> (S3Server, Project, String, std::path::PathBuf) {
    let s3 = S3Server::start();
    s3.create_bucket("cairn-data");
    let p = Project::new();
    let mut args = vec!["data", "add"];
    for (path, bytes) in files {
        p.write(path, bytes);
        args.push(path);
    }
    let doc: AddDoc = json(&p, &args, 0);
    let digest = doc.entries[0].digest.to_string();
    add_s3_remote(&p, &s3, "cairn-data");
    p.commit("data");
    p.cairn_env(&["data", "push"], &s3.env()).ok();
    let key = format!("projects/demo/objects/{}/{}", &digest[..2], &digest[2..]);
    let object = s3.object_path("cairn-data", &key);
    (s3, p, digest, object)
}

/// `cmd` run with writes limited to files of 2 MiB or so (`ulimit -f 4096`: blocks of 512
/// bytes in dash, 1 KiB in bash) and SIGXFSZ ignored: a write past the limit then fails with
/// `EFBIG`, as one fails on a full disk. (Tests run as root, which a read-only directory does
/// not stop.)
fn with_small_files(cmd: &std::process::Command) -> std::process::Command {
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c")
        .arg("ulimit -f 4096 && trap '' XFSZ && exec \"$0\" \"$@\"")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => sh.env(key, value),
            None => sh.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        sh.current_dir(dir);
    }
    sh.stdin(Stdio::null());
    sh
}

/// A download that cannot write into the store (here: a file size limit, as a full disk
/// would) stops the fetch with the store's error naming the file, not one "damaged object"
/// per object; nothing partial stays, and the next pull works.
#[test]
fn a_download_that_cannot_write_stops_with_the_store_error() {
    let (s3, p, digest, _) = pushed_to_s3(&[("large.bin", &Rng(34).bytes(12 << 20))]);
    let clone = p.clone_repo();
    let mut cmd = clone.command(&["data", "pull"]);
    cmd.envs(s3.env());
    let out = with_small_files(&cmd).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("cannot write"), "{stderr}");
    assert!(stderr.contains(".cairn/tmp/"), "{stderr}");
    assert!(stderr.contains("File too large"), "{stderr}");
    assert!(!stderr.contains("cannot read the local object"), "{stderr}");
    assert!(!clone.object_path(&digest).exists());
    assert!(!clone.exists("large.bin"));
    assert_eq!(temporaries(&clone), Vec::<std::path::PathBuf>::new());

    clone.cairn_env(&["data", "pull"], &s3.env()).ok();
    assert_eq!(clone.read("large.bin"), p.read("large.bin"));
}

#[test]
fn a_corrupt_object_on_the_server_is_reported_and_never_used() {
    let (s3, p, digest, object) = pushed_to_s3(&[
        ("a.csv", b"the real content\n"),
        ("b.csv", b"other content\n"),
    ]);
    std::fs::write(&object, "tampered on the server\n").unwrap();

    let clone = p.clone_repo();
    clone
        .cairn_env(&["data", "pull"], &s3.env())
        .code(2)
        .stderr_has(&digest)
        .stderr_has("hashes to");
    assert!(
        !clone.object_path(&digest).exists(),
        "the corrupt object never enters the store"
    );
    assert!(
        !clone.exists("a.csv"),
        "nothing is checked out from a failed fetch"
    );
    // The intact object was fetched all the same.
    clone.cairn_env(&["data", "pull", "b.csv"], &s3.env()).ok();
    assert_eq!(clone.read("b.csv"), b"other content\n");
    // A push from the machine with the good copy repairs the remote (the sizes differ).
    let pushed: PushDoc = json_env(&p, &["data", "push"], &s3.env(), 0);
    assert_eq!(pushed.uploaded.objects, 1);
    clone.cairn_env(&["data", "pull"], &s3.env()).ok();
    assert_eq!(clone.read("a.csv"), b"the real content\n");
}

/// An object the remote lost is reported as such (asked for by HEAD: a few objects are not
/// worth a listing of the whole remote); the others arrive.
#[test]
fn an_object_missing_on_the_server_is_reported_by_digest() {
    let (s3, p, digest, object) = pushed_to_s3(&[
        ("a.csv", b"lost on the server\n"),
        ("b.csv", b"still there\n"),
    ]);
    std::fs::remove_file(&object).unwrap();

    let clone = p.clone_repo();
    clone
        .cairn_env(&["data", "pull"], &s3.env())
        .code(2)
        .stderr_has(&digest)
        .stderr_has("not on the remote");
    clone.cairn_env(&["data", "pull", "b.csv"], &s3.env()).ok();
    assert_eq!(clone.read("b.csv"), b"still there\n");
    assert!(!clone.exists("a.csv"));
    // `push` asks the same way, and sends the lost object again.
    let pushed: PushDoc = json_env(&p, &["data", "push"], &s3.env(), 0);
    assert_eq!(pushed.uploaded.objects, 1);
    clone.cairn_env(&["data", "pull"], &s3.env()).ok();
    assert_eq!(clone.read("a.csv"), b"lost on the server\n");
}

#[test]
fn wrong_credentials_and_missing_buckets_are_clear_errors() {
    let s3 = S3Server::start();
    s3.create_bucket("cairn-data");
    let p = Project::new();
    p.write("a.csv", "a\n");
    p.cairn(&["data", "add", "a.csv"]).ok();
    add_s3_remote(&p, &s3, "cairn-data");
    let mut env = s3.env();
    for (k, v) in &mut env {
        if k == "AWS_SECRET_ACCESS_KEY" {
            *v = "not-the-secret".into();
        }
    }
    p.cairn_env(&["data", "push"], &env)
        .code(2)
        .stderr_has("access denied")
        .stderr_has("hint:");
    p.cairn_env(&["-v", "data", "push"], &s3.env())
        .ok()
        .stderr_has("credentials from the environment");

    p.cairn(&[
        "remote",
        "add",
        "nowhere",
        "s3://no-such-bucket/x",
        "--endpoint",
        &s3.endpoint(),
        "--allow-http",
        "--path-style",
    ])
    .ok();
    p.cairn_env(&["data", "push", "--remote", "nowhere"], &s3.env())
        .code(2)
        .stderr_has("does not exist");
    p.cairn_env(&["data", "fetch", "--remote", "nowhere"], &s3.env())
        .code(2)
        .stderr_has("does not exist");
}

/// Credentials as users keep them for every AWS tool: `~/.aws/credentials` and
/// `~/.aws/config`, the profile chosen by `AWS_PROFILE` or `aws_profile` in
/// `.cairn/config.toml`, keys or a `credential_process`; against a server that checks the
/// signatures. (HOME is the project's root in these tests.)
#[test]
fn aws_profiles_from_the_users_files_are_used() {
    let s3 = S3Server::start();
    s3.create_bucket("profiles");
    let p = Project::new();
    p.write("a.csv", "a\n1\n");
    p.cairn(&["data", "add", "a.csv"]).ok();
    add_s3_remote(&p, &s3, "profiles");
    p.commit("data and remote");
    let (key, secret) = (s3.access_key(), s3.secret_key());
    p.write(
        ".aws/credentials",
        format!(
            "[team]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n\n\
             [stale]\naws_access_key_id = {key}\naws_secret_access_key = revoked\n"
        ),
    );
    p.write(
        ".aws/get-keys.sh",
        format!(
            "printf '%s' '{{\"Version\": 1, \"AccessKeyId\": \"{key}\", \
             \"SecretAccessKey\": \"{secret}\"}}'\n"
        ),
    );
    let script = p.path(".aws/get-keys.sh");
    p.write(
        ".aws/config",
        format!(
            "[profile tools]\ncredential_process = sh '{}'\n\n\
             [profile sso]\nsso_session = corp\n",
            script.display()
        ),
    );
    let profile = |name: &str| vec![("AWS_PROFILE".to_string(), name.to_string())];

    let run = p.cairn_env(&["-v", "data", "push"], &profile("team"));
    run.ok()
        .stderr_has("credentials from the AWS profile `team` (keys at ");
    let doc: PushDoc = json_env(&p, &["data", "push"], &profile("team"), 0);
    assert_eq!(doc.remote.credentials, Credentials::AwsProfile);
    let described = doc.remote.aws_profile.unwrap();
    assert!(described.contains(".aws/credentials:2"), "{described}");

    // A profile's keys that the server refuses, and a profile that is in neither file.
    p.cairn_env(&["data", "push"], &profile("stale"))
        .code(2)
        .stderr_has("access denied")
        .stderr_has("AWS_PROFILE");
    p.cairn_env(&["data", "push"], &profile("nope"))
        .code(2)
        .stderr_has("the AWS profile `nope` (AWS_PROFILE) is in neither")
        .stderr_has("hint: fix that AWS profile, or choose another");
    // IAM Identity Center is refused with the way around it, naming the line.
    p.cairn_env(&["data", "push"], &profile("sso"))
        .code(2)
        .stderr_has(".aws/config:5: the AWS profile `sso` signs in with IAM Identity Center")
        .stderr_has("aws configure export-credentials --profile sso --format process");

    // A credential process: the script prints the keys as the AWS CLI does.
    p.write("b.csv", "b\n2\n");
    p.cairn(&["data", "add", "b.csv"]).ok();
    p.cairn_env(&["-v", "data", "push"], &profile("tools"))
        .ok()
        .stderr_has("credentials from the AWS profile `tools` (credential_process at ")
        .stdout_has("pushed 1 object");

    // Keys in the environment beat AWS_PROFILE, as for the AWS CLI ...
    let mut env = profile("team");
    env.push(("AWS_ACCESS_KEY_ID".into(), key.into()));
    env.push(("AWS_SECRET_ACCESS_KEY".into(), "wrong".into()));
    p.cairn_env(&["data", "push"], &env)
        .code(2)
        .stderr_has("access denied");
    // ... and a profile named in .cairn/config.toml beats them, as `--profile` does.
    p.write(
        ".cairn/config.toml",
        "[remote.origin]\naws_profile = \"team\"\n",
    );
    p.cairn_env(&["-v", "data", "push"], &env)
        .ok()
        .stderr_has("credentials from the AWS profile `team`");
    // A teammate's clone pulls with its own HOME's credential process.
    let clone = p.clone_repo();
    clone.write(
        ".cairn/config.toml",
        "[remote.origin]\naws_profile = \"tools\"\n",
    );
    clone.write(".aws/get-keys.sh", p.read(".aws/get-keys.sh"));
    let config = String::from_utf8(p.read(".aws/config")).unwrap().replace(
        &script.display().to_string(),
        &clone.path(".aws/get-keys.sh").display().to_string(),
    );
    clone.write(".aws/config", config);
    clone.cairn(&["data", "pull"]).ok();
    assert_eq!(clone.read("a.csv"), b"a\n1\n");
}

#[test]
fn remote_management_and_credentials_policy() {
    let p = Project::new();
    let one: RemoteAddDoc = json(&p, &["remote", "add", "one", "../one"], 0);
    assert_eq!((one.name.as_str(), one.url.as_str()), ("one", "../one"));
    assert!(one.default, "the only remote is the default");
    let two: RemoteAddDoc = json(
        &p,
        &[
            "remote",
            "add",
            "two",
            "s3://bucket/prefix",
            "--region",
            "eu-west-1",
        ],
        0,
    );
    assert!(!two.default, "{two:?}");
    let list: RemoteListDoc = json(&p, &["remote", "list"], 0);
    let names: Vec<&str> = list.remotes.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["one", "two"]);
    assert!(list.remotes[0].default, "the first remote is the default");
    assert!(!list.remotes[1].default);
    assert_eq!(list.remotes[1].url, "s3://bucket/prefix");
    assert_eq!(list.remotes[1].region.as_deref(), Some("eu-west-1"));
    assert_eq!(list.remotes[0].region, None, "unset settings are left out");
    let default: RemoteDefaultDoc = json(&p, &["remote", "default", "two"], 0);
    assert_eq!(default.name, "two");
    let list: RemoteListDoc = json(&p, &["remote", "list"], 0);
    assert!(list.remotes[1].default);
    assert!(!list.remotes[0].default);
    p.cairn(&["remote", "add", "two", "../x"])
        .code(2)
        .stderr_has("already exists");
    p.cairn(&["remote", "add", "bad name", "../x"]).code(2);
    p.cairn(&["remote", "default", "nope"])
        .code(2)
        .stderr_has("no remote named `nope`");
    let removed: RemoteRemoveDoc = json(&p, &["remote", "remove", "two"], 0);
    assert_eq!(removed.name, "two");
    let toml = String::from_utf8(p.read("cairn.toml")).unwrap();
    assert!(
        !toml.contains("two") && toml.contains("[remote.one]"),
        "{toml}"
    );
    assert!(
        toml.contains("# cairn project configuration"),
        "comments are kept:\n{toml}"
    );

    // Secrets never go into the committed cairn.toml.
    std::fs::write(
        p.path("cairn.toml"),
        format!("{toml}\n[remote.leaky]\nurl = \"s3://b/p\"\nsecret_access_key = \"x\"\n"),
    )
    .unwrap();
    p.cairn(&["data", "ls"])
        .code(2)
        .stderr_has("credential")
        .stderr_has(".cairn/config.toml");
    std::fs::write(p.path("cairn.toml"), &toml).unwrap();

    // An http(s) remote is read-only.
    p.cairn(&["remote", "add", "web", "https://127.0.0.1:9/data"])
        .ok();
    p.write("a.csv", "a\n");
    p.cairn(&["data", "add", "a.csv"]).ok();
    p.cairn(&["data", "push", "--remote", "web"])
        .code(2)
        .stderr_has("read-only");
}

#[test]
fn gc_on_a_remote_lists_first_and_keeps_history_on_request() {
    let remote_dir = tempfile::tempdir().unwrap();
    let p = Project::new();
    add_dir_remote(&p, remote_dir.path());
    p.write("data.csv", "v1\n");
    let v1 = json::<AddDoc>(&p, &["data", "add", "data.csv"], 0).entries[0]
        .digest
        .to_string();
    p.cairn(&["data", "push"]).ok();
    p.commit("v1");
    p.write("data.csv", "v2\n");
    p.cairn(&["data", "add", "data.csv"]).ok();
    p.cairn(&["data", "push"]).ok();
    p.commit("v2");
    let object = remote_dir
        .path()
        .join(format!("objects/{}/{}", &v1[..2], &v1[2..]));
    assert!(object.exists());

    let kept: GcDoc = json(&p, &["data", "gc", "--remote", "--all-commits", "--yes"], 0);
    assert!(kept.removed.is_empty(), "history keeps v1: {kept:?}");
    assert!(!kept.dry_run);
    let listed: GcDoc = json(&p, &["data", "gc", "--remote"], 0);
    assert!(listed.dry_run, "without --yes nothing is deleted");
    let remote = listed
        .remote
        .as_ref()
        .expect("gc --remote names the remote");
    assert_eq!(remote.name, "shared");
    assert_eq!(listed.removed[0].digest, v1.as_str());
    assert!(object.exists());
    // What killed uploads leave in a directory remote: staging files beside the objects and
    // cairn's own temporary files. Old ones go with the next gc; recent ones may belong to a
    // push that is running and stay.
    let shard = object.parent().unwrap().to_path_buf();
    let old_staging = shard.join("deadbeef#3");
    let old_tmp = remote_dir.path().join("tmp/999-1.tmp");
    let recent_tmp = remote_dir.path().join("tmp/999-2.tmp");
    std::fs::create_dir_all(remote_dir.path().join("tmp")).unwrap();
    for path in [&old_staging, &old_tmp, &recent_tmp] {
        std::fs::write(path, "partial").unwrap();
    }
    let two_hours_ago = std::time::SystemTime::now() - Duration::from_secs(7200);
    for path in [&old_staging, &old_tmp] {
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
    }
    let collected: GcDoc = json(&p, &["data", "gc", "--remote", "--yes"], 0);
    assert!(!object.exists());
    assert_eq!(collected.temp_files_removed, 2);
    assert!(!old_staging.exists() && !old_tmp.exists());
    assert!(recent_tmp.exists(), "a recent upload is left alone");
    // What the lock pins is still there.
    let clone = p.clone_repo();
    clone.cairn(&["data", "pull"]).ok();
    assert_eq!(clone.read("data.csv"), b"v2\n");
}

#[test]
fn an_interrupted_fetch_resumes_and_leaves_no_partial_object() {
    let s3 = S3Server::start();
    s3.create_bucket("cairn-data");
    let p = project_with_data();
    add_s3_remote(&p, &s3, "cairn-data");
    p.commit("data and remote");
    let env = s3.env();
    p.cairn_env(&["data", "push"], &env).ok();

    let clone = p.clone_repo();
    let mut child = clone
        .command(&["data", "fetch", "--jobs", "1"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let objects = clone.path(".cairn/objects");
    kill_once(&mut child, "the fetch stored nothing", || {
        std::fs::read_dir(&objects).is_ok_and(|shards| {
            shards
                .flatten()
                .filter_map(|shard| std::fs::read_dir(shard.path()).ok())
                .flat_map(|entries| entries.flatten())
                .any(|e| !e.file_name().to_string_lossy().ends_with(".tmp"))
        })
    });
    // Whatever arrived is whole and verified.
    clone.cairn(&["data", "fsck"]).ok();
    let doc: FetchDoc = json_env(&clone, &["data", "fetch"], &env, 0);
    let needed = doc.needed;
    let here = doc.already_here;
    assert_eq!(here + doc.downloaded.objects, needed);
    assert!(
        here > 0,
        "the first fetch stored objects before it was killed"
    );
    assert!(
        here < needed,
        "the kill interrupted the first fetch ({here} of {needed} objects were stored)"
    );
    assert_eq!(
        std::fs::read_dir(clone.path(".cairn/tmp")).unwrap().count(),
        0
    );
    clone.cairn(&["data", "checkout"]).ok();
    assert_eq!(snapshot(&clone.path("data")), snapshot(&p.path("data")));
}

#[test]
fn a_damaged_local_object_is_never_pushed() {
    use std::os::unix::fs::PermissionsExt;
    let remote_dir = tempfile::tempdir().unwrap();
    let p = Project::new();
    add_dir_remote(&p, remote_dir.path());
    p.write("small.csv", "small\n");
    p.write("large.bin", Rng(31).bytes(36 << 20));
    let doc: AddDoc = json(&p, &["data", "add", "small.csv", "large.bin"], 0);
    for entry in &doc.entries {
        let object = p.object_path(entry.digest.as_str());
        std::fs::set_permissions(&object, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut bytes = std::fs::read(&object).unwrap();
        bytes[0] ^= 0xff;
        std::fs::write(&object, bytes).unwrap();
    }
    let run = p.cairn(&["--json", "data", "push"]);
    run.code(2).stderr_has("could not be pushed");
    let pushed: PushDoc = decode(&run);
    let failures = &pushed.uploaded.failures;
    assert_eq!(failures.len(), 2, "{failures:?}");
    for failure in failures {
        assert!(
            doc.entries.iter().any(|e| e.digest == failure.digest),
            "{failure:?}"
        );
        assert!(failure.reason.contains("damaged"), "{failure:?}");
    }
    for entry in &doc.entries {
        let d = entry.digest.as_str();
        assert!(
            !remote_dir
                .path()
                .join(format!("objects/{}/{}", &d[..2], &d[2..]))
                .exists()
        );
    }
}
