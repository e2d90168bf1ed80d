//! `token::parse_token` (and `Selector::from_base64`) on arbitrary UTF-8, checked against
//! an independent base64url decode.
#![no_main]

use authgate::token::{parse_token, SecretHash, Selector};
use authgate::{OpaqueTokenGenerator, TokenGenerator};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };

    let parsed = parse_token(s);
    // The generator's parse is the one the resource server uses; it must agree.
    let via_generator = OpaqueTokenGenerator.parse(s);
    assert_eq!(
        parsed.map(|k| k.selector),
        via_generator.map(|k| k.selector)
    );

    // Oracle: a token is exactly 64 base64url characters, 48 bytes.
    let decoded = URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        .filter(|raw| s.len() == 64 && raw.len() == 48);
    assert_eq!(parsed.is_some(), decoded.is_some(), "{s:?}");
    if let (Some(key), Some(raw)) = (parsed, decoded) {
        assert_eq!(s.len(), 64);
        assert_eq!(s.chars().count(), 64);
        assert_eq!(key.selector.0[..], raw[..16]);
        assert!(key.verifier_hash.ct_eq(&SecretHash::of(&raw[16..])));
        // The selector's own text form round-trips, and shares the token's first 21
        // characters (126 bits; the 22nd also carries bits of byte 16).
        let text = key.selector.to_base64();
        assert_eq!(Selector::from_base64(&text), Some(key.selector));
        assert_eq!(text[..21], s[..21]);
    }

    // Selector text keys: canonical base64url, so they round-trip exactly.
    if let Some(sel) = Selector::from_base64(s) {
        assert_eq!(s.len(), 22);
        assert_eq!(sel.to_base64(), s);
    }
});
