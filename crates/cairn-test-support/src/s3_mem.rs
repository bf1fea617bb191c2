//! A lean S3 backend for the benchmark: objects in memory, a sorted index per bucket, bodies
//! served as one buffer. The protocol side (HTTP, SigV4 authentication, the XML of every
//! request and response) is `s3s`, exactly as with [`s3s_fs`]; only the storage differs.
//!
//! Why it exists: s3s-fs answers every page of a listing by walking the whole bucket, hashes
//! every body with MD5 and streams reads in 4 KiB chunks, so on two shared cores it, not the
//! client, sets the pace (13 s to list 21,000 objects). A production S3 service does none of
//! that on the client's cores. This backend keeps the server's share small, so that
//! `cargo xtask bench remote` measures cairn's side of the protocol.
//!
//! A body larger than [`SPILL`] goes to an unnamed temporary file as it arrives, and a GET
//! reads it back in 1 MiB reads, as a server storing objects on disk does: page cache, rather
//! than anonymous memory, which costs this project's VMs 2–3 s of system time per GiB to fill
//! (the server shares the two cores with the client it is measuring), and none of it held by
//! this process (the benchmark's children would count it in their peak RSS).
//!
//! It implements what a client of the object layout needs: CreateBucket, HeadBucket,
//! PutObject, GetObject (with ranges), HeadObject, DeleteObject, ListObjectsV2 (prefix,
//! start-after, continuation, max-keys; no delimiter) and multipart uploads.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use std::io::Write;

use bytes::Bytes;
use futures::StreamExt;
use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};

/// An object's bytes: the chunks they arrived in (nothing is copied on the way in: a part or
/// a body is kept as hyper's buffers, and a GET sends the same buffers), or the spill files
/// of a large body or of its parts.
#[derive(Clone, Default)]
struct Blob {
    segments: Vec<Segment>,
    len: u64,
}

#[derive(Clone)]
enum Segment {
    Memory(Bytes),
    /// A whole spill file, of this length.
    File(Arc<std::fs::File>, u64),
}

/// Spilled bytes are sent in reads of this size.
const READ: u64 = 1 << 20;

impl Blob {
    fn push(&mut self, chunk: Bytes) {
        self.len += chunk.len() as u64;
        if !chunk.is_empty() {
            self.segments.push(Segment::Memory(chunk));
        }
    }

    /// The bytes in `range`, as a stream of buffers (spilled bytes are read as it is polled).
    fn stream(
        &self,
        range: std::ops::Range<u64>,
    ) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
        use std::os::unix::fs::FileExt;
        enum Piece {
            Memory(Bytes),
            File(Arc<std::fs::File>, u64, u64),
        }
        let mut pieces = Vec::new();
        let mut offset = 0u64;
        for segment in &self.segments {
            let len = match segment {
                Segment::Memory(bytes) => bytes.len() as u64,
                Segment::File(_, len) => *len,
            };
            let (start, end) = (offset, offset + len);
            offset = end;
            if end <= range.start || start >= range.end {
                continue;
            }
            let from = range.start.saturating_sub(start);
            let to = range.end.min(end) - start;
            match segment {
                Segment::Memory(bytes) => {
                    pieces.push(Piece::Memory(bytes.slice(from as usize..to as usize)))
                }
                Segment::File(file, _) => {
                    for at in (from..to).step_by(READ as usize) {
                        pieces.push(Piece::File(file.clone(), at, READ.min(to - at)));
                    }
                }
            }
        }
        futures::stream::iter(pieces.into_iter().map(|piece| match piece {
            Piece::Memory(bytes) => Ok(bytes),
            Piece::File(file, at, len) => {
                let mut buf = vec![0u8; len as usize];
                file.read_exact_at(&mut buf, at)?;
                Ok(Bytes::from(buf))
            }
        }))
    }
}

#[derive(Clone)]
struct Stored {
    data: Blob,
    e_tag: String,
    modified: SystemTime,
}

struct Upload {
    bucket: String,
    key: String,
    parts: BTreeMap<i32, (String, Blob)>,
}

/// Buckets and objects in memory; clones share them.
#[derive(Default, Clone)]
pub struct MemS3(Arc<State>);

#[derive(Default)]
struct State {
    buckets: Mutex<HashMap<String, BTreeMap<String, Stored>>>,
    uploads: Mutex<HashMap<String, Upload>>,
    counter: AtomicU64,
}

impl MemS3 {
    fn next_id(&self) -> String {
        format!("{:016x}", self.0.counter.fetch_add(1, Ordering::Relaxed))
    }

    /// Makes a bucket (what CreateBucket does).
    pub fn create_bucket(&self, name: &str) {
        self.0
            .buckets
            .lock()
            .unwrap()
            .entry(name.to_owned())
            .or_default();
    }

