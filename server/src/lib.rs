//! tierwatch: the command-line front end and the server — ingestion,
//! storage, evaluation, the JSON API, the live dashboard and TIERS.md.

pub mod analysis;
pub mod auth;
pub mod charts;
pub mod cli;
pub mod cluster;
pub mod connections;
pub mod error;
pub mod github;
pub mod ingest;
pub mod load;
pub mod promotion;
pub mod routes;
pub mod server;
pub mod state;
pub mod store;
pub mod workflow;

pub use routes::app;

pub use routes::{rate, session};
