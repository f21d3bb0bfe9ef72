//! What running each kind of node means: models are materialized, seeds loaded, snapshots
//! taken and tests judged. Every runner turns the node's configs into the warehouse layer's
//! terms and reports what the warehouse said.

use elt_core::compile::{Hook, hooks};
use elt_core::diagnostics::Diagnostic;
use elt_core::manifest::{Node, ResourceType};
use elt_warehouse::data_test::{self, TestConfig};
use elt_warehouse::materialize::{
    self, Built, Incremental, Materialization, MergeColumns, OnSchemaChange, Storage, Strategy,
};
use elt_warehouse::snapshot::{self, ChangeDetection, SnapshotConfig};
use elt_warehouse::{RelationKind, Session};
use serde_json::Value as Json;

use crate::errors::{compiled_sql_path, config_error, warehouse_error};
use crate::{Catalog, Plan, Status};

/// What a runner reports, before timing is added.
pub struct Outcome {
    pub status: Status,
    pub message: String,
    pub failures: Option<i64>,
    pub built: Option<Built>,
    /// The SQL that ran, when it differs from the compiled SQL (incremental renders, nodes
    /// that query the warehouse while compiling).
    pub sql: Option<String>,
    pub diagnostic: Option<Diagnostic>,
}

impl Outcome {
    fn built(built: Built, sql: Option<String>) -> Self {
        Outcome {
            status: Status::Success,
            message: built.message(),
            failures: None,
            built: Some(built),
            sql,
            diagnostic: None,
        }
    }

    pub fn error(diagnostic: Diagnostic) -> Self {
        Outcome {
            status: Status::Error,
            message: diagnostic.message.clone(),
            failures: None,
            built: None,
            sql: None,
            diagnostic: Some(diagnostic),
        }
    }
}

type Run<T> = Result<T, Diagnostic>;

pub fn run(plan: &Plan, catalog: &Catalog, session: &mut dyn Session, node: &Node) -> Outcome {
    let result = match node.resource_type {
        ResourceType::Model => model(plan, catalog, session, node),
        ResourceType::Seed => seed(plan, catalog, session, node),
        ResourceType::Snapshot => snapshot(plan, session, node),
        ResourceType::Test => return test(plan, session, node),
        ResourceType::UnitTest => return crate::unit_tests::run(plan, session, node),
        other => Err(Diagnostic::error(format!(
            "{} nodes do not run",
            other.as_str()
        ))),
    };
    result.unwrap_or_else(Outcome::error)
}

fn sql_of(node: &Node) -> &str {
    node.compiled_code.as_deref().unwrap_or_default()
}

fn relation_of(node: &Node) -> &elt_core::adapter::Relation {
    node.relation
        .as_ref()
        .expect("runnable nodes have relations")
}

fn model(plan: &Plan, catalog: &Catalog, session: &mut dyn Session, node: &Node) -> Run<Outcome> {
    let relation = relation_of(node);
    let materialization = materialization(node)?;
    let full_refresh = node
        .config
        .get("full_refresh")
        .and_then(Json::as_bool)
        .unwrap_or(plan.options.full_refresh);
    let existing = catalog.kind(relation);
    // An increment an interrupted run left half-applied is completed before the model's SQL
    // is rendered: the model may read its own table.
    if catalog.kind(&materialize::pending(relation)).is_some() {
        materialize::complete_pending(session, relation, &materialization, full_refresh, existing)
            .map_err(|e| {
                let e = elt_warehouse::WarehouseError {
                    message: format!(
                        "completing the increment an interrupted run left half-applied failed: {}",
                        e.message
                    ),
                    hint: Some("`--full-refresh` rebuilds the table instead".into()),
                    ..e
                };
                warehouse_error(plan.project, node, &e, None)
            })?;
    }
    let incremental = matches!(materialization, Materialization::Incremental(_))
        && !full_refresh
        && existing == Some(RelationKind::Table);
    let run_sql = plan.compiled.runtime.sql_to_run(
        node,
        &plan.compiled.manifest.nodes,
        incremental,
        &plan.introspect,
    )?;
    let sql = run_sql.as_deref().unwrap_or(sql_of(node));
    run_hooks(plan, session, node, "pre-hook")?;
    // A staged table an interrupted build left goes first: a build in one statement would
    // not meet it, and it would stay for good.
    if catalog.kind(&materialize::staged(relation)).is_some() {
        materialize::drop_staged(session, relation)
            .map_err(|e| warehouse_error(plan.project, node, &e, None))?;
    }
    let built = materialize::build(
        session,
        relation,
        sql,
        &materialization,
        &storage(node),
        full_refresh,
        existing,
    )
    .map_err(|e| warehouse_error(plan.project, node, &e, Some(sql)))?;
    catalog.set(
        relation,
        match materialization {
            Materialization::View => RelationKind::View,
            _ => RelationKind::Table,
        },
    );
    run_hooks(plan, session, node, "post-hook")?;
    Ok(Outcome::built(built, run_sql))
}

