//! Kafka helpers for bench/load.sh: `produce` sends the lines of standard input as messages
//! (round robin over the partitions); `consume` reads every partition of a topic from its
//! start until it has `--count` messages, writing nothing: the baseline `elt load` is
//! compared with (with `--batch`, reading as the loader does, many messages per call).
//! `consume` prints the seconds it took and the CPU seconds the machine (this consumer and the
//! broker) spent on it.

use std::io::BufRead;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9092")]
    brokers: String,
    #[arg(long)]
    topic: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the topic with this many partitions and send standard input's lines to it
    Produce {
        #[arg(long, default_value_t = 4)]
        partitions: i32,
    },
    /// Read the topic from the start until `count` messages; print the seconds it took
    Consume {
        #[arg(long)]
        count: u64,
        /// Read many messages per call, as elt's loader does, instead of one per `poll`
        #[arg(long)]
        batch: bool,
    },
}

fn main() {
    let args = Args::parse();
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &args.brokers);
    match args.command {
        Command::Produce { partitions } => produce(&config, &args.topic, partitions),
        Command::Consume { count, batch } => consume(&config, &args.topic, count, batch),
    }
}

fn produce(config: &ClientConfig, topic: &str, partitions: i32) {
    let admin: AdminClient<_> = config.create().expect("admin client");
    let created = futures::executor::block_on(admin.create_topics(
        &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
        &AdminOptions::new(),
    ));
    created.expect("create topic");
    let producer: BaseProducer = config
        .clone()
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .create()
        .expect("producer");
    let mut sent = 0u64;
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("read stdin");
        let partition = (sent % partitions as u64) as i32;
        let record = BaseRecord::<str, str>::to(topic)
            .partition(partition)
            .payload(&line);
        elt_load::publish::send(&producer, record).expect("send");
        sent += 1;
    }
    producer.flush(Duration::from_secs(120)).expect("flush");
    eprintln!("produced {sent} messages to {topic}");
}

fn consume(config: &ClientConfig, topic: &str, count: u64, batch: bool) {
    let consumer: BaseConsumer = config
        .clone()
        .set("group.id", format!("bench-{}", std::process::id()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        // As elt's loader is configured: with librdkafka's default (1 s), a consume whose
        // queue fills pauses fetching for a second.
        .set("fetch.queue.backoff.ms", "10")
        .create()
        .expect("consumer");
    // As elt does: every partition assigned from its start, no group rebalance.
    let started = Instant::now();
    let cpu_before = elt_bench::machine_cpu_seconds();
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let mut assignment = TopicPartitionList::new();
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        assignment
            .add_partition_offset(topic, partition.id(), Offset::Beginning)
            .expect("add partition");
    }
    consumer.assign(&assignment).expect("assign");
    let mut read = 0u64;
    let mut bytes = 0usize;
    let mut fetcher = batch.then(|| elt_load::Fetcher::new(&consumer));
    while read < count {
        if let Some(fetcher) = fetcher.as_mut() {
            for message in fetcher.fetch(Duration::from_millis(100)) {
                assert!(message.error().is_none(), "consume: {:?}", message.error());
                bytes += message.payload().map_or(0, <[u8]>::len);
                read += 1;
            }
        } else if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message.expect("consume");
            bytes += rdkafka::Message::payload(&message).map_or(0, <[u8]>::len);
            read += 1;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "{read} of {count} after 600 s"
        );
    }
    println!(
        "{:.3} {:.2}",
        started.elapsed().as_secs_f64(),
        elt_bench::machine_cpu_seconds() - cpu_before
    );
    eprintln!("consumed {read} messages, {bytes} bytes");
}
