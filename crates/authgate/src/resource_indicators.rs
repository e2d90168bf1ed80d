//! Resource indicators (RFC 8707): the resources this server issues tokens for, and how a
//! `resource` parameter becomes an access token's audience.
//!
//! A client names the API it wants a token for with `resource` (an absolute URI without a
//! fragment, RFC 8707 §2), at the authorization endpoint, the token endpoint or both. The
//! server checks each value against its [`ResourceRegistry`] and answers `invalid_target`
//! for one it does not know. The token it issues carries the named resources as its
//! audience (stored with the token, shown by introspection as `aud`, and put in a JWT
//! access token's `aud`), and its scope is cut down to what those resources accept, so an
//! API never receives a token that also works somewhere else.
//!
//! - Resources named at the authorization request are the ceiling of the token requests
//!   that follow: a token request may name fewer (one at a time, say), never others; one
//!   naming none gets all of them (§2.2). A refresh token keeps the whole ceiling and the
//!   whole scope, so later refreshes can ask for another of those resources.
//! - A grant that named no resource anywhere is for the server's default audience (the
//!   issuer, or [`ServerConfig::default_audience`](crate::ServerConfig::default_audience));
//!   its token requests may still name any registered resource.
//! - The OpenID Connect scopes (`openid`, `profile`, `email`, `address`, `phone`,
//!   `offline_access`) are never cut: they serve the ID token and UserInfo, which are the
//!   server's own, whatever else a token is for.
//!
//! ```
//! use authgate::resource_indicators::{AccessTokenFormat, RegisteredResource, ResourceRegistry};
//! let registry = ResourceRegistry::new()
//!     .with(RegisteredResource::new("https://api.example.com/").unwrap().scope("read write".parse().unwrap()))
//!     .with(RegisteredResource::new("https://billing.example.com/").unwrap().access_token_format(AccessTokenFormat::Jwt));
//! let audience = registry.resolve(&["https://api.example.com/".to_owned()], &[]).unwrap();
//! let scope = registry.scope_for(&audience, &"openid read admin".parse().unwrap()).unwrap();
//! assert_eq!(scope.to_string(), "openid read");
//! assert_eq!(registry.resolve(&["https://elsewhere.example/".to_owned()], &[]).unwrap_err().code().as_str(), "invalid_target");
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::error::{ErrorCode, OAuth2Error};
use crate::scope::Scope;

/// The OpenID Connect scopes: never cut from a token for being outside a resource's
/// scope, since they are for the ID token and UserInfo.
pub const OPENID_SCOPES: [&str; 6] = [
    "address",
    "email",
    "offline_access",
    "openid",
    "phone",
    "profile",
];

/// The format of the access tokens issued for a resource (or for none).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessTokenFormat {
    /// An opaque string the resource checks by introspection (or, inside the server, in
    /// the store). The default.
    #[default]
    Opaque,
    /// A signed JWT (RFC 9068) a resource can check by itself with the server's public
    /// keys.
    Jwt,
}

impl AccessTokenFormat {
    /// `"opaque"` or `"jwt"`, as the reference server's configuration spells them.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opaque => "opaque",
            Self::Jwt => "jwt",
        }
    }

    /// Reads `"opaque"` or `"jwt"`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "opaque" => Some(Self::Opaque),
            "jwt" => Some(Self::Jwt),
            _ => None,
        }
    }
}

/// A resource (an API) tokens can be issued for.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredResource {
    /// Its identifier: an absolute URI without a fragment, as clients send it in
    /// `resource` and as it appears in a token's `aud`.
    pub identifier: String,
    /// The scopes it accepts; `None` accepts whatever the grant holds.
    pub scope: Option<Scope>,
    /// The format of the access tokens issued for it.
    pub access_token_format: AccessTokenFormat,
    /// The lifetime of its access tokens, in seconds; `None`: the server's policy.
    pub access_token_lifetime: Option<u64>,
}

