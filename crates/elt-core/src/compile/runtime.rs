//! Rendering that can only happen when a node runs: an incremental model's SQL once its table
//! is known to exist (`is_incremental()` is then true), and hooks, which see the node's `this`.
//! It reuses the compile's template environment and resolved relations.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value as Json;

use super::ephemeral;
use super::render::{model_value, strip_padding, substitute};
use crate::diagnostics::Diagnostic;
use crate::manifest::{Node, NodeMap};
use crate::template::{NodeContext, Pass, Renderer, Resolver, blocks};

/// The compile's renderer, kept for run-time renders.
#[derive(Clone)]
pub struct Runtime {
    renderer: Arc<Renderer>,
    resolver: Arc<Resolver>,
}

/// A hook as configured: its SQL template and whether dbt would run it inside the model's
/// transaction (`transaction: false` hooks run outside it).
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    pub sql: String,
    pub transaction: bool,
}

impl Runtime {
    pub(super) fn new(renderer: Arc<Renderer>, resolver: Arc<Resolver>) -> Self {
        Runtime { renderer, resolver }
    }

    fn context(&self, node: Option<&Node>, is_incremental: bool) -> Arc<NodeContext> {
        let (model, config) = match node {
            Some(node) => (model_value(Arc::new(node.clone())), node.config.clone()),
            None => (minijinja::Value::UNDEFINED, Default::default()),
        };
        let mut ctx = NodeContext::new(self.resolver.clone(), Pass::Final, model, config);
        ctx.this = node.and_then(|n| n.relation.clone());
        ctx.is_incremental = is_incremental;
        Arc::new(ctx)
    }

    /// A model's SQL rendered with `is_incremental()` true, ephemeral parents inlined.
    pub fn incremental_sql(&self, node: &Node, nodes: &NodeMap) -> Result<String, Diagnostic> {
        let ctx = self.context(Some(node), true);
        let what = format!("model '{}'", node.name);
        let source = blocks::at_line(&node.raw_code, node.raw_line);
        let out = self
            .renderer
            .render(&node.original_file_path, &source, &ctx, &what)?;
        let sql = substitute(strip_padding(out, node.raw_line), node, &self.resolver);
        let ctes = ephemeral::ctes_for(node, nodes);
        Ok(if ctes.is_empty() {
            sql
        } else {
            ephemeral::inject(&sql, &ctes)
        })
    }

    /// Renders a hook: of a node (`this` is its relation) or of the run (`on-run-start/end`).
    pub fn hook_sql(
        &self,
        node: Option<&Node>,
        hook: &str,
        file: &Path,
        what: &str,
    ) -> Result<String, Diagnostic> {
        let ctx = self.context(node, false);
        self.renderer.render(file, hook, &ctx, what)
    }
}

/// The hooks of a node's `pre-hook` or `post-hook` config, in order.
pub fn hooks(node: &Node, key: &str) -> Vec<Hook> {
    let list = match node.config.get(key) {
        Some(Json::Array(items)) => items.clone(),
        Some(Json::Null) | None => Vec::new(),
        Some(other) => vec![other.clone()],
    };
    list.into_iter()
        .filter_map(|item| match item {
            Json::String(sql) => Some(Hook {
                sql,
                transaction: true,
            }),
            Json::Object(map) => Some(Hook {
                sql: map.get("sql")?.as_str()?.to_string(),
                transaction: map.get("transaction").and_then(Json::as_bool) != Some(false),
            }),
            _ => None,
        })
        .filter(|hook| !hook.sql.trim().is_empty())
        .collect()
}
