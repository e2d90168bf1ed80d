//! Criterion micro-benchmarks of the engine's hot paths.
//!
//! `cargo bench -p authgate --bench engine`; under `cargo test` each runs once as a smoke
//! test.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test
#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::hint::black_box;

use authgate::*;
use base64::Engine;
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};

fn token_request() -> http::Request<Bytes> {
    let basic = base64::engine::general_purpose::STANDARD.encode("svc:secret");
    http::Request::post("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", format!("Basic {basic}"))
        .body(Bytes::from_static(
            b"grant_type=client_credentials&scope=read",
        ))
        .unwrap()
}

fn server() -> AuthorizationServer {
    let store = MemoryStore::new();
    store.add_client(
        ClientRecord::confidential("svc", "secret")
            .grant_types(["client_credentials"])
            .scope("read write"),
    );
    let mut s = AuthorizationServer::new(store, ServerConfig::new("https://a.example"));
    s.register_grant(ClientCredentialsGrant::new());
    s
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let server = server();

    c.bench_function("parse_token_request", |b| {
        b.iter(|| OAuth2Request::from_http(black_box(token_request()), 65536).unwrap());
    });

    let req = OAuth2Request::from_http(token_request(), 65536).unwrap();
    let clients = server.context().clients.clone();
    c.bench_function("authenticate_client_basic", |b| {
        b.iter(|| {
            rt.block_on(authenticate_client(clients.as_ref(), black_box(&req)))
                .unwrap()
        });
    });

    c.bench_function("generate_token", |b| {
        b.iter(|| token::generate_token(&OsRng, black_box(1_700_000_000_000)));
    });

    c.bench_function("create_token_response_client_credentials_memory", |b| {
        b.iter(|| {
            let res = rt.block_on(server.create_token_response(black_box(&req)));
            assert_eq!(res.status, 200);
        });
    });

    let res = rt.block_on(server.create_token_response(&req));
    let token = res.json_body().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let protector = ResourceProtector::from_server(&server);
    let (request, ()) = http::Request::get("/api")
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap()
        .into_parts();
    let need = ScopeRequirement::all_of("read");
    c.bench_function("bearer_check_memory", |b| {
        b.iter(|| {
            rt.block_on(protector.validate(black_box(&request), &need))
                .unwrap()
        });
    });

    let challenge = CodeChallenge::new(
        "qjrzSW9gMiUgpUvqgEPE4_-8swvyCtfOVvg55o5S_es",
        CodeChallengeMethod::S256,
    )
    .unwrap();
    c.bench_function("pkce_s256_verify", |b| {
        b.iter(|| {
            challenge
                .verify(black_box(
                    "M25iVXpKU3puUjFaYWg3T1NDTDQtcW1ROUY5YXlwalNoc0hhakxifmZHag",
                ))
                .unwrap();
        });
    });
}

/// Claims for the ID token benchmarks: a name and an email, as a user table would answer.
struct Claims;

#[async_trait]
impl oidc::ClaimsSource for Claims {
    async fn claims(
        &self,
        _subject: &str,
        names: &[&str],
    ) -> Result<serde_json::Map<String, serde_json::Value>, StorageError> {
        let mut m = serde_json::Map::new();
        for n in names {
            m.insert((*n).to_owned(), "Alice Liddell".into());
        }
        Ok(m)
    }
}

/// Signing an ID token (claims gathered, JSON built, signed) per algorithm, beside the
/// opaque access token issuance above as the same run's baseline.
fn id_tokens(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = MemoryStore::new();
    let mut policy = jose::RotationPolicy::default();
    policy.algorithms = vec![
        jose::Algorithm::RS256,
        jose::Algorithm::ES256,
        jose::Algorithm::EdDSA,
    ];
    let mut server =
        AuthorizationServer::new(store.stores(), ServerConfig::new("https://a.example"))
            .with_signing_keys(jose::KeyEncryptionKey::generate(&OsRng), policy);
    server
        .enable_openid(oidc::OpenIdProvider::new(Claims))
        .unwrap();
    let ctx = server.context();
    rt.block_on(ctx.keys.as_ref().unwrap().load()).unwrap();
    let openid = oidc::provider(ctx).unwrap().clone();
    let details = GrantDetails::of_owner(
        &ResourceOwner::new("user-1", "alice")
            .authenticated_at(1_700_000_000)
            .amr(["pwd"])
            .session_id("sid-1"),
    );
    let scope: Scope = "openid profile".parse().unwrap();
    for (alg, name) in [
        ("RS256", "id_token_sign_rs256"),
        ("ES256", "id_token_sign_es256"),
        ("EdDSA", "id_token_sign_eddsa"),
    ] {
        let client = ClientRecord::confidential("rp", "secret")
            .with_metadata("id_token_signed_response_alg", alg);
        c.bench_function(name, |b| {
            b.iter(|| {
                let mut spec = oidc::IdTokenSpec::new(&client, "user-1", &details, &scope);
                spec.nonce = Some("n-0S6_WzA2Mj");
                rt.block_on(openid.id_token(ctx, black_box(spec))).unwrap()
            });
        });
    }
}