impl RegisteredResource {
    /// A resource accepting every scope, with opaque tokens and the server's lifetime.
    ///
    /// # Errors
    /// `invalid_target` when `identifier` is not an absolute URI or has a fragment.
    pub fn new(identifier: impl Into<String>) -> Result<Self, OAuth2Error> {
        let identifier = identifier.into();
        check_identifier(&identifier)?;
        Ok(Self {
            identifier,
            scope: None,
            access_token_format: AccessTokenFormat::Opaque,
            access_token_lifetime: None,
        })
    }

    /// Limits the scopes it accepts.
    #[must_use]
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = Some(scope);
        self
    }

    /// Sets the format of its access tokens.
    #[must_use]
    pub fn access_token_format(mut self, format: AccessTokenFormat) -> Self {
        self.access_token_format = format;
        self
    }

    /// Sets the lifetime of its access tokens, in seconds.
    #[must_use]
    pub fn access_token_lifetime(mut self, secs: u64) -> Self {
        self.access_token_lifetime = Some(secs);
        self
    }
}

/// The resources a server issues tokens for, looked up by identifier; empty by default
/// (then every `resource` parameter is `invalid_target`). Set it as
/// [`ServerConfig::resources`](crate::ServerConfig::resources).
#[derive(Clone, Default)]
pub struct ResourceRegistry {
    by_id: Arc<HashMap<String, RegisteredResource>>,
    single: bool,
}

impl ResourceRegistry {
    /// An empty registry; a request may name several resources.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a resource.
    #[must_use]
    pub fn with(mut self, resource: RegisteredResource) -> Self {
        Arc::make_mut(&mut self.by_id).insert(resource.identifier.clone(), resource);
        self
    }

    /// Refuses requests naming more than one resource (`invalid_target`), for
    /// deployments whose tokens must each have a single audience.
    #[must_use]
    pub fn single_resource_per_token(mut self, on: bool) -> Self {
        self.single = on;
        self
    }

    /// The resource with this identifier.
    pub fn get(&self, identifier: &str) -> Option<&RegisteredResource> {
        self.by_id.get(identifier)
    }

    /// Whether no resource is registered.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Every resource, in identifier order.
    pub fn iter(&self) -> impl Iterator<Item = &RegisteredResource> {
        let mut all: Vec<&RegisteredResource> = self.by_id.values().collect();
        all.sort_by(|a, b| a.identifier.cmp(&b.identifier));
        all.into_iter()
    }

    /// The audience of a token: the `requested` resources, each checked, within
    /// `ceiling` (the resources the grant was for; empty: any registered one); all of
    /// `ceiling` when none is requested (RFC 8707 §2.2). Sorted, without repeats.
    ///
    /// # Errors
    /// `invalid_target` for a value that is not an absolute URI without a fragment, one
    /// not registered, one outside the ceiling, or several when only one is allowed.
    pub fn resolve(
        &self,
        requested: &[String],
        ceiling: &[String],
    ) -> Result<Vec<String>, OAuth2Error> {
        if requested.is_empty() {
            // The grant's resources, each still registered (one removed from the registry
            // since gets no more tokens).
            if ceiling.iter().any(|r| !self.by_id.contains_key(r)) {
                return Err(invalid_target(
                    "a resource of this grant is no longer known to this server",
                ));
            }
            return Ok(ceiling.to_vec());
        }
        let mut audience = Vec::with_capacity(requested.len());
        for r in requested {
            check_identifier(r)?;
            if !self.by_id.contains_key(r) {
                return Err(invalid_target(
                    "the requested resource is not known to this server",
                ));
            }
            if !ceiling.is_empty() && !ceiling.contains(r) {
                return Err(invalid_target(
                    "the requested resource was not part of the authorization grant (RFC 8707 section 2.2)",
                ));
            }
            audience.push(r.clone());
        }
        audience.sort_unstable();
        audience.dedup();
        if self.single && audience.len() > 1 {
            return Err(invalid_target(
                "this server issues tokens for one resource at a time",
            ));
        }
        Ok(audience)
    }

