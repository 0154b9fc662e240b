//! The error analysis through the real pipeline: error texts that differ only in
//! numbers, paths and versions are one pattern; a pattern is published only when k
//! installations share it; ClickHouse computes exactly the patterns the Rust rules
//! describe; and every code of the client's exit-code table is published with the
//! client's meaning and category.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use tests::Pipeline;
use tests::seeded::post_batch;

/// A failed run of its own: a new execution of installation `installation`.
fn failed(installation: usize, run: usize, app: &str, code: u8, error: &str) -> Value {
    json!({
        "random_id": format!("00000000-0000-4000-8000-{installation:012}"),
        "execution_id": format!("00000000-0000-4000-9000-{run:012}"),
        "type": "lxc",
        "nsapp": app,
        "status": "failed",
        "exit_code": code,
        "error": error,
        "repo_source": "ProxmoxVE",
    })
}

/// One failure, five installations, five texts that differ in what varies from run to
/// run: the exit-code header, versions, paths, line numbers.
const ONE_FAILURE: [&str; 5] = [
    "exit_code=1 | Setting up nginx (1.22.1-9) failed: see /var/log/nginx/error.log line 12",
    "exit_code=100 | Setting up nginx (1.22.1-10) failed: see /var/log/nginx/error-2.log line 7",
    "Setting up nginx (1.24.0-2) failed: see /tmp/nginx/x.log line 130",
    "Setting up nginx (1.22.1-9+deb12u1) failed: see /var/lib/nginx/error.log line 12",
    "Setting up nginx (1.26.3) failed: see /opt/n/error.log line 999",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_texts_collapse_into_patterns_published_from_k_installations() {
    let p = Pipeline::start().await;
    let mut events: Vec<Value> = ONE_FAILURE
        .iter()
        .enumerate()
        .map(|(i, text)| failed(i, i, "nginxproxymanager", 1, text))
        .collect();
    // Another failure: eight runs, but from four installations (two runs each).
    for i in 0..8 {
        events.push(failed(
            100 + i / 2,
            100 + i,
            "node-red",
            1,
            &format!(
                "npm ERR! code ERESOLVE unable to resolve dependency tree in /opt/app{i}/package.json (attempt {})",
                i % 2 + 1
            ),
        ));
    }
    // A third, two runs from two installations: with node-red's, the failures no
    // pattern holds are k runs from k installations, so the pattern above can be shown
    // (otherwise the failures' total minus it would be node-red's runs).
    for i in 0..2 {
        events.push(failed(
            200 + i,
            200 + i,
            "mariadb",
            100,
            "E: Unable to locate package mariadb-server-compat",
        ));
    }
    let (accepted, _) = post_batch(&p, &events).await;
    assert_eq!(accepted, 15);
    p.wait_stored(15).await;
    p.refresh().await;

    // What ClickHouse stored, scrubbed, and the patterns the rules give it.
    let stored: Vec<String> = p
        .rows("SELECT error FROM events FINAL WHERE nsapp = 'nginxproxymanager' ORDER BY error")
        .await
        .iter()
        .map(|r| r["error"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(stored.len(), 5);
    let patterns: Vec<String> = stored
        .iter()
        .map(|t| aggregator::patterns::normalise(t))
        .collect();
    assert!(
        patterns.iter().all(|x| *x == patterns[0]),
        "one failure, one pattern: {patterns:#?}"
    );
    assert_eq!(
        patterns[0],
        "Setting up nginx (<version>) failed: see <path> line <n>"
    );

    let errors = p
        .get_json(&format!("{}/v1/stats/errors", p.aggregator_url))
        .await;
    let published = &errors["patterns"];
    assert_eq!(
        published["groups"].as_array().unwrap().len(),
        1,
        "{published}"
    );
    let group = &published["groups"][0];
    assert_eq!(group["pattern"], patterns[0]);
    assert_eq!(group["runs"], 5);
    assert_eq!(group["failed"], 5);
    assert_eq!(
        group["apps"],
        json!([{"nsapp": "nginxproxymanager", "runs": 5}])
    );
    // Four installations are fewer than k, whatever their runs: hidden in `other`, with
    // the other small pattern, so that neither can be told apart.
    assert_eq!(published["other"]["runs"], 10);
    assert_eq!(published["suppressed_groups"], 0);
    let text = errors.to_string();
    for never in [
        "ERESOLVE",
        "npm ERR",
        "/var/log",
        "1.22.1",
        "package.json",
        "mariadb-server",
    ] {
        assert!(!text.contains(never), "the errors document shows {never}");
    }
    // node-red itself has k runs but four installations: no app page either.
    let r = testkit::get(
        &p.http,
        &format!("{}/v1/stats/apps/node-red", p.aggregator_url),
    )
    .await;
    assert_eq!(r.status(), 404);
    p.stop().await;
}

/// The ClickHouse expression and the Rust rules agree, on the texts stored by the
/// pipeline and on texts chosen to trip either engine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_computes_the_patterns_the_rust_rules_describe() {
    let p = Pipeline::start().await;
    let texts: Vec<String> = [
        "exit_code=100 | E: Unable to locate package jellyfin-ffmpeg7\n---\nSetting up nginx (1",
        "E: Failed to fetch <url>  404  Not Found [IP: <ip> 80]",
        "curl: (22) The requested URL returned error: 403 from https://github.com/a/b/releases/v2.1.0",
        "Error: 'config.yaml' is \"missing\" at `~/apps/x` (0x7f3a9c0012ab)",
        "FATAL:  password authentication failed for user <user>; id 3f2b9c1e-0a4d-4e5f-9a8b-1c2d3e4f5a6b",
        "what? where?? \\d+ $1 \\1 ?fields",
        "Ünïcödé 42 ./relative/path ../up v1.2.3-rc1 1:2.3~beta",
        "   spaces\t\tand\r\nlines   ",
        "",
    ]
    .map(str::to_owned)
    .into_iter()
    .chain({
        // The scrubber's corpora: real failing-install texts of every kind, raw.
        let corpus = tests::corpus::Corpus::load();
        let leaks = corpus.leak.into_iter().map(|l| l.case.text);
        leaks.chain(corpus.harmless.into_iter().map(|h| h.case.text))
    })
    .collect();
    assert!(texts.len() > 800, "{}", texts.len());
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct Pair {
        text: String,
        pattern: String,
    }
    let pairs: Vec<Pair> = p
        .clickhouse
        .query(&format!(
            "SELECT text, {} AS pattern FROM (SELECT arrayJoin(?) AS text)",
            aggregator::patterns::sql("text")
        ))
        .bind(&texts)
        .fetch_all()
        .await
        .expect("ClickHouse computes the patterns");
    assert_eq!(pairs.len(), texts.len());
    let mut differ = BTreeMap::new();
    for pair in &pairs {
        let rust = aggregator::patterns::normalise(&pair.text);
        if rust != pair.pattern {
            differ.insert(pair.text.clone(), (rust, pair.pattern.clone()));
        }
    }
    assert!(differ.is_empty(), "Rust and ClickHouse differ: {differ:#?}");
    p.stop().await;
}

/// The client's table: (code, meaning, category).
fn client_table() -> Vec<(u8, String, String)> {
    include_str!("../../schemas/data/exit-codes.tsv")
        .lines()
        .skip(1)
        .map(|line| {
            let mut f = line.split('\t');
            let code = f.next().unwrap().parse().unwrap();
            (
                code,
                f.next().unwrap().to_owned(),
                f.next().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_exit_code_of_the_clients_table_is_published_with_its_meaning() {
    let p = Pipeline::start().await;
    let table = client_table();
    assert_eq!(table.len(), 162);
    // Six installations fail with each code, saying nothing more. Six, one more than k:
    // installations are counted by 16-bit buckets, which only ever undercount, and two
    // of five installations share a bucket in about one group of 6 500 (code 64's do
    // here: installations 190 and 194). A code is then withheld, which is the rule
    // erring on the safe side, not a code without a meaning.
    let events: Vec<Value> = table
        .iter()
        .enumerate()
        .flat_map(|(i, (code, _, _))| {
            (0..6).map(move |j| {
                let n = i * 6 + j;
                let mut e = failed(n, n, "exit-codes", *code, "");
                e.as_object_mut().unwrap().remove("error");
                e
            })
        })
        .collect();
    let n = events.len() as u64;
    assert_eq!(post_batch(&p, &events).await, (n, 0));
    p.wait_stored(n).await;
    p.refresh().await;

    // Stored: the server's category is the client's, wherever the table has one.
    let stored: BTreeMap<u64, String> = p
        .rows("SELECT exit_code, any(error_category) AS category FROM events FINAL GROUP BY exit_code")
        .await
        .iter()
        .map(|r| {
            (
                r["exit_code"].as_u64().unwrap(),
                r["category"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (code, _, category) in &table {
        if category != "unknown" {
            assert_eq!(&stored[&u64::from(*code)], category, "exit code {code}");
        }
    }

    // Published: every code, its five runs, the client's meaning and category.
    let errors = p
        .get_json(&format!("{}/v1/stats/errors?days=1", p.aggregator_url))
        .await;
    let published: BTreeMap<String, &Value> = errors["exit_codes"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["value"].as_str().unwrap().to_owned(), g))
        .collect();
    let missing: Vec<u8> = table
        .iter()
        .map(|t| t.0)
        .filter(|c| !published.contains_key(&c.to_string()))
        .collect();
    assert!(missing.is_empty(), "not published: {missing:?}");
    assert_eq!(published.len(), table.len());
    for (code, meaning, category) in &table {
        let g = published[&code.to_string()];
        assert_eq!(g["runs"], 6, "{code}");
        assert_eq!(g["meaning"], meaning.as_str(), "{code}");
        if category != "unknown" {
            assert_eq!(g["category"], category.as_str(), "{code}");
        }
    }
    // 214, the project's own "not enough storage", was the example of a blank.
    assert_eq!(
        published["214"]["meaning"],
        "Proxmox: Not enough storage space"
    );
    assert_eq!(published["214"]["category"], "storage");
    // Each code is one share of the 972 failures.
    assert_eq!(published["214"]["share"], 0.0062);
    p.stop().await;
}
