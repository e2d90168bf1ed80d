"""A confidential client written with Python's Authlib that authenticates with a JWT
(RFC 7523 section 2.2, OpenID Connect Core section 9): Authlib builds and signs the client
assertion itself, with the client's private key (private_key_jwt) or keyed by its secret
with HMAC (client_secret_jwt).

Usage: jwt_client_auth.py private_key_jwt ISSUER CLIENT_ID PRIVATE_KEY_PEM_FILE KID
       jwt_client_auth.py client_secret_jwt ISSUER CLIENT_ID CLIENT_SECRET ALG

Reads the server's metadata, checks that it offers the method with the algorithm, gets a
client-credentials token with Authlib's PrivateKeyJWT or ClientSecretJWT, then presents
the very same assertion again by hand, which must be refused (its jti is spent). Prints
one JSON line. Any failed check exits non-zero.
"""

import json
import sys

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import (
    ClientSecretJWT,
    PrivateKeyJWT,
    client_secret_jwt_sign,
    private_key_jwt_sign,
)

last_assertion = []


def recording(base, sign_with):
    """Authlib's auth method class `base`, keeping the last assertion it signed. Authlib's
    own signing function builds it; only the lifetime is shortened: Authlib's default is
    an hour, and this server accepts client assertions living five minutes at most."""

    class Recording(base):
        def sign(self, auth, token_endpoint):
            assertion = sign_with(
                auth.client_secret,
                client_id=auth.client_id,
                token_endpoint=token_endpoint,
                claims=dict(self.claims or {}),
                header=self.headers,
                alg=self.alg,
                expires_in=60,
            )
            last_assertion.append(assertion)
            return assertion

    return Recording


def main():
    method, issuer, client_id = sys.argv[1:4]
    meta = requests.get(issuer + "/.well-known/oauth-authorization-server", timeout=10).json()
    token_url = meta["token_endpoint"]
    if method == "private_key_jwt":
        pem_file, kid = sys.argv[4:6]
        alg = "ES256"
        with open(pem_file) as f:
            credential = f.read()
        auth = recording(PrivateKeyJWT, private_key_jwt_sign)(
            token_url, alg=alg, headers={"kid": kid}
        )
    elif method == "client_secret_jwt":
        credential, alg = sys.argv[4:6]
        auth = recording(ClientSecretJWT, client_secret_jwt_sign)(token_url, alg=alg)
    else:
        raise SystemExit("unknown method " + method)
    assert method in meta["token_endpoint_auth_methods_supported"], meta
    assert alg in meta["token_endpoint_auth_signing_alg_values_supported"], meta
    session = OAuth2Session(client_id, credential, token_endpoint_auth_method=method)
    session.register_client_auth_method(auth)
    token = session.fetch_token(token_url, grant_type="client_credentials")
    assert last_assertion, "Authlib signed no assertion"
    assertion = last_assertion[-1]
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
