//! Publishing files to Kafka topics and buckets: how `elt generate --kafka/--bucket` feeds
//! the loaders, so that the whole platform runs: generator → Kafka/S3 → raw tables → models.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::error::KafkaResult;
use rdkafka::message::ToBytes;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;

use object_store::ObjectStoreExt;

use crate::LoadError;
use crate::config::{ObjectsConfig, Store};
use crate::kafka_client::{self, Watch};
use crate::objects;

/// Partitions of a topic created by publishing.
const PARTITIONS: i32 = 4;

/// Sends every non-empty line of `files`, in order, as one message of `topic` (created with
/// four partitions if missing), through a client with librdkafka `properties` (TLS, SASL).
/// Returns how many were sent, all acknowledged.
pub fn lines_to_kafka(
    brokers: &str,
    properties: &[(String, String)],
    topic: &str,
    files: &[PathBuf],
) -> Result<u64, LoadError> {
    let config = kafka_client::client_config(brokers, &[], properties);
    let producer: BaseProducer<Watch> = config
        .clone()
        .set("linger.ms", "20")
        .create_with_context(Watch::default())
        .map_err(|e| kafka_error(brokers, e))?;
    kafka_client::metadata(
        brokers,
        producer.context(),
        |timeout| producer.client().fetch_metadata(None, timeout),
        |timeout| producer.poll(timeout),
    )?;
    create_topic(&config, topic)?;
    let mut sent = 0;
    for file in files {
        let reader = std::fs::File::open(file)
            .map(std::io::BufReader::new)
            .map_err(|e| LoadError::new(format!("cannot read {}: {e}", file.display())))?;
        for line in reader.split(b'\n') {
            let line =
                line.map_err(|e| LoadError::new(format!("cannot read {}: {e}", file.display())))?;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let record = BaseRecord::<(), [u8]>::to(topic).payload(&line);
            send(&producer, record).map_err(|e| kafka_error(brokers, e))?;
            sent += 1;
        }
    }
    producer
        .flush(Duration::from_secs(60))
        .map_err(|e| kafka_error(brokers, e))?;
    Ok(sent)
}

/// Queues a message, waiting while the producer's queue is full.
pub fn send<K, P, C>(
    producer: &BaseProducer<C>,
    mut record: BaseRecord<'_, K, P>,
) -> KafkaResult<()>
where
    K: ToBytes + ?Sized,
    P: ToBytes + ?Sized,
    C: ProducerContext<DeliveryOpaque = ()>,
{
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((e, r)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                producer.poll(Duration::from_millis(10));
                record = r;
            }
            Err((e, _)) => return Err(e),
        }
    }
}

fn create_topic(config: &ClientConfig, topic: &str) -> Result<(), LoadError> {
    let brokers = config.get("bootstrap.servers").unwrap_or_default();
    let admin: AdminClient<Watch> = config
        .create_with_context(Watch::default())
        .map_err(|e| kafka_error(brokers, e))?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = futures::executor::block_on(admin.create_topics(
        &[NewTopic::new(topic, PARTITIONS, TopicReplication::Fixed(1))],
        &options,
    ))
    .map_err(|e| kafka_error(brokers, e))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(LoadError::new(format!(
                    "cannot create the topic {topic} on {brokers}: {code}"
                )));
            }
        }
    }
    Ok(())
}

fn kafka_error(brokers: &str, e: rdkafka::error::KafkaError) -> LoadError {
    LoadError::new(format!("Kafka at {brokers}: {e}"))
        .with_hint("check that the brokers are up and reachable")
}

/// Puts `files` into the bucket of `url` (`s3://bucket/prefix`), each under the prefix at
/// its path below `root`. The endpoint, region and keys come from the arguments or the
/// `AWS_*` environment variables. Returns how many objects were written.
pub fn files_to_bucket(
    url: &str,
    endpoint: Option<&str>,
    root: &Path,
    files: &[PathBuf],
) -> Result<u64, LoadError> {
    let Some((bucket, prefix)) = url
        .strip_prefix("s3://")
        .map(|rest| rest.split_once('/').unwrap_or((rest, "")))
    else {
        return Err(LoadError::new(format!("'{url}' is not a bucket URL"))
            .with_hint("write it as s3://bucket/prefix"));
    };
    let config = ObjectsConfig {
        store: Store::S3 {
            bucket: bucket.to_string(),
            endpoint: endpoint.map(str::to_string),
            region: std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
            access_key_id: None,
            secret_access_key: None,
        },
        prefix: String::new(),
        pattern: None,
    };
    let store = objects::open_store(&config, root)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| LoadError::new(format!("cannot start a runtime: {e}")))?;
    for file in files {
        let below = file.strip_prefix(root).unwrap_or(file);
        let key = Path::new(prefix.trim_matches('/')).join(below);
        let bytes = std::fs::read(file)
            .map_err(|e| LoadError::new(format!("cannot read {}: {e}", file.display())))?;
        let location = object_store::path::Path::from(key.to_string_lossy().as_ref());
        runtime
            .block_on(store.put(&location, bytes.into()))
            .map_err(|e| objects::store_error(e, &format!("s3://{bucket}/{location}")))?;
    }
    Ok(files.len() as u64)
}
