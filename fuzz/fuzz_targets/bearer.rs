//! `ResourceProtector::validate` on arbitrary Authorization headers and queries, against a
//! server over a `MemoryStore` holding real tokens.
//!
//! Input layout: `MODE AUTHORIZATION \n QUERY`. The first byte picks a real token to
//! splice in (none / scope `read` / scope `write` / expired) and where (header, query),
//! a second Authorization header, whether query tokens are allowed and the requirement,
//! so the paths past the token lookup are reached too, not only the rejections.
#![no_main]

use std::sync::OnceLock;

use authgate::storage::TokenKind;
use authgate::{
    AuthorizationServer, ClientRecord, IssueContext, MemoryStore, ResourceProtector, Scope,
    ScopeRequirement, ServerConfig,
};
use http::header::AUTHORIZATION;
use http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use tokio::runtime::Runtime;

struct Fixture {
    rt: Runtime,
    server: AuthorizationServer,
    /// read, write, expired (scope read).
    tokens: [String; 3],
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let store = MemoryStore::new();
        let client = ClientRecord::confidential("svc", "secret").scope("read write");
        store.add_client(client.clone());
        let server = AuthorizationServer::new(store, ServerConfig::new("https://as.example"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime");
        let issue = |scope: &str, expires_in: Option<u64>| {
            let mut issue =
                IssueContext::new(&client, "client_credentials", Scope::parse(scope).unwrap());
            issue.expires_in = expires_in;
            rt.block_on(server.context().issue_tokens(&issue))
                .unwrap()
                .access_token
        };
        let tokens = [
            issue("read", None),
            issue("write", None),
            issue("read", Some(0)),
        ];
        Fixture { rt, server, tokens }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (raw_header, raw_query) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let token = match mode & 3 {
        0 => None,
        n => Some(f.tokens[usize::from(n - 1)].as_str()),
    };

    let mut header = raw_header.to_vec();
    let mut query = String::from_utf8_lossy(raw_query).into_owned();
    if let Some(t) = token {
        if mode & 4 != 0 {
            header = [b"Bearer ", t.as_bytes(), raw_header].concat();
        }
        if mode & 8 != 0 {
            query = format!("access_token={t}&{query}");
        }
    }
    let Ok(uri) = http::Uri::builder()
        .path_and_query(format!("/api?{query}"))
        .build()
    else {
        return; // not a query a request can carry
    };
    let (mut request, ()) = http::Request::get(uri).body(()).unwrap().into_parts();
    let headers = &mut request.headers;
    if let Ok(v) = HeaderValue::from_bytes(&header) {
        if !header.is_empty() {
            headers.append(AUTHORIZATION, v);
        }
    }
    if mode & 16 != 0 {
        if let Ok(v) = HeaderValue::from_bytes(raw_header) {
            headers.append(AUTHORIZATION, v);
        }
    }

    let protector = ResourceProtector::from_server(&f.server).allow_query_token(mode & 32 != 0);
    let required = match mode >> 6 {
        0 => ScopeRequirement::all_of("read"),
        1 => ScopeRequirement::any_of("read write"),
        2 => ScopeRequirement::none(),
        _ => ScopeRequirement::all_of("read write"),
    };

    match f.rt.block_on(protector.validate(&request, &required)) {
        Ok(record) => {
            // Only a live access token we issued, with enough scope, gets through.
            assert_eq!(record.kind, TokenKind::Access);
            assert!(!record.revoked);
            assert_eq!(record.client_id, "svc");
            assert!(required.is_met_by(&record.scope));
            assert!(token.is_some());
            assert_ne!(mode & 3, 3, "the expired token was accepted");
        }
        Err(e) => {
            let status = e.status().as_u16();
            assert!(matches!(status, 400 | 401 | 403), "status {status}");
            assert!(HeaderValue::from_str(&e.www_authenticate()).is_ok());
            let _ = e.into_response();
        }
    }
});
