//! Every project under `fixtures/broken/` is broken in one way. Each must fail with exit code 1,
//! no panic, and exactly the error in its snapshot (`snapshots/broken_projects__<case>.snap`):
//! one clear message that names the file and line and says what to do.
//!
//! A case folder is laid over `fixtures/broken/_base` (a working project). It may hold `args`
//! (the command line, one argument per line; default `compile`) and `remove` (base files to
//! delete).

mod support;

use std::path::Path;

use support::copy_dir;

/// The case folders.
fn broken() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/fixtures/broken")
}

fn run_case(case: &Path) -> (i32, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let broken = broken();
    copy_dir(&broken.join("_base"), dir.path());
    copy_dir(case, dir.path());
    let read = |name: &str| std::fs::read_to_string(case.join(name)).ok();
    for file in read("remove")
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty())
    {
        std::fs::remove_file(dir.path().join(file)).expect("remove base file");
    }
    let _ = std::fs::remove_file(dir.path().join("args"));
    let _ = std::fs::remove_file(dir.path().join("remove"));
    let args: Vec<String> = match read("args") {
        Some(text) => text.lines().map(str::to_string).collect(),
        None => vec!["compile".into()],
    };
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_elt"))
        .args(&args)
        .current_dir(dir.path())
        .env_remove("ELT_PROFILES_DIR")
        .env_remove("DBT_PROFILES_DIR")
        .env_remove("ELT_PROJECT_DIR")
        .env("HOME", "/nonexistent-home")
        .output()
        .expect("run elt");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code().unwrap_or(-1), stderr)
}

/// Runs the case folder `name` and checks its one clear error against its snapshot.
fn check_case(name: &str) {
    let (code, stderr) = run_case(&broken().join(name));
    assert_eq!(code, 1, "{name}: exit code\n{stderr}");
    assert!(!stderr.contains("panicked"), "{name} panicked:\n{stderr}");
    assert_eq!(
        stderr.matches("error:").count(),
        1,
        "{name}: exactly one error\n{stderr}"
    );
    insta::assert_snapshot!(name, stderr);
}

/// One test per case folder, so that one failing case does not hide the others.
macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check_case(stringify!($name));
            }
        )*

        /// The case folders, as listed above.
        const CASES: &[&str] = &[$(stringify!($name)),*];
    };
}

cases!(
    bad_selector,
    bad_threads,
    bad_yaml_project,
    bad_yaml_properties,
    clickhouse_only_syntax,
    cycle,
    ddl_in_model,
    dispatch_not_found,
    doc_not_found,
    duplicate_docs_block,
    duplicate_model_names,
    invalid_cli_vars,
    invalid_project_name,
    jinja_syntax_error,
    macro_syntax_error,
    missing_env_var,
    missing_profile,
    model_properties_twice,
    models_not_a_list,
    no_profiles_yml,
    no_project_file,
    package_not_installed,
    package_ref,
    package_requires_other_dbt,
    package_test_not_installed,
    packages_not_installed,
    raise_compiler_error,
    ref_to_disabled,
    return_outside_macro,
    self_ref,
    source_table_twice,
    sql_syntax_error,
    statement_fails,
    two_statements,
    unclosed_macro,
    undefined_macro,
    undefined_var,
    unit_test_fixture_without_format,
    unit_test_input_not_read,
    unit_test_missing_input,
    unit_test_unknown_model,
    unknown_adapter_type,
    unknown_ref,
    unknown_resource_type,
    unknown_source,
    unknown_target,
    unknown_test,
);

#[test]
fn every_case_folder_has_a_test() {
    let mut folders: Vec<String> = std::fs::read_dir(broken())
        .expect("broken fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir() && !p.ends_with("_base"))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    assert_eq!(folders, CASES, "add each case folder to cases!(...)");
}

#[test]
fn the_base_project_compiles() {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&broken().join("_base"), dir.path());
    let output = support::elt(dir.path(), &["compile"]);
    assert!(output.status.success(), "{}", support::stderr(&output));
}
