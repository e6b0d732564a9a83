//! hearth: one engine for Qwen2-family chat models, served natively, from an edge worker and
//! in the browser. ARCHITECTURE.md at the repository root maps the modules.

pub mod backend;
pub mod contract;
pub mod engine;
pub mod generate;
pub mod model;
pub mod runner;
pub mod service;
pub mod text;

#[cfg(feature = "native")]
pub mod native;
#[cfg(all(feature = "browser", target_family = "wasm"))]
pub mod web;
