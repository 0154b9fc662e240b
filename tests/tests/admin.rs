//! The aggregator's admin API: a bearer token, compared in constant time, guards a
//! refresh on demand and the deletion of one installation's raw events.

use serde_json::Value;
use tests::{ADMIN_TOKEN, Pipeline, seeded};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_endpoints_need_the_token_and_do_what_they_say() {
    let p = Pipeline::start().await;
    let (runs, stored) = seeded::post(&p).await;
    let refresh = format!("{}/admin/v1/refresh", p.aggregator_internal_url);

    // No token, a wrong one, another scheme: 401 with a JSON reason, nothing done.
    for auth in [
        None,
        Some("Bearer wrong"),
        Some(&*format!("Basic {ADMIN_TOKEN}")),
    ] {
        let mut r = p.http.post(&refresh);
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), 401, "{auth:?}");
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized");
    }
    let summary = format!("{}/v1/stats/summary?days=30", p.aggregator_url);
    assert_eq!(
        p.get_json(&summary).await["suppressed"],
        true,
        "not refreshed yet"
    );

    // With the token, the statistics are recomputed now; today's runs become public
    // only with the release cut once today has ended.
    let r = p
        .http
        .post(&refresh)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(body["days_computed"].as_u64().unwrap() >= 1, "{body}");
    assert_eq!(
        body["released_through"],
        Value::Null,
        "nothing before today"
    );
    assert_eq!(p.get_json(&summary).await["suppressed"], true);
    p.release().await;
    assert_eq!(p.get_json(&summary).await["runs"], 1000);

    // Deleting one installation removes its raw events and nothing else. docker's runs
    // 0 and 1 share an installation (the second run of the same random_id).
    let id = &runs[0].random_id;
    let delete = |id: String| {
        let url = format!("{}/admin/v1/installations/{id}", p.aggregator_internal_url);
        let http = p.http.clone();
        async move {
            http.delete(url)
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap()
        }
    };
    let before = p
        .count(&format!(
            "SELECT count() FROM events FINAL WHERE random_id = '{id}'"
        ))
        .await
        .unwrap();
    assert!(before >= 4, "{before}");
    let r = delete(id.clone()).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["deleted_events"], before);
    // The consumer confirmed the queue clear of it: the erasure is complete.
    assert_eq!(body["complete"], true, "{body}");
    assert_eq!(
        p.count(&format!(
            "SELECT count() FROM events WHERE random_id = '{id}'"
        ))
        .await,
        Some(0)
    );
    assert_eq!(
        p.count("SELECT count() FROM events FINAL").await,
        Some(stored - before)
    );
    // Asked again, there is nothing left to delete; an id no client can send is a 400
    // (tests/tests/erasure.rs has the rest of an erasure: the queue and the dead letters).
    assert_eq!(
        delete(id.clone()).await.json::<Value>().await.unwrap()["deleted_events"],
        0
    );
    assert_eq!(delete("not%20an%20id".into()).await.status(), 400);
    let r = p
        .http
        .delete(format!(
            "{}/admin/v1/installations/{id}",
            p.aggregator_internal_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // The next refresh no longer counts the two deleted runs.
    p.admin_refresh().await;
    p.release().await;
    assert_eq!(p.get_json(&summary).await["runs"], 998);
    p.stop().await;
}
