//! Client ID Metadata Documents, fetched for the engine (see
//! `authgate::client::metadata_document`): https only, public addresses only (the address
//! connected to is the one checked), no redirects, 5 seconds, 64 KiB, and the response's
//! `Cache-Control: max-age` passed on for the engine to bound.

use std::net::IpAddr;
use std::time::Duration;

use authgate::client::metadata_document::{DocumentFetcher, FetchedDocument};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use crate::backchannel::{cause_chain, is_public, outbound_client, Https};

const TIMEOUT: Duration = Duration::from_secs(5);
const MAX_DOCUMENT: usize = 64 * 1024;

/// The fetcher.
pub(crate) struct Documents {
    http: Https,
    allow_private: bool,
}

impl Documents {
    pub(crate) fn new(allow_private: bool) -> Result<Self, String> {
        Ok(Self {
            http: outbound_client(allow_private)
                .map_err(|e| format!("client metadata documents: {e}"))?,
            allow_private,
        })
    }
}

/// `max-age` of a `Cache-Control` value (`no-store` and `no-cache` as 0).
fn max_age(value: &str) -> Option<u64> {
    let mut age = None;
    for part in value.split(',').map(str::trim) {
        let lower = part.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(0);
        }
        if let Some(v) = lower.strip_prefix("max-age=") {
            age = v.trim_matches('"').parse().ok();
        }
    }
    age
}

/// GETs `url` through `http` as the outbound rules say: a literal address must be public
/// (unless `allow_private`; names are checked by the client's resolver), no redirects, at
/// most `max` bytes, all within `timeout`. Answers the response's headers and body.
pub(crate) async fn fetch_bounded(
    http: &Https,
    allow_private: bool,
    url: &str,
    accept: &'static str,
    max: usize,
    timeout: Duration,
) -> Result<(http::HeaderMap, Bytes), String> {
    let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
    // A literal address skips the resolver: check it here.
    let literal = match parsed.host() {
        Some(url::Host::Ipv4(a)) => Some(IpAddr::V4(a)),
        Some(url::Host::Ipv6(a)) => Some(IpAddr::V6(a)),
        _ => None,
    };
    if literal.is_some_and(|ip| !allow_private && !is_public(ip)) {
        return Err("the host is not a public address".into());
    }
    let request = http::Request::get(url)
        .header(http::header::ACCEPT, accept)
        .header(
            http::header::USER_AGENT,
            concat!("authgate/", env!("CARGO_PKG_VERSION")),
        )
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let exchange = async {
        let res = http.request(request).await.map_err(|e| cause_chain(&e))?;
        let status = res.status();
        if status.is_redirection() {
            return Err(format!("answered {status}: redirects are not followed"));
        }
        if !status.is_success() {
            return Err(format!("answered {status}"));
        }
        let (parts, body) = res.into_parts();
        let body = http_body_util::Limited::new(body, max)
            .collect()
            .await
            .map_err(|_| format!("the response is over {max} bytes or was cut off"))?
            .to_bytes();
        Ok((parts.headers, body))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("no answer within {} s", timeout.as_secs()))?
}

#[authgate::async_trait]
impl DocumentFetcher for Documents {
    async fn fetch(&self, url: &str) -> Result<FetchedDocument, String> {
        let (headers, body) = fetch_bounded(
            &self.http,
            self.allow_private,
            url,
            "application/json",
            MAX_DOCUMENT,
            TIMEOUT,
        )
        .await?;
        let age = headers
            .get(http::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age);
        Ok(FetchedDocument::new(body.to_vec(), age))
    }

    fn refused(&self, client_id: &str, why: &str) {
        tracing::warn!(client_id = %client_id.escape_debug(), reason = %why, "client metadata document not taken");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn private_addresses_are_never_fetched() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let d = Documents::new(false).unwrap();
        for url in [
            format!("https://127.0.0.1:{port}/client.json"),
            format!("https://localhost:{port}/client.json"),
            format!("http://[::1]:{port}/client.json"),
            "https://169.254.169.254/latest/meta-data".to_owned(),
        ] {
            assert!(d.fetch(&url).await.is_err(), "{url}");
        }
        let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        assert!(accepted.is_err(), "the private address was contacted");
    }

    #[test]
    fn cache_control_max_age() {
        assert_eq!(max_age("public, max-age=600"), Some(600));
        assert_eq!(max_age("no-store"), Some(0));
        assert_eq!(max_age("private"), None);
        assert_eq!(max_age("max-age=abc"), None);
    }
}
