//! Two issuers on one database: each `AuthorizationServer` works in its own tenant, and
//! nothing of one — clients, codes, tokens, users, secrets — is found through the other.
//! Run on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod support;

use authgate::testing::Fixture;
use authgate::*;
use authgate_sql::AnyStore;
use base64::Engine;
use bytes::Bytes;

fn server(db: &AnyStore, tenant: &str, issuer: &str) -> AuthorizationServer {
    let mut s = AuthorizationServer::new(db.tenant(tenant).stores(), ServerConfig::new(issuer));
    s.register_grant(AuthorizationCodeGrant::new())
        .register_grant(ClientCredentialsGrant::new())
        .register_revoke_token_endpoint(RevocationEndpoint::new())
        .register_introspection_endpoint(IntrospectionEndpoint::new());
    s
}

fn post(path: &str, secret: &str, body: &str) -> OAuth2Request {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("web:{secret}"));
    let req = http::Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", format!("Basic {basic}"))
        .body(Bytes::from(body.to_owned()))
        .unwrap();
    OAuth2Request::from_http(req, 65536).unwrap()
}

fn bearer(token: &str) -> http::request::Parts {
    http::Request::get("/api")
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap()
        .into_parts()
        .0
}

async fn two_issuers_on_one_database_never_see_each_other(db: AnyStore) {
    // The same client_id and username in both tenants, with different secrets and subjects.
    for (tenant, secret, subject) in [
        ("a", "secret-a", "alice-in-a"),
        ("b", "secret-b", "alice-in-b"),
    ] {
        let t = db.tenant(tenant);
        t.add_client(
            ClientRecord::confidential("web", secret)
                .redirect_uris(["https://app.example/cb"])
                .grant_types(["authorization_code", "client_credentials"])
                .response_types(["code"])
                .scope("read"),
        )
        .await;
        t.add_user("alice", subject, "pw").await;
    }
    let a = server(&db, "a", "https://a.example");
    let b = server(&db, "b", "https://b.example");

    // A token from A...
    let res = a
        .create_token_response(&post("/token", "secret-a", "grant_type=client_credentials"))
        .await;
    assert_eq!(res.status, 200);
    let token = res.json_body().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    ResourceProtector::from_server(&a)
        .validate(&bearer(&token), &ScopeRequirement::none())
        .await
        .expect("A accepts its own token");
    // ...is unknown to B's resource protector and introspection, and B cannot revoke it.
    let e = ResourceProtector::from_server(&b)
        .validate(&bearer(&token), &ScopeRequirement::none())
        .await
        .unwrap_err();
    assert_eq!(e.error().unwrap().code(), ErrorCode::InvalidToken);
    let res = b
        .create_introspection_response(&post("/introspect", "secret-b", &format!("token={token}")))
        .await;
    assert_eq!(
        res.json_body().unwrap(),
        serde_json::json!({ "active": false })
    );
    let res = b
        .create_revocation_response(&post("/revoke", "secret-b", &format!("token={token}")))
        .await;
    assert_eq!(
        res.status, 200,
        "RFC 7009 2.2: an unknown token is no error"
    );
    ResourceProtector::from_server(&a)
        .validate(&bearer(&token), &ScopeRequirement::none())
        .await
        .expect("B's revocation did not reach A's token");

    // A client's secret in one tenant does not authenticate the same client_id in the other.
    let res = b
        .create_token_response(&post("/token", "secret-a", "grant_type=client_credentials"))
        .await;
    assert_eq!(res.json_body().unwrap()["error"], "invalid_client");

    // A code from A cannot be redeemed at B.
    let req = OAuth2Request::from_http(
        http::Request::get("/authorize?response_type=code&client_id=web")
            .body(Bytes::new())
            .unwrap(),
        65536,
    )
    .unwrap();
    let res = a
        .create_authorization_response(&req, Some(&ResourceOwner::new("alice-in-a", "alice")))
        .await
        .unwrap();
    let loc = url::Url::parse(res.location().unwrap()).unwrap();
    assert_eq!(
        loc.query_pairs().find(|(k, _)| k == "iss").unwrap().1,
        "https://a.example"
    );
    let code = loc
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let body = format!("grant_type=authorization_code&code={code}");
    let res = b
        .create_token_response(&post("/token", "secret-b", &body))
        .await;
    assert_eq!(res.json_body().unwrap()["error"], "invalid_grant");
    let res = a
        .create_token_response(&post("/token", "secret-a", &body))
        .await;
    assert_eq!(res.status, 200, "the code still works where it was issued");

    // Users and shared secrets are per tenant too.
    let in_a = db
        .tenant("a")
        .authenticate_user("alice", "pw")
        .await
        .unwrap()
        .unwrap();
    let in_b = db
        .tenant("b")
        .authenticate_user("alice", "pw")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (in_a.subject.as_str(), in_b.subject.as_str()),
        ("alice-in-a", "alice-in-b")
    );
    assert!(
        db.authenticate_user("alice", "pw").await.unwrap().is_none(),
        "nothing in the default tenant"
    );
    assert_ne!(
        db.tenant("a").shared_secret("session-key").await.unwrap(),
        db.tenant("b").shared_secret("session-key").await.unwrap()
    );
    // Handles lead to the tenant they name, whichever handle they come from.
    assert!(db
        .tenant("a")
        .tenant("")
        .find_client("web")
        .await
        .unwrap()
        .is_none());
    assert!(db
        .tenant("b")
        .tenant("a")
        .find_client("web")
        .await
        .unwrap()
        .is_some());
    assert!(db.tenant("b").remove_client("web").await.unwrap());
    assert!(db.tenant("a").find_client("web").await.unwrap().is_some());
}

#[tokio::test]
async fn two_issuers_on_one_sqlite_file_are_isolated() {
    two_issuers_on_one_database_never_see_each_other(support::sqlite_file().await.unwrap()).await;
}

#[tokio::test]
async fn two_issuers_on_one_postgres_database_are_isolated() {
    let Some((db, _schema)) = support::postgres().await else {
        return;
    };
    two_issuers_on_one_database_never_see_each_other(db).await;
}

#[tokio::test]
async fn two_issuers_on_one_memory_backend_are_isolated() {
    two_issuers_on_one_database_never_see_each_other(support::memory_backend().await.unwrap())
        .await;
}
