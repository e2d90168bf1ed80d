//! [`IssueContext`]: everything known about the tokens about to be issued, handed to the
//! token generator, the `expires_in` policy and every grant's hooks; and [`IssuedTokens`],
//! what issuance produced.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::client::Client;
use crate::response::TokenResponse;
use crate::scope::Scope;
use crate::storage::{GrantDetails, ResourceOwner, TokenRecord};
use crate::token::Selector;

/// What is about to be issued, and for whom: the input of
/// [`crate::ServerContext::issue_tokens`], of [`crate::TokenGenerator`], of
/// [`crate::ExpiresIn`] and of [`crate::GrantHooks`].
///
/// ```
/// use authgate::{ClientRecord, IssueContext, ResourceOwner};
/// let client = ClientRecord::confidential("svc", "secret");
/// let owner = ResourceOwner::new("u1", "alice").authenticated_at(1_700_000_000);
/// let issue = IssueContext::new(&client, "authorization_code", "read".parse().unwrap())
///     .owner(&owner)
///     .refresh_token(true);
/// assert_eq!(issue.details().auth_time, Some(1_700_000_000));
/// ```
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct IssueContext<'a> {
    /// The client the tokens are for.
    pub client: &'a dyn Client,
    /// The grant type issuing them (selects `expires_in`).
    pub grant_type: &'a str,
    /// The resource owner, if any.
    pub owner: Option<&'a ResourceOwner>,
    /// The access token's scope.
    pub scope: Scope,
    /// The scope the refresh token keeps when the access token's is narrower: a refresh
    /// keeps the scope it was granted (RFC 6749 §6), and a token for one resource carries
    /// only that resource's part of the grant (RFC 8707 §2.2). `None`: the same as
    /// [`Self::scope`].
    pub grant_scope: Option<Scope>,
    /// The access token's audience: the resources it is for (RFC 8707); empty, the
    /// server's default audience. The resources of the grant, which a refresh token keeps
    /// as the ceiling of later requests, are `details().audience`; set both with
    /// [`Self::target`].
    pub audience: Vec<String>,
    /// The OpenID Connect nonce of the authorization request, when the tokens come from
    /// one.
    pub nonce: Option<String>,
    /// Audience, authentication facts, `claims` request, confirmation key, extension
    /// claims: stored with every token issued. `None` when empty; read it with
    /// [`Self::details`], change it with [`Self::details_mut`].
    pub details: Option<Arc<GrantDetails>>,
    /// The grant family the tokens join; `None` starts a new one.
    pub family: Option<Selector>,
    /// Whether to issue a refresh token as well.
    pub refresh_token: bool,
    /// Overrides the access token lifetime, in seconds.
    pub expires_in: Option<u64>,
}

impl<'a> IssueContext<'a> {
    /// Tokens for `client` by `grant_type` with `scope`: no owner, a new family, no
    /// refresh token, the policy's lifetime.
    pub fn new(client: &'a dyn Client, grant_type: &'a str, scope: Scope) -> Self {
        Self {
            client,
            grant_type,
            owner: None,
            scope,
            grant_scope: None,
            audience: Vec::new(),
            nonce: None,
            details: None,
            family: None,
            refresh_token: false,
            expires_in: None,
        }
    }

    /// Sets the resource owner, and takes the authentication facts it carries (auth_time,
    /// acr, amr, session) into the details.
    #[must_use]
    pub fn owner(mut self, owner: &'a ResourceOwner) -> Self {
        self.owner = Some(owner);
        let facts = GrantDetails::of_owner(owner);
        if !facts.is_empty() {
            let d = self.details_mut();
            d.auth_time = facts.auth_time;
            d.acr = facts.acr;
            d.amr = facts.amr;
            d.session_id = facts.session_id;
        }
        self
    }

    /// Replaces the details (what [`Self::owner`] took included).
    #[must_use]
    pub fn with_details(mut self, details: GrantDetails) -> Self {
        self.details = (!details.is_empty()).then(|| Arc::new(details));
        self
    }

