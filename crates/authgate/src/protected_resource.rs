//! Protected resource metadata (RFC 9728): the document a resource server publishes so that
//! a client — an MCP client, say — that met a `401` learns which authorization servers issue
//! tokens for it, and how to present them.
//!
//! The document lives at the resource's well-known URL ([`well_known_url`]: the
//! `/.well-known/oauth-protected-resource` path inserted between the host and the resource's
//! own path, RFC 9728 §3.1), and a `401` points at it with the `resource_metadata` parameter
//! of its `WWW-Authenticate: Bearer` challenge (§5.1; see
//! [`crate::ResourceProtector::resource_metadata`]).
//!
//! ```
//! use authgate::protected_resource::{well_known_url, ProtectedResourceMetadata};
//! let doc = ProtectedResourceMetadata::new("https://api.example.com/v1")
//!     .authorization_server("https://auth.example.com")
//!     .scopes(["read", "write"]);
//! let json = doc.to_json();
//! assert_eq!(json["resource"], "https://api.example.com/v1");
//! assert_eq!(json["authorization_servers"][0], "https://auth.example.com");
//! assert_eq!(json["bearer_methods_supported"][0], "header");
//! assert_eq!(
//!     well_known_url("https://api.example.com/v1").as_deref(),
//!     Some("https://api.example.com/.well-known/oauth-protected-resource/v1")
//! );
//! ```

use serde_json::{Map, Value};
use url::Url;

/// The well-known path segment of RFC 9728 §3.
pub const WELL_KNOWN_PATH: &str = "/.well-known/oauth-protected-resource";

/// A protected resource's metadata document (RFC 9728 §2).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProtectedResourceMetadata {
    /// The resource identifier: an https URL (http on loopback for development) without a
    /// fragment — the URL the document's well-known address is derived from (§3.3: a
    /// client checks that the two agree).
    pub resource: String,
    /// The issuers of authorization servers whose tokens the resource accepts.
    pub authorization_servers: Vec<String>,
    /// Scopes the resource understands (optional; RFC 9728 recommends listing them).
    pub scopes_supported: Vec<String>,
    /// How a token may be presented: `header` always; `body` and `query` when allowed
    /// (RFC 6750 §2).
    pub bearer_methods_supported: Vec<String>,
    /// A human-readable name.
    pub resource_name: Option<String>,
    /// Further members (`resource_documentation`, `resource_signing_alg_values_supported`,
    /// ...), written as given.
    pub extra: Map<String, Value>,
}

impl ProtectedResourceMetadata {
    /// A document for `resource`, accepting header tokens only, with no authorization
    /// server listed yet.
    pub fn new(resource: impl Into<String>) -> Self {
        Self {
            resource: resource.into(),
            authorization_servers: Vec::new(),
            scopes_supported: Vec::new(),
            bearer_methods_supported: vec!["header".to_owned()],
            resource_name: None,
            extra: Map::new(),
        }
    }

    /// Adds an authorization server's issuer identifier.
    #[must_use]
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_servers.push(issuer.into());
        self
    }

    /// Sets the scopes the resource understands.
    #[must_use]
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets how tokens may be presented (see [`crate::ResourceProtector::bearer_methods`]).
    #[must_use]
    pub fn bearer_methods<I: IntoIterator<Item = S>, S: Into<String>>(mut self, m: I) -> Self {
        self.bearer_methods_supported = m.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the name shown to people.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// The document as JSON (RFC 9728 §3.2): empty lists and absent members are left out,
    /// `resource` is always there.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("resource".into(), self.resource.clone().into());
        let lists = [
            ("authorization_servers", &self.authorization_servers),
            ("scopes_supported", &self.scopes_supported),
            ("bearer_methods_supported", &self.bearer_methods_supported),
        ];
        for (name, list) in lists {
            if !list.is_empty() {
                m.insert(name.into(), list.clone().into());
            }
        }
        if let Some(n) = &self.resource_name {
            m.insert("resource_name".into(), n.clone().into());
        }
        for (k, v) in &self.extra {
            m.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Value::Object(m)
    }
}

