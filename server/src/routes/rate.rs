//! Request rates per address and per credential (governor's keyed token
//! buckets through `tower_governor`). A request over either budget is
//! answered 429 with `retry-after` and a message naming the limit and the
//! flag that raises it.

use std::net::IpAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, header};
use axum::response::IntoResponse;
use governor::middleware::NoOpMiddleware;
use tower_governor::GovernorError;
use tower_governor::GovernorLayer;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::{KeyExtractor, PeerIpKeyExtractor};

use crate::error::ApiError;

/// Request budgets, each from flags of `tierwatch serve`: a burst a client
/// may spend at once, refilled one request per period (the flags give the
/// rate per second; tests use long periods so that nothing refills while
/// they look).
#[derive(Debug, Clone)]
pub struct RateLimits {
    /// One request more per address every period (`--rate-per-address`).
    pub address_period: Duration,
    /// Requests one address may send at once (`--burst-per-address`).
    pub address_burst: u32,
    /// One request more per token or session every period
    /// (`--rate-per-token`).
    pub token_period: Duration,
    /// Requests one token may send at once (`--burst-per-token`).
    pub token_burst: u32,
    /// Reverse proxies in front of the server (`--trusted-proxy`): behind
    /// one, a request's client is the address it forwarded
    /// (`X-Forwarded-For`), not the proxy's, so per-address budgets are per
    /// client. Anyone else's `X-Forwarded-For` is ignored.
    pub trusted_proxies: Vec<IpAddr>,
}

impl RateLimits {
    /// The period that refills `per_second` requests a second.
    pub fn period(per_second: u32) -> Duration {
        Duration::from_nanos(1_000_000_000 / u64::from(per_second.max(1)))
    }

    fn per_second(period: Duration) -> String {
        let rate = 1.0 / period.as_secs_f64();
        if rate >= 1.0 { format!("{rate:.0} per second") } else { format!("one per {:.0} s", period.as_secs_f64()) }
    }
}

impl Default for RateLimits {
    /// Generous: a browsing person, a fleet of runners uploading at once and
    /// a schema fuzzer are all far below them; a flood is not.
    fn default() -> Self {
        RateLimits {
            address_period: RateLimits::period(200),
            address_burst: 2000,
            token_period: RateLimits::period(200),
            token_burst: 2000,
            trusted_proxies: Vec::new(),
        }
    }
}

/// The address a request comes from: its peer's, or, when the peer is a
/// trusted proxy, the nearest address in `X-Forwarded-For` that is not one.
#[derive(Debug, Clone)]
struct ClientAddress {
    trusted: Arc<[IpAddr]>,
}

impl KeyExtractor for ClientAddress {
    type Key = IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<Self::Key, GovernorError> {
        let peer = PeerIpKeyExtractor.extract(req)?;
        Ok(client_address(peer, req.headers(), &self.trusted))
    }
}

/// The client behind `peer`: `peer` itself unless it is a trusted proxy;
/// then the rightmost `X-Forwarded-For` entry that is not a trusted proxy
/// (each proxy appends the address it received from). An entry that is not
/// an address ends the walk at the last trusted hop, so a malformed header
/// never moves a request into another client's budget.
pub fn client_address(peer: IpAddr, headers: &axum::http::HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for entry in entries.iter().rev() {
        match entry.parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return ip,
            Err(_) => return peer,
        }
    }
    peer
}

/// The credential a request carries: its bearer token or session cookie
/// (hashed, never kept), else its client address.
#[derive(Debug, Clone)]
struct Credential {
    address: ClientAddress,
}

impl KeyExtractor for Credential {
    type Key = [u8; 32];

    fn extract<T>(&self, req: &Request<T>) -> Result<Self::Key, GovernorError> {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        if let Some(auth) = req.headers().get(header::AUTHORIZATION) {
            h.update(b"authorization\0");
            h.update(auth.as_bytes());
        } else if let Some(cookie) = req.headers().get(header::COOKIE) {
            h.update(b"cookie\0");
            h.update(cookie.as_bytes());
        } else {
            let ip = self.address.extract(req)?;
            h.update(b"address\0");
            h.update(ip.to_string().as_bytes());
        }
        Ok(h.finalize().into())
    }
}

