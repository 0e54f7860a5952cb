//! A small HTTP/1.1 server, shared by the AdminServer (`admin.*`, Java's Jetty
//! `JettyAdminServer`) and the Prometheus endpoint (`metricsProvider.*`, Java's
//! `PrometheusMetricsProvider`): it accepts connections, reads each request with its body
//! (up to a size), hands it to a handler and writes the handler's [`Reply`].
//!
//! The protocol itself is hyper's; this module only adapts it to plain values so that the
//! handlers stay free of IO: a handler takes a [`Request`] and returns a [`Reply`].
//! Connections idle longer than the idle timeout (Java's `admin.idleTimeout`) are closed.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tracing::{debug, warn};

/// One request, read whole.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, percent-encoding kept as sent (`/commands/stat`).
    pub path: String,
    /// The query string without `?`, if any.
    pub query: Option<String>,
    /// Header names in lower case, values as sent (non-UTF-8 values are left out).
    pub headers: Vec<(String, String)>,
    /// The body (empty for a GET).
    pub body: Bytes,
    /// Who asked.
    pub peer: SocketAddr,
}

impl Request {
    /// The first header of that name (give it in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of a query parameter (`?name=value&...`), not percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.as_deref()?.split('&').find_map(|pair| {
            let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
            (n == name).then_some(v)
        })
    }
}

/// What a handler answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// Headers besides Content-Length, e.g. `("Content-Type", "application/json")`.
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

impl Reply {
    /// A reply with one Content-Type.
    pub fn new(status: u16, content_type: &str, body: impl Into<Bytes>) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type", content_type.to_string())],
            body: body.into(),
        }
    }
}

/// How the server treats connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A connection with no request in flight for this long is closed.
    pub idle_timeout: Duration,
    /// Bodies larger than this are refused with 413 before the handler sees them.
    pub max_body_bytes: usize,
    /// Connections served at once; past this no more are accepted (they wait in the
    /// listen backlog) until one closes, so a client opening connections without end
    /// cannot take every descriptor the client port needs.
    pub max_connections: usize,
}

/// A connection is closed after this long, whatever it does: a slow body or a client that
/// trickles bytes cannot hold a task forever (clients reconnect for their next request).
const MAX_CONNECTION_LIFE: Duration = Duration::from_secs(600);

/// Serve `listener` until the task is dropped: every request goes to `handler`. A connection
/// that breaks the protocol is closed (and logged at debug level); the server goes on.
pub async fn serve<H, F>(listener: TcpListener, limits: Limits, handler: H)
where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    let handler = Arc::new(handler);
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    loop {
        let slot = Arc::clone(&slots)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors and the like: wait a little rather than spin.
                warn!("HTTP accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let handler = Arc::clone(&handler);
        tokio::spawn(async move {
            let _slot = slot;
            let service = service_fn(move |req: hyper::Request<Incoming>| {
                let handler = Arc::clone(&handler);
                async move {
                    let reply = match read_request(req, peer, limits.max_body_bytes).await {
                        Ok(request) => handler(request).await,
                        Err(reply) => reply,
                    };
                    Ok::<_, std::convert::Infallible>(to_response(reply))
                }
            });
            let served = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.idle_timeout)
                .serve_connection(TokioIo::new(stream), service);
            match tokio::time::timeout(MAX_CONNECTION_LIFE, served).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => debug!("HTTP connection from {peer} closed: {e}"),
                Err(_) => {
                    debug!("HTTP connection from {peer} closed after {MAX_CONNECTION_LIFE:?}")
                }
            }
        });
    }
}

/// The request as plain values, or the error reply when its body is too large or broken.
async fn read_request(
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
    max_body_bytes: usize,
) -> Result<Request, Reply> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, max_body_bytes).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            let too_large = e
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            return Err(if too_large {
                Reply::new(413, "text/plain", "request body too large\n")
            } else {
                Reply::new(400, "text/plain", "bad request body\n")
            });
        }
    };
    Ok(Request {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts
            .headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect(),
        body,
        peer,
    })
}

fn to_response(reply: Reply) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(reply.body));
    *response.status_mut() = hyper::StatusCode::from_u16(reply.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in reply.headers {
        if let Ok(value) = hyper::header::HeaderValue::from_str(&value) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

/// `%XX` and `+` decoded, as a servlet container decodes query parameters (bad escapes
/// kept as written).
pub fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(hi), Some(lo)) => {
                        out.push((hi * 16 + lo) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn exchange(limits: Limits, raw: &[u8]) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve(listener, limits, |req: Request| async move {
            let text = format!(
                "{} {} q={:?} x={:?} body={}",
                req.method,
                req.path,
                req.query_param("x"),
                req.header("x-test"),
                req.body.len()
            );
            Reply::new(200, "text/plain", text)
        }));
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(raw).await.unwrap();
        let mut out = Vec::new();
        stream.read_to_end(&mut out).await.unwrap();
        server.abort();
        String::from_utf8_lossy(&out).into_owned()
    }

    const LIMITS: Limits = Limits {
        idle_timeout: Duration::from_secs(5),
        max_body_bytes: 16,
        max_connections: 8,
    };

    #[tokio::test]
    async fn connections_past_the_limit_wait_until_one_closes() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = Limits {
            max_connections: 2,
            ..LIMITS
        };
        let server = tokio::spawn(serve(listener, limits, |_req: Request| async move {
            Reply::new(200, "text/plain", "ok")
        }));
        let ask = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
        let held: Vec<_> =
            futures::future::join_all((0..2).map(|_| tokio::net::TcpStream::connect(addr)))
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect();
        let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
        third.write_all(ask).await.unwrap();
        let mut out = Vec::new();
        let early =
            tokio::time::timeout(Duration::from_millis(300), third.read_to_end(&mut out)).await;
        assert!(early.is_err(), "served past the limit: {out:?}");
        drop(held);
        tokio::time::timeout(Duration::from_secs(5), third.read_to_end(&mut out))
            .await
            .expect("served once a connection closed")
            .unwrap();
        assert!(String::from_utf8_lossy(&out).ends_with("ok"));
        server.abort();
    }

    #[tokio::test]
    async fn a_request_reaches_the_handler_as_values() {
        let out = exchange(
            LIMITS,
            b"POST /commands/stat?y=1&x=2 HTTP/1.1\r\nHost: a\r\nX-Test: t\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
        )
        .await;
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
        assert!(out.contains("content-type: text/plain\r\n"), "{out}");
        assert!(
            out.ends_with("POST /commands/stat q=Some(\"2\") x=Some(\"t\") body=3"),
            "{out}"
        );
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_before_the_handler() {
        let out = exchange(
            LIMITS,
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 17\r\nConnection: close\r\n\r\n01234567890123456",
        )
        .await;
        assert!(out.starts_with("HTTP/1.1 413 "), "{out}");
    }

    #[tokio::test]
    async fn garbage_closes_the_connection_and_the_server_goes_on() {
        let out = exchange(LIMITS, b"\x00\x01 not http at all\r\n\r\n").await;
        assert!(!out.contains("200 OK"), "{out}");
    }
}
