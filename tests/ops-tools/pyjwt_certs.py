"""PyJWT's PyJWKClient validates an Attesta attestation token using only the
JWKS the OpenID metadata points at (`/certs`): the keys must carry kty, n/e,
alg and use, not x5c alone. A token with a changed claim must fail.

Environment: OPS_URL (server base URL), OPS_CA (its TLS certificate),
OPS_PROVIDER (a provider trusting the sample's test root), OPS_QUOTE (a
quote file, e.g. from `attesta sample sgx`).
"""
import base64
import json
import os
import ssl
import sys
import urllib.request

import jwt
from jwt import PyJWKClient

base = os.environ["OPS_URL"].rstrip("/")
provider = os.environ["OPS_PROVIDER"]
ctx = ssl.create_default_context(cafile=os.environ["OPS_CA"])
issuer = f"{base}/providers/{provider}"


def get_json(url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, context=ctx) as r:
        return json.load(r)


quote = open(os.environ["OPS_QUOTE"], "rb").read()
answer = get_json(
    f"{issuer}/attest/SgxEnclave?api-version=2022-08-01",
    {"quote": base64.urlsafe_b64encode(quote).decode().rstrip("=")},
)
token = answer["token"]

metadata = get_json(f"{issuer}/.well-known/openid-configuration")
assert metadata["issuer"] == issuer, metadata["issuer"]
client = PyJWKClient(metadata["jwks_uri"], cache_keys=False, ssl_context=ctx)
key = client.get_signing_key_from_jwt(token)
claims = jwt.decode(
    token,
    key.key,
    algorithms=metadata["id_token_signing_alg_values_supported"],
    issuer=issuer,
    options={"require": ["exp", "iat", "nbf", "iss"]},
)
assert claims["x-ms-attestation-type"] == "sgx", claims["x-ms-attestation-type"]
assert claims["x-attesta-test-root"] is True
print(f"PASS PyJWKClient validated the token (kid {key.key_id}) with {metadata['jwks_uri']}")

# A token whose payload was changed must not validate with the same keys.
header, payload, sig = token.split(".")
body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
body["x-ms-sgx-mrenclave"] = "00" * 32
forged_payload = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
forged = f"{header}.{forged_payload}.{sig}"
try:
    jwt.decode(forged, client.get_signing_key_from_jwt(forged).key, algorithms=["RS256"], issuer=issuer)
except jwt.InvalidSignatureError:
    print("PASS a changed token fails PyJWT's signature check")
else:
    print("FAIL PyJWT accepted a token with a changed claim")
    sys.exit(1)