/// The 429 answer for one of the two budgets.
fn refusal(
    who: &'static str,
    period: Duration,
    burst: u32,
    flags: &'static str,
) -> impl Fn(GovernorError) -> Response<Body> {
    let rate = RateLimits::per_second(period);
    move |e| match e {
        GovernorError::TooManyRequests { wait_time, .. } => ApiError::RateLimited {
            message: format!(
                "more than {burst} requests at once, or {rate} sustained, {who}; retry after {wait_time} s \
                 (the operator can raise {flags})"
            ),
            retry_after: wait_time,
        }
        .into_response(),
        GovernorError::UnableToExtractKey => {
            ApiError::BadRequest("the request's peer address is unknown, so its rate cannot be limited".into())
                .into_response()
        }
        GovernorError::Other { code, msg, .. } => {
            (code, msg.unwrap_or_else(|| "refused by the rate limiter".into())).into_response()
        }
    }
}

fn config<K: KeyExtractor>(
    key: K,
    period: Duration,
    burst: u32,
) -> Arc<GovernorConfig<K, NoOpMiddleware<governor::clock::QuantaInstant>>> {
    let period = period.max(Duration::from_nanos(1));
    let config = GovernorConfigBuilder::default().key_extractor(key).period(period).burst_size(burst.max(1)).finish();
    // `finish` refuses only a zero period or burst, excluded above.
    Arc::new(config.unwrap_or_else(|| unreachable!("a non-zero period and burst")))
}

/// `app` behind both budgets: per address first (cheapest, and the one a
/// made-up token cannot escape), then per credential.
pub fn limited(app: Router, limits: &RateLimits) -> Router {
    let address = ClientAddress { trusted: limits.trusted_proxies.clone().into() };
    let by_credential = config(Credential { address: address.clone() }, limits.token_period, limits.token_burst);
    let by_address = config(address, limits.address_period, limits.address_burst);
    spawn_cleanup(Arc::downgrade(by_credential.limiter()));
    spawn_cleanup(Arc::downgrade(by_address.limiter()));
    app.layer(GovernorLayer::new(by_credential).error_handler(refusal(
        "with this token",
        limits.token_period,
        limits.token_burst,
        "--rate-per-token and --burst-per-token",
    )))
    .layer(GovernorLayer::new(by_address).error_handler(refusal(
        "from this address",
        limits.address_period,
        limits.address_burst,
        "--rate-per-address and --burst-per-address",
    )))
}

/// Drops the buckets of clients quiet long enough to be full again, once a
/// minute, for as long as the limiter is in use: an attacker cycling
/// addresses or made-up tokens cannot grow the tables without bound.
fn spawn_cleanup<K>(
    limiter: Weak<
        governor::RateLimiter<
            K,
            governor::state::keyed::DefaultKeyedStateStore<K>,
            governor::clock::DefaultClock,
            NoOpMiddleware<governor::clock::QuantaInstant>,
        >,
    >,
) where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
{
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        every.tick().await;
        loop {
            every.tick().await;
            let Some(limiter) = limiter.upgrade() else { return };
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::client_address;
    use axum::http::HeaderMap;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().expect("header"));
        }
        h
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let proxy = [ip("127.0.0.1"), ip("10.0.0.2")];
        let spoof = forwarded(&["203.0.113.9"]);
        assert_eq!(client_address(ip("198.51.100.7"), &spoof, &proxy), ip("198.51.100.7"), "not a proxy: ignored");
        assert_eq!(client_address(ip("127.0.0.1"), &spoof, &[]), ip("127.0.0.1"), "no proxy trusted: ignored");
        assert_eq!(client_address(ip("127.0.0.1"), &spoof, &proxy), ip("203.0.113.9"));
        // Each proxy appends what it received from: the rightmost untrusted
        // entry is the client, whatever the client itself put first.
        let chain = forwarded(&["6.6.6.6, 203.0.113.9", "10.0.0.2"]);
        assert_eq!(client_address(ip("127.0.0.1"), &chain, &proxy), ip("203.0.113.9"));
        assert_eq!(client_address(ip("127.0.0.1"), &forwarded(&["203.0.113.9, junk"]), &proxy), ip("127.0.0.1"));
        assert_eq!(client_address(ip("127.0.0.1"), &HeaderMap::new(), &proxy), ip("127.0.0.1"));
    }
}
