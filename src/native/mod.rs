//! Native-only pieces: checkpoint directories and the hub, the engine thread, the command line.

pub mod bench;
pub mod chat;
pub mod checkpoint;
pub mod files;
pub mod hub;
pub mod make_test_model;
pub mod progress;
pub mod runner;
pub mod serve;
pub mod server;
