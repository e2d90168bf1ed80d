//! The manual: the threat model, the defaults and why, RFC compliance, and a guide for users
//! coming from Authlib.
//!
//! This module holds no code. It describes what the engine does today; where the engine does
//! not yet do something a specification asks for, it says so in as many words ("not
//! implemented yet"), so that you can decide what to add in front of it.
//!
//! - [1. Threat model](#1-threat-model-rfc-9700)
//! - [2. Defaults, and why](#2-defaults-and-why)
//! - [3. RFC compliance matrix](#3-rfc-compliance-matrix)
//! - [4. Coming from Authlib](#4-coming-from-authlib)
//!
//! # 1. Threat model (RFC 9700)
//!
//! RFC 9700, the OAuth 2.0 Security Best Current Practice, is the baseline. Each entry below
//! names a threat by its section, says how the code meets it, and names what is missing.
//!
//! The engine leaves three parts of the deployment to the web layer: TLS, the login and
//! consent pages (framing, CSRF tokens, `Referrer-Policy` on pages), and HTTP plumbing such as
//! CORS and trusted proxies. `authgate-axum` does none of them; an application on it does
//! them itself. The reference server (`authgate-server`) does them: its pages refuse framing,
//! it sets CORS per route, and it believes forwarded headers only from configured proxies
//! (rows 16, 17 and 19 of [the checklist](#the-security-checklist-row-by-row) below). It
//! listens on plain HTTP, so TLS ends in front of it.
//!
//! ## Redirect URI validation (§2.1, §4.1)
//!
//! *Threat:* a lax comparison lets an attacker register or craft a redirect URI that sends
//! codes or tokens to a host they control.
//!
//! *Met by:* [`redirect_uri_matches`](crate::redirect_uri_matches) compares the requested URI
//! with each registered one as plain strings. The one exception (RFC 8252 §7.3) is the port
//! of an `http` URI whose host is the IP literal `127.0.0.1` or `[::1]`: native apps listen on
//! an ephemeral port. Even then, the rest of the URI is compared as a string after only the
//! port is cut out, so no URL parser normalisation can make two different URIs equal; the
//! host name `localhost`, user-info, fragments, prefixes and wildcards get no leniency.
//! When a request names no `redirect_uri`, the client's registered one is used only if it has
//! exactly one (RFC 6749 §3.1.2.3); otherwise the request is refused. When the authorization
//! request named it, the token request must repeat it unchanged (RFC 6749 §4.1.3).
//!
//! *At registration:* dynamic registration ([`ClientRegistrationEndpoint`](crate::ClientRegistrationEndpoint))
//! and metadata-document clients pass every redirect URI through
//! [`check_redirect_uri`](crate::redirect_uri::check_redirect_uri): absolute, no fragment, no
//! user-info; `https`, `http` on a loopback host, or, for public clients only, a private-use
//! scheme in reverse-domain form (`authgate/tests/registration.rs`:
//! `rfc7591_2_redirect_uris_absolute_no_fragment_https_or_loopback`). Clients the
//! application registers itself are its own to check: [`is_valid_redirect_uri`](crate::is_valid_redirect_uri)
//! is the minimal check (absolute, no fragment), `check_redirect_uri` the strict one.
//!
//! ## Credential leakage via the Referer header and browser history (§4.2, §4.3)
//!
//! *Threat:* codes, tokens or `state` in a URL leak through the `Referer` header, browser
//! history, or logs.
//!
//! *Met by:* authorization redirects built by [`OAuth2Response::redirect`](crate::OAuth2Response::redirect)
//! carry `Referrer-Policy: no-referrer` and `Cache-Control: no-store`. Codes are single-use
//! and expire after 10 minutes (see §4.5 below). Access tokens never travel in a query
//! string: the implicit grant is absent unless registered, it answers in the fragment, and a
//! `response_mode=query` request for it is refused. Resource servers ignore `access_token`
//! in the query unless [`ResourceProtector::allow_query_token`](crate::ResourceProtector::allow_query_token)
//! turns it on.
//!
//! *Missing:* keeping third-party resources off the consent page is the page's job, not the
//! engine's. The reference server's pages load nothing from elsewhere (`default-src 'none'`)
//! and send `Referrer-Policy: no-referrer` (row 18 of the checklist).
//!
//! ## Mix-up attacks (§4.4)
//!
//! *Threat:* a client that talks to several authorization servers is tricked into sending a
//! code from one to another.
//!
//! *Met by:* every authorization response, success or error, carries `iss` (RFC 9207) with
//! the configured issuer, and the metadata document says so
//! (`authorization_response_iss_parameter_supported`). The client has to check it.
//!
//! ## Authorization code injection and replay (§4.5; RFC 6749 §4.1.2, §10.5)
//!
//! *Threat:* a stolen code is redeemed by the attacker, or injected into a victim's session.
//!
//! *Met by:*
//! - PKCE: the challenge is stored with the code and the verifier is checked at redemption,
//!   in constant time. PKCE is required of public clients (see §4.8 for downgrades).
//! - The code is bound to the client it was issued to: another client presenting it gets
//!   `invalid_grant`, and nothing else happens.
//! - The code is bound to its redirect URI, as above.
//! - Single use: [`AuthorizationCodeStore::consume_code`](crate::AuthorizationCodeStore::consume_code)
//!   is one atomic operation that succeeds for exactly one caller. The code record stays in
//!   the store, marked used, so a second redemption is recognised: it answers `invalid_grant`
//!   and revokes every token issued from the code
//!   ([`TokenStore::revoke_family`](crate::TokenStore::revoke_family); the code's selector is
//!   the family of every token it produced, refreshed ones included). Two concurrent
//!   redemptions are treated the same way: a replay deletes the code before revoking, and
//!   the redemption that won checks the code again after saving its tokens, so its tokens
//!   are revoked whichever request finishes first
//!   (`replay_during_redemption_still_revokes_the_winners_tokens_rfc9700_4_5`).
//! - Codes live [`ServerConfig::code_ttl`](crate::ServerConfig::code_ttl) seconds (600).
//!
//! *With OpenID Connect:* the request's `nonce` is stored with the code and copied, exactly
//! as sent, into the ID token the code redeems for, so a client that compares it with the
//! nonce of its own session notices a code injected from another flow. A hybrid response's
//! ID token also carries `c_hash`, tying the code beside it to that ID token. The nonce is
//! required for the implicit and hybrid response types, optional in the code flow, where
//! PKCE already does this job (`authgate/tests/openid.rs`:
//! `the_code_flow_answers_an_id_token_with_the_required_claims_oidc_core_3_1_3_3`;
//! `authgate/tests/openid.rs`:
//! `hybrid_responses_carry_c_hash_and_their_code_redeems_for_an_id_token_with_the_nonce_oidc_core_3_3`).
//! The checks themselves are the client's.
//!
//! ## Access token injection (§4.6)
//!
//! *Threat:* an attacker injects a stolen access token into a legitimate client.
//!
//! *Met by:* the countermeasures live in the client; OpenID Connect gives it something to
//! check. When the authorization endpoint answers an access token together with an ID token
//! (`id_token token`, `code id_token token`), the ID token carries that access token's
//! `at_hash`, the `nonce` these response types require, and the client alone as `aud`; a
//! client that verifies them refuses an access token from another flow
//! (`authgate/tests/openid.rs`:
//! `implicit_id_token_carries_the_scope_claims_and_id_token_token_carries_at_hash_oidc_core_3_2_2_10`;
//! `authgate/tests/openid.rs`: `implicit_and_hybrid_need_a_nonce_and_id_token_needs_openid_oidc_core_3_2_2_1`;
//! `authgate-server/tests/openid.rs`: `implicit_and_hybrid_responses_carry_their_hashes_oidc_core_3_2_and_3_3`).
//! An ID token from the token endpoint has no `at_hash` (optional there, OpenID Connect Core
//! §3.1.3.6), and a `token` or `code token` response has no ID token beside its access
//! token, which leaves the client nothing to check: one more reason these response types
//! are absent unless registered.
//!
//! ## Cross-site request forgery (§4.7)
//!
//! *Threat:* an attacker makes the victim's client complete a flow the attacker started.
//!
//! *Met by:* `state` is echoed verbatim on success and on redirected errors; PKCE (RFC 9700
//! §4.7.1 accepts it as CSRF protection) is mandatory for public clients and can be made
//! mandatory for all with [`ServerConfig::require_pkce`](crate::ServerConfig::require_pkce).
//! Without it, a confidential client's CSRF protection rests on its own use of `state`.
//!
//! *Missing:* CSRF protection of the consent form itself belongs to the page that renders it.
//! [`AuthorizationServer::create_authorization_response`](crate::AuthorizationServer::create_authorization_response)
//! validates the whole request again, but cannot know whether the owner really submitted the
//! form.
//!
//! ## PKCE downgrade (§4.8)
//!
//! *Threat:* an attacker strips PKCE from a flow, or swaps the method for a weaker one.
//!
//! *Met by:* a code issued with a challenge cannot be redeemed without a verifier
//! (`invalid_request`); a verifier presented for a code issued without a challenge is refused
//! (`invalid_grant`); `code_challenge_method` without `code_challenge` is refused. A missing
//! method means `plain` (RFC 7636 §4.3), and `plain` is refused unless
//! [`ServerConfig::allow_plain_pkce`](crate::ServerConfig::allow_plain_pkce) is set, so
//! leaving out the method cannot silently weaken the check. The metadata lists
//! `code_challenge_methods_supported` (`S256`, and `plain` only when enabled).
//!
//! ## Access token leakage at, and misuse by, resource servers (§2.2.1, §2.3, §4.9, §4.10)
//!
//! *Threat:* a resource server, a proxy or a log leaks an access token, and the thief replays
//! it, possibly at another resource server.
//!
//! *Audience restriction (RFC 8707):* a client names the API with `resource`; the token
//! carries it as its audience (stored, and `aud` in introspection) and only the scopes
//! that API accepts ([`resource_indicators`](crate::resource_indicators)). A
//! [`ResourceProtector`](crate::ResourceProtector) refuses a token aimed at another
//! resource ([`ExpectedAudience`](crate::ExpectedAudience)), so a token leaked by one API
//! cannot be replayed at the next. Tokens for no resource keep the server's default
//! audience and are accepted only where the server protects its own APIs.
//!
//! *JWT access tokens (RFC 9068):* a resource may take signed `at+jwt` tokens it checks
//! itself ([`jwt_access_token`](crate::jwt_access_token)); the server still files each
//! one, so revocation reaches introspection and its own protectors at once, while a
//! resource checking locally sees it only at expiry: keep such tokens short-lived.
//!
//! *Not implemented yet:* sender-constrained access tokens (DPoP, RFC 9449; mutual TLS,
//! RFC 8705).
//!
//! *What limits the damage today:* access tokens are short-lived (3600 s by default, settable
//! per grant type), can be revoked (RFC 7009), and introspection reports revoked tokens as
//! inactive. Scopes never grow: a request may name only scopes within the client's registered
//! scope, and a refresh may only narrow the original scope. Note that a request naming no
//! scope receives the client's whole registered scope (its default), so register narrow
//! scopes.
//!
//! ## Refresh token protection (§2.2.2, §4.14)
//!
//! *Threat:* a stolen refresh token gives the thief long-lived access.
//!
//! *Met by:* refresh tokens are off until [`ServerConfig::refresh_tokens`](crate::ServerConfig::refresh_tokens)
//! is set, and then issued only to clients allowed the `refresh_token` grant. A refresh token
//! is bound to its client. [`ServerConfig::refresh_token_rotation`](crate::ServerConfig::refresh_token_rotation)
//! rotates public clients' refresh tokens by default (RFC 9700 §4.14.2 requires rotation or
//! sender-constraining for them, and sender-constraining is not implemented yet). Rotation is
//! one atomic store operation ([`TokenStore::rotate_refresh_token`](crate::TokenStore::rotate_refresh_token));
//! a rotated-out token presented again, or a lost race to rotate it, counts as reuse and
//! revokes the whole grant family. Revoking a refresh token at the revocation endpoint also
//! revokes the family.
//!
//! *Caveats:* [`RefreshTokenRotation::Never`](crate::RefreshTokenRotation::Never) turns
//! rotation off for public clients too, which leaves their refresh tokens without the
//! protection RFC 9700 requires. Each rotated refresh token gets a fresh lifetime
//! ([`ServerConfig::refresh_token_ttl`](crate::ServerConfig::refresh_token_ttl), 14 days), so
//! an active grant can live indefinitely; a cap on a grant's total lifetime is not implemented
//! yet.
//!
//! ## Resource owner password credentials (§2.4)
//!
//! *Threat:* the grant exposes the user's password to the client and cannot do multi-factor
//! authentication.
//!
//! *Met by:* [`PasswordGrant`](crate::PasswordGrant) exists only when registered, and a client
//! may use it only when its grant types include `password`. The [`UserStore`](crate::UserStore)
//! contract asks for a slow password hash (argon2id) computed off the async workers;
//! [`MemoryStore`](crate::MemoryStore) does both.
//!
//! *In the library:* no brute-force protection of the password check (RFC 6749 §4.3.2 says
//! the server MUST protect it): throttle in your `UserStore` or in front of the token
//! endpoint. The reference server (`authgate-server`) does: its password grant goes through
//! the same per-user attempt limit as its login page, attempts count when they start, and
//! argon2 runs for unknown usernames too.
//!
//! ## Client authentication (§2.5)
//!
//! *Met by:* [`authenticate_client`](crate::authenticate_client) accepts `client_secret_basic`,
//! `client_secret_post` and `none`; a client must use its registered method, and a request
//! that uses two methods at once is refused. Basic credentials are form-urldecoded after
//! base64 (RFC 6749 §2.3.1). A failed Basic authentication answers 401 with a
//! `WWW-Authenticate: Basic` challenge. Generated secrets are kept as SHA-256 hashes and
//! compared in constant time: a fast hash is right for machine-generated secrets with 256
//! bits of entropy ([`token::generate_client_secret`](crate::token::generate_client_secret),
//! [`ClientRecord::confidential`](crate::ClientRecord::confidential)). A secret a person
//! chose (a config file's) is kept as an argon2id hash instead
//! ([`ClientRecord::with_chosen_secret`](crate::ClientRecord::with_chosen_secret)), so a
//! store dump does not give it away at SHA-256 speed; the engine checks it off the async
//! workers once and then remembers the matching secret in memory as a keyed hash
//! ([`password::verify_remembered`](crate::password::verify_remembered)), so the token
//! endpoint keeps its speed (`password::tests::a_remembered_secret_is_the_matching_one_for_that_hash_only`;
//! `authgate-server/tests/cli.rs`: `a_config_file_secret_is_stored_as_argon2id_and_still_authenticates`).
//! A wrong secret always pays the slow check, behind the per-core gate and, in the reference
//! server, the client authentication limits.
//!
//! *Asymmetric (RFC 9700 prefers it):* `private_key_jwt`
//! ([`client_assertion`](crate::client_assertion), enabled with
//! [`AuthorizationServer::enable_private_key_jwt`](crate::AuthorizationServer::enable_private_key_jwt)):
//! the client proves itself with a short-lived JWT signed by its private key, checked against
//! its registered `jwks` or `jwks_uri`; there is no shared secret to leak. Each assertion's
//! `jti` is single-use in the stores' [`ReplayCache`](crate::ReplayCache) until it expires,
//! `exp` is bounded (5 minutes), `aud` must name this server, the algorithm is fixed by the
//! key's type (never `none`, never HMAC), and a client registered for it cannot fall back to
//! a secret (`authgate/tests/client_assertions.rs`).
//!
//! *Keyed by the secret:* `client_secret_jwt` (the same module, enabled with
//! [`ClientAssertions::client_secrets`](crate::client_assertion::ClientAssertions::client_secrets)):
//! the same assertion rules, signed with HS256, HS384 or HS512, so the secret never travels.
//! HMAC needs the secret itself, so such a client's secret is not hashed: it is sealed with
//! AES-256-GCM under the application's
//! [`KeyEncryptionKey`](crate::jose::KeyEncryptionKey) (the key that seals the signing
//! keys, kept outside the store), bound to the client id
//! ([`seal_client_secret`](crate::client_assertion::seal_client_secret),
//! [`ClientRecord::with_sealed_secret`](crate::ClientRecord::with_sealed_secret)). A store
//! dump alone opens nothing; the dump and the key encryption key together give these
//! secrets away, which a hash would not, so keep the two apart. Secrets are at least 32
//! bytes and at least as long as the algorithm's hash output (RFC 7518 §3.2); such a client
//! cannot send its secret any other way (`authgate/tests/client_secret_jwt.rs`).
//!
//! *Not implemented yet:* mutual TLS (RFC 8705); `private_key_jwt` and `client_secret_jwt`
//! for self-registered clients (registration refuses both). The `client_id`
//! is not treated as a secret: an unknown client and a
//! known one with a wrong secret can be told apart (by timing, and by the error description
//! when the method is wrong).
//!
//! *In the library:* no limit on failed client authentications: throttle in front of the
//! engine. The reference server does: it counts failures (`invalid_client`) per (client id,
//! address) and per address, and once a pair has 10 or an address 50 within five minutes it
//! answers 429 with `Retry-After` without checking anything, at the token, revocation,
//! introspection and device authorization endpoints. Counting the pair rather than the client
//! id alone keeps an attacker elsewhere from locking the client out
//! (`session::tests::client_auth_failures_block_the_pair_and_the_address_only` in
//! `authgate-server`; `authgate-server/tests/e2e.rs`: `failed_client_authentication_is_limited_with_429`).
//!
//! ## Metadata and other recommendations (§2.6)
//!
//! *Met by:* [`AuthorizationServer::metadata`](crate::AuthorizationServer::metadata) builds
//! the RFC 8414 document from what is registered (endpoints, grant types, response types,
//! authentication methods, PKCE methods, `iss` support);
//! [`AuthorizationServer::create_metadata_response`](crate::AuthorizationServer::create_metadata_response)
//! serves it. CORS headers are not set by the engine: the web layer decides per route (the
//! reference server's choices are row 17 of the checklist).
//!
//! ## Open redirection (§4.11)
//!
//! *Threat:* the authorization endpoint redirects a user to an attacker's URI.
//!
//! *Met by:* until the client and the redirect URI are verified, every error is an
//! [`AuthorizationError::Invalid`](crate::AuthorizationError::Invalid), to be shown to the
//! user and never redirected: a missing, repeated or unknown `client_id`; an unregistered,
//! missing-and-ambiguous or repeated `redirect_uri`; a storage failure during that lookup.
//! Only afterwards are errors sent to the (verified) redirect URI.
//!
//! ## 307 redirects (§4.12)
//!
//! *Threat:* a 307 after a form POST makes the browser re-post the user's credentials to the
//! client.
//!
//! *Met by:* [`AuthorizationServer::create_authorization_response`](crate::AuthorizationServer::create_authorization_response)
//! answers a POST (the consent form) with `303 See Other`, for the success and for redirected
//! errors alike, so the browser fetches the redirect URI with a GET and never re-sends the
//! form. A GET is answered with `302 Found`. No response is ever a 307.
//!
//! ## TLS-terminating reverse proxies (§4.13)
//!
//! The engine reads no `X-Forwarded-*` header and no client-certificate header, and the
//! issuer comes from configuration, not from the `Host` header, so there is nothing here for
//! a client to spoof. Trusting forwarded headers only from configured proxies is the
//! server's job. The reference server reads `X-Forwarded-For` or `Forwarded` only when the
//! connecting peer is in its `trusted_proxies` list (addresses or CIDR blocks; empty by
//! default; an entry that is neither keeps the server from starting), and then takes the
//! right-most hop that is not itself a trusted proxy as the client, so entries the client
//! wrote in ahead of it are ignored. It uses that address only for its per-address limits,
//! and reads no client-certificate header (`proxies::tests::only_a_trusted_proxy_is_believed_and_the_right_most_untrusted_hop_is_the_client`
//! in `authgate-server`; `authgate-server/tests/registration.rs`:
//! `per_address_limits_see_through_trusted_proxies_only`; `authgate-server/tests/bad_config.rs`:
//! `a_trusted_proxy_that_is_not_an_address_is_refused`).
//!
//! ## Client impersonating a resource owner (§4.15)
//!
//! A client never chooses its identifier. [`ClientRegistrationEndpoint`](crate::ClientRegistrationEndpoint)
//! ignores a `client_id` sent with the metadata and gives each registered client 128 random
//! bits, base64url-encoded (an id already taken is drawn again); the reference server's
//! configured clients are named by its operator. A client taken from its metadata document
//! ([`client::metadata_document`](crate::client::metadata_document)) has the document's https
//! URL as its id, which the document must repeat, and can only be a public code-flow client,
//! so it never holds a token without a user. The reference server marks both kinds as
//! unverified on its consent page. Tokens from `client_credentials` carry no subject
//! (introspection omits `sub`), so a client identifier never appears where a user's subject
//! belongs (`authgate/tests/registration.rs`:
//! `rfc7591_3_2_1_registration_answers_the_client_and_its_credentials`;
//! `client::metadata_document::tests::a_document_is_checked_and_becomes_a_public_client`;
//! `authgate-server/tests/registration.rs`:
//! `a_registered_client_runs_the_code_flow_client_credentials_and_refresh`).
//!
//! *Not checked:* client ids are not compared with users' subjects. No client can aim for a
//! subject, and a random 128-bit id matching one by chance is practically impossible.
//!
//! ## Clickjacking (§4.16)
//!
//! Framing is refused. The engine's one page, the form-post page, is sent with
//! `X-Frame-Options: DENY` and `Content-Security-Policy: frame-ancestors 'none'`, and so is
//! every page of the reference server (login, consent, device, logout, errors), whose policy
//! also has `form-action 'self'`, widened only by the client's redirect origin on the consent
//! page (and on a login page leading to that client's authorization request), where the
//! form's answer redirects (`authgate-server/tests/e2e.rs`: `pages_forbid_framing_rfc9700_4_16`,
//! on SQLite and PostgreSQL; `authgate/tests/extensions.rs`:
//! `form_post_is_offered_only_with_a_page_and_the_page_is_never_cached_or_framed`). An
//! application with its own pages sets these headers itself.
//!
//! ## Beyond RFC 9700
//!
//! - **Stored secrets** (RFC 6819 §5.1.4.1.3): every token and code is a public selector plus
//!   a 256-bit random verifier; stores keep only the SHA-256 of the verifier and find rows by
//!   selector ([`token`](crate::token)). A copy of the store holds nothing that can be
//!   presented.
//! - **Constant time**: verifier hashes, client secrets and PKCE verifiers are compared with
//!   `subtle`.
//! - **Input**: bodies are capped (413); a repeated parameter is `invalid_request`
//!   (RFC 6749 §3.1, §3.2), also across query and form at the authorization endpoint; the
//!   token, revocation and introspection endpoints accept only form-encoded POST; the scope,
//!   PKCE and Bearer token grammars are checked; at a resource server, two `Authorization`
//!   headers, or a token sent by two methods, are refused (RFC 6750 §2).
//! - **Failures**: a store that is unavailable gives 503 `temporarily_unavailable`, any other
//!   storage failure 500 `server_error`. Network input never reaches an `unwrap`.
//! - **Introspection** (RFC 7662 §4): by default only authenticated confidential clients may
//!   introspect ([`ConfidentialClients`](crate::ConfidentialClients)); revoked, rotated-out
//!   and expired tokens answer `{"active": false}`. The engine does not rate-limit
//!   introspection; the reference server's limit on failed client authentications covers it,
//!   but callers that do authenticate are not limited (row 25 of the checklist).
//! - **Revocation** (RFC 7009): public clients revoke with their `client_id`; a token that
//!   belongs to another client answers 200 and stays valid.
//! - **Consent** is the application's decision: the engine never records it and never skips
//!   it; every approval is an owner passed to `create_authorization_response`. If you
//!   remember consent, do not do so for public clients merely because they hold a token.
//! - **Signing keys** (RFC 7517, RFC 8725, OpenID Connect Core §10.1.1; feature `jose`): the
//!   [`KeySet`](crate::jose::KeySet) generates keys on first use, seals each private key with
//!   AES-256-GCM under a key encryption key the application keeps outside the store (bound
//!   to the key's id and algorithm), so a copy of the store alone cannot sign; a server whose
//!   key encryption key cannot open the stored keys refuses to start and writes nothing. A
//!   key is published before it signs, signs for its period, and stays published after it
//!   stops signing for as long as anything it signed may live — the key set refuses to sign
//!   what would outlive it. The JWKS holds public members only: its type has no field for a
//!   private one. Verification ([`JwksVerifier`](crate::jose::JwksVerifier)) requires a
//!   `kid`, pins the algorithm to the key's own, and never accepts `none` or HMAC
//!   (`authgate/tests/keys.rs`: `verification_pins_the_algorithm_of_the_key_rfc8725_3_1`).
//!   The keys sign ID tokens and logout tokens, with the client's
//!   `id_token_signed_response_alg`, and UserInfo answers for a client that registered a
//!   `userinfo_signed_response_alg` (`authgate-server/tests/openid.rs`:
//!   `code_flow_answers_an_id_token_verified_with_the_published_keys_oidc_core_3_1_3_7`).
//!   Access tokens stay opaque: JWT access tokens (RFC 9068) wait for issue 11.
//! - **Tenants**: several issuers may share one SQL database; every row belongs to one
//!   tenant, and no client, code, token, user, secret or key of one is found through another
//!   (`authgate-sql/tests/tenants.rs`).
//! - **Logging**: the engine logs nothing. Types that carry secrets
//!   ([`SecretHash`](crate::token::SecretHash), [`GeneratedToken`](crate::token::GeneratedToken),
//!   [`IssuedTokens`](crate::IssuedTokens), [`ClientRecord`](crate::ClientRecord)) leave them
//!   out of their `Debug` output, and so does [`OAuth2Request`](crate::OAuth2Request): its
//!   `Debug` names headers and parameters without their values
//!   (`request::tests::debug_output_names_parameters_but_never_prints_values`).
//!
//! ## The security checklist, row by row
//!
//! The table maps each of the 30 rows of the project's checklist (`shared/SECURITY.md`) to
//! what meets it, in the engine or in the reference server (`authgate-server`), and to the
//! tests that pin it; a conformance check runs on every store (memory, SQLite, PostgreSQL).
//!
//! | # | requirement (level; source) | how it is met | tests |
//! | --- | --- | --- | --- |
//! | 1 | Redirect URIs match by exact string; only a loopback URI's port may vary; no wildcards, no prefixes (MUST; RFC 9700 §2.1, §4.1.3; RFC 8252 §7.3) | [`redirect_uri_matches`](crate::redirect_uri_matches) compares plain strings; for `http` on `127.0.0.1` or `[::1]` only the port is cut out first, and `localhost` gets no leniency. | `redirect_uri::tests::exact_match_only_rfc9700_4_1_3`; `redirect_uri::tests::loopback_keeps_path_query_and_host_strict`; `authgate/tests/grammar_props.rs`: `non_loopback_redirect_uri_matches_only_itself_rfc9700_4_1_3` |
//! | 2 | Never redirect to an unverified redirect URI, errors included (MUST; RFC 9700 §4.11) | Until the client and its redirect URI are verified, every error is an [`AuthorizationError::Invalid`](crate::AuthorizationError::Invalid), shown and never redirected. The reference server also shows a self-registered client's errors before consent, and follows only a registered `post_logout_redirect_uri`. | `authgate-axum/tests/http_flows.rs`: `unregistered_redirect_uri_is_400_and_never_redirected_rfc6749_4_1_2_1`; `authgate-server/tests/e2e.rs`: `unknown_client_or_redirect_uri_is_a_400_page_without_redirect_rfc6749_4_1_2_1`; `authgate-server/tests/registration.rs`: `a_self_registered_clients_errors_are_shown_not_redirected`; `authgate-server/tests/openid.rs`: `an_unregistered_post_logout_redirect_uri_is_never_followed_rp_initiated_logout_3_1` |
//! | 3 | PKCE supported and advertised; a sent challenge makes the verifier mandatory; a verifier for a code without a challenge is refused; S256, `plain` discouraged (MUST; RFC 9700 §2.1.1, §4.8) | The challenge is stored with the code: redeeming it without the verifier is `invalid_request`, a verifier for a code without a challenge `invalid_grant`. `plain` is refused unless [`ServerConfig::allow_plain_pkce`](crate::ServerConfig::allow_plain_pkce) is set; the metadata lists `code_challenge_methods_supported`. | `authgate-axum/tests/http_flows.rs`: `missing_code_verifier_when_challenge_bound_is_rejected_rfc7636_4_5`; `authgate-axum/tests/http_flows.rs`: `code_verifier_for_code_issued_without_challenge_is_rejected_rfc9700_2_1_1`; `authgate-axum/tests/http_flows.rs`: `plain_code_challenge_method_is_rejected_by_default_rfc9700_2_1_1`; `authgate-axum/tests/http_flows.rs`: `metadata_lists_issuer_endpoints_grants_and_pkce_rfc8414_2` |
//! | 4 | PKCE required of public clients, recommended for all (MUST; RFC 9700 §2.1.1) | A public client's authorization request without `code_challenge` is refused. [`ServerConfig::require_pkce`](crate::ServerConfig::require_pkce) asks it of confidential clients too (off by default; see section 2). | `authgate-axum/tests/http_flows.rs`: `public_client_without_code_challenge_is_invalid_request_rfc9700_2_1_1`; `authgate/tests/options.rs`: `require_pkce_makes_confidential_clients_send_a_challenge_rfc9700_2_1_1` |
//! | 5 | Codes single-use and short-lived; a reused code is refused and revokes the tokens issued from it (MUST/SHOULD; RFC 6749 §4.1.2, §10.5; RFC 9700 §4.5) | [`AuthorizationCodeStore::consume_code`](crate::AuthorizationCodeStore::consume_code) succeeds for one caller only; a replay is `invalid_grant` and revokes the code's token family, also when it races the first redemption. Codes live 600 s. | `authgate-axum/tests/http_flows.rs`: `code_replay_is_invalid_grant_and_revokes_tokens_rfc6749_4_1_2`; `authgate-axum/tests/http_flows.rs`: `code_expires_after_ten_minutes_rfc6749_4_1_2`; `authgate/tests/extensions.rs`: `replay_during_redemption_still_revokes_the_winners_tokens_rfc9700_4_5`; conformance check `hundred_concurrent_code_redemptions_issue_exactly_one_token` (memory, SQLite, PostgreSQL) |
//! | 6 | No access tokens from the authorization endpoint unless explicitly enabled (SHOULD NOT; RFC 9700 §2.1.2) | [`ImplicitGrant`](crate::ImplicitGrant), and the OpenID response types that return a token, exist only when registered, and a client must list the response type. The reference server registers them only for a configured client that lists them, with a warning; self-registered and metadata-document clients cannot have them. | `authgate/tests/architecture.rs`: `the_authorization_endpoint_appears_with_its_first_grant_and_the_code_grant_adds_pkce`; `authgate-axum/tests/http_flows.rs`: `response_type_the_client_may_not_use_is_unauthorized_client_rfc6749_4_2_2_1`; `authgate-server/tests/e2e.rs`: `unsupported_types_and_discouraged_grants_are_logged_as_warnings` |
//! | 7 | Password grant only when explicitly enabled (MUST NOT; RFC 9700 §2.4) | [`PasswordGrant`](crate::PasswordGrant) exists only when registered, for clients whose grant types include `password`. The reference server registers it only for a configured client that lists it, with a warning, and refuses it in `registration.allowed_grant_types`. | `authgate-axum/tests/http_flows.rs`: `grant_type_not_allowed_for_client_is_unauthorized_client_rfc6749_5_2`; `authgate-server/tests/e2e.rs`: `unsupported_types_and_discouraged_grants_are_logged_as_warnings`; `authgate-server/tests/bad_config.rs`: `registration_keys_are_checked` |
//! | 8 | Sender-constrained access tokens (DPoP, mTLS) available (SHOULD; RFC 9700 §2.2.1) | **Not met: waits for DPoP.** Neither DPoP (RFC 9449) nor mutual TLS (RFC 8705) is implemented; [`GrantDetails`](crate::GrantDetails) only reserves a `cnf` field for it. Until then short access token lifetimes, revocation and refresh token rotation bound a leak. | none yet |
//! | 9 | Public clients' refresh tokens rotate, and reuse revokes the family (MUST; RFC 9700 §2.2.2, §4.14) | [`RefreshTokenRotation::PublicClients`](crate::RefreshTokenRotation::PublicClients) is the default (the reference server has no setting to change it); rotation is one atomic store call, and a rotated-out token presented again, or a lost race, revokes the grant family. `RefreshTokenRotation::Never` would give this up. | `authgate-axum/tests/http_flows.rs`: `reused_rotated_refresh_token_revokes_the_family_rfc9700_4_14_2`; `authgate-server/tests/e2e.rs`: `public_client_refresh_rotates_and_reuse_is_invalid_grant_rfc9700_4_14_2`; conformance check `hundred_concurrent_rotations_of_one_refresh_token_let_exactly_one_succeed` (memory, SQLite, PostgreSQL) |
//! | 10 | Audience-restricted access tokens (resource indicators); least-privilege scopes (SHOULD; RFC 9700 §2.3; RFC 8707) | **Met.** `resource` at the authorization and token endpoints names registered resources only (`invalid_target` otherwise); the token's audience is stored and introspected; its scope is cut to what its resources accept; protectors refuse tokens aimed elsewhere. Scopes: a request gets at most the client's registered scope, a refresh may only narrow it (and its resources), and self-registered clients stay under a scope ceiling. | `authgate/tests/resource_indicators.rs`: `the_authorization_request_s_resources_cap_the_token_request_rfc8707_2_2`; `authgate/tests/resource_indicators.rs`: `a_token_for_one_resource_is_refused_by_every_other_rfc8707_1`; `authgate-server/tests/e2e.rs`: `tokens_aimed_at_a_resource_are_refused_by_api_me_rfc8707_2` (both backends); `authgate-axum/tests/http_flows.rs`: `refresh_may_not_widen_the_scope_rfc6749_6` |
//! | 11 | Confidential clients authenticated; asymmetric methods preferred (SHOULD; RFC 9700 §2.5) | **Met.** A confidential client must authenticate with its registered method: `private_key_jwt` (asymmetric: a signed assertion checked with the client's public keys, [`client_assertion`](crate::client_assertion)), `client_secret_jwt` (an HMAC assertion keyed by a secret kept sealed), `client_secret_basic` or `client_secret_post`; generated secrets are kept as SHA-256, secrets a person chose as argon2id ([`ClientRecord::with_chosen_secret`](crate::ClientRecord::with_chosen_secret)). Not offered: mutual TLS, and JWT methods for self-registered clients (registration refuses them). | `authgate/tests/client_assertions.rs`: `a_signed_assertion_authenticates_its_client_rfc7523_2_2`; `authgate/tests/client_assertions.rs`: `the_attack_list_is_refused_rfc7523_3_rfc8725_3_1`; `authgate-server/tests/interop_python.rs`: `authlib_authenticates_with_private_key_jwt_once_per_assertion_rfc7523_2_2`; `authgate/tests/client_secret_jwt.rs`: `one_client_one_method_rfc7591_2_oidc_core_9`; `client::authentication::tests::public_client_names_itself_and_confidential_cannot`; `authgate-axum/tests/http_flows.rs`: `wrong_basic_secret_is_401_invalid_client_with_basic_challenge_rfc6749_5_2`; `authgate-server/tests/cli.rs`: `a_config_file_secret_is_stored_as_argon2id_and_still_authenticates` |
//! | 12 | `iss` in every authorization response, advertised in the metadata (SHOULD; RFC 9700 §4.4; RFC 9207) | Every authorization response, success or error, carries the configured issuer as `iss`; the metadata always has `authorization_response_iss_parameter_supported`. | `authgate-axum/tests/http_flows.rs`: `code_flow_with_pkce_issues_tokens_that_open_the_api_rfc6749_4_1`; `authgate-axum/tests/http_flows.rs`: `denied_consent_redirects_access_denied_with_state_and_iss_rfc9207_2`; `authgate/tests/architecture.rs`: `a_bare_server_advertises_its_issuer_token_endpoint_and_iss_parameter` |
//! | 13 | Authorization server metadata published (SHOULD; RFC 9700 §2.6; RFC 8414) | [`AuthorizationServer::metadata`](crate::AuthorizationServer::metadata) builds the document from what is registered, each endpoint adding its own members; the reference server serves it at both well-known paths, and the two agree. | `authgate-axum/tests/http_flows.rs`: `metadata_lists_issuer_endpoints_grants_and_pkce_rfc8414_2`; `authgate/tests/architecture.rs`: `each_registered_endpoint_adds_exactly_its_own_metadata`; `authgate-server/tests/e2e.rs`: `metadata_documents_agree_and_list_exactly_what_is_supported_rfc8414_3_2` |
//! | 14 | No access tokens in URL query strings (MUST NOT; RFC 9700 §4.3.2; RFC 6750 §2.3) | Responses that carry a token go in the fragment (or a form post), and `response_mode=query` is refused for them. Resource servers ignore `access_token` in the query unless [`ResourceProtector::allow_query_token`](crate::ResourceProtector::allow_query_token) is set, which the reference server never does. | `authgate-axum/tests/http_flows.rs`: `response_mode_query_with_token_response_is_rejected_rfc9700_4_3_2`; `authgate-axum/tests/http_flows.rs`: `implicit_grant_returns_token_in_fragment_without_refresh_token_rfc6749_4_2_2`; `authgate-axum/tests/http_flows.rs`: `token_in_query_string_is_ignored_by_default_rfc6750_2_3` |
//! | 15 | After a credential POST, redirect with 303, never 307 (MUST NOT use 307; RFC 9700 §4.12) | The engine answers a POSTed authorization request with 303, or 302 when [`ServerConfig::post_redirect_status`](crate::ServerConfig::post_redirect_status) asks for it; 307 and 308 fall back to 303 (that fallback is not pinned by a test). The reference server's login form answers 303, its consent form (no credentials in it) 302. | `authgate-axum/tests/http_flows.rs`: `code_flow_with_pkce_issues_tokens_that_open_the_api_rfc6749_4_1`; `authgate-axum/tests/http_flows.rs`: `denied_consent_redirects_access_denied_with_state_and_iss_rfc9207_2`; `authgate-server/tests/e2e.rs`: `code_flow_with_pkce_through_login_and_consent_rfc6749_4_1_rfc7636` |
//! | 16 | Login and consent pages cannot be framed (MUST; RFC 9700 §4.16) | The engine's only page, the form-post page, sends `frame-ancestors 'none'` and `X-Frame-Options: DENY`; so does every page of the reference server (login, consent, device, logout, errors). | `authgate-server/tests/e2e.rs`: `pages_forbid_framing_rfc9700_4_16`; `authgate/tests/extensions.rs`: `form_post_is_offered_only_with_a_page_and_the_page_is_never_cached_or_framed` |
//! | 17 | No CORS on the authorization endpoint; CORS where browsers need it (MUST NOT; RFC 9700 §2.6) | The engine sets no CORS headers. The reference server allows any origin on the metadata documents and the JWKS, the configured origins and its clients' redirect origins on the token, revocation and UserInfo endpoints, and none on `/authorize`, the pages or introspection. | `authgate-server/tests/openid.rs`: `userinfo_answers_the_granted_claims_by_get_and_post_with_cors_oidc_core_5_3`; `authgate-server/tests/bad_config.rs`: `a_cors_origin_with_a_path_is_refused` |
//! | 18 | `Referrer-Policy: no-referrer` on pages carrying codes or state; no third-party resources there (SHOULD; RFC 9700 §4.2) | Authorization redirects and the form-post page carry `Referrer-Policy: no-referrer`, and the form-post page's CSP allows only its own script. The reference server's pages send `no-referrer` and `default-src 'none'` as well. | `authgate/tests/options.rs`: `authorization_redirects_carry_no_referrer_and_no_store_rfc9700_4_2`; `authgate-server/tests/e2e.rs`: `pages_forbid_framing_rfc9700_4_16`; `authgate/tests/extensions.rs`: `form_post_is_offered_only_with_a_page_and_the_page_is_never_cached_or_framed`; `response::form_post_tests::the_page_escapes_values_posts_to_the_redirect_uri_and_allows_only_its_own_script` |
//! | 19 | Forwarded headers trusted only from configured proxies (MUST; RFC 9700 §4.13) | The engine reads no forwarded or client-certificate header, and the issuer comes from configuration. The reference server reads `X-Forwarded-For` or `Forwarded` only from a peer in `trusted_proxies`, taking the right-most untrusted hop as the client, and reads no client-certificate header. | `proxies::tests::only_a_trusted_proxy_is_believed_and_the_right_most_untrusted_hop_is_the_client` (in `authgate-server`); `authgate-server/tests/registration.rs`: `per_address_limits_see_through_trusted_proxies_only`; `authgate-server/tests/bad_config.rs`: `a_trusted_proxy_that_is_not_an_address_is_refused` |
//! | 20 | Clients cannot choose identifiers that impersonate users (MUST; RFC 9700 §4.15) | The server picks every registered `client_id` (one sent is ignored); a metadata-document client's id is its https URL, which the document must repeat, and it can only be a public code-flow client; both kinds are marked unverified on the consent page. Opaque client-credentials tokens carry no subject; a JWT one names the client as its `sub` (RFC 9068 §2.2), and the reference server refuses a config whose client id equals a user's subject. | `authgate/tests/registration.rs`: `rfc7591_3_2_1_registration_answers_the_client_and_its_credentials`; `client::metadata_document::tests::a_document_is_checked_and_becomes_a_public_client`; `authgate-server/tests/registration.rs`: `a_registered_client_runs_the_code_flow_client_credentials_and_refresh` |
//! | 21 | Tokens, codes and client secrets stored hashed (SHOULD; RFC 6819 §5.1.4.1.3) | Tokens, authorization codes and device codes are a public selector plus a 256-bit random verifier, of which stores keep only the SHA-256; user codes, registration access tokens and initial access tokens are kept as SHA-256 too. Generated client secrets are kept as SHA-256, chosen ones as argon2id. The exception is `client_secret_jwt`, whose secret keys an HMAC and so cannot be a hash: it is sealed (AES-256-GCM, bound to the client id) under the key encryption key kept outside the store. | `token::tests::tampered_verifier_changes_the_hash`; `authgate-server/tests/cli.rs`: `client_add_prints_a_secret_that_gets_a_token_and_only_its_hash_is_stored`; `authgate-server/tests/cli.rs`: `a_config_file_secret_is_stored_as_argon2id_and_still_authenticates`; `authgate/tests/client_secret_jwt.rs`: `secrets_shorter_than_32_bytes_are_not_sealed_rfc7518_3_2`; `authgate/tests/client_secret_jwt.rs`: `a_secret_sealed_under_another_key_is_a_server_error_not_a_verdict` |
//! | 22 | Brute-force protection wherever a password or client secret is checked (MUST; RFC 6749 §2.3.1, §4.3.2) | **Met in the reference server only**; the engine has no limiter of its own, so an application on the library throttles in front of it. The server limits failed sign-ins per user and address, shared by the login page and the password grant, so that guesses from one address cannot lock the user out elsewhere; and failed client authentications per client and address at the token, revocation, introspection and device endpoints (429 with `Retry-After`). | `authgate-server/tests/e2e.rs`: `sixth_failed_login_for_one_user_is_429_even_with_the_right_password`; `authgate-server/tests/registration.rs`: `password_guesses_elsewhere_cannot_lock_a_user_out`; `authgate-server/tests/e2e.rs`: `failed_client_authentication_is_limited_with_429` |
//! | 23 | Every secret, token, code and verifier compared in constant time (no level; RFC 6819) | Verifier hashes of tokens and codes, client secrets, PKCE verifiers, argon2 outputs, registration tokens, and the reference server's session MACs and CSRF tokens are compared with `subtle`. The tests pin that each comparison accepts only the right value; no test measures timing. | `pkce::tests::wrong_verifier_is_invalid_grant_rfc7636_4_6`; `password::tests::a_remembered_secret_is_the_matching_one_for_that_hash_only`; `session::tests::sealed_session_opens_and_tampering_is_refused` (in `authgate-server`) |
//! | 24 | `jti` replay cache and bounded `exp` for client assertions, JWT-bearer grants and DPoP proofs (MUST; RFC 7523 §3; RFC 9449 §11.1) | **Met for client assertions and the JWT bearer grant** (DPoP is not built). Each assertion's `jti` goes through [`ReplayCache::first_use`](crate::ReplayCache::first_use) (memory, SQLite, PostgreSQL; one atomic statement), keyed by client or issuer, kept past the assertion's expiry; `exp` is required and at most 5 minutes ahead (`exp - iat` too). | `authgate/tests/client_assertions.rs`: `a_replayed_jti_is_refused_until_the_assertion_expires_rfc7523_3`; `authgate/tests/client_assertions.rs`: `hundred_concurrent_presentations_of_one_assertion_let_exactly_one_through_rfc7523_3`; `authgate/tests/jwt_bearer.rs`: `an_assertion_is_used_once_even_by_100_concurrent_requests_rfc7523_3`; storage conformance (memory, SQLite, PostgreSQL): `hundred_concurrent_first_uses_of_one_value_let_exactly_one_through`, `replay_cache_lets_a_value_through_once_until_it_expires`; `authgate-server/tests/e2e.rs`: `private_key_jwt_assertions_authenticate_once_each_rfc7523_3` and `authgate-server/tests/jwt_bearer.rs`: `a_partner_s_assertion_is_traded_once_for_a_user_token_rfc7523_2_1` (both backends, 100 concurrent over HTTP) |
//! | 25 | Introspection limited to authorized callers and rate-limited (SHOULD; RFC 7662 §4) | **Partly met.** By default only authenticated confidential clients may introspect ([`ConfidentialClients`](crate::ConfidentialClients)); the reference server can also bar a confidential client (`may_introspect = false`), and its limit on failed client authentications covers `/introspect`. Missing: a rate limit for callers that do authenticate. | `authgate-axum/tests/http_flows.rs`: `public_client_may_not_introspect_rfc7662_4`; `authgate-axum/tests/http_flows.rs`: `custom_introspection_policy_decides_who_may_introspect_rfc7662_4`; `authgate-server/tests/e2e.rs`: `introspection_answers_active_then_inactive_rfc7662_2_2`; `authgate-server/tests/e2e.rs`: `failed_client_authentication_is_limited_with_429` |
//! | 26 | JOSE verification pins the algorithm per key; never `none`; never a public key as an HMAC secret (MUST; RFC 8725) | [`JwksVerifier`](crate::jose::JwksVerifier), which checks every `id_token_hint` and software statement, requires a `kid` and takes the algorithm from that key; keys published by others (client assertions, and a resource's [`JwtValidator`](crate::resource::jwt::JwtValidator)) go through [`jose::remote::pick`](crate::jose::remote::pick): the key named by `kid` (or the only one that fits), of the type the algorithm needs, of its own `alg` when it names one (an RSA key naming none: RS256 only). Neither accepts `none` or HMAC, and a set holding private or symmetric material is not used at all. | `authgate/tests/keys.rs`: `verification_pins_the_algorithm_of_the_key_rfc8725_3_1`; `jose::remote::tests::a_key_is_picked_by_kid_and_fit_for_the_algorithm_rfc8725_3_1`; `jose::remote::tests::private_symmetric_and_weak_keys_are_never_used`; `authgate/tests/client_assertions.rs`: `the_key_is_the_registered_one_for_its_kid_and_fits_the_alg_rfc8725_3_1`; `authgate/tests/client_assertions.rs`: `the_attack_list_is_refused_rfc7523_3_rfc8725_3_1`; `authgate/tests/jwt_access_tokens.rs`: `a_resource_validates_jwt_access_tokens_locally_rfc9068_4`; `authgate/tests/openid.rs`: `an_id_token_hint_is_verified_and_names_the_user_it_was_issued_for` |
//! | 27 | Outbound fetches refuse private, loopback and link-local targets outside tests, follow no cross-host redirects, and bound size and time (MUST, SSRF; RFC 7591 §5; CIMD draft) | In the reference server, metadata documents, `sector_identifier_uri` and back-channel logout go through the same kind of outbound client, whose resolver answers public addresses only (the address connected to is the one checked); it follows no redirect at all and stops after 5 s and 64 KiB (16 KiB of a logout answer). `AUTHGATE_TEST_ALLOW_PRIVATE_OUTBOUND=1` lifts the address rule for tests, with a warning. A `private_key_jwt` client's `jwks_uri`, and a trusted issuer's (the JWT bearer grant), go through the same client (and the config refuses a non-https one); its set is fetched one fetch at a time, at most once a minute per URL, and a failed fetch keeps the keys fetched before (`authgate/tests/client_assertions.rs`: `jwks_uri_fetches_are_one_at_a_time_and_a_failed_one_keeps_the_keys`). The size and time bounds are not pinned by a test yet. | `documents::tests::private_addresses_are_never_fetched`, `backchannel::tests::only_public_addresses_are_reached` and `backchannel::tests::a_loopback_receiver_is_never_contacted` (in `authgate-server`); `authgate-server/tests/registration.rs`: `metadata_document_clients_sqlite` |
//! | 28 | Signing keys: private parts never published, never usable from a store dump alone; published before they sign; retired keys published until what they signed expires (SHOULD; RFC 7517; OpenID Connect Core §10.1.1) | The [`KeySet`](crate::jose::KeySet) seals each private key with AES-256-GCM under a key encryption key kept outside the store (with the wrong one the server does not start and writes nothing); the JWKS type has no private members; a key is published before it signs and stays published after, and nothing is signed that would outlive its key. | `authgate/tests/keys.rs`: `private_keys_are_sealed_and_a_wrong_key_encryption_key_fails_the_start`; `authgate/tests/keys.rs`: `jwks_holds_public_members_only_rfc7517_and_rfc7518_6`; `authgate/tests/keys.rs`: `a_scheduled_rotation_publishes_the_successor_before_it_signs`; `authgate/tests/keys.rs`: `nothing_is_signed_that_would_outlive_its_key` |
//! | 29 | ID tokens: `aud` holds the client, `nonce` echoed exactly, `azp` with several audiences, the client's registered algorithm, never `none` (MUST; OpenID Connect Core §2, §3.1.3.7) | `aud` is always exactly the client and no claims source may set `aud` or `azp`, so an ID token never has several audiences and needs no `azp`; the `nonce` is copied as sent; each client gets its `id_token_signed_response_alg` (RS256 when unset) among the server's algorithms, and `none` or HMAC is refused at registration. | `authgate/tests/openid.rs`: `the_code_flow_answers_an_id_token_with_the_required_claims_oidc_core_3_1_3_3`; `authgate/tests/openid.rs`: `each_client_gets_its_registered_algorithm_oidc_registration_2`; `authgate/tests/registration.rs`: `openid_connect_dynamic_registration_members`; `authgate-server/tests/openid.rs`: `code_flow_answers_an_id_token_verified_with_the_published_keys_oidc_core_3_1_3_7` |
//! | 30 | Refresh token grace windows (if enabled) return the same successor and never fork a family; outside the window reuse revokes the family (MUST; RFC 9700 §4.14.2) | [`ServerConfig::refresh_token_grace_seconds`](crate::ServerConfig::refresh_token_grace_seconds) is 0 by default (at most 300 in the reference server). Within it, the rotated-out token gets the same successor pair, kept sealed under a key only that token yields; after it, or once the successor has rotated, reuse revokes the family; without a window, exactly one of concurrent rotations wins. | conformance check `hundred_concurrent_refreshes_within_the_grace_window_share_one_successor` (memory, SQLite, PostgreSQL); conformance check `hundred_concurrent_rotations_of_one_refresh_token_let_exactly_one_succeed` (memory, SQLite, PostgreSQL); `authgate-server/tests/e2e.rs`: `refresh_grace_window_answers_a_replay_with_the_same_pair_rfc9700_4_14_2` |
//!
//! # 2. Defaults, and why
//!
//! | setting | default | why |
//! | --- | --- | --- |
//! | [`refresh_tokens`](crate::ServerConfig::refresh_tokens) | off | A refresh token is the longest-lived credential a client holds, and many clients (services using `client_credentials`) never need one. Turn them on when you need them, and only clients allowed the `refresh_token` grant get them. |
//! | [`refresh_token_rotation`](crate::ServerConfig::refresh_token_rotation) | [`PublicClients`](crate::RefreshTokenRotation::PublicClients) | A public client cannot authenticate, so a stolen refresh token works for anyone; rotation with reuse detection (RFC 9700 §4.14.2) is the protection available without DPoP. A confidential client proves its secret on every refresh, and rotating its tokens costs a write per refresh and breaks clients that refresh from several processes at once. `Always` is one setting away. |
//! | [`refresh_token_grace_seconds`](crate::ServerConfig::refresh_token_grace_seconds) | 0 (no window) | With rotation, two tabs or a retried request refreshing at once make the slower one look like reuse and revoke the family: the user is logged out. A window of a few seconds answers such a replay with the same successor pair instead (never a second branch of the family). The cost: within the window a thief holding the old token gets the live pair rather than tripping reuse detection, so it is off until you choose it. The successors are kept sealed under a key only the old token yields: a store dump alone reveals nothing; with [`with_refresh_grace_secret`](crate::AuthorizationServer::with_refresh_grace_secret) (the reference server sets it from its session key) a dump plus that old token does not either. |
//! | PKCE for public clients | required | A public client has no secret; PKCE is what ties the code to the app instance that started the flow (RFC 9700 §2.1.1). |
//! | [`require_pkce`](crate::ServerConfig::require_pkce) (all clients) | off | RFC 9700 recommends PKCE for confidential clients too, but older confidential clients do not send it; they still authenticate when redeeming the code. Turn it on when your clients allow it. |
//! | [`allow_plain_pkce`](crate::ServerConfig::allow_plain_pkce) | off | With `plain` the challenge is the verifier, so anyone who sees the authorization request can redeem the code. Every current client library does `S256`. |
//! | [`code_ttl`](crate::ServerConfig::code_ttl) | 600 s | RFC 6749 §4.1.2 asks for at most 10 minutes; a client exchanges its code within seconds. |
//! | [`access_token_ttl`](crate::ServerConfig::access_token_ttl) | 3600 s | Bearer tokens cannot be sender-constrained yet, so their lifetime is the main bound on a leak; an hour keeps refresh traffic low. Override per grant type with [`ServerConfig::expires_in`](crate::ServerConfig::expires_in) or `AUTHGATE_EXPIRES_<GRANT_TYPE>`. |
//! | [`refresh_token_ttl`](crate::ServerConfig::refresh_token_ttl) | 14 days | Rotation gives each new refresh token a fresh lifetime, so clients in use stay signed in while abandoned grants lapse within two weeks. |
//! | [`max_body_bytes`](crate::ServerConfig::max_body_bytes) | 64 KiB | A legitimate OAuth request is a few hundred bytes; the cap bounds the memory an anonymous caller can make the server hold. The web layer passes it to [`OAuth2Request::from_http`](crate::OAuth2Request::from_http) (a larger body is a 413) and should stop reading the body at the same limit. |
//! | redirect URI matching | exact, loopback port excepted | Prefix, wildcard and normalising comparisons are behind most redirect URI vulnerabilities (RFC 9700 §4.1.3). Native apps cannot know their port in advance, hence the exception (RFC 8252 §7.3), limited to IP literals because `localhost` may resolve elsewhere (RFC 8252 §8.3). |
//! | implicit and password grants | not registered | RFC 9700 §2.1.2 and §2.4 advise against them; you register them deliberately. |
//! | Bearer token location | `Authorization` header only | Tokens in query strings end up in logs and history (RFC 9700 §4.3.2); form tokens are rarely needed. Both are opt-in on [`ResourceProtector`](crate::ResourceProtector). |
//! | introspection callers | [`ConfidentialClients`](crate::ConfidentialClients) | RFC 7662 §4 asks that the endpoint not answer just anyone; a resource server registered as a confidential client can introspect. Replace the policy to narrow it further. |
//!
//! # 3. RFC compliance matrix
//!
//! Each row names a behaviour and the tests that pin it. A unit test is named by its module
//! path (`client::authentication::tests::...`, in `crates/authgate/src`); any other test by
//! its file under `crates/`:
//!
//! - `authgate/tests/grammar_props.rs`: property tests (proptest), many generated inputs per
//!   rule;
//! - `authgate/tests/extensions.rs`: the extension points, through the engine's API;
//! - `authgate-axum/tests/http_flows.rs`: the endpoints over a real socket, through axum;
//! - `authgate-axum/tests/interop_oauth2.rs`: the same, driven by an independent client
//!   library (the `oauth2` crate);
//! - `authgate-sql/tests/conformance.rs` (and `authgate/tests/storage_conformance.rs`): the
//!   storage conformance suite of `authgate::testing` (feature `testing`), run
//!   against every backend (the in-memory stores, SQLite, and PostgreSQL when a database is
//!   available); a check named in the table below runs on each;
//! - `authgate/tests/keys.rs`: signing keys, rotation and the JWKS endpoint.
//! - `authgate-sql/tests/deployments.rs`: the SQL stores in deployment situations (restarts,
//!   outages, several servers); the PostgreSQL tests run when a database is available.
//! - `authgate/tests/openid.rs`: OpenID Connect through the engine's API;
//!   `authgate-server/tests/openid.rs`: the reference server as an OpenID Provider over HTTP,
//!   on SQLite and PostgreSQL; `authgate-server/tests/interop_openidconnect.rs` and
//!   `authgate-axum/tests/interop_openidconnect.rs`: the `openidconnect` crate as relying
//!   party; `authgate-server/tests/interop_python.rs`: Python's Authlib client as relying
//!   party; `authgate-server/tests/browser.rs`: headless Chromium.
//!
//! | RFC § | behaviour | test |
//! | --- | --- | --- |
//! | RFC 6749 §2.1, §2.3 | a public client names itself with `client_id`; a confidential one cannot skip its secret | `client::authentication::tests::public_client_names_itself_and_confidential_cannot`; `authgate-axum/tests/interop_oauth2.rs`: `public_client_with_default_basic_auth_type_sends_client_id_in_body` |
//! | RFC 6749 §2.3 | a client uses one authentication method per request; two at once is `invalid_request` | `client::authentication::tests::two_mechanisms_are_invalid_request_rfc6749_2_3`; `authgate-axum/tests/http_flows.rs`: `basic_and_body_secret_together_is_invalid_request_rfc6749_2_3` |
//! | RFC 6749 §2.3.1 | Basic credentials are form-urlencoded before base64 | `client::authentication::tests::basic_credentials_are_form_urlencoded_rfc6749_2_3_1`; `client::authentication::tests::basic_credentials_round_trip_any_id_and_secret_rfc6749_2_3_1` |
//! | RFC 6749 §2.3.1 | a `client_secret_post` client authenticates in the body only; the registered method is enforced | `client::authentication::tests::post_client_authenticates_in_the_body_only`; `authgate-axum/tests/interop_oauth2.rs`: `client_credentials_with_client_secret_post_rfc6749_2_3_1` |
//! | RFC 6749 §3.1 | a parameter sent without a value counts as omitted | `request::tests::empty_value_is_treated_as_omitted_rfc6749_3_1` |
//! | RFC 6749 §3.1 | a repeated authorization parameter is an error, also when split across query and form; before the client is verified it is not redirected | `request::tests::authorization_parameter_in_query_and_form_is_repeated`; `authgate-axum/tests/http_flows.rs`: `repeated_authorization_parameter_is_invalid_request_rfc6749_3_1`; `authgate-axum/tests/http_flows.rs`: `repeated_state_is_invalid_request_rfc6749_3_1`; `authgate-axum/tests/http_flows.rs`: `repeated_client_id_is_400_and_never_redirected_rfc6749_3_1` |
//! | RFC 6749 §3.1.2 | a registrable redirect URI is absolute and has no fragment | `redirect_uri::tests::registration_rejects_fragments_and_relative_uris` |
//! | RFC 6749 §3.2 | a repeated token request parameter is `invalid_request` | `request::tests::repeated_parameter_is_invalid_request_rfc6749_3_2`; `authgate/tests/grammar_props.rs`: `form_parameters_round_trip_and_repeats_are_detected` |
//! | RFC 6749 §3.2 | the token endpoint takes a form-encoded POST only (content type parameters such as `charset` allowed) | `request::tests::content_type_parameters_are_accepted`; `request::tests::other_content_types_leave_no_form`; `authgate-axum/tests/http_flows.rs`: `json_token_request_is_invalid_request_rfc6749_3_2`; `authgate-axum/tests/http_flows.rs`: `get_on_token_endpoint_is_a_json_error_rfc6749_3_2` |
//! | RFC 6749 §3.3 | scope tokens outside the allowed characters are `invalid_scope` | `scope::tests::backslash_quote_and_non_ascii_are_invalid_scope_rfc6749_3_3`; `authgate/tests/grammar_props.rs`: `scope_with_a_forbidden_byte_is_invalid_scope_rfc6749_3_3` |
//! | RFC 6749 §3.3 | scopes compare as sets: order and duplicates do not matter | `scope::tests::order_and_duplicates_do_not_matter`; `scope::tests::subset_check`; `authgate/tests/grammar_props.rs`: `scope_display_parses_back_to_itself` |
//! | RFC 6749 §4.1 | the code flow with PKCE issues tokens that open the API, also for an independent client library (the `oauth2` crate) | `authgate-axum/tests/http_flows.rs`: `code_flow_with_pkce_issues_tokens_that_open_the_api_rfc6749_4_1`; `authgate-axum/tests/interop_oauth2.rs`: `code_flow_with_pkce_s256_for_basic_auth_client_rfc6749_4_1_rfc7636`; `authgate-axum/tests/http_flows.rs`: `example_app_issues_tokens_that_open_its_api` |
//! | RFC 9700 §4.12 | after a POSTed consent form, the authorization response and its redirected errors are 303, never 307 | `authgate-axum/tests/http_flows.rs`: `code_flow_with_pkce_issues_tokens_that_open_the_api_rfc6749_4_1`; `authgate-axum/tests/http_flows.rs`: `denied_consent_redirects_access_denied_with_state_and_iss_rfc9207_2`; `authgate-axum/tests/interop_oauth2.rs`: `code_flow_with_pkce_s256_for_basic_auth_client_rfc6749_4_1_rfc7636` |
//! | RFC 6749 §4.1.2 | a code expires after 10 minutes | `authgate-axum/tests/http_flows.rs`: `code_expires_after_ten_minutes_rfc6749_4_1_2` |
//! | RFC 6749 §4.1.2, §10.5 | a replayed code is `invalid_grant` and revokes the tokens issued from it | `authgate-axum/tests/http_flows.rs`: `code_replay_is_invalid_grant_and_revokes_tokens_rfc6749_4_1_2` |
//! | RFC 6749 §4.1.2 | of concurrent redemptions of one code, exactly one succeeds, on every storage backend | `authgate-sql/tests/conformance.rs`: `hundred_concurrent_code_redemptions_issue_exactly_one_token`; `authgate-sql/tests/conformance.rs`: `code_round_trip_and_single_consumption` |
//! | RFC 9700 §4.5 | a grant hook cannot take tokens out of their family (where a replay could not revoke them) nor widen the scope | `authgate/tests/extensions.rs`: `hooks_can_neither_widen_the_scope_nor_leave_the_family_rfc9700_4_5` |
//! | OAuth 2.0 Form Post Response Mode | `response_mode=form_post` only with a form-post page; the page is never cached, framed or sent with a referrer | `authgate/tests/extensions.rs`: `form_post_is_offered_only_with_a_page_and_the_page_is_never_cached_or_framed` |
//! | RFC 7517 §5 | the JWKS endpoint publishes the key set (next, active and retired keys) with public members only; metadata names it as `jwks_uri` | `authgate/tests/keys.rs`: `jwks_holds_public_members_only_rfc7517_and_rfc7518_6`; `authgate/tests/keys.rs`: `the_jwks_endpoint_publishes_the_key_set_and_metadata_names_it`; `authgate-server/tests/e2e.rs`: `jwks_publishes_public_signing_keys_named_by_both_metadata_documents_rfc7517_5` |
//! | OpenID Connect Core §10.1.1 | keys are published ahead of signing, switch, retire and leave on schedule; a retired key verifies until it leaves | `authgate/tests/keys.rs`: `keys_are_published_ahead_switch_retire_and_disappear_on_schedule_rfc7517`; `authgate/tests/keys.rs`: `a_scheduled_rotation_publishes_the_successor_before_it_signs`; `authgate/tests/keys.rs`: `nothing_is_signed_that_would_outlive_its_key` |
//! | OpenID Connect Core §10.1.1 | several servers on one store agree on their keys, on every backend | `authgate-sql/tests/conformance.rs`: `key_sets_sharing_the_store_agree_through_a_rotation`; `authgate-sql/tests/conformance.rs`: `fifty_concurrent_additions_of_one_key_generation_keep_exactly_one`; `authgate-sql/tests/deployments.rs`: `two_servers_on_one_postgres_agree_on_their_signing_keys` |
//! | RFC 8725 §3.1 | verification pins the algorithm per key: `none`, HMAC keyed with a public key, another key's algorithm or an unknown `kid` are refused | `authgate/tests/keys.rs`: `verification_pins_the_algorithm_of_the_key_rfc8725_3_1` |
//! | RFC 6749 §4.1.3 | a code is bound to its client | `authgate-axum/tests/http_flows.rs`: `code_is_bound_to_its_client_rfc6749_4_1_3` |
//! | RFC 6749 §4.1.3 | a `redirect_uri` sent at authorization must be repeated, identically, at the token endpoint | `authgate-axum/tests/http_flows.rs`: `redirect_uri_sent_at_authorization_is_required_at_token_endpoint_rfc6749_4_1_3`; `authgate-axum/tests/http_flows.rs`: `redirect_uri_at_token_endpoint_must_match_rfc6749_4_1_3` |
//! | RFC 6749 §4.1.2.1, RFC 9700 §4.11 | an unknown client or unregistered redirect URI is a 400, never a redirect | `authgate-axum/tests/http_flows.rs`: `unknown_client_id_is_400_and_never_redirected_rfc6749_4_1_2_1`; `authgate-axum/tests/http_flows.rs`: `unregistered_redirect_uri_is_400_and_never_redirected_rfc6749_4_1_2_1` |
//! | RFC 6749 §4.1.2.1, RFC 9207 §2 | once client and redirect URI are verified, errors are redirected with `state` and `iss` | `authgate-axum/tests/http_flows.rs`: `missing_response_type_is_redirected_invalid_request_with_state_and_iss_rfc6749_4_1_2_1`; `authgate-axum/tests/http_flows.rs`: `unsupported_response_type_is_redirected_with_state_and_iss_rfc6749_4_1_2_1`; `authgate-axum/tests/http_flows.rs`: `scope_beyond_the_client_is_redirected_invalid_scope_rfc6749_4_1_2_1`; `authgate-axum/tests/http_flows.rs`: `denied_consent_redirects_access_denied_with_state_and_iss_rfc9207_2` |
//! | RFC 6749 §4.2.2.1 | a response type the client may not use is `unauthorized_client` | `authgate-axum/tests/http_flows.rs`: `response_type_the_client_may_not_use_is_unauthorized_client_rfc6749_4_2_2_1` |
//! | RFC 6749 §4.2.2 | the implicit grant answers in the fragment, with `state` and `iss`, never with a refresh token | `authgate-axum/tests/http_flows.rs`: `implicit_grant_returns_token_in_fragment_without_refresh_token_rfc6749_4_2_2`; `authgate/tests/extensions.rs`: `implicit_grant_token_creation_is_customised_through_its_hook` |
//! | RFC 9700 §4.3.2 | `response_mode=query` is refused for a token response | `authgate-axum/tests/http_flows.rs`: `response_mode_query_with_token_response_is_rejected_rfc9700_4_3_2` |
//! | RFC 6749 §4.3 | the password grant issues tokens (a refresh token when enabled); a wrong password is `invalid_grant` | `authgate-axum/tests/http_flows.rs`: `password_grant_issues_access_and_refresh_tokens_rfc6749_4_3_3`; `authgate-axum/tests/interop_oauth2.rs`: `password_grant_with_client_secret_post_rfc6749_4_3`; `authgate-axum/tests/http_flows.rs`: `password_grant_with_wrong_password_is_invalid_grant_rfc6749_5_2` |
//! | RFC 6749 §4.4 | client credentials for confidential clients only, never with a refresh token | `authgate-axum/tests/interop_oauth2.rs`: `client_credentials_with_basic_auth_rfc6749_4_4`; `authgate-axum/tests/http_flows.rs`: `client_credentials_for_public_client_is_unauthorized_client_rfc6749_4_4`; `authgate-axum/tests/http_flows.rs`: `client_credentials_never_issues_a_refresh_token_rfc6749_4_4_3` |
//! | RFC 6749 §5.1 | `expires_in` follows the per-grant setting and the default; token responses and errors are not cacheable | `authgate-axum/tests/http_flows.rs`: `client_credentials_token_lives_the_configured_600_seconds_rfc6749_5_1`; `authgate-axum/tests/http_flows.rs`: `password_token_lives_the_default_3600_seconds_rfc6749_5_1`; `authgate-axum/tests/http_flows.rs`: `token_error_responses_are_not_cacheable_rfc6749_5_1` |
//! | RFC 6749 §5.2 | an unknown client or missing credentials is `invalid_client`; a failed Basic authentication is 401 with `WWW-Authenticate: Basic`, a failed body authentication 400 without | `client::authentication::tests::unknown_client_and_missing_credentials_are_invalid_client`; `client::authentication::tests::wrong_basic_secret_is_401_with_challenge_rfc6749_5_2`; `error::tests::token_endpoint_errors_are_400_and_basic_failures_401_rfc6749_5_2`; `authgate-axum/tests/http_flows.rs`: `wrong_basic_secret_is_401_invalid_client_with_basic_challenge_rfc6749_5_2`; `authgate-axum/tests/http_flows.rs`: `wrong_post_secret_is_400_invalid_client_without_challenge_rfc6749_5_2` |
//! | RFC 6749 §5.2 | an unknown grant type is `unsupported_grant_type`; one the client may not use is `unauthorized_client` | `authgate-axum/tests/http_flows.rs`: `unsupported_grant_type_is_rejected_rfc6749_5_2`; `authgate-axum/tests/http_flows.rs`: `grant_type_not_allowed_for_client_is_unauthorized_client_rfc6749_5_2` |
//! | RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1 | every registered error code has its wire string; error bodies carry `error_description`, `error_uri` and `state` | `error::tests::every_code_has_its_rfc_string`; `error::tests::json_body_carries_error_description_uri_and_state` |
//! | RFC 6749 §6 | a refresh may narrow the scope but not widen it | `authgate-axum/tests/http_flows.rs`: `refresh_may_narrow_the_scope_rfc6749_6`; `authgate-axum/tests/http_flows.rs`: `refresh_may_not_widen_the_scope_rfc6749_6`; `authgate-axum/tests/interop_oauth2.rs`: `refresh_narrows_scope_for_confidential_client_rfc6749_6` |
//! | RFC 6749 §6 | a refresh token is bound to its client | `authgate-axum/tests/http_flows.rs`: `refresh_token_of_another_client_is_invalid_grant_rfc6749_6` |
//! | RFC 7636 §4.1, §4.2 | `code_verifier` and `code_challenge` are 43 to 128 unreserved characters; an S256 challenge is 43 | `pkce::tests::verifier_syntax_is_checked_rfc7636_4_1`; `pkce::tests::challenge_syntax_is_checked_rfc7636_4_2` |
//! | RFC 7636 §4.4.1 | an unknown `code_challenge_method` is `invalid_request` | `authgate-axum/tests/http_flows.rs`: `unknown_code_challenge_method_is_invalid_request_rfc7636_4_4_1` |
//! | RFC 7636 §4.5 | a code bound to a challenge needs a verifier | `authgate-axum/tests/http_flows.rs`: `missing_code_verifier_when_challenge_bound_is_rejected_rfc7636_4_5` |
//! | RFC 7636 §4.6 | an S256 verifier matches its challenge; a wrong one is `invalid_grant`; `plain` compares verbatim | `pkce::tests::s256_verifier_matches_its_challenge_rfc7636_4_6`; `authgate/tests/grammar_props.rs`: `s256_challenge_of_a_verifier_verifies_and_others_do_not_rfc7636_4_6`; `pkce::tests::wrong_verifier_is_invalid_grant_rfc7636_4_6`; `authgate-axum/tests/http_flows.rs`: `wrong_code_verifier_is_invalid_grant_rfc7636_4_6`; `authgate-axum/tests/interop_oauth2.rs`: `wrong_pkce_verifier_is_invalid_grant_rfc7636_4_6`; `pkce::tests::plain_compares_verbatim` |
//! | RFC 9700 §2.1.1 | PKCE is required of public clients; `plain` is refused by default | `authgate-axum/tests/http_flows.rs`: `public_client_without_code_challenge_is_invalid_request_rfc9700_2_1_1`; `authgate-axum/tests/http_flows.rs`: `plain_code_challenge_method_is_rejected_by_default_rfc9700_2_1_1` |
//! | RFC 9700 §2.1.1, §4.8 | a verifier for a code issued without a challenge is refused (no downgrade) | `authgate-axum/tests/http_flows.rs`: `code_verifier_for_code_issued_without_challenge_is_rejected_rfc9700_2_1_1` |
//! | RFC 9700 §4.1.3 | redirect URIs match by exact string: no prefix, case folding, default port, path tricks or user-info | `redirect_uri::tests::exact_match_only_rfc9700_4_1_3`; `authgate/tests/grammar_props.rs`: `non_loopback_redirect_uri_matches_only_itself_rfc9700_4_1_3` |
//! | RFC 8252 §7.3 | a loopback IP literal redirect URI matches on any port | `redirect_uri::tests::loopback_ip_port_may_vary_rfc8252_7_3`; `authgate/tests/grammar_props.rs`: `loopback_redirect_uri_matches_on_any_port_but_nothing_else_rfc8252_7_3`; `authgate-axum/tests/interop_oauth2.rs`: `code_flow_for_public_client_on_loopback_port_rfc8252_7_3` |
//! | RFC 8252 §7.3, §8.3 | the loopback exception keeps path, query and host strict, and excludes `localhost` | `redirect_uri::tests::loopback_keeps_path_query_and_host_strict` |
//! | RFC 9700 §4.14.2 | public clients' refresh tokens rotate, and reuse of a rotated one revokes the family; confidential clients' do not rotate by default | `authgate-axum/tests/http_flows.rs`: `public_client_refresh_token_rotates_rfc9700_4_14_2`; `authgate-axum/tests/http_flows.rs`: `reused_rotated_refresh_token_revokes_the_family_rfc9700_4_14_2`; `authgate-axum/tests/interop_oauth2.rs`: `public_client_refresh_rotates_and_reuse_is_invalid_grant_rfc9700_4_14_2`; `authgate-axum/tests/http_flows.rs`: `confidential_client_refresh_token_is_not_rotated` |
//! | RFC 9700 §4.14.2 | rotation is atomic: of concurrent rotations exactly one succeeds, and rotated, revoked or access tokens cannot be rotated, on every storage backend | `authgate-sql/tests/conformance.rs`: `hundred_concurrent_rotations_of_one_refresh_token_let_exactly_one_succeed`; `authgate-sql/tests/conformance.rs`: `rotation_is_refused_for_rotated_revoked_and_access_tokens` |
//! | RFC 7009 §2.1 | a revoked access token is refused by the resource server | `authgate-axum/tests/http_flows.rs`: `revoked_access_token_is_refused_rfc7009_2_1`; `authgate-axum/tests/interop_oauth2.rs`: `revoking_access_token_makes_it_401_rfc7009_2` |
//! | RFC 7009 §2.1 | revoking a refresh token revokes every token of its grant | `authgate-axum/tests/http_flows.rs`: `revoking_a_refresh_token_revokes_the_grants_access_tokens_rfc7009_2_1`; `authgate-axum/tests/interop_oauth2.rs`: `revoking_refresh_token_revokes_the_grant_for_public_client_rfc7009_2_1`; `authgate-sql/tests/conformance.rs`: `revoke_family_revokes_every_member_and_nothing_else`; `authgate-sql/tests/conformance.rs`: `revoke_token_touches_only_that_token` |
//! | RFC 7009 §2.1 | a public client revokes with its `client_id`; a request without `token` is `invalid_request` | `authgate-axum/tests/http_flows.rs`: `public_client_revokes_its_own_token_with_client_id_only_rfc7009_2_1`; `authgate-axum/tests/http_flows.rs`: `revocation_without_token_is_invalid_request_rfc7009_2_1` |
//! | RFC 7009 §2.2 | an unknown token, or another client's, answers 200 and changes nothing | `authgate-axum/tests/http_flows.rs`: `revoking_an_unknown_token_answers_200_rfc7009_2_2`; `authgate-axum/tests/http_flows.rs`: `revoking_another_clients_token_answers_200_and_changes_nothing_rfc7009_2_1`; `authgate-axum/tests/interop_oauth2.rs`: `revoking_another_clients_token_is_200_and_changes_nothing_rfc7009_2_2` |
//! | RFC 7662 §2.2 | an active token lists its claims; a revoked, expired or unknown one is only `{"active": false}` | `authgate-axum/tests/http_flows.rs`: `introspection_of_an_active_token_lists_its_claims_rfc7662_2_2`; `authgate-axum/tests/http_flows.rs`: `introspection_of_a_revoked_token_is_only_inactive_rfc7662_2_2`; `authgate-axum/tests/http_flows.rs`: `introspection_of_an_expired_token_is_only_inactive_rfc7662_2_2`; `authgate-axum/tests/http_flows.rs`: `introspection_of_an_unknown_token_is_only_inactive_rfc7662_2_2` |
//! | RFC 7662 §4 | only authorized callers introspect: not public clients by default; the policy is replaceable | `authgate-axum/tests/http_flows.rs`: `public_client_may_not_introspect_rfc7662_4`; `authgate-axum/tests/http_flows.rs`: `custom_introspection_policy_decides_who_may_introspect_rfc7662_4` |
//! | RFC 6750 §2.3, RFC 9700 §4.3.2 | a token in the query string is ignored by default | `authgate-axum/tests/http_flows.rs`: `token_in_query_string_is_ignored_by_default_rfc6750_2_3` |
//! | RFC 6750 §3.1 | no token: 401 with a bare challenge; a bad or expired token: 401 `invalid_token`; too little scope: 403 `insufficient_scope` naming the scope | `authgate-axum/tests/http_flows.rs`: `missing_token_is_401_with_a_bare_bearer_challenge_rfc6750_3_1`; `authgate-axum/tests/http_flows.rs`: `garbage_token_is_401_invalid_token_rfc6750_3_1`; `authgate-axum/tests/http_flows.rs`: `expired_token_is_401_invalid_token_rfc6750_3_1`; `authgate-axum/tests/http_flows.rs`: `insufficient_scope_is_403_naming_the_required_scope_rfc6750_3_1` |
//! | — | any-of scope requirements, and optional protection | `authgate-axum/tests/http_flows.rs`: `any_of_route_accepts_a_token_with_one_of_the_scopes`; `authgate-axum/tests/http_flows.rs`: `optional_route_works_with_and_without_a_token` |
//! | RFC 8414 §2 | the metadata lists the issuer, endpoints, grant types (custom ones too) and PKCE methods | `authgate-axum/tests/http_flows.rs`: `metadata_lists_issuer_endpoints_grants_and_pkce_rfc8414_2`; `authgate/tests/extensions.rs`: `custom_urn_grant_is_registered_used_and_advertised` |
//! | RFC 6819 §5.1.4.1.3 | tokens carry their storage key; only the verifier's hash is kept; a changed verifier no longer matches; any string is parsed or refused without panic | `token::tests::generated_token_parses_back_to_its_key`; `token::tests::tampered_verifier_changes_the_hash`; `token::tests::malformed_tokens_do_not_parse`; `authgate/tests/grammar_props.rs`: `any_string_parses_as_a_token_or_is_refused_without_panic` |
//! | — | selectors are time-ordered, so stores append to their index | `token::tests::selectors_are_time_ordered` |
//! | — | a body over the cap is 413 `invalid_request` | `request::tests::body_over_the_cap_is_413`; `authgate-axum/tests/http_flows.rs`: `token_request_body_over_64_kib_is_413_json_error` |
//! | — | a storage outage answers 503 `temporarily_unavailable`, and the server recovers when the database returns | `error::tests::storage_outage_maps_to_503_temporarily_unavailable`; `authgate-sql/tests/deployments.rs`: `database_outage_answers_503_json_and_recovers_by_itself_postgres` |
//! | — | refresh tokens are off by default; `AUTHGATE_REFRESH_TOKEN_GENERATOR` and `AUTHGATE_EXPIRES_<GRANT_TYPE>` configure the server, and a bad value is reported by name | `config::tests::refresh_tokens_are_off_by_default`; `authgate/tests/extensions.rs`: `refresh_tokens_follow_config_and_environment`; `config::tests::env_vars_set_refresh_tokens_and_per_grant_expiry`; `config::tests::bad_env_value_is_reported_with_its_name` |
//! | — | the `expires_in` policy and the token generator are replaceable, and the resource protector uses the generator | `authgate/tests/extensions.rs`: `expires_in_generator_is_replaceable`; `authgate/tests/extensions.rs`: `token_generator_is_replaceable_and_used_by_the_protector` |
//! | — | storage backends keep clients, codes, tokens and users alike, and purge only expired rows | `authgate-sql/tests/conformance.rs`: `client_round_trip`; `authgate-sql/tests/conformance.rs`: `token_round_trip`; `authgate-sql/tests/conformance.rs`: `users_authenticate_with_their_password_only`; `authgate-sql/tests/conformance.rs`: `purge_removes_expired_rows_only` |
//! | — | SQL deployments: tokens survive a restart, expired rows are purged in the background, several servers share one PostgreSQL database (codes and revocations included), concurrent migrations are safe | `authgate-sql/tests/deployments.rs`: `tokens_issued_before_a_restart_still_validate_after_it_sqlite_file`; `authgate-sql/tests/deployments.rs`: `purger_deletes_expired_tokens_in_the_background_sqlite`; `authgate-sql/tests/deployments.rs`: `two_servers_on_one_postgres_share_codes_and_revocations`; `authgate-sql/tests/deployments.rs`: `two_processes_migrating_at_once_both_start_postgres` |
//!
//! OpenID Connect (Core 1.0, Discovery 1.0, Multiple Response Types, Form Post Response
//! Mode, RP-Initiated Logout 1.0, Back-Channel Logout 1.0):
//!
//! | Section | Behaviour | Test |
//! | --- | --- | --- |
//! | Core §2, §3.1.3.3, §3.1.3.7 | with `openid` granted, the token endpoint answers an ID token: iss, sub, aud, exp, iat, auth_time, nonce as sent, acr/amr, sid; verifiable with the published keys, also by independent relying parties | `authgate/tests/openid.rs`: `the_code_flow_answers_an_id_token_with_the_required_claims_oidc_core_3_1_3_3`; `authgate-server/tests/openid.rs`: `code_flow_answers_an_id_token_verified_with_the_published_keys_oidc_core_3_1_3_7`; `authgate-server/tests/interop_openidconnect.rs`: `openidconnect_signs_in_verifies_reads_userinfo_refreshes_and_logs_out`; `authgate-axum/tests/interop_openidconnect.rs`: `the_example_app_is_an_openid_provider_to_the_openidconnect_crate`; `authgate-server/tests/interop_python.rs`: `authlib_completes_the_code_flow_and_verifies_the_id_token` |
//! | Core §3.1.2.1 | without `openid`, no ID token | `authgate/tests/openid.rs`: `no_openid_scope_no_id_token` |
//! | Registration §2 | each client's `id_token_signed_response_alg` (RS256 when unset; ES256, EdDSA) | `authgate/tests/openid.rs`: `each_client_gets_its_registered_algorithm_oidc_registration_2`; `authgate-server/tests/openid.rs`: `each_client_gets_its_signing_algorithm_and_pairwise_clients_their_own_sub_oidc_core_8` |
//! | Core §3.1.3.6, §3.3.2.11 | `at_hash` and `c_hash` are the left half of the algorithm's hash | `oidc::tests::at_hash_is_the_left_half_of_the_algorithms_hash_oidc_core_3_1_3_6`; `authgate-server/tests/openid.rs`: `implicit_and_hybrid_responses_carry_their_hashes_oidc_core_3_2_and_3_3` |
//! | Core §12.2 | a refresh answers a new ID token with the same sub and auth_time and no nonce | `authgate/tests/openid.rs`: `a_refresh_answers_a_new_id_token_with_the_same_sub_and_auth_time_and_no_nonce_oidc_core_12_2`; `authgate-server/tests/openid.rs`: `refresh_answers_a_new_id_token_with_the_same_sub_and_auth_time_oidc_core_12_2` |
//! | Core §3.2, §3.3; Multiple Response Types §3 | `id_token`, `id_token token` and the hybrid types, in the fragment; the scope's claims in the ID token only when no access token results (§5.4) | `authgate/tests/openid.rs`: `implicit_id_token_carries_the_scope_claims_and_id_token_token_carries_at_hash_oidc_core_3_2_2_10`; `authgate/tests/openid.rs`: `hybrid_responses_carry_c_hash_and_their_code_redeems_for_an_id_token_with_the_nonce_oidc_core_3_3` |
//! | Core §3.2.2.1 | `nonce` is required for implicit and hybrid; `id_token` needs `openid`; errors go to the fragment with `iss` | `authgate/tests/openid.rs`: `implicit_and_hybrid_need_a_nonce_and_id_token_needs_openid_oidc_core_3_2_2_1` |
//! | Core §3.1.2.1, §3.1.2.6 | `prompt=none` alone; `request`, `request_uri` and `registration` answered with their error codes; a malformed `prompt`, `max_age`, `claims` is `invalid_request` | `authgate/tests/openid.rs`: `authentication_request_rules_oidc_core_3_1_2_1_and_3_1_2_6` |
//! | Core §3.1.2.1 | `prompt=login`, `select_account` and `max_age` ask for a fresh sign-in (`max_age=0` always); `login_hint` fills in the login form | `authgate/tests/openid.rs`: `prompt_and_max_age_tell_the_application_when_to_ask_oidc_core_3_1_2_1`; `authgate-server/tests/openid.rs`: `prompt_login_and_max_age_ask_for_a_fresh_sign_in_oidc_core_3_1_2_1`; `authgate-server/tests/openid.rs`: `login_hint_fills_in_the_username_oidc_core_3_1_2_1` |
//! | Core §3.1.2.6 | `prompt=none` answers `login_required` (no session, or `id_token_hint` names another user) or `consent_required`, at the redirect URI with `state` and `iss` | `authgate-server/tests/openid.rs`: `prompt_none_without_a_session_is_login_required_at_the_redirect_uri_oidc_core_3_1_2_6`; `authgate-server/tests/openid.rs`: `remembered_consent_skips_the_page_and_lets_prompt_none_succeed_oidc_core_3_1_2_1` |
//! | Core §3.1.2.1 | `id_token_hint` must be an ID token this server issued to the client (expired ones accepted; a logout token or other JWT of the same keys is refused) | `authgate/tests/openid.rs`: `an_id_token_hint_is_verified_and_names_the_user_it_was_issued_for` |
//! | Core §3.1.2.4; RFC 8252 §8.6 | remembered consent: a subset of what was approved needs no page; `prompt=consent` asks anyway; a public client on a loopback or custom-scheme redirect URI is asked every time; `skip_consent` clients never ask; revoking an approval revokes that client's tokens and codes for the user | `authgate/tests/openid.rs`: `remembered_consent_skips_asking_for_a_subset_and_prompt_consent_asks_anyway_oidc_core_3_1_2_4`; `authgate/tests/openid.rs`: `revoking_consent_revokes_that_clients_tokens_for_that_user`; `authgate-server/tests/openid.rs`: `revoking_an_approval_revokes_the_clients_tokens`; `authgate-server/tests/openid.rs`: `a_first_party_client_skips_consent_and_its_default_max_age_applies`; `authgate-sql/tests/conformance.rs`: `consents_round_trip_and_revocation_takes_that_clients_tokens_for_that_user` |
//! | Core §5.3, §5.5; RFC 6750 §3.1 | UserInfo by GET and POST answers the granted scope's claims, `sub` as in the ID token; the `claims` request steers claims of the granted scope to the ID token or UserInfo and releases nothing beyond it (consent is per scope); `invalid_token` 401, `insufficient_scope` 403 without `openid`; CORS-readable | `authgate/tests/openid.rs`: `userinfo_answers_the_scope_claims_and_the_claims_request_oidc_core_5_3_and_5_5`; `authgate-server/tests/openid.rs`: `userinfo_answers_the_granted_claims_by_get_and_post_with_cors_oidc_core_5_3` |
//! | Core §5.4, §5.5 | scopes release their claims; a `claims` request that is not an object requests nothing | `oidc::claims::tests::scopes_release_their_claims_oidc_core_5_4`; `oidc::claims::tests::a_claims_request_that_is_not_an_object_requests_nothing_oidc_core_5_5` |
//! | Core §5.3.2 | a client with `userinfo_signed_response_alg` gets `application/jwt` with iss and aud | `authgate/tests/openid.rs`: `a_pairwise_client_sees_its_own_sub_everywhere_and_may_get_signed_userinfo_oidc_core_8_and_5_3_2` |
//! | Core §8, §8.1 | pairwise subjects differ per sector and stay stable; the same in ID token and UserInfo | `oidc::subject::tests::pairwise_subjects_differ_per_sector_and_stay_stable_oidc_core_8_1`; `authgate-server/tests/openid.rs`: `each_client_gets_its_signing_algorithm_and_pairwise_clients_their_own_sub_oidc_core_8` |
//! | Form Post Response Mode §2 | the form page posts the parameters to the redirect URI: a button without scripts, auto-submission under a CSP that allows only its script's hash; a browser delivers it | `response::form_post_tests::the_page_escapes_values_posts_to_the_redirect_uri_and_allows_only_its_own_script`; `authgate-server/tests/openid.rs`: `form_post_answers_a_page_that_posts_to_the_redirect_uri_form_post_response_mode_2`; `authgate-server/tests/browser.rs`: `browser_openid_login_hint_remembered_consent_form_post_and_rp_initiated_logout` |
//! | Discovery §3 | the document lists every required field and each supported optional one, exactly as served | `authgate/tests/openid.rs`: `discovery_lists_what_openid_connect_serves_discovery_3`; `authgate-server/tests/e2e.rs`: `metadata_documents_agree_and_list_exactly_what_is_supported_rfc8414_3_2` |
//! | RP-Initiated Logout §2, §3.1 | `id_token_hint` (expired accepted), `client_id` matching its audience, `post_logout_redirect_uri` exactly registered or refused (never redirected), `state` returned; a request not tied to the session is confirmed by the user | `authgate/tests/openid.rs`: `end_session_requests_are_validated_rp_initiated_logout_2_and_3_1`; `authgate-server/tests/openid.rs`: `rp_initiated_logout_ends_the_session_and_returns_to_the_registered_uri_rp_initiated_logout_2`; `authgate-server/tests/openid.rs`: `an_unregistered_post_logout_redirect_uri_is_never_followed_rp_initiated_logout_3_1` |
//! | Back-Channel Logout §2.4, §2.5 | ending a session makes a signed logout token (events, sid, sub, jti, no nonce) for each of its clients with a `backchannel_logout_uri`, delivered by POST with retries | `authgate/tests/openid.rs`: `a_logout_token_names_the_user_and_session_and_has_no_nonce_backchannel_logout_2_4`; `authgate/tests/openid.rs`: `logout_ends_the_session_and_has_a_logout_token_for_each_client_with_a_backchannel_uri_backchannel_logout_2_5`; `authgate-server/tests/openid.rs`: `back_channel_logout_and_ended_sessions_sqlite`; `authgate-server/tests/openid.rs`: `back_channel_logout_and_ended_sessions_postgres` |
//! | — | sessions are kept on the server: they collect their clients, end exactly once, all at once for a user; a new password ends them and the CLI tells their clients | `authgate-sql/tests/conformance.rs`: `sessions_round_trip_collect_clients_and_end_once`; `authgate-server/tests/openid.rs`: `back_channel_logout_and_ended_sessions_sqlite` |
//! | Core §3.1.2.1; RP-Initiated Logout §2 | authentication and logout requests sent by POST are taken (answered with a 303 to the same request by GET, which carries the session cookie) | `authgate-server/tests/openid.rs`: `requests_sent_by_post_are_taken_oidc_core_3_1_2_1_and_rp_initiated_logout_2` |
//! | SECURITY.md #27 | back-channel logout reaches public addresses only (a host resolving to loopback, private or link-local is refused; the checked address is the one connected to) | `backchannel::tests::only_public_addresses_are_reached` and `backchannel::tests::a_loopback_receiver_is_never_contacted` (in `authgate-server`) |
//!
//! Device authorization grant (RFC 8628):
//!
//! | Section | Behaviour | Test |
//! | --- | --- | --- |
//! | RFC 8628 §3.1, §3.2 | the device authorization endpoint authenticates confidential clients (public ones by `client_id`), refuses a client not registered for the grant (`unauthorized_client`), an unknown one (`invalid_client`) and a scope beyond the client's (`invalid_scope`); answers `device_code`, `user_code`, `verification_uri`, `verification_uri_complete`, `expires_in`, `interval`, `no-store` | `authgate/tests/device.rs`: `rfc8628_3_2_answers_codes_uris_lifetime_and_interval`; `authgate/tests/device.rs`: `rfc8628_3_1_client_authentication_and_errors`; `authgate-server/tests/device.rs`: `device_authorization_errors_and_discovery` (both backends) |
//! | RFC 8628 §3.5 | polling: `authorization_pending`; `slow_down` when sooner than the interval, which grows by 5 s; `access_denied` after a denial; `expired_token` after expiry; all 400 | `authgate/tests/device.rs`: `rfc8628_3_5_pending_then_slow_down_then_tokens_once_for_the_approving_user`; `authgate/tests/device.rs`: `rfc8628_3_5_access_denied_after_the_user_refuses`; `authgate/tests/device.rs`: `rfc8628_3_5_expired_token_after_expiry`; `authgate-server/tests/device.rs`: `a_denied_request_answers_access_denied_and_a_decision_is_final` |
//! | RFC 8628 §3.4, §3.5 | tokens once, to the client that asked, for the approving user; another client's, an unknown or a spent code is `invalid_grant`; 100 concurrent polls of an approved code issue one set of tokens on every store | `authgate/tests/device.rs`: `rfc8628_3_4_codes_bound_to_their_client_unknown_and_missing_codes`; `authgate-sql/tests/conformance.rs`: `hundred_concurrent_polls_of_an_approved_device_code_issue_one_token`; `authgate-sql/tests/conformance.rs`: `device_codes_move_forward_once_each_step` |
//! | RFC 8628 §3.3, §6.1 | user codes: eight letters of the consonant alphabet shown `XXXX-XXXX`, typed in any case with or without the dash; the verification page needs a session, shows the code and the client, posts `user_code` and `confirm=yes|no` with its CSRF field; a stock polling client (`oauth2`) gets the user's tokens | `authgate/tests/device.rs`: `rfc8628_6_1_user_codes_are_typed_in_any_case_with_or_without_the_dash`; `authgate-server/tests/device.rs`: `stock_client_polls_while_the_user_approves_on_the_page`; `authgate-server/tests/device.rs`: `the_page_needs_a_session_and_its_csrf_field`; `authgate-server/tests/browser.rs`: `browser_approves_a_device_on_the_verification_page` |
//! | RFC 8628 §5.1 | wrong user codes get one message whatever the reason and are limited per session and per address (429) | `authgate-server/tests/device.rs`: `wrong_codes_say_nothing_and_are_limited_per_session` |
//! | RFC 8628 §4 | the metadata lists `device_authorization_endpoint` and the grant type | `authgate/tests/device.rs`: `rfc8628_4_metadata_lists_the_endpoint_and_the_grant_type`; `authgate-server/tests/e2e.rs`: `metadata_documents_agree_and_list_exactly_what_is_supported_rfc8414_3_2` |
//!
//! Dynamic client registration (RFC 7591, RFC 7592, OpenID Connect Dynamic Registration 1.0)
//! and Client ID Metadata Documents:
//!
//! | Section | Behaviour | Test |
//! | --- | --- | --- |
//! | RFC 7591 §3.1, §3.2.1 | `201` with the registered metadata, a server-chosen `client_id` (one sent is ignored), a 256-bit `client_secret` for confidential methods (kept hashed), `client_id_issued_at`, `client_secret_expires_at` 0, `registration_access_token` (kept hashed), `registration_client_uri`, `no-store`; unknown members are not echoed; a registered client runs the code flow, client credentials and refresh | `authgate/tests/registration.rs`: `rfc7591_3_2_1_registration_answers_the_client_and_its_credentials`; `authgate/tests/registration.rs`: `a_registered_client_runs_the_code_flow_and_refreshes`; `authgate-server/tests/registration.rs`: `a_registered_client_runs_the_code_flow_client_credentials_and_refresh` (both backends) |
//! | RFC 7591 §2, §3.2.2 | every member is type-checked; a non-JSON body, malformed JSON, a non-object, wrong types, an unsupported auth method, `jwks` with `jwks_uri`, non-https URLs, inconsistent grant and response types (§2.1), grants the server or the policy does not offer, a public `client_credentials` client are `invalid_client_metadata`; an oversized body is 413 JSON; never a 5xx | `authgate/tests/registration.rs`: `rfc7591_3_2_2_bad_documents_are_invalid_client_metadata_never_5xx`; `authgate-server/tests/registration.rs`: `bad_documents_get_json_errors_never_a_5xx` (both backends) |
//! | RFC 7591 §2; RFC 8252 §7; RFC 9700 §2.1 | redirect URIs: absolute, no fragment, no credentials; https, loopback http, or a reverse-domain private-use scheme for public clients; required for the code and implicit grants; else `invalid_redirect_uri`; public clients must use PKCE | `authgate/tests/registration.rs`: `rfc7591_2_redirect_uris_absolute_no_fragment_https_or_loopback` |
//! | RFC 7591 §3 (RFC 6750 §3) | with an initial access token required, none or a wrong one is 401 `invalid_token` with a `WWW-Authenticate: Bearer` challenge; tokens from the config and from `authgate registration token create` work, a revoked one does not; a per-address limit answers 429 with `Retry-After` | `authgate/tests/registration.rs`: `rfc7591_3_an_initial_access_token_when_the_policy_asks_for_one`; `authgate-server/tests/registration.rs`: `initial_access_tokens_sqlite`; `authgate-server/tests/registration.rs`: `initial_access_tokens_postgres` |
//! | RFC 7591 §2 (policy) | the policy narrows the scope (to its own, or `scopes_supported`, or nothing — never anything) and limits the grant types, also for a policy that overrides only `admit`; `skip_consent` is never taken from a registration; once an initial access token was made, revoking the last does not open registration | `authgate/tests/registration.rs`: `the_policy_narrows_scope_and_opens_grants`; `authgate/tests/registration.rs`: `without_a_ceiling_self_registered_clients_get_no_scope_and_an_admit_only_policy_keeps_the_default_rules`; `authgate/tests/registration.rs`: `rfc7591_3_2_1_registration_answers_the_client_and_its_credentials`; `authgate-server/tests/registration.rs`: `revoking_the_last_cli_token_does_not_open_registration` |
//! | RFC 9700 §4.11.2 | the server never redirects a browser to a self-registered client's URI without the user: its errors before consent (`prompt=none`, a bad scope or response type) are shown as a page | `authgate-server/tests/registration.rs`: `a_self_registered_clients_errors_are_shown_not_redirected` |
//! | OpenID Connect Core §8.1 | a self-registered pairwise client without a checked `sector_identifier_uri` is a sector of its own (its redirect URIs could name another party's host) | `authgate/tests/registration.rs`: `a_self_registered_pairwise_client_is_a_sector_of_its_own` |
//! | RFC 7591 §2.3 | a software statement verified with trusted keys takes precedence over the request, in updates too; one that does not verify is `invalid_software_statement`; without trusted keys, `unapproved_software_statement` | `authgate/tests/registration.rs`: `rfc7591_2_3_a_software_statement_from_a_trusted_issuer_takes_precedence`; `authgate/tests/registration.rs`: `rfc7591_2_3_an_update_keeps_what_the_software_statement_asserted`; `authgate-server/tests/registration.rs`: `software_statements_signed_by_a_configured_key_are_trusted` |
//! | RFC 7592 §2.1–§2.3, §3 | read, full-replacement update (client_id required and immutable; the token, URI and timestamps refused; a sent secret must match; checked as a registration) and delete with the registration access token; none, a wrong one or another client's is 401 `invalid_token`; after delete the client, its tokens and its registration token fail | `authgate/tests/registration.rs`: `rfc7592_read_update_delete_round_trip_and_the_deleted_clients_tokens_fail`; `authgate-server/tests/registration.rs`: `rfc7592_read_update_delete_and_the_deleted_clients_tokens_fail` (both backends); `authgate-sql/tests/conformance.rs`: `client_registry_creates_once_updates_and_deletes_what_the_client_held` |
//! | OpenID Connect Dynamic Registration §2 | `id_token_signed_response_alg` and `userinfo_signed_response_alg` among the server's algorithms, `subject_type` public or pairwise, `post_logout_redirect_uris`, `default_max_age`, `require_auth_time` checked | `authgate/tests/registration.rs`: `openid_connect_dynamic_registration_members` |
//! | OpenID Connect Dynamic Registration §5 | `sector_identifier_uri` is fetched (https, as metadata documents are) and must list every redirect URI; the client's pairwise subjects are then the sector's; such a client may not use the device grant; without a fetcher it is refused | `authgate/tests/registration.rs`: `openid_registration_5_a_sector_identifier_uri_is_fetched_and_must_list_the_redirect_uris`; `authgate-server/tests/registration.rs`: `a_sector_identifier_uri_is_fetched_and_checked` |
//! | RFC 8414 §2 | `registration_endpoint` is advertised only when the endpoint is registered | `authgate/tests/registration.rs`: `the_endpoints_need_a_registry_and_are_advertised_only_when_registered`; `authgate-server/tests/registration.rs`: `registration_is_off_unless_enabled_and_open_registration_is_logged` |
//! | RFC 9700 §4.15 | self-registered and metadata-document clients are marked unverified on the consent page; document clients show their publishing host | `authgate-server/tests/registration.rs`: `a_registered_client_runs_the_code_flow_client_credentials_and_refresh`; `authgate-server/tests/registration.rs`: `metadata_document_clients_sqlite` |
//! | Client ID Metadata Documents (draft) | an https `client_id` is fetched (public addresses only, no redirects, size and time limits), its `client_id` must be the URL, it is a public client of the code flow within the scope ceiling, cached per `Cache-Control` between 60 s and a day, at most 120 fetches a minute; `client_id_metadata_document_supported` advertised | `client::metadata_document::tests::which_client_ids_name_a_document`; `client::metadata_document::tests::a_document_is_checked_and_becomes_a_public_client`; `authgate/tests/registration.rs`: `client_id_metadata_documents_resolve_url_client_ids_with_a_bounded_cache`; `authgate-server/tests/registration.rs`: `metadata_document_clients_sqlite`; `authgate-server/tests/registration.rs`: `metadata_document_clients_postgres`; `documents::tests::private_addresses_are_never_fetched` (in `authgate-server`) |
//!
//! Resource indicators (RFC 8707), [`resource_indicators`](crate::resource_indicators):
//!
//! | Section | Behaviour | Test |
//! | --- | --- | --- |
//! | RFC 8707 §2 | each `resource` must be an absolute URI without a fragment naming a registered resource, else `invalid_target` (redirected at the authorization endpoint, 400 at the token endpoint); several are allowed unless the registry asks for one per token | `resource_indicators::tests::a_resource_must_be_an_absolute_uri_without_fragment_rfc8707_2`; `resource_indicators::tests::an_unknown_resource_is_invalid_target_rfc8707_2`; `resource_indicators::tests::several_resources_unless_one_per_token_is_required`; `authgate/tests/resource_indicators.rs`: `an_unknown_or_malformed_resource_is_redirected_invalid_target_rfc8707_2` |
//! | RFC 8707 §2.2 | the authorization request's resources are the ceiling of the token request; a token request naming none gets all of them; the refresh token keeps the whole ceiling and scope, so a refresh may name another of them and narrows only | `resource_indicators::tests::the_authorization_request_s_resources_are_the_ceiling_rfc8707_2_2`; `authgate/tests/resource_indicators.rs`: `the_authorization_request_s_resources_cap_the_token_request_rfc8707_2_2`; `authgate/tests/resource_indicators.rs`: `a_refresh_may_only_narrow_the_resources_rfc8707_2_2` |
//! | RFC 8707 §2.2; RFC 9700 §2.3 | the token's scope is cut to what its resources accept (the OpenID Connect scopes stay); nothing left is `invalid_scope`; a resource's own lifetime applies | `resource_indicators::tests::scope_is_cut_to_what_the_resources_accept_keeping_openid_scopes`; `authgate/tests/resource_indicators.rs`: `client_credentials_tokens_carry_the_audience_and_its_scope_rfc8707_2_2` |
//! | RFC 7662 §2.2 `aud` | introspection states the token's resources, or the default audience (the issuer, or the configured one) | `authgate/tests/resource_indicators.rs`: `a_configured_default_audience_is_what_introspection_states` |
//! | RFC 8707 §1 (audience restriction) | a protector refuses, with 401 `invalid_token`, a token aimed at another resource; the reference server's `/api/me` takes tokens for no resource or for itself | `authgate/tests/resource_indicators.rs`: `a_token_for_one_resource_is_refused_by_every_other_rfc8707_1`; `authgate-server/tests/e2e.rs`: `tokens_aimed_at_a_resource_are_refused_by_api_me_rfc8707_2` (both backends) |
//! | RFC 8693 §2.1, §2.2.1, §5 | [`TokenExchangeGrant`](crate::TokenExchangeGrant): a live access token of this server, or a JWT of a [`TrustedIssuer`](crate::TrustedIssuer) (its signature, `aud` this server, `exp`, `typ`; its user namespaced by issuer; its `scope` within the issuer's limit), as `subject_token` (its type, `access_token` or `jwt`, required), an optional `actor_token` of either kind; `resource`/`audience` each a registered resource; `scope` only narrows; `requested_token_type` the access token type only; `issued_token_type` in the answer; no refresh token; the new token joins the subject's grant family; an [`ExchangePolicy`](crate::grants::ExchangePolicy) decides, refusing everything by default | `authgate/tests/token_exchange.rs`: `nothing_is_exchanged_unless_the_policy_allows_it_rfc8693_5`; `authgate/tests/token_exchange.rs`: `an_exchanged_token_acts_for_the_user_at_the_next_service_rfc8693_2_2_1`; `authgate/tests/trusted_issuers.rs`: `a_trusted_issuer_s_jwt_is_exchanged_for_its_user_rfc8693_2_1`; `authgate/tests/trusted_issuers.rs`: `an_issuer_vouches_only_for_its_scope_in_both_grants` |
//! | RFC 8693 §4.1, §2.2.2 | delegation records the actor in `act`, nested along a chain (shown by introspection and in JWT access tokens); an invalid, expired, revoked or untrusted `subject_token` or `actor_token`, or one the policy refuses, is `invalid_request`, an unknown target `invalid_target` (§2.2.2), a scope beyond the subject's `invalid_scope` | `authgate/tests/token_exchange.rs`: `delegation_records_the_actor_nested_along_the_chain_rfc8693_4_1`; `authgate/tests/token_exchange.rs`: `bad_exchanges_get_the_errors_of_rfc8693_2_2_2`; `authgate/tests/trusted_issuers.rs`: `trusted_jwts_that_break_the_rules_are_invalid_request_rfc8693_2_2_2`; `authgate/tests/trusted_issuers.rs`: `a_trusted_actor_is_recorded_in_act_rfc8693_4_1` |
//! | RFC 7523 §2.1, §3 (the JWT bearer grant) | [`JwtBearerGrant`](crate::JwtBearerGrant): an assertion from a [`TrustedIssuer`](crate::TrustedIssuer) (fixed keys or `jwks_uri`; `typ`, if any, `JWT`), `sub` the user (namespaced by its issuer unless the issuer shares this server's users), the scope within the issuer's limit and the assertion's `scope` claim, resources checked before the `jti` is spent, `aud` this server, `exp` bounded, `jti` single-use per issuer; every failure `invalid_grant`; no refresh token; the reference server's `[[trusted_issuers]]` | `authgate/tests/jwt_bearer.rs`: `a_trusted_issuer_s_assertion_gets_a_token_for_its_user_rfc7523_2_1`; `authgate/tests/jwt_bearer.rs`: `assertions_that_break_rfc7523_3_are_invalid_grant`; `authgate/tests/jwt_bearer.rs`: `only_the_registered_key_under_its_kid_verifies_rfc8725_3_1`; `authgate-server/tests/jwt_bearer.rs`: `a_partner_s_assertion_is_traded_once_for_a_user_token_rfc7523_2_1` (both backends); `authgate-server/tests/bad_config.rs`: `trusted_issuers_need_public_keys` |
//! | RFC 7523 §2.2; OpenID Connect Core §9 | `private_key_jwt`: `client_assertion_type` jwt-bearer, signed by a key of the client's `jwks` or `jwks_uri` (cached; an unknown `kid` refetched at most once a minute); `client_secret_jwt`: HS256/384/512 keyed by the client's sealed secret (RFC 7518 §3.2 key lengths); both advertised with their algorithms at the token, introspection and revocation endpoints | `authgate/tests/client_assertions.rs`: `a_signed_assertion_authenticates_its_client_rfc7523_2_2`; `authgate/tests/client_assertions.rs`: `jwks_uri_keys_are_cached_and_refetched_for_an_unknown_kid_once_a_minute`; `authgate-server/tests/interop_python.rs`: `authlib_authenticates_with_private_key_jwt_once_per_assertion_rfc7523_2_2`; `authgate/tests/client_secret_jwt.rs`: `an_hmac_assertion_keyed_by_the_secret_authenticates_rfc7523_2_2_oidc_core_9`; `authgate-server/tests/interop_python.rs`: `authlib_authenticates_with_client_secret_jwt_once_per_assertion_rfc7523_2_2` |
//! | RFC 7523 §3; RFC 8725 §3.1 | `iss` = `sub` = the client, `aud` this server, `exp` required and bounded, `iat`/`nbf` not in the future, `jti` single-use; `none` and HMAC refused; the attack list of issue 11 (replay, wrong key, expired, too long, no `jti`, `iss` ≠ `sub`, another client's `sub`, `alg: none`, HS256 keyed with the public key, wrong assertion type, assertion plus Basic, a `private_key_jwt` client using a secret) | `authgate/tests/client_assertions.rs`: `the_attack_list_is_refused_rfc7523_3_rfc8725_3_1`; `authgate/tests/client_assertions.rs`: `a_replayed_jti_is_refused_until_the_assertion_expires_rfc7523_3`; `authgate/tests/client_secret_jwt.rs`: `the_attack_list_is_refused_rfc7523_3_rfc7518_3_2`; `authgate-server/tests/e2e.rs`: `private_key_jwt_assertions_authenticate_once_each_rfc7523_3` (both backends) |
//! | RFC 9068 §2.1, §2.2 | a token whose audience asks for JWTs (or any token, by the config) is a JWS with `typ: at+jwt`, ES256 by default, and `iss`, `exp`, `aud`, `sub` (the client without a user), `client_id`, `iat`, `jti`, `scope`, `auth_time`; refresh tokens stay opaque; verified from the test side with `jsonwebtoken` and, through the binary, by Python's Authlib acting as a resource | `authgate/tests/jwt_access_tokens.rs`: `a_token_for_a_jwt_resource_is_an_at_jwt_with_the_claims_of_rfc9068_2_2`; `authgate/tests/jwt_access_tokens.rs`: `a_user_s_jwt_carries_sub_and_auth_time_and_refresh_tokens_stay_opaque_rfc9068_2_2`; `authgate-server/tests/interop_python.rs`: `authlib_validates_a_jwt_access_token_as_a_resource_rfc9068_4` |
//! | RFC 9068 §5 (revocation) | the server files every JWT by `jti` under the hash of the whole token: a revoked one is `active: false` at introspection and refused by the server's protectors; a forged JWT naming a real `jti` matches nothing | `authgate/tests/jwt_access_tokens.rs`: `revoking_a_jwt_access_token_reaches_introspection_and_protectors_rfc9068_5`; `authgate/tests/jwt_access_tokens.rs`: `a_forged_jwt_naming_a_real_jti_matches_nothing`; `authgate-server/tests/e2e.rs`: `tokens_aimed_at_a_resource_are_refused_by_api_me_rfc8707_2` (both backends) |
//! | RFC 9068 §4 (resource side) | [`JwtValidator`](crate::resource::jwt::JwtValidator) behind a [`ResourceProtector`](crate::ResourceProtector): `typ` `at+jwt`, pinned asymmetric algorithms, `iss`, `aud` naming the resource, `exp`/`nbf`/`iat` with leeway; keys fixed or from the `jwks_uri`, refetched for an unknown `kid` at most once a minute; each refusal a 401 `invalid_token`; the example API service (`authgate-axum/examples/api_jwt.rs`) against the reference server over HTTP, through a key rotation | `authgate/tests/jwt_access_tokens.rs`: `a_resource_validates_jwt_access_tokens_locally_rfc9068_4`; `authgate/tests/jwt_access_tokens.rs`: `a_key_rotation_is_followed_through_the_jwks_uri_once_a_minute_rfc9068_4`; `authgate-server/tests/resource_server.rs`: `an_api_service_validates_the_reference_server_s_jwts_by_itself_rfc9068_4` |
//! | RFC 7662 §2, §4 (client side) | [`IntrospectionValidator`](crate::resource::introspection::IntrospectionValidator) behind a [`ResourceProtector`](crate::ResourceProtector): asks the server with HTTP Basic, takes an active answer with its `exp`, `scope`, `aud`; caches an active answer until `exp` and at most 60 s (configurable), an inactive one one second at most; an unreachable server or an odd answer is a 503, never a verdict; the example API service (`authgate-axum/examples/api_introspect.rs`) against the reference server over HTTP, through a revocation | `resource::introspection::tests::an_active_answer_is_cached_until_exp_or_the_maximum_rfc7662_2_2`; `resource::introspection::tests::an_inactive_answer_is_kept_one_second_at_most_rfc7662_4`; `resource::introspection::tests::odd_answers_are_an_outage_or_no_token_never_a_valid_one`; `authgate-server/tests/resource_server.rs`: `an_api_service_asks_the_server_about_opaque_tokens_rfc7662_2` |
//! | RFC 8628 with RFC 8707 | the device flow names resources when it polls; a device authorization request naming one is `invalid_target`, since the approval would not carry it | `authgate/tests/resource_indicators.rs`: `device_authorization_requests_name_resources_when_polling` |
//!
//! Protected resource metadata (RFC 9728; the first part of issue 11's resource-server
//! side: the document and the challenge; the JWT validator and the introspection client
//! come later):
//!
//! | Section | Behaviour | Test |
//! | --- | --- | --- |
//! | RFC 9728 §3.1 | the document's URL is the resource's with `/.well-known/oauth-protected-resource` inserted after the host ([`protected_resource::well_known_url`](crate::protected_resource::well_known_url)); no URL for a resource with a fragment | `protected_resource::tests::the_well_known_url_inserts_the_path_after_the_host_rfc9728_3_1` |
//! | RFC 9728 §2, §3.2 | the document holds `resource` and only the members that have values; extra members never override the defined ones | `protected_resource::tests::the_document_has_resource_and_only_the_members_that_have_values_rfc9728_3_2` |
//! | RFC 9728 §5.1 | [`ResourceProtector::resource_metadata`](crate::ResourceProtector::resource_metadata) adds `resource_metadata="…"` to every Bearer challenge, with or without an error code | `protected_resource::tests::a_challenge_points_at_the_metadata_rfc9728_5_1` |
//! | RFC 9728 §3.3, §5.1 | the reference server's `/api/me` answers 401 pointing at its document, whose `resource` is the URL it was derived from and whose authorization server's metadata names the same issuer; the document is open to any origin | `authgate-server/tests/e2e.rs`: `api_me_publishes_protected_resource_metadata_rfc9728` (both backends) |
//!
//! Configuration switches and less common request shapes, pinned in
//! `authgate/tests/options.rs`:
//!
//! | Section | Behaviour | Test |
//! | --- | --- | --- |
//! | RFC 9700 §2.1.1 | `ServerConfig::require_pkce` makes PKCE mandatory for confidential clients too | `require_pkce_makes_confidential_clients_send_a_challenge_rfc9700_2_1_1` |
//! | RFC 7636 §4.2 | `ServerConfig::allow_plain_pkce` accepts and advertises `plain` | `allow_plain_pkce_accepts_the_plain_method_and_advertises_it_rfc7636_4_2` |
//! | RFC 9700 §4.2 | authorization redirects carry `Referrer-Policy: no-referrer` and `no-store` | `authorization_redirects_carry_no_referrer_and_no_store_rfc9700_4_2` |
//! | RFC 6750 §2.2 | a token in the form body only when enabled | `form_body_token_only_when_enabled_rfc6750_2_2` |
//! | RFC 6750 §2 | a token sent two ways, or two `Authorization` headers, is `invalid_request` | `token_sent_two_ways_or_in_two_headers_is_invalid_request_rfc6750_2` |
//! | RFC 6749 §6 | `RefreshTokenRotation::Never` keeps every client's refresh token | `never_rotation_keeps_refresh_tokens_of_every_client_rfc6749_6` |
//! | — | expiry follows the injected clock, no sleeping | `expiry_follows_the_injected_clock_without_sleeping` |
//!
//! # 4. Coming from Authlib
//!
//! authgate follows Authlib's shape: a server object with a grant registry, endpoints
//! registered explicitly, storage supplied by the application, and a resource protector with
//! overridable validator hooks. Python's mixins and overridable grant methods become Rust
//! traits.
//!
//! | Authlib | authgate |
//! | --- | --- |
//! | `AuthorizationServer(app, query_client=..., save_token=...)` | [`AuthorizationServer::new(store, config)`](crate::AuthorizationServer::new) with one store, or a [`Stores`](crate::Stores) built from separate ones |
//! | `query_client` | [`ClientStore::find_client`](crate::ClientStore::find_client) |
//! | `save_token` | [`TokenStore::save_tokens`](crate::TokenStore::save_tokens), called by [`ServerContext::issue_tokens`](crate::ServerContext::issue_tokens) |
//! | `server.register_grant(SomeGrant)` | [`register_grant`](crate::AuthorizationServer::register_grant) with a value, e.g. `AuthorizationCodeGrant::new()` |
//! | subclassing a grant to change how tokens are made | [`GrantHooks`](crate::GrantHooks) (`prepare`, `issue_tokens`, `issued`, each seeing the [`IssueContext`](crate::IssueContext)), passed with `with_hooks` — the refresh grant's too |
//! | a custom grant class | implement [`Grant`](crate::Grant) plus [`TokenGrant`](crate::TokenGrant) and/or [`AuthorizationGrant`](crate::AuthorizationGrant) |
//! | `server.register_endpoint(RevocationEndpoint)` | [`register_endpoint(RevocationEndpoint::new())`](crate::AuthorizationServer::register_endpoint), or [`register_revoke_token_endpoint`](crate::AuthorizationServer::register_revoke_token_endpoint) |
//! | `server.register_endpoint(IntrospectionEndpoint)` | [`register_endpoint(IntrospectionEndpoint::new())`](crate::AuthorizationServer::register_endpoint), or [`register_introspection_endpoint`](crate::AuthorizationServer::register_introspection_endpoint) |
//! | a custom endpoint class (`ENDPOINT_NAME`, `create_endpoint_response`) | implement [`Endpoint`](crate::Endpoint) (its [`name`](crate::Endpoint::name), path, methods, metadata, [`respond`](crate::Endpoint::respond)) |
//! | `server.create_endpoint_response("revocation")` | [`create_endpoint_response("revocation", &req)`](crate::AuthorizationServer::create_endpoint_response); also [`create_revocation_response`](crate::AuthorizationServer::create_revocation_response), [`create_introspection_response`](crate::AuthorizationServer::create_introspection_response) |
//! | `get_jwks()` / the JWKS your app serves | [`JwksEndpoint`](crate::JwksEndpoint) over [`with_signing_keys`](crate::AuthorizationServer::with_signing_keys): generated, sealed and rotated keys |
//! | `IntrospectionEndpoint.check_permission` | [`IntrospectionPolicy`](crate::IntrospectionPolicy) |
//! | `validate_consent_request(end_user=...)` / `get_consent_grant(end_user=...)` | [`validate_authorization_request`](crate::AuthorizationServer::validate_authorization_request), which returns an [`AuthorizationRequest`](crate::AuthorizationRequest) for the consent page; in axum, the `ValidatedAuthorization` extractor of `authgate-axum` |
//! | `create_authorization_response(grant_user=user)` (`None` denies) | [`create_authorization_response(&req, Some(&owner))`](crate::AuthorizationServer::create_authorization_response) (`None` denies) |
//! | `create_token_response()` | [`create_token_response(&req)`](crate::AuthorizationServer::create_token_response) |
//! | the framework's request object, wrapped by Authlib | [`OAuth2Request`](crate::OAuth2Request), built by the web layer |
//! | `OAuth2Error` subclasses, raised | [`OAuth2Error`](crate::OAuth2Error) with an [`ErrorCode`](crate::ErrorCode), returned |
//! | `ResourceProtector` + `BearerTokenValidator` subclass | [`ResourceProtector`](crate::ResourceProtector) + [`BearerValidator`](crate::BearerValidator); the hooks keep their names: `authenticate_token`, `request_invalid`, `token_revoked`, `token_expired`, `scope_insufficient` |
//! | `@require_oauth("profile")` | in `authgate-axum`: the `RequireBearerLayer` route layer with [`ScopeRequirement::all_of("profile")`](crate::ScopeRequirement::all_of); without axum, [`ResourceProtector::validate`](crate::ResourceProtector::validate) |
//! | `current_token` | the `CurrentToken` extractor of `authgate-axum` (`OptionalToken` when protection is optional); it yields a [`TokenRecord`](crate::TokenRecord) |
//! | `OAUTH2_REFRESH_TOKEN_GENERATOR` | [`ServerConfig::refresh_tokens`](crate::ServerConfig::refresh_tokens), or `AUTHGATE_REFRESH_TOKEN_GENERATOR=true` |
//! | `OAUTH2_TOKEN_EXPIRES_IN` / `OAUTH2_EXPIRES_{GRANT_TYPE}` | [`ServerConfig::expires_in`](crate::ServerConfig::expires_in), or `AUTHGATE_EXPIRES_<GRANT_TYPE>=seconds`; a function of grant type and client: [`with_expires_in`](crate::AuthorizationServer::with_expires_in) |
//! | `OAUTH2_ACCESS_TOKEN_GENERATOR`, `register_token_generator` | [`TokenGenerator`](crate::TokenGenerator) via [`with_token_generator`](crate::AuthorizationServer::with_token_generator) |
//! | `OAUTH2_SCOPES_SUPPORTED` | [`ServerConfig::scopes_supported`](crate::ServerConfig::scopes_supported) |
//! | `ClientMixin` (`check_redirect_uri`, `check_client_secret`, `check_grant_type`, `check_response_type`, `get_allowed_scope`, `get_default_redirect_uri`, `check_endpoint_auth_method`) | the [`Client`](crate::Client) trait (`redirect_uris`, `check_secret`, `allows_grant_type`, `allows_response_type`, `scope`, `default_redirect_uri`, `token_endpoint_auth_method`), or [`ClientRecord`](crate::ClientRecord); redirect URIs are matched by the engine, not by the client |
//! | `AuthorizationCodeMixin`; `save_authorization_code`, `query_authorization_code`, `delete_authorization_code` | [`AuthorizationCodeRecord`](crate::AuthorizationCodeRecord); [`AuthorizationCodeStore`](crate::AuthorizationCodeStore)'s `save_code`, `find_code`, `consume_code` (marks the code used but keeps it, so a replay can be detected) |
//! | `TokenMixin`; `authenticate_refresh_token`, `revoke_old_credential`, `query_token`, `revoke_token` | [`TokenRecord`](crate::TokenRecord); [`TokenStore`](crate::TokenStore)'s `find_token`, `rotate_refresh_token`, `revoke_token`, `revoke_family` |
//! | `RefreshTokenGrant.INCLUDE_NEW_REFRESH_TOKEN` | [`ServerConfig::refresh_token_rotation`](crate::ServerConfig::refresh_token_rotation) |
//! | `authenticate_user` (password grant) | [`UserStore::authenticate_user`](crate::UserStore::authenticate_user) |
//! | `TOKEN_ENDPOINT_AUTH_METHODS` on a grant | each client's registered [`ClientAuthMethod`](crate::ClientAuthMethod), enforced at every endpoint |
//! | the `CodeChallenge` extension | built into [`AuthorizationCodeGrant`](crate::AuthorizationCodeGrant); [`ServerConfig::require_pkce`](crate::ServerConfig::require_pkce) for all clients |
//! | authorization server metadata (RFC 8414 module) | [`AuthorizationServer::metadata`](crate::AuthorizationServer::metadata), generated from what is registered |
//! | `OpenIDCode` (the OpenID extension of `AuthorizationCodeGrant`) | nothing to register: after [`enable_openid`](crate::AuthorizationServer::enable_openid), [`AuthorizationCodeGrant`](crate::AuthorizationCodeGrant) answers an ID token whenever `openid` is granted, and [`RefreshTokenGrant`](crate::RefreshTokenGrant) a fresh one |
//! | `OpenIDImplicitGrant` | [`OpenIdGrant::id_token()`](crate::OpenIdGrant::id_token) and [`OpenIdGrant::id_token_token()`](crate::OpenIdGrant::id_token_token) |
//! | `OpenIDHybridGrant` | [`OpenIdGrant::code_id_token()`](crate::OpenIdGrant::code_id_token), [`code_token()`](crate::OpenIdGrant::code_token), [`code_id_token_token()`](crate::OpenIdGrant::code_id_token_token); all five: [`OpenIdGrant::all()`](crate::OpenIdGrant::all) |
//! | `UserInfoEndpoint` (`get_issuer`, `resolve_public_key`, `generate_user_info`) | [`UserInfoEndpoint`](crate::UserInfoEndpoint), registered with `register_endpoint`; the issuer and keys are the server's own |
//! | `exists_nonce(nonce, request)` | not needed: a nonce travels with its code and is echoed once; codes are single-use, so a nonce cannot be replayed through them (keep your own nonce check in the client) |
//! | `get_jwt_config(grant)` (key, alg, iss, exp) | the server's key set ([`with_signing_keys`](crate::AuthorizationServer::with_signing_keys)), each client's `id_token_signed_response_alg`, the issuer from [`ServerConfig`](crate::ServerConfig), [`OpenIdProvider::id_token_ttl`](crate::oidc::OpenIdProvider::id_token_ttl) |
//! | `generate_user_info(user, scope)` | [`ClaimsSource::claims`](crate::oidc::ClaimsSource::claims): the claims of a user by subject, among the names asked for; the engine picks the names from the scope and the `claims` request, and sets `sub` itself |
//! | `get_audiences` / `get_authorization_code_nonce` | the client is the audience; the nonce is kept with the code ([`AuthorizationCodeRecord::nonce`](crate::AuthorizationCodeRecord::nonce)) |
//! | prompt handling in `validate_consent_request` (`login_required`, `consent_required`) | [`AuthorizationRequest::login_required`](crate::AuthorizationRequest::login_required), [`AuthorizationServer::consent_required`](crate::AuthorizationServer::consent_required) and [`create_authorization_error`](crate::AuthorizationServer::create_authorization_error) |
//! | `EndSessionEndpoint` (`authlib.oidc.rpinitiated`): `validate_endpoint_request("end_session")`, `needs_confirmation`, `end_session` | [`validate_end_session_request`](crate::AuthorizationServer::validate_end_session_request) answers an [`EndSessionRequest`](crate::EndSessionRequest); [`is_tied_to`](crate::EndSessionRequest::is_tied_to) is the opposite of `needs_confirmation`; [`end_session`](crate::AuthorizationServer::end_session) ends the stored session and answers the back-channel logout tokens to deliver |
//! | `DeviceAuthorizationEndpoint` (`get_verification_uri`, `save_device_credential`) | [`DeviceAuthorizationEndpoint::new("/device")`](crate::DeviceAuthorizationEndpoint::new), registered with `register_endpoint`; the credentials are saved in the stores' [`DeviceCodeStore`](crate::DeviceCodeStore) |
//! | `DeviceCodeGrant` (`query_device_credential`, `query_user_grant`, `should_slow_down`) | [`DeviceCodeGrant::new()`](crate::DeviceCodeGrant::new), registered with `register_grant`; the state a user's decision leaves and the polling pace are the store's ([`DeviceCodeStore::poll_device_code`](crate::DeviceCodeStore::poll_device_code)), not methods to write |
//! | `ClientRegistrationEndpoint` (`authenticate_token`, `resolve_public_key`, `get_claims_options`, `generate_client_info`, `save_client`) | [`ClientRegistrationEndpoint::new(policy)`](crate::ClientRegistrationEndpoint::new): the [`RegistrationPolicy`](crate::RegistrationPolicy)'s `admit` checks the initial access token and `review` narrows or refuses; [`RegistrationRules::trust_software_statements`](crate::RegistrationRules::trust_software_statements) is `resolve_public_key`; the client id, secret and registration token are generated by the engine and saved through the stores' [`ClientRegistry`](crate::ClientRegistry) |
//! | `ClientConfigurationEndpoint` (`authenticate_client`, `revoke_access_token`, `update_client`, `delete_client`, `generate_client_registration_info`) | [`ClientRegistrationEndpoint::configuration()`](crate::ClientRegistrationEndpoint::configuration): the registration access token is checked against its stored hash; [`ClientRegistry::update_client`](crate::ClientRegistry::update_client) and [`delete_client`](crate::ClientRegistry::delete_client) (which also revokes the client's tokens) |
//! | the page where the user enters the code (your own view) | [`find_device_request`](crate::AuthorizationServer::find_device_request), then [`approve_device_request`](crate::AuthorizationServer::approve_device_request) or [`deny_device_request`](crate::AuthorizationServer::deny_device_request) |
//!
//! What behaves differently:
//!
//! - **Safer defaults.** PKCE is on for public clients without registering an extension,
//!   `plain` is off, refresh tokens of public clients rotate, and redirect URIs are matched
//!   by the engine instead of by your `check_redirect_uri`.
//! - **Errors are values.** Nothing is raised. The authorization endpoint separates errors to
//!   show ([`AuthorizationError::Invalid`](crate::AuthorizationError::Invalid)) from errors
//!   to redirect, so an unverified redirect URI is never used.
//! - **Records, not your models.** The engine owns the shape of codes and tokens
//!   ([`AuthorizationCodeRecord`](crate::AuthorizationCodeRecord),
//!   [`TokenRecord`](crate::TokenRecord)); a store only keeps them. Tokens are stored as
//!   hashes, so a store cannot look a token up by its value: it looks it up by selector.
//! - **Atomic operations are trait methods.** Consuming a code and rotating a refresh token
//!   are single store calls, so a SQL store can make each one statement and concurrent
//!   requests cannot both succeed.
//! - **No framework inside.** The engine takes an [`OAuth2Request`](crate::OAuth2Request) and
//!   answers an [`OAuth2Response`](crate::OAuth2Response); the axum glue is `authgate-axum`.
//! - **Time is injected.** Tests freeze it with [`FrozenClock`](crate::FrozenClock) instead of
//!   patching the clock.
//!
