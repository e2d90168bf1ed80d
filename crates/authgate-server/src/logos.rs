//! Client logos for the consent pages, fetched by the server and written into the page as
//! `data:` URLs, so the page itself loads nothing from another origin.
//!
//! The consent page's URL carries the request's `state` and PKCE challenge: RFC 9700 §4.2.4
//! asks that such a page include no third-party resources, and a logo loaded from the
//! client's host would also tell that host who looked at the page and when. So the server
//! fetches the logo itself under the outbound rules of the other fetches (public addresses
//! only, no redirects, bounded size and time), keeps it only if its bytes are a PNG, JPEG,
//! GIF or WebP image (never SVG, which can carry script), and caches the result for an hour
//! (a failure for a minute). Self-registered clients' logos are fetched at most
//! [`FETCHES_PER_MINUTE`] a minute, past which their pages show no logo until the minute is
//! over; the logos of clients the operator configured are not held to that budget, so a
//! stream of registrations cannot take them off the pages.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use authgate::Clock;

use base64::Engine;

use crate::backchannel::{outbound_client, Https};

/// The largest logo kept: a 48-pixel image needs far less.
const MAX_LOGO: usize = 32 * 1024;
/// A page waits this long at most for a logo it has not cached.
const TIMEOUT: Duration = Duration::from_secs(2);
/// How long a fetched logo is kept, and how long a failure is remembered, in seconds.
const KEEP: i64 = 3600;
const KEEP_FAILURE: i64 = 60;
/// The most logos cached (past it, the expired go first, then everything).
const MAX_CACHED: usize = 1000;
/// The most fetches of self-registered clients' logos a minute.
const FETCHES_PER_MINUTE: u32 = 60;

/// The fetcher and its cache.
pub(crate) struct Logos {
    http: Https,
    allow_private: bool,
    clock: Arc<dyn Clock>,
    cache: Mutex<HashMap<String, Cached>>,
    /// The current minute's start (Unix seconds) and its fetches.
    window: Mutex<(i64, u32)>,
}

struct Cached {
    /// The logo as a `data:` URL; `None` when it could not be taken.
    data_url: Option<Arc<str>>,
    until: i64,
}

impl Logos {
    pub(crate) fn new(allow_private: bool, clock: Arc<dyn Clock>) -> Result<Self, String> {
        Ok(Self {
            http: outbound_client(allow_private).map_err(|e| format!("client logos: {e}"))?,
            allow_private,
            window: Mutex::new((clock.now(), 0)),
            clock,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The logo at `url` as a `data:` URL, from the cache or fetched now; `None` when it
    /// cannot be had (unreachable, too big, not an image of the four kinds, or the minute's
    /// fetches are spent, when `budgeted`).
    pub(crate) async fn data_url(&self, url: &str, budgeted: bool) -> Option<Arc<str>> {
        let now = self.clock.now();
        if let Some(c) = lock(&self.cache).get(url).filter(|c| c.until > now) {
            return c.data_url.clone();
        }
        if budgeted && !self.may_fetch(now) {
            return None;
        }
        let fetched = crate::documents::fetch_bounded(
            &self.http,
            self.allow_private,
            url,
            "image/png, image/jpeg, image/gif, image/webp",
            MAX_LOGO,
            TIMEOUT,
        )
        .await;
        let data_url = match fetched {
            Ok((_, body)) => match image_type(&body) {
                Some(mime) => Some(Arc::from(format!(
                    "data:{mime};base64,{}",
                    base64::engine::general_purpose::STANDARD.encode(&body)
                ))),
                None => {
                    tracing::warn!(url = %url.escape_debug(), "client logo not shown: not a PNG, JPEG, GIF or WebP image");
                    None
                }
            },
            Err(why) => {
                tracing::warn!(url = %url.escape_debug(), reason = %why.escape_debug(), "client logo not shown");
                None
            }
        };
        let keep = if data_url.is_some() {
            KEEP
        } else {
            KEEP_FAILURE
        };
        let mut cache = lock(&self.cache);
        if cache.len() >= MAX_CACHED {
            cache.retain(|_, c| c.until > now);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        cache.insert(
            url.to_owned(),
            Cached {
                data_url: data_url.clone(),
                until: now + keep,
            },
        );
        data_url
    }

    /// Counts one fetch against the minute's budget; false when it is spent.
    fn may_fetch(&self, now: i64) -> bool {
        let mut window = lock(&self.window);
        if now - window.0 >= 60 {
            *window = (now, 0);
        }
        if window.1 >= FETCHES_PER_MINUTE {
            return false;
        }
        window.1 += 1;
        true
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The media type of an image by its first bytes: PNG, JPEG, GIF or WebP; anything else
/// (SVG, HTML, a type the response only claims) is `None`.
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_four_image_kinds_by_their_bytes() {
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(image_type(b"\xff\xd8\xff\xe0...."), Some("image/jpeg"));
        assert_eq!(image_type(b"GIF89a...."), Some("image/gif"));
        assert_eq!(image_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        for other in [
            &b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script/></svg>"[..],
            b"<html>",
            b"RIFF\0\0\0\0WAVE",
            b"",
        ] {
            assert_eq!(image_type(other), None);
        }
    }

    #[tokio::test]
    async fn private_addresses_are_never_fetched_and_failures_are_cached() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let logos = Logos::new(false, Arc::new(authgate::SystemClock)).unwrap();
        let url = format!("http://127.0.0.1:{port}/logo.png");
        assert!(logos.data_url(&url, true).await.is_none());
        assert!(logos.data_url(&url, true).await.is_none());
        let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        assert!(accepted.is_err(), "the private address was contacted");
        // One fetch was tried; the second answer came from the cache.
        assert_eq!(lock(&logos.window).1, 1);
    }

    #[test]
    fn the_fetch_budget_is_per_minute() {
        let now = 1_800_000_000;
        let logos = Logos::new(false, Arc::new(authgate::FrozenClock::at(now))).unwrap();
        for _ in 0..FETCHES_PER_MINUTE {
            assert!(logos.may_fetch(now));
        }
        assert!(!logos.may_fetch(now + 59));
        assert!(logos.may_fetch(now + 60));
    }
}