    /// Replaces the details with shared ones (a refreshed token's, say), copying nothing.
    #[must_use]
    pub fn with_shared_details(mut self, details: Option<Arc<GrantDetails>>) -> Self {
        self.details = details;
        self
    }

    /// The details (empty when none are set).
    pub fn details(&self) -> &GrantDetails {
        self.details
            .as_deref()
            .unwrap_or_else(|| GrantDetails::empty())
    }

    /// The details, to change (copied first when shared).
    pub fn details_mut(&mut self) -> &mut GrantDetails {
        Arc::make_mut(self.details.get_or_insert_with(Default::default))
    }

    /// Aims the access token at the `requested` resources (RFC 8707): each must be
    /// registered and within the grant's resources (`details().audience`, which stays the
    /// refresh token's ceiling); none requested, all of the grant's. The access token's
    /// scope is cut to what they accept (the OpenID Connect scopes stay), the grant's
    /// whole scope kept for the refresh token.
    ///
    /// # Errors
    /// `invalid_target` for a resource that is malformed, unknown or outside the grant;
    /// `invalid_scope` when none of the scope is accepted by the resources.
    ///
    /// ```
    /// use authgate::{ClientRecord, IssueContext, RegisteredResource, ResourceRegistry};
    /// let registry = ResourceRegistry::new()
    ///     .with(RegisteredResource::new("https://api.example/").unwrap().scope("read".parse().unwrap()));
    /// let client = ClientRecord::confidential("svc", "secret");
    /// let issue = IssueContext::new(&client, "client_credentials", "read admin".parse().unwrap())
    ///     .target(&registry, &["https://api.example/".to_owned()])
    ///     .unwrap();
    /// assert_eq!(issue.audience, ["https://api.example/"]);
    /// assert_eq!(issue.scope.to_string(), "read");
    /// ```
    pub fn target(
        mut self,
        registry: &crate::resource_indicators::ResourceRegistry,
        requested: &[String],
    ) -> Result<Self, crate::error::OAuth2Error> {
        let grant = self.details().audience.clone();
        let audience = registry.resolve(requested, &grant)?;
        let scope = registry.scope_for(&audience, &self.scope)?;
        if scope != self.scope {
            let whole = std::mem::replace(&mut self.scope, scope);
            self.grant_scope.get_or_insert(whole);
        }
        self.audience = audience;
        Ok(self)
    }

    /// Joins an existing grant family.
    #[must_use]
    pub fn family(mut self, family: Selector) -> Self {
        self.family = Some(family);
        self
    }

    /// Issues a refresh token too, or not.
    #[must_use]
    pub fn refresh_token(mut self, on: bool) -> Self {
        self.refresh_token = on;
        self
    }

    /// Sets the nonce.
    #[must_use]
    pub fn nonce(mut self, nonce: Option<String>) -> Self {
        self.nonce = nonce;
        self
    }
}

/// Tokens just issued: what the token response says, and the records to store.
pub struct IssuedTokens {
    /// The access token.
    pub access_token: String,
    /// `token_type` (`Bearer`).
    pub token_type: String,
    /// Its lifetime in seconds.
    pub expires_in: u64,
    /// The refresh token, if one was issued.
    pub refresh_token: Option<String>,
    /// The granted scope.
    pub scope: Scope,
    /// An ID token, when one was issued with them.
    pub id_token: Option<String>,
    /// Extra members for the token response.
    pub extra: Map<String, Value>,
    /// The records to store (access first, then refresh).
    pub records: Vec<TokenRecord>,
}

impl fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl IssuedTokens {
    /// The token response (RFC 6749 §5.1): `access_token`, `token_type`, `expires_in`,
    /// `refresh_token` when issued, `scope`, and any extra members.
    pub fn into_response(self) -> TokenResponse {
        let mut r = TokenResponse::bearer(self.access_token, self.expires_in);
        r.token_type = self.token_type;
        r.refresh_token = self.refresh_token;
        r.scope = self.scope;
        r.id_token = self.id_token;
        r.extra = self.extra;
        r
    }
}
