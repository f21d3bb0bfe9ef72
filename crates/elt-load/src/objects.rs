//! The objects loader: every object under a prefix of an S3-compatible bucket (or of a local
//! folder), in key order, loaded once per version (ETag). An object is read whole and
//! committed in batches of at most `batch_rows` records; each batch's checkpoint (key, ETag,
//! line after its last record) commits with its rows, so a restarted load resumes after the
//! last committed batch, even in the middle of an object.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, GetOptions, ObjectMeta, ObjectStore, RetryConfig,
};

use crate::config::{ObjectsConfig, Store};
use crate::records::{self, Shaper};
use crate::sink::{self, Batch, Checkpoint, Resume, Sink};
use crate::{Format, LoadError, Progress};

/// Opens the bucket or folder.
pub fn open_store(
    config: &ObjectsConfig,
    project_root: &Path,
) -> Result<Arc<dyn ObjectStore>, LoadError> {
    match &config.store {
        Store::Files { path } => {
            let path = project_root.join(path);
            let store = LocalFileSystem::new_with_prefix(&path).map_err(|e| {
                LoadError::new(format!("cannot read the folder {}: {e}", path.display()))
                    .with_hint("create it, or fix the loader's `path`")
            })?;
            Ok(Arc::new(store))
        }
        Store::S3 {
            bucket,
            endpoint,
            region,
            access_key_id,
            secret_access_key,
        } => {
            // reqwest's TLS uses the process's rustls provider: ring, like the warehouse
            // clients.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let mut builder = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_region(region)
                .with_client_options(
                    ClientOptions::new()
                        .with_connect_timeout(Duration::from_secs(5))
                        .with_timeout(Duration::from_secs(120))
                        .with_allow_http(true),
                )
                .with_retry(RetryConfig {
                    backoff: BackoffConfig::default(),
                    max_retries: 3,
                    retry_timeout: Duration::from_secs(30),
                });
            if let Some(endpoint) = endpoint {
                // S3-compatible servers (MinIO) address buckets by path, not by host name.
                builder = builder
                    .with_endpoint(endpoint)
                    .with_virtual_hosted_style_request(false);
            }
            if let Some(key) = access_key_id {
                builder = builder.with_access_key_id(key);
            }
            if let Some(secret) = secret_access_key {
                builder = builder.with_secret_access_key(secret);
            }
            let store = builder
                .build()
                .map_err(|e| LoadError::new(format!("cannot use the bucket {bucket}: {e}")))?;
            Ok(Arc::new(store))
        }
    }
}

/// What the objects loader needs about one table.
pub struct ObjectsLoad<'a> {
    pub config: &'a ObjectsConfig,
    pub format: Format,
    pub batch_rows: usize,
    pub shaper: Shaper,
    /// Told the progress after each commit.
    pub on_commit: &'a (dyn Fn(&Progress) + Sync),
}

