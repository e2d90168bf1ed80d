"""A relying party written with Python's Authlib client, against the reference server.

Usage: authlib_rp.py ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI USERNAME PASSWORD

Discovers the provider from the issuer URL, runs the authorization code flow with PKCE
(S256) and a nonce through the server's login and consent pages (as a browser would:
cookies kept, forms posted, redirects read), redeems the code with Authlib's OAuth2Session,
verifies the ID token against the published keys with Authlib's CodeIDToken rules, reads
UserInfo and prints one JSON line with what it learned. Any failed check exits non-zero.
"""

import html
import json
import re
import sys
from urllib.parse import urljoin

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken


def hidden_fields(page):
    fields = {}
    for tag in re.findall(r"<input[^>]*>", page):
        if 'type="hidden"' in tag:
            name = re.search(r'name="([^"]*)"', tag).group(1)
            value = re.search(r'value="([^"]*)"', tag)
            fields[html.unescape(name)] = html.unescape(value.group(1) if value else "")
    return fields


def main():
    issuer, client_id, secret, redirect_uri, username, password = sys.argv[1:7]
    meta = requests.get(issuer + "/.well-known/openid-configuration", timeout=10).json()
    assert meta["issuer"] == issuer, meta["issuer"]

    client = OAuth2Session(
        client_id,
        secret,
        scope="openid email profile",
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    verifier = generate_token(48)
    nonce = generate_token(20)
    url, state = client.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )

    # The browser: the login page, then the consent page, then the redirect to the RP.
    browser = requests.Session()
    login = browser.get(url, allow_redirects=False, timeout=10)
    assert login.status_code == 200 and 'id="sign-in"' in login.text, login.text
    form = hidden_fields(login.text)
    form.update(username=username, password=password)
    signed_in = browser.post(
        urljoin(issuer, "/login"), data=form, allow_redirects=False, timeout=10
    )
    assert signed_in.status_code == 303, signed_in.text
    consent_url = urljoin(issuer, signed_in.headers["Location"])
    consent = browser.get(consent_url, allow_redirects=False, timeout=10)
    assert consent.status_code == 200 and 'id="approve"' in consent.text, consent.text
    form = hidden_fields(consent.text)
    form["confirm"] = "yes"
    done = browser.post(consent_url, data=form, allow_redirects=False, timeout=10)
    assert done.status_code in (302, 303), done.text
    back = done.headers["Location"]
    assert back.startswith(redirect_uri), back

    token = client.fetch_token(
        meta["token_endpoint"],
        authorization_response=back,
        state=state,
        code_verifier=verifier,
    )
    keys = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    claims = jwt.decode(
        token["id_token"],
        keys,
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": issuer}},
        claims_params={"nonce": nonce, "client_id": client_id},
    )
    claims.validate(leeway=5)
    userinfo = client.get(meta["userinfo_endpoint"], timeout=10).json()
    assert userinfo["sub"] == claims["sub"], (userinfo, claims)
    print(
        json.dumps(
            {
                "sub": claims["sub"],
                "aud": claims["aud"],
                "nonce_ok": claims["nonce"] == nonce,
                "email": userinfo.get("email"),
                "token_type": token["token_type"],
            }
        )
    )


if __name__ == "__main__":
    main()
