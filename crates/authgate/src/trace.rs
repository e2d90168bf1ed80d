//! The engine's `tracing` events: one per answered request at the token, revocation,
//! introspection, registration, device authorization and authorization endpoints and at
//! every Bearer check.
//!
//! A refusal is logged at `info` (the client's fault), `warn` (`temporarily_unavailable`)
//! or `error` (`server_error`); a device's `authorization_pending` poll at `debug`. The
//! fields:
//!
//! | field | value |
//! | --- | --- |
//! | `endpoint` | `token`, `revocation`, `introspection`, `registration`, `device_authorization`, `authorization`, `bearer` |
//! | `grant_type` | at the token endpoint, as sent (its first 128 bytes) |
//! | `client_id` | as the request names it, checked or not (a refused one may be unknown; its first 128 bytes) |
//! | `error` | the OAuth error code sent back |
//! | `reason` | which check failed ([`crate::OAuth2Error::reason`]), when the engine knows |
//!
//! A request answered successfully is logged at `debug` with the same fields but `error`
//! and `reason`. No event carries a secret, a token, a code or a password; the values taken
//! from the request (`client_id`, `grant_type`) are recorded as strings, which the
//! `tracing-subscriber` formatters quote and escape, so they cannot forge a log line. Field
//! values are computed only when a subscriber wants the event: with logging off or above
//! the event's level an event costs a relaxed atomic load.

use crate::client::authentication::presented_client_id;
use crate::error::{ErrorCode, OAuth2Error};
use crate::request::OAuth2Request;

/// At most this many bytes of a value taken from the request reach a log line: an
/// unauthenticated request cannot make every refusal log kilobytes.
const MAX_LOGGED: usize = 128;

/// A request value cut to [`MAX_LOGGED`] bytes (on a character boundary).
fn bounded(value: &str) -> &str {
    if value.len() <= MAX_LOGGED {
        return value;
    }
    let mut end = MAX_LOGGED;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

/// The `grant_type` a request names, for logs.
fn grant_type(req: &OAuth2Request) -> Option<&str> {
    req.form_value("grant_type").ok().flatten().map(bounded)
}

/// The `client_id` a request names, for logs.
fn client_id(req: &OAuth2Request) -> Option<String> {
    presented_client_id(req).map(|id| bounded(&id).to_owned())
}

/// Logs a refused request at the level its error code calls for.
pub(crate) fn refused(endpoint: &'static str, req: &OAuth2Request, err: &OAuth2Error) {
    refusal(endpoint, Some(req), err);
}

/// [`refused`] for a check with no [`OAuth2Request`] (the Bearer check): no `grant_type`
/// nor `client_id`.
pub(crate) fn refusal(endpoint: &'static str, req: Option<&OAuth2Request>, err: &OAuth2Error) {
    macro_rules! event {
        ($level:expr) => {
            tracing::event!(
                $level,
                endpoint,
                grant_type = req.and_then(grant_type),
                client_id = req.and_then(client_id).as_deref(),
                error = err.code().as_str(),
                reason = err.internal_reason(),
                "refused"
            )
        };
    }
    match err.code() {
        ErrorCode::ServerError => event!(tracing::Level::ERROR),
        ErrorCode::TemporarilyUnavailable => event!(tracing::Level::WARN),
        // A device polling before the user decided is the flow working, not a refusal
        // worth a line per poll.
        ErrorCode::AuthorizationPending => event!(tracing::Level::DEBUG),
        _ => event!(tracing::Level::INFO),
    }
}

/// Logs a request answered successfully, at `debug`.
pub(crate) fn served(endpoint: &'static str, req: &OAuth2Request) {
    tracing::debug!(
        endpoint,
        grant_type = grant_type(req),
        client_id = client_id(req).as_deref(),
        "served"
    );
}
