//! The connection loop: accepts TCP connections and serves HTTP/1 on them with hyper, with
//! the bounds `axum::serve` does not offer, so that idle or slow clients cannot take the
//! server's descriptors or memory.
//!
//! - A header-read timeout: a connection that does not finish sending a request's headers in
//!   time (an idle kept-alive connection included) is closed.
//! - A connection cap below the process's descriptor limit: beyond it a new connection is
//!   answered 503 with `Retry-After` and closed, so the server never runs out of descriptors
//!   for its own files and for the clients it already serves.
//! - A body-progress timeout on every request: a body that sends nothing for that long fails
//!   with [`BodyStalled`] (408 on the CouchDB API), which frees the connection.
//! - A declared `Content-Length` over the largest request is refused (413) before the body is
//!   read.
//! - Each request gets a [`BudgetSlot`] that holds its share of the body budget until its
//!   handler has answered.
//!
//! [`raise_fd_limit`] lifts the descriptor soft limit to the hard one at start.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::response::IntoResponse;
use axum::Router;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Sleep;
use tower::ServiceExt;

use crate::budget::BudgetSlot;
use crate::error::ApiError;
use crate::routes::couch::extract::declared_length;

/// How the loop bounds its clients.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Time to send a request's headers; also how long an idle connection stays open.
    pub header_timeout: Duration,
    /// Longest silence within a request body.
    pub body_timeout: Duration,
    /// Most connections served at once.
    pub max_connections: usize,
    /// Largest request body on any route (a larger declared length is refused at once).
    pub max_request_bytes: usize,
}

/// Descriptors kept free for the data store's files, the static files and the refusals.
const RESERVED_DESCRIPTORS: usize = 128;

/// The automatic connection cap never goes above this: each connection costs buffers too.
const AUTO_MAX_CONNECTIONS: usize = 4096;

/// Refusals being written at once; past it a connection over the cap is closed without an
/// answer.
const MAX_REFUSALS: usize = 64;

/// The connection cap for a configured value (0 = automatic) and the descriptor limit: always
/// below the limit, so that the server can still open its own files.
pub fn connection_cap(configured: usize, fd_limit: Option<usize>) -> usize {
    let ceiling = fd_limit.map_or(AUTO_MAX_CONNECTIONS, |limit| {
        limit.saturating_sub(RESERVED_DESCRIPTORS).max(16)
    });
    if configured == 0 {
        ceiling.min(AUTO_MAX_CONNECTIONS)
    } else if configured > ceiling {
        tracing::warn!(
            configured,
            ceiling,
            "the connection cap is above the descriptor limit; lowered"
        );
        ceiling
    } else {
        configured
    }
}

/// Raises the soft limit on open descriptors to the hard limit and logs both; returns the soft
/// limit in force afterwards (`None` where it cannot be read).
#[cfg(unix)]
pub fn raise_fd_limit() -> Option<usize> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own; no other memory is touched.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        tracing::warn!("cannot read the descriptor limit");
        return None;
    }
    let before = limit.rlim_cur;
    // An unlimited hard limit cannot be the soft one on Linux (it is capped by nr_open).
    let target = limit.rlim_max.min(1 << 20);
    if limit.rlim_cur < target {
        let raised = libc::rlimit {
            rlim_cur: target,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit.rlim_cur = target;
        } else {
            tracing::warn!(
                soft = before,
                hard = limit.rlim_max,
                "cannot raise the descriptor limit"
            );
        }
    }
    tracing::info!(
        soft_before = before,
        soft = limit.rlim_cur,
        hard = limit.rlim_max,
        "open descriptor limit"
    );
    Some(usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX))
}

/// No descriptor limit to raise on this platform.
#[cfg(not(unix))]
pub fn raise_fd_limit() -> Option<usize> {
    None
}

