//! The Kafka loader: every partition of a topic, each message one JSON record, committed in
//! batches per partition together with the offset after the batch (the stream of a partition
//! is `topic/partition`). The warehouse's load state, not the consumer group, says where a
//! load resumes: the group's offsets are committed after the warehouse's, for lag tools only.
//!
//! A load without `--follow` reads up to the partitions' end offsets as of its start, then
//! goes on until it has waited [`SETTLE`] without a message written before its start: some
//! brokers report end offsets short of the log's end (tansu's fall short of the last stored
//! record batch). A partition that gives a message written since the start has given all of
//! those before: it is paused, so a load of a topic written to all the time ends too (what it
//! read commits; the rest is the next load's).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};

use crate::config::KafkaConfig;
use crate::kafka_client::{self, Fetched, Fetcher, Watch};
use crate::records::{self, RawRecord, Shaper};
use crate::sink::{Batch, Checkpoint, QUEUED_GROUPS, Sink};
use crate::{Follow, LoadError, Progress};

/// How long a load waits, once past the end offsets as of its start, for a message written
/// before its start.
const SETTLE: Duration = Duration::from_millis(100);
/// How long a load waits without any message before it gives up on unread records.
const STALLED: Duration = Duration::from_secs(30);
/// How long end-offset requests may take.
const REQUEST: Duration = Duration::from_secs(10);

/// What the Kafka loader needs about one table.
pub struct KafkaLoad<'a> {
    pub config: &'a KafkaConfig,
    pub batch_rows: usize,
    pub shaper: Shaper,
    /// Told the progress after each commit.
    pub on_commit: &'a (dyn Fn(&Progress) + Sync),
}

/// One partition's reading: committed position, what is read but not yet committed.
struct Partition {
    stream: String,
    /// The offset after the last batch sent to commit.
    committed: u64,
    /// On ClickHouse, the end of a begun batch that must be retried exactly.
    pending: Option<u64>,
    /// The offset after the last message read.
    read: u64,
    /// The end offset when the load started.
    end_at_start: u64,
    /// Messages read, in offset order.
    buffer: Vec<RawRecord>,
    buffered_since: Option<Instant>,
    /// Past its end offset as of the start, it gave a message written since (a load without
    /// `--follow` then pauses it).
    written_since_start: bool,
}

impl Partition {
    /// Whether the buffer must commit now: a retried range is complete, the batch is full,
    /// or its oldest record has waited `batch_ms`.
    fn due(&self, batch_rows: usize, batch_ms: Duration, now: Instant) -> bool {
        match self.pending {
            Some(end) => self.read >= end,
            None => {
                self.buffer.len() >= batch_rows
                    || self
                        .buffered_since
                        .is_some_and(|t| now.duration_since(t) >= batch_ms)
            }
        }
    }
}

/// A partition's messages on their way to be shaped into a batch: the partition, its
/// records, the offset of the first, and the checkpoint after the last.
type Taken = (i32, Vec<RawRecord>, u64, Checkpoint);

/// A batch on its way to the warehouse: the partition it is from, its rows and checkpoint.
/// Batches due at the same time travel and commit together.
type Commit = (i32, Batch, Checkpoint);

