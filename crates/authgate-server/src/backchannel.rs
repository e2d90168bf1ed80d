//! Back-channel logout delivery (OpenID Connect Back-Channel Logout 1.0 §2.5): each logout
//! token is POSTed to its client in a task of its own, so a slow or dead client never holds
//! up the user's logout nor another client's notice.
//!
//! Outbound requests go to public addresses only: a host that is or resolves to a
//! loopback, private, link-local or otherwise internal address is refused (SSRF), and the
//! connection uses the very addresses that were checked (no second DNS answer). Tests that
//! run their receiver on 127.0.0.1 set `AUTHGATE_TEST_ALLOW_PRIVATE_OUTBOUND=1`.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use authgate::BackchannelLogout;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// How long one attempt may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts per notice: the first, then retries after 1 s and 4 s.
const ATTEMPTS: u32 = 3;
/// The most of a client's answer that is read (and thrown away).
const MAX_ANSWER: usize = 16 * 1024;

/// The environment variable that lets outbound requests reach private addresses (tests).
pub(crate) const ALLOW_PRIVATE_ENV: &str = "AUTHGATE_TEST_ALLOW_PRIVATE_OUTBOUND";

pub(crate) type Https = Client<HttpsConnector<HttpConnector<PublicOnly>>, Full<Bytes>>;

/// Posts logout tokens.
#[derive(Clone)]
pub(crate) struct Backchannel {
    http: Https,
    allow_private: bool,
}

impl Backchannel {
    /// A client trusting the system's root certificates, on the aws-lc-rs provider,
    /// reaching public addresses only (unless [`ALLOW_PRIVATE_ENV`] is `1`).
    pub(crate) fn new() -> Result<Self, String> {
        let allow_private = std::env::var(ALLOW_PRIVATE_ENV).is_ok_and(|v| v == "1");
        if allow_private {
            tracing::warn!("{ALLOW_PRIVATE_ENV}=1: back-channel logout may reach private and loopback addresses (for tests only)");
        }
        Self::with_policy(allow_private)
    }

    fn with_policy(allow_private: bool) -> Result<Self, String> {
        Ok(Self {
            http: outbound_client(allow_private)
                .map_err(|e| format!("back-channel logout: {e}"))?,
            allow_private,
        })
    }

    /// Sends every notice and waits for all of them (the CLI, which must not exit first);
    /// answers how many were delivered.
    pub(crate) async fn deliver_and_wait(&self, notices: Vec<BackchannelLogout>) -> usize {
        let mut tasks = Vec::new();
        for notice in notices {
            let this = self.clone();
            tasks.push(tokio::spawn(async move { send(&this, &notice).await }));
        }
        let mut delivered = 0;
        for t in tasks {
            delivered += usize::from(t.await.unwrap_or(false));
        }
        delivered
    }

    /// Sends every notice in the background.
    pub(crate) fn deliver(&self, notices: Vec<BackchannelLogout>) {
        for notice in notices {
            let this = self.clone();
            tokio::spawn(async move {
                send(&this, &notice).await;
            });
        }
    }
}

/// An HTTP client for requests to other parties' servers (back-channel logout, client
/// metadata documents): the system's root certificates on the aws-lc-rs provider, a
/// connect timeout, and a resolver that answers public addresses only (unless
/// `allow_private`). It follows no redirects.
pub(crate) fn outbound_client(allow_private: bool) -> Result<Https, String> {
    let mut http = HttpConnector::new_with_resolver(PublicOnly { allow_private });
    http.enforce_http(false);
    http.set_connect_timeout(Some(TIMEOUT));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|e| format!("cannot load the system's root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// Whether an address is one the open internet routes to: not loopback, private, shared
/// (CGNAT), link-local, unique-local, unspecified, multicast, broadcast or documentation.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared address space, RFC 6598
                || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
                || (a == 198 && (b == 18 || b == 19)) // benchmarking, RFC 2544
                || a >= 240) // reserved
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            // Addresses that carry an IPv4 address reach it: judge that one.
            let embedded = if let Some(v4) = v6.to_ipv4_mapped() {
                Some(v4)
            } else if s[0] == 0x64 && s[1] == 0xff9b && (s[2..6] == [0, 0, 0, 0] || s[2] == 1) {
                // NAT64 (RFC 6052 64:ff9b::/96, RFC 8215 64:ff9b:1::/48)
                Some(v4_of(s[6], s[7]))
            } else if s[0] == 0x2002 {
                // 6to4 (RFC 3056): the IPv4 address follows the prefix
                Some(v4_of(s[1], s[2]))
            } else if s[..6] == [0, 0, 0, 0, 0, 0] && !v6.is_unspecified() && !v6.is_loopback() {
                // IPv4-compatible (deprecated, ::a.b.c.d)
                Some(v4_of(s[6], s[7]))
            } else {
                None
            };
            if let Some(v4) = embedded {
                return is_public(IpAddr::V4(v4));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        }
    }
}

/// The IPv4 address held in two IPv6 segments.
fn v4_of(hi: u16, lo: u16) -> std::net::Ipv4Addr {
    let ([a, b], [c, d]) = (hi.to_be_bytes(), lo.to_be_bytes());
    std::net::Ipv4Addr::new(a, b, c, d)
}

