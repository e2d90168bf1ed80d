//! [`ConsentStore`]: the approvals users gave, so that a later request for no more than
//! what was approved needs no consent page (and `prompt=none` can succeed).

use async_trait::async_trait;

use crate::error::StorageError;
use crate::scope::Scope;

/// A user's standing approval of a client: the scope approved so far, and when it was
/// last given.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    /// The user's local subject.
    pub subject: String,
    /// The client approved.
    pub client_id: String,
    /// Every scope value approved (the union of the approvals).
    pub scope: Scope,
    /// When it was last given, seconds since the epoch.
    pub granted_at: i64,
}

impl ConsentRecord {
    /// A record; see the fields.
    pub fn new(
        subject: impl Into<String>,
        client_id: impl Into<String>,
        scope: Scope,
        granted_at: i64,
    ) -> Self {
        Self {
            subject: subject.into(),
            client_id: client_id.into(),
            scope,
            granted_at,
        }
    }

    /// Whether the approval covers `scope`.
    pub fn covers(&self, scope: &Scope) -> bool {
        scope.is_subset_of(&self.scope)
    }
}

/// Keeps remembered consent, one record per (subject, client).
#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// The user's approval of the client, if any.
    async fn find_consent(
        &self,
        subject: &str,
        client_id: &str,
    ) -> Result<Option<ConsentRecord>, StorageError>;

    /// Creates or replaces the (subject, client) record.
    async fn save_consent(&self, consent: &ConsentRecord) -> Result<(), StorageError>;

    /// Every client the user approved, ordered by client id.
    async fn list_consents(&self, subject: &str) -> Result<Vec<ConsentRecord>, StorageError>;

    /// Forgets the approval, revokes every token the client holds for the user and
    /// deletes the client's unredeemed codes for the user, at once (a store commits all
    /// or nothing). Answers whether an approval existed.
    async fn revoke_consent(&self, subject: &str, client_id: &str) -> Result<bool, StorageError>;
}
