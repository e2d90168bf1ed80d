#![doc = include_str!("docs/crate.md")]
#![forbid(unsafe_code)]

#[doc = include_str!("docs/architecture.md")]
pub mod architecture {}
pub mod client;
#[cfg(feature = "jose")]
pub mod client_assertion;
pub mod clock;
pub mod config;
pub mod context;
pub mod endpoints;
pub mod error;
pub mod generator;
pub mod grants;
pub mod identifier;
#[cfg(feature = "jose")]
pub mod jose;
#[cfg(feature = "jose")]
pub mod jwt_access_token;
pub mod manual;
pub mod metadata;
#[cfg(feature = "jose")]
pub mod oidc;
pub mod params;
#[cfg(feature = "password")]
pub mod password;
pub mod pkce;
pub mod protected_resource;
pub mod redirect_uri;
pub mod request;
pub mod resource;
pub mod resource_indicators;
pub mod response;
pub mod rng;
pub mod scope;
pub mod server;
pub mod server_context;
pub mod storage;
#[cfg(feature = "testing")]
pub mod testing;
pub mod token;
pub mod trace;

pub use async_trait::async_trait;

pub use client::{
    authenticate_client, presented_client_id, Client, ClientAuthMethod, ClientRecord,
};
pub use clock::{Clock, FrozenClock, SystemClock};
pub use config::{EndpointPaths, RefreshTokenRotation, ServerConfig};
pub use context::{IssueContext, IssuedTokens};
pub use endpoints::authorization::AuthorizationError;
pub use endpoints::{
    AuthorizationEndpoint, ClientConfigurationEndpoint, ClientMetadata, ClientRegistrationEndpoint,
    ConfidentialClients, DeviceAuthorizationEndpoint, DeviceRequest, Endpoint,
    IntrospectionEndpoint, IntrospectionPolicy, RegistrationPolicy, RegistrationRules,
    RevocationEndpoint, SetupError, TokenEndpoint, UserCode, DEVICE_CODE_GRANT_TYPE,
};
#[cfg(feature = "jose")]
pub use endpoints::{
    BackchannelLogout, EndSessionRequest, EndedSession, JwksEndpoint, UserInfoEndpoint,
};
pub use error::{ErrorCode, OAuth2Error, StorageError};
pub use generator::{ConfigExpiresIn, ExpiresIn, NewToken, OpaqueTokenGenerator, TokenGenerator};
pub use grants::{
    AuthorizationCodeGrant, AuthorizationGrant, ClientCredentialsGrant, DefaultHooks,
    DeviceCodeGrant, Grant, GrantHooks, ImplicitGrant, PasswordGrant, RefreshTokenGrant,
    TokenExchangeGrant, TokenGrant, TOKEN_EXCHANGE_GRANT_TYPE,
};
#[cfg(feature = "jose")]
pub use grants::{
    JwtBearerGrant, OpenIdGrant, TrustedIssuer, TrustedIssuers, JWT_BEARER_GRANT_TYPE,
};
pub use metadata::Metadata;
pub use params::{AuthorizationParams, AuthorizationRequest, ResponseMode, ResponseType};
pub use pkce::{CodeChallenge, CodeChallengeMethod};
pub use redirect_uri::{is_valid_redirect_uri, redirect_uri_matches};
pub use request::{OAuth2Request, DEFAULT_MAX_BODY_BYTES};
pub use resource::{
    BearerError, BearerValidator, DefaultBearerValidator, ExpectedAudience, ResourceProtector,
    ScopeRequirement, TokenLookup,
};
pub use resource_indicators::{AccessTokenFormat, RegisteredResource, ResourceRegistry};
pub use response::{
    AuthorizationResponse, AutoSubmitForm, FormPostPage, OAuth2Response, TokenResponse,
};
pub use rng::{OsRng, Rng};
pub use scope::Scope;
pub use server::AuthorizationServer;
pub use server_context::{ServerContext, SupportedTypes};
pub use storage::{
    AuthorizationCodeRecord, AuthorizationCodeStore, ClientRegistry, ClientStore, ConsentRecord,
    ConsentStore, DeviceCodeRecord, DeviceCodeStatus, DeviceCodeStore, DevicePoll, GrantDetails,
    KeyStore, MemoryStore, ReplayCache, ResourceOwner, SessionRecord, SessionStore,
    SigningKeyRecord, Stores, TokenKind, TokenRecord, TokenStore, UserStore,
};
