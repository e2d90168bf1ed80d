"""A resource server written with Python's Authlib, checking the reference server's JWT
access tokens (RFC 9068) on its own, with no code shared with this project.

Usage: at_jwt_resource.py ISSUER CLIENT_ID CLIENT_SECRET RESOURCE SCOPE

Reads the server's metadata, gets a token for RESOURCE with client credentials (Authlib's
OAuth2Session, client_secret_basic), then validates it as RFC 9068 section 4 asks of a
resource: the `typ` header is `at+jwt`, the signature verifies with a key of the published
JWKS under the algorithm that key names, `iss` is the issuer, `aud` holds RESOURCE, `exp`
is in the future, and the RFC 9068 section 2.2 claims are present. It prints one JSON line
with the header's `alg` and the claims a resource would use. Any failed check exits
non-zero.
"""

import base64
import json
import sys
import time

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt


def header_of(token):
    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))


def main():
    issuer, client_id, secret, resource, scope = sys.argv[1:6]
    meta = requests.get(issuer + "/.well-known/oauth-authorization-server", timeout=10).json()
    assert meta["issuer"] == issuer, meta["issuer"]
    client = OAuth2Session(client_id, secret, scope=scope)
    token = client.fetch_token(
        meta["token_endpoint"], grant_type="client_credentials", resource=resource
    )
    access = token["access_token"]

    header = header_of(access)
    assert header.get("typ") == "at+jwt", header
    jwks = requests.get(meta["jwks_uri"], timeout=10).json()
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    # The algorithm is the key's, never the token's choice.
    assert header["alg"] == key["alg"], (header, key)
    claims = jwt.decode(
        access,
        JsonWebKey.import_key_set(jwks),
        claims_options={
            "iss": {"essential": True, "value": issuer},
            "aud": {"essential": True, "value": resource},
            "exp": {"essential": True},
            "sub": {"essential": True},
            "iat": {"essential": True},
            "jti": {"essential": True},
            "client_id": {"essential": True},
        },
    )
    claims.validate(now=int(time.time()))
    print(
        json.dumps(
            {
                "alg": header["alg"],
                "aud": claims["aud"],
                "sub": claims["sub"],
                "client_id": claims["client_id"],
                "scope": claims.get("scope"),
                "lifetime": claims["exp"] - claims["iat"],
            },
            sort_keys=True,
        )
    )


if __name__ == "__main__":
    main()
