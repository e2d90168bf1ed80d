//! Client ID Metadata Documents (the IETF OAuth working group's draft, which the MCP
//! authorization specification prefers to RFC 7591): a `client_id` that is an https URL
//! names a JSON document of client metadata published there, and the server takes the
//! client from it — no registration step.
//!
//! [`MetadataDocumentClients`] wraps the server's [`ClientStore`]: URL client ids are
//! resolved through a [`DocumentFetcher`] (the application's HTTP client, which must keep
//! to public addresses, time and size limits), checked by [`document_client`], and cached
//! for what the document's `Cache-Control` allows within bounds; every other id goes to the
//! wrapped store. Turn it on with
//! [`crate::AuthorizationServer::with_client_id_metadata_documents`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use serde_json::{Map, Value};
use url::Url;

use super::{Client, ClientAuthMethod, ClientRecord, ClientStore};
use crate::clock::Clock;
use crate::error::StorageError;
use crate::redirect_uri::check_redirect_uri;
use crate::scope::Scope;

/// The metadata member that marks a client taken from its metadata document (the pages
/// show its host, since its name is only what the document claims).
pub const DOCUMENT_CLIENT_KEY: &str = "client_id_metadata_document";

/// A fetched document.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct FetchedDocument {
    /// The body, as served.
    pub body: Vec<u8>,
    /// The lifetime the response's `Cache-Control: max-age` allows, if any.
    pub max_age: Option<u64>,
}

impl FetchedDocument {
    /// A document with its cache lifetime.
    pub fn new(body: Vec<u8>, max_age: Option<u64>) -> Self {
        Self { body, max_age }
    }
}

/// Fetches a client's metadata document: the application's HTTP client.
///
/// Implementations must refuse what would make the server a proxy into its own network:
/// only `https` (loopback `http` in tests), only public addresses (checked on the address
/// connected to), no redirects, a few seconds at most and a small body limit.
#[async_trait]
pub trait DocumentFetcher: Send + Sync + 'static {
    /// GETs `url` (`Accept: application/json`); answers the body and its cache lifetime,
    /// or why it could not.
    async fn fetch(&self, url: &str) -> Result<FetchedDocument, String>;

    /// Hears why a document was not taken (to log it: the engine logs nothing itself);
    /// the request that named the client then meets an unknown client.
    fn refused(&self, _client_id: &str, _why: &str) {}
}

/// How long a document is kept when its response says nothing, and the bounds on what it
/// may say (a minute to a day).
const DEFAULT_TTL: u64 = 300;
const MIN_TTL: u64 = 60;
const MAX_TTL: u64 = 86_400;
/// A document that could not be fetched or was refused is asked for again after this.
const REFUSED_TTL: i64 = 10;
/// The most documents cached; past it, expired entries go, then the half that expires
/// soonest.
const MAX_CACHED: usize = 10_000;
/// The most documents fetched per minute, whoever asks: a request naming a new URL costs
/// the server an outbound fetch, so the fetches are bounded (past it, new URLs are unknown
/// clients until the minute is over; cached ones still resolve).
const FETCHES_PER_MINUTE: u32 = 120;

