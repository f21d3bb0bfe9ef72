//! The Kafka loader: every partition of a topic, each message one JSON record, committed in
//! batches per partition together with the offset after the batch (the stream of a partition
//! is `topic/partition`). The warehouse's load state, not the consumer group, says where a
//! load resumes: the group's offsets are committed after the warehouse's, for lag tools only.
//!
//! A load without `--follow` reads up to the partitions' end offsets as of its start, then
//! goes on while messages keep coming (some brokers report end offsets short of the log's
//! end) and stops once the topic has been idle for [`IDLE`].

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::config::KafkaConfig;
use crate::kafka_client::{self, Watch};
use crate::records::{self, RawRecord, Shaper};
use crate::sink::{Batch, Checkpoint, Sink};
use crate::{Follow, LoadError, Progress};

/// How long a topic must stay quiet, once its end offsets are reached, for a load to end.
const IDLE: Duration = Duration::from_millis(300);
/// How long a topic must stay quiet, once its end offsets are reached, for what was read to
/// commit (while the load waits out [`IDLE`]).
const SETTLE: Duration = Duration::from_millis(50);
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

/// A batch on its way to the warehouse: the partition it is from, its rows and checkpoint.
/// Batches due at the same time travel and commit together.
type Commit = (i32, Batch, Checkpoint);

impl KafkaLoad<'_> {
    /// Loads the topic's messages not loaded yet; with `follow`, keeps loading until it
    /// stops, reporting the progress so far (and the lag) every few seconds. Batches commit
    /// on a thread of their own, in order, while reading and shaping go on.
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
            // One group ahead: the next is read and shaped while the last commits.
            let (to_commit, groups) = mpsc::sync_channel::<Vec<Commit>>(1);
            let (done, committed) = mpsc::channel::<Commit>();
            let committer = scope.spawn(move || -> Result<(), LoadError> {
                for mut group in groups {
                    let mut parts: Vec<_> = group.iter_mut().map(|(_, b, c)| (b, &*c)).collect();
                    sink.commit(&mut parts)?;
                    for commit in group {
                        let _ = done.send(commit);
                    }
                }
                Ok(())
            });
            let channels = Channels {
                to_commit,
                committed,
            };
            let read = self.read(&consumer, &mut partitions, &channels, progress, follow);
            let Channels {
                to_commit,
                committed,
            } = channels;
            drop(to_commit);
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
        let mut last_report = Instant::now();
        let mut last_error: Option<KafkaError> = None;
        loop {
            if follow
                .as_ref()
                .is_some_and(|f| f.stop.load(Ordering::Relaxed))
            {
                break;
            }
            let polled = consumer.poll(Duration::from_millis(100));
            // One clock reading per message: reading it for every check cost 6% of a load.
            let now = Instant::now();
            match polled {
                Some(Ok(message)) => {
                    last_message = now;
                    let Some(partition) = partitions.get_mut(&message.partition()) else {
                        continue;
                    };
                    let offset = message.offset().max(0) as u64;
                    if offset < partition.read {
                        continue; // already read (a fetch retried by the client)
                    }
                    if partition.pending.is_some_and(|end| offset >= end) {
                        // The retried range ended in a gap of the log: it is complete.
                        let id = message.partition();
                        let commit = self.take(partition, id);
                        send(vec![commit], channels)?;
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
                }
                Some(Err(e)) => last_error = Some(e),
                None => {}
            }
            let due: Vec<Commit> = partitions
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
            let caught_up = partitions
                .values()
                .all(|p| p.read >= p.end_at_start && p.pending.is_none());
            let quiet = now.duration_since(last_message);
            if caught_up && quiet >= SETTLE {
                self.send_read(partitions, channels)?;
            }
            if caught_up && quiet >= IDLE {
                break;
            }
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

    /// Sends every partition's buffered messages to commit, together (a retried range only
    /// when complete).
    fn send_read(
        &self,
        partitions: &mut BTreeMap<i32, Partition>,
        channels: &Channels,
    ) -> Result<(), LoadError> {
        let read: Vec<Commit> = partitions
            .iter_mut()
            .filter(|(_, p)| !p.buffer.is_empty() && p.pending.is_none_or(|end| p.read >= end))
            .map(|(id, p)| self.take(p, *id))
            .collect();
        send(read, channels)
    }

    fn consumer(&self) -> Result<LoaderConsumer, LoadError> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.config.brokers)
            .set("group.id", &self.config.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("allow.auto.create.topics", "false")
            // While a batch commits, fetched messages pile up past librdkafka's queue
            // thresholds; its default then pauses fetching for a second (half the time of a
            // load went there).
            .set("fetch.queue.backoff.ms", "10")
            .set("log_level", "3");
        for (key, value) in &self.config.properties {
            config.set(key, value);
        }
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
                },
            );
        }
        consumer
            .assign(&assignment)
            .map_err(|e| LoadError::new(format!("cannot assign the topic {topic}: {e}")))?;
        Ok(partitions)
    }

    /// Shapes a partition's buffer into a batch to commit with the offset after it. The
    /// partition's next batch starts there.
    fn take(&self, partition: &mut Partition, id: i32) -> Commit {
        let batch = Batch::shaped(
            &self.shaper,
            &std::mem::take(&mut partition.buffer),
            &partition.stream,
            partition.committed,
        );
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
        (id, batch, checkpoint)
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

/// Sends batches to commit together (in one transaction on DuckDB and PostgreSQL).
fn send(group: Vec<Commit>, channels: &Channels) -> Result<(), LoadError> {
    if group.is_empty() {
        return Ok(());
    }
    channels
        .to_commit
        .send(group)
        // The commit thread stopped on an error, which the load reports.
        .map_err(|_| LoadError::new("the warehouse stopped taking batches"))
}

/// The reading side's ends of the channels to and from the commit thread.
struct Channels {
    to_commit: mpsc::SyncSender<Vec<Commit>>,
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
