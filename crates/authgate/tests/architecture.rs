//! The architecture page's table of endpoints, pinned: each endpoint module, registered on a
//! bare server, adds exactly the metadata members the page names, and is mounted where and
//! for the methods it says.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use std::collections::BTreeSet;

use authgate::jose::{KeyEncryptionKey, RotationPolicy};
use authgate::*;

fn bare() -> AuthorizationServer {
    let store = MemoryStore::new();
    AuthorizationServer::new(store.stores(), ServerConfig::new("https://as.example"))
        .with_signing_keys(
            KeyEncryptionKey::generate(&OsRng),
            RotationPolicy::default(),
        )
}

fn members(server: &AuthorizationServer) -> BTreeSet<String> {
    server
        .metadata()
        .to_json()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

fn added(with: &AuthorizationServer) -> Vec<String> {
    let base = members(&bare());
    members(with).difference(&base).cloned().collect()
}

#[test]
fn a_bare_server_advertises_its_issuer_token_endpoint_and_iss_parameter() {
    let m: Vec<String> = members(&bare()).into_iter().collect();
    assert_eq!(
        m,
        [
            "authorization_response_iss_parameter_supported",
            "grant_types_supported",
            "issuer",
            "token_endpoint",
            "token_endpoint_auth_methods_supported",
        ]
    );
}

#[test]
fn each_registered_endpoint_adds_exactly_its_own_metadata() {
    let config = ServerConfig::new("https://as.example");
    /// One row of the architecture page's table.
    struct Row {
        register: fn(&mut AuthorizationServer),
        name: &'static str,
        path: &'static str,
        methods: &'static [http::Method],
        adds: &'static [&'static str],
    }
    let cases = [
        Row {
            register: |s| {
                s.register_endpoint(RevocationEndpoint::new()).unwrap();
            },
            name: "revocation",
            path: "/revoke",
            methods: &[http::Method::POST],
            adds: &[
                "revocation_endpoint",
                "revocation_endpoint_auth_methods_supported",
            ],
        },
        Row {
            register: |s| {
                s.register_endpoint(IntrospectionEndpoint::new()).unwrap();
            },
            name: "introspection",
            path: "/introspect",
            methods: &[http::Method::POST],
            adds: &[
                "introspection_endpoint",
                "introspection_endpoint_auth_methods_supported",
            ],
        },
        Row {
            register: |s| {
                s.register_endpoint(JwksEndpoint::new()).unwrap();
            },
            name: "jwks",
            path: "/jwks",
            methods: &[http::Method::GET],
            adds: &["jwks_uri"],
        },
        Row {
            register: |s| {
                s.register_endpoint(DeviceAuthorizationEndpoint::new("/device"))
                    .unwrap();
            },
            name: "device_authorization",
            path: "/device_authorization",
            methods: &[http::Method::POST],
            adds: &["device_authorization_endpoint"],
        },
        Row {
            register: |s| {
                s.register_endpoint(ClientRegistrationEndpoint::new(RegistrationRules::new()))
                    .unwrap();
            },
            name: "registration",
            path: "/register",
            methods: &[http::Method::POST],
            adds: &["registration_endpoint"],
        },
        Row {
            register: |s| {
                s.register_endpoint(
                    ClientRegistrationEndpoint::new(RegistrationRules::new()).configuration(),
                )
                .unwrap();
            },
            name: "client_configuration",
            path: "/register/{client_id}",
            methods: &[http::Method::GET, http::Method::PUT, http::Method::DELETE],
            adds: &[],
        },
    ];
    for row in cases {
        let mut s = bare();
        (row.register)(&mut s);
        assert_eq!(added(&s), row.adds, "{}", row.name);
        let e = s.endpoint(row.name).unwrap();
        assert_eq!(e.path(&config), row.path, "{}", row.name);
        assert_eq!(e.methods(), row.methods, "{}", row.name);
    }
}

#[test]
fn the_authorization_endpoint_appears_with_its_first_grant_and_the_code_grant_adds_pkce() {
    let mut s = bare();
    s.register_grant(ImplicitGrant::new());
    assert_eq!(
        added(&s),
        [
            "authorization_endpoint",
            "response_modes_supported",
            "response_types_supported"
        ]
    );
    s.register_grant(AuthorizationCodeGrant::new());
    assert_eq!(
        added(&s),
        [
            "authorization_endpoint",
            "code_challenge_methods_supported",
            "response_modes_supported",
            "response_types_supported"
        ]
    );
    // A token-endpoint grant adds its grant type, no member.
    let mut t = bare();
    t.register_grant(ClientCredentialsGrant::new());
    assert!(added(&t).is_empty());
    assert_eq!(
        t.metadata().grant_types_supported.unwrap(),
        ["client_credentials"]
    );
}

#[test]
fn endpoint_names_are_unique() {
    let mut s = bare();
    s.register_endpoint(RevocationEndpoint::new()).unwrap();
    let e = s
        .register_endpoint(RevocationEndpoint::new())
        .err()
        .unwrap();
    assert!(matches!(e, SetupError::Duplicate("revocation")));
}

struct NoClaims;

#[async_trait]
impl oidc::ClaimsSource for NoClaims {
    async fn claims(
        &self,
        _: &str,
        _: &[&str],
    ) -> Result<serde_json::Map<String, serde_json::Value>, StorageError> {
        Ok(serde_json::Map::new())
    }
}

#[test]
fn openid_connect_adds_the_discovery_members_and_userinfo_and_logout_theirs() {
    let mut s = bare();
    s.enable_openid(oidc::OpenIdProvider::new(NoClaims))
        .unwrap();
    assert_eq!(
        added(&s),
        [
            "claims_parameter_supported",
            "claims_supported",
            "id_token_signing_alg_values_supported",
            "request_parameter_supported",
            "request_uri_parameter_supported",
            "scopes_supported",
            "subject_types_supported",
            "userinfo_signing_alg_values_supported",
        ]
    );
    let before = members(&s);
    s.register_endpoint(UserInfoEndpoint::new()).unwrap();
    let e = s.endpoint("userinfo").unwrap();
    assert_eq!(
        e.path(&ServerConfig::new("https://as.example")),
        "/userinfo"
    );
    assert_eq!(e.methods(), [http::Method::GET, http::Method::POST]);
    let after = members(&s);
    assert_eq!(
        after.difference(&before).collect::<Vec<_>>(),
        ["userinfo_endpoint"]
    );
    // Logout, with the stores keeping sessions (the memory store does).
    let mut l = bare();
    l.enable_openid(oidc::OpenIdProvider::new(NoClaims).logout(true))
        .unwrap();
    assert_eq!(
        members(&l).difference(&members(&s)).collect::<Vec<_>>(),
        [
            "backchannel_logout_session_supported",
            "backchannel_logout_supported",
            "end_session_endpoint"
        ]
    );
}
