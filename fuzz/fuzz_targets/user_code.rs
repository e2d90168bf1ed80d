//! `UserCode::parse` on arbitrary UTF-8: what a user types on the device verification
//! page (RFC 8628 §3.3, §6.1).
#![no_main]

use authgate::UserCode;
use libfuzzer_sys::fuzz_target;

/// RFC 8628 §6.1's example alphabet, restated: twenty consonants, no vowels.
const ALPHABET: &str = "BCDFGHJKLMNPQRSTVWXZ";

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = UserCode::parse(s);
    assert_eq!(parsed, expected(s), "{s:?}");
    let Some(code) = parsed else { return };

    // Shown as XXXX-XXXX in the alphabet.
    let shown = code.to_string();
    let b = shown.as_bytes();
    assert_eq!(b.len(), 9, "{shown:?}");
    assert_eq!(b[4], b'-', "{shown:?}");
    assert!(shown
        .chars()
        .filter(|&c| c != '-')
        .all(|c| ALPHABET.contains(c)));

    // Idempotent, and blind to case, dashes and spaces.
    let bare = shown.replace('-', "");
    let spaced: String = bare.chars().flat_map(|c| [c, ' ']).collect();
    for again in [
        shown.clone(),
        shown.to_ascii_lowercase(),
        bare.clone(),
        spaced,
        format!(" \t{}-\n", bare.to_ascii_lowercase()),
    ] {
        let other = UserCode::parse(&again);
        assert_eq!(other.as_ref(), Some(&code), "{again:?}");
        assert!(other.is_some_and(|c| c.hash().ct_eq(&code.hash())));
    }
    // What stores keep is the hash of the eight letters alone.
    assert!(code
        .hash()
        .ct_eq(&authgate::token::SecretHash::of(bare.as_bytes())));
    // Debug never shows the code.
    assert!(!format!("{code:?}").contains(&bare[..4]));
});

/// The code `s` names, decided independently: drop dashes and white space, and what is
/// left must be exactly eight letters of the alphabet, in either case.
fn expected(s: &str) -> Option<UserCode> {
    let letters: Vec<char> = s
        .chars()
        .filter(|&c| c != '-' && !c.is_whitespace())
        .collect();
    let ok = letters.len() == 8
        && letters
            .iter()
            .all(|c| c.is_ascii() && ALPHABET.contains(c.to_ascii_uppercase()));
    if !ok {
        return None;
    }
    let upper: String = letters.iter().map(char::to_ascii_uppercase).collect();
    // Built from text the parser must accept as it stands: exactly eight capitals.
    Some(UserCode::parse(&upper).expect("eight letters of the alphabet parse"))
}
