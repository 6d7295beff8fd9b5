//! Browser sessions for the HTML forms. A maintainer signs in with their
//! token once; the server keeps a SHA-256 of a random cookie value and a
//! CSRF synchronizer token that every form must echo. Cookies are
//! `HttpOnly` and `SameSite=Strict` (and `Secure` with `--cookie-secure`),
//! and a form post whose `Origin` is another site is refused as well.

use axum::http::HeaderMap;
use jiff::Timestamp;
use rand::Rng;

use crate::auth::{Caller, check_token, sha256_hex};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::SessionRow;

/// The session cookie's name.
pub const COOKIE: &str = "tierwatch_session";

/// A signed-in maintainer.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who, as their token says now.
    pub caller: Caller,
    /// The token forms must echo.
    pub csrf: String,
    id_hash: String,
}

fn random_hex() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    hex::encode(bytes)
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// The request's session, if it carries a live one whose token is still a
/// maintainer's.
pub async fn current(state: &AppState, headers: &HeaderMap) -> Result<Option<Session>, ApiError> {
    let Some(value) = cookie_value(headers) else { return Ok(None) };
    let id_hash = sha256_hex(value.as_bytes());
    let Some(row) = state.store.session(&id_hash).await? else { return Ok(None) };
    let Some(token) = state.store.token(&row.token_id).await? else { return Ok(None) };
    if token.revoked || token.role != crate::auth::Role::Maintainer {
        return Ok(None);
    }
    let caller = Caller::from_row(token);
    Ok(Some(Session { caller, csrf: row.csrf, id_hash }))
}

/// Signs in with a maintainer token; returns the `Set-Cookie` value.
pub async fn login(state: &AppState, token: &str) -> Result<(String, Caller), ApiError> {
    let caller = check_token(&state.store, token).await?;
    caller.require_maintainer("sign in to the dashboard")?;
    let value = random_hex();
    let expires_at = Timestamp::now() + state.settings.session_lifetime;
    let row = SessionRow { token_id: caller.token_id.clone(), csrf: random_hex(), expires_at };
    state.store.create_session(&sha256_hex(value.as_bytes()), &row).await?;
    let max_age = state.settings.session_lifetime.as_secs();
    Ok((cookie(state, &value, max_age), caller))
}

/// Ends the session; returns the `Set-Cookie` value that clears it.
pub async fn logout(state: &AppState, session: &Session) -> Result<String, ApiError> {
    state.store.delete_session(&session.id_hash).await?;
    Ok(cookie(state, "", 0))
}

fn cookie(state: &AppState, value: &str, max_age: i64) -> String {
    let secure = if state.settings.secure_cookies() { "; Secure" } else { "" };
    format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// Checks a form post: the echoed CSRF token must be the session's, and an
/// `Origin` header, when sent, must be this server.
pub fn check_form(
    session: &Session,
    form_csrf: &str,
    headers: &HeaderMap,
    public_url: Option<&str>,
) -> Result<(), ApiError> {
    check_origin(headers, public_url)?;
    if !constant_time_eq(form_csrf.as_bytes(), session.csrf.as_bytes()) {
        return Err(ApiError::Forbidden(
            "the form's CSRF token is missing or stale; reload the page and submit again".into(),
        ));
    }
    Ok(())
}

/// Refuses a form posted from another site, when the browser says where
/// it came from (sign-in has no session to hold a CSRF token yet). This
/// server is the request's `Host`, or `--public-url` behind a proxy that
/// rewrites it; an opaque `null` origin is refused.
pub fn check_origin(headers: &HeaderMap, public_url: Option<&str>) -> Result<(), ApiError> {
    let Some(origin) = headers.get("origin").map(|o| o.to_str().unwrap_or("null")) else { return Ok(()) };
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or_default();
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    let public = public_url.map(|u| u.trim_end_matches('/'));
    if (!host.is_empty() && origin_host == host) || public == Some(origin) {
        return Ok(());
    }
    Err(ApiError::Forbidden(format!("form posted from {origin}, not from this server")))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.append("cookie", "a=1; tierwatch_session=abc; b=2".parse().expect("header"));
        assert_eq!(cookie_value(&h).as_deref(), Some("abc"));
        let mut h = HeaderMap::new();
        h.append("cookie", "tierwatch_sessionx=abc".parse().expect("header"));
        assert_eq!(cookie_value(&h), None);
    }

    #[test]
    fn forms_are_accepted_from_this_server_only() {
        let headers = |origin: Option<&str>, host: &str| {
            let mut h = HeaderMap::new();
            h.insert("host", host.parse().expect("host"));
            if let Some(o) = origin {
                h.insert("origin", o.parse().expect("origin"));
            }
            h
        };
        assert!(check_origin(&headers(None, "a:1"), None).is_ok(), "no Origin: the CSRF token decides");
        assert!(check_origin(&headers(Some("http://a:1"), "a:1"), None).is_ok());
        assert!(check_origin(&headers(Some("http://b:1"), "a:1"), None).is_err());
        assert!(check_origin(&headers(Some("null"), "a:1"), None).is_err());
        assert!(
            check_origin(&headers(Some("https://tiers.example"), "10.0.0.5:8080"), Some("https://tiers.example/"))
                .is_ok()
        );
    }

    #[test]
    fn csrf_tokens_compare_exactly() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
