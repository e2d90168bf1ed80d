//! The client registration endpoint (RFC 7591 §3) on arbitrary request bodies, then, for
//! each client it registers, the client configuration endpoint (RFC 7592): read, update
//! with what was read, delete.
//!
//! The input is the body of a `POST /register` sent as `application/json`; the first
//! byte, when it is a NUL, sends the rest as `text/plain` instead.
#![no_main]

#[path = "shared/openid_server.rs"]
mod openid_server;

use authgate::{ClientStore, OAuth2Request, OAuth2Response, Scope};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use openid_server::{fixture, ISSUER, SCOPES};
use serde_json::{Map, Value};

/// Members of a registration answer that are bookkeeping, not metadata (RFC 7592 §2.2
/// forbids them in an update), and the credentials shown only once.
const NOT_METADATA: &[&str] = &[
    "registration_access_token",
    "registration_client_uri",
    "client_secret_expires_at",
    "client_id_issued_at",
    "client_secret",
];

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let (content_type, body) = match data.split_first() {
        Some((0, rest)) => ("text/plain", rest),
        _ => ("application/json", data),
    };
    let res = f.rt.block_on(call(
        "registration",
        "POST",
        "/register",
        Some(content_type),
        body,
        None,
    ));
    let answer = json_object(&res);
    if res.status.as_u16() != 201 {
        assert_eq!(res.status.as_u16(), 400, "{answer:?}");
        let code = answer["error"].as_str().expect("an error code");
        assert!(
            matches!(
                code,
                "invalid_client_metadata"
                    | "invalid_redirect_uri"
                    | "invalid_software_statement"
                    | "unapproved_software_statement"
            ),
            "unexpected error code {code}"
        );
        return;
    }
    assert_eq!(content_type, "application/json");

    // RFC 7591 §3.2.1: the client, its credentials and where to manage it.
    let id = answer["client_id"]
        .as_str()
        .expect("a client_id")
        .to_owned();
    let token = answer["registration_access_token"]
        .as_str()
        .expect("a registration access token")
        .to_owned();
    assert_eq!(
        answer["registration_client_uri"].as_str(),
        Some(format!("{ISSUER}/register/{id}").as_str())
    );
    let public = answer["token_endpoint_auth_method"] == "none";
    assert_eq!(answer.contains_key("client_secret"), !public, "{answer:?}");
    let client =
        f.rt.block_on(f.store.find_client(&id))
            .expect("the store answers")
            .expect("the registered client is found");
    assert_eq!(client.is_public(), public);
    assert_eq!(
        Value::from(client.redirect_uris().to_vec()),
        answer["redirect_uris"]
    );
    // Never more scope than self-registered clients may have.
    let ceiling = Scope::parse(SCOPES).expect("a scope");
    assert!(client.scope().is_subset_of(&ceiling));
    let path = format!("/register/{id}");

    // RFC 7592 §2.1: reading it back answers the same metadata.
    let res = f.rt.block_on(call(
        "client_configuration",
        "GET",
        &path,
        None,
        b"",
        Some(&token),
    ));
    assert_eq!(res.status.as_u16(), 200);
    let read = json_object(&res);
    assert_eq!(metadata_of(&read), metadata_of(&answer));

    // RFC 7592 §2.2: sending back what was read changes nothing.
    let mut update = metadata_of(&read);
    update.insert("client_id".into(), id.clone().into());
    let update = serde_json::to_vec(&update).expect("JSON");
    let res = f.rt.block_on(call(
        "client_configuration",
        "PUT",
        &path,
        Some("application/json"),
        &update,
        Some(&token),
    ));
    let updated = json_object(&res);
    assert_eq!(res.status.as_u16(), 200, "{updated:?}");
    let mut expected = metadata_of(&answer);
    // Known: a registration whose scope shares nothing with the policy's gets no scope,
    // and the answer then has no `scope` member; resent, that omission asks for the
    // default, which is the whole policy scope (see fuzz/README.md).
    if !expected.contains_key("scope") {
        expected.insert("scope".into(), ceiling.to_string().into());
    }
    assert_eq!(metadata_of(&updated), expected);
    assert!(!updated.contains_key("client_secret"));

    // RFC 7592 §2.3: deleted, the client and its token are gone.
    let res = f.rt.block_on(call(
        "client_configuration",
        "DELETE",
        &path,
        None,
        b"",
        Some(&token),
    ));
    assert_eq!(res.status.as_u16(), 204);
    assert!(f
        .rt
        .block_on(f.store.find_client(&id))
        .expect("the store answers")
        .is_none());
    let res = f.rt.block_on(call(
        "client_configuration",
        "GET",
        &path,
        None,
        b"",
        Some(&token),
    ));
    assert_eq!(res.status.as_u16(), 401);
});

async fn call(
    endpoint: &str,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
    bearer: Option<&str>,
) -> OAuth2Response {
    let mut req = http::Request::builder().method(method).uri(path);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    if let Some(t) = bearer {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = req
        .body(Bytes::copy_from_slice(body))
        .expect("a valid request");
    let req = OAuth2Request::from_http(req, 1 << 20).expect("within the size limit");
    fixture()
        .server
        .create_endpoint_response(endpoint, &req)
        .await
}

fn json_object(res: &OAuth2Response) -> Map<String, Value> {
    match res.json_body() {
        Some(Value::Object(m)) => m,
        other => panic!("status {} answered {other:?}", res.status),
    }
}

/// The client's metadata in an answer: everything but bookkeeping and credentials.
fn metadata_of(answer: &Map<String, Value>) -> Map<String, Value> {
    answer
        .iter()
        .filter(|(k, _)| !NOT_METADATA.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
