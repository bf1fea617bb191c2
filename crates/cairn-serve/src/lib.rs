//! cairn's model server and batch scoring.
//!
//! One scoring path ([`score`](mod@score)) takes rows parsed from any request format ([`parse`], [`csv`])
//! or read from a table (`frame`), or read from the online store for entity-keyed rows
//! ([`entities`]), checks them against the model's input schema, applies the preprocessing the
//! model's artifact recorded, and predicts. The HTTP server ([`server`]) and `cairn predict`
//! ([`predict`](mod@predict)) both go through it.
//!
//! Libraries never print: the server reports what happens (listening, reloads, access records,
//! warnings) through [`server::Reporter`], and batch scoring its progress through
//! [`predict::Progress`].

pub mod csv;
pub mod entities;
pub mod error;
mod frame;
pub mod model;
pub mod parse;
pub mod predict;
pub mod rows;
pub mod schema;
pub mod score;
pub mod server;

pub use entities::{EntityError, EntityRows, WhenUnavailable, entity_rows, shared_entity_rows};
pub use error::{ErrorDetail, LoadError, PredictError, ScoreError};
pub use model::{Model, ModelDoc};
pub use parse::{Dialect, ParseOptions, Parsed, parse_json};
pub use predict::{PredictOptions, PredictOutcome, predict};
pub use rows::Rows;
pub use schema::{Schema, UnknownFields};
pub use score::{Scored, score};

#[cfg(test)]
mod tests;
