//! An OpenID Provider over a `MemoryStore` with every grant the engine has and dynamic
//! registration mounted, built once per process: what the registration targets run
//! against. Included by path from the targets that need it (it is not a target itself).
// Each including target uses only part of the fixture.
#![allow(dead_code)]

use std::sync::OnceLock;

use authgate::jose::{Algorithm, KeyEncryptionKey, RotationPolicy};
use authgate::oidc::{ClaimsSource, OpenIdProvider};
use authgate::{
    async_trait, AuthorizationCodeGrant, AuthorizationServer, ClientCredentialsGrant,
    ClientRegistrationEndpoint, DeviceCodeGrant, FrozenClock, ImplicitGrant, MemoryStore,
    OpenIdGrant, RefreshTokenGrant, RegistrationRules, ServerConfig, StorageError,
};
use serde_json::{Map, Value};
use tokio::runtime::Runtime;

pub const ISSUER: &str = "https://as.example";
/// What self-registered clients may have, and what the server advertises.
pub const SCOPES: &str = "openid profile email";

pub struct Fixture {
    pub rt: Runtime,
    pub server: AuthorizationServer,
    pub store: MemoryStore,
}

struct NoClaims;

#[async_trait]
impl ClaimsSource for NoClaims {
    async fn claims(&self, _: &str, _: &[&str]) -> Result<Map<String, Value>, StorageError> {
        Ok(Map::new())
    }
}

pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime");
        let store = MemoryStore::new();
        let mut config = ServerConfig::new(ISSUER).refresh_tokens(true);
        config.scopes_supported = SCOPES.split(' ').map(String::from).collect();
        let mut policy = RotationPolicy::default();
        // ES256 and EdDSA only: an RSA key takes long to generate and adds nothing here.
        policy.algorithms = vec![Algorithm::ES256, Algorithm::EdDSA];
        let mut server = AuthorizationServer::new(store.stores(), config)
            .with_clock(FrozenClock::at(1_800_000_000))
            .with_signing_keys(KeyEncryptionKey::from_bytes([7; 32]), policy);
        rt.block_on(server.context().keys.as_ref().expect("keys").load())
            .expect("signing keys");
        server
            .enable_openid(OpenIdProvider::new(NoClaims).pairwise_secret(vec![9; 32]))
            .expect("signing keys are set");
        server
            .register_grant(AuthorizationCodeGrant::new())
            .register_grant(ImplicitGrant::new())
            .register_grant(RefreshTokenGrant::new())
            .register_grant(ClientCredentialsGrant::new())
            .register_grant(DeviceCodeGrant::new());
        for g in OpenIdGrant::all() {
            server.register_grant(g);
        }
        let rules = RegistrationRules::new()
            .grant_types([
                "authorization_code",
                "implicit",
                "refresh_token",
                "client_credentials",
                authgate::DEVICE_CODE_GRANT_TYPE,
            ])
            .scope(SCOPES);
        let registration = ClientRegistrationEndpoint::new(rules);
        server
            .register_endpoint(registration.configuration())
            .expect("the store is a client registry");
        server
            .register_endpoint(registration)
            .expect("the store is a client registry");
        Fixture { rt, server, store }
    })
}
