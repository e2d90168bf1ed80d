//! Back-channel logout delivery (OpenID Connect Back-Channel Logout 1.0 §2.5): each logout
//! token is POSTed to its client in a task of its own, so a slow or dead client never holds
//! up the user's logout nor another client's notice.

use std::time::Duration;

use authgate::BackchannelLogout;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// How long one attempt may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts per notice: the first, then retries after 1 s and 4 s.
const ATTEMPTS: u32 = 3;
/// The most of a client's answer that is read (and thrown away).
const MAX_ANSWER: usize = 16 * 1024;

type Https = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Posts logout tokens.
#[derive(Clone)]
pub(crate) struct Backchannel {
    http: Https,
}

impl Backchannel {
    /// A client trusting the system's root certificates, on the aws-lc-rs provider.
    pub(crate) fn new() -> Result<Self, String> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|e| {
                format!("back-channel logout: cannot load the system's root certificates: {e}")
            })?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            http: Client::builder(TokioExecutor::new()).build(https),
        })
    }

    /// Sends every notice in the background.
    pub(crate) fn deliver(&self, notices: Vec<BackchannelLogout>) {
        for notice in notices {
            let http = self.http.clone();
            tokio::spawn(async move { send(&http, &notice).await });
        }
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

async fn attempt(http: &Https, notice: &BackchannelLogout) -> Outcome {
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
        let res = http.request(request).await.map_err(|e| e.to_string())?;
        let status = res.status();
        // Read a little of the answer so the connection can be reused; ignore the rest.
        let _ = http_body_util::Limited::new(res.into_body(), MAX_ANSWER)
            .collect()
            .await;
        Ok::<_, String>(status)
    };
    match tokio::time::timeout(TIMEOUT, exchange).await {
        Ok(Ok(s)) if s.is_success() => Outcome::Delivered,
        Ok(Ok(s)) if s.is_client_error() => Outcome::Refused(s.as_u16()),
        Ok(Ok(s)) => Outcome::Failed(format!("status {}", s.as_u16())),
        Ok(Err(e)) => Outcome::Failed(e),
        Err(_) => Outcome::Failed(format!("no answer within {} s", TIMEOUT.as_secs())),
    }
}

/// One notice, with bounded retries.
async fn send(http: &Https, notice: &BackchannelLogout) {
    for n in 1..=ATTEMPTS {
        match attempt(http, notice).await {
            Outcome::Delivered => {
                tracing::info!(client_id = %notice.client_id, attempt = n, "back-channel logout delivered");
                return;
            }
            Outcome::Refused(status) => {
                tracing::warn!(client_id = %notice.client_id, status, "back-channel logout refused by the client");
                return;
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
}
