//! The in-process S3 server (`cairn_test_support::s3`, re-exported as `cairn_e2e::s3`) against
//! a real S3 client (object_store's AmazonS3) and a `cairn` subprocess, so the end-to-end tests
//! can rely on it.

use std::sync::Arc;

use cairn_e2e::Rng;
use cairn_test_support::s3::S3Server;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

fn client(s3: &S3Server, bucket: &str, secret: &str) -> Arc<dyn ObjectStore> {
    let store = AmazonS3Builder::new()
        .with_endpoint(s3.endpoint())
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .with_region(s3.region())
        .with_bucket_name(bucket)
        .with_access_key_id(s3.access_key())
        .with_secret_access_key(secret)
        .build()
        .expect("S3 client");
    Arc::new(store)
}

fn store(s3: &S3Server, bucket: &str) -> Arc<dyn ObjectStore> {
    client(s3, bucket, s3.secret_key())
}

async fn keys(store: &dyn ObjectStore, prefix: Option<&str>) -> Vec<String> {
    let prefix = prefix.map(Path::from);
    let mut keys: Vec<String> = store
        .list(prefix.as_ref())
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .expect("list");
    keys.sort();
    keys
}

#[tokio::test]
async fn put_get_head_list_delete() {
    let s3 = S3Server::start();
    assert!(s3.endpoint().starts_with("http://127.0.0.1:"));
    s3.create_bucket("data");
    let store = store(&s3, "data");

    store
        .put(
            &Path::from("objects/ab/cdef"),
            PutPayload::from_static(b"hello"),
        )
        .await
        .expect("put");
    store
        .put(
            &Path::from("objects/ab/cdeg"),
            PutPayload::from_static(b"world!"),
        )
        .await
        .expect("put");
    store
        .put(&Path::from("manifest.json"), PutPayload::from_static(b"{}"))
        .await
        .expect("put");

    let got = store
        .get(&Path::from("objects/ab/cdef"))
        .await
        .expect("get");
    assert_eq!(got.bytes().await.expect("body").as_ref(), b"hello");

    let range = store
        .get_range(&Path::from("objects/ab/cdeg"), 1..4)
        .await
        .expect("ranged get");
    assert_eq!(range.as_ref(), b"orl");

    let meta = store
        .head(&Path::from("objects/ab/cdeg"))
        .await
        .expect("head");
    assert_eq!(meta.size, 6);
    assert!(meta.e_tag.is_some());

    let missing = store
        .head(&Path::from("objects/ab/nope"))
        .await
        .unwrap_err();
    assert!(
        matches!(missing, object_store::Error::NotFound { .. }),
        "{missing:?}"
    );
    let missing = store.get(&Path::from("objects/ab/nope")).await.unwrap_err();
    assert!(
        matches!(missing, object_store::Error::NotFound { .. }),
        "{missing:?}"
    );

    assert_eq!(
        keys(&*store, None).await,
        ["manifest.json", "objects/ab/cdef", "objects/ab/cdeg"]
    );
    assert_eq!(
        keys(&*store, Some("objects")).await,
        ["objects/ab/cdef", "objects/ab/cdeg"]
    );
    // object_store lists "objects/a" as the prefix "objects/a/", so no partial segments.
    assert!(keys(&*store, Some("objects/a")).await.is_empty());
    assert_eq!(
        s3.list("data"),
        ["manifest.json", "objects/ab/cdef", "objects/ab/cdeg"]
    );

    let listing = store
        .list_with_delimiter(Some(&Path::from("objects")))
        .await
        .expect("list with delimiter");
    assert!(listing.objects.is_empty());
    assert_eq!(listing.common_prefixes, [Path::from("objects/ab")]);

    store
        .delete(&Path::from("objects/ab/cdef"))
        .await
        .expect("delete");
    // Deleting what is not there succeeds, as on S3.
    store
        .delete(&Path::from("objects/ab/cdef"))
        .await
        .expect("delete again");
    assert_eq!(s3.list("data"), ["manifest.json", "objects/ab/cdeg"]);
    assert_eq!(
        keys(&*store, None).await,
        ["manifest.json", "objects/ab/cdeg"]
    );
}

