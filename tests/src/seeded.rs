//! A designed dataset of 1 000 runs with known answers, put through ingest and the
//! consumer, for the statistics API, the export and the dashboard tests.
//!
//! Each app has a designed number of runs, failures, aborts and runs that never send a
//! terminal status. On top of that come the things real clients do: a second run of the
//! same installation (same random_id, new execution_id), runs with no execution_id,
//! identical retries (deduplicated by ingest), a later second terminal status (ignored:
//! a run's outcome is its first), personal data in error texts (never published), and
//! an app and an OS with fewer than k runs (never published).
//!
//! Beside the 1 000 production runs come runs from the two other sources
//! ([`OTHER_SOURCES`]): the development repository, which fails far more often, and
//! forks, among them one installation that ran its app six times (six runs, one
//! installation: never published, whatever the repository filter).

use serde_json::{Value, json};

use crate::Pipeline;

/// (app, runs, failed, aborted, without a terminal status); the rest succeed.
pub const APPS: &[(&str, usize, usize, usize, usize)] = &[
    ("docker", 300, 15, 3, 2),
    ("homeassistant", 200, 40, 2, 3),
    ("jellyfin", 150, 6, 1, 1),
    ("nextcloud", 100, 30, 5, 0),
    ("pihole", 80, 0, 0, 0),
    ("vaultwarden", 60, 12, 0, 1),
    ("gitea", 50, 5, 5, 0),
    ("adguard", 30, 15, 0, 0),
    ("immich", 20, 10, 1, 1),
    ("plex", 6, 3, 0, 0),
    // Four runs: below k = 5, so never published.
    ("wireguard", 4, 0, 0, 1),
];

/// Exit codes of failed runs, in turn, and the categories the server derives for them.
pub const FAILURES: [(u8, &str); 4] = [
    (100, "dependency"),
    (127, "dependency"),
    (28, "timeout"),
    (6, "network"),
];

/// Runs outside production: (repo_source as the client sends it, app, runs, failed,
/// installations). The runs of an app are spread over its installations in turn.
pub const OTHER_SOURCES: &[(&str, &str, usize, usize, usize)] = &[
    ("ProxmoxVED", "docker", 40, 24, 40),
    ("ProxmoxVED", "homeassistant", 20, 14, 20),
    // An app only the development repository has yet.
    ("ProxmoxVED", "devtool", 10, 6, 10),
    ("external", "pihole", 15, 3, 15),
    // One installation, six runs: fewer than k installations.
    ("external", "solitary", 6, 0, 1),
];

/// The repository filter's name for a `repo_source`.
pub fn repo_of(source: &str) -> &'static str {
    match source {
        "ProxmoxVE" => "production",
        "ProxmoxVED" => "development",
        _ => "external",
    }
}

#[derive(Debug, Clone)]
pub struct Run {
    pub app: &'static str,
    /// `repo_source` as sent, and the repository filter's name for it.
    pub repo_source: &'static str,
    pub repo: &'static str,
    /// Index of the run within its app.
    pub j: usize,
    pub random_id: String,
    pub execution_id: Option<String>,
    pub kind: &'static str,
    pub os: String,
    pub os_type: &'static str,
    pub os_version: &'static str,
    pub pve: &'static str,
    pub cores: u32,
    pub ram: u32,
    pub disk: u32,
    /// success, failed, aborted, or in_progress (no terminal status).
    pub outcome: &'static str,
    pub exit_code: Option<u8>,
    pub category: &'static str,
    pub duration: Option<u32>,
}

impl Run {
    pub fn cores_bucket(&self) -> &'static str {
        match self.cores {
            1 => "1",
            2 => "2",
            3..=4 => "3-4",
            _ => "5-8",
        }
    }
    pub fn ram_bucket(&self) -> &'static str {
        if self.ram <= 2048 { "<=2GiB" } else { "<=4GiB" }
    }
    pub fn disk_bucket(&self) -> &'static str {
        if self.disk <= 8 { "<=8GB" } else { "<=32GB" }
    }
}

/// How a run ends: its outcome, exit code, error category and install duration.
type Ending = (&'static str, Option<u8>, &'static str, Option<u32>);

/// The OS of the `g`-th run of the design.
fn os_of(g: usize) -> (&'static str, &'static str) {
    match g % 10 {
        0..=5 => ("debian", "12"),
        6 | 7 => ("debian", "13"),
        8 => ("ubuntu", "24.04"),
        _ => ("alpine", "3.22"),
    }
}

