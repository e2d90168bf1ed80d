//! The authorization request, parsed once: [`AuthorizationParams`] holds every parameter
//! the authorization endpoint understands, typed; [`AuthorizationRequest`] is the request
//! once its client and redirect URI are verified. Grants read these, never raw request
//! parameters, so a request that arrives another way later (pushed, or as a request
//! object) produces the same values.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use crate::client::Client;
use crate::error::OAuth2Error;
use crate::pkce::CodeChallenge;
use crate::request::OAuth2Request;
use crate::scope::Scope;

/// A `response_type`: a set of values, so `code id_token` and `id_token code` are one
/// response type (OAuth 2.0 Multiple Response Type Encoding Practices §3).
///
/// ```
/// use authgate::ResponseType;
/// let a = ResponseType::parse("id_token code").unwrap();
/// assert_eq!(a, ResponseType::parse("code id_token").unwrap());
/// assert_eq!(a.to_string(), "code id_token");
/// assert!(a.contains("code"));
/// assert!(ResponseType::parse(" ").is_none());
/// assert!(ResponseType::parse("code code").is_none());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResponseType(BTreeSet<String>);

impl ResponseType {
    /// Parses a `response_type`: values separated by single spaces, none repeated;
    /// `None` for anything else (an empty value, a doubled space, a repeat).
    pub fn parse(s: &str) -> Option<Self> {
        let mut set = BTreeSet::new();
        for v in s.split(' ') {
            if v.is_empty() || !set.insert(v.to_owned()) {
                return None;
            }
        }
        Some(Self(set))
    }

    /// `code`.
    pub fn code() -> Self {
        Self(BTreeSet::from(["code".to_owned()]))
    }

    /// `token`.
    pub fn token() -> Self {
        Self(BTreeSet::from(["token".to_owned()]))
    }

    /// Whether the set holds `value`.
    pub fn contains(&self, value: &str) -> bool {
        self.0.contains(value)
    }

    /// The values, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for ResponseType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for v in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(v)?;
            first = false;
        }
        Ok(())
    }
}

impl fmt::Debug for ResponseType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResponseType({self})")
    }
}

impl serde::Serialize for ResponseType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ResponseType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom("an empty response_type"))
    }
}

/// How authorization response parameters travel back to the client.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseMode {
    /// In the redirect URI's query (the code grant's default).
    Query,
    /// In the redirect URI's fragment (the implicit grant's default; tokens never travel in
    /// a query, RFC 9700 §4.3.2).
    Fragment,
    /// In an HTML form that the browser posts to the redirect URI (OAuth 2.0 Form Post
    /// Response Mode); the server must have a form-post page to offer it.
    FormPost,
}

impl ResponseMode {
    /// The `response_mode` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Fragment => "fragment",
            Self::FormPost => "form_post",
        }
    }

    /// Parses a `response_mode` value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "query" => Some(Self::Query),
            "fragment" => Some(Self::Fragment),
            "form_post" => Some(Self::FormPost),
            _ => None,
        }
    }
}

/// The authorization request's parameters (RFC 6749 §4.1.1, §4.2.1; RFC 7636 §4.3;
/// OpenID Connect Core §3.1.2.1; RFC 8707 §2), each read once and typed.
///
/// Values are as sent; what they mean (whether a scope is allowed, a challenge well
/// formed) is decided by the endpoint and the grant. Parameters sent without a value count
/// as omitted (RFC 6749 §3.1); a repeated parameter is `invalid_request` (§3.1), except
/// `resource`, which RFC 8707 §2 lets repeat.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct AuthorizationParams {
    /// `client_id`.
    pub client_id: String,
    /// `redirect_uri`, if sent.
    pub redirect_uri: Option<String>,
    /// `response_type`.
    pub response_type: Option<ResponseType>,
    /// `response_mode`, if sent (the raw value: an unknown one is the endpoint's error).
    pub response_mode: Option<String>,
    /// `scope`, as sent.
    pub scope: Option<String>,
    /// `state`.
    pub state: Option<String>,
    /// `code_challenge` (RFC 7636).
    pub code_challenge: Option<String>,
    /// `code_challenge_method` (RFC 7636).
    pub code_challenge_method: Option<String>,
    /// `nonce` (OpenID Connect).
    pub nonce: Option<String>,
    /// `prompt`: space-delimited values (OpenID Connect Core §3.1.2.1).
    pub prompt: Vec<String>,
    /// `max_age` in seconds.
    pub max_age: Option<u64>,
    /// `login_hint`.
    pub login_hint: Option<String>,
    /// `id_token_hint`.
    pub id_token_hint: Option<String>,
    /// `acr_values`, in order of preference.
    pub acr_values: Vec<String>,
    /// The `claims` request (OpenID Connect Core §5.5), parsed as JSON.
    pub claims: Option<serde_json::Value>,
    /// `resource` indicators (RFC 8707), in order.
    pub resource: Vec<String>,
    /// `ui_locales`, in order of preference.
    pub ui_locales: Vec<String>,
    /// `request` (a request object, OpenID Connect Core §6.1), as sent; not supported yet.
    pub request: Option<String>,
    /// `request_uri` (OpenID Connect Core §6.2), as sent; not supported yet.
    pub request_uri: Option<String>,
    /// `registration` (OpenID Connect Core §7.2.1), as sent; not supported.
    pub registration: Option<String>,
}

