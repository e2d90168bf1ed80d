//! Protocol errors: the registered OAuth 2.0 error codes and how each is delivered.

use std::borrow::Cow;
use std::fmt;

use http::StatusCode;

/// A registered OAuth 2.0 error code.
///
/// The variants cover RFC 6749 §4.1.2.1 and §4.2.2.1 (authorization endpoint), §5.2 (token
/// endpoint), RFC 6750 §3.1 (resource servers), RFC 7009 §2.2.1 (revocation), OpenID
/// Connect Core §3.1.2.6 (authentication errors), RFC 8628 §3.5 (device polling) and RFC
/// 7591 §3.2.2 (client registration) and RFC 8707 §2 (resource indicators).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request is missing a parameter, repeats one, or is otherwise malformed.
    InvalidRequest,
    /// Client authentication failed (RFC 6749 §5.2).
    InvalidClient,
    /// The grant (code, refresh token, owner credentials) is invalid, expired or revoked.
    InvalidGrant,
    /// The client may not use this grant type or response type.
    UnauthorizedClient,
    /// The grant type is not supported by this server.
    UnsupportedGrantType,
    /// The requested scope is invalid, unknown or exceeds what was granted.
    InvalidScope,
    /// The resource owner or the server denied the request (RFC 6749 §4.1.2.1).
    AccessDenied,
    /// The response type is not supported by this server (RFC 6749 §4.1.2.1).
    UnsupportedResponseType,
    /// The server met an unexpected condition.
    ServerError,
    /// The server is temporarily unable to handle the request (overload, storage outage).
    TemporarilyUnavailable,
    /// The access token is expired, revoked, malformed or invalid (RFC 6750 §3.1).
    InvalidToken,
    /// The access token lacks the scope the resource needs (RFC 6750 §3.1).
    InsufficientScope,
    /// The server does not support revoking this token type (RFC 7009 §2.2.1).
    UnsupportedTokenType,
    /// The end-user must sign in, and `prompt=none` forbids asking (OpenID Connect Core
    /// §3.1.2.6).
    LoginRequired,
    /// The end-user must consent, and `prompt=none` forbids asking (OpenID Connect Core
    /// §3.1.2.6).
    ConsentRequired,
    /// Some interaction is needed, and `prompt=none` forbids it (OpenID Connect Core
    /// §3.1.2.6).
    InteractionRequired,
    /// The end-user must choose an account, and `prompt=none` forbids asking (OpenID
    /// Connect Core §3.1.2.6).
    AccountSelectionRequired,
    /// The `request` parameter is not supported (OpenID Connect Core §3.1.2.6).
    RequestNotSupported,
    /// The `request_uri` parameter is not supported (OpenID Connect Core §3.1.2.6).
    RequestUriNotSupported,
    /// The `registration` parameter is not supported (OpenID Connect Core §3.1.2.6).
    RegistrationNotSupported,
    /// The user has not yet decided on a device authorization (RFC 8628 §3.5).
    AuthorizationPending,
    /// The device polls too often; its interval grew by five seconds (RFC 8628 §3.5).
    SlowDown,
    /// The device code expired (RFC 8628 §3.5).
    ExpiredToken,
    /// A registration's redirect URI is not acceptable (RFC 7591 §3.2.2).
    InvalidRedirectUri,
    /// A registration's client metadata is not acceptable (RFC 7591 §3.2.2).
    InvalidClientMetadata,
    /// A registration's software statement is invalid (RFC 7591 §3.2.2).
    InvalidSoftwareStatement,
    /// A registration's software statement is not approved here (RFC 7591 §3.2.2).
    UnapprovedSoftwareStatement,
    /// The requested resource is invalid, unknown, or not one the grant covers (RFC 8707
    /// §2).
    InvalidTarget,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::AccountSelectionRequired => "account_selection_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::RegistrationNotSupported => "registration_not_supported",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::InvalidSoftwareStatement => "invalid_software_statement",
            Self::UnapprovedSoftwareStatement => "unapproved_software_statement",
            Self::InvalidTarget => "invalid_target",
        }
    }

    /// The HTTP status this code carries when it is answered directly (not redirected).
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope | Self::AccessDenied => StatusCode::FORBIDDEN,
            Self::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth 2.0 protocol error: a code plus the optional fields RFC 6749 §5.2 defines.