/// The `g`-th run of the design, the `j`-th of `app`, from `installation`: its PVE
/// version and resources follow from `g`.
struct Designed {
    g: usize,
    app: &'static str,
    repo_source: &'static str,
    j: usize,
    installation: usize,
    execution_id: Option<String>,
    kind: &'static str,
    os: (&'static str, &'static str),
    ending: Ending,
}

impl Designed {
    fn run(self) -> Run {
        let Designed {
            g,
            app,
            repo_source,
            j,
            installation,
            execution_id,
            kind,
            os,
            ending,
        } = self;
        let (outcome, exit_code, category, duration) = ending;
        Run {
            app,
            repo_source,
            repo: repo_of(repo_source),
            j,
            random_id: format!("00000000-0000-4000-8000-{installation:012}"),
            execution_id,
            kind,
            os: format!("{} {}", os.0, os.1),
            os_type: os.0,
            os_version: os.1,
            pve: ["8.4", "9.0", "9.1"][g % 3],
            cores: [1, 2, 4, 8][g % 4],
            ram: [2048, 4096][g % 2],
            disk: if g.is_multiple_of(5) { 32 } else { 8 },
            outcome,
            exit_code,
            category,
            duration,
        }
    }
}

/// The 1 000 production runs, then the runs of the other sources.
pub fn runs() -> Vec<Run> {
    let mut runs = Vec::new();
    let mut g = 0usize;
    for &(app, n, failed, aborted, open) in APPS {
        for j in 0..n {
            let ending: Ending = if j < failed {
                let (code, category) = FAILURES[j % 4];
                ("failed", Some(code), category, None)
            } else if j < failed + aborted {
                ("aborted", Some(130), "user_aborted", None)
            } else if j < failed + aborted + open {
                ("in_progress", None, "", None)
            } else {
                ("success", Some(0), "", Some(100 + (j % 100) as u32))
            };
            // The second run of an installation: docker's odd runs reuse the random_id
            // of the run before them.
            let installation = if app == "docker" && j % 2 == 1 {
                g - 1
            } else {
                g
            };
            runs.push(
                Designed {
                    g,
                    app,
                    repo_source: "ProxmoxVE",
                    j,
                    installation,
                    // pihole's clients are old ones that send no execution_id.
                    execution_id: (app != "pihole")
                        .then(|| format!("00000000-0000-4000-9000-{g:012}")),
                    kind: if app == "homeassistant" { "vm" } else { "lxc" },
                    os: if app == "wireguard" {
                        ("fedora", "42")
                    } else {
                        os_of(g)
                    },
                    ending,
                }
                .run(),
            );
            g += 1;
        }
    }
    let mut installation = g;
    for &(source, app, n, failed, installations) in OTHER_SOURCES {
        for j in 0..n {
            let ending: Ending = if j < failed {
                let (code, category) = FAILURES[j % 4];
                ("failed", Some(code), category, None)
            } else {
                ("success", Some(0), "", Some(200 + (j % 50) as u32))
            };
            runs.push(
                Designed {
                    g,
                    app,
                    repo_source: source,
                    j,
                    installation: installation + j % installations,
                    execution_id: Some(format!("00000000-0000-4000-9000-{g:012}")),
                    kind: "lxc",
                    os: os_of(g),
                    ending,
                }
                .run(),
            );
            g += 1;
        }
        installation += installations;
    }
    runs
}

/// How many events [`post`] stores for `runs`: an installing and a configuring or
/// validation event per run, a terminal status per finished run, and the second
/// terminal statuses of production's docker and jellyfin.
pub fn events_stored(runs: &[Run]) -> u64 {
    let finished = runs.iter().filter(|r| r.outcome != "in_progress").count();
    (2 * runs.len() + finished + second_terminals(runs).len()) as u64
}

/// Second terminal statuses, ignored: production docker's first failures report a
/// success after all, and jellyfin's successes report again with another duration.
fn second_terminals(runs: &[Run]) -> Vec<Value> {
    runs.iter()
        .filter(|r| r.repo == "production")
        .filter_map(|r| match (r.app, r.outcome) {
            ("docker", "failed") if r.j < 5 => Some(terminal(r, "success", Some(300))),
            ("jellyfin", "success") => Some(terminal(r, "success", r.duration.map(|d| d + 1))),
            _ => None,
        })
        .collect()
}

fn base(run: &Run, status: &str) -> Value {
    let mut e = json!({
        "random_id": run.random_id,
        "type": run.kind,
        "nsapp": run.app,
        "status": status,
    });
    if let Some(x) = &run.execution_id {
        e["execution_id"] = json!(x);
    }
    e
}

