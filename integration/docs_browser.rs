//! The docs site in a real browser: headless Chromium driven through chromedriver opens the
//! served site of the example warehouse, searches for a model, opens its page, shows the column
//! lineage of one of its columns, runs a selection through the CLI's selector, and keeps an XSS
//! fixture inert. A screenshot of the column lineage is saved in `artifacts/` (or
//! `$ELT_ARTIFACTS_DIR`) for CI.
//!
//! Needs Debian's `chromium` and `chromium-driver`: skipped when they are missing, except under
//! CI (`CI=true`), where that is a failure.

mod support;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use support::{Running, example_project, ok, serve_docs, write};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn browser_available() -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{missing:?} missing under CI: install Debian's chromium and chromium-driver");
    }
    eprintln!("skipped: {missing:?} missing; apt-get install chromium chromium-driver");
    false
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn start_chromedriver() -> (Running, String) {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (Running(child), format!("http://127.0.0.1:{port}"))
}

/// The example warehouse, built from a small generated dataset, with an XSS probe model.
fn built_example_project() -> tempfile::TempDir {
    let dir = example_project();
    write(
        dir.path(),
        "models/xss_probe.sql",
        "select 1 as \"<img src=x onerror=window.__xss=2>\"\n",
    );
    write(
        dir.path(),
        "models/xss_probe.yml",
        "version: 2\nmodels:\n  - name: xss_probe\n    description: |\n      <script>window.__xss=1</script> <img src=x onerror=window.__xss=3> [x](javascript:window.__xss=4)\n",
    );
    let path = dir.path();
    ok(
        path,
        &[
            "generate",
            "ecommerce",
            "--scale",
            "0.01",
            "--days",
            "5",
            "--out",
            "data/raw",
        ],
    );
    ok(path, &["build", "--load"]);
    ok(path, &["docs", "generate"]);
    dir
}

fn artifacts_dir() -> PathBuf {
    std::env::var_os("ELT_ARTIFACTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts"))
}

async fn connect(webdriver: &str, profile: &Path) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--no-first-run", "--disable-sync",
                     "--window-size=1400,900", format!("--user-data-dir={}", profile.display())],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(webdriver)
        .await
        .expect("a chromium session")
}

async fn wait_for(client: &Client, css: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} never appeared: {e}"))
}

async fn wait_for_text(client: &Client, css: &str, wanted: &str) -> String {
    let started = Instant::now();
    loop {
        if let Ok(element) = client.find(Locator::Css(css)).await
            && let Ok(text) = element.text().await
            && text.contains(wanted)
        {
            return text;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{css} never showed {wanted:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the nodes the model graph shows are as `wanted`: applying a selection draws
/// the page again, so the graph from before may still be there for a moment.
async fn graph_shows(client: &Client, wanted: impl Fn(&[String]) -> bool) {
    let started = Instant::now();
    loop {
        let shown: Vec<String> = client
            .execute(
                "return [...document.querySelectorAll('#model-graph g.graph-node')].map(g => g.dataset.id)",
                vec![],
            )
            .await
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        if wanted(&shown) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the graph never showed the selection: {shown:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn the_served_site_finds_a_model_and_shows_its_column_lineage() {
    if !browser_available() {
        return;
    }
    let project = built_example_project();
    let (_server, url) = serve_docs(project.path());
    let (_driver, webdriver) = start_chromedriver();
    let profile = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = connect(&webdriver, profile.path()).await;
        client.goto(&url).await.unwrap();
        wait_for(&client, "html[data-rendered]").await;

        // Search, then open the model from the results.
        let search = wait_for(&client, "#search").await;
        search.send_keys("fct_orders").await.unwrap();
        wait_for(
            &client,
            "a.search-result[data-id='model.ecommerce.fct_orders']",
        )
        .await
        .click()
        .await
        .unwrap();
        wait_for(&client, "#node-page[data-id='model.ecommerce.fct_orders']").await;

        // The column's lineage summary, then its graph.
        let row = "tr.column[data-column='amount_usd_micros']";
        let summary = wait_for_text(
            &client,
            &format!("{row} td.column-lineage-summary"),
            "usd_rate_bp",
        )
        .await;
        assert!(summary.contains("transformed"), "{summary}");
        wait_for(&client, &format!("{row} button.column-lineage"))
            .await
            .click()
            .await
            .unwrap();
        for upstream in [
            "[data-id='seed.ecommerce.currency_rates'][data-column='usd_rate_bp']",
            "[data-id='model.ecommerce.stg_order_items'][data-column='amount_cents']",
            "[data-id='source.ecommerce.raw.orders']",
        ] {
            wait_for(
                &client,
                &format!("#column-graph svg g.graph-node{upstream}"),
            )
            .await;
        }
        let png = client.screenshot().await.unwrap();
        let artifacts = artifacts_dir();
        std::fs::create_dir_all(&artifacts).unwrap();
        let shot = artifacts.join("docs-column-lineage.png");
        std::fs::write(&shot, &png).unwrap();
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "a real screenshot"
        );
        eprintln!("screenshot: {}", shot.display());

        // The selection box runs the CLI's selector.
        client.goto(&format!("{url}#!/graph")).await.unwrap();
        let select = wait_for(&client, "#select").await;
        select.clear().await.unwrap();
        select.send_keys("+fct_orders").await.unwrap();
        wait_for(&client, "#select-apply")
            .await
            .click()
            .await
            .unwrap();
        wait_for(
            &client,
            "#model-graph g.graph-node[data-id='source.ecommerce.raw.orders']",
        )
        .await;
        // fct_orders and its parents, without the models it does not read.
        graph_shows(&client, |shown| {
            shown.contains(&"model.ecommerce.fct_orders".to_string())
                && !shown.contains(&"model.ecommerce.dim_date".to_string())
        })
        .await;

        // Project text stays text.
        client
            .goto(&format!("{url}#!/node/model.ecommerce.xss_probe"))
            .await
            .unwrap();
        wait_for(&client, "#node-page[data-id='model.ecommerce.xss_probe']").await;
        wait_for(&client, "tr.column").await;
        let probe = client
            .execute(
                "return [window.__xss === undefined, document.body.innerText,
                         document.querySelectorAll('img[src=\"x\"]').length,
                         document.querySelectorAll('a[href^=\"javascript\"]').length]",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(probe[0], true, "a payload ran");
        let text = probe[1].as_str().unwrap();
        assert!(text.contains("<script>window.__xss=1</script>"), "{text}");
        assert!(
            text.contains("<img src=x onerror=window.__xss=2>"),
            "{text}"
        );
        assert_eq!(probe[2], 0);
        assert_eq!(probe[3], 0);
        client.close().await.unwrap();
    });
}
