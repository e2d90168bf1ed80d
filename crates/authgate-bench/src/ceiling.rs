//! The ceiling: a plain axum server doing the minimum a token endpoint and a Bearer check
//! must do, so authgate's figures have something to be measured against in the same run.
//!
//! `/token`: parse the form, check Basic credentials in constant time, draw 32 random
//! bytes, store them in a concurrent map, answer RFC 6749 JSON with no-store headers.
//! `/api/me`: look the Bearer token up in the map. `/revoke`, `/introspect`: the same map.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use subtle::ConstantTimeEq;

const SHARDS: usize = 16;

type Shard = RwLock<HashMap<[u8; 32], ()>>;

#[derive(Clone, Default)]
struct Tokens(Arc<[Shard; SHARDS]>);

impl Tokens {
    fn shard(&self, k: &[u8; 32]) -> &Shard {
        &self.0[usize::from(k[0]) % SHARDS]
    }
}

/// The ceiling's routes.
pub(crate) fn router() -> Router {
    Router::new()
        .route("/token", post(token))
        .route("/api/me", get(me))
        .route("/revoke", post(revoke))
        .route("/introspect", post(introspect))
        .with_state(Tokens::default())
}

fn basic_ok(headers: &HeaderMap) -> bool {
    let expected = STANDARD.encode(format!("{}:{}", crate::CLIENT_ID, crate::CLIENT_SECRET));
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .is_some_and(|v| bool::from(v.as_bytes().ct_eq(expected.as_bytes())))
}

fn json(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

fn form_value(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn decode_token(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    (URL_SAFE_NO_PAD.decode_slice(s, &mut out).ok()? == 32).then_some(out)
}

async fn token(State(tokens): State<Tokens>, headers: HeaderMap, body: Bytes) -> Response {
    if form_value(&body, "grant_type").as_deref() != Some("client_credentials") {
        return json(
            StatusCode::BAD_REQUEST,
            r#"{"error":"unsupported_grant_type"}"#.into(),
        );
    }
    if !basic_ok(&headers) {
        return json(
            StatusCode::UNAUTHORIZED,
            r#"{"error":"invalid_client"}"#.into(),
        );
    }
    let t: [u8; 32] = authgate::rng::random_bytes(&authgate::OsRng);
    tokens
        .shard(&t)
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(t, ());
    json(
        StatusCode::OK,
        format!(
            r#"{{"access_token":"{}","token_type":"Bearer","expires_in":3600}}"#,
            URL_SAFE_NO_PAD.encode(t)
        ),
    )
}

fn bearer(headers: &HeaderMap) -> Option<[u8; 32]> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(decode_token)
}

async fn me(State(tokens): State<Tokens>, headers: HeaderMap) -> Response {
    let known = bearer(&headers).is_some_and(|t| {
        tokens
            .shard(&t)
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains_key(&t)
    });
    if known {
        json(StatusCode::OK, r#"{"sub":null,"username":null}"#.into())
    } else {
        json(
            StatusCode::UNAUTHORIZED,
            r#"{"error":"invalid_token"}"#.into(),
        )
    }
}

async fn revoke(State(tokens): State<Tokens>, headers: HeaderMap, body: Bytes) -> Response {
    if !basic_ok(&headers) {
        return json(
            StatusCode::UNAUTHORIZED,
            r#"{"error":"invalid_client"}"#.into(),
        );
    }
    if let Some(t) = form_value(&body, "token").as_deref().and_then(decode_token) {
        tokens
            .shard(&t)
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&t);
    }
    StatusCode::OK.into_response()
}

async fn introspect(State(tokens): State<Tokens>, headers: HeaderMap, body: Bytes) -> Response {
    if !basic_ok(&headers) {
        return json(
            StatusCode::UNAUTHORIZED,
            r#"{"error":"invalid_client"}"#.into(),
        );
    }
    let active = form_value(&body, "token")
        .as_deref()
        .and_then(decode_token)
        .is_some_and(|t| {
            tokens
                .shard(&t)
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .contains_key(&t)
        });
    json(StatusCode::OK, format!(r#"{{"active":{active}}}"#))
}