///
/// ```
/// use authgate::{ErrorCode, OAuth2Error};
/// let err = OAuth2Error::invalid_request("code_verifier is required");
/// assert_eq!(err.code(), ErrorCode::InvalidRequest);
/// assert_eq!(err.status().as_u16(), 400);
/// ```
#[derive(Debug, Clone)]
pub struct OAuth2Error {
    code: ErrorCode,
    description: Option<Cow<'static, str>>,
    uri: Option<String>,
    state: Option<String>,
    status: Option<StatusCode>,
    basic_challenge: bool,
    reason: Option<&'static str>,
}

impl OAuth2Error {
    /// An error with this code and no description.
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            description: None,
            uri: None,
            state: None,
            status: None,
            basic_challenge: false,
            reason: None,
        }
    }

    /// An error with this code and a human-readable description.
    pub fn with_description(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(code).description(description)
    }

    /// `invalid_request` with a description.
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::with_description(ErrorCode::InvalidRequest, description)
    }

    /// `invalid_client` with a description.
    pub fn invalid_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::with_description(ErrorCode::InvalidClient, description)
    }

    /// `invalid_grant` with a description.
    pub fn invalid_grant(description: impl Into<Cow<'static, str>>) -> Self {
        Self::with_description(ErrorCode::InvalidGrant, description)
    }

    /// `invalid_scope` with a description.
    pub fn invalid_scope(description: impl Into<Cow<'static, str>>) -> Self {
        Self::with_description(ErrorCode::InvalidScope, description)
    }

    /// `unauthorized_client` with a description.
    pub fn unauthorized_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::with_description(ErrorCode::UnauthorizedClient, description)
    }

    /// Sets the description.
    #[must_use]
    pub fn description(mut self, description: impl Into<Cow<'static, str>>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets `error_uri`.
    #[must_use]
    pub fn uri(mut self, uri: impl Into<String>) -> Self {
        self.uri = Some(uri.into());
        self
    }

    /// Sets `state` (echoed on authorization endpoint errors, RFC 6749 §4.1.2.1).
    #[must_use]
    pub fn state(mut self, state: Option<String>) -> Self {
        self.state = state;
        self
    }

    /// Overrides the HTTP status.
    #[must_use]
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    /// Marks the error as answering a failed `Authorization: Basic` client authentication:
    /// status 401 with a `WWW-Authenticate: Basic` challenge (RFC 6749 §5.2).
    #[must_use]
    pub fn with_basic_challenge(mut self) -> Self {
        self.basic_challenge = true;
        self.status = Some(StatusCode::UNAUTHORIZED);
        self
    }

    /// Records why the request was refused, for the operator: a short `snake_case` word
    /// (`secret_mismatch`, `code_replayed`, `token_expired`...) that the engine's `tracing`
    /// event carries beside the error code. It never reaches the client: the answer stays
    /// as generic as the RFC asks (an `invalid_client` says no more than that), while the
    /// log says which check failed. A `&'static str`, so no request value (and no secret)
    /// can end up in it.
    ///
    /// ```
    /// use authgate::OAuth2Error;
    /// let e = OAuth2Error::invalid_client("client authentication failed").reason("secret_mismatch");
    /// assert_eq!(e.internal_reason(), Some("secret_mismatch"));
    /// assert!(!e.to_json().to_string().contains("secret_mismatch"));
    /// ```
    #[must_use]
    pub fn reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }

    /// The internal reason set by [`Self::reason`], if any: for logs, never for answers.
    pub fn internal_reason(&self) -> Option<&'static str> {
        self.reason
    }

    /// The error code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The description, if any.
    pub fn error_description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// `error_uri`, if any.
    pub fn error_uri(&self) -> Option<&str> {
        self.uri.as_deref()
    }

    /// `state`, if any.
    pub fn state_value(&self) -> Option<&str> {
        self.state.as_deref()
    }

    /// Whether the answer carries a `WWW-Authenticate: Basic` challenge.
    pub fn has_basic_challenge(&self) -> bool {
        self.basic_challenge
    }

    /// The HTTP status for a direct (JSON) answer.
    pub fn status(&self) -> StatusCode {
        self.status.unwrap_or_else(|| self.code.status())
    }

    /// The wire parameters: `error`, then `error_description`, `error_uri`, `state` when set.
    pub fn params(&self) -> Vec<(&'static str, &str)> {
        let mut out = vec![("error", self.code.as_str())];
        if let Some(d) = &self.description {
            out.push(("error_description", d));
        }
        if let Some(u) = &self.uri {
            out.push(("error_uri", u));
        }
        if let Some(s) = &self.state {
            out.push(("state", s));
        }
        out
    }

    /// The JSON body (RFC 6749 §5.2).
    pub fn to_json(&self) -> serde_json::Value {
        let map: serde_json::Map<String, serde_json::Value> = self
            .params()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), serde_json::Value::from(v)))
            .collect();
        serde_json::Value::Object(map)
    }
}