    /// Drops a bucket and everything in it.
    pub fn delete_bucket(&self, name: &str) {
        self.0.buckets.lock().unwrap().remove(name);
    }

    pub fn has_bucket(&self, name: &str) -> bool {
        self.0.buckets.lock().unwrap().contains_key(name)
    }

    /// The keys in a bucket, sorted.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        self.0
            .buckets
            .lock()
            .unwrap()
            .get(bucket)
            .map(|b| b.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Replaces an object's bytes (keeping its ETag), as a damaged disk would.
    pub fn tamper(&self, bucket: &str, key: &str, data: &[u8]) {
        let mut buckets = self.0.buckets.lock().unwrap();
        let object = buckets
            .get_mut(bucket)
            .and_then(|b| b.get_mut(key))
            .unwrap_or_else(|| panic!("no object {bucket}/{key}"));
        object.data = Blob::default();
        object.data.push(Bytes::copy_from_slice(data));
    }

    fn put(&self, bucket: &str, key: String, data: Blob, e_tag: String) -> S3Result<()> {
        let mut buckets = self.0.buckets.lock().unwrap();
        let objects = buckets
            .get_mut(bucket)
            .ok_or_else(|| s3_error!(NoSuchBucket))?;
        objects.insert(
            key,
            Stored {
                data,
                e_tag,
                modified: SystemTime::now(),
            },
        );
        Ok(())
    }

    fn get(&self, bucket: &str, key: &str) -> S3Result<Stored> {
        let buckets = self.0.buckets.lock().unwrap();
        let objects = buckets.get(bucket).ok_or_else(|| s3_error!(NoSuchBucket))?;
        objects
            .get(key)
            .cloned()
            .ok_or_else(|| s3_error!(NoSuchKey))
    }
}

/// Bodies larger than this are spilled to a temporary file (see the module's documentation).
const SPILL: u64 = 1 << 20;

/// Reads a request body: kept as its buffers, or spilled to a file once it passes [`SPILL`].
async fn collect(body: Option<StreamingBlob>) -> S3Result<Blob> {
    let Some(mut body) = body else {
        return Err(s3_error!(IncompleteBody));
    };
    let internal = |e: std::io::Error| s3_error!(InternalError, "spill file: {e}");
    let mut blob = Blob::default();
    let mut spill: Option<std::fs::File> = None;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| s3_error!(IncompleteBody, "{e}"))?;
        if spill.is_none() && blob.len + chunk.len() as u64 > SPILL {
            let mut file = tempfile::tempfile().map_err(internal)?;
            for kept in &blob.segments {
                if let Segment::Memory(bytes) = kept {
                    file.write_all(bytes).map_err(internal)?;
                }
            }
            blob.segments.clear();
            spill = Some(file);
        }
        match &mut spill {
            Some(file) => {
                file.write_all(&chunk).map_err(internal)?;
                blob.len += chunk.len() as u64;
            }
            None => blob.push(chunk),
        }
    }
    if let Some(file) = spill {
        blob.segments = vec![Segment::File(Arc::new(file), blob.len)];
    }
    Ok(blob)
}

