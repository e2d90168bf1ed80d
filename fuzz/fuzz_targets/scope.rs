//! `Scope::parse` on arbitrary UTF-8: the RFC 6749 §3.3 grammar and its round-trip.
#![no_main]

use authgate::Scope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    match Scope::parse(s) {
        Ok(scope) => {
            let text = scope.to_string();
            assert_eq!(
                Scope::parse(&text).ok(),
                Some(scope.clone()),
                "{s:?} -> {text:?}"
            );
            // Canonical form: sorted, no duplicates, single spaces, RFC 6749 §3.3 chars.
            let tokens: Vec<&str> = scope.iter().collect();
            assert!(tokens.windows(2).all(|w| w[0] < w[1]));
            assert!(tokens
                .iter()
                .all(|t| !t.is_empty() && t.bytes().all(is_scope_char)));
            assert_eq!(text, tokens.join(" "));
            assert_eq!(scope.is_empty(), tokens.is_empty());
            for t in &tokens {
                assert!(scope.contains(t));
            }
            assert!(scope.is_subset_of(&scope));
            // Collecting the same tokens gives the same scope.
            assert_eq!(s.split(' ').collect::<Scope>(), scope);
        }
        Err(e) => assert_eq!(e.code().as_str(), "invalid_scope"),
    }
});

/// RFC 6749 §3.3 `scope-token` characters, restated.
fn is_scope_char(b: u8) -> bool {
    b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b)
}