/// Whether `client_id` is a URL that names a metadata document: `https` (or `http` on a
/// loopback host when `allow_loopback_http`), a host, a path other than `/`, no query,
/// fragment, credentials or dot segments.
///
/// The id must also be written exactly as the URL standard writes the URL it parses to:
/// the parser resolves dot segments in all their spellings (`..`, `.%2e`, `%2e.`), reads
/// `\` as `/`, drops tabs and newlines and accepts `https:/host`, so an id in any other
/// form would name one URL and fetch another.
pub fn is_document_url(client_id: &str, allow_loopback_http: bool) -> bool {
    let Ok(u) = Url::parse(client_id) else {
        return false;
    };
    if u.as_str() != client_id {
        return false;
    }
    let scheme_ok = match u.scheme() {
        "https" => true,
        "http" => {
            allow_loopback_http && matches!(u.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"))
        }
        _ => false,
    };
    // Dot segments cannot be left: the parser removed them, and the id equals its result.
    scheme_ok
        && u.host_str().is_some()
        && u.path() != "/"
        && u.query().is_none()
        && u.fragment().is_none()
        && u.username().is_empty()
        && u.password().is_none()
}

/// The client a metadata document describes, checked: a JSON object whose `client_id` is
/// exactly the URL it came from; a public client (`token_endpoint_auth_method` absent or
/// `none`; no `client_secret` — a shared secret cannot be published); the authorization
/// code grant (and refresh tokens) with the `code` response type; at least one redirect URI,
/// each valid for a public client; https URLs for `client_uri`, `logo_uri`, `policy_uri`,
/// `tos_uri`. Its scope is what it asks for within `ceiling` (all of `ceiling` when it asks
/// for none).
///
/// # Errors
/// Why the document is refused.
pub fn document_client(
    client_id: &str,
    body: &[u8],
    ceiling: &Scope,
) -> Result<ClientRecord, String> {
    let doc: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => m,
        _ => return Err("the document is not a JSON object".into()),
    };
    let text = |name: &str| -> Result<Option<&str>, String> {
        match doc.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(format!("{name} must be a string")),
        }
    };
    let list = |name: &str| -> Result<Option<Vec<String>>, String> {
        match doc.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("{name} must be an array of strings"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(format!("{name} must be an array of strings")),
        }
    };
    if text("client_id")? != Some(client_id) {
        return Err("the document's client_id is not the URL it was fetched from".into());
    }
    if doc.contains_key("client_secret") || doc.contains_key("client_secret_expires_at") {
        return Err("a metadata document cannot carry a client secret".into());
    }
    match text("token_endpoint_auth_method")? {
        None | Some("none") => {}
        Some(other) => {
            return Err(format!(
                "token_endpoint_auth_method '{other}' is not supported for metadata document clients (only none)"
            ))
        }
    }
    let grant_types = list("grant_types")?.unwrap_or_else(|| vec!["authorization_code".into()]);
    if let Some(g) = grant_types
        .iter()
        .find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"))
    {
        return Err(format!(
            "grant type '{g}' is not open to metadata document clients"
        ));
    }
    let response_types = list("response_types")?.unwrap_or_else(|| vec!["code".into()]);
    if response_types.iter().any(|r| r != "code") {
        return Err("only the code response type is open to metadata document clients".into());
    }
    let redirect_uris = list("redirect_uris")?.unwrap_or_default();
    if redirect_uris.is_empty() {
        return Err("redirect_uris is required".into());
    }
    for uri in &redirect_uris {
        check_redirect_uri(uri, true).map_err(|e| {
            e.error_description()
                .unwrap_or("bad redirect URI")
                .to_owned()
        })?;
    }
    let scope = match text("scope")? {
        Some(s) => Scope::parse(s)
            .map_err(|_| "scope is malformed".to_owned())?
            .intersection(ceiling),
        None => ceiling.clone(),
    };
    let mut client = ClientRecord::public(client_id)
        .auth_method(ClientAuthMethod::None)
        .redirect_uris(redirect_uris)
        .grant_types(grant_types)
        .response_types(response_types);
    client.scope = scope;
    client.client_name = text("client_name")?.map(str::to_owned);
    for name in ["client_uri", "logo_uri", "policy_uri", "tos_uri"] {
        if let Some(v) = text(name)? {
            let ok = Url::parse(v).is_ok_and(|u| u.scheme() == "https" && u.fragment().is_none());
            if !ok {
                return Err(format!("{name} must be an https URL"));
            }
            client.metadata.insert(name.into(), v.into());
        }
    }
    client
        .metadata
        .insert(DOCUMENT_CLIENT_KEY.into(), true.into());
    Ok(client)
}

enum Cached {
    Client(Arc<dyn Client>, i64),
    Refused(i64),
}

