//! `Scope`: the RFC 6749 §3.3 scope grammar, parsed once at the edge.

use std::fmt;

use crate::error::OAuth2Error;

/// A set of scope tokens: sorted, without duplicates, each token valid per RFC 6749 §3.3
/// (`1*( %x21 / %x23-5B / %x5D-7E )`).
///
/// ```
/// use authgate::Scope;
/// let s: Scope = "profile email profile".parse().unwrap();
/// assert_eq!(s.to_string(), "email profile");
/// assert!(s.contains("email"));
/// assert!("a\"b".parse::<Scope>().is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Scope(Vec<String>);

impl Scope {
    /// The empty scope.
    pub fn empty() -> Self {
        Self(Vec::new())
    }

    /// Parses a space-delimited scope string.
    ///
    /// # Errors
    /// `invalid_scope` when a token holds a character outside RFC 6749 §3.3's set.
    pub fn parse(s: &str) -> Result<Self, OAuth2Error> {
        let mut tokens: Vec<String> = Vec::new();
        for tok in s.split(' ').filter(|t| !t.is_empty()) {
            if !tok.bytes().all(is_scope_char) {
                return Err(OAuth2Error::invalid_scope(
                    "scope holds a character RFC 6749 section 3.3 does not allow",
                ));
            }
            tokens.push(tok.to_owned());
        }
        tokens.sort_unstable();
        tokens.dedup();
        Ok(Self(tokens))
    }

    /// Whether the scope holds no token.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `token` is in the scope.
    pub fn contains(&self, token: &str) -> bool {
        self.0.binary_search_by(|t| t.as_str().cmp(token)).is_ok()
    }

    /// Whether every token of `self` is in `other`.
    pub fn is_subset_of(&self, other: &Scope) -> bool {
        self.0.iter().all(|t| other.contains(t))
    }

    /// Every token of `self` and of `other`.
    ///
    /// ```
    /// use authgate::Scope;
    /// let a: Scope = "openid email".parse().unwrap();
    /// assert_eq!(a.union(&"profile email".parse().unwrap()).to_string(), "email openid profile");
    /// ```
    #[must_use]
    pub fn union(&self, other: &Scope) -> Scope {
        let mut all: Vec<String> = self.0.iter().chain(&other.0).cloned().collect();
        all.sort_unstable();
        all.dedup();
        Self(all)
    }

    /// The tokens in both `self` and `other`.
    ///
    /// ```
    /// use authgate::Scope;
    /// let a: Scope = "openid email admin".parse().unwrap();
    /// assert_eq!(a.intersection(&"profile email openid".parse().unwrap()).to_string(), "email openid");
    /// ```
    #[must_use]
    pub fn intersection(&self, other: &Scope) -> Scope {
        Self(
            self.0
                .iter()
                .filter(|t| other.contains(t))
                .cloned()
                .collect(),
        )
    }

    /// The tokens, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl std::str::FromStr for Scope {
    type Err = OAuth2Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scope({:?})", self.0.join(" "))
    }
}

impl<S: AsRef<str>> FromIterator<S> for Scope {
    /// Collects tokens; invalid tokens are dropped.
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut v: Vec<String> = iter
            .into_iter()
            .map(|s| s.as_ref().to_owned())
            .filter(|t| !t.is_empty() && t.bytes().all(is_scope_char))
            .collect();
        v.sort_unstable();
        v.dedup();
        Self(v)
    }
}

fn is_scope_char(b: u8) -> bool {
    b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backslash_quote_and_non_ascii_are_invalid_scope_rfc6749_3_3() {
        for bad in ["a\\b", "a\"b", "caf\u{e9}", "tab\there"] {
            let e = Scope::parse(bad).unwrap_err();
            assert_eq!(e.code().as_str(), "invalid_scope", "{bad}");
        }
    }

    #[test]
    fn subset_check() {
        let a = Scope::parse("a b").unwrap();
        let b = Scope::parse("c b a").unwrap();
        assert!(a.is_subset_of(&b));
        assert!(!b.is_subset_of(&a));
        assert!(Scope::empty().is_subset_of(&a));
    }

    #[test]
    fn order_and_duplicates_do_not_matter() {
        assert_eq!(
            Scope::parse("b a a").unwrap(),
            Scope::parse("a  b").unwrap()
        );
    }
}
