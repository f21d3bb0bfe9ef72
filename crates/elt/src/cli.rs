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
    /// Read the project, render every node and write target/manifest.json
    Parse(ProjectArgs),
    /// Compile SQL to target/compiled/ and write target/manifest.json
    Compile(CompileArgs),
    /// List resources selected by --select / --exclude
    #[command(alias = "list")]
    Ls(ListArgs),
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
    Analysis,
    Source,
    All,
}
