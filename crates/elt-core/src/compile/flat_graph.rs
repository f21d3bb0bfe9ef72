//! dbt's `graph` variable: every node and source of the project as the manifest writes them
//! (`graph.nodes`, `graph.sources`, and the empty `exposures`, `metrics`, ...), for templates
//! that look across the project (`graph.nodes.values() | selectattr(...)`).
//!
//! Built on first use, in the final pass only: as in dbt, the graph is complete only when
//! `execute` is true, and a node that reads it in the first pass is rendered again.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use minijinja::Value;
use minijinja::value::{Enumerator, Object};
use serde_json::{Map, Value as Json};

use super::render::Job;
use crate::manifest::json::{node_json, source_json};
use crate::manifest::{Node, SourceNode};
use crate::project::Project;
use crate::template::{Renderer, Resolver, json_value};

/// The kinds of resource `graph` holds besides nodes and sources; elt has none of them yet.
const EMPTY_KINDS: [&str; 5] = [
    "exposures",
    "metrics",
    "groups",
    "semantic_models",
    "saved_queries",
];

/// Whether any macro, node or config may read `graph`. The graph shares the nodes while
/// rendering, which would make each node's later changes copy it: without a reader, the
/// graph stays empty and nothing is shared.
pub(super) fn is_used(project: &Project, renderer: &Renderer, jobs: &[Job]) -> bool {
    let mentions = |text: &str| text.contains("graph");
    let config = &project.config;
    renderer.macros.iter().any(|m| mentions(&m.source))
        || config
            .on_run_start
            .iter()
            .chain(&config.on_run_end)
            .any(|h| mentions(h))
        || jobs.iter().any(|j| {
            mentions(&j.node.raw_code)
                || j.node.config.values().any(|v| mentions(&v.to_string()))
                || j.test
                    .as_ref()
                    .is_some_and(|t| t.args.values().any(|v| mentions(&v.to_string())))
        })
}

/// What the first pass sees: the graph's keys, each empty.
pub(super) fn empty() -> Value {
    let keys = ["nodes", "sources"].into_iter().chain(EMPTY_KINDS);
    json_value(Json::Object(
        keys.map(|k| (k.to_string(), Json::Object(Map::new())))
            .collect(),
    ))
}

/// The graph of the final pass: the nodes as configured, their dependencies resolved.
#[derive(Debug)]
pub(super) struct FlatGraph {
    nodes: Vec<Arc<Node>>,
    sources: Arc<BTreeMap<String, SourceNode>>,
    /// Resolves the nodes' refs into `depends_on.nodes`.
    resolver: Arc<Resolver>,
    built_nodes: OnceLock<Value>,
    built_sources: OnceLock<Value>,
}

impl FlatGraph {
    pub(super) fn value(
        nodes: Vec<Arc<Node>>,
        sources: Arc<BTreeMap<String, SourceNode>>,
        resolver: Arc<Resolver>,
    ) -> Value {
        Value::from_object(FlatGraph {
            nodes,
            sources,
            resolver,
            built_nodes: OnceLock::new(),
            built_sources: OnceLock::new(),
        })
    }

    fn nodes(&self) -> Value {
        let entries = self.nodes.iter().map(|node| {
            let mut node = Node::clone(node);
            node.depends_on_nodes = self.parents(&node);
            (node.unique_id.clone(), node_json(&node))
        });
        json_value(Json::Object(entries.collect()))
    }

    /// What a node's refs and sources resolve to (linking proper happens after rendering).
    fn parents(&self, node: &Node) -> Vec<String> {
        let refs = node.refs.iter().filter_map(|r| {
            self.resolver
                .find_ref(&r.name, r.package.as_deref(), &node.package_name)
                .map(|t| t.unique_id.clone())
        });
        let sources = node.sources.iter().filter_map(|key| {
            let target = self.resolver.find_source(key, &node.package_name)?;
            Some(target.unique_id.clone())
        });
        let mut parents: Vec<String> = Vec::new();
        for id in refs.chain(sources) {
            if !parents.contains(&id) {
                parents.push(id);
            }
        }
        parents
    }

    fn sources(&self) -> Value {
        let entries = self
            .sources
            .iter()
            .map(|(id, source)| (id.clone(), source_json(source)));
        json_value(Json::Object(entries.collect()))
    }
}

impl Object for FlatGraph {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "nodes" => Some(self.built_nodes.get_or_init(|| self.nodes()).clone()),
            "sources" => Some(self.built_sources.get_or_init(|| self.sources()).clone()),
            kind if EMPTY_KINDS.contains(&kind) => Some(json_value(Json::Object(Map::new()))),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&[
            "nodes",
            "sources",
            "exposures",
            "metrics",
            "groups",
            "semantic_models",
            "saved_queries",
        ])
    }
}
