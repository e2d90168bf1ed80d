//! Which claims a request releases: by scope (OpenID Connect Core §5.4) and by the
//! `claims` request parameter (§5.5).

use serde_json::{Map, Value};

use crate::scope::Scope;

/// The standard claims each scope releases (OpenID Connect Core §5.4).
pub const SCOPE_CLAIMS: &[(&str, &[&str])] = &[
    (
        "profile",
        &[
            "name",
            "family_name",
            "given_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
        ],
    ),
    ("email", &["email", "email_verified"]),
    ("address", &["address"]),
    ("phone", &["phone_number", "phone_number_verified"]),
];

/// Every standard claim (OpenID Connect Core §5.1), `sub` first.
pub fn standard_claims() -> Vec<&'static str> {
    let mut v = vec!["sub"];
    for (_, names) in SCOPE_CLAIMS {
        v.extend_from_slice(names);
    }
    v
}

/// The claims the granted `scope` releases.
pub fn claims_of_scope(scope: &Scope) -> Vec<&'static str> {
    SCOPE_CLAIMS
        .iter()
        .filter(|(s, _)| scope.contains(s))
        .flat_map(|(_, names)| names.iter().copied())
        .collect()
}

/// Where a requested claim is to be returned.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimsTarget {
    /// The UserInfo response.
    UserInfo,
    /// The ID token.
    IdToken,
}

impl ClaimsTarget {
    fn member(self) -> &'static str {
        match self {
            Self::UserInfo => "userinfo",
            Self::IdToken => "id_token",
        }
    }
}

/// The `claims` request parameter (OpenID Connect Core §5.5), as parsed.
///
/// ```
/// use authgate::oidc::{ClaimsRequest, ClaimsTarget};
/// let r = ClaimsRequest::new(serde_json::json!({
///     "userinfo": { "email": { "essential": true }, "picture": null },
///     "id_token": { "auth_time": { "essential": true }, "acr": { "values": ["urn:loa:2"] } }
/// }));
/// assert_eq!(r.names(ClaimsTarget::UserInfo), ["email", "picture"]);
/// assert!(r.is_essential(ClaimsTarget::IdToken, "auth_time"));
/// assert_eq!(r.values(ClaimsTarget::IdToken, "acr"), ["urn:loa:2"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClaimsRequest(Map<String, Value>);

impl ClaimsRequest {
    /// From the parsed parameter (anything but an object requests nothing).
    pub fn new(value: Value) -> Self {
        match value {
            Value::Object(m) => Self(m),
            _ => Self::default(),
        }
    }

    fn member(&self, target: ClaimsTarget) -> Option<&Map<String, Value>> {
        self.0.get(target.member())?.as_object()
    }

    /// The claims requested for `target`, in the order given.
    pub fn names(&self, target: ClaimsTarget) -> Vec<&str> {
        self.member(target)
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// Whether a claim is requested as essential for `target`.
    pub fn is_essential(&self, target: ClaimsTarget, claim: &str) -> bool {
        self.member(target)
            .and_then(|m| m.get(claim))
            .and_then(|c| c.get("essential"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// The values a claim is requested to have (`value`, or each of `values`).
    pub fn values(&self, target: ClaimsTarget, claim: &str) -> Vec<&str> {
        let Some(c) = self.member(target).and_then(|m| m.get(claim)) else {
            return Vec::new();
        };
        if let Some(v) = c.get("value").and_then(Value::as_str) {
            return vec![v];
        }
        c.get("values")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_release_their_claims_oidc_core_5_4() {
        let s: Scope = "openid email phone".parse().unwrap();
        assert_eq!(
            claims_of_scope(&s),
            [
                "email",
                "email_verified",
                "phone_number",
                "phone_number_verified"
            ]
        );
        assert!(claims_of_scope(&"openid".parse().unwrap()).is_empty());
    }

    #[test]
    fn a_claims_request_that_is_not_an_object_requests_nothing_oidc_core_5_5() {
        let r = ClaimsRequest::new(serde_json::json!({ "userinfo": ["email"] }));
        assert!(r.names(ClaimsTarget::UserInfo).is_empty());
        assert!(ClaimsRequest::new(serde_json::json!(3))
            .names(ClaimsTarget::IdToken)
            .is_empty());
    }
}
