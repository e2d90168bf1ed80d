//! `JwksVerifier::verify` on arbitrary compact JWSs: the JOSE header parsing and the
//! algorithm pinning every `id_token_hint` and software statement goes through (RFC 7515,
//! RFC 8725 §3.1), against a key set holding RS256, ES256 and EdDSA keys.
//!
//! The input is the token, as UTF-8, in which `@h<n>`, `@p<n>`, `@s<n>` and `@t<n>` (n a
//! digit) stand for the header, payload, signature or whole of the key set's real token
//! number n mod 3; so signed parts can be swapped, kept or altered, not only guessed.
#![no_main]

use std::sync::{Arc, OnceLock};

use authgate::jose::{
    Algorithm, JoseError, JwksVerifier, KeyEncryptionKey, KeySet, RotationPolicy,
};
use authgate::{FrozenClock, MemoryStore};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

struct Signed {
    token: String,
    alg: Algorithm,
    typ: Option<&'static str>,
    claims: Value,
}

struct Fixture {
    verifier: JwksVerifier,
    signed: Vec<Signed>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime");
        let mut policy = RotationPolicy::default();
        policy.algorithms = vec![Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];
        let keys = KeySet::new(
            Arc::new(MemoryStore::new()),
            KeyEncryptionKey::from_bytes([3; 32]),
            policy,
        )
        .with_clock(Arc::new(FrozenClock::at(1_800_000_000)));
        let mut signed = Vec::new();
        for (alg, typ) in [
            (Algorithm::RS256, Some("JWT")),
            (Algorithm::ES256, None),
            (Algorithm::EdDSA, Some("logout+jwt")),
        ] {
            let claims = json!({"iss": "https://as.example", "sub": "alice", "alg": alg.as_str()});
            let token = rt
                .block_on(keys.sign(alg, typ, &claims))
                .expect("the key set signs");
            signed.push(Signed {
                token,
                alg,
                typ,
                claims,
            });
        }
        let verifier = rt
            .block_on(keys.verifier())
            .expect("the key set's verifier");
        for s in &signed {
            assert_eq!(
                verifier.verify(&s.token).expect("verifies").claims,
                s.claims
            );
        }
        Fixture { verifier, signed }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let token = splice(text, &f.signed);
    match f.verifier.verify(&token) {
        Ok(v) => {
            // Only what the keys signed verifies: the signed part is one of the real
            // tokens' byte for byte, and everything read from it is that token's.
            let (message, _) = token.rsplit_once('.').expect("a compact JWS");
            let s = f
                .signed
                .iter()
                .find(|s| s.token.rsplit_once('.').map(|(m, _)| m) == Some(message))
                .unwrap_or_else(|| panic!("{token:?} verified but was never signed"));
            assert_eq!(v.claims, s.claims);
            assert_eq!(v.alg, s.alg);
            assert_eq!(v.typ.as_deref(), s.typ);
            let key = f
                .verifier
                .jwks()
                .keys
                .iter()
                .find(|k| k.kid == v.kid)
                .expect("the kid names a published key");
            assert_eq!(key.alg, v.alg.as_str());
        }
        Err(JoseError::Invalid(_)) => {}
        Err(e) => panic!("{token:?}: unexpected error {e:?}"),
    }
});

/// `text` with every `@h<n>`, `@p<n>`, `@s<n>`, `@t<n>` replaced by that part of token n.
fn splice(text: &str, signed: &[Signed]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let b = tail.as_bytes();
        let part = match (b.get(1), b.get(2)) {
            (Some(kind @ (b'h' | b'p' | b's' | b't')), Some(d @ b'0'..=b'9')) => {
                let token = &signed[usize::from(d - b'0') % signed.len()].token;
                let mut parts = token.split('.');
                match kind {
                    b'h' => parts.next(),
                    b'p' => parts.nth(1),
                    b's' => parts.nth(2),
                    _ => Some(token.as_str()),
                }
            }
            _ => None,
        };
        match part {
            Some(p) => {
                out.push_str(p);
                rest = &tail[3..];
            }
            None => {
                out.push('@');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
