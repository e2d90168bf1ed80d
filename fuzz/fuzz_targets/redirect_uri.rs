//! `redirect_uri_matches` on two arbitrary strings (split at a 0xFF byte, which valid
//! UTF-8 never holds).
#![no_main]

use authgate::{is_valid_redirect_uri, redirect_uri_matches};
use libfuzzer_sys::fuzz_target;
use url::Url;

fuzz_target!(|data: &[u8]| {
    let (a, b) = match data.iter().position(|&x| x == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let (Ok(a), Ok(b)) = (std::str::from_utf8(a), std::str::from_utf8(b)) else {
        return;
    };

    assert!(redirect_uri_matches(a, a));
    assert!(redirect_uri_matches(b, b));
    let ab = redirect_uri_matches(a, b);
    // "The same URI on any port" is symmetric.
    assert_eq!(ab, redirect_uri_matches(b, a), "{a:?} {b:?}");
    if ab && a != b {
        // A non-exact match is only the loopback exception: both parse, both are http on
        // the same IP literal, and they differ in nothing but the port.
        let (mut ua, mut ub) = (Url::parse(a).unwrap(), Url::parse(b).unwrap());
        assert_eq!(ua.scheme(), "http");
        assert!(matches!(ua.host_str(), Some("127.0.0.1" | "[::1]")));
        ua.set_port(None).unwrap();
        ub.set_port(None).unwrap();
        assert_eq!(ua, ub, "{a:?} {b:?}");
    }
    let _ = is_valid_redirect_uri(a);
});
