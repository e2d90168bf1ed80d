//! Others' key sets and JWTs handed to the server (issue 11): `jose::remote::pick` and
//! `usable_keys` on arbitrary JSON (a client's `jwks`, a fetched `jwks_uri`), and
//! `token::parse_jwt_key` on arbitrary strings (every presented access token goes through
//! it).
//!
//! The input is split at the first NUL: the key set (JSON), then the token. Beyond "no
//! panic", it checks the key-type pinning of RFC 8725 §3.1: a picked key always names the
//! algorithm asked for and is of the type that algorithm needs, and a set holding private
//! or symmetric material yields no key at all.
#![no_main]

use authgate::jose::remote::{pick, usable_keys};
use authgate::jose::Algorithm;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let (set, token) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    if let Ok(token) = std::str::from_utf8(token) {
        let _ = authgate::token::parse_jwt_key(token);
    }
    let Ok(jwks) = serde_json::from_slice::<Value>(set) else {
        return;
    };
    let usable = usable_keys(&jwks);
    let secret = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
    let has_secret = jwks["keys"]
        .as_array()
        .is_some_and(|keys| keys.iter().any(|k| secret.iter().any(|m| k.get(*m).is_some())));
    for alg in Algorithm::ALL {
        let kids = [None, Some(""), Some("k1")];
        for kid in kids {
            let Some(key) = pick(&jwks, kid, alg) else {
                continue;
            };
            assert!(usable > 0 && !has_secret, "a key from an unusable set");
            assert_eq!(key.alg, alg.as_str(), "the key verifies the asked algorithm only");
            let crv = key.crv.as_deref();
            let fits = match alg {
                Algorithm::RS256 | Algorithm::PS256 => key.kty == "RSA",
                Algorithm::ES256 => key.kty == "EC" && crv == Some("P-256"),
                Algorithm::ES384 => key.kty == "EC" && crv == Some("P-384"),
                Algorithm::EdDSA => key.kty == "OKP" && crv == Some("Ed25519"),
                _ => false,
            };
            assert!(fits, "{} key picked for {alg}", key.kty);
            if let Some(kid) = kid {
                assert_eq!(key.kid, kid, "the key named, never another");
            }
        }
    }
});
