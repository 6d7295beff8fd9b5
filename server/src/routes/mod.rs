//! Every route of the server, merged in one place.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Html;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::state::AppState;

pub mod dashboard;
pub mod fuzz;
pub mod matrix;
pub mod ops;
pub mod promotions;
pub mod rate;
pub mod runs;
pub mod session;
pub mod tables;

/// The application: API, dashboard and operations endpoints.
///
/// | group | routes |
/// |---|---|
/// | runs | `POST /api/v1/runs`, `GET /api/v1/runs`, `GET /api/v1/runs/{id}` |
/// | matrix | `GET /api/v1/matrix`, `/api/v1/features`, `/api/v1/features/{id}`, `/api/v1/targets`, `/api/v1/history`, `/TIERS.md`, `/badges/{feature}.svg` |
/// | fuzz | `GET /api/v1/fuzz/campaigns`, `/api/v1/fuzz/crashes` |
/// | ops | `GET /healthz`, `/metrics`, `/api/v1/openapi.json` |
/// | promotions | `GET/POST /api/v1/promotions`, `GET /api/v1/promotions/{id}`, `POST /api/v1/promotions/{id}/{approve,reject,withdraw,apply}`, `GET /api/v1/audit`, `GET/POST /promotions`, `/promotions/{id}`, `/login`, `POST /logout` |
/// | tables | `GET /api/v1/tables`, `/api/v1/tables/{id}`, `/tables`, `/tables/{id}?arch=` |
/// | dashboard | `GET /`, `/features/{id}`, `/runs`, `/runs/{id}`, `/fuzz`, `/events`, `/static/style.css` |
///
/// Every request counts against its address's and its token's budgets
/// (`rate`), so the router needs each request's peer address: serve it with
/// `connections::serve`, which also bounds connections.
pub fn app(state: AppState) -> Router {
    let rates = state.settings.rates.clone();
    let routes = Router::new()
        .merge(runs::router())
        .merge(matrix::router())
        .merge(fuzz::router())
        .merge(ops::router())
        .merge(dashboard::router())
        .merge(promotions::router())
        .merge(tables::router())
        .route("/favicon.ico", axum::routing::get(favicon))
        .route("/static/favicon.svg", axum::routing::get(favicon))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(html_errors))
        .layer(security_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(security_header(header::REFERRER_POLICY, "same-origin"))
        .layer(security_header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(security_header(header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state);
    rate::limited(routes, &rates)
}

/// A header every answer carries unless its handler set it: pages are not
/// to be framed by other sites, sniffed into another type, or leak their
/// URL to other origins.
fn security_header(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// The icon browsers ask for, drawn as SVG.
const FAVICON: &str = include_str!("../../../templates/favicon.svg");

async fn favicon() -> impl axum::response::IntoResponse {
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=86400")], FAVICON)
}

/// Any path no route serves: a 404 that names it.
async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!(
        "nothing at `{}`; the pages are linked from /, the API is in /api/v1/openapi.json",
        uri.path()
    ))
}

/// How much of an error body is read back to show it as a page: errors are
/// short JSON, and one longer than this is passed on as it is.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Errors as a browser should see them: an answer of 400 or above whose
/// body is the API's JSON error, to a request for a page (not under
/// `/api/`) from a client that accepts HTML, becomes the HTML message page
/// with the same status, headers and message. API clients keep the JSON.
async fn html_errors(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    let wants_html = !request.uri().path().starts_with("/api/") && accepts_html(request.headers());
    let response = next.run(request).await;
    let is_json_error = response.status().as_u16() >= 400
        && response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !wants_html || !is_json_error {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, ERROR_BODY_LIMIT).await else {
        return (parts.status, "error").into_response();
    };
    let message = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned));
    let Some(message) = message else { return axum::response::Response::from_parts(parts, bytes.into()) };
    let page = message_page(parts.status, &message, "/");
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    let (_, body) = page.into_parts();
    axum::response::Response::from_parts(parts, body)
}

/// Whether the client lists HTML among what it accepts, as browsers do.
fn accepts_html(headers: &axum::http::HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).any(|v| v.contains("text/html"))
}

/// The message page: a status's name as its title, what went wrong, and a
/// way back.
pub(crate) fn message_page(status: axum::http::StatusCode, message: &str, back: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    #[derive(askama::Template)]
    #[template(path = "message.html")]
    struct Message<'a> {
        title: &'a str,
        message: &'a str,
        back: &'a str,
    }
    let title = status.canonical_reason().unwrap_or("Error");
    match askama::Template::render(&Message { title, message, back }) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, message.to_owned()).into_response(),
    }
}

/// Renders a page's template.
fn render(t: &impl askama::Template) -> Result<Html<String>, ApiError> {
    t.render().map(Html).map_err(|e| ApiError::Render(e.to_string()))
}

/// A listing's `limit` query parameter: 1 to 1000, default 100. Read as
/// text so a bad value gets the API's JSON error, not axum's.
fn limit(raw: Option<&str>) -> Result<i64, ApiError> {
    let Some(raw) = raw else { return Ok(100) };
    match raw.parse::<i64>() {
        Ok(n) if (1..=1000).contains(&n) => Ok(n),
        _ => Err(ApiError::BadRequest(format!("limit `{raw}`: give a whole number from 1 to 1000"))),
    }
}
