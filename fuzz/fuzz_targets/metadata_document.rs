//! Client ID Metadata Documents: `is_document_url` on arbitrary client ids, and
//! `document_client` on arbitrary fetched bodies.
//!
//! Input layout: `FLAGS CLIENT_ID \n BODY`. Bit 0 of the first byte allows loopback
//! `http` ids. An empty client id line stands for `https://app.example/client.json`, so
//! bodies can name their URL without the fuzzer guessing it.
#![no_main]

use authgate::client::metadata_document::{document_client, is_document_url, DOCUMENT_CLIENT_KEY};
use authgate::endpoints::registration::check_redirect_uri;
use authgate::{ClientAuthMethod, ClientRecord, Scope};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};
use url::Url;

const DEFAULT_ID: &str = "https://app.example/client.json";
const CEILING: &str = "openid profile email";
const URL_MEMBERS: [&str; 4] = ["client_uri", "logo_uri", "policy_uri", "tos_uri"];

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let loopback = flags & 1 != 0;
    let (id, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let Ok(id) = std::str::from_utf8(id) else {
        return;
    };
    let id = if id.is_empty() { DEFAULT_ID } else { id };

    let named = is_document_url(id, loopback);
    if named {
        check_document_url(id, loopback);
    }
    // Allowing loopback http only ever adds ids.
    if is_document_url(id, false) {
        assert!(is_document_url(id, true), "{id:?}");
    }

    let ceiling = Scope::parse(CEILING).expect("a scope");
    let Ok(client) = document_client(id, body, &ceiling) else {
        return;
    };
    check_client(id, body, &ceiling, &client);
    // The client, written back as a document, is the same client.
    let written = as_document(&client);
    let again = document_client(id, written.to_string().as_bytes(), &ceiling)
        .unwrap_or_else(|e| panic!("{written} was refused the second time: {e}"));
    assert_eq!(as_document(&again), written);
});

/// What a metadata document URL is, restated (the draft's §3): https (or http on a
/// loopback host when allowed), a host, a path other than `/`, no query, fragment,
/// credentials or dot segments. The dot segments are judged on the text as written, with
/// every spelling the URL parser would resolve.
fn check_document_url(id: &str, loopback: bool) {
    let u = Url::parse(id).expect("an accepted id is a URL");
    match u.scheme() {
        "https" => {}
        "http" => {
            assert!(loopback, "{id:?}");
            assert!(matches!(
                u.host_str(),
                Some("127.0.0.1" | "[::1]" | "localhost")
            ));
        }
        other => panic!("scheme {other:?} accepted in {id:?}"),
    }
    assert!(u.host_str().is_some());
    assert_ne!(u.path(), "/");
    assert!(u.query().is_none() && u.fragment().is_none(), "{id:?}");
    assert!(u.username().is_empty() && u.password().is_none(), "{id:?}");
    // The parser trims control characters and spaces at either end, drops tabs and
    // newlines anywhere, and treats `\` as `/` in an https or http URL: what it would
    // resolve, the id must not hold.
    let text: String = id
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let after_scheme = text.split_once(':').map_or("", |(_, rest)| rest);
    let after_authority = after_scheme
        .trim_start_matches(['/', '\\'])
        .find(['/', '\\'])
        .map_or("", |i| &after_scheme.trim_start_matches(['/', '\\'])[i..]);
    for seg in after_authority.split(['/', '\\']) {
        let seg = seg.to_ascii_lowercase();
        assert!(
            !matches!(
                seg.as_str(),
                "." | ".." | "%2e" | ".%2e" | "%2e." | "%2e%2e"
            ),
            "dot segment {seg:?} in {id:?}"
        );
    }
}

fn check_client(id: &str, body: &[u8], ceiling: &Scope, c: &ClientRecord) {
    let doc: Value = serde_json::from_slice(body).expect("an accepted body is JSON");
    assert_eq!(doc["client_id"].as_str(), Some(id));
    assert_eq!(c.client_id, id);
    assert_eq!(c.auth_method, ClientAuthMethod::None);
    assert!(c.secret_hash.is_none() && c.chosen_secret_hash.is_none());
    assert!(doc.get("client_secret").is_none());
    assert!(c
        .grant_types
        .iter()
        .all(|g| g == "authorization_code" || g == "refresh_token"));
    assert!(!c.response_types.is_empty());
    assert!(c.response_types.iter().all(|r| r == "code"));
    assert!(!c.redirect_uris.is_empty());
    for uri in &c.redirect_uris {
        assert!(check_redirect_uri(uri, true).is_ok(), "{uri:?}");
    }
    assert!(c.scope.is_subset_of(ceiling));
    assert_eq!(
        c.metadata.get(DOCUMENT_CLIENT_KEY),
        Some(&Value::Bool(true))
    );
    for name in URL_MEMBERS {
        if let Some(v) = c.metadata.get(name) {
            let u = Url::parse(v.as_str().expect("a string")).expect("a URL");
            assert_eq!(u.scheme(), "https");
            assert!(u.fragment().is_none());
        }
    }
}

/// The metadata document that describes `c`.
fn as_document(c: &ClientRecord) -> Value {
    let mut doc = Map::new();
    doc.insert("client_id".into(), c.client_id.clone().into());
    doc.insert("token_endpoint_auth_method".into(), "none".into());
    doc.insert("redirect_uris".into(), json!(c.redirect_uris));
    doc.insert("grant_types".into(), json!(c.grant_types));
    doc.insert("response_types".into(), json!(c.response_types));
    doc.insert("scope".into(), c.scope.to_string().into());
    if let Some(n) = &c.client_name {
        doc.insert("client_name".into(), n.clone().into());
    }
    for name in URL_MEMBERS {
        if let Some(v) = c.metadata.get(name) {
            doc.insert(name.into(), v.clone());
        }
    }
    Value::Object(doc)
}