#[async_trait::async_trait]
impl S3 for MemS3 {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        MemS3::create_bucket(self, &req.input.bucket);
        Ok(S3Response::new(CreateBucketOutput::default()))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        if !self.has_bucket(&req.input.bucket) {
            return Err(s3_error!(NoSuchBucket));
        }
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let input = req.input;
        if input.if_none_match.as_ref().is_some_and(|c| c.is_any())
            && self.get(&input.bucket, &input.key).is_ok()
        {
            return Err(s3_error!(PreconditionFailed, "Object already exists"));
        }
        let data = collect(input.body).await?;
        let e_tag = self.next_id();
        self.put(&input.bucket, input.key, data, e_tag.clone())?;
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(ETag::Strong(e_tag)),
            ..Default::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        let object = self.get(&input.bucket, &input.key)?;
        let full = object.data.len;
        let (range, content_range) = match input.range {
            None => (0..full, None),
            Some(range) => {
                let r = range.check(full)?;
                let shown = format!("bytes {}-{}/{full}", r.start, r.end - 1);
                (r, Some(shown))
            }
        };
        let len = range.end - range.start;
        let stream = object.data.stream(range);
        Ok(S3Response::new(GetObjectOutput {
            content_length: Some(len as i64),
            content_range,
            e_tag: Some(ETag::Strong(object.e_tag)),
            last_modified: Some(Timestamp::from(object.modified)),
            body: Some(StreamingBlob::wrap(stream)),
            ..Default::default()
        }))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let object = self.get(&req.input.bucket, &req.input.key)?;
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(object.data.len as i64),
            e_tag: Some(ETag::Strong(object.e_tag)),
            last_modified: Some(Timestamp::from(object.modified)),
            ..Default::default()
        }))
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let mut buckets = self.0.buckets.lock().unwrap();
        let objects = buckets
            .get_mut(&req.input.bucket)
            .ok_or_else(|| s3_error!(NoSuchBucket))?;
        objects.remove(&req.input.key);
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        if input.delimiter.is_some() {
            return Err(s3_error!(
                NotImplemented,
                "this test server lists without a delimiter only"
            ));
        }
        let prefix = input.prefix.clone().unwrap_or_default();
        let max_keys = input.max_keys.unwrap_or(1000).clamp(0, 1000) as usize;
        // Resume strictly after the larger of the continuation token and start-after.
        let after = match (&input.continuation_token, &input.start_after) {
            (Some(t), Some(s)) => Some(t.max(s).clone()),
            (Some(t), None) => Some(t.clone()),
            (None, Some(s)) => Some(s.clone()),
            (None, None) => None,
        };
        let buckets = self.0.buckets.lock().unwrap();
        let objects = buckets
            .get(&input.bucket)
            .ok_or_else(|| s3_error!(NoSuchBucket))?;
        let start = match &after {
            Some(after) if *after >= prefix => std::ops::Bound::Excluded(after.clone()),
            _ => std::ops::Bound::Included(prefix.clone()),
        };
        let mut page = Vec::with_capacity(max_keys.min(1000));
        let mut truncated = false;
        for (key, object) in objects.range((start, std::ops::Bound::Unbounded)) {
            if !key.starts_with(&prefix) {
                break;
            }
            if page.len() == max_keys {
                truncated = true;
                break;
            }
            page.push(Object {
                key: Some(key.clone()),
                size: Some(object.data.len as i64),
                e_tag: Some(ETag::Strong(object.e_tag.clone())),
                last_modified: Some(Timestamp::from(object.modified)),
                ..Default::default()
            });
        }
        drop(buckets);
        let next = if truncated {
            page.last().and_then(|o| o.key.clone())
        } else {
            None
        };
        Ok(S3Response::new(ListObjectsV2Output {
            key_count: Some(page.len() as i32),
            max_keys: Some(max_keys as i32),
            is_truncated: Some(truncated),
            contents: (!page.is_empty()).then_some(page),
            continuation_token: input.continuation_token,
            next_continuation_token: next,
            name: Some(input.bucket),
            prefix: input.prefix,
            start_after: input.start_after,
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
        if !self.has_bucket(&input.bucket) {
            return Err(s3_error!(NoSuchBucket));
        }
        let id = self.next_id();
        self.0.uploads.lock().unwrap().insert(
            id.clone(),
            Upload {
                bucket: input.bucket.clone(),
                key: input.key.clone(),
                parts: BTreeMap::new(),
            },
        );
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(id),
            ..Default::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let input = req.input;
        if !(1..=10_000).contains(&input.part_number) {
            return Err(s3_error!(
                InvalidArgument,
                "part numbers run from 1 to 10000"
            ));
        }
        let data = collect(input.body).await?;
        let e_tag = self.next_id();
        let mut uploads = self.0.uploads.lock().unwrap();
        let upload = uploads
            .get_mut(&input.upload_id)
            .ok_or_else(|| s3_error!(NoSuchUpload))?;
        upload
            .parts
            .insert(input.part_number, (e_tag.clone(), data));
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(ETag::Strong(e_tag)),
            ..Default::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = req.input;
        let listed = input
            .multipart_upload
            .and_then(|m| m.parts)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| s3_error!(InvalidPart, "You must specify at least one part"))?;
        let upload = self
            .0
            .uploads
            .lock()
            .unwrap()
            .remove(&input.upload_id)
            .ok_or_else(|| s3_error!(NoSuchUpload))?;
        if upload.bucket != input.bucket || upload.key != input.key {
            return Err(s3_error!(NoSuchUpload));
        }
        let mut data = Blob::default();
        let mut previous = 0;
        for part in &listed {
            let number = part.part_number.unwrap_or(0);
            if number <= previous {
                return Err(s3_error!(InvalidPartOrder));
            }
            previous = number;
            let (e_tag, bytes) = upload
                .parts
                .get(&number)
                .ok_or_else(|| s3_error!(InvalidPart, "part {number} was not uploaded"))?;
            if let Some(ETag::Strong(given) | ETag::Weak(given)) = &part.e_tag
                && given != e_tag
            {
                return Err(s3_error!(InvalidPart, "part {number}: wrong ETag"));
            }
            data.segments.extend(bytes.segments.iter().cloned());
            data.len += bytes.len;
        }
        let e_tag = format!("{}-{}", self.next_id(), listed.len());
        self.put(&input.bucket, input.key.clone(), data, e_tag.clone())?;
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            e_tag: Some(ETag::Strong(e_tag)),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.0
            .uploads
            .lock()
            .unwrap()
            .remove(&req.input.upload_id)
            .ok_or_else(|| s3_error!(NoSuchUpload))?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }
}