/// Serves `router` on `listener` until `shutdown` completes, then lets the connections finish
/// their requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    // Out of descriptors (or a connection reset before it was accepted): wait
                    // a moment rather than spin; the cap should keep this from happening.
                    tracing::warn!(%err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            match refusals.clone().try_acquire_owned() {
                Ok(refusal) => {
                    tokio::spawn(async move {
                        refuse(stream).await;
                        drop(refusal);
                    });
                }
                Err(_) => drop(stream),
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            handle(router.clone(), request, remote, limits)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%err, %remote, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// One request: the early refusal of an oversized declared body, the client's address and the
/// budget slot, then the router.
async fn handle(
    router: Router,
    request: hyper::Request<Incoming>,
    remote: SocketAddr,
    limits: ConnectionLimits,
) -> Result<axum::response::Response, Infallible> {
    let max_request_bytes = limits.max_request_bytes;
    if declared_length(request.headers()).is_some_and(|n| n > max_request_bytes) {
        tracing::info!(%remote, path = %request.uri().path(), "refused a body over the limit");
        return Ok(ApiError::TooLarge(format!(
            "The request body is larger than this server accepts ({max_request_bytes} bytes). \
             Send fewer documents per request."
        ))
        .into_response());
    }
    let mut request = request.map(|body| Body::new(TimedBody::new(body, limits.body_timeout)));
    // Client addresses feed the per-address limit on failed logins.
    request.extensions_mut().insert(ConnectInfo(remote));
    let slot = BudgetSlot::default();
    request.extensions_mut().insert(slot.clone());
    let response = router.oneshot(request).await;
    // The handler has answered: what its body reserved goes back to the budget.
    drop(slot);
    response
}

/// A request body that sent nothing for the body timeout.
#[derive(Debug)]
pub struct BodyStalled {
    pub after: Duration,
}

impl std::fmt::Display for BodyStalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no part of the request body arrived for {} s",
            self.after.as_secs()
        )
    }
}

impl std::error::Error for BodyStalled {}

/// A request body that fails with [`BodyStalled`] when no frame arrives for `timeout` while
/// it is being read. The clock starts when the handler waits for the body, not when the
/// request arrives, so a handler that reads late (after a password check) is not cut.
struct TimedBody {
    inner: Incoming,
    timeout: Duration,
    silence: Option<Pin<Box<Sleep>>>,
}

impl TimedBody {
    fn new(inner: Incoming, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            silence: None,
        }
    }
}

impl http_body::Body for TimedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.silence = None;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let timeout = this.timeout;
                let silence = this
                    .silence
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match silence.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        Poll::Ready(Some(Err(Box::new(BodyStalled { after: timeout }))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Answers a connection over the cap with 503 and closes it. The request's head is read
/// first (for at most a second), since an HTTP client treats an answer that comes before its
/// request as a broken connection rather than as a 503; a client that sends nothing in that
/// second is closed without an answer.
async fn refuse(mut stream: TcpStream) {
    const BODY: &str = "{\"error\":\"overloaded\",\"reason\":\"The server has too many open \
                        connections. Try again in a few seconds.\"}";
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    let got_head = tokio::time::timeout(Duration::from_secs(1), async {
        while head.len() < 16 * 1024 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
            if head.windows(4).any(|w| w == b"\r\n\r\n") {
                return true;
            }
        }
        true
    })
    .await
    .unwrap_or(false);
    if !got_head {
        return;
    }
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 5\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await?;
        // Read what else the client sent, so that closing does not reset the connection
        // before it has read the answer.
        while stream.read(&mut buf).await? > 0 {}
        Ok::<(), std::io::Error>(())
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::connection_cap;

    #[test]
    fn the_connection_cap_stays_below_the_descriptor_limit() {
        assert_eq!(connection_cap(0, Some(1024)), 896);
        assert_eq!(connection_cap(0, Some(1 << 20)), 4096);
        assert_eq!(connection_cap(0, None), 4096);
        assert_eq!(connection_cap(50, Some(1024)), 50);
        assert_eq!(connection_cap(5000, Some(1024)), 896);
    }
}
