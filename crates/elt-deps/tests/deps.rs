//! `elt deps` on projects and packages the tests write: local packages (and their own),
//! the lock file's reuse and invalidation, conflicts and errors.

use std::path::Path;

/// A hub address where nothing answers (the tests that need a hub serve one).
const NO_HUB: &str = "http://127.0.0.1:9";

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
    let installed = elt_deps::install(&root, NO_HUB).unwrap();
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
    elt_deps::install(&root, NO_HUB).unwrap();
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
    elt_deps::install(&root, NO_HUB).unwrap();
    let hash_line = lock(&root).lines().last().unwrap().to_string();
    // The lock now pins pkg_b under the same hash: it wins while packages.yml is unchanged.
    std::fs::write(
        root.join("package-lock.yml"),
        format!("packages:\n- local: ../pkg_b\n  name: b\n{hash_line}\n"),
    )
    .unwrap();
    let installed = elt_deps::install(&root, NO_HUB).unwrap();
    assert_eq!(installed[0].name, "b");
    // A changed declaration is resolved again, and the lock rewritten.
    write(
        &root,
        "packages.yml",
        "packages:\n  - local: ../pkg_a\n  - local: ../pkg_b\n",
    );
    let installed = elt_deps::install(&root, NO_HUB).unwrap();
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
    let installed = elt_deps::install(&root, NO_HUB).unwrap();
    let names: Vec<&str> = installed.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert!(root.join("dbt_packages/b/dbt_project.yml").is_file());
}

#[test]
fn one_package_from_two_places_is_a_conflict_naming_both() {
    let dir = workspace("packages:\n  - local: ../pkg_a\n  - local: ../other_a\n");
    write(dir.path(), "other_a/dbt_project.yml", "name: a\n");
    let error = elt_deps::install(&dir.path().join("shop"), NO_HUB)
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
    let error = elt_deps::install(&dir.path().join("shop"), NO_HUB)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("local package '../nowhere' cannot be read"),
        "{error}"
    );
    assert!(error.contains("packages.yml:3"), "{error}");
}

#[test]
fn a_project_without_packages_installs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "dbt_project.yml", "name: shop\n");
    assert!(elt_deps::install(dir.path(), NO_HUB).unwrap().is_empty());
    assert!(!dir.path().join("package-lock.yml").exists());
}

/// A `.tar.gz` of a package `project` at `version`, in a top folder as the hub's tarballs are.
fn package_tarball(project: &str, version: &str) -> Vec<u8> {
    let mut archive = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (path, text) in [
        (
            "dbt_project.yml",
            format!("name: {project}\nversion: '{version}'\n"),
        ),
        (
            "macros/m.sql",
            format!("{{% macro v() %}}{version}{{% endmacro %}}"),
        ),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        archive
            .append_data(
                &mut header,
                format!("{project}-{version}/{path}"),
                text.as_bytes(),
            )
            .unwrap();
    }
    archive.into_inner().unwrap().finish().unwrap()
}

/// A package hub on 127.0.0.1 serving `releases` (hub name `org/name`, version, the
/// package's project name, its own hub packages) as dbt's hub API does, with their tarballs.
/// Returns its URL; it stops after 30 s without a request.
fn serve_hub(releases: &[(&str, &str, &str, serde_json::Value)]) -> String {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}", server.server_addr().to_ip().unwrap());
    let mut files: std::collections::HashMap<String, Vec<u8>> = Default::default();
    let mut index: std::collections::BTreeMap<String, serde_json::Map<String, serde_json::Value>> =
        Default::default();
    for (package, version, project, packages) in releases {
        let tarball = format!("/tarballs/{project}-{version}.tar.gz");
        files.insert(tarball.clone(), package_tarball(project, version));
        index.entry(package.to_string()).or_default().insert(
            version.to_string(),
            serde_json::json!({"downloads": {"tarball": format!("{url}{tarball}")}, "packages": packages}),
        );
    }
    for (package, versions) in index {
        let json = serde_json::json!({"name": package, "versions": versions});
        files.insert(
            format!("/api/v1/{package}.json"),
            json.to_string().into_bytes(),
        );
    }
    std::thread::spawn(move || {
        while let Ok(Some(request)) = server.recv_timeout(std::time::Duration::from_secs(30)) {
            let response = match files.get(request.url()) {
                Some(bytes) => tiny_http::Response::from_data(bytes.clone()),
                None => tiny_http::Response::from_data(b"not found".to_vec()).with_status_code(404),
            };
            let _ = request.respond(response);
        }
    });
    url
}

