//! The README's two commands, run as a newcomer runs them: the first builds the example
//! warehouse on DuckDB, the second is the test command CI runs.

mod support;

use std::path::Path;

use support::{example_project, ok, query};

/// The shell commands of the README's "Two commands" section, one per fenced `sh` block.
fn two_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let section = readme
        .split("\n## Two commands\n")
        .nth(1)
        .expect("a \"Two commands\" section")
        .split("\n## ")
        .next()
        .unwrap_or_default();
    section
        .split("```sh\n")
        .skip(1)
        .map(|block| {
            block
                .split("```")
                .next()
                .unwrap_or_default()
                .trim()
                .to_string()
        })
        .collect()
}

#[test]
fn the_first_command_builds_the_example_warehouse() {
    let commands = two_commands();
    assert_eq!(commands.len(), 2, "{commands:?}");
    // `cargo run -p elt -- ARGS` runs the elt binary of cargo's dev profile with ARGS: the one
    // this test suite built, here in a copy of the repository's project.
    let runs: Vec<Vec<&str>> = commands[0]
        .split("&&")
        .map(|command| {
            let args = command
                .trim()
                .strip_prefix("cargo run -p elt -- ")
                .unwrap_or_else(|| panic!("not an elt run: {command}"));
            args.split_whitespace().collect()
        })
        .collect();
    assert_eq!(
        runs,
        [vec!["generate", "ecommerce"], vec!["build", "--load"]]
    );
    let project = example_project();
    for args in &runs {
        ok(project.path(), args);
    }
    let warehouse = project.path().join("warehouse.duckdb");
    let orders = query(&warehouse, "select count(*) from main_core.fct_orders");
    let orders: u64 = orders[0][0].parse().expect("a count");
    assert!(orders > 5_000, "{orders} orders at the default scale");
}

#[test]
fn the_second_command_is_what_ci_runs() {
    let commands = two_commands();
    assert_eq!(commands[1], "cargo test --workspace --locked");
    let ci = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/run"))
        .expect(".ci/run");
    let last = ci
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .expect("a command");
    assert_eq!(
        last.trim(),
        commands[1],
        ".ci/run ends with the README's test command"
    );
}
