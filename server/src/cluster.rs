//! Several servers on one PostgreSQL database.
//!
//! Each server keeps its own snapshot of the evidence and evaluation, built
//! from the shared database. When one stores and evaluates a run, or
//! applies a promotion, it says so on the [`CHANNEL`] with `NOTIFY`; every
//! other server catches up on the database ([`AppState::catch_up`]) and
//! pushes the change to its own dashboards' live streams. A server that
//! missed notices (its listening connection dropped) catches up once it
//! listens again, so nothing depends on a notice arriving.
//!
//! One server at a time is the leader, chosen by a PostgreSQL advisory lock
//! held on a connection of its own: it works the GitHub outbox and records
//! the clock's history entries. When the leader dies, PostgreSQL drops its
//! lock with its connection and another server takes over within
//! [`STANDBY_RETRY`]; the new leader looks for the markers of everything
//! still queued on GitHub before sending it (see `github::Sync`).
//!
//! On SQLite a server owns its file: it leads, and notices go nowhere.

use std::sync::atomic::Ordering;
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnection, PgListener};

use crate::state::AppState;
use crate::store::{CHANNEL, LEADER_LOCK};

/// How often a server that does not lead tries to take the lock, and how
/// often the leader checks that its lock connection is alive.
pub const STANDBY_RETRY: Duration = Duration::from_secs(1);

/// What one server tells the others.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Notice {
    /// The sender's id ([`AppState::server_id`]); a server ignores its own.
    pub server: String,
    pub kind: NoticeKind,
}

impl Notice {
    /// The notice as sent.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The kinds of notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoticeKind {
    /// Evidence or declared tiers changed in the database: catch up.
    Evidence,
    /// The GitHub outbox has new work: the leader wakes its worker.
    Outbox,
}

/// Starts this server's part among others on its database: choosing the
/// leader (which works the GitHub outbox, when `outbox` configures it) and
/// listening for the others' notices.
pub fn spawn(state: &AppState, outbox: Option<(crate::github::Client, Duration)>) {
    let leader = state.clone();
    tokio::spawn(lead(state.clone(), move || {
        let (leader, outbox) = (leader.clone(), outbox.clone());
        async move {
            match outbox {
                Some((client, poll)) => crate::github::run(leader, client, poll).await,
                None => std::future::pending().await,
            }
        }
    }));
    tokio::spawn(listen(state.clone()));
}

/// Tells the other servers. A notice that cannot be sent is logged, not
/// returned: the others catch up on their next notice or clock tick (see
/// `server::run`), and the leader polls the outbox anyway.
pub async fn publish(state: &AppState, kind: NoticeKind) {
    if state.store.shared_url().is_none() {
        return;
    }
    let notice = Notice { server: state.server_id.clone(), kind };
    if let Err(e) = state.store.notify(&notice.to_json()).await {
        tracing::warn!(error = %e, ?kind, "cannot notify the other servers");
    }
}

/// Listens for the other servers' notices until the process ends; nothing
/// on SQLite.
pub async fn listen(state: AppState) {
    let Some(url) = state.store.shared_url().cloned() else { return };
    loop {
        if let Err(e) = listen_once(&state, url.expose()).await {
            tracing::warn!(error = %e, "listening for the other servers failed; listening again");
        }
        tokio::time::sleep(STANDBY_RETRY).await;
    }
}

async fn listen_once(state: &AppState, url: &str) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    // What happened before this connection listened.
    catch_up(state).await;
    loop {
        let Some(first) = listener.try_recv().await? else {
            // The listener reconnects and listens again by itself at the next
            // receive; what was said meanwhile is in the database.
            tracing::warn!("the listening connection dropped; catching up on the database");
            catch_up(state).await;
            continue;
        };
        // Notices that arrived together are handled as one.
        let mut kinds = Vec::new();
        for n in std::iter::once(first).chain(std::iter::from_fn(|| listener.next_buffered())) {
            match serde_json::from_str::<Notice>(n.payload()) {
                Ok(notice) if notice.server == state.server_id => {}
                Ok(notice) => kinds.push(notice.kind),
                Err(e) => {
                    tracing::error!(payload = n.payload(), error = %e, "a notice tierwatch does not know; ignored")
                }
            }
        }
        if kinds.contains(&NoticeKind::Outbox) {
            state.github_wake.notify_one();
        }
        if kinds.contains(&NoticeKind::Evidence) {
            catch_up(state).await;
        }
    }
}

async fn catch_up(state: &AppState) {
    match state.catch_up().await {
        Ok(changed) if !changed.is_empty() => tracing::info!(?changed, "caught up with the other servers"),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "catching up with the other servers failed"),
    }
}

/// Takes part in choosing the leader until the process ends, doing `work`
/// (the GitHub outbox worker, or nothing) while leading. On SQLite the
/// server leads from the start.
pub async fn lead<F, W>(state: AppState, work: W)
where
    W: Fn() -> F,
    F: Future<Output = ()>,
{
    let Some(url) = state.store.shared_url().cloned() else {
        state.leader.store(true, Ordering::Relaxed);
        work().await;
        return;
    };
    let mut waiting_said = false;
    loop {
        match PgConnection::connect(url.expose()).await {
            Ok(mut conn) => {
                let locked: Result<bool, _> =
                    sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(LEADER_LOCK).fetch_one(&mut conn).await;
                match locked {
                    Ok(true) => {
                        tracing::info!(server = %state.server_id, "leading: the GitHub outbox and the clock's history are this server's");
                        waiting_said = false;
                        state.leader.store(true, Ordering::Relaxed);
                        tokio::select! {
                            () = work() => {}
                            () = watch(&mut conn) => {}
                        }
                        state.leader.store(false, Ordering::Relaxed);
                        tracing::warn!("the leader's lock connection failed; standing by");
                    }
                    Ok(false) => {
                        if !waiting_said {
                            tracing::info!("another server leads; standing by to take over");
                            waiting_said = true;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot ask for the leader's lock"),
                }
                let _ = conn.close().await;
            }
            Err(e) => tracing::warn!(error = %e, "cannot connect for the leader's lock"),
        }
        tokio::time::sleep(STANDBY_RETRY).await;
    }
}

/// Returns when the lock connection stops answering.
async fn watch(conn: &mut PgConnection) {
    loop {
        tokio::time::sleep(STANDBY_RETRY).await;
        if conn.ping().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_round_trip_and_unknown_keys_are_refused() {
        let n = Notice { server: "a1".into(), kind: NoticeKind::Evidence };
        let text = serde_json::to_string(&n).expect("serializes");
        assert_eq!(text, r#"{"server":"a1","kind":"evidence"}"#);
        assert_eq!(serde_json::from_str::<Notice>(&text).expect("parses"), n);
        let err =
            serde_json::from_str::<Notice>(r#"{"server":"a1","kind":"outbox","run":"x"}"#).expect_err("unknown key");
        assert!(err.to_string().contains("unknown field `run`"), "{err}");
        let err = serde_json::from_str::<Notice>(r#"{"server":"a1","kind":"tick"}"#).expect_err("unknown kind");
        assert!(err.to_string().contains("unknown variant `tick`"), "{err}");
    }
}