fn hub_project(packages_yml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "dbt_project.yml", "name: shop\n");
    write(dir.path(), "packages.yml", packages_yml);
    dir
}

fn installed_version(root: &Path, name: &str) -> String {
    std::fs::read_to_string(root.join("dbt_packages").join(name).join("dbt_project.yml"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("version: "))
        .unwrap()
        .trim_matches('\'')
        .to_string()
}

#[test]
fn hub_packages_take_the_newest_release_every_requirer_admits() {
    let hub = serve_hub(&[
        ("org/a", "1.0.0", "a", serde_json::json!([])),
        ("org/a", "1.1.0", "a", serde_json::json!([])),
        ("org/a", "2.0.0", "a", serde_json::json!([])),
        ("org/a", "2.1.0-rc1", "a", serde_json::json!([])),
        (
            "org/b",
            "0.5.0",
            "b",
            serde_json::json!([{"package": "org/a", "version": [">=1.0.0", "<2.0.0"]}]),
        ),
    ]);
    let dir = hub_project(
        "packages:\n  - package: org/a\n    version: \">=1.0.0\"\n  - package: org/b\n    version: [\">=0.1.0\", \"<1.0.0\"]\n",
    );
    let installed = elt_deps::install(dir.path(), &hub).unwrap();
    let names: Vec<&str> = installed.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    // org/b's own range (<2.0.0) keeps org/a at 1.1.0; 2.1.0-rc1 is a prerelease.
    assert_eq!(installed_version(dir.path(), "a"), "1.1.0");
    assert_eq!(installed_version(dir.path(), "b"), "0.5.0");
    let lock = lock(dir.path());
    assert!(
        lock.starts_with("packages:\n- package: \"org/a\"\n  version: \"1.1.0\"\n  name: a\n- package: \"org/b\"\n  version: \"0.5.0\"\n  name: b\n"),
        "{lock}"
    );
    // Installing again from the lock gives the same releases.
    std::fs::remove_dir_all(dir.path().join("dbt_packages")).unwrap();
    elt_deps::install(dir.path(), &hub).unwrap();
    assert_eq!(installed_version(dir.path(), "a"), "1.1.0");
}

#[test]
fn install_prerelease_admits_release_candidates() {
    let hub = serve_hub(&[
        ("org/a", "2.0.0", "a", serde_json::json!([])),
        ("org/a", "2.1.0-rc1", "a", serde_json::json!([])),
    ]);
    let dir = hub_project(
        "packages:\n  - package: org/a\n    version: \">=2.0.0\"\n    install-prerelease: true\n",
    );
    elt_deps::install(dir.path(), &hub).unwrap();
    assert_eq!(installed_version(dir.path(), "a"), "2.1.0-rc1");
}

#[test]
fn hub_ranges_that_do_not_overlap_name_both_requirers() {
    let hub = serve_hub(&[
        ("org/a", "1.0.0", "a", serde_json::json!([])),
        ("org/a", "2.0.0", "a", serde_json::json!([])),
        (
            "org/b",
            "1.0.0",
            "b",
            serde_json::json!([{"package": "org/a", "version": ["<2.0.0"]}]),
        ),
    ]);
    let dir = hub_project(
        "packages:\n  - package: org/a\n    version: \">=2.0.0\"\n  - package: org/b\n    version: 1.0.0\n",
    );
    let error = elt_deps::install(dir.path(), &hub).unwrap_err().to_string();
    assert!(
        error.contains("no release of org/a satisfies every requirement: shop asks for >=2.0.0; org/b asks for <2.0.0"),
        "{error}"
    );
}

#[test]
fn an_unreachable_hub_names_the_package_and_what_to_do() {
    let dir = hub_project("packages:\n  - package: dbt-labs/dbt_utils\n    version: 1.3.0\n");
    let error = elt_deps::install(dir.path(), NO_HUB)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("cannot reach the package hub for dbt-labs/dbt_utils"),
        "{error}"
    );
    assert!(error.contains("DBT_PACKAGE_HUB_URL"), "{error}");
    assert!(error.contains("dbt_packages/<name>/"), "{error}");
}

#[test]
fn tarball_packages_are_unpacked_under_their_project_name() {
    let hub = serve_hub(&[("org/t", "0.3.0", "tools", serde_json::json!([]))]);
    let dir = hub_project(&format!(
        "packages:\n  - tarball: {hub}/tarballs/tools-0.3.0.tar.gz\n    name: tools\n"
    ));
    let installed = elt_deps::install(dir.path(), &hub).unwrap();
    assert_eq!(installed[0].name, "tools");
    assert_eq!(installed_version(dir.path(), "tools"), "0.3.0");
    assert!(dir.path().join("dbt_packages/tools/macros/m.sql").is_file());
}

