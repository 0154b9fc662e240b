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
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// How long a client may take to send its request headers, unless a service sets its own.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long in-flight requests may take to finish once shutdown begins.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serve `app` on `listener` until `shutdown` resolves; then stop accepting, let
/// in-flight requests finish (up to [`SHUTDOWN_GRACE`]) and return.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    serve_with(listener, app, shutdown, HEADER_READ_TIMEOUT).await
}

/// [`serve`] with a header read timeout of the caller's choice.
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send,
    header_read_timeout: Duration,
) -> std::io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(peer));
            let app = app.clone();
            async move {
                Ok::<_, Infallible>(
                    app.oneshot(request.map(Body::new))
                        .await
                        .unwrap_or_else(|e| match e {}),
                )
            }
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // Errors here are clients going away or timing out; nothing to act on.
            let _ = connection.await;
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
    use axum::http::{HeaderName, HeaderValue, header};
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
    header_read_timeout: Duration,
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
        header_read_timeout,
    )
    .await;
    let internal = internal.await.map_err(std::io::Error::other)?;
    served.and(internal)
}
