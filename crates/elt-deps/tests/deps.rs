//! `elt deps` on projects and packages the tests write: local packages (and their own),
//! the lock file's reuse and invalidation, conflicts and errors.

use std::path::Path;

fn write(dir: &Path, path: &str, text: &str) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A workspace with a root project `shop` (in `shop/`) and packages `a` and `b` beside it.
fn workspace(packages_yml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "shop/dbt_project.yml", "name: shop\n");
    write(dir.path(), "shop/packages.yml", packages_yml);
    write(dir.path(), "pkg_a/dbt_project.yml", "name: a\n");
    write(
        dir.path(),
        "pkg_a/macros/a.sql",
        "{% macro a() %}1{% endmacro %}",
    );
    write(dir.path(), "pkg_b/dbt_project.yml", "name: b\n");
    dir
}

fn lock(root: &Path) -> String {
    std::fs::read_to_string(root.join("package-lock.yml")).unwrap()
}

#[test]
fn local_packages_are_linked_under_their_project_name_and_locked() {
    let dir = workspace("packages:\n  - local: ../pkg_a\n");
    let root = dir.path().join("shop");
    let installed = elt_deps::install(&root).unwrap();
    assert_eq!(installed.len(), 1);
    assert_eq!(installed[0].name, "a");
    let link = root.join("dbt_packages/a");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(link.join("macros/a.sql").is_file());
    let lock = lock(&root);
    assert!(
        lock.starts_with("packages:\n- local: \"../pkg_a\"\n  name: a\nsha1_hash: "),
        "{lock}"
    );
}

#[test]
fn the_lock_hash_is_the_sha1_of_the_declaration() {
    let dir = workspace("packages:\n  - local: ../pkg_a\n");
    let root = dir.path().join("shop");
    elt_deps::install(&root).unwrap();
    // Python: sha1(json.dumps({"local": "../pkg_a"}, sort_keys=True).encode()).hexdigest()
    assert!(
        lock(&root).ends_with("sha1_hash: 2bffc7245aa5ca01107043eb1371752c150a7eaa\n"),
        "{}",
        lock(&root)
    );
}

#[test]
fn an_unchanged_declaration_installs_what_the_lock_says() {
    let dir = workspace("packages:\n  - local: ../pkg_a\n");
    let root = dir.path().join("shop");
    elt_deps::install(&root).unwrap();
    let hash_line = lock(&root).lines().last().unwrap().to_string();
    // The lock now pins pkg_b under the same hash: it wins while packages.yml is unchanged.
    std::fs::write(
        root.join("package-lock.yml"),
        format!("packages:\n- local: ../pkg_b\n  name: b\n{hash_line}\n"),
    )
    .unwrap();
    let installed = elt_deps::install(&root).unwrap();
    assert_eq!(installed[0].name, "b");
    // A changed declaration is resolved again, and the lock rewritten.
    write(
        &root,
        "packages.yml",
        "packages:\n  - local: ../pkg_a\n  - local: ../pkg_b\n",
    );
    let installed = elt_deps::install(&root).unwrap();
    let names: Vec<&str> = installed.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert!(lock(&root).contains("name: a\n- local: \"../pkg_b\"\n  name: b\n"));
}

#[test]
fn a_packages_own_packages_are_installed_flat() {
    let dir = workspace("packages:\n  - local: ../pkg_a\n");
    write(
        dir.path(),
        "pkg_a/packages.yml",
        "packages:\n  - local: ../pkg_b\n",
    );
    let root = dir.path().join("shop");
    let installed = elt_deps::install(&root).unwrap();
    let names: Vec<&str> = installed.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert!(root.join("dbt_packages/b/dbt_project.yml").is_file());
}

#[test]
fn one_package_from_two_places_is_a_conflict_naming_both() {
    let dir = workspace("packages:\n  - local: ../pkg_a\n  - local: ../other_a\n");
    write(dir.path(), "other_a/dbt_project.yml", "name: a\n");
    let error = elt_deps::install(&dir.path().join("shop"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("package 'a' is required twice, from different places: local: ../pkg_a and local: ../other_a"),
        "{error}"
    );
}

#[test]
fn a_missing_local_package_names_its_line() {
    let dir = workspace("packages:\n  - local: ../pkg_a\n  - local: ../nowhere\n");
    let error = elt_deps::install(&dir.path().join("shop"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("local package '../nowhere' cannot be read"),
        "{error}"
    );
    assert!(error.contains("packages.yml:3"), "{error}");
}

#[test]
fn hub_git_and_tarball_packages_are_reported_as_not_installable_yet() {
    let dir = workspace(
        "packages:\n  - package: dbt-labs/dbt_utils\n    version: [\">=1.0.0\", \"<2.0.0\"]\n",
    );
    let error = elt_deps::install(&dir.path().join("shop"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("hub packages are not installed by this version of elt yet"),
        "{error}"
    );
    assert!(error.contains("packages.yml:2"), "{error}");
}

#[test]
fn a_project_without_packages_installs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "dbt_project.yml", "name: shop\n");
    assert!(elt_deps::install(dir.path()).unwrap().is_empty());
    assert!(!dir.path().join("package-lock.yml").exists());
}
