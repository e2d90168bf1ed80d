//! The storage conformance suite on the engine's in-memory store, through the same public
//! entry point a user's own store would use.

use authgate::testing::StoreUnderTest;
use authgate::MemoryStore;

authgate::storage_conformance_tests!(memory_store, async {
    Some(StoreUnderTest::new(MemoryStore::new()))
});