impl ObjectsLoad<'_> {
    /// Loads every object not yet loaded, in key order. Objects are read and their records
    /// shaped on a thread of their own while the previous group of batches commits; commits
    /// stay in order, one at a time. Only the object store's calls run on `runtime`: the warehouse
    /// sessions block on runtimes of their own.
    pub fn run(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        store: &Arc<dyn ObjectStore>,
        sink: &mut Sink,
        progress: &mut Progress,
    ) -> Result<(), LoadError> {
        let objects = runtime.block_on(self.list(store))?;
        let resumes: HashMap<(String, String), Resume> = sink
            .resumes()?
            .into_iter()
            .map(|r| ((r.committed.stream.clone(), r.committed.version.clone()), r))
            .collect();
        let mut to_load = Vec::new();
        for object in objects {
            let key = object.location.to_string();
            let version = object.e_tag.clone().unwrap_or_default();
            let resume = resumes.get(&(key.clone(), version.clone()));
            if resume.is_some_and(|r| r.committed.complete) {
                continue;
            }
            if resume.is_none() && resumes.keys().any(|(loaded, _)| *loaded == key) {
                // Loaded before with other contents: this version loads too, beside the old.
                progress.changed.push(key.clone());
            }
            let from = (
                resume.map_or(0, |r| r.committed.position),
                resume.and_then(|r| r.pending),
            );
            to_load.push((object, from));
        }
        let on_commit = self.on_commit;
        std::thread::scope(|scope| {
            // Groups ahead: the next are read while the last commits.
            let (ready, groups) = std::sync::mpsc::sync_channel::<Group>(sink::QUEUED_GROUPS);
            let reader = scope.spawn(move || {
                let mut group = Grouping::new(ready, self.batch_rows);
                let read = self.read_objects(runtime, store, to_load, &mut group);
                // What was read commits, even when an object could not be read.
                group.flush();
                read
            });
            for mut group in sink::with_queued(&groups) {
                let mut parts: Vec<_> = group
                    .iter_mut()
                    .map(|p| (&mut p.batch, &p.checkpoint))
                    .collect();
                sink.commit(&mut parts)?;
                for Prepared { batch, checkpoint } in &group {
                    progress.add(batch);
                    progress.objects += u64::from(checkpoint.complete);
                }
                on_commit(progress);
            }
            reader.join().expect("the reading thread does not panic")
        })
    }

    /// Reads the objects in turn and sends their batches, each object downloading while the
    /// one before is shaped (10 objects of 100,000 records from moto: 0.14 s of downloads).
    fn read_objects(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        store: &Arc<dyn ObjectStore>,
        objects: Vec<(ObjectMeta, (u64, Option<u64>))>,
        group: &mut Grouping,
    ) -> Result<(), LoadError> {
        let start = |(object, from): (ObjectMeta, _)| {
            let download = download(runtime, store, &object);
            (object, from, download)
        };
        let mut objects = objects.into_iter();
        let mut next = objects.next().map(start);
        while let Some((object, from, download)) = next {
            next = objects.next().map(start);
            let key = object.location.to_string();
            let bytes = runtime
                .block_on(download)
                .expect("a download does not panic")
                .map_err(|e| store_error(e, &key))?;
            let version = object.e_tag.unwrap_or_default();
            if !self.batches(&key, &version, &bytes, from, group) {
                break; // the commit failed: its error is the load's
            }
        }
        Ok(())
    }

    /// The objects under the prefix that match the pattern, in key order.
    async fn list(&self, store: &dyn ObjectStore) -> Result<Vec<ObjectMeta>, LoadError> {
        let prefix = (!self.config.prefix.is_empty())
            .then(|| ObjectPath::from(self.config.prefix.trim_matches('/')));
        let pattern = match &self.config.pattern {
            Some(glob) => Some(
                globset::Glob::new(glob)
                    .map_err(|e| LoadError::new(format!("invalid pattern '{glob}': {e}")))?
                    .compile_matcher(),
            ),
            None => None,
        };
        let mut objects: Vec<ObjectMeta> = store
            .list(prefix.as_ref())
            .try_collect()
            .await
            .map_err(|e| store_error(e, &self.config.prefix))?;
        objects.retain(|o| {
            let key = o.location.as_ref();
            let below = key
                .strip_prefix(self.config.prefix.trim_matches('/'))
                .unwrap_or(key)
                .trim_start_matches('/');
            pattern.as_ref().is_none_or(|p| p.is_match(below))
        });
        objects.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(objects)
    }

    /// Adds an object's records after line `start` to the group as batches of `batch_rows`
    /// (the first batch ends exactly at `pending` when a begun batch must be retried); the
    /// last batch marks the object complete (an empty object makes one empty batch). Stops,
    /// returning false, when the committing side has stopped listening.
    fn batches(
        &mut self,
        key: &str,
        version: &str,
        bytes: &bytes::Bytes,
        (start, pending): (u64, Option<u64>),
        group: &mut Grouping,
    ) -> bool {
        let split = records::split(bytes, self.format);
        self.shaper.set_header(split.header.as_deref());
        let last_line = split.end;
        let pending_records: Vec<_> = split
            .records
            .into_iter()
            .filter(|r| r.line > start)
            .collect();
        let mut batch_start = start;
        let mut rest = pending_records.as_slice();
        loop {
            let size = match pending.filter(|_| batch_start == start) {
                Some(end) => rest.iter().take_while(|r| r.line <= end).count(),
                None => rest.len().min(self.batch_rows),
            };
            let (chunk, after) = rest.split_at(size);
            let complete = after.is_empty();
            let position = match (complete, pending.filter(|_| batch_start == start)) {
                (false, Some(end)) => end,
                (false, None) => chunk.last().map_or(batch_start, |r| r.line),
                (true, _) => last_line,
            };
            let batch = Batch::shaped(&self.shaper, chunk, key, batch_start);
            let checkpoint = Checkpoint {
                stream: key.into(),
                version: version.into(),
                position,
                complete,
            };
            let listened = group.add(Prepared { batch, checkpoint });
            if !listened || complete {
                return listened;
            }
            batch_start = position;
            rest = after;
        }
    }
}

