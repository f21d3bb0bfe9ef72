//! The compiled project: every node with its config, dependencies and compiled SQL. Written as
//! `target/manifest.json` with dbt's field names (see [`json`]).

pub mod json;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::{Map, Value as Json};

use crate::adapter::Relation;
use crate::project::Target;
use crate::template::RefCall;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    Model,
    Seed,
    Snapshot,
    Test,
    /// A unit test (dbt 1.8): the model run on given rows, compared with expected rows.
    UnitTest,
    Analysis,
    Source,
}

impl ResourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Model => "model",
            Self::Seed => "seed",
            Self::Snapshot => "snapshot",
            Self::Test => "test",
            Self::UnitTest => "unit_test",
            Self::Analysis => "analysis",
            Self::Source => "source",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "model" => Self::Model,
            "seed" => Self::Seed,
            "snapshot" => Self::Snapshot,
            "test" | "data_test" => Self::Test,
            "unit_test" => Self::UnitTest,
            "analysis" => Self::Analysis,
            "source" => Self::Source,
            _ => return None,
        })
    }
}

/// A column as documented in YAML.
#[derive(Debug, Clone, Default)]
pub struct Column {
    pub name: String,
    pub description: String,
    pub data_type: Option<String>,
    pub meta: Map<String, Json>,
    pub tags: Vec<String>,
    pub quote: Option<bool>,
    pub constraints: Vec<Json>,
}

/// What a generic test was made from.
#[derive(Debug, Clone)]
pub struct TestMetadata {
    /// The test's name without namespace: `unique`, `accepted_values`.
    pub name: String,
    pub namespace: Option<String>,
    /// Arguments as written, plus `column_name` and `model`.
    pub kwargs: Map<String, Json>,
    pub column_name: Option<String>,
    /// The node or source the test is defined on.
    pub attached_node: Option<String>,
    /// The YAML entry the test came from (`models: orders`).
    pub file_key_name: String,
}

/// A model, seed, snapshot, test or analysis.
#[derive(Debug, Clone)]
pub struct Node {
    pub unique_id: String,
    pub resource_type: ResourceType,
    pub name: String,
    pub package_name: String,
    /// Relative to the resource folder (dbt's `path`).
    pub path: PathBuf,
    /// Relative to the root project (a package's under its folder: errors name real files).
    pub original_file_path: PathBuf,
    /// Its package's folder relative to the root project; empty for the root project's nodes.
    pub package_dir: PathBuf,
    /// The properties file that documents it.
    pub patch_path: Option<PathBuf>,
    pub fqn: Vec<String>,
    pub raw_code: String,
    /// Line of `raw_code`'s first character in `original_file_path` (snapshot blocks start later).
    pub raw_line: u32,
    pub checksum: String,
    pub config: Map<String, Json>,
    pub description: String,
    pub columns: IndexMap<String, Column>,
    pub meta: Map<String, Json>,
    pub tags: Vec<String>,
    pub docs: Map<String, Json>,
    pub refs: Vec<RefCall>,
    pub sources: Vec<(String, String)>,
    pub depends_on_macros: Vec<String>,
    /// Unique ids of the nodes and sources this node reads.
    pub depends_on_nodes: Vec<String>,
    pub relation: Option<Relation>,
    pub compiled_code: Option<String>,
    /// Its SQL queries the warehouse while compiling (`run_query`, `dbt_utils.star`, ...), or
    /// its render fails with `execute` true: `compiled_code` is as rendered with `execute`
    /// false (as dbt parses), and a run renders it again, with the warehouse, just before
    /// running it (where a failure is the node's, as in dbt).
    pub introspective: bool,
    /// Ephemeral models inlined as CTEs: (unique id, `__dbt__cte__x as (...)`).
    pub extra_ctes: Vec<(String, String)>,
    pub test: Option<TestMetadata>,
    /// Other YAML properties kept as written (access, group, constraints, ...).
    pub extra: Map<String, Json>,
}

/// Where a node comes from: the fields every node has before configs and rendering.
pub struct NodeOrigin {
    pub unique_id: String,
    pub resource_type: ResourceType,
    pub name: String,
    pub package_name: String,
    pub path: PathBuf,
    pub original_file_path: PathBuf,
    pub package_dir: PathBuf,
    pub fqn: Vec<String>,
    pub raw_code: String,
    pub raw_line: u32,
    pub checksum: String,
}

impl Node {
    /// Its file relative to its own package's folder (dbt's `original_file_path`).
    pub fn file_in_package(&self) -> &Path {
        self.original_file_path
            .strip_prefix(&self.package_dir)
            .unwrap_or(&self.original_file_path)
    }

    /// A node with nothing known yet beyond its origin.
    pub fn new(origin: NodeOrigin) -> Self {
        Node {
            unique_id: origin.unique_id,
            resource_type: origin.resource_type,
            name: origin.name,
            package_name: origin.package_name,
            path: origin.path,
            original_file_path: origin.original_file_path,
            package_dir: origin.package_dir,
            patch_path: None,
            fqn: origin.fqn,
            raw_code: origin.raw_code,
            raw_line: origin.raw_line,
            checksum: origin.checksum,
            config: Map::new(),
            description: String::new(),
            columns: IndexMap::new(),
            meta: Map::new(),
            tags: Vec::new(),
            docs: Map::new(),
            refs: Vec::new(),
            sources: Vec::new(),
            depends_on_macros: Vec::new(),
            depends_on_nodes: Vec::new(),
            relation: None,
            compiled_code: None,
            introspective: false,
            extra_ctes: Vec::new(),
            test: None,
            extra: Map::new(),
        }
    }

