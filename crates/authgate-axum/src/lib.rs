//! axum integration for authgate (in progress).