impl AuthorizationParams {
    /// The two parameters that identify where errors may go: `client_id` and
    /// `redirect_uri`. Until both are verified, errors are shown, never redirected.
    ///
    /// # Errors
    /// `invalid_request` for a missing `client_id` or a repeated one of the two.
    pub fn identity(req: &OAuth2Request) -> Result<(String, Option<String>), OAuth2Error> {
        let client_id = req
            .authorization_value("client_id")?
            .ok_or_else(|| OAuth2Error::invalid_request("missing 'client_id'"))?
            .to_owned();
        let redirect_uri = req.authorization_value("redirect_uri")?.map(str::to_owned);
        Ok((client_id, redirect_uri))
    }

    /// The first non-empty `state`, even when repeated: an error about the repeat is still
    /// answered with the client's `state`.
    pub fn first_state(req: &OAuth2Request) -> Option<String> {
        req.query_pairs()
            .iter()
            .chain(req.form_pairs())
            .find(|(k, v)| k == "state" && !v.is_empty())
            .map(|(_, v)| v.clone())
    }

    /// Parses every parameter of an authorization request (query, and form for POST).
    ///
    /// # Errors
    /// `invalid_request` for a missing `client_id`, a repeated parameter, or a malformed
    /// `max_age` or `claims`.
    pub fn from_request(req: &OAuth2Request) -> Result<Self, OAuth2Error> {
        let (client_id, redirect_uri) = Self::identity(req)?;
        let value = |name: &str| -> Result<Option<String>, OAuth2Error> {
            Ok(req.authorization_value(name)?.map(str::to_owned))
        };
        let list = |name: &str| -> Result<Vec<String>, OAuth2Error> {
            Ok(req
                .authorization_value(name)?
                .map(|v| {
                    v.split(' ')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default())
        };
        let max_age = match req.authorization_value("max_age")? {
            None => None,
            Some(v) => Some(v.parse::<u64>().map_err(|_| {
                OAuth2Error::invalid_request("max_age must be a non-negative number of seconds")
            })?),
        };
        let claims = match req.authorization_value("claims")? {
            None => None,
            Some(v) => {
                let parsed: serde_json::Value = serde_json::from_str(v)
                    .map_err(|_| OAuth2Error::invalid_request("claims must be a JSON object"))?;
                if !parsed.is_object() {
                    return Err(OAuth2Error::invalid_request("claims must be a JSON object"));
                }
                Some(parsed)
            }
        };
        let resource = req
            .query_pairs()
            .iter()
            .chain(req.form_pairs())
            .filter(|(k, v)| k == "resource" && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect();
        Ok(Self {
            client_id,
            redirect_uri,
            response_type: req
                .authorization_value("response_type")?
                .and_then(ResponseType::parse),
            response_mode: value("response_mode")?,
            scope: value("scope")?,
            state: value("state")?,
            code_challenge: value("code_challenge")?,
            code_challenge_method: value("code_challenge_method")?,
            nonce: value("nonce")?,
            prompt: list("prompt")?,
            max_age,
            login_hint: value("login_hint")?,
            id_token_hint: value("id_token_hint")?,
            acr_values: list("acr_values")?,
            claims,
            resource,
            ui_locales: list("ui_locales")?,
            request: value("request")?,
            request_uri: value("request_uri")?,
            registration: value("registration")?,
        })
    }
}

/// A validated authorization request: what a consent page shows, and what the grant acts
/// on once the owner decides.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// The requesting client.
    pub client: Arc<dyn Client>,
    /// Every parameter, as parsed.
    pub params: AuthorizationParams,
    /// The `response_type`.
    pub response_type: ResponseType,
    /// The verified redirect URI.
    pub redirect_uri: String,
    /// Whether the request named `redirect_uri` itself.
    pub redirect_uri_sent: bool,
    /// The scope to be granted.
    pub scope: Scope,
    /// The resources the grant is for (RFC 8707), each registered; empty when the request
    /// named none.
    pub resource: Vec<String>,
    /// `state`, echoed back.
    pub state: Option<String>,
    /// Where the response parameters go.
    pub response_mode: ResponseMode,
    /// The PKCE challenge, if any (set by the code grant's validation).
    pub code_challenge: Option<CodeChallenge>,
    /// The OpenID Connect `nonce`, if any.
    pub nonce: Option<String>,
    /// The `sub` of a verified `id_token_hint` (as the client saw it: pairwise for a
    /// pairwise client); compare a session's user with
    /// [`crate::AuthorizationServer::hint_names`].
    pub id_token_hint_subject: Option<String>,
}

impl AuthorizationRequest {
    /// Whether this is an OpenID Connect authentication request (`openid` granted).
    pub fn is_openid(&self) -> bool {
        self.scope.contains("openid")
    }

    /// Whether `prompt` holds `value` (`none`, `login`, `consent`, `select_account`).
    pub fn has_prompt(&self, value: &str) -> bool {
        self.params.prompt.iter().any(|p| p == value)
    }

    /// `max_age`: the request's, or else the client's `default_max_age`.
    pub fn max_age(&self) -> Option<u64> {
        self.params
            .max_age
            .or_else(|| self.client.default_max_age())
    }

    /// Whether the user must (re-)authenticate before this request can be answered: no
    /// authentication (`auth_time` `None`), `prompt=login` or `select_account`, or an
    /// authentication older than `max_age` (OpenID Connect Core §3.1.2.1; `max_age=0`
    /// always). After the user signed in for this request, drop `prompt=login` and
    /// `max_age=0` from it before validating it again.
    pub fn login_required(&self, auth_time: Option<i64>, now: i64) -> bool {
        let Some(t) = auth_time else { return true };
        if self.has_prompt("login") || self.has_prompt("select_account") {
            return true;
        }
        match self.max_age() {
            Some(0) => true,
            Some(max) => now.saturating_sub(t) > i64::try_from(max).unwrap_or(i64::MAX),
            None => false,
        }
    }

    /// Whether the user must be asked to consent: not for a client registered with
    /// `skip_consent`, nor when `remembered` (what the user approved before for this
    /// client) covers the requested scope — unless `prompt=consent` asks anyway.
    pub fn consent_required(&self, remembered: Option<&Scope>) -> bool {
        if self.has_prompt("consent") {
            return true;
        }
        if self.client.skip_consent() {
            return false;
        }
        !remembered.is_some_and(|r| self.scope.is_subset_of(r))
    }
    /// A request for a verified client and redirect URI; the endpoint fills the rest in as
    /// it validates.
    pub fn new(
        client: Arc<dyn Client>,
        params: AuthorizationParams,
        response_type: ResponseType,
        redirect_uri: String,
        response_mode: ResponseMode,
        scope: Scope,
    ) -> Self {
        Self {
            client,
            redirect_uri_sent: params.redirect_uri.is_some(),
            state: params.state.clone(),
            nonce: params.nonce.clone(),
            params,
            response_type,
            redirect_uri,
            scope,
            response_mode,
            code_challenge: None,
            id_token_hint_subject: None,
            resource: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn get(uri: &str) -> OAuth2Request {
        OAuth2Request::from_http(http::Request::get(uri).body(Bytes::new()).unwrap(), 4096).unwrap()
    }

    #[test]
    fn response_type_is_a_set_multiple_response_types_3() {
        let a = ResponseType::parse("code id_token token").unwrap();
        let b = ResponseType::parse("token code id_token").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "code id_token token");
        assert_ne!(a, ResponseType::code());
        for malformed in ["", "code ", " code", "code  token", "code code"] {
            assert!(ResponseType::parse(malformed).is_none(), "{malformed:?}");
        }
    }

    #[test]
    fn every_parameter_is_read_once_and_typed() {
        let p = AuthorizationParams::from_request(&get(
            "/authorize?client_id=c&response_type=id_token%20code&prompt=login%20consent&max_age=0\
             &acr_values=a%20b&claims=%7B%22userinfo%22%3A%7B%7D%7D&resource=https%3A%2F%2Fa\
             &resource=https%3A%2F%2Fb&ui_locales=fr%20en&login_hint=al&nonce=n&state=s",
        ))
        .unwrap();
        assert_eq!(p.client_id, "c");
        assert_eq!(p.response_type, ResponseType::parse("code id_token"));
        assert_eq!(p.prompt, ["login", "consent"]);
        assert_eq!(p.max_age, Some(0));
        assert_eq!(p.acr_values, ["a", "b"]);
        assert!(p.claims.unwrap()["userinfo"].is_object());
        assert_eq!(p.resource, ["https://a", "https://b"]);
        assert_eq!(p.ui_locales, ["fr", "en"]);
        assert_eq!(p.login_hint.as_deref(), Some("al"));
        assert_eq!(p.nonce.as_deref(), Some("n"));
        assert_eq!(p.state.as_deref(), Some("s"));
    }

    #[test]
    fn malformed_max_age_and_claims_and_repeats_are_invalid_request_rfc6749_3_1() {
        for q in [
            "client_id=c&max_age=-1",
            "client_id=c&claims=%5B%5D",
            "client_id=c&claims=nope",
            "client_id=c&nonce=a&nonce=b",
        ] {
            let e =
                AuthorizationParams::from_request(&get(&format!("/authorize?{q}"))).unwrap_err();
            assert_eq!(e.code().as_str(), "invalid_request", "{q}");
        }
    }
}