/// Runs git in `dir`, returning its output.
fn git(dir: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=elt",
            "-c",
            "user.email=elt@localhost",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[test]
fn git_packages_install_a_revision_or_the_default_branch_and_lock_the_commit() {
    let repo = tempfile::tempdir().unwrap();
    git(repo.path(), &["init", "-q"]);
    write(
        repo.path(),
        "pkg/dbt_project.yml",
        "name: gitpkg\nversion: '1.0.0'\n",
    );
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-q", "-m", "1.0.0"]);
    git(repo.path(), &["tag", "v1"]);
    let v1 = git(repo.path(), &["rev-parse", "HEAD"]);
    write(
        repo.path(),
        "pkg/dbt_project.yml",
        "name: gitpkg\nversion: '2.0.0'\n",
    );
    git(repo.path(), &["commit", "-q", "-am", "2.0.0"]);
    let url = repo.path().display().to_string();

    let pinned = hub_project(&format!(
        "packages:\n  - git: \"{url}\"\n    revision: v1\n    subdirectory: pkg\n"
    ));
    elt_deps::install(pinned.path(), NO_HUB).unwrap();
    assert_eq!(installed_version(pinned.path(), "gitpkg"), "1.0.0");
    assert!(
        lock(pinned.path()).contains(&format!("revision: \"{v1}\"")),
        "{}",
        lock(pinned.path())
    );

    let unpinned = hub_project(&format!(
        "packages:\n  - git: \"{url}\"\n    subdirectory: pkg\n"
    ));
    elt_deps::install(unpinned.path(), NO_HUB).unwrap();
    assert_eq!(installed_version(unpinned.path(), "gitpkg"), "2.0.0");
}

#[test]
fn a_git_revision_that_does_not_exist_names_its_line() {
    let repo = tempfile::tempdir().unwrap();
    git(repo.path(), &["init", "-q"]);
    write(repo.path(), "dbt_project.yml", "name: gitpkg\n");
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-q", "-m", "x"]);
    let dir = hub_project(&format!(
        "packages:\n  - git: \"{}\"\n    revision: no-such-tag\n",
        repo.path().display()
    ));
    let error = elt_deps::install(dir.path(), NO_HUB)
        .unwrap_err()
        .to_string();
    assert!(error.contains("git checkout failed"), "{error}");
    assert!(error.contains("packages.yml:2"), "{error}");
}

#[test]
fn unpinned_git_packages_are_warned_about_unless_told_not_to() {
    let project = hub_project(
        "packages:\n  - git: \"https://example.com/a.git\"\n  - git: \"https://example.com/b.git\"\n    revision: main\n  - git: \"https://example.com/c.git\"\n    revision: v1.2.0\n  - git: \"https://example.com/d.git\"\n    warn-unpinned: false\n",
    );
    let declared = elt_deps::read_declared(project.path())
        .unwrap()
        .expect("a declaration");
    let warnings: Vec<String> = declared
        .unpinned_warnings()
        .iter()
        .map(|w| w.to_string())
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].contains("git package https://example.com/a.git is not pinned"),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].contains("packages.yml:2"), "{}", warnings[0]);
    assert!(
        warnings[1].contains("is pinned to the branch 'main'"),
        "{}",
        warnings[1]
    );
    assert!(
        warnings[1].contains("`warn-unpinned: false`"),
        "{}",
        warnings[1]
    );
}

#[test]
fn cross_project_dependencies_are_warned_about_and_install_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "dbt_project.yml", "name: shop\n");
    write(
        dir.path(),
        "dependencies.yml",
        "projects:\n  - name: core_platform\n",
    );
    let declared = elt_deps::read_declared(dir.path())
        .unwrap()
        .expect("a declaration");
    assert!(declared.packages.is_empty());
    let warnings: Vec<String> = declared
        .project_warnings()
        .iter()
        .map(|w| w.to_string())
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("project 'core_platform' is a cross-project dependency"),
        "{}",
        warnings[0]
    );
    assert!(
        warnings[0].contains("dependencies.yml:2"),
        "{}",
        warnings[0]
    );
    assert!(elt_deps::install(dir.path(), NO_HUB).unwrap().is_empty());
}
