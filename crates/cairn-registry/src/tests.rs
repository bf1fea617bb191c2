//! The public API on temporary projects.
