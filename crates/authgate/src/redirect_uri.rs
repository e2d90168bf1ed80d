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

fn is_loopback_host(u: &Url) -> bool {
    matches!(u.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"))
}

/// A redirect URI a client may register (RFC 7591 §2, RFC 6749 §3.1.2, RFC 8252 §7, RFC
/// 9700 §2.1): absolute, no fragment, no credentials; https, or http on a loopback host, or
/// — for public (native) clients only — a private-use scheme in reverse-domain form.
pub fn check_redirect_uri(uri: &str, public: bool) -> Result<(), crate::error::OAuth2Error> {
    let bad = |why: &str| {
        crate::error::OAuth2Error::with_description(
            crate::error::ErrorCode::InvalidRedirectUri,
            format!("redirect URI '{uri}': {why}"),
        )
    };
    let u = Url::parse(uri).map_err(|_| bad("not an absolute URI"))?;
    if u.fragment().is_some() || uri.contains('#') {
        return Err(bad("a fragment is not allowed (RFC 6749 section 3.1.2)"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(bad("credentials are not allowed"));
    }
    if let Some(url::Host::Domain(d)) = u.host() {
        // A host name of letters, digits, '-' and '.' only: the URL standard lets '*', ';',
        // ',' and quotes through, which would change meaning where the origin is written
        // into a header (the pages' CSP form-action).
        if !d
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
        {
            return Err(bad(
                "the host name may hold letters, digits, '-' and '.' only",
            ));
        }
    }
    match u.scheme() {
        "https" if u.host_str().is_some() => Ok(()),
        "http" if is_loopback_host(&u) => Ok(()),
        "http" => Err(bad("http is only for loopback addresses; use https")),
        "javascript" | "data" | "file" | "vbscript" | "blob" | "about" | "ftp" | "ws" | "wss" => {
            Err(bad("this scheme cannot be a redirect URI"))
        }
        scheme if public && scheme.contains('.') => Ok(()),
        _ if public => Err(bad(
            "a private-use scheme must be in reverse domain form, like com.example.app (RFC 8252 section 7.1)",
        )),
        _ => Err(bad("only public (native) clients may use a private-use scheme")),
    }
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

#[cfg(test)]
mod check_tests {
    use super::check_redirect_uri;

    #[test]
    fn registered_redirect_uris_have_plain_host_names() {
        for ok in [
            "https://app.example.com/cb",
            "https://app-1.example.com:8443/cb?x=1",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
        ] {
            assert!(check_redirect_uri(ok, false).is_ok(), "{ok}");
        }
        assert!(check_redirect_uri("com.example.app:/cb", true).is_ok());
        for bad in [
            "https://*/cb",
            "https://x;sandbox/cb",
            "https://a,b.example/cb",
            "https://a'b.example/cb",
            "https://a_b.example/cb",
        ] {
            assert!(check_redirect_uri(bad, false).is_err(), "{bad}");
        }
    }
}