    pub fn materialized(&self) -> &str {
        self.config
            .get("materialized")
            .and_then(Json::as_str)
            .unwrap_or(match self.resource_type {
                ResourceType::Seed => "seed",
                ResourceType::Snapshot => "snapshot",
                ResourceType::Test => "test",
                _ => "view",
            })
    }

    pub fn is_ephemeral(&self) -> bool {
        self.resource_type == ResourceType::Model && self.materialized() == "ephemeral"
    }

    pub fn enabled(&self) -> bool {
        self.config
            .get("enabled")
            .and_then(Json::as_bool)
            .unwrap_or(true)
    }

    pub fn config_str(&self, key: &str) -> Option<&str> {
        self.config.get(key).and_then(Json::as_str)
    }

    /// dbt's defaults for the configs of this kind of node, for keys the node does not set.
    /// They are not stored in every node's config: a project has thousands of tests.
    pub fn config_defaults(&self) -> Vec<(&'static str, Json)> {
        let mut defaults = vec![
            ("enabled", Json::Bool(true)),
            ("materialized", Json::from(self.materialized())),
            ("tags", Json::Array(vec![])),
            ("meta", Json::Object(Map::new())),
            ("pre-hook", Json::Array(vec![])),
            ("post-hook", Json::Array(vec![])),
        ];
        if self.resource_type == ResourceType::Test {
            defaults.extend([
                ("severity", Json::from("ERROR")),
                ("store_failures", Json::Null),
                ("where", Json::Null),
                ("limit", Json::Null),
                ("fail_calc", Json::from("count(*)")),
                ("warn_if", Json::from("!= 0")),
                ("error_if", Json::from("!= 0")),
            ]);
        }
        defaults.retain(|(key, _)| !self.config.contains_key(*key));
        defaults
    }

    /// A config value, or dbt's default for it.
    pub fn config_value(&self, key: &str) -> Option<Json> {
        match self.config.get(key) {
            Some(value) => Some(value.clone()),
            None => self
                .config_defaults()
                .into_iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v),
        }
    }
}

/// A table declared under `sources:`.
#[derive(Debug, Clone)]
pub struct SourceNode {
    pub unique_id: String,
    pub source_name: String,
    pub name: String,
    pub package_name: String,
    pub path: PathBuf,
    pub fqn: Vec<String>,
    pub source_description: String,
    pub description: String,
    /// dbt's `loader` text (for an elt loader config, its type).
    pub loader: String,
    /// elt's loader config (`loader:` as a mapping), read by `elt load`.
    pub load: Option<Map<String, Json>>,
    pub identifier: String,
    pub loaded_at_field: Option<String>,
    pub freshness: Option<Json>,
    pub external: Option<Json>,
    pub columns: IndexMap<String, Column>,
    pub meta: Map<String, Json>,
    pub source_meta: Map<String, Json>,
    pub tags: Vec<String>,
    pub config: Map<String, Json>,
    pub relation: Relation,
    pub line: u32,
}

impl SourceNode {
    /// `source_name.table`, as `elt ls` and messages name a source table.
    pub fn full_name(&self) -> String {
        format!("{}.{}", self.source_name, self.name)
    }
}

#[derive(Debug, Clone)]
pub struct MacroNode {
    pub unique_id: String,
    pub name: String,
    pub package_name: String,
    pub path: PathBuf,
    pub line: u32,
    pub macro_sql: String,
    pub description: String,
    pub meta: Map<String, Json>,
    pub arguments: Vec<Json>,
}

#[derive(Debug, Clone)]
pub struct DocNode {
    pub unique_id: String,
    pub name: String,
    pub package_name: String,
    pub path: PathBuf,
    pub block_contents: String,
}

/// Nodes by unique id. Boxed: a node is about a kilobyte, and a B-tree moves its values.
pub type NodeMap = BTreeMap<String, Box<Node>>;

/// The compiled project.
#[derive(Debug)]
pub struct Manifest {
    pub project_name: String,
    pub target: Target,
    pub invocation_id: String,
    pub generated_at: String,
    /// Enabled nodes by unique id, in a stable order.
    pub nodes: NodeMap,
    pub disabled: NodeMap,
    pub sources: BTreeMap<String, SourceNode>,
    pub macros: BTreeMap<String, MacroNode>,
    pub docs: BTreeMap<String, DocNode>,
}

impl Manifest {
    /// Parents of a node or source (what it depends on).
    pub fn parents(&self, unique_id: &str) -> &[String] {
        self.nodes
            .get(unique_id)
            .map(|n| n.depends_on_nodes.as_slice())
            .unwrap_or(&[])
    }

    /// Every enabled node and source id.
    pub fn all_ids(&self) -> impl Iterator<Item = &String> {
        self.nodes.keys().chain(self.sources.keys())
    }
}
