//! PKCE: `CodeChallenge::new` and `verify` on arbitrary challenge and verifier strings
//! (split at a 0xFF byte).
#![no_main]

use authgate::{CodeChallenge, CodeChallengeMethod};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fuzz_target!(|data: &[u8]| {
    let (c, v) = match data.iter().position(|&x| x == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let (Ok(challenge), Ok(verifier)) = (std::str::from_utf8(c), std::str::from_utf8(v)) else {
        return;
    };
    let verifier_ok = is_pkce_string(verifier);

    for method in [CodeChallengeMethod::S256, CodeChallengeMethod::Plain] {
        assert_eq!(CodeChallengeMethod::parse(method.as_str()), Some(method));
        let Ok(cc) = CodeChallenge::new(challenge, method) else {
            assert!(
                !is_pkce_string(challenge)
                    || (method == CodeChallengeMethod::S256 && challenge.len() != 43)
            );
            continue;
        };
        assert!(is_pkce_string(challenge));
        let expected = verifier_ok
            && match method {
                CodeChallengeMethod::S256 => s256(verifier) == challenge,
                _ => verifier == challenge,
            };
        match cc.verify(verifier) {
            Ok(()) => assert!(expected),
            Err(e) => {
                assert!(!expected);
                let code = if verifier_ok {
                    "invalid_grant"
                } else {
                    "invalid_request"
                };
                assert_eq!(e.code().as_str(), code);
            }
        }
    }

    // Round-trip: a well-formed verifier always verifies against its own challenges.
    for v in [verifier, challenge] {
        if is_pkce_string(v) {
            let cc = CodeChallenge::new(&s256(v), CodeChallengeMethod::S256).unwrap();
            assert!(cc.verify(v).is_ok());
            let cc = CodeChallenge::new(v, CodeChallengeMethod::Plain).unwrap();
            assert!(cc.verify(v).is_ok());
        }
    }
});

fn s256(v: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()))
}

/// RFC 7636 §4.1, restated.
fn is_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}
