//! Command-line arguments, following dbt's flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "elt",
    version,
    about = "Compile, run and test dbt-style SQL projects: one fast binary",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new project that builds and tests at once: `elt init my_project`
    Init(InitArgs),
    /// Install the packages of packages.yml into dbt_packages/ and write package-lock.yml
    Deps(ProjectArgs),
    /// Read the project, render every node and write target/manifest.json
    Parse(ProjectArgs),
    /// Compile SQL to target/compiled/ and write target/manifest.json
    Compile(CompileArgs),
    /// List resources selected by --select / --exclude
    #[command(alias = "list")]
    Ls(ListArgs),
    /// Build models in the warehouse, in graph order and in parallel
    Run(RunArgs),
    /// Run data tests against the warehouse
    Test(RunArgs),
    /// Load CSV seeds into the warehouse
    Seed(RunArgs),
    /// Take snapshots: record changes to mutable tables as SCD2 versions
    Snapshot(RunArgs),
    /// Seed, run, snapshot and test in graph order; a failure skips what depends on it
    Build(RunArgs),
    /// Run again what failed or was skipped in the last run (from target/run_results.json)
    Retry(RetryArgs),
    /// Preview the rows of a model or of a query
    Show(ShowArgs),
    /// Run a macro against the warehouse: `elt run-operation grant_select --args '{role: bi}'`
    RunOperation(RunOperationArgs),
    /// Delete the project's clean-targets (the target folder unless configured)
    Clean(ProjectArgs),
    /// Check the project, the profile and the warehouse connection
    Debug(ProjectArgs),
    /// Generate example raw data: `elt generate ecommerce --out data`
    Generate(GenerateArgs),
    /// Load raw tables with their sources' loaders (Kafka, S3 buckets, local folders), exactly once
    Load(LoadArgs),
    /// The docs site: `elt docs generate` writes it to target/docs/, `elt docs serve` serves it
    #[command(subcommand)]
    Docs(DocsCommand),
    /// Recompile on every saved change and re-run what changed and what depends on it
    Watch(WatchArgs),
}

#[derive(Debug, Subcommand)]
pub enum DocsCommand {
    /// Write the site to target/docs/, with target/catalog.json (columns and types read from
    /// the warehouse) and target/lineage.json (column lineage from the compiled SQL)
    Generate(DocsGenerateArgs),
    /// Serve target/docs/ on this machine, with the CLI's selection syntax in the lineage graph
    Serve(DocsServeArgs),
}

#[derive(Debug, Args)]
pub struct DocsGenerateArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Do not read the warehouse: the site has no column types, and lineage through `select *`
    /// of unbuilt relations stays unknown
    #[arg(long)]
    pub empty_catalog: bool,
}

#[derive(Debug, Args)]
pub struct DocsServeArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The port to listen on (0: any free port, printed at start)
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The address to listen on; the default keeps the site on this machine
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Only re-run changed nodes within this selection
    #[command(flatten)]
    pub selection: SelectArgs,
    /// Also run the tests of what re-runs (as `elt build` does)
    #[arg(long)]
    pub test: bool,
    /// How many nodes run at once [default: the target's threads]
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The project's name (letters, digits and underscores), also its folder's
    pub name: String,
    /// The warehouse of the project's `dev` target
    #[arg(long, value_enum, default_value_t = Adapter::Duckdb)]
    pub adapter: Adapter,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Adapter {
    /// An embedded DuckDB file beside the project: nothing to install
    Duckdb,
    /// A PostgreSQL server (host, user and password from PGHOST, PGUSER, PGPASSWORD)
    Postgres,
    /// A ClickHouse server over HTTP (CLICKHOUSE_URL, default http://127.0.0.1:8123)
    Clickhouse,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Which source tables: `--select source:raw.orders` [default: every one with a loader]
    #[command(flatten)]
    pub selection: SelectArgs,
    /// Keep loading what arrives (every table at once) until SIGINT or SIGTERM, which stop
    /// after committing what was read; prints progress and Kafka lag every few seconds
    #[arg(long)]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// What to generate
    #[arg(value_enum)]
    pub dataset: Dataset,
    /// The size: 1 is about 100,000 orders in 30 days
    #[arg(long, default_value_t = 0.1)]
    pub scale: f64,
    /// The random seed: the same seed and options give the same bytes
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The first day of data
    #[arg(long, default_value = "2024-01-01")]
    pub start: String,
    /// How many days of data, from --start (more days add files, the first ones stay the same)
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// The folder to write to
    #[arg(long, default_value = "data/raw")]
    pub out: PathBuf,
    /// Also send every line of the JSON-lines tables (orders, events, ...) to Kafka, one
    /// message per line, to a topic per table (created with 4 partitions if missing)
    #[arg(long, value_name = "BROKERS")]
    pub kafka: Option<String>,
    /// A librdkafka setting of the --kafka client, e.g. `-X security.protocol=SASL_SSL`
    /// (repeatable: TLS, SASL)
    #[arg(short = 'X', long = "kafka-property", value_name = "KEY=VALUE", value_parser = key_value, requires = "kafka")]
    pub kafka_properties: Vec<(String, String)>,
    /// Prefix of the topics' names: `--topic-prefix shop_` sends orders to `shop_orders`
    #[arg(long, default_value = "", requires = "kafka")]
    pub topic_prefix: String,
    /// Also put every file written into a bucket: `s3://bucket/prefix` (keys and region from
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION)
    #[arg(long, value_name = "URL")]
    pub bucket: Option<String>,
    /// The S3-compatible server of --bucket, e.g. http://127.0.0.1:9000 [default: AWS]
    #[arg(long, value_name = "URL", requires = "bucket")]
    pub s3_endpoint: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Dataset {
    /// An online shop: customers, products, orders, payments, shipments, clickstream
    Ecommerce,
}

