//! The guide's worked example (`examples/own_clients.rs`) on a real PostgreSQL schema:
//! clients from the app's own `applications` table through a `ClientStore` on plain sqlx,
//! codes and tokens in `authgate_*` tables on the same pool.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

#[path = "../examples/own_clients.rs"]
#[allow(dead_code, unreachable_pub)]
mod own_clients;

use authgate::{OAuth2Request, OAuth2Response};
use authgate_sql::testing::PgSchema;
use base64::Engine;
use bytes::Bytes;

fn token_request(id: &str, secret: &str, body: &str) -> OAuth2Request {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    let req = http::Request::post("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", format!("Basic {basic}"))
        .body(Bytes::from(body.to_owned()))
        .unwrap();
    OAuth2Request::from_http(req, 65536).unwrap()
}

fn error_of(res: &OAuth2Response) -> String {
    res.json_body().unwrap()["error"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test]
async fn clients_from_the_app_s_own_table_get_tokens_kept_in_authgate_s_tables() {
    let Some(schema) = PgSchema::create().await else {
        eprintln!("SKIPPED: PostgreSQL is not reachable (set CI to make this a failure)");
        return;
    };
    let pool = sqlx::PgPool::connect(&schema.url()).await.unwrap();
    let apps = own_clients::Applications::new(pool.clone()).await.unwrap();
    let secret = apps
        .add("reporting", "Reporting", "service", &[], "reports")
        .await
        .unwrap()
        .expect("a service gets a secret");
    assert!(secret.len() >= 43);
    let none = apps
        .add(
            "spa",
            "Single Page",
            "spa",
            &["https://spa.example/cb"],
            "profile",
        )
        .await
        .unwrap();
    assert!(none.is_none(), "a browser app has no secret");
    // A row another tool wrote without a secret, for a kind that needs one.
    sqlx::query(
        "INSERT INTO applications (id, display_name, kind) VALUES ('broken', 'No secret', 'web')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let server = own_clients::server(pool.clone(), "https://auth.example")
        .await
        .unwrap();

    let res = server
        .create_token_response(&token_request(
            "reporting",
            &secret,
            "grant_type=client_credentials",
        ))
        .await;
    assert_eq!(res.status, 200, "{:?}", res.json_body());
    let body = res.json_body().unwrap();
    assert_eq!(body["scope"], "reports");
    // The token went to authgate's table on the app's pool.
    let (count,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM authgate_tokens WHERE client_id = 'reporting'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(count, 1);

    // A wrong secret, a confidential row without a secret, an id PostgreSQL cannot hold:
    // no client (RFC 6749 §5.2: invalid_client).
    for (id, secret) in [
        ("reporting", "wrong"),
        ("broken", "anything"),
        ("repo\0rting", secret.as_str()),
    ] {
        let res = server
            .create_token_response(&token_request(id, secret, "grant_type=client_credentials"))
            .await;
        assert_eq!(error_of(&res), "invalid_client", "{id:?}");
    }
    // The table's kind decides the grants: a browser app gets no client credentials.
    let req = OAuth2Request::from_http(
        http::Request::post("/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Bytes::from_static(
                b"grant_type=client_credentials&client_id=spa",
            ))
            .unwrap(),
        65536,
    )
    .unwrap();
    let res = server.create_token_response(&req).await;
    assert_eq!(error_of(&res), "unauthorized_client");
    drop(schema);
}