impl fmt::Display for OAuth2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code.as_str())?;
        if let Some(d) = &self.description {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for OAuth2Error {}

impl From<StorageError> for OAuth2Error {
    fn from(err: StorageError) -> Self {
        // The answer hides the store's own words; the log keeps them.
        match err {
            StorageError::Unavailable(e) => {
                // As a string field, so the formatter quotes and escapes it (a driver's
                // message can quote a value).
                tracing::warn!(error = e.to_string().as_str(), "the store is unavailable");
                Self::with_description(
                    ErrorCode::TemporarilyUnavailable,
                    "the authorization server's storage is unavailable; retry later",
                )
                .reason("store_unavailable")
            }
            StorageError::Other(e) => {
                tracing::error!(error = e.to_string().as_str(), "the store failed");
                Self::with_description(ErrorCode::ServerError, "internal storage error")
                    .reason("store_failed")
            }
            StorageError::InvalidValue(_) => Self::invalid_request(
                "a value in the request cannot be stored (it holds a character the store refuses)",
            )
            .reason("value_refused_by_store"),
        }
    }
}

/// An error from a storage backend.
///
/// "Not found" is not an error: lookups answer `Ok(None)`.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The backend cannot be reached or timed out; endpoints answer 503.
    #[error("storage unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Any other backend failure; endpoints answer 500.
    #[error("storage error: {0}")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A value the backend cannot hold was given to it to save (PostgreSQL's `text` refuses
    /// NUL, say): the request's fault, not the store's; endpoints answer 400
    /// `invalid_request`. Lookups by such a value answer "not found" instead.
    #[error("value refused by the store: {0}")]
    InvalidValue(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_rfc_string() {
        let all = [
            (ErrorCode::InvalidRequest, "invalid_request"),
            (ErrorCode::InvalidClient, "invalid_client"),
            (ErrorCode::InvalidGrant, "invalid_grant"),
            (ErrorCode::UnauthorizedClient, "unauthorized_client"),
            (ErrorCode::UnsupportedGrantType, "unsupported_grant_type"),
            (ErrorCode::InvalidScope, "invalid_scope"),
            (ErrorCode::AccessDenied, "access_denied"),
            (
                ErrorCode::UnsupportedResponseType,
                "unsupported_response_type",
            ),
            (ErrorCode::ServerError, "server_error"),
            (ErrorCode::TemporarilyUnavailable, "temporarily_unavailable"),
            (ErrorCode::InvalidToken, "invalid_token"),
            (ErrorCode::InsufficientScope, "insufficient_scope"),
            (ErrorCode::UnsupportedTokenType, "unsupported_token_type"),
            (ErrorCode::LoginRequired, "login_required"),
            (ErrorCode::ConsentRequired, "consent_required"),
            (ErrorCode::InteractionRequired, "interaction_required"),
            (
                ErrorCode::AccountSelectionRequired,
                "account_selection_required",
            ),
            (ErrorCode::RequestNotSupported, "request_not_supported"),
            (
                ErrorCode::RequestUriNotSupported,
                "request_uri_not_supported",
            ),
            (
                ErrorCode::RegistrationNotSupported,
                "registration_not_supported",
            ),
        ];
        for (code, s) in all {
            assert_eq!(code.as_str(), s);
        }
    }

    #[test]
    fn token_endpoint_errors_are_400_and_basic_failures_401_rfc6749_5_2() {
        assert_eq!(OAuth2Error::invalid_grant("x").status(), 400);
        assert_eq!(OAuth2Error::invalid_client("x").status(), 400);
        let e = OAuth2Error::invalid_client("x").with_basic_challenge();
        assert_eq!(e.status(), 401);
        assert!(e.has_basic_challenge());
    }

    #[test]
    fn json_body_carries_error_description_uri_and_state() {
        let e = OAuth2Error::invalid_request("bad")
            .uri("https://e.example/doc")
            .state(Some("xyz".into()));
        let v = e.to_json();
        assert_eq!(v["error"], "invalid_request");
        assert_eq!(v["error_description"], "bad");
        assert_eq!(v["error_uri"], "https://e.example/doc");
        assert_eq!(v["state"], "xyz");
    }

    #[test]
    fn storage_outage_maps_to_503_temporarily_unavailable() {
        let e: OAuth2Error = StorageError::Unavailable("down".into()).into();
        assert_eq!(e.code(), ErrorCode::TemporarilyUnavailable);
        assert_eq!(e.status(), 503);
    }
}
