//! Where the local stack is (`make stack`), and where this workspace's binaries are.

/// The local stack's ClickHouse HTTP interface.
pub fn clickhouse_url() -> String {
    std::env::var("TELEMETRY_TEST_CLICKHOUSE_URL").unwrap_or_else(|_| {
        format!(
            "http://127.0.0.1:{}",
            std::env::var("CLICKHOUSE_HTTP_PORT").unwrap_or_else(|_| "8123".into())
        )
    })
}

pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where `make stack` installed NATS and ClickHouse (`STACK_DIR`, or `.stack/`).
pub(crate) fn stack_dir() -> std::path::PathBuf {
    std::env::var_os("STACK_DIR")
        .map_or_else(|| workspace_root().join(".stack"), std::path::PathBuf::from)
}

/// A port that is free now and that no other caller in this process gets.
///
/// A port asked of the kernel (`:0`) and closed again comes from the ephemeral range,
/// where the kernel may hand it to the next `:0` bind, a listener of another test of the
/// same binary, before the service it was meant for binds it (seen as AddrInUse). So the
/// ports come from below the ephemeral range (32768 and up on Linux), where the kernel
/// never allocates, each one once per process, starting at a point of the process's own.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        (std::process::id() * 97) % SPAN,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..SPAN {
        let port = FIRST + NEXT.fetch_add(1, Ordering::Relaxed) % SPAN;
        let port = u16::try_from(port).expect("below 32768");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {FIRST} and {}", FIRST + SPAN)
}

/// A binary of this workspace, built by `cargo build --bins` (which `make test` runs).
pub fn binary(name: &str) -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), std::path::PathBuf::from);
    let path = target.join("debug").join(name);
    assert!(
        path.exists(),
        "{path:?} is missing: build it with `cargo build --workspace --bins` (make test does)"
    );
    path
}

/// The cluster of `make cluster` (stack/cluster.sh): its name in `remote_servers`.
pub const CLUSTER: &str = "telemetry_local";

/// The three NATS servers of the local cluster, as one `nats.url`.
pub fn cluster_nats_url() -> String {
    (4232..=4234)
        .map(|port| format!("nats://127.0.0.1:{port}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The HTTP interfaces of the local cluster's two ClickHouse shards.
pub fn cluster_shard_urls() -> [String; 2] {
    [8133, 8134].map(|port| format!("http://127.0.0.1:{port}"))
}

/// Run `stack/cluster.sh` with `args` (`up`, `kill n2`, `stop s1`), and insist it works.
pub fn cluster(args: &[&str]) {
    let status = std::process::Command::new(workspace_root().join("stack/cluster.sh"))
        .args(args)
        .status()
        .expect("stack/cluster.sh runs");
    assert!(
        status.success(),
        "stack/cluster.sh {args:?} failed: run `make cluster`"
    );
}
