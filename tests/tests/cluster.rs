//! The pipeline on the local cluster of `make cluster`, unchanged: ingest and two
//! consumers on a three-node JetStream cluster with three replicas, the events sharded
//! over two ClickHouse servers through `events_all`, the aggregator reading through it.
//! The stream leader is SIGKILLed under load: every event answered 202 is stored exactly
//! once, and the statistics equal those of one node fed the same events.

use std::time::{Duration, Instant};

use tests::{CLUSTER, Pipeline, cluster, cluster_nats_url, cluster_shard_urls, load, poll};

const EVENTS: usize = 10_000;

/// The local cluster is one, with the production stream names: one test at a time uses
/// it, across processes too (`make bench` measures on it).
struct ClusterLock(#[allow(dead_code)] std::fs::File);

fn lock_the_cluster() -> ClusterLock {
    let path = tests::workspace_root().join(".stack/cluster-tests.lock");
    let file = std::fs::File::create(path).expect("the cluster's lock file");
    file.lock().expect("the cluster to myself");
    ClusterLock(file)
}

/// The pipeline on the cluster, every service logged in as itself, from empty streams
/// and an empty slot database on both shards.
async fn on_the_cluster() -> (Pipeline, ClusterLock) {
    let lock = lock_the_cluster();
    cluster(&["up"]);
    let [first, second] = cluster_shard_urls();
    // What an earlier run left: the streams (production names), the slot's database on
    // the second shard (the pipeline resets the first).
    let admin = async_nats::jetstream::new(tests::nats_admin(&cluster_nats_url()).await);
    let names = topology::stream::NatsSettings::default();
    for stream in [&names.stream, &names.dlq_stream, &names.erasure_stream] {
        let _ = admin.delete_stream(stream).await;
    }
    let p = Pipeline::start_without_consumer(|ingest, consumer| {
        // The load's retries come from one address.
        ingest.ingest.rate_limit_per_minute = 0;
        for nats in [&mut ingest.nats, &mut consumer.nats] {
            nats.url = cluster_nats_url();
            nats.replicas = 3;
        }
        consumer.clickhouse.url = first.clone();
        consumer.clickhouse.cluster = CLUSTER.into();
        // No coordination service here: each shard is migrated on its own, and an
        // erasure deletes on each shard in turn.
        consumer.clickhouse.on_cluster = false;
        consumer.clickhouse.shard_urls = vec![first.clone(), second.clone()];
    })
    .await;
    let mut other = p.migrator();
    other.clickhouse.url = second.clone();
    tests::clickhouse_admin(&other.clickhouse)
        .server_client()
        .query(&format!(
            "DROP DATABASE IF EXISTS `{}` SYNC",
            other.clickhouse.database
        ))
        .execute()
        .await
        .unwrap();
    consumer::migrate(&other)
        .await
        .expect("the second shard migrates");
    (p, lock)
}

/// The stream's leader, by server name.
async fn leader(p: &Pipeline) -> String {
    poll(Duration::from_secs(30), "a stream leader", || async {
        let mut stream = p.js.get_stream(&p.consumer.nats.stream).await.ok()?;
        stream.info().await.ok()?.cluster.as_ref()?.leader.clone()
    })
    .await
}

async fn stored(p: &Pipeline, what: &str) -> u64 {
    p.count(&format!("SELECT {what} FROM events_all FINAL"))
        .await
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_kill_on_the_cluster_loses_and_doubles_nothing_and_the_numbers_match_one_node() {
    let (mut p, _cluster) = on_the_cluster().await;
    p.add_consumer().await;
    p.add_consumer().await;
    let first_leader = leader(&p).await;
    // Half the events, then the other half with the leader SIGKILLed as it starts: its
    // publishes, pulls and acks are in flight when the leader goes.
    let half = EVENTS / 2;
    let before = load(&p, 0, half).await;
    let (after, ()) = tokio::join!(load(&p, half, EVENTS - half), async {
        cluster(&["kill", &first_leader]);
    });
    let accepted = before + after;
    assert_eq!(
        accepted, EVENTS as u64,
        "every event answered 202 in the end"
    );
    poll(
        Duration::from_secs(120),
        "every accepted event stored",
        || async { (stored(&p, "count()").await >= accepted).then_some(()) },
    )
    .await;
    let new_leader = leader(&p).await;
    assert_ne!(new_leader, first_leader);
    eprintln!("leader {first_leader} SIGKILLed under load; {new_leader} leads now");
    cluster(&["up"]);
    // A row is visible before its ack reaches the new leader, and an ack lost with the
    // old leader comes back as a redelivery after the ack wait: the queue empties in
    // time, and only then are the counts final.
    poll(Duration::from_secs(120), "the queue drained", || async {
        (p.queued().await == 0).then_some(())
    })
    .await;
    // Exactly once: each event once, and nothing that was not accepted.
    assert_eq!(stored(&p, "count()").await, accepted);
    assert_eq!(stored(&p, "uniqExact(event_id)").await, accepted);

    // Both shards hold events, and every run lies on one of them.
    let [first, second] = cluster_shard_urls();
    let mut runs_per_shard = 0;
    for shard in [&first, &second] {
        let mut on_shard = p.consumer.clone();
        on_shard.clickhouse.url = shard.clone();
        let client = on_shard.clickhouse.client();
        let events: u64 = client
            .query("SELECT count() FROM events FINAL")
            .fetch_one()
            .await
            .unwrap();
        assert!(events > 0, "{shard} holds no events");
        runs_per_shard += client
            .query("SELECT uniqExact(coalesce(execution_id, random_id)) FROM events")
            .fetch_one::<u64>()
            .await
            .unwrap();
    }
    let runs = stored(&p, "uniqExact(coalesce(execution_id, random_id))").await;
    assert_eq!(runs_per_shard, runs, "a run split over two shards");

    // The statistics through `events_all` equal one node's over the same events.
    let single = Pipeline::start_with(|ingest, _| ingest.ingest.rate_limit_per_minute = 0).await;
    assert_eq!(load(&single, 0, EVENTS).await, EVENTS as u64);
    single.wait_stored(EVENTS as u64).await;
    p.refresh().await;
    single.refresh().await;
    let outcomes = format!(
        "SELECT outcome, sum(runs) AS runs FROM stats_groups
         WHERE {} AND dimension = 'all' AND nsapp = '' GROUP BY outcome ORDER BY outcome",
        aggregator::materialize::CURRENT
    );
    let totals = p.rows(&outcomes).await;
    assert!(!totals.is_empty());
    assert_eq!(totals, single.rows(&outcomes).await, "runs by outcome");
    for dimension in ["app", "type", "os", "pve", "method", "cores", "ram"] {
        let (on_cluster, on_one) = (p.rollup(dimension).await, single.rollup(dimension).await);
        assert!(!on_one.is_empty(), "{dimension}: no rows");
        assert_eq!(on_cluster, on_one, "{dimension}");
    }
    single.stop().await;

    erase_on_the_cluster(&p).await;
    p.stop().await;
}

/// An erasure on the cluster, as deployed: one installation from each shard, with a
/// dead letter, is gone from both shards and from the replicated streams; the rest stays.
async fn erase_on_the_cluster(p: &Pipeline) {
    let before = stored(p, "count()").await;
    let mut erased = Vec::new();
    for shard in cluster_shard_urls() {
        let mut on_shard = p.consumer.clone();
        on_shard.clickhouse.url = shard;
        let (id, rows): (String, u64) = on_shard
            .clickhouse
            .client()
            .query("SELECT toString(random_id), count() FROM events FINAL GROUP BY random_id ORDER BY random_id LIMIT 1")
            .fetch_one()
            .await
            .unwrap();
        erased.push((uuid::Uuid::parse_str(&id).unwrap(), rows));
    }
    let consumer = p.consumer.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let purging = tokio::spawn(async move {
        consumer::carry_out_erasures(&consumer, async {
            let _ = stopped.await;
        })
        .await
    });
    for (id, rows) in &erased {
        // A dead letter of its own, in the replicated dead-letter stream.
        p.js.publish(
            p.consumer.nats.dead_letter_subject(Some(*id)),
            "dead".into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
        let body: serde_json::Value = p
            .http
            .delete(format!(
                "{}/admin/v1/installations/{id}",
                p.aggregator_internal_url
            ))
            .bearer_auth(tests::ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["deleted_events"], *rows, "{body}");
        assert_eq!(body["purged_dead_letters"], 1, "{body}");
        assert_eq!(body["complete"], true, "{body}");
        assert_eq!(
            stored(p, &format!("countIf(random_id = '{id}')")).await,
            0,
            "{id} is gone from both shards"
        );
    }
    let _ = stop.send(());
    purging.await.unwrap().unwrap();
    let gone: u64 = erased.iter().map(|(_, rows)| rows).sum();
    assert_eq!(stored(p, "count()").await, before - gone);
}

/// The durable consumer's messages delivered and not yet acked.
async fn unacked(p: &Pipeline) -> u64 {
    let stream = p.js.get_stream(&p.consumer.nats.stream).await.unwrap();
    let mut durable = stream
        .get_consumer::<async_nats::jetstream::consumer::pull::Config>(&p.consumer.consumer.durable)
        .await
        .unwrap();
    durable.info().await.unwrap().num_ack_pending as u64
}

/// The longer faults, in `make chaos`: a NATS follower down for 20 s, then a ClickHouse
/// shard down for 20 s, under a load that does not stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "make chaos: two 20 s outages under load"]
async fn a_follower_and_a_shard_down_for_20_s_each_lose_and_double_nothing() {
    const OUTAGE: Duration = Duration::from_secs(20);
    let (mut p, _cluster) = on_the_cluster().await;
    p.add_consumer().await;
    p.add_consumer().await;
    let done = std::sync::atomic::AtomicBool::new(false);
    let loading = async {
        let (mut offset, mut accepted) = (0, 0);
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            accepted += load(&p, offset, 500).await;
            offset += 500;
        }
        accepted
    };
    let faults = async {
        poll(Duration::from_secs(60), "1 000 events stored", || async {
            (stored(&p, "count()").await >= 1_000).then_some(())
        })
        .await;
        let leader = leader(&p).await;
        let follower = ["n1", "n2", "n3"]
            .into_iter()
            .find(|n| *n != leader)
            .unwrap();
        cluster(&["stop", follower]);
        // The follower stays down for OUTAGE, and until events were stored without it.
        let (down, at_stop) = (Instant::now(), stored(&p, "count()").await);
        poll(OUTAGE * 3, "progress without the follower", || async {
            (down.elapsed() >= OUTAGE && stored(&p, "count()").await > at_stop).then_some(())
        })
        .await;
        cluster(&["up"]);
        let before = stored(&p, "count()").await;
        cluster(&["stop", "s2"]);
        // Inserts through events_all fail while a shard is away: the consumers hold
        // their batches unacked and retry, rather than ack what was not stored. The
        // shard stays down for OUTAGE, and until a batch is seen held.
        let down = Instant::now();
        let held = poll(OUTAGE * 3, "batches held while a shard is down", || async {
            if down.elapsed() < OUTAGE {
                return None;
            }
            let held = unacked(&p).await;
            (held > 0).then_some(held)
        })
        .await;
        cluster(&["up"]);
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        eprintln!(
            "follower {follower} stopped for {OUTAGE:?}; shard s2 stopped for {OUTAGE:?} \
             with {before} stored before it and {held} messages held unacked at its end"
        );
        held
    };
    let (accepted, held) = tokio::join!(loading, faults);
    assert!(held > 0, "nothing was held while a shard was down");
    poll(
        Duration::from_secs(180),
        "every accepted event stored",
        || async { (stored(&p, "count()").await >= accepted).then_some(()) },
    )
    .await;
    eprintln!("{accepted} events accepted");
    assert_eq!(stored(&p, "count()").await, accepted);
    assert_eq!(stored(&p, "uniqExact(event_id)").await, accepted);
    p.stop().await;
}

/// Right after the whole NATS cluster restarts, its nodes holding three-replica streams
/// and still electing their leaders, `consumer migrate` (the binary, as compose runs it,
/// the admin for NATS and the migrator for ClickHouse) succeeds without a manual retry:
/// ten starts of ten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_migrate_succeeds_right_after_a_cluster_restart() {
    let (p, _cluster) = on_the_cluster().await;
    let migrator = runtime::settings::to_env(&p.migrator());
    let mut took = Vec::new();
    for start in 1..=10 {
        for node in ["n1", "n2", "n3"] {
            cluster(&["kill", node]);
        }
        cluster(&["up"]);
        let started = Instant::now();
        let status = std::process::Command::new(tests::binary("consumer"))
            .args(["migrate", "--deadline", "2m"])
            .envs(migrator.clone())
            .env("TELEMETRY__LOG__LEVEL", "warn")
            .status()
            .expect("consumer migrate starts");
        assert!(status.success(), "consumer migrate failed at start {start}");
        took.push(started.elapsed());
    }
    eprintln!("consumer migrate after each of 10 cluster restarts took {took:?}");
    p.stop().await;
}