/// An error with its causes (the client's top level says only "connect").
pub(crate) fn cause_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut why = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        why = format!("{why}: {c}");
        cause = c.source();
    }
    why
}

/// Whether the resolver refused the host (its error is somewhere in the cause chain).
fn no_public_address(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::PermissionDenied)
        {
            return true;
        }
        cause = c.source();
    }
    false
}

/// A DNS resolver that answers only public addresses; the connector connects to what it
/// answers, so the address checked is the address used.
#[derive(Clone)]
pub(crate) struct PublicOnly {
    allow_private: bool,
}

impl tower_service::Service<Name> for PublicOnly {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("{} has no public address", name.as_str()),
                ));
            }
            Ok(found.into_iter())
        })
    }
}

/// What one attempt came to.
enum Outcome {
    Delivered,
    /// The client answered 4xx (RP: "400 if the logout failed"): retrying will not help.
    Refused(u16),
    /// A 5xx, a timeout or a network error: worth another try.
    Failed(String),
}

async fn attempt(this: &Backchannel, notice: &BackchannelLogout) -> Outcome {
    // A literal IP address skips the resolver: check it here.
    let literal = url::Url::parse(&notice.uri)
        .ok()
        .and_then(|u| match u.host() {
            Some(url::Host::Ipv4(a)) => Some(IpAddr::V4(a)),
            Some(url::Host::Ipv6(a)) => Some(IpAddr::V6(a)),
            _ => None,
        });
    if let Some(ip) = literal.filter(|ip| !this.allow_private && !is_public(*ip)) {
        tracing::warn!(client_id = %notice.client_id, %ip, "back-channel logout refused: not a public address");
        return Outcome::Refused(0);
    }
    let http = &this.http;
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("logout_token", &notice.logout_token)
        .finish();
    let request = match http::Request::post(&notice.uri)
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(http::header::CACHE_CONTROL, "no-store")
        .header(
            http::header::USER_AGENT,
            concat!("authgate/", env!("CARGO_PKG_VERSION")),
        )
        .body(Full::new(Bytes::from(body)))
    {
        Ok(r) => r,
        Err(e) => {
            // The URI was checked when the client was configured; nothing to retry.
            tracing::warn!(client_id = %notice.client_id, error = %e, "back-channel logout: unusable URI");
            return Outcome::Refused(0);
        }
    };
    let exchange = async {
        let res = http.request(request).await?;
        let status = res.status();
        // Read a little of the answer so the connection can be reused; ignore the rest.
        let _ = http_body_util::Limited::new(res.into_body(), MAX_ANSWER)
            .collect()
            .await;
        Ok::<_, hyper_util::client::legacy::Error>(status)
    };
    match tokio::time::timeout(TIMEOUT, exchange).await {
        Ok(Ok(s)) if s.is_success() => Outcome::Delivered,
        Ok(Ok(s)) if s.is_client_error() => Outcome::Refused(s.as_u16()),
        Ok(Ok(s)) => Outcome::Failed(format!("status {}", s.as_u16())),
        // A host without a public address will not grow one by retrying.
        Ok(Err(e)) if no_public_address(&e) => {
            tracing::warn!(client_id = %notice.client_id, "back-channel logout refused: the host has no public address");
            Outcome::Refused(0)
        }
        Ok(Err(e)) => Outcome::Failed(cause_chain(&e)),
        Err(_) => Outcome::Failed(format!("no answer within {} s", TIMEOUT.as_secs())),
    }
}

/// One notice, with bounded retries; answers whether it was delivered.
async fn send(this: &Backchannel, notice: &BackchannelLogout) -> bool {
    for n in 1..=ATTEMPTS {
        match attempt(this, notice).await {
            Outcome::Delivered => {
                tracing::info!(client_id = %notice.client_id, attempt = n, "back-channel logout delivered");
                return true;
            }
            Outcome::Refused(status) => {
                tracing::warn!(client_id = %notice.client_id, status, "back-channel logout refused by the client");
                return false;
            }
            Outcome::Failed(why) => {
                tracing::warn!(client_id = %notice.client_id, error = %why, attempt = n, "back-channel logout failed");
            }
        }
        if n < ATTEMPTS {
            tokio::time::sleep(Duration::from_secs(u64::from(4u32.pow(n - 1)))).await;
        }
    }
    tracing::error!(client_id = %notice.client_id, "back-channel logout not delivered; giving up");
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_reached() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "fe80::1",
            "fc00::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "2001:db8::1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::a00:1",
            "2002:a9fe:a9fe::1",
            "::a9fe:a9fe",
            "fec0::1",
            "198.18.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700:4700::1111",
            "64:ff9b::808:808",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn a_loopback_receiver_is_never_contacted() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let b = Backchannel::with_policy(false).unwrap();
        for uri in [
            format!("http://127.0.0.1:{port}/bc"),
            format!("http://localhost:{port}/bc"),
        ] {
            let notice = BackchannelLogout::new("c", uri.clone(), "t");
            assert!(
                matches!(attempt(&b, &notice).await, Outcome::Refused(_)),
                "{uri}"
            );
        }
        // Nothing connected.
        let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        assert!(accepted.is_err(), "the receiver was contacted");
    }
}
