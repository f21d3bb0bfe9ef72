//! A source table's loader config: the `loader:` mapping of its source with the table's keys
//! over it, checked key by key, with `{{ env_var() }}` rendered at load time (so secrets never
//! reach the manifest).

use std::time::Duration;

use std::path::PathBuf;

use elt_core::manifest::SourceNode;
use elt_core::project::profile;
use serde_json::{Map, Value as Json};

/// Where a table's records come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// Objects under a prefix of an S3-compatible bucket, or files under a local folder.
    Objects(ObjectsConfig),
    /// Messages of a Kafka topic, every partition.
    Kafka(KafkaConfig),
}

#[derive(Debug, Clone, PartialEq)]
pub struct KafkaConfig {
    /// `bootstrap.servers`: `host:port[,host:port...]`.
    pub brokers: String,
    pub topic: String,
    /// The consumer group the loaded offsets are also committed to (for lag tools); the
    /// warehouse's load state is what a load resumes from.
    pub group: String,
    /// The longest a record waits in memory before its batch commits.
    pub batch_ms: Duration,
    /// Further librdkafka settings (`security.protocol`, `sasl.username`, ...).
    pub properties: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObjectsConfig {
    pub store: Store,
    /// Only objects under this prefix (a folder of the bucket or of `path`).
    pub prefix: String,
    /// Only objects whose key (below the prefix) matches this glob, e.g. `*.jsonl`.
    pub pattern: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Store {
    S3 {
        bucket: String,
        /// `None`: AWS itself.
        endpoint: Option<String>,
        region: String,
        access_key_id: Option<String>,
        secret_access_key: Option<String>,
    },
    /// A local folder (relative to the project).
    Files { path: PathBuf },
}

/// How records are written in the objects or messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line (for Kafka: per message).
    JsonLines,
    /// CSV with a header row.
    Csv,
    /// Apache Parquet, every row a record.
    Parquet,
}

/// What a record becomes in the raw table.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// The record as written, in one text column (JSON lines still checked to be JSON).
    Payload { column: String },
    /// The table's YAML columns, each read from the record's field of the same name.
    Columns,
}

/// A source table's loader, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct LoaderConfig {
    pub origin: Origin,
    pub format: Format,
    pub shape: Shape,
    /// The most records committed in one transaction.
    pub batch_rows: usize,
}

/// A loader config error, with where the config is written.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

const KAFKA_KEYS: &[&str] = &[
    "type",
    "format",
    "payload",
    "batch_rows",
    "batch_ms",
    "brokers",
    "topic",
    "group",
    "properties",
];

const OBJECT_KEYS: &[&str] = &[
    "type",
    "format",
    "payload",
    "batch_rows",
    "prefix",
    "pattern",
    "bucket",
    "endpoint",
    "region",
    "access_key_id",
    "secret_access_key",
    "path",
];

impl LoaderConfig {
    /// The loader of `source`, or `None` when it has no `loader:` mapping. `vars` are the
    /// project's vars, for `{{ var() }}` in values.
    pub fn of(source: &SourceNode, vars: &Map<String, Json>) -> Option<Result<Self, ConfigError>> {
        let config = source.load.as_ref()?;
        Some(Self::parse(source, config, vars).map_err(|message| {
            ConfigError(format!(
                "{}:{}: loader of source {}.{}: {message}",
                source.path.display(),
                source.line,
                source.source_name,
                source.name
            ))
        }))
    }

