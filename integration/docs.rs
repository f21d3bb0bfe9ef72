//! `elt docs generate` and `elt docs serve` without a browser: the catalog read from each
//! warehouse, column lineage through CTEs and `select *`, the site's data files, escaping, and
//! the errors a user meets. The browser test is in `docs_browser.rs`.

mod support;

use std::io::{Read, Write};
use std::path::Path;

use serde_json::Value as Json;
use support::{Wh, elt, example_project, fixture, ok, serve_docs, stderr, write};

fn read_json(path: &Path) -> Json {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).expect("valid JSON")
}

/// `model.jaffle_shop.x.column: kind <- sources` for one column of lineage.json.
fn lineage_of(lineage: &Json, node: &str, column: &str) -> String {
    let entry = &lineage["nodes"][format!("model.jaffle_shop.{node}")]["columns"][column];
    let sources: Vec<String> = entry["sources"]
        .as_array()
        .unwrap_or_else(|| panic!("no lineage for {node}.{column}: {lineage}"))
        .iter()
        .map(|s| {
            format!(
                "{}.{}",
                s["node"].as_str().unwrap(),
                s["column"].as_str().unwrap()
            )
        })
        .collect();
    format!(
        "{} <- {}",
        entry["kind"].as_str().unwrap(),
        sources.join(", ")
    )
}

on_every_warehouse!(generate_reads_the_catalog_and_traces_columns);

fn generate_reads_the_catalog_and_traces_columns(wh: Wh) {
    let p = wh.jaffle_shop();
    ok(p.path(), &["build"]);
    let printed = ok(p.path(), &["docs", "generate"]);
    assert!(printed.contains("Lineage: "), "{printed}");
    assert!(printed.contains(" (0 unknown)"), "{printed}");

    let target = p.path().join("target");
    let catalog = read_json(&target.join("catalog.json"));
    let customers = &catalog["nodes"]["model.jaffle_shop.customers"];
    assert_eq!(customers["metadata"]["type"], "BASE TABLE", "{customers}");
    assert_eq!(
        catalog["nodes"]["model.jaffle_shop.stg_orders"]["metadata"]["type"],
        "VIEW"
    );
    let columns: Vec<&str> = customers["columns"]
        .as_object()
        .expect("columns")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        columns,
        [
            "customer_id",
            "first_name",
            "last_name",
            "first_order",
            "most_recent_order",
            "number_of_orders",
            "customer_lifetime_value"
        ]
    );
    let count_type = customers["columns"]["number_of_orders"]["type"]
        .as_str()
        .unwrap()
        .to_lowercase();
    assert!(count_type.contains("int"), "count(...) as {count_type}");
    assert_eq!(customers["columns"]["first_order"]["index"], 4);
    assert_eq!(
        catalog["nodes"]["seed.jaffle_shop.raw_customers"]["columns"]
            .as_object()
            .map(|c| c.len()),
        Some(3)
    );

    let lineage = read_json(&target.join("lineage.json"));
    // Through `select * from source` (expanded from the catalog) and a rename.
    assert_eq!(
        lineage_of(&lineage, "stg_customers", "customer_id"),
        "direct <- seed.jaffle_shop.raw_customers.id"
    );
    // Through three CTEs and a join.
    assert_eq!(
        lineage_of(&lineage, "customers", "first_name"),
        "direct <- model.jaffle_shop.stg_customers.first_name"
    );
    assert_eq!(
        lineage_of(&lineage, "customers", "customer_lifetime_value"),
        "transformed <- model.jaffle_shop.stg_payments.amount"
    );
    assert_eq!(
        lineage_of(&lineage, "stg_payments", "amount"),
        "transformed <- seed.jaffle_shop.raw_payments.amount"
    );
    assert_eq!(
        lineage_of(&lineage, "orders", "credit_card_amount"),
        "transformed <- model.jaffle_shop.stg_payments.amount, model.jaffle_shop.stg_payments.payment_method"
    );

    let index = std::fs::read_to_string(target.join("docs/data/index.js")).unwrap();
    assert!(index.starts_with("window.ELT_DOCS = {"), "{}", &index[..80]);
    assert!(index.contains("\"model.jaffle_shop.customers\""));
    let chunk = std::fs::read_to_string(target.join("docs/data/chunk-0.js")).unwrap();
    assert!(chunk.contains("This table has basic information about a customer"));
    // Markdown tables of doc blocks render as HTML tables.
    assert!(chunk.contains("<table>"), "the orders_status doc block");
}

/// Without a warehouse, seeds' columns come from their files' headers: `select *` over a seed
/// still expands, and the lineage through it is complete.
#[test]
fn without_a_warehouse_seed_headers_expand_star() {
    let dir = fixture("jaffle_shop");
    let printed = ok(dir.path(), &["docs", "generate", "--empty-catalog"]);
    assert!(printed.contains(" (0 unknown)"), "{printed}");
    let lineage = read_json(&dir.path().join("target/lineage.json"));
    assert_eq!(
        lineage_of(&lineage, "stg_customers", "customer_id"),
        "direct <- seed.jaffle_shop.raw_customers.id"
    );
    assert_eq!(
        lineage_of(&lineage, "customers", "customer_lifetime_value"),
        "transformed <- model.jaffle_shop.stg_payments.amount"
    );
    let index = std::fs::read_to_string(dir.path().join("target/docs/data/index.js")).unwrap();
    assert!(
        index.contains("\"columns\":[\"id\",\"first_name\",\"last_name\"]"),
        "the seed's columns are listed"
    );
}

