//! Loaders: raw tables fed from S3-compatible buckets, local folders or Kafka topics,
//! declared with a `loader:` mapping on sources and run by `elt load`.
//!
//! Exactly once: each batch's rows, its dead letters and the positions it consumed commit
//! together ([`sink`]), so a load that is killed and started again continues after the last
//! committed batch, with no record lost or loaded twice. A record that cannot be loaded
//! (malformed JSON, a value of the wrong type, over the size limit) goes to the dead-letter
//! table with its payload, position and error; it never stops the load.

pub mod config;
mod fence;
mod kafka;
mod kafka_client;
mod objects;
pub mod publish;
pub mod records;
pub mod sink;
pub mod values;

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use elt_core::diagnostics::Diagnostic;
use elt_core::manifest::SourceNode;
use elt_warehouse::{Warehouse, WarehouseError};
use serde_json::{Map, Value as Json};

pub use config::{ConfigError, Format, LoaderConfig, Origin, Shape};
pub use kafka_client::{Fetched, Fetcher};

use records::Shaper;
use sink::{RawColumn, Sink};

/// The largest record loaded; a longer one is a dead letter.
const MAX_RECORD_BYTES: usize = 16 << 20;

/// Why a table's load stopped. What committed before stays committed.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadError {
    pub message: String,
    pub hint: Option<String>,
}

impl LoadError {
    pub fn new(message: impl Into<String>) -> Self {
        LoadError {
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl From<LoadError> for Diagnostic {
    fn from(e: LoadError) -> Self {
        let diagnostic = Diagnostic::error(e.message);
        match e.hint {
            Some(hint) => diagnostic.with_help(hint),
            None => diagnostic,
        }
    }
}

impl From<WarehouseError> for LoadError {
    fn from(e: WarehouseError) -> Self {
        LoadError {
            message: e.message,
            hint: e.hint,
        }
    }
}

impl From<ConfigError> for LoadError {
    fn from(e: ConfigError) -> Self {
        LoadError::new(e.0)
    }
}

/// What a table's load did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Objects read to their end, or partitions read.
    pub objects: u64,
    pub rows: u64,
    pub dead_letters: u64,
    pub elapsed: Duration,
    /// Following a topic: the records not yet read, as the brokers report them.
    pub lag: Option<u64>,
    /// Objects loaded before whose contents (ETag) changed since, loaded again as new
    /// versions (their earlier rows stay).
    pub changed: Vec<String>,
}

impl Progress {
    /// Counts a committed batch.
    fn add(&mut self, batch: &sink::Batch) {
        self.rows += batch.rows.len() as u64;
        self.dead_letters += batch.dead_letters.len() as u64;
    }
}

/// `elt load --follow`: keep loading until `stop` is set (by SIGINT or SIGTERM), calling
/// `report` every few seconds with the progress so far.
pub struct Follow<'a> {
    pub stop: &'a AtomicBool,
    pub report: &'a mut dyn FnMut(&Progress),
}

/// How often a followed bucket or folder is listed again.
const OBJECTS_POLL: Duration = Duration::from_secs(2);

/// The source tables with a loader config, with their config parsed (or its error).
pub fn loadable<'a>(
    sources: impl IntoIterator<Item = &'a SourceNode>,
    vars: &Map<String, Json>,
) -> Vec<(&'a SourceNode, Result<LoaderConfig, ConfigError>)> {
    sources
        .into_iter()
        .filter_map(|source| Some((source, LoaderConfig::of(source, vars)?)))
        .collect()
}

/// Loads one source table: every record its loader has that the raw table does not have yet
/// (and with `follow`, every record that comes until it stops). `on_commit` is told the
/// progress after each commit.
pub fn load_table(
    warehouse: &dyn Warehouse,
    source: &SourceNode,
    config: &LoaderConfig,
    project_root: &Path,
    mut follow: Option<Follow<'_>>,
    on_commit: &(dyn Fn(&Progress) + Sync),
) -> Result<Progress, LoadError> {
    let started = Instant::now();
    let shaper = Shaper::new(&config.shape, config.format, source, MAX_RECORD_BYTES);
    let columns: Vec<RawColumn> = match &config.shape {
        Shape::Payload { column } => vec![RawColumn {
            name: column.clone(),
            data_type: None,
        }],
        Shape::Columns => source
            .columns
            .values()
            .map(|c| RawColumn {
                name: c.name.clone(),
                data_type: c.data_type.clone(),
            })
            .collect(),
    };
    let name = source.full_name();
    let mut sink = Sink::open(warehouse, &source.relation, &name, &columns)?;
    let mut progress = Progress::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| LoadError::new(format!("cannot start the loader's runtime: {e}")))?;
    match &config.origin {
        Origin::Objects(objects_config) => {
            let store = objects::open_store(objects_config, project_root)?;
            let mut load = objects::ObjectsLoad {
                config: objects_config,
                format: config.format,
                batch_rows: config.batch_rows,
                shaper,
                on_commit,
            };
            load.run(&runtime, &store, &mut sink, &mut progress)?;
            while let Some(follow) = follow.as_mut() {
                let listed = Instant::now();
                while listed.elapsed() < OBJECTS_POLL && !follow.stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                }
                if follow.stop.load(Ordering::Relaxed) {
                    break;
                }
                load.run(&runtime, &store, &mut sink, &mut progress)?;
                progress.elapsed = started.elapsed();
                (follow.report)(&progress);
            }
        }
        Origin::Kafka(kafka_config) => {
            let load = kafka::KafkaLoad {
                config: kafka_config,
                batch_rows: config.batch_rows,
                shaper,
                on_commit,
            };
            load.run(&mut sink, &mut progress, follow)?;
        }
    }
    progress.elapsed = started.elapsed();
    Ok(progress)
}