/// JWT access tokens (RFC 9068): issuing a client_credentials token per algorithm beside
/// an opaque one, and checking one as a resource would (signature and claims, with the
/// published keys alone) beside the store lookup an opaque token needs — all in one run,
/// so the ratios compare like with like.
fn jwt_access_tokens(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("access_token");
    let basic = base64::engine::general_purpose::STANDARD.encode("svc:secret");
    let request = |resource: &str| {
        let body = format!("grant_type=client_credentials&scope=read&resource={resource}");
        let req = http::Request::post("/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", format!("Basic {basic}"))
            .body(Bytes::from(body))
            .unwrap();
        OAuth2Request::from_http(req, 65536).unwrap()
    };
    for (alg, name) in [
        (None, "opaque"),
        (Some(jose::Algorithm::ES256), "es256"),
        (Some(jose::Algorithm::EdDSA), "eddsa"),
        (Some(jose::Algorithm::RS256), "rs256"),
    ] {
        let store = MemoryStore::new();
        store.add_client(
            ClientRecord::confidential("svc", "secret")
                .grant_types(["client_credentials"])
                .scope("read"),
        );
        let mut config = ServerConfig::new("https://a.example");
        config.resources = ResourceRegistry::new().with(
            RegisteredResource::new("https://api.example/")
                .unwrap()
                .access_token_format(if alg.is_some() {
                    AccessTokenFormat::Jwt
                } else {
                    AccessTokenFormat::Opaque
                }),
        );
        let mut policy = jose::RotationPolicy::default();
        policy.algorithms = vec![alg.unwrap_or(jose::Algorithm::ES256)];
        let mut server = AuthorizationServer::new(store.stores(), config)
            .with_signing_keys(jose::KeyEncryptionKey::generate(&OsRng), policy)
            .with_access_token_algorithm(alg.unwrap_or(jose::Algorithm::ES256));
        server.register_grant(ClientCredentialsGrant::new());
        let keys = server.context().keys.clone().unwrap();
        rt.block_on(keys.load()).unwrap();
        let req = request("https%3A%2F%2Fapi.example%2F");
        group.bench_function(format!("issue_{name}"), |b| {
            b.iter(|| {
                let res = rt.block_on(server.create_token_response(black_box(&req)));
                assert_eq!(res.status, 200);
            });
        });
        let res = rt.block_on(server.create_token_response(&req));
        let token = res.json_body().unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        if alg.is_some() {
            // What a resource does with the key set it fetched: the signature with the
            // key's pinned algorithm, then typ, iss, aud and exp.
            let verifier = rt.block_on(keys.verifier()).unwrap();
            group.bench_function(format!("validate_local_{name}"), |b| {
                b.iter(|| {
                    let v = verifier.verify(black_box(&token)).unwrap();
                    assert_eq!(v.typ.as_deref(), Some("at+jwt"));
                    assert_eq!(v.claims["iss"], "https://a.example");
                    assert_eq!(v.claims["aud"], "https://api.example/");
                    assert!(v.claims["exp"].as_i64().unwrap() > 1_700_000_000);
                });
            });
        } else {
            let protector = ResourceProtector::from_server(&server)
                .audience(ExpectedAudience::Resource("https://api.example/".into()));
            let (head, ()) = http::Request::get("/api")
                .header("authorization", format!("Bearer {token}"))
                .body(())
                .unwrap()
                .into_parts();
            let need = ScopeRequirement::all_of("read");
            group.bench_function("validate_store_opaque", |b| {
                b.iter(|| {
                    rt.block_on(protector.validate(black_box(&head), &need))
                        .unwrap()
                });
            });
        }
    }
    group.finish();
}

criterion_group!(engine, benches, id_tokens, jwt_access_tokens);
criterion_main!(engine);