    /// The part of `scope` a token for `audience` carries: the scopes one of its resources
    /// accepts, plus the OpenID Connect scopes. An empty audience (the default) keeps all.
    ///
    /// # Errors
    /// `invalid_scope` when `scope` was not empty and nothing of it remains.
    pub fn scope_for(&self, audience: &[String], scope: &Scope) -> Result<Scope, OAuth2Error> {
        if audience.is_empty() || scope.is_empty() {
            return Ok(scope.clone());
        }
        let mut accepted = Scope::empty();
        for id in audience {
            match self.by_id.get(id).map(|r| r.scope.as_ref()) {
                Some(Some(s)) => accepted = accepted.union(s),
                // Unrestricted: nothing to cut.
                Some(None) => return Ok(scope.clone()),
                // Not registered: it accepts nothing (only the OpenID Connect scopes stay).
                None => {}
            }
        }
        let narrowed: Vec<&str> = scope
            .iter()
            .filter(|t| accepted.contains(t) || OPENID_SCOPES.contains(t))
            .collect();
        if narrowed.is_empty() {
            return Err(OAuth2Error::invalid_scope(
                "none of the requested scopes is accepted by the requested resource",
            ));
        }
        Scope::parse(&narrowed.join(" "))
    }

    /// The access token format for `audience`: JWT when any of its resources asks for one,
    /// otherwise `default` (the format of tokens with no resource).
    pub fn format_for(&self, audience: &[String], default: AccessTokenFormat) -> AccessTokenFormat {
        if audience.is_empty() {
            return default;
        }
        if audience.iter().any(|id| {
            self.by_id
                .get(id)
                .is_some_and(|r| r.access_token_format == AccessTokenFormat::Jwt)
        }) {
            AccessTokenFormat::Jwt
        } else {
            AccessTokenFormat::Opaque
        }
    }

    /// The shortest access token lifetime among `audience`'s resources, if any sets one.
    pub fn lifetime_for(&self, audience: &[String]) -> Option<u64> {
        audience
            .iter()
            .filter_map(|id| self.by_id.get(id)?.access_token_lifetime)
            .min()
    }
}

impl fmt::Debug for ResourceRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|r| &r.identifier))
            .finish()
    }
}

