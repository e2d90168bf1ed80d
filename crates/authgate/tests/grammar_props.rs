//! Property tests for the grammars parsed from the network: scope, redirect URI matching,
//! PKCE, the token format, and request parameters.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use authgate::*;
use base64::Engine;
use proptest::prelude::*;

fn scope_token() -> impl Strategy<Value = String> {
    // RFC 6749 §3.3: %x21 / %x23-5B / %x5D-7E
    proptest::collection::vec(
        prop_oneof![Just(0x21u8), 0x23u8..=0x5B, 0x5Du8..=0x7E],
        1..12,
    )
    .prop_map(|b| String::from_utf8(b).unwrap())
}

proptest! {
    #[test]
    fn scope_display_parses_back_to_itself(tokens in proptest::collection::vec(scope_token(), 0..8)) {
        let s = Scope::parse(&tokens.join(" ")).unwrap();
        prop_assert_eq!(Scope::parse(&s.to_string()).unwrap(), s.clone());
        for t in &tokens {
            prop_assert!(s.contains(t));
        }
    }

    #[test]
    fn scope_with_a_forbidden_byte_is_invalid_scope_rfc6749_3_3(
        a in scope_token(),
        bad in prop_oneof![Just('"'), Just('\\'), Just('\u{7f}'), Just('\u{e9}'), Just('\t')],
    ) {
        let e = Scope::parse(&format!("{a}{bad}")).unwrap_err();
        prop_assert_eq!(e.code(), ErrorCode::InvalidScope);
    }

    #[test]
    fn non_loopback_redirect_uri_matches_only_itself_rfc9700_4_1_3(
        path in "[a-z/]{0,12}",
        suffix in "[a-zA-Z0-9:/?#@.%;=&-]{1,8}",
    ) {
        let registered = format!("https://app.example.com/{path}");
        prop_assert!(redirect_uri_matches(&registered, &registered));
        let other = format!("{registered}{suffix}");
        prop_assert!(!redirect_uri_matches(&registered, &other));
    }

    #[test]
    fn loopback_redirect_uri_matches_on_any_port_but_nothing_else_rfc8252_7_3(
        port in 1u16..,
        path in "[a-z]{1,8}",
        other in "[a-z]{1,8}",
    ) {
        let registered = format!("http://127.0.0.1/{path}");
        let with_port = format!("http://127.0.0.1:{port}/{path}");
        prop_assert!(redirect_uri_matches(&registered, &with_port));
        if other != path {
            let other_uri = format!("http://127.0.0.1:{port}/{other}");
            prop_assert!(!redirect_uri_matches(&registered, &other_uri));
        }
    }

    #[test]
    fn s256_challenge_of_a_verifier_verifies_and_others_do_not_rfc7636_4_6(
        verifier in "[A-Za-z0-9._~-]{43,128}",
        other in "[A-Za-z0-9._~-]{43,128}",
    ) {
        let digest = <sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes());
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
        let c = CodeChallenge::new(&challenge, CodeChallengeMethod::S256).unwrap();
        prop_assert!(c.verify(&verifier).is_ok());
        if other != verifier {
            prop_assert_eq!(c.verify(&other).unwrap_err().code(), ErrorCode::InvalidGrant);
        }
    }

    #[test]
    fn any_string_parses_as_a_token_or_is_refused_without_panic(s in ".{0,100}") {
        let _ = token::parse_token(&s);
    }

    #[test]
    fn form_parameters_round_trip_and_repeats_are_detected(
        name in "[a-z_]{1,10}",
        value in ".{1,30}",
    ) {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair(&name, &value)
            .finish();
        let req = http::Request::post("/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(bytes::Bytes::from(body.clone()))
            .unwrap();
        let r = OAuth2Request::from_http(req, 65536).unwrap();
        prop_assert_eq!(r.form_value(&name).unwrap(), Some(value.as_str()));
        let twice = format!("{body}&{body}");
        let req = http::Request::post("/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(bytes::Bytes::from(twice))
            .unwrap();
        let r = OAuth2Request::from_http(req, 65536).unwrap();
        prop_assert_eq!(r.form_value(&name).unwrap_err().code(), ErrorCode::InvalidRequest);
    }
}
