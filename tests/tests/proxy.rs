//! The public edge: Caddy with compose/caddy/Caddyfile, as compose runs it, on loopback
//! with its internal CA standing in for ACME. The bash client's requests reach ingest
//! over TLS 1.3; the dashboard and the statistics reach the aggregator; nothing
//! internal is routed.

use std::time::Duration;

use serde_json::Value;
use tests::Pipeline;

async fn status(p: &Pipeline, url: String) -> u16 {
    p.http.get(url).send().await.unwrap().status().as_u16()
}

/// Caddy with compose/caddy/Caddyfile on loopback, its internal CA standing in for ACME.
struct Proxy {
    _child: tests::KillOnDrop,
    port: u16,
    root_ca: std::path::PathBuf,
    dir: std::path::PathBuf,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn proxy(p: &Pipeline) -> Proxy {
    let caddy = std::env::var_os("CADDY").unwrap_or_else(|| "/usr/bin/caddy".into());
    assert!(
        std::path::Path::new(&caddy).exists(),
        "caddy is missing: `make test` installs Debian's caddy"
    );
    let dir = std::env::temp_dir().join(format!("caddy-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let (port, http_port) = (tests::free_port(), tests::free_port());
    let host = |url: &str| url.trim_start_matches("http://").to_owned();
    let child = tests::KillOnDrop(
        std::process::Command::new(caddy)
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(tests::workspace_root().join("compose/caddy/Caddyfile"))
            .env("TELEMETRY_HOST", "localhost")
            .env("HTTPS_PORT", port.to_string())
            .env("HTTP_PORT", http_port.to_string())
            .env("TLS_ISSUER", "internal")
            .env("INGEST_UPSTREAM", host(&p.ingest_url))
            .env("AGGREGATOR_UPSTREAM", host(&p.aggregator_url))
            .env("XDG_DATA_HOME", &dir)
            .env("XDG_CONFIG_HOME", &dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("caddy starts"),
    );
    let root_ca = dir.join("caddy/pki/authorities/local/root.crt");
    let proxy = Proxy {
        _child: child,
        port,
        root_ca,
        dir,
    };
    tests::poll(Duration::from_secs(30), "Caddy over HTTPS", || async {
        let out = curl(&proxy, &["-o", "/dev/null", "-w", "%{http_code}", "/"]);
        (out.as_deref() == Some("200")).then_some(())
    })
    .await;
    proxy
}

/// `curl` against the proxy with the client's own flags (`-sS -m 5`); its standard
/// output, or `None` when curl failed (a refused handshake, say).
fn curl(proxy: &Proxy, args: &[&str]) -> Option<String> {
    let (path, flags) = args.split_last().expect("a path");
    let out = std::process::Command::new("curl")
        .args(["-sS", "-m", "5", "--cacert"])
        .arg(&proxy.root_ca)
        .args(flags)
        .arg(format!("https://localhost:{}{path}", proxy.port))
        .output()
        .expect("curl runs");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clients_post_through_the_tls_proxy_and_nothing_internal_is_routed() {
    let p = Pipeline::start_with(|ingest, _| {
        // The proxy connects from loopback: the one address ingest trusts.
        ingest.ingest.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let proxy = proxy(&p).await;
    let fixtures = tests::workspace_root().join("tests/fixtures/contract");

    // The bash client's request (misc/api.func: curl -sS -m 5 -X POST -H ... -d), and
    // the newer client's with its user agent.
    for (fixture, extra) in [
        ("lxc_installing.json", &[][..]),
        ("v2_failed.json", &["-A", "community-scripts-core/2"][..]),
    ] {
        let body = std::fs::read_to_string(fixtures.join(fixture)).unwrap();
        let mut args = vec![
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            &body,
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ];
        args.extend(extra);
        args.push("/telemetry");
        assert_eq!(curl(&proxy, &args).as_deref(), Some("202"), "{fixture}");
    }
    // A batch, as an importer sends it.
    let batch =
        serde_json::to_string(&[tests::synthetic_event(0), tests::synthetic_event(1)]).unwrap();
    let answer = curl(
        &proxy,
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            &batch,
            "/v1/events",
        ],
    )
    .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&answer).unwrap()["accepted"],
        2
    );
    p.wait_stored(4).await;

    // TLS 1.3 only: a client that offers at most 1.2 is refused at the handshake, the
    // same client allowed 1.3 gets through.
    assert_eq!(curl(&proxy, &["--tls-max", "1.2", "/"]), None);
    assert_eq!(
        curl(
            &proxy,
            &["--tlsv1.3", "-o", "/dev/null", "-w", "%{http_code}", "/"]
        )
        .as_deref(),
        Some("200")
    );

    // The readers' routes are routed; the operators' are not.
    let code = |method: &str, path: &str| {
        curl(
            &proxy,
            &["-X", method, "-o", "/dev/null", "-w", "%{http_code}", path],
        )
        .unwrap_or_default()
    };
    for path in ["/", "/dashboard.js", "/data.js", "/v1/stats/summary"] {
        assert_eq!(code("GET", path), "200", "{path}");
    }
    // The old service's read API and pages, which its readers still ask the host for.
    for (path, want) in [
        ("/api/dashboard?days=7", "200"),
        ("/api/scripts", "200"),
        ("/api/errors", "200"),
        ("/api/exit-codes", "200"),
        ("/api/repo-slugs", "200"),
        ("/api/records", "410"),
        ("/dashboard", "308"),
        ("/error-analysis?repo=ProxmoxVED", "308"),
        ("/script-analysis", "308"),
    ] {
        assert_eq!(code("GET", path), want, "{path}");
    }
    for (method, path) in [
        ("GET", "/metrics"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("POST", "/admin/v1/refresh"),
        (
            "DELETE",
            "/admin/v1/installations/5f0c7d3e-2a47-4b8e-9d6f-000000000000",
        ),
        ("GET", "/openapi.json"),
        ("GET", "/telemetry"),
    ] {
        assert_eq!(code(method, path), "404", "{method} {path}");
    }
    // A page's headers: HSTS from the proxy, the content security policy and the rest
    // from the service behind it.
    let headers = curl(&proxy, &["-s", "-D", "-", "-o", "/dev/null", "/"])
        .unwrap_or_default()
        .to_lowercase();
    for header in [
        "strict-transport-security: max-age=31536000; includesubdomains",
        "content-security-policy: default-src 'none'; script-src 'self';",
        "x-content-type-options: nosniff",
        "x-frame-options: deny",
        "referrer-policy: no-referrer",
    ] {
        assert!(headers.contains(header), "{header} missing in {headers}");
    }
    // The internal listener still serves them, to whoever is inside.
    assert_eq!(
        status(&p, format!("{}/metrics", p.ingest_internal_url)).await,
        200
    );
    drop(proxy);
    p.stop().await;
}