/// A batch ready to commit, with the checkpoint that commits with it.
struct Prepared {
    batch: Batch,
    checkpoint: Checkpoint,
}

/// Batches that commit together.
type Group = Vec<Prepared>;

/// Gathers batches into groups of about `batch_rows` records, so that a bucket of many small
/// objects commits once per group rather than once per object, and sends each group to
/// commit.
struct Grouping {
    ready: SyncSender<Group>,
    group: Group,
    records: usize,
    batch_rows: usize,
}

impl Grouping {
    fn new(ready: SyncSender<Group>, batch_rows: usize) -> Self {
        Grouping {
            ready,
            group: Vec::new(),
            records: 0,
            batch_rows,
        }
    }

    /// Adds a batch, sending the group once it is full; false when the committing side has
    /// stopped listening.
    fn add(&mut self, prepared: Prepared) -> bool {
        self.records += prepared.batch.rows.len() + prepared.batch.dead_letters.len();
        self.group.push(prepared);
        self.records < self.batch_rows || self.flush()
    }

    /// Sends what is gathered; false when the committing side has stopped listening.
    fn flush(&mut self) -> bool {
        self.records = 0;
        let group = std::mem::take(&mut self.group);
        group.is_empty() || self.ready.send(group).is_ok()
    }
}

/// Starts downloading an object, checking it is still the version listed.
fn download(
    runtime: &tokio::runtime::Runtime,
    store: &Arc<dyn ObjectStore>,
    object: &ObjectMeta,
) -> tokio::task::JoinHandle<object_store::Result<bytes::Bytes>> {
    let store = Arc::clone(store);
    let (location, if_match) = (object.location.clone(), object.e_tag.clone());
    runtime.spawn(async move {
        let options = GetOptions {
            if_match,
            ..GetOptions::default()
        };
        store.get_opts(&location, options).await?.bytes().await
    })
}

pub(crate) fn store_error(e: object_store::Error, what: &str) -> LoadError {
    match e {
        object_store::Error::Precondition { .. } => LoadError::new(format!(
            "{what} changed while it was being read; run the load again"
        )),
        object_store::Error::NotFound { .. } => {
            LoadError::new(format!("{what} was not found: {e}"))
                .with_hint("check the loader's bucket, prefix or path")
        }
        object_store::Error::Unauthenticated { .. }
        | object_store::Error::PermissionDenied { .. } => {
            LoadError::new(format!("access to {what} was refused: {e}"))
                .with_hint("check the loader's access_key_id and secret_access_key")
        }
        // The S3 client reports a refused list or get as a generic error with the status.
        other if refused(&other.to_string()) => {
            LoadError::new(format!("access to {what} was refused: {other}"))
                .with_hint("check the loader's access_key_id and secret_access_key")
        }
        other => LoadError::new(format!("cannot read {what}: {other}"))
            .with_hint("check that the object store is reachable (endpoint) and the bucket exists"),
    }
}

fn refused(message: &str) -> bool {
    [
        "403 Forbidden",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "AccessDenied",
    ]
    .iter()
    .any(|code| message.contains(code))
}