#[tokio::test]
async fn multipart_upload_of_20_mib() {
    let s3 = S3Server::start();
    s3.create_bucket("big");
    let store = store(&s3, "big");
    // 20 different MiB (a random MiB, each copy stamped with its index): cheap to make in
    // an unoptimized build, and parts in the wrong order would not compare equal.
    let mib = Rng(7).bytes(1 << 20);
    let mut data = Vec::with_capacity(20 << 20);
    for i in 0..20u64 {
        data.extend_from_slice(&i.to_le_bytes());
        data.extend_from_slice(&mib[8..]);
    }

    let upload = store
        .put_multipart(&Path::from("blobs/large.bin"))
        .await
        .expect("start multipart upload");
    let mut writer = WriteMultipart::new(upload); // 5 MiB parts
    for chunk in data.chunks(1 << 20) {
        writer.write(chunk);
    }
    writer.finish().await.expect("complete multipart upload");

    let meta = store
        .head(&Path::from("blobs/large.bin"))
        .await
        .expect("head");
    assert_eq!(meta.size, 20 << 20);
    // A multipart ETag: md5 of the part md5s, then the part count.
    assert!(
        meta.e_tag.as_deref().is_some_and(|e| e.ends_with("-4\"")),
        "{:?}",
        meta.e_tag
    );
    // Across the boundary of parts 1 and 2 (a full GET of 20 MiB costs ~0.4 s unoptimized).
    let part = 5 << 20;
    let got = store
        .get_range(&Path::from("blobs/large.bin"), part - 16..part + 16)
        .await
        .expect("ranged get");
    assert_eq!(got.as_ref(), &data[part as usize - 16..part as usize + 16]);
    let stored = std::fs::read(s3.object_path("big", "blobs/large.bin")).expect("object file");
    assert!(
        stored == data,
        "the object's file differs from what was uploaded"
    );
    // Parts are gone from the server once completed; the bucket holds only the object.
    assert_eq!(s3.list("big"), ["blobs/large.bin"]);
}

#[tokio::test]
async fn wrong_credentials_are_refused() {
    let s3 = S3Server::start();
    s3.create_bucket("data");
    store(&s3, "data")
        .put(&Path::from("a"), PutPayload::from_static(b"a"))
        .await
        .expect("put with the right keys");

    let wrong = client(&s3, "data", "not-the-secret");
    let err = wrong.get(&Path::from("a")).await.unwrap_err();
    assert!(
        matches!(err, object_store::Error::PermissionDenied { .. }),
        "{err:?}"
    );
    let err = wrong
        .put(&Path::from("b"), PutPayload::from_static(b"b"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, object_store::Error::PermissionDenied { .. }),
        "{err:?}"
    );

    let unknown_key = AmazonS3Builder::new()
        .with_endpoint(s3.endpoint())
        .with_allow_http(true)
        .with_region(s3.region())
        .with_bucket_name("data")
        .with_access_key_id("someone-else")
        .with_secret_access_key(s3.secret_key())
        .build()
        .expect("S3 client");
    let err = unknown_key.get(&Path::from("a")).await.unwrap_err();
    assert!(
        matches!(err, object_store::Error::PermissionDenied { .. }),
        "{err:?}"
    );
    assert_eq!(s3.list("data"), ["a"]);
}

#[tokio::test]
async fn a_missing_bucket_is_an_error() {
    let s3 = S3Server::start();
    let store = store(&s3, "no-such-bucket");

    let err = store.get(&Path::from("a")).await.unwrap_err();
    assert!(
        matches!(err, object_store::Error::NotFound { .. }),
        "{err:?}"
    );
    let err = store.head(&Path::from("a")).await.unwrap_err();
    assert!(
        matches!(err, object_store::Error::NotFound { .. }),
        "{err:?}"
    );
    // object_store reports a failed listing as a generic error, whatever the status.
    let err = store.list(None).try_collect::<Vec<_>>().await.unwrap_err();
    assert!(format!("{err:?}").contains("NoSuchBucket"), "{err:?}");
    let err = store
        .put(&Path::from("a"), PutPayload::from_static(b"a"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, object_store::Error::NotFound { .. }),
        "{err:?}"
    );
    let err = store.put_multipart(&Path::from("a")).await.unwrap_err();
    assert!(
        matches!(err, object_store::Error::NotFound { .. }),
        "{err:?}"
    );
    assert!(
        !s3.root().join("no-such-bucket").exists(),
        "a PUT created the bucket"
    );
}

