//! tierwatch: the command-line front end and the server — ingestion,
//! storage, evaluation, the JSON API, the live dashboard and TIERS.md.

pub mod auth;
pub mod cli;
pub mod cluster;
pub mod connections;
pub mod error;
pub mod github;
pub mod ingest;
pub mod load;
pub mod promotions;
pub mod routes;
pub mod server;
pub mod state;
pub mod store;
pub mod views;

pub use routes::app;

pub use routes::{rate, session};