/// Every `resource` value of a form body (RFC 8707 §2: it may repeat), empty ones left
/// out (RFC 6749 §3.1).
pub fn requested_resources(form: &[(String, String)]) -> Vec<String> {
    form.iter()
        .filter(|(k, v)| k == "resource" && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect()
}

/// RFC 8707 §2: "an absolute URI ... MUST NOT include a fragment component".
fn check_identifier(value: &str) -> Result<(), OAuth2Error> {
    let ok = url::Url::parse(value).is_ok_and(|u| u.fragment().is_none())
        && !value.contains('#')
        && !crate::identifier::has_control_characters(value);
    if ok {
        Ok(())
    } else {
        Err(invalid_target(
            "resource must be an absolute URI without a fragment (RFC 8707 section 2)",
        ))
    }
}

fn invalid_target(description: &'static str) -> OAuth2Error {
    OAuth2Error::with_description(ErrorCode::InvalidTarget, description)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> ResourceRegistry {
        ResourceRegistry::new()
            .with(
                RegisteredResource::new("https://a.example/")
                    .unwrap()
                    .scope("a1 a2".parse().unwrap())
                    .access_token_lifetime(300),
            )
            .with(
                RegisteredResource::new("https://b.example/api")
                    .unwrap()
                    .scope("b1".parse().unwrap())
                    .access_token_format(AccessTokenFormat::Jwt)
                    .access_token_lifetime(600),
            )
            .with(RegisteredResource::new("urn:example:any").unwrap())
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_resource_must_be_an_absolute_uri_without_fragment_rfc8707_2() {
        let r = registry();
        for bad in [
            "/relative",
            "a.example",
            "https://a.example/#frag",
            "https://a.example/#",
            "https://a.example/\u{7f}",
        ] {
            let e = r.resolve(&ids(&[bad]), &[]).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidTarget, "{bad}");
            assert_eq!(e.status(), 400);
        }
        assert!(RegisteredResource::new("https://x.example/#f").is_err());
    }

    #[test]
    fn an_unknown_resource_is_invalid_target_rfc8707_2() {
        let e = registry()
            .resolve(&ids(&["https://c.example/"]), &[])
            .unwrap_err();
        assert_eq!(e.code().as_str(), "invalid_target");
        // An empty registry knows nothing.
        assert!(ResourceRegistry::new()
            .resolve(&ids(&["https://a.example/"]), &[])
            .is_err());
    }

    #[test]
    fn the_authorization_request_s_resources_are_the_ceiling_rfc8707_2_2() {
        let r = registry();
        let ceiling = ids(&["https://a.example/", "https://b.example/api"]);
        // None asked: all of them.
        assert_eq!(r.resolve(&[], &ceiling).unwrap(), ceiling);
        // One of them.
        assert_eq!(
            r.resolve(&ids(&["https://b.example/api"]), &ceiling)
                .unwrap(),
            ids(&["https://b.example/api"])
        );
        // Another, registered but outside the grant.
        let e = r.resolve(&ids(&["urn:example:any"]), &ceiling).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidTarget);
        // No ceiling: any registered one; repeats collapse.
        assert_eq!(
            r.resolve(&ids(&["urn:example:any", "urn:example:any"]), &[])
                .unwrap(),
            ids(&["urn:example:any"])
        );
        // A grant's resource removed from the registry since: no more tokens for it, and
        // an unregistered resource accepts no scope.
        let gone = ids(&["https://a.example/", "https://gone.example/"]);
        assert_eq!(
            r.resolve(&[], &gone).unwrap_err().code(),
            ErrorCode::InvalidTarget
        );
        let s = r
            .scope_for(
                &ids(&["https://gone.example/"]),
                &"a1 openid".parse().unwrap(),
            )
            .unwrap();
        assert_eq!(s.to_string(), "openid");
    }

    #[test]
    fn several_resources_unless_one_per_token_is_required() {
        let two = ids(&["https://a.example/", "https://b.example/api"]);
        assert_eq!(registry().resolve(&two, &[]).unwrap().len(), 2);
        let e = registry()
            .single_resource_per_token(true)
            .resolve(&two, &[])
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidTarget);
    }

    #[test]
    fn scope_is_cut_to_what_the_resources_accept_keeping_openid_scopes() {
        let r = registry();
        let scope: Scope = "a1 b1 openid email other".parse().unwrap();
        let s = r.scope_for(&ids(&["https://a.example/"]), &scope).unwrap();
        assert_eq!(s.to_string(), "a1 email openid");
        let s = r
            .scope_for(
                &ids(&["https://a.example/", "https://b.example/api"]),
                &scope,
            )
            .unwrap();
        assert_eq!(s.to_string(), "a1 b1 email openid");
        // Unrestricted resource and no resource: untouched.
        assert_eq!(
            r.scope_for(&ids(&["urn:example:any"]), &scope).unwrap(),
            scope
        );
        assert_eq!(r.scope_for(&[], &scope).unwrap(), scope);
        // Nothing left: invalid_scope.
        let e = r
            .scope_for(
                &ids(&["https://b.example/api"]),
                &"a1 other".parse().unwrap(),
            )
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidScope);
    }

    #[test]
    fn format_and_lifetime_follow_the_audience() {
        let r = registry();
        assert_eq!(
            r.format_for(&ids(&["https://a.example/"]), AccessTokenFormat::Jwt),
            AccessTokenFormat::Opaque
        );
        assert_eq!(
            r.format_for(
                &ids(&["https://a.example/", "https://b.example/api"]),
                AccessTokenFormat::Opaque
            ),
            AccessTokenFormat::Jwt
        );
        assert_eq!(
            r.format_for(&[], AccessTokenFormat::Jwt),
            AccessTokenFormat::Jwt
        );
        assert_eq!(
            r.lifetime_for(&ids(&["https://a.example/", "https://b.example/api"])),
            Some(300)
        );
        assert_eq!(r.lifetime_for(&ids(&["urn:example:any"])), None);
    }
}
