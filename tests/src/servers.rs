//! Servers and services a test runs as child processes of its own, to stop, kill and
//! start again: NATS, ClickHouse, and the consumer binary.

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::stack::{binary, stack_dir, workspace_root};
use crate::{free_port, poll};

/// How a kind of server is started, reached, probed and stopped.
struct Kind {
    what: &'static str,
    scheme: &'static str,
    /// The command that serves on `port` with its data in `dir`.
    command: fn(port: u16, dir: &Path) -> Command,
    /// How long it may take to answer after a start.
    ready_within: Duration,
    /// The signal of `stop`: how the tests that use it want it to go.
    stop_signal: &'static str,
}

/// One server as a child process, on a port and a data directory of its own that
/// survive a `stop`, so that `resume` brings the same server back.
pub struct ChildServer {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
    kind: &'static Kind,
}

impl ChildServer {
    async fn start(kind: &'static Kind) -> Self {
        Self::start_prepared(kind, |_| {}).await
    }

    /// Start after `prepare` has seen the data directory's path (and may write beside it).
    async fn start_prepared(kind: &'static Kind, prepare: impl FnOnce(&Path)) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "{}-test-{}",
            kind.scheme,
            uuid::Uuid::now_v7().simple()
        ));
        prepare(&dir);
        let mut server = Self {
            port: free_port(),
            dir,
            child: None,
            kind,
        };
        server.resume().await;
        server
    }

    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.kind.scheme, self.port)
    }

    /// Start (again) on the same port and data, and wait until it answers.
    pub async fn resume(&mut self) {
        let child = (self.kind.command)(self.port, &self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "starting the test {} ({e}): run `make stack` once to install it",
                    self.kind.what
                )
            });
        self.child = Some(child);
        let url = self.url();
        let scheme = self.kind.scheme;
        poll(self.kind.ready_within, self.kind.what, || async {
            let ready = if scheme == "nats" {
                crate::logins::nats_as(
                    &topology::stream::NatsSettings {
                        url: url.clone(),
                        ..Default::default()
                    },
                    "admin",
                )
                .connect_options("telemetry-test")
                .connect(url.as_str())
                .await
                .is_ok()
            } else {
                reqwest::get(format!("{url}/ping"))
                    .await
                    .is_ok_and(|r| r.status().is_success())
            };
            ready.then_some(())
        })
        .await;
    }

    /// Stop the server with its kind's signal, and wait until it has gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args([self.kind.stop_signal, &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(self.dir.with_extension("conf"));
    }
}

static NATS: Kind = Kind {
    what: "NATS server",
    scheme: "nats",
    // Compose's users and permissions, as the local stack runs them (stack/nats.conf).
    command: |port, dir| {
        let mut command = Command::new(NatsServer::binary());
        // A configuration of the test's own beside the data (`start_with`), or the stack's.
        let own = dir.with_extension("conf");
        let config = if own.exists() {
            own
        } else {
            workspace_root().join("stack/nats.conf")
        };
        command
            .arg("-c")
            .arg(config)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir);
        for user in ["admin", "ingest", "consumer", "aggregator"] {
            command.env(
                format!("NATS_{}_PASSWORD", user.to_uppercase()),
                crate::logins::dev_password(user),
            );
        }
        command
    },
    ready_within: Duration::from_secs(20),
    // The harshest way it can go: the tests of an outage want no goodbye.
    stop_signal: "-KILL",
};

static CLICKHOUSE: Kind = Kind {
    what: "ClickHouse",
    scheme: "http",
    // The production users and grants with the local stack's development passwords and
    // networks, as stack/stack.sh starts it.
    command: |port, dir| {
        let mut command = Command::new(stack_dir().join("venv/bin/python"));
        command
            .arg(workspace_root().join("stack/clickhouse_server.py"))
            .arg("--dir")
            .arg(dir)
            .args(["--port", &port.to_string()]);
        for role in [
            "migrator",
            "consumer",
            "aggregator",
            "analyst",
            "dashboard",
            "grafana",
        ] {
            command.env(
                format!("CLICKHOUSE_{}_PASSWORD", role.to_uppercase()),
                crate::logins::dev_password(role),
            );
        }
        command
            .env("CLICKHOUSE_SERVICE_NETWORK", "127.0.0.1/32")
            .env("ANALYST_NETWORKS", "127.0.0.0/8");
        command
    },
    ready_within: Duration::from_secs(60),
    // As an operator stops it.
    stop_signal: "-TERM",
};

/// A NATS server with JetStream of a test's own, with compose's users and permissions:
/// every pipeline's (and any test that stops and starts it). It uses the `nats-server`
/// that `make stack` installed (or `NATS_SERVER_BIN`); `stop` is a SIGKILL.
pub struct NatsServer(ChildServer);

impl NatsServer {
    pub fn binary() -> PathBuf {
        if let Some(bin) = std::env::var_os("NATS_SERVER_BIN") {
            return bin.into();
        }
        stack_dir().join("venv/bin/nats-server")
    }

    pub async fn start() -> Self {
        Self(ChildServer::start(&NATS).await)
    }

    /// A server with compose's users and permissions and `extra` lines after them (a
    /// smaller `max_payload`, say).
    pub async fn start_with(extra: &str) -> Self {
        Self(
            ChildServer::start_prepared(&NATS, |dir| {
                // nats-server includes by relative path only: the users and permissions
                // are copied in, as they are.
                let auth = std::fs::read_to_string(workspace_root().join("compose/nats/auth.conf"))
                    .expect("compose/nats/auth.conf");
                std::fs::write(dir.with_extension("conf"), format!("{auth}\n{extra}\n"))
                    .expect("the test's NATS configuration");
            })
            .await,
        )
    }
}

/// A ClickHouse of a test's own (the local stack's chdb launcher on another port and
/// data directory), for tests that stop and start it; `stop` is a SIGTERM.
pub struct ClickHouseServer(ChildServer);

impl ClickHouseServer {
    pub async fn start() -> Self {
        Self(ChildServer::start(&CLICKHOUSE).await)
    }
}

macro_rules! child_server {
    ($name:ident) => {
        impl Deref for $name {
            type Target = ChildServer;
            fn deref(&self) -> &ChildServer {
                &self.0
            }
        }
        impl DerefMut for $name {
            fn deref_mut(&mut self) -> &mut ChildServer {
                &mut self.0
            }
        }
    };
}
child_server!(NatsServer);
child_server!(ClickHouseServer);

/// A child process killed (and reaped) when dropped, whether the test passed or not.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A consumer running as a process of its own, so that a test can SIGKILL it.
pub struct ConsumerProcess {
    child: std::process::Child,
    pub metrics_url: String,
}

impl ConsumerProcess {
    pub fn spawn(settings: &consumer::Settings) -> Self {
        let port = free_port();
        let mut settings = settings.clone();
        settings.consumer.internal_listen = format!("127.0.0.1:{port}");
        settings.log.level = "warn".into();
        let child = std::process::Command::new(binary("consumer"))
            .envs(runtime::settings::to_env(&settings))
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("the consumer starts");
        Self {
            child,
            metrics_url: format!("http://127.0.0.1:{port}/metrics"),
        }
    }

    /// SIGTERM, as an orchestrator stops it; returns how long it took to exit, and
    /// whether it exited cleanly.
    pub fn terminate(&mut self) -> (Duration, bool) {
        let started = Instant::now();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let clean = self.child.wait().is_ok_and(|s| s.success());
        (started.elapsed(), clean)
    }

    /// SIGKILL: no flush, no ack, no goodbye.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ConsumerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
