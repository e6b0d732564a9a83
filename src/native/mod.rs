//! Native-only pieces: files from a directory, the command line.

pub mod files;
pub mod make_test_model;