fn installing(run: &Run) -> Value {
    let mut e = base(run, "installing");
    for (k, v) in [
        ("os_type", json!(run.os_type)),
        ("os_version", json!(run.os_version)),
        ("pve_version", json!(run.pve)),
        ("core_count", json!(run.cores)),
        ("ram_size", json!(run.ram)),
        ("disk_size", json!(run.disk)),
        (
            "cpu_vendor",
            json!(if run.j.is_multiple_of(3) {
                "amd"
            } else {
                "intel"
            }),
        ),
        (
            "cpu_model",
            json!("Intel(R) Core(TM) i5-8500T on host-of-alice"),
        ),
        ("method", json!("default")),
        ("platform", json!("pve")),
        ("repo_source", json!(run.repo_source)),
        ("arch", json!("amd64")),
    ] {
        e[k] = v;
    }
    if run.kind == "lxc" {
        e["ct_type"] = json!(1);
    }
    e
}

fn terminal(run: &Run, status: &str, duration: Option<u32>) -> Value {
    let mut e = base(run, status);
    e["exit_code"] = json!(run.exit_code);
    if let Some(d) = duration {
        e["install_duration"] = json!(d);
    }
    if status == "failed" {
        e["error"] = json!(format!(
            "exit_code={} | step failed at line 42 for alice@example.org on 192.168.1.{}",
            run.exit_code.unwrap_or(1),
            run.j % 250
        ));
        // What the v2 client adds: the command that failed, whose version differs by run.
        e["failed_command"] = json!(format!(
            "apt-get install -y {}-deps={}.{}",
            run.app,
            run.j % 3,
            run.j % 7
        ));
    }
    e
}

/// Post `events` through `POST /v1/events`, 500 a request; every one must be accepted
/// or found a duplicate. Returns (accepted, duplicates).
pub async fn post_batch(p: &Pipeline, events: &[Value]) -> (u64, u64) {
    let mut accepted = 0;
    let mut duplicates = 0;
    for chunk in events.chunks(500) {
        let r = p
            .http
            .post(format!("{}/v1/events", p.ingest_url))
            .json(chunk)
            .send()
            .await
            .expect("ingest answers");
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.expect("JSON");
        assert!(
            body["rejected"].as_array().is_some_and(Vec::is_empty),
            "{body}"
        );
        accepted += body["accepted"].as_u64().expect("accepted");
        duplicates += body["duplicates"].as_u64().expect("duplicates");
    }
    (accepted, duplicates)
}

/// Post the dataset through ingest, in the order a day of real clients would, and wait
/// until the consumer has stored it. Returns the runs and how many events were stored.
pub async fn post(p: &Pipeline) -> (Vec<Run>, u64) {
    let runs = runs();
    let mut stored = 0;
    // Each phase is its own set of requests, so that a run's events are received in
    // order: installing, then configuring, then the terminal status, then repeats.
    let phases: [Vec<Value>; 4] = [
        runs.iter().map(installing).collect(),
        runs.iter()
            .map(|r| {
                base(
                    r,
                    if r.j % 2 == 0 {
                        "configuring"
                    } else {
                        "validation"
                    },
                )
            })
            .collect(),
        runs.iter()
            .filter(|r| r.outcome != "in_progress")
            .map(|r| terminal(r, r.outcome, r.duration))
            .collect(),
        second_terminals(&runs),
    ];
    for phase in &phases {
        let (accepted, duplicates) = post_batch(p, phase).await;
        assert_eq!(duplicates, 0);
        stored += accepted;
    }
    // Identical retries, as a client on a flaky line sends them: stored once. Sent
    // together, they are grouped into messages (group commit) that JetStream cannot see
    // into, and collapse in the table by their identity; `wait_stored` counts them once.
    let retries: Vec<Value> = runs
        .iter()
        .filter(|r| r.app == "nextcloud" && r.repo == "production")
        .map(installing)
        .collect();
    let (accepted, _) = post_batch(p, &retries).await;
    assert_eq!(accepted, 100);
    // Sent alone, a retry is dropped by JetStream at once: the first went out in a
    // group, which carries no message id, so the queue knows it from the second on.
    for attempt in 0..3 {
        let r = p.post(&installing(&runs[0]).to_string()).await;
        assert_eq!(r.status(), 202);
        let body: Value = r.json().await.expect("JSON");
        if attempt > 0 {
            assert_eq!(body["duplicate"], true);
        }
    }
    p.wait_stored(stored).await;
    (runs, stored)
}
