//! The storage conformance suite on the engine's in-memory store, through the same public
//! entry point a user's own store would use.

use authgate::testing::StoreUnderTest;
use authgate::MemoryStore;

authgate::storage_conformance_tests!(memory_store, async {
    Some(StoreUnderTest::new(MemoryStore::new()))
});

// The same store with its signing keys, consents and sessions attached.
authgate::storage_conformance_tests!(memory_store_with_keys, async {
    let store = MemoryStore::new();
    Some(StoreUnderTest::from_parts(
        store.stores(),
        std::sync::Arc::new(store.clone()),
        std::sync::Arc::new(store),
    ))
});
