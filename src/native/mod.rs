//! Native-only pieces: checkpoint directories and the hub, the HTTP server and its metrics,
//! the command line.

pub mod bench;
pub mod chat;
pub mod checkpoint;
pub mod cors;
pub mod files;
pub mod hub;
pub mod make_test_model;
pub mod metrics;
pub mod progress;
pub mod serve;
pub mod server;
