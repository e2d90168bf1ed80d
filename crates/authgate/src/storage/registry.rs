//! [`ClientRegistry`]: clients that register themselves (RFC 7591) and manage their own
//! registration (RFC 7592).

use async_trait::async_trait;

use crate::client::ClientRecord;
use crate::error::StorageError;

/// Creates, reads, replaces and deletes clients as data, for dynamic registration.
#[async_trait]
pub trait ClientRegistry: Send + Sync {
    /// Saves a new client. Answers false (and saves nothing) when the client id is taken.
    async fn create_client(&self, client: &ClientRecord) -> Result<bool, StorageError>;

    /// The client as stored, or `None`.
    async fn registered_client(
        &self,
        client_id: &str,
    ) -> Result<Option<ClientRecord>, StorageError>;

    /// Replaces a stored client. Answers false when there is none of that id.
    async fn update_client(&self, client: &ClientRecord) -> Result<bool, StorageError>;

    /// Deletes a client and, at once, revokes every token issued to it and deletes its
    /// codes, device codes and users' approvals of it, so nothing it held still works.
    /// Answers whether it existed.
    async fn delete_client(&self, client_id: &str) -> Result<bool, StorageError>;
}
