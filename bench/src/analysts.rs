//! The analysts' cookbook (docs/analysts.md) over a year of raw events, under the
//! analyst's limits as compose/clickhouse/users.d sets them: the figures those limits
//! were sized from.

use std::time::Instant;

use topology::store::ClickHouseSettings;

use crate::report::{Analysts, CookbookQuery};
use crate::scratch;

pub async fn run(events: u64) -> anyhow::Result<Analysts> {
    let clickhouse = scratch::migrated_clickhouse("bench_analysts").await?;
    let result = measure(&clickhouse, events).await;
    scratch::remove(None, &clickhouse).await;
    result
}

async fn measure(clickhouse: &ClickHouseSettings, events: u64) -> anyhow::Result<Analysts> {
    let ch = clickhouse.client();
    eprintln!("[bench] generating {events} raw events over 364 days");
    crate::stats::generate(&ch, events).await?;
    let stored: u64 = ch.query("SELECT count() FROM events").fetch_one().await?;
    let runs: u64 = ch.query("SELECT count() FROM runs").fetch_one().await?;

    // The analyst's profile, applied to each query: an analyst cannot go past it, so a
    // query that fits here fits for them. The bench's scratch database is not the one the
    // analyst's grants name, so the operator runs the queries under the profile's settings;
    // that the analyst gets exactly these limits is tests/tests/analysts.rs's.
    let limits = tests::analysts::profile_settings("telemetry_analyst");
    let mut params: Vec<String> = vec![
        format!("database={}", clickhouse.database),
        "default_format=JSONEachRow".into(),
        // The summary header then covers the whole query.
        "wait_end_of_query=1".into(),
    ];
    params.extend(limits.iter().map(|(k, v)| format!("{k}={v}")));
    let url = format!(
        "{}/?{}",
        clickhouse.url.trim_end_matches('/'),
        params.join("&")
    );
    let http = reqwest::Client::new();
    let mut queries = Vec::new();
    let cookbook = tests::analysts::cookbook(&tests::analysts::document());
    // Each query as written (most read a window of 30 or 90 days), then over the whole
    // year: what the limits must allow for.
    let year: Vec<(String, String)> = cookbook
        .iter()
        .map(|(id, sql)| (format!("{id} (a year)"), over_a_year(sql)))
        .collect();
    for (id, sql) in cookbook.into_iter().chain(year) {
        eprintln!("[bench] cookbook: {id}");
        let started = Instant::now();
        let response = http
            .post(&url)
            .header("X-ClickHouse-User", &clickhouse.user)
            .header("X-ClickHouse-Key", clickhouse.password.expose())
            .body(sql)
            .send()
            .await?;
        let summary: serde_json::Value = response
            .headers()
            .get("X-ClickHouse-Summary")
            .and_then(|h| h.to_str().ok())
            .and_then(|h| serde_json::from_str(h).ok())
            .unwrap_or_default();
        let ok = response.status().is_success();
        let body = response.text().await?;
        let secs = started.elapsed().as_secs_f64();
        anyhow::ensure!(
            ok,
            "cookbook query {id} failed under the analyst's limits: {body}"
        );
        let number = |key: &str| {
            summary[key]
                .as_str()
                .and_then(|v| v.parse::<u64>().ok())
                .or_else(|| summary[key].as_u64())
        };
        queries.push(CookbookQuery {
            id,
            secs,
            read_rows: number("read_rows").unwrap_or_default(),
            read_bytes: number("read_bytes").unwrap_or_default(),
            result_rows: body.lines().count() as u64,
            memory_bytes: number("memory_usage"),
        });
    }
    Ok(Analysts {
        events: stored,
        runs,
        limits,
        queries,
    })
}

/// `sql` with its window, `from = today() - N` or `received_at >= today() - N`, widened
/// to the year the raw table keeps.
fn over_a_year(sql: &str) -> String {
    let mut text = sql.to_owned();
    for marker in ["from = today() - ", "received_at >= today() - "] {
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(at) = rest.find(marker) {
            let (head, tail) = rest.split_at(at + marker.len());
            out.push_str(head);
            out.push_str("364");
            rest = tail.trim_start_matches(|c: char| c.is_ascii_digit());
        }
        out.push_str(rest);
        text = out;
    }
    text
}

#[cfg(test)]
mod widening {
    #[test]
    fn a_window_is_widened_to_the_year() {
        assert_eq!(
            super::over_a_year(
                "SELECT 1 FROM runs_between(from = today() - 29, to = today() + 1) WHERE started >= today() - 6"
            ),
            "SELECT 1 FROM runs_between(from = today() - 364, to = today() + 1) WHERE started >= today() - 6"
        );
        assert_eq!(
            super::over_a_year("FROM events WHERE received_at >= today() - 29 GROUP BY status"),
            "FROM events WHERE received_at >= today() - 364 GROUP BY status"
        );
    }
}
