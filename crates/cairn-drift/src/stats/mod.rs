//! The statistics, on plain numbers: sorted samples for the numeric tests, counts for the
//! categorical ones. Each matches the scipy (or Evidently) computation named in its module;
//! the tests compare them with values scipy computed.

pub mod counts;
pub mod distance;
pub mod ks;
pub mod kstwo;

#[cfg(test)]
mod tests;
