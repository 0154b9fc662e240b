//! The scrubber's corpus through the real pipeline: every failing-install text is posted
//! to ingest in its field, stored by the consumer in ClickHouse, and every string of
//! every table of the pipeline's database is searched for what was planted. The cut of
//! free text is raised, so that what is gone was scrubbed, not truncated.

use serde_json::Value;
use tests::Pipeline;
use tests::corpus::{Corpus, strings, survivors};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_planted_in_the_corpus_is_stored() {
    let corpus = Corpus::load();
    let p = Pipeline::start_with(|ingest, _| {
        ingest.ingest.error_max_chars = 100_000;
        ingest.ingest.rate_limit_per_minute = 0;
    })
    .await;

    type Body<'c> = Box<dyn Fn(&str) -> String + 'c>;
    let bodies = corpus
        .leak
        .iter()
        .map(|l| (&l.name, Box::new(|id: &str| l.body(id)) as Body<'_>))
        .chain(
            corpus
                .harmless
                .iter()
                .map(|h| (&h.name, Box::new(|id: &str| h.body(id)) as Body<'_>)),
        );
    let mut sent = 0;
    for (n, (name, body)) in bodies.enumerate() {
        // The real client's own id forms: a run per text.
        let r = p.post(&body(&format!("corpus-{n}"))).await;
        assert_eq!(
            r.status(),
            202,
            "{name}: {}",
            r.text().await.unwrap_or_default()
        );
        sent += 1;
    }
    p.wait_stored(sent).await;
    // The statistics tables too: a refresh materialises them from the stored rows.
    p.admin_refresh().await;

    // Every string of every row of every table (the views, `runs` and `runs_between`,
    // show only what the tables hold).
    let tables = p
        .rows("SELECT name FROM system.tables WHERE database = currentDatabase() AND engine != 'View'")
        .await;
    assert!(
        tables.len() >= 4,
        "the raw and the statistics tables: {tables:?}"
    );
    let mut stored = Vec::new();
    for table in &tables {
        let name = table["name"].as_str().unwrap();
        for row in p.rows(&format!("SELECT * FROM `{name}`")).await {
            strings(&row, &mut stored);
        }
    }
    let errors = p.rows("SELECT error FROM events").await;
    assert!(
        errors
            .iter()
            .any(|r| r["error"].as_str().is_some_and(|e| e.chars().count() > 400)),
        "long texts were stored whole, so nothing was cut away"
    );

    // The limits on record survive by definition; what they contain is not a finding
    // for another text (`pve-mallory` holds `mallory`).
    let unreachable: Vec<String> = corpus
        .leak
        .iter()
        .flat_map(|l| l.unreachable.iter().map(|u| u.to_lowercase()))
        .collect();
    let stored: Vec<String> = stored
        .iter()
        .map(|s| {
            unreachable
                .iter()
                .fold(s.to_lowercase(), |s, u| s.replace(u.as_str(), ""))
        })
        .collect();
    let mut failures = Vec::new();
    for leak in &corpus.leak {
        let left = survivors(&leak.planted, &stored);
        if !left.is_empty() {
            failures.push(format!("{}: {left:?}", leak.name));
        }
    }
    println!(
        "{} texts, {} planted strings, {} stored strings searched, {} texts with survivors",
        corpus.leak.len(),
        corpus.planted(),
        stored.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // A run sent under the client's non-UUID id is one run of one installation.
    let runs: Value = p
        .rows("SELECT toUInt32(uniqExact(random_id)) AS ids FROM events")
        .await
        .into_iter()
        .next()
        .unwrap();
    assert_eq!(runs["ids"].as_u64(), Some(sent));
    p.stop().await;
}
