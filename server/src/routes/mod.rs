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
pub mod runs;
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
        .layer(security_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(security_header(header::REFERRER_POLICY, "same-origin"))
        .layer(security_header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(security_header(header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state);
    crate::rate::limited(routes, &rates)
}

/// A header every answer carries unless its handler set it: pages are not
/// to be framed by other sites, sniffed into another type, or leak their
/// URL to other origins.
fn security_header(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
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
