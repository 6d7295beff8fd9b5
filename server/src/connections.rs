//! Serving connections with bounds: how many at once (in all and per
//! address), how long a request's header may take, how long a body may
//! stall. A slow or hostile client holds one connection for a bounded time;
//! past the cap, a new connection is answered 503 at once and closed instead
//! of waiting in the kernel's queue.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};

/// The connection bounds, each a flag of `tierwatch serve`.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Open connections in all (`--max-connections`).
    pub max_connections: usize,
    /// Open connections from one address (`--max-connections-per-address`).
    pub max_connections_per_address: usize,
    /// How long a request's header may take to arrive, and how long a
    /// kept-alive connection may sit idle before its next request
    /// (`--header-timeout-seconds`).
    pub header_timeout: Duration,
    /// How long a request body may go without sending a byte
    /// (`--body-timeout-seconds`).
    pub body_timeout: Duration,
    /// How long open connections get to finish at shutdown.
    pub shutdown_grace: Duration,
    /// Reverse proxies (`--trusted-proxy`): their connections carry many
    /// clients, so only the cap in all bounds them.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 1024,
            max_connections_per_address: 256,
            header_timeout: Duration::from_secs(20),
            body_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            trusted_proxies: Vec::new(),
        }
    }
}

/// Open connections, in all and per address.
#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// One admitted connection; counted until dropped.
#[derive(Debug)]
struct Admitted {
    open: Arc<Mutex<Open>>,
    address: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_address.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                open.by_address.remove(&self.address);
            }
        }
    }
}

/// Admits a connection from `address`, or says which limit refuses it.
fn admit(open: &Arc<Mutex<Open>>, address: IpAddr, limits: &ConnectionLimits) -> Result<Admitted, String> {
    let mut o = open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if o.total >= limits.max_connections {
        return Err(format!(
            "the server has {} connections open, its limit; retry shortly (the operator can raise --max-connections)",
            o.total
        ));
    }
    let mine = o.by_address.get(&address).copied().unwrap_or(0);
    if mine >= limits.max_connections_per_address && !limits.trusted_proxies.contains(&address) {
        return Err(format!(
            "{address} has {mine} connections open, the limit per address; close some and retry \
             (the operator can raise --max-connections-per-address)"
        ));
    }
    o.total += 1;
    *o.by_address.entry(address).or_insert(0) += 1;
    Ok(Admitted { open: open.clone(), address })
}

/// Answers a refused connection with a 503 naming the limit, written only
/// if the socket takes it at once (a refused client gets no time), then
/// closes it.
fn refuse(stream: TcpStream, why: &str) {
    let body = format!("{{\"error\":{{\"code\":\"too-many-connections\",\"message\":{}}}}}", serde_json::json!(why));
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(answer.as_bytes());
}

/// Serves `app` on `listener` until `shutdown` completes, within `limits`;
/// then stops accepting and gives open connections `shutdown_grace` to
/// finish. Every request carries its peer address (`ConnectInfo`) for the
/// per-address rate limit.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let app = app.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(limits.body_timeout));
    let open = Arc::new(Mutex::new(Open::default()));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: the listener
                    // stays, the next accept may succeed.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let admitted = match admit(&open, peer.ip(), &limits) {
            Ok(a) => a,
            Err(why) => {
                tracing::warn!(%peer, "{why}");
                refuse(stream, &why);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            tower::ServiceExt::oneshot(app.clone(), request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _admitted = admitted;
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!("connections still open {} s after shutdown began; closing them", limits.shutdown_grace.as_secs());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_each_limit_and_counts_closed_connections_out() {
        let limits = ConnectionLimits { max_connections: 3, max_connections_per_address: 2, ..Default::default() };
        let open = Arc::new(Mutex::new(Open::default()));
        let a: IpAddr = "127.0.0.2".parse().expect("address");
        let b: IpAddr = "127.0.0.3".parse().expect("address");
        let first = admit(&open, a, &limits).expect("admitted");
        let _second = admit(&open, a, &limits).expect("admitted");
        let refused = admit(&open, a, &limits).expect_err("refused");
        assert!(
            refused.contains("127.0.0.2 has 2 connections open") && refused.contains("--max-connections-per-address")
        );
        let _third = admit(&open, b, &limits).expect("admitted");
        let refused = admit(&open, b, &limits).expect_err("refused");
        assert!(refused.contains("3 connections open") && refused.contains("--max-connections)"), "{refused}");
        drop(first);
        assert!(admit(&open, b, &limits).is_ok(), "a closed connection frees its place");
        assert_eq!(open.lock().expect("lock").by_address.get(&a), Some(&1));
    }
}