impl KafkaLoad<'_> {
    /// Loads the topic's messages not loaded yet; with `follow`, keeps loading until it
    /// stops, reporting the progress so far (and the lag) every few seconds. Reading,
    /// shaping and committing overlap, each on a thread of its own: the next group of
    /// batches is read while the last is shaped and the one before commits, in order.
    pub fn run(
        self,
        sink: &mut Sink,
        progress: &mut Progress,
        follow: Option<Follow<'_>>,
    ) -> Result<(), LoadError> {
        let consumer = self.consumer()?;
        let mut partitions = self.assign(&consumer, sink)?;
        progress.objects = partitions.len() as u64;
        std::thread::scope(|scope| {
            let (to_shape, taken) = mpsc::sync_channel::<Vec<Taken>>(0);
            let (to_commit, groups) = mpsc::sync_channel::<Vec<Commit>>(QUEUED_GROUPS);
            let (done, committed) = mpsc::channel::<Commit>();
            let shaper = &self.shaper;
            scope.spawn(move || {
                for group in taken {
                    let shaped = group
                        .into_iter()
                        .map(|(id, records, start, checkpoint)| {
                            let batch = Batch::shaped(shaper, &records, &checkpoint.stream, start);
                            (id, batch, checkpoint)
                        })
                        .collect();
                    if to_commit.send(shaped).is_err() {
                        break; // the commit thread stopped on an error
                    }
                }
            });
            let committer = scope.spawn(move || -> Result<(), LoadError> {
                for mut group in crate::sink::with_queued(&groups) {
                    let mut parts: Vec<_> = group.iter_mut().map(|(_, b, c)| (b, &*c)).collect();
                    sink.commit(&mut parts)?;
                    for commit in group {
                        let _ = done.send(commit);
                    }
                }
                Ok(())
            });
            let channels = Channels {
                to_shape,
                committed,
            };
            let read = self.read(&consumer, &mut partitions, &channels, progress, follow);
            let Channels {
                to_shape,
                committed,
            } = channels;
            drop(to_shape);
            let committing = committer.join().expect("the commit thread does not panic");
            for commit in committed.try_iter() {
                self.acknowledge(&consumer, commit, progress);
            }
            // A commit that failed is why reading stopped, if it did.
            committing.and(read)
        })
    }

    /// Reads messages and sends them off in batches until the topic has been read (or, when
    /// following, until it stops).
    fn read(
        &self,
        consumer: &LoaderConsumer,
        partitions: &mut BTreeMap<i32, Partition>,
        channels: &Channels,
        progress: &mut Progress,
        mut follow: Option<Follow<'_>>,
    ) -> Result<(), LoadError> {
        let mut last_message = Instant::now();
        // Messages timestamped after this were written since the load started.
        let started = chrono::Utc::now().timestamp_millis();
        let written_before =
            |message: &Fetched| message.timestamp_millis().is_none_or(|t| t <= started);
        // Past the end offsets as of the start: the time waited since the last message written
        // before it (waiting on the warehouse does not count: messages are then queued).
        let mut caught_up = false;
        let mut waited = Duration::ZERO;
        let mut last_report = Instant::now();
        let mut last_error: Option<KafkaError> = None;
        let mut fetcher = Fetcher::new(consumer);
        loop {
            if follow
                .as_ref()
                .is_some_and(|f| f.stop.load(Ordering::Relaxed))
            {
                break;
            }
            // One clock reading per fetch, and one more past the end.
            let polling = caught_up.then(Instant::now);
            let fetched = fetcher.fetch(SETTLE);
            let now = Instant::now();
            let mut backlog = false;
            for message in fetched {
                if let Some(e) = message.error() {
                    last_error = Some(e);
                    continue;
                }
                last_message = now;
                // Timestamps count only past the end offsets.
                backlog = backlog || (polling.is_some() && written_before(&message));
                let id = message.partition();
                let Some(partition) = partitions.get_mut(&id) else {
                    continue;
                };
                let offset = message.offset().max(0) as u64;
                if offset < partition.read {
                    continue; // already read (a fetch retried by the client)
                }
                if partition.pending.is_some_and(|end| offset >= end) {
                    // The retried range ended in a gap of the log: it is complete.
                    send(vec![self.take(partition, id)], channels)?;
                }
                if follow.is_none()
                    && !partition.written_since_start
                    && partition.read >= partition.end_at_start
                    && !written_before(&message)
                {
                    partition.written_since_start = true;
                    self.pause(consumer, id);
                }
                partition.read = offset + 1;
                partition.buffered_since.get_or_insert(now);
                partition.buffer.push(match message.payload() {
                    Some(value) => records::record(offset, value),
                    None => RawRecord {
                        line: offset,
                        payload: String::new(),
                        unreadable: Some("the message has no value (a tombstone)".into()),
                    },
                });
                // A batch ends exactly at `batch_rows` (or a retried range's end).
                if partition.due(self.batch_rows, self.config.batch_ms, now) {
                    send(vec![self.take(partition, id)], channels)?;
                }
            }
            if let Some(polling) = polling {
                waited = if backlog {
                    Duration::ZERO
                } else {
                    waited + (now - polling)
                };
            }
            let due: Vec<Taken> = partitions
                .iter_mut()
                .filter(|(_, p)| p.due(self.batch_rows, self.config.batch_ms, now))
                .map(|(id, p)| self.take(p, *id))
                .collect();
            send(due, channels)?;
            for commit in channels.committed.try_iter() {
                self.acknowledge(consumer, commit, progress);
            }
            if let Some(follow) = follow.as_mut() {
                if now.duration_since(last_report) >= Duration::from_secs(5) {
                    progress.lag = Some(lag(consumer, &self.config.topic, partitions));
                    (follow.report)(progress);
                    last_report = now;
                }
                continue;
            }
            let was_caught_up = caught_up;
            caught_up = partitions
                .values()
                .all(|p| p.read >= p.end_at_start && p.pending.is_none());
            if caught_up && !was_caught_up {
                // What was written before the start is read, but for what the end offsets
                // missed: it commits while the load waits for that.
                self.send_read(partitions, channels)?;
            }
            let written_since = partitions.values().all(|p| p.written_since_start);
            if caught_up && (waited >= SETTLE || written_since) {
                break;
            }
            let quiet = now.duration_since(last_message);
            if !caught_up && quiet >= STALLED {
                let behind: u64 = partitions
                    .values()
                    .map(|p| p.end_at_start.saturating_sub(p.read))
                    .sum();
                return Err(LoadError::new(format!(
                    "no message from {} for {}s with {behind} record(s) of topic {} unread{}",
                    self.config.brokers,
                    STALLED.as_secs(),
                    self.config.topic,
                    last_error
                        .map(|e| format!(" (last error: {e})"))
                        .unwrap_or_default()
                ))
                .with_hint("check that the brokers are up; what committed stays committed"));
            }
        }
        // Stopping: what was read commits.
        self.send_read(partitions, channels)
    }

    /// Stops fetching a partition (best effort: its messages would only load later).
    fn pause(&self, consumer: &LoaderConsumer, id: i32) {
        let mut partition = TopicPartitionList::new();
        partition.add_partition(&self.config.topic, id);
        let _ = consumer.pause(&partition);
    }

    /// Sends every partition's buffered messages to commit, together (a retried range only
    /// when complete).
    fn send_read(
        &self,
        partitions: &mut BTreeMap<i32, Partition>,
        channels: &Channels,
    ) -> Result<(), LoadError> {
        let read: Vec<Taken> = partitions
            .iter_mut()
            .filter(|(_, p)| !p.buffer.is_empty() && p.pending.is_none_or(|end| p.read >= end))
            .map(|(id, p)| self.take(p, *id))
            .collect();
        send(read, channels)
    }

    fn consumer(&self) -> Result<LoaderConsumer, LoadError> {
        let defaults = [
            ("group.id", self.config.group.as_str()),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("auto.offset.reset", "earliest"),
            ("allow.auto.create.topics", "false"),
            // While a batch commits, fetched messages pile up past librdkafka's queue
            // thresholds; its default then pauses fetching for a second (half the time of a
            // load went there).
            ("fetch.queue.backoff.ms", "10"),
        ];
        let brokers = &self.config.brokers;
        let config = kafka_client::client_config(brokers, &defaults, &self.config.properties);
        config.create_with_context(Watch::default()).map_err(|e| {
            LoadError::new(format!("cannot configure the Kafka consumer: {e}"))
                .with_hint("check the loader's brokers and properties")
        })
    }

    /// Assigns every partition of the topic at the offset its last committed batch ended.
    fn assign(
        &self,
        consumer: &LoaderConsumer,
        sink: &mut Sink,
    ) -> Result<BTreeMap<i32, Partition>, LoadError> {
        let topic = &self.config.topic;
        let metadata = kafka_client::metadata(
            &self.config.brokers,
            consumer.context(),
            |timeout| consumer.fetch_metadata(Some(topic), timeout),
            |timeout| drop(consumer.poll(timeout)),
        )?;
        let ids: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == topic && t.error().is_none())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if ids.is_empty() {
            return Err(LoadError::new(format!(
                "the topic {topic} does not exist on {}",
                self.config.brokers
            ))
            .with_hint("create it, or fix the loader's `topic` (default: the table's name)"));
        }
        let resumes = sink.resumes()?;
        let mut assignment = TopicPartitionList::new();
        let mut partitions = BTreeMap::new();
        for id in ids {
            let stream = format!("{topic}/{id}");
            let resume = resumes.iter().find(|r| r.committed.stream == stream);
            let committed = resume.map_or(0, |r| r.committed.position);
            let (_, end) = consumer
                .fetch_watermarks(topic, id, REQUEST)
                .map_err(|e| LoadError::new(format!("cannot read the end of {stream}: {e}")))?;
            assignment
                .add_partition_offset(topic, id, Offset::Offset(committed as i64))
                .map_err(|e| LoadError::new(format!("cannot assign {stream}: {e}")))?;
            partitions.insert(
                id,
                Partition {
                    stream,
                    committed,
                    pending: resume.and_then(|r| r.pending),
                    read: committed,
                    end_at_start: end.max(0) as u64,
                    buffer: Vec::new(),
                    buffered_since: None,
                    written_since_start: false,
                },
            );
        }
        consumer
            .assign(&assignment)
            .map_err(|e| LoadError::new(format!("cannot assign the topic {topic}: {e}")))?;
        Ok(partitions)
    }

    /// Takes a partition's buffer, to commit with the offset after it. The partition's next
    /// batch starts there.
    fn take(&self, partition: &mut Partition, id: i32) -> Taken {
        let records = std::mem::take(&mut partition.buffer);
        let start = partition.committed;
        let position = partition.pending.unwrap_or(partition.read);
        let checkpoint = Checkpoint {
            stream: partition.stream.clone(),
            version: String::new(),
            position,
            complete: false,
        };
        partition.committed = position;
        partition.pending = None;
        partition.buffered_since = None;
        (id, records, start, checkpoint)
    }

    /// Counts a committed batch and tells the consumer group (for lag tools, best effort).
    fn acknowledge(&self, consumer: &LoaderConsumer, commit: Commit, progress: &mut Progress) {
        let (id, batch, checkpoint) = commit;
        progress.add(&batch);
        (self.on_commit)(progress);
        let mut offsets = TopicPartitionList::new();
        let offset = Offset::Offset(checkpoint.position as i64);
        if offsets
            .add_partition_offset(&self.config.topic, id, offset)
            .is_ok()
        {
            let _ = consumer.commit(&offsets, CommitMode::Async);
        }
    }
}

type LoaderConsumer = BaseConsumer<Watch>;

/// Sends batches to be shaped and committed together (in one transaction on DuckDB and
/// PostgreSQL).
fn send(group: Vec<Taken>, channels: &Channels) -> Result<(), LoadError> {
    if group.is_empty() {
        return Ok(());
    }
    channels
        .to_shape
        .send(group)
        // The commit thread stopped on an error (and the shaping thread with it), which the
        // load reports.
        .map_err(|_| LoadError::new("the warehouse stopped taking batches"))
}

/// The reading side's ends of the channels to the shaping thread and from the commit thread.
struct Channels {
    to_shape: mpsc::SyncSender<Vec<Taken>>,
    committed: mpsc::Receiver<Commit>,
}

/// Records not yet read, summed over the partitions (as the brokers report their ends).
fn lag(consumer: &LoaderConsumer, topic: &str, partitions: &BTreeMap<i32, Partition>) -> u64 {
    partitions
        .iter()
        .map(|(id, p)| {
            consumer
                .fetch_watermarks(topic, *id, REQUEST)
                .map_or(0, |(_, end)| (end.max(0) as u64).saturating_sub(p.read))
        })
        .sum()
}