fn materialization(node: &Node) -> Run<Materialization> {
    Ok(match node.materialized() {
        "view" => Materialization::View,
        "table" => Materialization::Table,
        "incremental" => Materialization::Incremental(incremental(node)?),
        other => {
            return Err(config_error(
                node,
                "materialized",
                format!("materialization '{other}' is not supported"),
                "use view, table, incremental or ephemeral",
            ));
        }
    })
}

fn incremental(node: &Node) -> Run<Incremental> {
    let strategy_name = node.config_str("incremental_strategy").unwrap_or(
        if node.config.contains_key("unique_key") {
            "delete+insert"
        } else {
            "append"
        },
    );
    let strategy = Strategy::parse(strategy_name).ok_or_else(|| {
        config_error(
            node,
            "incremental_strategy",
            format!("unknown incremental_strategy '{strategy_name}'"),
            &format!("use one of: {}", Strategy::NAMES.join(", ")),
        )
    })?;
    let policy_name = node.config_str("on_schema_change").unwrap_or("ignore");
    let on_schema_change = OnSchemaChange::parse(policy_name).ok_or_else(|| {
        config_error(
            node,
            "on_schema_change",
            format!("unknown on_schema_change '{policy_name}'"),
            &format!("use one of: {}", OnSchemaChange::NAMES.join(", ")),
        )
    })?;
    let update_columns = string_list(node.config.get("merge_update_columns"));
    let exclude_columns = string_list(node.config.get("merge_exclude_columns"));
    let merge_columns = match (update_columns.is_empty(), exclude_columns.is_empty()) {
        (true, true) => MergeColumns::All,
        (false, true) => MergeColumns::Only(update_columns),
        (true, false) => MergeColumns::Except(exclude_columns),
        (false, false) => {
            return Err(config_error(
                node,
                "merge_exclude_columns",
                "sets both merge_update_columns and merge_exclude_columns".to_string(),
                "keep one of them",
            ));
        }
    };
    Ok(Incremental {
        strategy,
        unique_key: string_list(node.config.get("unique_key")),
        on_schema_change,
        predicates: string_list(node.config.get("incremental_predicates")),
        merge_columns,
    })
}