/// The URL of `resource`'s metadata document (RFC 9728 §3.1): the well-known path goes
/// between the host and the resource's path, and the resource's query, if any, follows;
/// a resource with no path (or `/`) gets the bare well-known path. `None` for a resource
/// that is not an absolute URL with a host, or that has a fragment (§1.2 forbids one).
pub fn well_known_url(resource: &str) -> Option<String> {
    let u = Url::parse(resource).ok()?;
    if u.fragment().is_some() || u.host_str().is_none() || u.cannot_be_a_base() {
        return None;
    }
    let path = u.path().trim_end_matches('/');
    let mut out = u.clone();
    out.set_path(&format!("{WELL_KNOWN_PATH}{path}"));
    Some(out.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_well_known_url_inserts_the_path_after_the_host_rfc9728_3_1() {
        for (resource, url) in [
            (
                "https://resource.example.com",
                "https://resource.example.com/.well-known/oauth-protected-resource",
            ),
            (
                "https://resource.example.com/",
                "https://resource.example.com/.well-known/oauth-protected-resource",
            ),
            (
                "https://resource.example.com/resource1",
                "https://resource.example.com/.well-known/oauth-protected-resource/resource1",
            ),
            (
                "http://127.0.0.1:8080/api/me",
                "http://127.0.0.1:8080/.well-known/oauth-protected-resource/api/me",
            ),
            (
                "https://r.example/a?tenant=1",
                "https://r.example/.well-known/oauth-protected-resource/a?tenant=1",
            ),
        ] {
            assert_eq!(well_known_url(resource).as_deref(), Some(url), "{resource}");
        }
        for bad in ["not a url", "https://r.example/a#f", "mailto:x@example.com"] {
            assert_eq!(well_known_url(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn a_challenge_points_at_the_metadata_rfc9728_5_1() {
        use crate::{
            AuthorizationServer, MemoryStore, ResourceProtector, ScopeRequirement, ServerConfig,
        };
        let server =
            AuthorizationServer::new(MemoryStore::new(), ServerConfig::new("https://a.example"));
        let url = "https://r.example/.well-known/oauth-protected-resource/api";
        let protector = ResourceProtector::from_server(&server).resource_metadata(url);
        let (bare, ()) = http::Request::get("/api").body(()).unwrap().into_parts();
        let refused = protector
            .validate(&bare, &ScopeRequirement::none())
            .await
            .unwrap_err();
        assert_eq!(refused.status(), 401);
        assert_eq!(
            refused.www_authenticate(),
            format!("Bearer realm=\"authgate\", resource_metadata=\"{url}\"")
        );
        let (bad, ()) = http::Request::get("/api")
            .header("authorization", "Bearer not-a-token")
            .body(())
            .unwrap()
            .into_parts();
        let refused = protector
            .validate(&bad, &ScopeRequirement::none())
            .await
            .unwrap_err();
        let challenge = refused.www_authenticate();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        assert!(
            challenge.ends_with(&format!("resource_metadata=\"{url}\"")),
            "{challenge}"
        );
        assert_eq!(protector.bearer_methods(), ["header"]);
        let lenient = protector.allow_form_token(true).allow_query_token(true);
        assert_eq!(lenient.bearer_methods(), ["header", "body", "query"]);
    }

    #[test]
    fn the_document_has_resource_and_only_the_members_that_have_values_rfc9728_3_2() {
        let json = ProtectedResourceMetadata::new("https://r.example/api").to_json();
        assert_eq!(
            json,
            serde_json::json!({
                "resource": "https://r.example/api",
                "bearer_methods_supported": ["header"]
            })
        );
        let mut doc = ProtectedResourceMetadata::new("https://r.example/api")
            .authorization_server("https://a.example")
            .scopes(["read"])
            .name("API");
        doc.extra
            .insert("resource".into(), "https://elsewhere.example".into());
        doc.extra.insert(
            "resource_documentation".into(),
            "https://r.example/docs".into(),
        );
        let json = doc.to_json();
        assert_eq!(
            json["resource"], "https://r.example/api",
            "extra never overrides"
        );
        assert_eq!(
            json["authorization_servers"],
            serde_json::json!(["https://a.example"])
        );
        assert_eq!(json["scopes_supported"], serde_json::json!(["read"]));
        assert_eq!(json["resource_name"], "API");
        assert_eq!(json["resource_documentation"], "https://r.example/docs");
    }
}
