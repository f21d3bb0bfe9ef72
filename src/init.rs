//! `elt init NAME`: a new project from `project_template/` (built into the binary), named
//! NAME, with a `dev` target on the chosen warehouse.

use std::path::Path;

use elt_core::diagnostics::{Diagnostic, Errors};
use include_dir::{Dir, DirEntry, include_dir};

use crate::cli::{Adapter, InitArgs};

static TEMPLATE: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/project_template");

/// The template's name for the project, replaced by the new project's.
const TEMPLATE_NAME: &str = "my_project";

pub fn run(args: &InitArgs) -> Result<(), Errors> {
    let name = &args.name;
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(
            Diagnostic::error(format!("'{name}' is not a valid project name"))
                .with_help("use lowercase letters, digits and underscores, starting with a letter")
                .into(),
        );
    }
    let root = Path::new(name);
    if root
        .read_dir()
        .is_ok_and(|mut entries| entries.next().is_some())
    {
        return Err(
            Diagnostic::error(format!("the folder {name} exists and is not empty"))
                .with_help("choose another name, or run elt init elsewhere")
                .into(),
        );
    }
    write_dir(&TEMPLATE, root, name, args.adapter).map_err(|e| {
        Errors::from(
            Diagnostic::error(format!("cannot write the project to {name}: {e}"))
                .with_help("check that the folder can be created and written"),
        )
    })?;
    println!(
        "Created the project {name} in ./{name}/ (warehouse: {:?}).",
        args.adapter
    );
    println!("Next: cd {name} && elt build");
    Ok(())
}

fn write_dir(dir: &Dir<'_>, root: &Path, name: &str, adapter: Adapter) -> std::io::Result<()> {
    for entry in dir.entries() {
        match entry {
            DirEntry::Dir(sub) => write_dir(sub, root, name, adapter)?,
            DirEntry::File(file) => {
                let path = root.join(file.path());
                std::fs::create_dir_all(path.parent().unwrap_or(root))?;
                let contents = if file.path() == Path::new("profiles.yml") {
                    profiles(name, adapter)
                } else {
                    String::from_utf8_lossy(file.contents()).replace(TEMPLATE_NAME, name)
                };
                std::fs::write(path, contents)?;
            }
        }
    }
    Ok(())
}

/// The project's profile: its `dev` target on the chosen warehouse, secrets from the
/// environment.
fn profiles(name: &str, adapter: Adapter) -> String {
    let target = match adapter {
        Adapter::Duckdb => format!("type: duckdb\n      path: {name}.duckdb"),
        Adapter::Postgres => format!(
            "type: postgres\n      host: \"{{{{ env_var('PGHOST', '127.0.0.1') }}}}\"\n      port: 5432\n      user: \"{{{{ env_var('PGUSER', 'postgres') }}}}\"\n      password: \"{{{{ env_var('PGPASSWORD', '') }}}}\"\n      dbname: \"{{{{ env_var('PGDATABASE', 'postgres') }}}}\"\n      schema: {name}"
        ),
        Adapter::Clickhouse => format!(
            "type: clickhouse\n      url: \"{{{{ env_var('CLICKHOUSE_URL', 'http://127.0.0.1:8123') }}}}\"\n      schema: {name}"
        ),
    };
    format!(
        "# Where the project builds. Secrets come from the environment (env_var), never from\n# this file.\n{name}:\n  target: dev\n  outputs:\n    dev:\n      {target}\n      threads: 4\n"
    )
}