/// Lineage of the example warehouse's vault and star schema, compiled without a warehouse.
#[test]
fn example_warehouse_lineage() {
    let dir = example_project();
    let printed = ok(dir.path(), &["docs", "generate", "--empty-catalog"]);
    assert!(printed.contains(" (0 unknown)"), "{printed}");
    let lineage = read_json(&dir.path().join("target/lineage.json"));
    let mut text = String::new();
    for (id, node) in lineage["nodes"].as_object().unwrap() {
        let layer = ["hub_", "link_", "sat_", "dim_", "fct_"];
        if !layer.iter().any(|l| id.contains(&format!(".{l}"))) {
            continue;
        }
        text.push_str(&format!("{}\n", id.trim_start_matches("model.ecommerce.")));
        for (column, entry) in node["columns"].as_object().unwrap() {
            let sources: Vec<String> = entry["sources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    let node = s["node"].as_str().unwrap();
                    format!(
                        "{}.{}",
                        node.rsplit('.').next().unwrap(),
                        s["column"].as_str().unwrap()
                    )
                })
                .collect();
            text.push_str(&format!(
                "  {column}: {} <- {}\n",
                entry["kind"].as_str().unwrap(),
                sources.join(", ")
            ));
        }
    }
    insta::assert_snapshot!(text);
}

#[test]
fn descriptions_are_escaped_markdown() {
    let dir = fixture("jaffle_shop");
    write(
        dir.path(),
        "models/xss.yml",
        "version: 2\nmodels:\n  - name: customers\n    description: |\n      Has <script>window.__xss=1</script> and <img src=x onerror=window.__xss=1> and **bold** and [bad](javascript:alert(1))\n",
    );
    std::fs::remove_file(dir.path().join("models/schema.yml")).unwrap();
    ok(dir.path(), &["docs", "generate", "--empty-catalog"]);
    let chunk = std::fs::read_to_string(dir.path().join("target/docs/data/chunk-0.js")).unwrap();
    let start = chunk
        .find("\"model.jaffle_shop.customers\"")
        .expect("the model's details");
    let details = &chunk[start..];
    let html_start = details.find("description_html").unwrap();
    let html = &details[html_start..details[html_start..].find("\",").unwrap() + html_start];
    assert!(
        html.contains("&lt;script&gt;window.__xss=1&lt;/script&gt;"),
        "{html}"
    );
    assert!(
        html.contains("&lt;img src=x onerror=window.__xss=1&gt;"),
        "{html}"
    );
    assert!(html.contains("<strong>bold</strong>"), "{html}");
    assert!(
        !html.contains("<script") && !html.contains("javascript:"),
        "{html}"
    );
}

#[test]
fn generate_without_a_warehouse_says_how_to_go_on() {
    let dir = fixture("jaffle_shop");
    write(
        dir.path(),
        "profiles.yml",
        "jaffle_shop:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n      host: 127.0.0.1\n      port: 1\n      user: nobody\n      password: x\n      dbname: none\n      schema: main\n",
    );
    let output = elt(dir.path(), &["docs", "generate"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let error = stderr(&output);
    assert!(error.contains("--empty-catalog"), "{error}");
    assert!(error.contains("profiles.yml"), "{error}");
    assert!(
        !dir.path().join("target/docs").exists(),
        "no half-written site"
    );
}

#[test]
fn serve_needs_a_generated_site() {
    let dir = fixture("jaffle_shop");
    let output = elt(dir.path(), &["docs", "serve", "--port", "0"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("run `elt docs generate` first"),
        "{}",
        stderr(&output)
    );
}

/// A GET over a plain socket: status code and body.
fn get(url: &str, path: &str) -> (u16, String) {
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn serve_answers_selections_with_the_cli_selector_and_stays_in_its_folder() {
    let dir = fixture("jaffle_shop");
    ok(dir.path(), &["docs", "generate", "--empty-catalog"]);
    let (_server, url) = serve_docs(dir.path());
    let (status, body) = get(&url, "/");
    assert_eq!(status, 200);
    assert!(body.contains("elt-docs.js"), "{body}");
    let (status, body) = get(&url, "/api/select?select=%2Bcustomers&exclude=stg_orders");
    assert_eq!(status, 200, "{body}");
    let ids: Json = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = ids["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let listed = ok(
        dir.path(),
        &[
            "ls",
            "--select",
            "+customers",
            "--exclude",
            "stg_orders",
            "--output",
            "json",
            "--output-keys",
            "unique_id",
        ],
    );
    let mut expected: Vec<String> = listed
        .lines()
        .filter_map(|l| serde_json::from_str::<Json>(l).ok())
        .map(|v| v["unique_id"].as_str().unwrap().to_string())
        .collect();
    expected.sort();
    assert_eq!(ids, expected);
    let (status, body) = get(&url, "/api/select?select=nonsense:x");
    assert_eq!(status, 400);
    assert!(body.contains("nonsense"), "{body}");
    assert_eq!(get(&url, "/../target/manifest.json").0, 404);
    assert_eq!(get(&url, "/%2e%2e/manifest.json").0, 404);
    assert_eq!(get(&url, "/data/index.js").0, 200);
}
