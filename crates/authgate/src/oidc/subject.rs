//! Subject identifiers (OpenID Connect Core §8): `public` (the same `sub` for every
//! client) or `pairwise` (a different, stable `sub` per sector, so that clients of
//! different sectors cannot correlate a user).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::client::Client;
use crate::error::OAuth2Error;

/// The sector of a pairwise client (OpenID Connect Core §8.1): the host of its
/// `sector_identifier_uri`, or else the one host of its redirect URIs — except for a
/// self-registered client without a (checked) `sector_identifier_uri`, whose redirect URIs
/// prove nothing about who it is: it is a sector of its own (else it could register
/// another relying party's host and see that party's subjects).
///
/// # Errors
/// `invalid_client_metadata`-like configuration errors, as an `invalid_request`: no
/// sector can be told (redirect URIs on several hosts and no `sector_identifier_uri`).
pub fn sector_of(client: &dyn Client) -> Result<String, OAuth2Error> {
    if let Some(uri) = client.sector_identifier_uri() {
        return url::Url::parse(uri)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .ok_or_else(|| {
                OAuth2Error::invalid_request("the client's sector_identifier_uri has no host")
            });
    }
    if client.is_self_registered() {
        return Ok(format!("client:{}", client.client_id()));
    }
    let mut hosts: Vec<String> = client
        .redirect_uris()
        .iter()
        .filter_map(|u| url::Url::parse(u).ok()?.host_str().map(str::to_owned))
        .collect();
    hosts.sort();
    hosts.dedup();
    match hosts.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(OAuth2Error::invalid_request(
            "a pairwise client with redirect URIs on several hosts needs a sector_identifier_uri (OpenID Connect Core section 8.1)",
        )),
    }
}

/// The `sub` a client sees for a user's local subject: the local one for public clients;
/// for pairwise clients HMAC-SHA256(secret, sector ‖ 0 ‖ local), base64url — stable for the
/// sector, unlinkable across sectors without the secret.
///
/// # Errors
/// A pairwise client when no pairwise secret is configured, or without a sector.
pub fn subject_for(
    client: &dyn Client,
    local: &str,
    pairwise_secret: Option<&[u8]>,
) -> Result<String, OAuth2Error> {
    if client.subject_type() != Some("pairwise") {
        return Ok(local.to_owned());
    }
    let Some(secret) = pairwise_secret else {
        return Err(OAuth2Error::with_description(
            crate::error::ErrorCode::ServerError,
            "pairwise subjects are not configured on this server",
        ));
    };
    let sector = sector_of(client)?;
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret) else {
        return Err(OAuth2Error::new(crate::error::ErrorCode::ServerError));
    };
    mac.update(sector.as_bytes());
    mac.update(&[0]);
    mac.update(local.as_bytes());
    Ok(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientRecord;

    fn pairwise(id: &str, uris: &[&str]) -> ClientRecord {
        ClientRecord::confidential(id, "s")
            .redirect_uris(uris.iter().copied())
            .with_metadata("subject_type", "pairwise")
    }

    #[test]
    fn pairwise_subjects_differ_per_sector_and_stay_stable_oidc_core_8_1() {
        let secret = [7u8; 32];
        let a = pairwise("a", &["https://a.example/cb", "https://a.example/cb2"]);
        let a2 = pairwise("a2", &["https://a.example/other"]);
        let b = pairwise("b", &["https://b.example/cb"]);
        let sa = subject_for(&a, "user-1", Some(&secret)).unwrap();
        assert_eq!(
            sa,
            subject_for(&a, "user-1", Some(&secret)).unwrap(),
            "stable"
        );
        assert_eq!(
            sa,
            subject_for(&a2, "user-1", Some(&secret)).unwrap(),
            "one sector, one sub"
        );
        assert_ne!(
            sa,
            subject_for(&b, "user-1", Some(&secret)).unwrap(),
            "another sector"
        );
        assert_ne!(
            sa,
            subject_for(&a, "user-2", Some(&secret)).unwrap(),
            "another user"
        );
        assert_ne!(sa, "user-1");
        let public = ClientRecord::confidential("p", "s");
        assert_eq!(subject_for(&public, "user-1", None).unwrap(), "user-1");
    }

    #[test]
    fn a_pairwise_client_on_several_hosts_needs_a_sector_identifier_uri() {
        let c = pairwise("c", &["https://a.example/cb", "https://b.example/cb"]);
        assert!(subject_for(&c, "u", Some(&[1; 32])).is_err());
        let c = c.with_metadata("sector_identifier_uri", "https://sector.example/uris.json");
        assert_eq!(sector_of(&c).unwrap(), "sector.example");
    }
}
