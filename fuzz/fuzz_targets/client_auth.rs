//! `authenticate_client` on arbitrary requests against a store with one confidential
//! (`client_secret_basic`) and one public client.
//!
//! Input layout: `AUTHORIZATION \n BODY`; a first line that is not a valid header value
//! is left out (an empty one too), the body is the rest, newlines included.
#![no_main]

use std::sync::OnceLock;

use authgate::{ClientRecord, MemoryStore, OAuth2Request};
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use tokio::runtime::Runtime;

const CONFIDENTIAL: &str = "conf";
const SECRET: &str = "s3cret";
const PUBLIC: &str = "pub";

struct Fixture {
    rt: Runtime,
    store: MemoryStore,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let store = MemoryStore::new();
        store.add_client(ClientRecord::confidential(CONFIDENTIAL, SECRET));
        store.add_client(ClientRecord::public(PUBLIC));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime");
        Fixture { rt, store }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let (auth, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let mut builder =
        http::Request::post("/token").header(CONTENT_TYPE, "application/x-www-form-urlencoded");
    let with_header = !auth.is_empty() && HeaderValue::from_bytes(auth).is_ok();
    if with_header {
        builder = builder.header(AUTHORIZATION, HeaderValue::from_bytes(auth).unwrap());
    }
    let req = builder.body(Bytes::copy_from_slice(body)).unwrap();
    let Ok(req) = OAuth2Request::from_http(req, 65536) else {
        return;
    };

    match f.rt.block_on(authgate::authenticate_client(&f.store, &req)) {
        Ok(client) => {
            let id = client.client_id();
            assert_eq!(authgate::presented_client_id(&req).as_deref(), Some(id));
            match id {
                // Only ever through its registered method: Basic, with the right secret.
                CONFIDENTIAL => assert!(with_header),
                // Only with no credentials at all beyond its id.
                PUBLIC => {
                    assert!(!with_header);
                    assert_eq!(req.form_value("client_id").ok().flatten(), Some(PUBLIC));
                    assert_eq!(req.form_value("client_secret").ok().flatten(), None);
                }
                other => panic!("authenticated an unknown client {other:?}"),
            }
        }
        Err(e) => {
            let code = e.code().as_str();
            assert!(
                matches!(code, "invalid_request" | "invalid_client"),
                "unexpected error code {code}"
            );
            if e.has_basic_challenge() {
                assert_eq!(e.status(), 401);
            }
            let _ = e.to_json();
        }
    }
});
