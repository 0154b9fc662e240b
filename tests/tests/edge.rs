//! What is public and what is not: each service's operators' routes are on their own
//! listener, and the aggregator's public API is limited like ingest's and answers
//! names it has never counted from memory.

use serde_json::Value;
use tests::{ADMIN_TOKEN, Pipeline, seeded};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

async fn status(p: &Pipeline, url: String) -> u16 {
    p.http.get(url).send().await.unwrap().status().as_u16()
}

/// Queries ClickHouse has answered since it started (all databases).
async fn queries(p: &Pipeline) -> u64 {
    p.count("SELECT value FROM system.events WHERE event = 'Query'")
        .await
        .expect("system.events")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_routes_are_internal_and_the_public_api_is_limited() {
    let p = Pipeline::start().await;
    seeded::post(&p).await;
    p.refresh().await;

    // Every public answer, a page, a document, a data script or an error, carries a
    // content security policy (no inline script, nothing framed), nosniff and no
    // referrer; so do ingest's.
    for url in [
        format!("{}/", p.aggregator_url),
        format!("{}/v1/stats/summary", p.aggregator_url),
        format!("{}/data.js", p.aggregator_url),
        format!("{}/no-such-page", p.aggregator_url),
        format!("{}/openapi.json", p.ingest_url),
        format!("{}/telemetry", p.ingest_url),
    ] {
        let r = p.http.get(&url).send().await.unwrap();
        let h = r.headers();
        assert_eq!(
            h.get("content-security-policy")
                .map(|v| v.to_str().unwrap()),
            Some(runtime::http::CONTENT_SECURITY_POLICY),
            "{url}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{url}");
        assert_eq!(h["x-frame-options"], "DENY", "{url}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{url}");
    }
    assert!(
        !runtime::http::CONTENT_SECURITY_POLICY.contains("unsafe-inline"),
        "no inline script or style"
    );

    // Public listeners: the clients' and the readers' routes only.
    for path in ["/metrics", "/healthz", "/readyz"] {
        assert_eq!(
            status(&p, format!("{}{path}", p.ingest_url)).await,
            404,
            "{path}"
        );
        assert_eq!(
            status(&p, format!("{}{path}", p.ingest_internal_url)).await,
            200,
            "{path}"
        );
    }
    for path in ["/metrics", "/healthz", "/admin/v1/refresh"] {
        assert_eq!(
            status(&p, format!("{}{path}", p.aggregator_url)).await,
            404,
            "{path}"
        );
    }
    let r = p
        .http
        .post(format!("{}/admin/v1/refresh", p.aggregator_url))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        404,
        "the admin API is not on the public listener"
    );
    let r = p
        .http
        .post(format!("{}/admin/v1/refresh", p.aggregator_internal_url))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        status(&p, format!("{}/metrics", p.aggregator_internal_url)).await,
        200
    );

    // An aggregator with a small budget: 5 at once, then one a minute.
    let mut settings = p.aggregator_settings();
    settings.aggregator.rate_limit_per_minute = 1;
    settings.aggregator.rate_limit_burst = 5;
    settings.aggregator.internal_listen = "127.0.0.1:0".into();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(aggregator::serve(settings, listener, async {
        let _ = stopped.await;
    }));
    let statuses: Vec<u16> = {
        let mut s = Vec::new();
        for _ in 0..6 {
            s.push(status(&p, format!("{url}/v1/stats/summary")).await);
        }
        s
    };
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
    let r = testkit::get(&p.http, &format!("{url}/v1/stats/summary")).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "rate_limited");
    let _ = stop.send(());
    let _ = served.await;

    // Names nobody ever counted: a 404 from memory, not statistics queries. (The
    // pipeline's own aggregator; this test is alone in its binary, so the server's
    // query count is this test's.)
    assert_eq!(
        status(&p, format!("{}/v1/stats/apps/docker", p.aggregator_url)).await,
        200
    );
    let before = queries(&p).await;
    for i in 0..100 {
        let name = format!("no-such-app-{i}");
        assert_eq!(
            status(&p, format!("{}/v1/stats/apps/{name}", p.aggregator_url)).await,
            404
        );
        assert_eq!(
            status(
                &p,
                format!("{}/data/production/30d/apps/{name}.js", p.aggregator_url)
            )
            .await,
            404
        );
    }
    let asked = queries(&p).await - before;
    // The public API's own request metrics, on the internal listener.
    let metrics = p
        .get_text(&format!("{}/metrics", p.aggregator_internal_url))
        .await;
    for series in [
        r#"aggregator_http_requests_total{route="/v1/stats/apps/{nsapp}",status="404"}"#,
        r#"aggregator_http_requests_total{route="/v1/stats/apps/{nsapp}",status="200"}"#,
        r#"aggregator_http_requests_total{route="data",status="404"}"#,
        r#"aggregator_http_request_duration_seconds_count{route="/v1/stats/apps/{nsapp}"}"#,
    ] {
        assert!(metrics.contains(series), "{series} missing");
    }
    // The count itself is a query; a known-apps check is at most one more per 10 s.
    assert!(
        asked <= 5,
        "200 requests for unknown apps asked {asked} queries"
    );
    p.stop().await;
}