/// Where the project is and what it runs against.
#[derive(Debug, Args, Clone)]
pub struct ProjectArgs {
    /// The folder holding elt_project.yml or dbt_project.yml
    #[arg(long, env = "ELT_PROJECT_DIR", default_value = ".")]
    pub project_dir: PathBuf,
    /// The folder holding profiles.yml [default: ELT_PROFILES_DIR, the project, ~/.elt, ~/.dbt]
    #[arg(long)]
    pub profiles_dir: Option<PathBuf>,
    /// The profile target to use instead of the profile's default
    #[arg(short, long)]
    pub target: Option<String>,
    /// Variables as a YAML mapping, e.g. '{start_date: 2024-01-01}'
    #[arg(long)]
    pub vars: Option<String>,
    /// Where artifacts go, instead of the project's target-path
    #[arg(long)]
    pub target_path: Option<String>,
    /// Treat warnings as errors (exit 1 if there are any)
    #[arg(long)]
    pub warn_error: bool,
    /// Print only errors
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args, Clone)]
pub struct SelectArgs {
    /// Nodes to include (dbt selection syntax; space-separated terms are a union)
    #[arg(short, long, num_args = 1.., value_name = "SELECTOR")]
    pub select: Vec<String>,
    /// Nodes to leave out
    #[arg(long, num_args = 1.., value_name = "SELECTOR")]
    pub exclude: Vec<String>,
    /// How tests next to selected nodes are included
    #[arg(long, value_enum, default_value_t = Indirect::Eager)]
    pub indirect_selection: Indirect,
    /// Another run's artifacts (the folder of its manifest.json), for `state:` selectors
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Indirect {
    Eager,
    Cautious,
    Buildable,
    Empty,
}

#[derive(Debug, Args)]
pub struct CompileArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub selection: SelectArgs,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub selection: SelectArgs,
    /// How many nodes run at once [default: the target's threads]
    #[arg(long)]
    pub threads: Option<usize>,
    /// Rebuild incremental models from scratch
    #[arg(long)]
    pub full_refresh: bool,
    /// Keep every test's failing rows in a table
    #[arg(long)]
    pub store_failures: bool,
    /// Stop at the first failure: nodes not started yet are skipped
    #[arg(short = 'x', long)]
    pub fail_fast: bool,
    /// First run the loaders of the sources the selected nodes read (as `elt load` does)
    #[arg(long)]
    pub load: bool,
    /// Resolve `ref()`s to unselected nodes not built in this target to the relations the
    /// --state run built (e.g. production's), as dbt's --defer does
    #[arg(long, requires = "state")]
    pub defer: bool,
}

#[derive(Debug, Args)]
pub struct RunOperationArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The macro: `name`, or `package.name`
    pub macro_name: String,
    /// The macro's keyword arguments, as a YAML mapping, e.g. '{table: orders, days: 7}'
    #[arg(long)]
    pub args: Option<String>,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// How many nodes run at once [default: the last run's]
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub selection: SelectArgs,
    /// A query to preview instead of a selected node
    #[arg(long, conflicts_with = "select")]
    pub inline: Option<String>,
    /// How many rows to show
    #[arg(long, default_value_t = 5)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub selection: SelectArgs,
    /// Only these resource types
    #[arg(long = "resource-type", alias = "resource-types", value_enum, num_args = 1..)]
    pub resource_types: Vec<ResourceTypeArg>,
    /// What to print for each resource
    #[arg(short, long, value_enum, default_value_t = Output::Selector)]
    pub output: Output,
    /// With --output json: the keys to print
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    pub output_keys: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Selector,
    Name,
    Path,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResourceTypeArg {
    Model,
    Seed,
    Snapshot,
    Test,
    #[value(name = "unit_test")]
    UnitTest,
    Analysis,
    Source,
    All,
}

fn key_value(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("'{text}' is not KEY=VALUE"))?;
    Ok((key.trim().to_string(), value.to_string()))
}
