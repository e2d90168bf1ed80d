"""A confidential client written with Python's Authlib that authenticates with
private_key_jwt (RFC 7523 section 2.2, OpenID Connect Core section 9): Authlib builds and
signs the client assertion itself, with the client's private key.

Usage: private_key_jwt_client.py ISSUER CLIENT_ID PRIVATE_KEY_PEM_FILE KID

Reads the server's metadata, checks that it offers private_key_jwt with ES256, gets a
client-credentials token with Authlib's PrivateKeyJWT, then presents the very same
assertion again by hand, which must be refused (its jti is spent). Prints one JSON line.
Any failed check exits non-zero.
"""

import json
import sys

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign


class Recording(PrivateKeyJWT):
    """Authlib's PrivateKeyJWT, keeping the last assertion it signed. Authlib's own
    signing function builds it; only the lifetime is shortened: Authlib's default is an
    hour, and this server accepts client assertions living five minutes at most."""

    last = None

    def sign(self, auth, token_endpoint):
        assertion = private_key_jwt_sign(
            auth.client_secret,
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            claims=dict(self.claims or {}),
            header=self.headers,
            alg=self.alg,
            expires_in=60,
        )
        Recording.last = assertion
        return assertion


def main():
    issuer, client_id, pem_file, kid = sys.argv[1:5]
    meta = requests.get(issuer + "/.well-known/oauth-authorization-server", timeout=10).json()
    assert "private_key_jwt" in meta["token_endpoint_auth_methods_supported"], meta
    assert "ES256" in meta["token_endpoint_auth_signing_alg_values_supported"], meta
    token_url = meta["token_endpoint"]
    with open(pem_file) as f:
        key = f.read()
    session = OAuth2Session(client_id, key, token_endpoint_auth_method="private_key_jwt")
    session.register_client_auth_method(
        Recording(token_url, alg="ES256", headers={"kid": kid})
    )
    token = session.fetch_token(token_url, grant_type="client_credentials")
    assertion = Recording.last
    assert assertion, "Authlib signed no assertion"
    if isinstance(assertion, bytes):
        assertion = assertion.decode()
    replay = requests.post(
        token_url,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
        timeout=10,
    )
    print(
        json.dumps(
            {
                "token_type": token["token_type"],
                "scope": token.get("scope"),
                "replay_status": replay.status_code,
                "replay_error": replay.json().get("error"),
            },
            sort_keys=True,
        )
    )


if __name__ == "__main__":
    main()
