//! [`SessionStore`]: login sessions kept on the server, so that they can be ended at once
//! (logout, a password change, a removed user) and so that logout knows which clients to
//! tell (OpenID Connect Back-Channel Logout).

use async_trait::async_trait;

use crate::error::StorageError;

/// A login session.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The session id: random, unguessable, and the `sid` claim of the ID tokens issued
    /// in it.
    pub sid: String,
    /// The user's local subject.
    pub subject: String,
    /// The user's login name.
    pub username: Option<String>,
    /// When the user authenticated, seconds since the epoch.
    pub auth_time: i64,
    /// When the session ends by itself.
    pub expires_at: i64,
    /// The authentication context class reference satisfied.
    pub acr: Option<String>,
    /// The authentication methods used.
    pub amr: Vec<String>,
    /// The clients that were issued tokens in this session, in the order they first were.
    pub clients: Vec<String>,
}

impl SessionRecord {
    /// A session of `subject` that authenticated at `auth_time`.
    pub fn new(
        sid: impl Into<String>,
        subject: impl Into<String>,
        auth_time: i64,
        expires_at: i64,
    ) -> Self {
        Self {
            sid: sid.into(),
            subject: subject.into(),
            username: None,
            auth_time,
            expires_at,
            acr: None,
            amr: Vec::new(),
            clients: Vec::new(),
        }
    }

    /// Sets the login name.
    #[must_use]
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// Sets the authentication methods.
    #[must_use]
    pub fn amr<I: IntoIterator<Item = S>, S: Into<String>>(mut self, amr: I) -> Self {
        self.amr = amr.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the authentication context class reference.
    #[must_use]
    pub fn acr(mut self, acr: impl Into<String>) -> Self {
        self.acr = Some(acr.into());
        self
    }

    /// Whether the session is still on at `now`.
    pub fn is_active(&self, now: i64) -> bool {
        now < self.expires_at
    }
}

/// Keeps login sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Creates (or replaces) a session.
    async fn save_session(&self, session: &SessionRecord) -> Result<(), StorageError>;

    /// The session with this id, expired or not, or `None` when it ended or never was.
    async fn find_session(&self, sid: &str) -> Result<Option<SessionRecord>, StorageError>;

    /// Records that `client_id` was issued tokens in the session (once per client; nothing
    /// when the session is gone).
    async fn add_session_client(&self, sid: &str, client_id: &str) -> Result<(), StorageError>;

    /// Ends a session: removes it and answers it as it was. Of concurrent calls for one
    /// session exactly one gets it.
    async fn end_session(&self, sid: &str) -> Result<Option<SessionRecord>, StorageError>;

    /// Ends every session of a user (password change, removal); answers them.
    async fn end_sessions_of(&self, subject: &str) -> Result<Vec<SessionRecord>, StorageError>;
}