/// A [`ClientStore`] that resolves URL client ids by their metadata documents and every
/// other id through the store it wraps. See the module.
pub struct MetadataDocumentClients {
    inner: Arc<dyn ClientStore>,
    fetcher: Arc<dyn DocumentFetcher>,
    clock: Arc<dyn Clock>,
    ceiling: Scope,
    allow_loopback_http: bool,
    cache: Mutex<HashMap<String, Cached>>,
    /// The current minute and the fetches made in it.
    budget: Mutex<(i64, u32)>,
}

impl std::fmt::Debug for MetadataDocumentClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataDocumentClients")
            .field("ceiling", &self.ceiling)
            .field("allow_loopback_http", &self.allow_loopback_http)
            .finish_non_exhaustive()
    }
}

impl MetadataDocumentClients {
    /// Wraps `inner`; document clients get at most `ceiling` as their scope.
    pub fn new(
        inner: Arc<dyn ClientStore>,
        fetcher: Arc<dyn DocumentFetcher>,
        clock: Arc<dyn Clock>,
        ceiling: Scope,
    ) -> Self {
        Self {
            inner,
            fetcher,
            clock,
            ceiling,
            allow_loopback_http: false,
            cache: Mutex::new(HashMap::new()),
            budget: Mutex::new((0, 0)),
        }
    }

    /// Takes one fetch from this minute's budget; false when it is spent.
    fn may_fetch(&self, now: i64) -> bool {
        let mut b = self.budget.lock().unwrap_or_else(PoisonError::into_inner);
        let minute = now.div_euclid(60);
        if b.0 != minute {
            *b = (minute, 0);
        }
        if b.1 >= FETCHES_PER_MINUTE {
            return false;
        }
        b.1 += 1;
        true
    }

    /// Also takes `http` client ids on loopback hosts (tests; never in production).
    #[must_use]
    pub fn allow_loopback_http(mut self, on: bool) -> Self {
        self.allow_loopback_http = on;
        self
    }

    fn cached(&self, id: &str, now: i64) -> Option<Option<Arc<dyn Client>>> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        match cache.get(id)? {
            Cached::Client(c, until) if now < *until => Some(Some(c.clone())),
            Cached::Refused(until) if now < *until => Some(None),
            _ => None,
        }
    }

    fn remember(&self, id: &str, entry: Cached, now: i64) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let until = |c: &Cached| match c {
            Cached::Client(_, until) | Cached::Refused(until) => *until,
        };
        if cache.len() >= MAX_CACHED {
            cache.retain(|_, c| now < until(c));
        }
        if cache.len() >= MAX_CACHED {
            let mut expiries: Vec<i64> = cache.values().map(until).collect();
            expiries.sort_unstable();
            let cut = expiries.get(expiries.len() / 2).copied().unwrap_or(now);
            cache.retain(|_, c| until(c) > cut);
        }
        cache.insert(id.to_owned(), entry);
    }
}

#[async_trait]
impl ClientStore for MetadataDocumentClients {
    async fn find_client(&self, client_id: &str) -> Result<Option<Arc<dyn Client>>, StorageError> {
        if !is_document_url(client_id, self.allow_loopback_http) {
            return self.inner.find_client(client_id).await;
        }
        let now = self.clock.now();
        if let Some(hit) = self.cached(client_id, now) {
            return Ok(hit);
        }
        if !self.may_fetch(now) {
            self.fetcher
                .refused(client_id, "too many metadata documents fetched this minute");
            return Ok(None);
        }
        let outcome = match self.fetcher.fetch(client_id).await {
            Ok(doc) => {
                document_client(client_id, &doc.body, &self.ceiling).map(|c| (c, doc.max_age))
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok((client, max_age)) => {
                let ttl = max_age.unwrap_or(DEFAULT_TTL).clamp(MIN_TTL, MAX_TTL);
                let client: Arc<dyn Client> = Arc::new(client);
                let until = now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX));
                self.remember(client_id, Cached::Client(client.clone(), until), now);
                Ok(Some(client))
            }
            Err(why) => {
                self.fetcher.refused(client_id, &why);
                self.remember(client_id, Cached::Refused(now + REFUSED_TTL), now);
                Ok(None)
            }
        }
    }
}

