//! The HTTP server loop every service uses, in place of `axum::serve`.
//!
//! `axum::serve` gives hyper no timer, so hyper cannot time out a client that sends its
//! request headers one byte a minute (slow-loris): such connections would pile up
//! outside every request-level limit. Here hyper gets a timer and a header read
//! timeout. The peer address is put into the request as axum's `ConnectInfo`, for the
//! rate limiter; nothing else reads it.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// How long a client may take to send its request headers, unless a service sets its own.
/// It also ends a keep-alive connection that sends nothing more for this long.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long in-flight requests may take to finish once shutdown begins.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Connections a server holds at once, unless a service sets its own.
pub const MAX_CONNECTIONS: usize = 1024;
/// Connections the kernel completes and queues for a server that holds all it may (the
/// `backlog` of `listen(2)`; Linux caps it at `net.core.somaxconn`, 4096 since 5.4). A
/// queued connection takes none of the server's memory (what its client sent waits in
/// the kernel's socket buffers); its client waits until a slot frees.
pub const LISTEN_BACKLOG: u32 = 4096;

/// What a server allows its connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// See [`HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
    /// Connections held at once. Each held connection keeps hyper's read and write
    /// buffers whatever it does (by `bench connections`, about 10 KB of resident memory
    /// before its first request and 18 KB after it), so this bounds the memory that
    /// connections take. Past it, new connections wait in the kernel's queue
    /// ([`LISTEN_BACKLOG`]), where what they send is the kernel's memory, not the
    /// server's; and while every slot is taken, answers close their connection rather
    /// than keep it alive. A connection that went idle while slots were free keeps its
    /// slot until the header read timeout closes it.
    pub max_connections: usize,
    /// The service whose metrics count the connections: `{service}_http_connections_held`
    /// (a gauge) and `{service}_http_connections_closed_at_limit_total` (answers that
    /// closed their connection because every slot was held), so that an operator sees a
    /// server at its limit. `None` for the operators' own listeners.
    pub metrics: Option<&'static str>,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: HEADER_READ_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            metrics: None,
        }
    }
}

/// Serve `app` on `listener` until `shutdown` resolves; then stop accepting, let
/// in-flight requests finish (up to [`SHUTDOWN_GRACE`]) and return.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    serve_with(listener, app, shutdown, ConnectionLimits::default()).await
}

/// [`serve`] with connection limits of the caller's choice.
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send,
    limits: ConnectionLimits,
) -> std::io::Result<()> {
    // HTTP/1.1 only: the clients (curl) and the TLS proxy speak it, and the builder that
    // also detects HTTP/2 cost about 5 MB more for 1 024 connections (`bench connections`).
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let graceful = GracefulShutdown::new();
    let max_connections = limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max_connections));
    // The connections held; not the semaphore's count, which also holds the slot that
    // the loop takes before it waits for the next connection.
    let held = Arc::new(AtomicUsize::new(0));
    let (held_gauge, closed_at_limit) = match limits.metrics {
        Some(service) => {
            metrics::describe_gauge!(
                format!("{service}_http_connections_held"),
                "Public connections held; at max_connections new ones wait in the kernel's queue"
            );
            metrics::describe_counter!(
                format!("{service}_http_connections_closed_at_limit_total"),
                "Answers that closed their connection because every connection slot was held"
            );
            let closed =
                metrics::counter!(format!("{service}_http_connections_closed_at_limit_total"));
            closed.increment(0);
            let gauge = metrics::gauge!(format!("{service}_http_connections_held"));
            gauge.increment(0.0);
            (Some(gauge), Some(closed))
        }
        None => (None, None),
    };
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A slot first: while none is free the server does not accept, and the kernel
        // keeps the new connections queued.
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break, // never closed
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                    }
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let slot = Held::take(slot, &held, held_gauge.clone());
        let app = app.clone();
        let held_now = held.clone();
        let closed_at_limit = closed_at_limit.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(peer));
            let app = app.clone();
            let held_now = held_now.clone();
            let closed_at_limit = closed_at_limit.clone();
            async move {
                let mut response = app
                    .oneshot(request.map(Body::new))
                    .await
                    .unwrap_or_else(|e| match e {});
                if held_now.load(Ordering::Relaxed) >= max_connections {
                    // hyper closes the connection after this answer.
                    response
                        .headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                    if let Some(closed) = &closed_at_limit {
                        closed.increment(1);
                    }
                }
                Ok::<_, Infallible>(response)
            }
        });
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // Errors here are clients going away or timing out; nothing to act on.
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish within the shutdown grace");
    }
    Ok(())
}

/// A connection's slot: its permit, and its place in the count of connections held,
/// both given back when the connection's task ends, however it ends (a handler that
/// panics included).
struct Held {
    _permit: tokio::sync::OwnedSemaphorePermit,
    held: Arc<AtomicUsize>,
    gauge: Option<metrics::Gauge>,
}

