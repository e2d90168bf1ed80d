//! Redirect URI matching (RFC 9700 §4.1.3, RFC 8252 §7.3).

use url::Url;

/// Whether a redirect URI sent by a client matches one it registered.
///
/// Exact string comparison, with one exception: a registered `http` URI on a loopback IP
/// literal (`127.0.0.1` or `[::1]`) matches the same URI on any port, as native apps bind
/// an ephemeral port (RFC 8252 §7.3). The hostname `localhost` gets no such leniency, and
/// neither does any prefix or wildcard.
///
/// ```
/// use authgate::redirect_uri_matches;
/// assert!(redirect_uri_matches("https://app.example/cb", "https://app.example/cb"));
/// assert!(!redirect_uri_matches("https://app.example/cb", "https://app.example/cb/x"));
/// assert!(redirect_uri_matches("http://127.0.0.1/cb", "http://127.0.0.1:51004/cb"));
/// ```
pub fn redirect_uri_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(reg), Ok(req)) = (Url::parse(registered), Url::parse(requested)) else {
        return false;
    };
    if !is_loopback_literal(&reg) || !is_loopback_literal(&req) {
        return false;
    }
    // Everything but the port must be identical, compared on the raw strings with the port
    // removed, so no parser normalisation can make two different URIs equal.
    matches!((strip_port(registered), strip_port(requested)), (Some(a), Some(b)) if a == b)
        && reg.host() == req.host()
}

fn is_loopback_literal(u: &Url) -> bool {
    u.scheme() == "http"
        && u.username().is_empty()
        && u.password().is_none()
        && u.fragment().is_none()
        && matches!(u.host_str(), Some("127.0.0.1" | "[::1]"))
}

/// `http://HOST[:PORT]REST` without `:PORT`. The caller has checked the host is a literal.
fn strip_port(s: &str) -> Option<String> {
    let rest = s.strip_prefix("http://")?;
    let (host, tail) = if let Some(r) = rest.strip_prefix("[::1]") {
        ("[::1]", r)
    } else {
        ("127.0.0.1", rest.strip_prefix("127.0.0.1")?)
    };
    let tail = match tail.strip_prefix(':') {
        Some(t) => {
            let digits = t.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            &t[digits..]
        }
        None => tail,
    };
    Some(format!("http://{host}{tail}"))
}

/// Whether a URI may be registered as a redirect URI: absolute, no fragment
/// (RFC 6749 §3.1.2).
pub fn is_valid_redirect_uri(uri: &str) -> bool {
    Url::parse(uri).is_ok_and(|u| u.fragment().is_none() && !u.cannot_be_a_base())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_match_only_rfc9700_4_1_3() {
        let reg = "https://app.example.com/cb";
        for bad in [
            "https://app.example.com/cb/",
            "https://app.example.com/cb?x=1",
            "https://app.example.com.evil.com/cb",
            "https://APP.example.com/cb",
            "https://app.example.com:443/cb",
            "https://app.example.com/cb#f",
            "https://app.example.com/other/..;/cb",
            "https://evil@app.example.com/cb",
        ] {
            assert!(!redirect_uri_matches(reg, bad), "{bad}");
        }
    }

    #[test]
    fn loopback_ip_port_may_vary_rfc8252_7_3() {
        assert!(redirect_uri_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:8000/cb"
        ));
        assert!(redirect_uri_matches(
            "http://127.0.0.1:1/cb",
            "http://127.0.0.1:2/cb"
        ));
        assert!(redirect_uri_matches(
            "http://[::1]/cb?a=1",
            "http://[::1]:9/cb?a=1"
        ));
    }

    #[test]
    fn loopback_keeps_path_query_and_host_strict() {
        assert!(!redirect_uri_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:8000/cb2"
        ));
        assert!(!redirect_uri_matches(
            "http://127.0.0.1/cb?a=1",
            "http://127.0.0.1:80/cb?a=2"
        ));
        assert!(!redirect_uri_matches(
            "http://127.0.0.1/cb",
            "http://[::1]:80/cb"
        ));
        assert!(!redirect_uri_matches(
            "http://localhost/cb",
            "http://localhost:80/cb"
        ));
        assert!(!redirect_uri_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1.evil.com/cb"
        ));
        assert!(!redirect_uri_matches(
            "http://127.0.0.1/cb",
            "http://x@127.0.0.1:1/cb"
        ));
    }

    #[test]
    fn registration_rejects_fragments_and_relative_uris() {
        assert!(is_valid_redirect_uri("https://a.example/cb"));
        assert!(is_valid_redirect_uri("com.example.app:/cb"));
        assert!(!is_valid_redirect_uri("/cb"));
        assert!(!is_valid_redirect_uri("https://a.example/cb#x"));
    }
}
