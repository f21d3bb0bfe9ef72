//! Where each node lives in the warehouse: database, schema and alias from its config through
//! `generate_database_name`, `generate_schema_name` and `generate_alias_name`.
//!
//! The built-in versions are computed natively; a project that overrides one of them (directly
//! or with an adapter-specific `default__`/`<adapter>__` variant) gets its macro called instead,
//! and a package that defines one names its own nodes with it.

use std::sync::Arc;

use minijinja::Value;
use serde_json::Value as Json;

use super::render::model_value;
use crate::adapter::Relation;
use crate::compile::sources::apply_quoting;
use crate::diagnostics::Diagnostic;
use crate::manifest::{Node, ResourceType};
use crate::project::Target;
use crate::template::{NodeContext, Pass, Renderer, Resolver};

/// The prefix of an ephemeral model's CTE name, as in dbt.
pub const EPHEMERAL_PREFIX: &str = "__dbt__cte__";

pub struct Namer<'a> {
    renderer: &'a Renderer,
    resolver: Arc<Resolver>,
    target: &'a Target,
    quoting: &'a serde_json::Map<String, Json>,
    custom_database: bool,
    custom_schema: bool,
    custom_alias: bool,
}

impl<'a> Namer<'a> {
    pub fn new(
        renderer: &'a Renderer,
        resolver: Arc<Resolver>,
        target: &'a Target,
        quoting: &'a serde_json::Map<String, Json>,
    ) -> Self {
        let overridden = |name: &str| resolver.macros.root_overrides(name, target.dialect);
        Namer {
            custom_database: overridden("generate_database_name"),
            custom_schema: overridden("generate_schema_name"),
            custom_alias: overridden("generate_alias_name"),
            renderer,
            resolver,
            target,
            quoting,
        }
    }

    pub fn relation(&self, node: &Node) -> Result<Relation, Diagnostic> {
        if node.is_ephemeral() {
            let name = format!("{EPHEMERAL_PREFIX}{}", node.name);
            return Ok(Relation::bare(self.target.dialect, name));
        }
        let config = |key: &str| node.config_str(key).map(str::to_string);
        let legacy_snapshot =
            node.resource_type == ResourceType::Snapshot && config("target_schema").is_some();
        let schema = if legacy_snapshot {
            config("target_schema").unwrap_or_default()
        } else {
            let custom = config("schema").or_else(|| {
                (node.resource_type == ResourceType::Test).then(|| "dbt_test__audit".to_string())
            });
            self.name(
                "generate_schema_name",
                self.custom_schema,
                custom,
                node,
                || Some(self.target.schema.clone()),
            )?
        };
        let database = if legacy_snapshot && config("target_database").is_some() {
            config("target_database").unwrap_or_default()
        } else {
            self.name(
                "generate_database_name",
                self.custom_database,
                config("database"),
                node,
                || Some(self.target.database.clone()),
            )?
        };
        let alias = self.name(
            "generate_alias_name",
            self.custom_alias,
            config("alias"),
            node,
            || None,
        )?;
        let mut relation = Relation::new(self.target.dialect, Some(database), schema, alias);
        apply_quoting(&mut relation, self.quoting);
        Ok(relation)
    }

    /// One name: natively with dbt's default rules, or through the project's macro.
    fn name(
        &self,
        macro_name: &str,
        custom_macro: bool,
        custom: Option<String>,
        node: &Node,
        default: impl Fn() -> Option<String>,
    ) -> Result<String, Diagnostic> {
        // A package's own generate_x_name names its nodes (dbt's find_generate_macro_by_name
        // with the imported package), before the root project's.
        let package = &node.package_name;
        if *package != self.resolver.project_name
            && self.resolver.macros.get(package, macro_name).is_some()
        {
            return self.call_macro(&format!("{package}.{macro_name}"), custom, node);
        }
        if custom_macro {
            return self.call_macro(macro_name, custom, node);
        }
        Ok(match (macro_name, custom) {
            ("generate_schema_name", Some(custom)) => {
                format!("{}_{}", default().unwrap_or_default(), custom.trim())
            }
            ("generate_database_name", Some(custom)) => custom,
            ("generate_alias_name", Some(custom)) => custom.trim().to_string(),
            (_, _) => default().unwrap_or_else(|| node.name.clone()),
        })
    }

    fn call_macro(
        &self,
        macro_name: &str,
        custom: Option<String>,
        node: &Node,
    ) -> Result<String, Diagnostic> {
        let ctx = Arc::new(NodeContext::new(
            self.resolver.clone(),
            Pass::Final,
            model_value(Arc::new(node.clone())),
            node.config.clone(),
        ));
        ctx.extra.lock().expect("extra lock").insert(
            "__custom".into(),
            custom.map(Value::from).unwrap_or(Value::from(())),
        );
        let what = format!(
            "{macro_name} for {} '{}'",
            node.resource_type.as_str(),
            node.name
        );
        let value = self
            .renderer
            .eval(&format!("{macro_name}(__custom, model)"), &ctx)
            .map_err(|e| {
                self.renderer
                    .diagnostic(&e, &node.original_file_path, &node.raw_code, &what)
            })?;
        let name = value.to_string().trim().to_string();
        if name.is_empty() {
            return Err(Diagnostic::error(format!("{what} returned an empty name"))
                .at(&node.original_file_path, 0, 0)
                .with_help(format!("make {macro_name} return a name for every node")));
        }
        Ok(name)
    }
}