impl Held {
    fn take(
        permit: tokio::sync::OwnedSemaphorePermit,
        held: &Arc<AtomicUsize>,
        gauge: Option<metrics::Gauge>,
    ) -> Self {
        held.fetch_add(1, Ordering::Relaxed);
        // Up and down rather than set: servers of one process that share the name (the
        // tests') add up instead of overwriting each other.
        if let Some(gauge) = &gauge {
            gauge.increment(1.0);
        }
        Self {
            _permit: permit,
            held: held.clone(),
            gauge,
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.held.fetch_sub(1, Ordering::Relaxed);
        if let Some(gauge) = &self.gauge {
            gauge.decrement(1.0);
        }
    }
}

/// The content security policy of every public answer: the dashboard loads its own
/// scripts, styles and data scripts and nothing else, runs no inline script, sends no
/// form, and is framed by no one. A JSON answer needs none of it, which the policy
/// grants.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// `router` with the headers a public page and API should send, on every answer that
/// does not set them itself: the content security policy above, no MIME sniffing, no
/// framing, and no referrer sent from the dashboard's links. (HSTS is the TLS proxy's:
/// compose/caddy/Caddyfile.)
pub fn with_public_headers(router: Router) -> Router {
    use axum::http::HeaderName;
    use tower_http::set_header::SetResponseHeaderLayer;
    let headers: [(HeaderName, &'static str); 4] = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    headers.into_iter().fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ))
    })
}

/// Serve the public `app` on `public` and the operators' routes (`internal`: metrics,
/// health, admin) on `internal_listener`, until `shutdown` resolves. The two never
/// share a listener, so a proxy in front of the public one cannot expose the others by
/// mistake. Either stopping stops both.
pub async fn serve_public_and_internal(
    public: TcpListener,
    app: Router,
    internal_listener: TcpListener,
    internal: Router,
    shutdown: impl Future<Output = ()> + Send,
    limits: ConnectionLimits,
) -> std::io::Result<()> {
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    // Ends when the public server asks, or when it is gone (its sender dropped).
    let internal = tokio::spawn(serve(internal_listener, internal, async move {
        let _ = stopped.wait_for(|s| *s).await;
    }));
    let served = serve_with(
        public,
        app,
        async move {
            shutdown.await;
            let _ = stop.send(true);
        },
        limits,
    )
    .await;
    let internal = internal.await.map_err(std::io::Error::other)?;
    served.and(internal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// One `GET /` on `stream`: the answer's head, lower-cased.
    async fn ask(stream: &mut TcpStream) -> String {
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let mut chunk = [0u8; 1024];
        while !answer.ends_with(b"\r\n\r\nok") {
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed before answering");
            answer.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8_lossy(&answer).to_lowercase()
    }

    async fn closed(stream: &mut TcpStream) -> bool {
        let mut byte = [0u8; 1];
        matches!(stream.read(&mut byte).await, Ok(0) | Err(_))
    }

    #[tokio::test]
    async fn a_server_holds_at_most_its_connections_and_closes_them_when_all_are_taken() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/", get(|| async { "ok" }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let limits = ConnectionLimits {
            header_read_timeout: Duration::from_secs(60),
            max_connections: 2,
            metrics: None,
        };
        let server = tokio::spawn(serve_with(
            listener,
            app,
            async move {
                let _ = stopped.await;
            },
            limits,
        ));

        // A slot to spare: the connection is kept alive.
        let mut first = TcpStream::connect(addr).await.unwrap();
        assert!(!ask(&mut first).await.contains("connection: close"));
        // The second takes the last slot: its answer closes it, and frees the slot.
        let mut second = TcpStream::connect(addr).await.unwrap();
        assert!(ask(&mut second).await.contains("connection: close"));
        assert!(closed(&mut second).await);

        // Both slots held (an idle keep-alive connection and one that has sent nothing):
        // a third connection is completed by the kernel but not served.
        let idle = TcpStream::connect(addr).await.unwrap();
        let mut waiting = TcpStream::connect(addr).await.unwrap();
        // Served promptly when a slot is free (every ask above took milliseconds); not
        // served in this long while none is.
        let early = tokio::time::timeout(Duration::from_millis(500), ask(&mut waiting)).await;
        assert!(early.is_err(), "served past the limit");
        // A slot frees when a held connection closes; the waiting request is answered,
        // and, with both slots taken again, closed.
        drop(first);
        let mut answer = Vec::new();
        let mut chunk = [0u8; 1024];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !answer.ends_with(b"\r\n\r\nok") {
            let n = tokio::time::timeout_at(deadline, waiting.read(&mut chunk))
                .await
                .expect("answered once a slot was free")
                .unwrap();
            assert!(n > 0, "closed before answering");
            answer.extend_from_slice(&chunk[..n]);
        }
        assert!(
            String::from_utf8_lossy(&answer)
                .to_lowercase()
                .contains("connection: close")
        );
        drop(idle);

        let _ = stop.send(());
        server.await.unwrap().unwrap();
    }

    async fn crash() -> &'static str {
        panic!("a handler's bug")
    }

    #[tokio::test]
    async fn a_handler_that_panics_gives_its_slot_back() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/", get(|| async { "ok" }))
            .route("/panic", get(crash));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let limits = ConnectionLimits {
            header_read_timeout: Duration::from_secs(60),
            max_connections: 2,
            metrics: None,
        };
        let server = tokio::spawn(serve_with(
            listener,
            app,
            async move {
                let _ = stopped.await;
            },
            limits,
        ));
        for _ in 0..3 {
            let mut crashing = TcpStream::connect(addr).await.unwrap();
            crashing
                .write_all(b"GET /panic HTTP/1.1\r\nHost: test\r\n\r\n")
                .await
                .unwrap();
            assert!(closed(&mut crashing).await);
        }
        // One connection of two held: kept alive, as if nothing had happened.
        let mut after = TcpStream::connect(addr).await.unwrap();
        assert!(!ask(&mut after).await.contains("connection: close"));

        let _ = stop.send(());
        server.await.unwrap().unwrap();
    }
}