/// How the node's table is stored, from dbt-clickhouse's configs (only ClickHouse has a
/// choice).
fn storage(node: &Node) -> Storage {
    let settings = node
        .config
        .get("settings")
        .and_then(Json::as_object)
        .map(|map| {
            map.iter()
                .map(|(name, value)| {
                    let value = match value {
                        Json::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (name.clone(), value)
                })
                .collect()
        })
        .unwrap_or_default();
    Storage {
        engine: node.config_str("engine").map(str::to_string),
        order_by: string_list(node.config.get("order_by")),
        partition_by: string_list(node.config.get("partition_by")),
        primary_key: string_list(node.config.get("primary_key")),
        settings,
    }
}

/// A config that is one string or a list of strings.
fn string_list(value: Option<&Json>) -> Vec<String> {
    match value {
        Some(Json::String(s)) if !s.trim().is_empty() => vec![s.trim().to_string()],
        Some(Json::Array(items)) => items
            .iter()
            .filter_map(Json::as_str)
            .map(|s| s.trim().to_string())
            .collect(),
        _ => Vec::new(),
    }
}

/// Runs a node's `pre-hook` or `post-hook` statements.
fn run_hooks(plan: &Plan, session: &mut dyn Session, node: &Node, key: &str) -> Run<()> {
    for Hook { sql, .. } in hooks(node, key) {
        let what = format!("{key} of {} '{}'", node.resource_type.as_str(), node.name);
        let file = node.patch_path.as_ref().unwrap_or(&node.original_file_path);
        let rendered =
            plan.compiled
                .runtime
                .hook_sql(Some(node), &sql, file, &what, &plan.introspect)?;
        session.execute(&rendered).map_err(|e| {
            Diagnostic::error(format!("{what} failed: {}", e.message))
                .at(&node.original_file_path, 0, 0)
                .with_note(format!("the hook's SQL:\n{}", rendered.trim()))
        })?;
    }
    Ok(())
}

fn seed(plan: &Plan, catalog: &Catalog, session: &mut dyn Session, node: &Node) -> Run<Outcome> {
    let file = &node.original_file_path;
    let delimiter = node
        .config_str("delimiter")
        .and_then(|d| d.bytes().next())
        .unwrap_or(b',');
    let seed =
        elt_warehouse::seed::read(&plan.project.root.join(file), delimiter).map_err(|e| {
            Diagnostic::error(format!(
                "seed '{}' cannot be read: {}",
                node.name, e.message
            ))
            .at(file, e.line as u32, 0)
            .with_help("fix the CSV: a header row, then rows with as many fields")
        })?;
    let column_types: Vec<(String, String)> = node
        .config
        .get("column_types")
        .and_then(Json::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    run_hooks(plan, session, node, "pre-hook")?;
    let relation = relation_of(node);
    let existing = catalog.kind(relation);
    let rows = elt_warehouse::load_seed(
        session,
        relation,
        &seed,
        &column_types,
        &storage(node),
        existing,
        node.config.get("quote_columns").and_then(Json::as_bool) != Some(false),
    )
    .map_err(|e| {
        Diagnostic::error(format!(
            "seed '{}' failed to load: {}",
            node.name, e.message
        ))
        .at(file, 0, 0)
        .with_help("check column_types in the seed's config and the CSV's values")
    })?;
    catalog.set(relation, RelationKind::Table);
    run_hooks(plan, session, node, "post-hook")?;
    Ok(Outcome::built(
        Built {
            code: "INSERT",
            rows: Some(rows),
        },
        None,
    ))
}

fn snapshot(plan: &Plan, session: &mut dyn Session, node: &Node) -> Run<Outcome> {
    let strategy = match node.config_str("strategy") {
        Some("timestamp") => ChangeDetection::Timestamp {
            updated_at: node
                .config_str("updated_at")
                .map(str::to_string)
                .ok_or_else(|| {
                    config_error(
                        node,
                        "strategy",
                        "a timestamp snapshot needs an updated_at config".into(),
                        "name the column that records when a row last changed",
                    )
                })?,
        },
        Some("check") => ChangeDetection::Check {
            columns: match node.config.get("check_cols") {
                Some(Json::String(all)) if all == "all" => None,
                Some(Json::Array(_)) => Some(string_list(node.config.get("check_cols"))),
                _ => {
                    return Err(config_error(
                        node,
                        "strategy",
                        "a check snapshot needs check_cols".into(),
                        "set check_cols to a list of columns, or 'all'",
                    ));
                }
            },
        },
        other => {
            return Err(config_error(
                node,
                "strategy",
                format!("unknown snapshot strategy '{}'", other.unwrap_or("")),
                "set strategy to timestamp or check",
            ));
        }
    };
    let config = SnapshotConfig {
        unique_key: string_list(node.config.get("unique_key")),
        strategy,
        invalidate_hard_deletes: node.config.get("invalidate_hard_deletes")
            == Some(&Json::Bool(true))
            || node.config_str("hard_deletes") == Some("invalidate"),
    };
    run_hooks(plan, session, node, "pre-hook")?;
    let built = snapshot::snapshot(
        session,
        relation_of(node),
        sql_of(node),
        &config,
        &storage(node),
    )
    .map_err(|e| warehouse_error(plan.project, node, &e, Some(sql_of(node))))?;
    run_hooks(plan, session, node, "post-hook")?;
    Ok(Outcome::built(built, None))
}

fn test(plan: &Plan, session: &mut dyn Session, node: &Node) -> Outcome {
    let config = test_config(node);
    let runtime = &plan.compiled.runtime;
    let run_sql =
        match runtime.sql_to_run(node, &plan.compiled.manifest.nodes, false, &plan.introspect) {
            Ok(sql) => sql,
            Err(diagnostic) => return Outcome::error(diagnostic),
        };
    let sql = run_sql.as_deref().unwrap_or(sql_of(node));
    let verdict = data_test::run(session, sql, &config);
    judge(plan, session, node, &config, run_sql, verdict)
}

/// Judges tests whose SQL was compiled ahead of the run (none queries the warehouse while it
/// compiles) from one query; when that query fails, each test runs alone, so that each error
/// is its own test's.
pub fn tests_together(plan: &Plan, session: &mut dyn Session, nodes: &[&Node]) -> Vec<Outcome> {
    let configs: Vec<TestConfig> = nodes.iter().map(|node| test_config(node)).collect();
    let tests: Vec<(&str, &TestConfig)> = nodes
        .iter()
        .zip(&configs)
        .map(|(node, config)| (sql_of(node), config))
        .collect();
    match data_test::run_together(session, &tests) {
        Ok(verdicts) => nodes
            .iter()
            .zip(&configs)
            .zip(verdicts)
            .map(|((node, config), verdict)| judge(plan, session, node, config, None, Ok(verdict)))
            .collect(),
        Err(_) => nodes.iter().map(|node| test(plan, session, node)).collect(),
    }
}

fn test_config(node: &Node) -> TestConfig {
    // config_value fills in dbt's defaults; TestConfig's cover values that are not text.
    let defaults = TestConfig::default();
    TestConfig {
        fail_calc: config_text(node, "fail_calc").unwrap_or(defaults.fail_calc),
        warn_if: config_text(node, "warn_if").unwrap_or(defaults.warn_if),
        error_if: config_text(node, "error_if").unwrap_or(defaults.error_if),
        limit: node.config.get("limit").and_then(Json::as_u64),
    }
}

fn config_text(node: &Node, key: &str) -> Option<String> {
    node.config_value(key)
        .and_then(|v| v.as_str().map(str::to_string))
}

/// A test's outcome from its verdict: stores its failing rows where configured, and says
/// what failed or warned and where to look.
fn judge(
    plan: &Plan,
    session: &mut dyn Session,
    node: &Node,
    config: &TestConfig,
    run_sql: Option<String>,
    verdict: elt_warehouse::Result<data_test::TestVerdict>,
) -> Outcome {
    let sql = run_sql.as_deref().unwrap_or(sql_of(node));
    let verdict = match verdict {
        Ok(verdict) => verdict,
        Err(e) => {
            let mut outcome = Outcome::error(warehouse_error(plan.project, node, &e, Some(sql)));
            outcome.sql = run_sql;
            return outcome;
        }
    };
    let severity_is_warn =
        config_text(node, "severity").is_some_and(|s| s.eq_ignore_ascii_case("warn"));
    let store = node
        .config
        .get("store_failures")
        .and_then(Json::as_bool)
        .unwrap_or(plan.options.store_failures);
    if store && let Err(e) = data_test::store_failures(session, relation_of(node), sql) {
        return Outcome::error(warehouse_error(plan.project, node, &e, Some(sql)));
    }
    let (status, condition) = if verdict.should_error && !severity_is_warn {
        (Status::Fail, &config.error_if)
    } else if verdict.should_warn {
        (Status::Warn, &config.warn_if)
    } else {
        (Status::Pass, &config.warn_if)
    };
    let results = match verdict.failures {
        1 => "1 result".to_string(),
        n => format!("{n} results"),
    };
    let message = format!(
        "Got {results}, configured to {} if {condition}",
        if status == Status::Fail {
            "fail"
        } else {
            "warn"
        }
    );
    let diagnostic = (status != Status::Pass).then(|| {
        let diagnostic = if status == Status::Fail {
            Diagnostic::error(format!("test '{}' failed: {message}", node.name))
        } else {
            Diagnostic::warning(format!("test '{}' warned: {message}", node.name))
        };
        let mut diagnostic = diagnostic.at(&node.original_file_path, node.raw_line, 0);
        if store {
            diagnostic =
                diagnostic.with_note(format!("the failing rows are in {}", relation_of(node)));
        }
        let compiled = compiled_sql_path(plan.project, node);
        diagnostic.with_help(format!(
            "the test's query, which returns the failing rows, is in {}",
            compiled.display()
        ))
    });
    Outcome {
        status,
        message: if status == Status::Pass {
            "PASS".to_string()
        } else {
            message
        },
        failures: Some(verdict.failures),
        built: None,
        sql: run_sql,
        diagnostic,
    }
}