    fn parse(
        source: &SourceNode,
        config: &Map<String, Json>,
        vars: &Map<String, Json>,
    ) -> Result<Self, String> {
        let read = Values {
            config,
            vars,
            source,
        };
        let kind = read
            .text("type")?
            .ok_or("`type` is missing: use s3, files or kafka")?;
        let keys = match kind.as_str() {
            "s3" | "files" => OBJECT_KEYS,
            "kafka" => KAFKA_KEYS,
            other => return Err(format!("unknown type '{other}': use s3, files or kafka")),
        };
        if let Some(unknown) = config.keys().find(|k| !keys.contains(&k.as_str())) {
            return Err(format!(
                "unknown key '{unknown}' for type {kind}; valid keys: {}",
                keys.join(", ")
            ));
        }
        let formats = match kind.as_str() {
            "kafka" => "json",
            _ => "jsonl, csv or parquet",
        };
        let format = match read.text("format")?.as_deref() {
            Some("jsonl" | "json") => Format::JsonLines,
            Some("csv") => Format::Csv,
            Some("parquet") => Format::Parquet,
            Some(other) => return Err(format!("unknown format '{other}': use {formats}")),
            None => return Err(format!("`format` is missing: use {formats}")),
        };
        if kind == "kafka" && format != Format::JsonLines {
            return Err("Kafka messages are read as JSON: use `format: json`".into());
        }
        let shape = match read.text("payload")? {
            Some(column) => Shape::Payload { column },
            None if source.columns.is_empty() => {
                return Err(
                    "declare the table's columns (with data_type) or set `payload: <column>` \
                     to keep each record whole in one column"
                        .into(),
                );
            }
            None => Shape::Columns,
        };
        let origin = match kind.as_str() {
            "kafka" => Origin::Kafka(read.kafka()?),
            _ => Origin::Objects(read.objects(&kind)?),
        };
        let batch_rows = match config.get("batch_rows") {
            None => 100_000,
            Some(value) => value
                .as_u64()
                .filter(|n| *n > 0)
                .ok_or("`batch_rows` must be a positive number")?
                as usize,
        };
        Ok(LoaderConfig {
            origin,
            format,
            shape,
            batch_rows,
        })
    }
}

/// Reads text values of a loader mapping: `{{ env_var() }}` and `{{ var() }}` rendered,
/// `{name}` and `{identifier}` replaced by the table's.
struct Values<'a> {
    config: &'a Map<String, Json>,
    vars: &'a Map<String, Json>,
    source: &'a SourceNode,
}

impl Values<'_> {
    fn objects(&self, kind: &str) -> Result<ObjectsConfig, String> {
        let store = if kind == "s3" {
            Store::S3 {
                bucket: self.text("bucket")?.ok_or("`bucket` is missing")?,
                endpoint: self.text("endpoint")?,
                region: self.text("region")?.unwrap_or_else(|| "us-east-1".into()),
                access_key_id: self.text("access_key_id")?,
                secret_access_key: self.text("secret_access_key")?,
            }
        } else {
            Store::Files {
                path: self.text("path")?.ok_or("`path` is missing")?.into(),
            }
        };
        Ok(ObjectsConfig {
            store,
            prefix: self.text("prefix")?.unwrap_or_default(),
            pattern: self.text("pattern")?,
        })
    }

    fn kafka(&self) -> Result<KafkaConfig, String> {
        let batch_ms = match self.config.get("batch_ms") {
            None => 1000,
            Some(value) => value
                .as_u64()
                .filter(|n| *n > 0)
                .ok_or("`batch_ms` must be a positive number of milliseconds")?,
        };
        let properties = match self.config.get("properties") {
            None => Vec::new(),
            Some(Json::Object(map)) => {
                let mut properties = Vec::new();
                for key in map.keys() {
                    let values = Values {
                        config: map,
                        ..*self
                    };
                    let value = values.text(key).map_err(|e| format!("properties: {e}"))?;
                    properties.push((key.clone(), value.unwrap_or_default()));
                }
                properties
            }
            Some(_) => return Err("`properties` must be a mapping of librdkafka settings".into()),
        };
        Ok(KafkaConfig {
            brokers: self.text("brokers")?.ok_or("`brokers` is missing")?,
            topic: self
                .text("topic")?
                .unwrap_or_else(|| self.source.identifier.clone()),
            group: self.text("group")?.unwrap_or_else(|| "elt".into()),
            batch_ms: Duration::from_millis(batch_ms),
            properties,
        })
    }

    fn text(&self, key: &str) -> Result<Option<String>, String> {
        let Some(value) = self.config.get(key) else {
            return Ok(None);
        };
        let text = match value {
            // A table's `key: null` unsets its source's key.
            Json::Null => return Ok(None),
            Json::String(s) => s.clone(),
            Json::Number(n) => n.to_string(),
            Json::Bool(b) => b.to_string(),
            _ => return Err(format!("`{key}` must be text")),
        };
        let rendered = if elt_core::template::is_templated(&text) {
            profile::render(&text, self.vars).map_err(|e| format!("`{key}`: {e}"))?
        } else {
            text
        };
        Ok(Some(
            rendered
                .replace("{name}", &self.source.name)
                .replace("{identifier}", &self.source.identifier),
        ))
    }
}