/// The mark, in the server's extensions, that metadata document clients are taken (what
/// the metadata advertises as `client_id_metadata_document_supported`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DocumentsEnabled;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_client_ids_name_a_document() {
        for yes in ["https://app.example/client.json", "https://app.example/a/b"] {
            assert!(is_document_url(yes, false), "{yes}");
        }
        for no in [
            "https://app.example",
            "https://app.example/",
            "https://app.example/c?x=1",
            "https://app.example/c#f",
            "https://u:p@app.example/c",
            "https://app.example/a/../c",
            "http://app.example/c",
            "http://127.0.0.1:8/c",
            "web-client",
            "urn:example:client",
        ] {
            assert!(!is_document_url(no, false), "{no}");
        }
        assert!(is_document_url("http://127.0.0.1:8/c", true));
        assert!(!is_document_url("http://10.0.0.1/c", true));
    }

    #[test]
    fn ids_the_url_parser_would_rewrite_name_no_document() {
        // Each parses to another URL than it spells (most of them to
        // https://app.example/c), so the id would not be the URL fetched.
        for rewritten in [
            "https:/app.example/a/../c",
            "https:app.example/a/../c",
            "https://app.example/a/.%2e/c",
            "https://app.example/a/%2E./c",
            "https://app.example\\a\\..\\c",
            "https://app.example/a/.\t./c",
            " https://app.example/c",
            "https://APP.example/c",
            "https://app.example:443/c",
            "https://app.example/c d",
        ] {
            assert!(!is_document_url(rewritten, true), "{rewritten:?}");
        }
    }

    #[test]
    fn a_document_is_checked_and_becomes_a_public_client() {
        let id = "https://app.example/client.json";
        let ceiling: Scope = "openid profile".parse().unwrap();
        let ok = serde_json::json!({
            "client_id": id, "client_name": "App", "redirect_uris": ["https://app.example/cb"],
            "scope": "profile admin", "logo_uri": "https://app.example/logo.png"
        });
        let c = document_client(id, ok.to_string().as_bytes(), &ceiling).unwrap();
        assert!(c.is_public());
        assert_eq!(c.scope.to_string(), "profile");
        assert_eq!(c.grant_types, ["authorization_code"]);
        assert!(c.metadata.contains_key(DOCUMENT_CLIENT_KEY));
        for (bad, why) in [
            (
                serde_json::json!({"client_id": "https://other.example/c", "redirect_uris": ["https://a.example/cb"]}),
                "another client_id",
            ),
            (
                serde_json::json!({"client_id": id, "redirect_uris": []}),
                "no redirect URI",
            ),
            (
                serde_json::json!({"client_id": id, "redirect_uris": ["https://a.example/cb#x"]}),
                "a fragment",
            ),
            (
                serde_json::json!({"client_id": id, "redirect_uris": ["https://a.example/cb"], "client_secret": "s"}),
                "a secret",
            ),
            (
                serde_json::json!({"client_id": id, "redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "client_secret_basic"}),
                "a secret method",
            ),
            (
                serde_json::json!({"client_id": id, "redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"]}),
                "client credentials",
            ),
            (
                serde_json::json!({"client_id": id, "redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
                "implicit",
            ),
            (
                serde_json::json!({"client_id": id, "redirect_uris": ["https://a.example/cb"], "logo_uri": "http://a.example/l.png"}),
                "http logo",
            ),
        ] {
            assert!(
                document_client(id, bad.to_string().as_bytes(), &ceiling).is_err(),
                "{why}"
            );
        }
        assert!(document_client(id, b"not json", &ceiling).is_err());
    }
}