#[tokio::test]
async fn a_file_changed_on_the_server_is_what_get_returns() {
    let s3 = S3Server::start();
    s3.create_bucket("data");
    let store = store(&s3, "data");
    let key = "objects/12/3456";
    store
        .put(&Path::from(key), PutPayload::from_static(b"original"))
        .await
        .expect("put");
    let etag = store.head(&Path::from(key)).await.expect("head").e_tag;

    let file = s3.object_path("data", key);
    assert_eq!(std::fs::read(&file).expect("object file"), b"original");
    std::fs::write(&file, b"corrupt!").expect("corrupt the object");

    let got = store
        .get(&Path::from(key))
        .await
        .expect("get")
        .bytes()
        .await;
    assert_eq!(got.expect("body").as_ref(), b"corrupt!");
    // The server keeps the ETag from the upload: corruption is invisible to ETags.
    let after = store.head(&Path::from(key)).await.expect("head");
    assert_eq!(after.e_tag, etag);

    // Truncation and removal show up too.
    std::fs::write(&file, b"cut").expect("truncate the object");
    let got = store
        .get(&Path::from(key))
        .await
        .expect("get")
        .bytes()
        .await;
    assert_eq!(got.expect("body").as_ref(), b"cut");
    std::fs::remove_file(&file).expect("remove the object");
    let err = store.get(&Path::from(key)).await.unwrap_err();
    assert!(
        matches!(err, object_store::Error::NotFound { .. }),
        "{err:?}"
    );
}

/// `S3Server::env` is all a `cairn` subprocess needs to reach the server: a remote declared
/// without an endpoint, region or keys pushes there through those variables alone, and a
/// wrong secret among them is refused by the server.
#[test]
fn env_points_a_subprocess_at_the_server() {
    let s3 = S3Server::start();
    s3.create_bucket("env");
    let p = cairn_e2e::Project::new();
    p.write("data.csv", "id,amount\n1,2.5\n2,3.5\n");
    p.cairn(&["data", "add", "data.csv"]).ok();
    p.cairn(&["remote", "add", "origin", "s3://env/from-env"])
        .ok();
    let env = s3.env();
    // Were the endpoint variable ignored, the client would head for AWS: send any such
    // request to a closed port on loopback instead, so it fails here and leaves the machine.
    let mut guarded = env.clone();
    for (key, value) in [
        ("HTTPS_PROXY", "http://127.0.0.1:9"),
        ("HTTP_PROXY", "http://127.0.0.1:9"),
        ("NO_PROXY", "127.0.0.1"),
    ] {
        guarded.push((key.to_owned(), value.to_owned()));
    }

    let mut wrong = guarded.clone();
    for (key, value) in &mut wrong {
        if key == "AWS_SECRET_ACCESS_KEY" {
            *value = "not-the-secret".to_owned();
        }
    }
    let refused = p.cairn_env(&["data", "push"], &wrong);
    assert_ne!(refused.code, 0, "a wrong secret was accepted");
    refused.stderr_has("denied");
    assert!(s3.list("env").is_empty(), "{:?}", s3.list("env"));

    p.cairn_env(&["data", "push"], &guarded).ok();
    let keys = s3.list("env");
    assert!(
        keys.iter().any(|key| key.starts_with("from-env/objects/")),
        "the push did not reach the server: {keys:?}"
    );

    let root = s3.root().to_owned();
    drop(s3);
    assert!(!root.exists(), "the server's directory outlives it");
}
