#!/usr/bin/env python3
"""Verify an Attesta attestation token as a relying party, with PyJWT.

    python verify.py --issuer https://127.0.0.1:8443/providers/lab \
        --ca attesta-data/tls/cert.pem token.jwt

What it checks, and why:
- the issuer is the one *configured here* (never taken from the token), reached
  over HTTPS; its OpenID metadata must name exactly that issuer and a jwks_uri
  under it;
- the signing key is looked up by the token's `kid` in the issuer's key set
  (`/certs`), cached for `cache_seconds`; an unknown kid refetches the set at
  most once per `refetch_cooldown` seconds (keys rotate, attackers spray kids);
- `jku`, `x5u`, `jwk` and `x5c` in the token header are ignored: a token cannot
  choose the keys it is checked with;
- RS256 only, `exp`/`nbf`/`iat` with 60 s leeway, `iss` equal to the issuer, and
  `x-ms-attestation-type` present (policy and certificate replies from the
  control plane are signed by the same key but are not attestation results).

Exit 0 and the claims as JSON when valid; exit 1 with the reason when not.
"""

import argparse
import json
import ssl
import sys
import time
import urllib.request

import jwt  # PyJWT

ALGORITHMS = ["RS256"]


class IssuerKeys:
    """The signing keys of one configured issuer, fetched from its /certs."""

    def __init__(self, issuer, cafile=None, cache_seconds=3600, refetch_cooldown=10):
        if not issuer.startswith("https://"):
            raise ValueError("the issuer must be an https:// URL")
        self.issuer = issuer.rstrip("/")
        self.tls = ssl.create_default_context(cafile=cafile)
        self.cache_seconds = cache_seconds
        self.refetch_cooldown = refetch_cooldown
        self.keys = {}
        self.fetched_at = 0.0

    def _get_json(self, url):
        with urllib.request.urlopen(url, context=self.tls, timeout=15) as resp:
            return json.load(resp)

    def _refresh(self):
        meta = self._get_json(self.issuer + "/.well-known/openid-configuration")
        if meta.get("issuer") != self.issuer:
            raise jwt.InvalidIssuerError(
                f"the metadata names issuer {meta.get('issuer')!r}, not {self.issuer!r}"
            )
        jwks_uri = meta.get("jwks_uri", "")
        if not jwks_uri.startswith(self.issuer + "/"):
            raise jwt.InvalidKeyError(f"jwks_uri {jwks_uri!r} is outside the issuer")
        jwks = self._get_json(jwks_uri)
        keys = {}
        for k in jwks.get("keys", []):
            if k.get("kid") and k.get("kty") == "RSA":
                keys[k["kid"]] = jwt.PyJWK(k, algorithm="RS256")
        self.keys = keys
        self.fetched_at = time.monotonic()

    def key_for(self, kid):
        age = time.monotonic() - self.fetched_at
        if age > self.cache_seconds or (kid not in self.keys and age > self.refetch_cooldown):
            self._refresh()
        if kid not in self.keys:
            raise jwt.InvalidKeyError(f"kid {kid!r} is not among the issuer's signing keys")
        return self.keys[kid]


def verify(token, keys):
    """The token's claims when it is a valid attestation result of `keys.issuer`."""
    header = jwt.get_unverified_header(token)
    if header.get("alg") not in ALGORITHMS:
        raise jwt.InvalidAlgorithmError(f"alg {header.get('alg')!r} is not accepted")
    kid = header.get("kid")
    if not kid:
        raise jwt.InvalidKeyError("the token has no kid")
    # Deliberately no look at header["jku"] / ["x5u"] / ["jwk"] / ["x5c"].
    key = keys.key_for(kid)
    claims = jwt.decode(
        token,
        key=key.key,
        algorithms=ALGORITHMS,
        issuer=keys.issuer,
        leeway=60,
        options={"require": ["exp", "iat", "iss"]},
    )
    if "x-ms-attestation-type" not in claims:
        raise jwt.InvalidTokenError("not an attestation result (no x-ms-attestation-type)")
    return claims


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("token", help="file holding the token (`attesta attest ... --raw > token.jwt`)")
    p.add_argument("--issuer", required=True, help="the provider's base URL, e.g. https://127.0.0.1:8443")
    p.add_argument("--ca", help="PEM CA for the issuer's TLS certificate")
    a = p.parse_args()
    with open(a.token, encoding="ascii") as f:
        token = f.read().strip()
    keys = IssuerKeys(a.issuer, cafile=a.ca)
    try:
        claims = verify(token, keys)
    except jwt.PyJWTError as e:
        print(f"invalid token: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    json.dump(claims, sys.stdout, indent=2, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
