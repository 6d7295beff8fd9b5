//! Starting and running the server.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use matrix::Policy;
use tokio::net::TcpListener;

use crate::state::{AppState, Settings};
use crate::store::Store;

/// Connects the store, evaluates, and binds; returns the state and the
/// listener so callers (tests) can learn the port before serving.
pub async fn prepare(
    policy: Policy,
    database_url: &str,
    bind: &str,
    settings: Settings,
) -> Result<(AppState, TcpListener)> {
    let store = open_with(database_url, settings.write_queue_timeout).await?;
    let state = AppState::start(store, policy, settings).await.context("cannot load stored runs")?;
    let listener = TcpListener::bind(bind).await.with_context(|| format!("cannot listen on {bind}"))?;
    Ok((state, listener))
}

/// Connects to the database and migrates it, saying which (without its
/// password) when that fails.
pub async fn open(database_url: &str) -> Result<Store> {
    open_with(database_url, crate::store::DEFAULT_WRITE_QUEUE_TIMEOUT).await
}

/// [`open`], writes waiting up to `write_queue_timeout` for the database.
async fn open_with(database_url: &str, write_queue_timeout: Duration) -> Result<Store> {
    Store::connect(database_url, write_queue_timeout)
        .await
        .with_context(|| format!("cannot open database {}", redact(database_url)))
}

/// Serves until SIGINT or SIGTERM, re-evaluating every `tick` so windows
/// move with the clock; on a database shared with other servers each tick
/// first takes in what they stored, so a notice that never arrived costs
/// one tick at most.
pub async fn run(state: AppState, listener: TcpListener, tick: Duration) -> Result<()> {
    let ticker = state.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(tick);
        interval.tick().await;
        loop {
            interval.tick().await;
            if ticker.store.shared_url().is_some()
                && let Err(e) = ticker.catch_up().await
            {
                tracing::error!(error = %e, "catching up with the other servers failed");
            }
            if let Err(e) = ticker.tick().await {
                tracing::error!(error = %e, "periodic re-evaluation failed");
            }
        }
    });
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(%addr, "tierwatch listening");
    serve(state, listener, shutdown()).await
}

/// Serves the application on `listener` within the state's connection
/// limits until `shutdown` completes (tests pass one that never does).
pub async fn serve(state: AppState, listener: TcpListener, shutdown: impl Future<Output = ()>) -> Result<()> {
    let limits = state.settings.connections.clone();
    crate::connections::serve(listener, crate::app(state), limits, shutdown).await.context("server failed")
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}://{user}:***{}", &url[..s], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}
