//! The guide's finished apps, as examples of this (unpublished) package:
//!
//! - `tutorial`: an axum app with its own users and login that becomes an authorization
//!   server (`cargo run -p authgate-examples --example tutorial`); its test is
//!   `tests/tutorial.rs`, which also checks that the guide's listings are the lines they
//!   name.
#![forbid(unsafe_code)]
