//! Native-only pieces: checkpoint directories, the engine thread, the command line.

pub mod files;
pub mod make_test_model;
pub mod runner;
pub mod serve;
pub mod server;
