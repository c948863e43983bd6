"""Microsoft's Python client (azure-security-attestation 1.0.0) against Attesta.

Runs every client operation with the client's own token validation switched
on (signature via /certs, expiry, not-before, issuer), once for an `aad`
provider and once for an `isolated` provider, and prints one line per
operation: `PASS python <operation> [<provider>]` or `FAIL ...`. Exits 1 when
any operation fails. Configuration comes from the environment (see run.sh).
"""

import base64
import hashlib
import json
import os
import sys
import time
import traceback

from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError
from azure.security.attestation import (
    AttestationAdministrationClient,
    AttestationClient,
    AttestationPolicyToken,
    AttestationType,
    CertificateModification,
    PolicyModification,
)

ENV = os.environ
ROOT = ENV["COMPAT_URL"]
CA = ENV["COMPAT_CA"]
MATERIAL = ENV["COMPAT_MATERIAL"]
AAD = ENV["COMPAT_AAD_PROVIDER"]
AAD_TOKEN = ENV["COMPAT_AAD_TOKEN"]
ISO = ENV["COMPAT_ISO_PROVIDER"]
# MAA authenticates every control-plane call, isolated providers' included:
# the bearer token is checked, then the request's signature.
ISO_TOKEN = ENV["COMPAT_ISO_TOKEN"]


def read(name: str) -> bytes:
    with open(os.path.join(MATERIAL, name), "rb") as f:
        return f.read()


REPORT = read("sample/report.bin")
QUOTE = REPORT[16:]  # the SDK's own tests strip the OE header the same way
RUNTIME = read("runtime.json")
INIT = read("init.bin")
RSA_KEY, RSA_CERT = read("keys/rsa.key").decode(), read("keys/rsa.pem").decode()
RSA2_CERT = read("keys/rsa2.pem").decode()
RSA3_KEY, RSA3_CERT = read("keys/rsa3.key").decode(), read("keys/rsa3.pem").decode()
POLICY = "version=1.0; authorizationrules{=> permit();}; issuancerules{ c:[type==\"x-ms-sgx-mrsigner\"] => issue(type=\"compat-mrsigner\", value=c.value); };"


class Credential:
    """Any object with get_token works; the token text is sent as-is."""

    def __init__(self, token: str):
        self.token = token

    def get_token(self, *scopes, **kwargs):
        return AccessToken(self.token, int(time.time()) + 3600)


results = []


def op(name: str, provider: str, fn) -> None:
    try:
        fn()
        print(f"PASS python {name} [{provider}]", flush=True)
        results.append(True)
    except Exception as e:  # report and continue with the next operation
        print(f"FAIL python {name} [{provider}]: {e!r}", flush=True)
        traceback.print_exc(file=sys.stdout)
        results.append(False)


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


def validation(endpoint: str) -> dict:
    return dict(
        validate_token=True,
        validate_signature=True,
        validate_expiration=True,
        validate_issuer=True,
        issuer=endpoint,
        validation_slack=1.0,
        connection_verify=CA,
    )


def data_plane(provider: str, token: str) -> None:
    endpoint = f"{ROOT}/providers/{provider}"
    client = AttestationClient(endpoint, Credential(token), **validation(endpoint))

    def openid():
        md = client.get_open_id_metadata()
        expect(md["issuer"] == endpoint, f"issuer {md['issuer']}")
        expect(md["jwks_uri"] == endpoint + "/certs", f"jwks_uri {md['jwks_uri']}")
        expect("response_types_supported" in md, "response_types_supported")

    def signers():
        s = client.get_signing_certificates()
        expect(len(s) >= 1 and all(len(x.certificates) >= 1 for x in s), "signers with certificates")

    def oe_binary():
        r, token = client.attest_open_enclave(REPORT, runtime_data=RUNTIME)
        expect(r.enclave_held_data == RUNTIME, "x-ms-sgx-ehd equals the runtime data")
        expect(r.runtime_claims is None, "no runtime claims for Binary")
        expect(r.sgx_collateral is not None, "x-ms-sgx-collateral present")
        expect(r.issuer == endpoint, f"iss {r.issuer}")
        expect(token.algorithm == "RS256", token.algorithm)

    def oe_json():
        r, _ = client.attest_open_enclave(REPORT, runtime_json=RUNTIME)
        expect(r.runtime_claims == json.loads(RUNTIME), f"runtime claims {r.runtime_claims}")
        expect(r.enclave_held_data is None, "no x-ms-sgx-ehd for JSON")

    def sgx_binary():
        r, _ = client.attest_sgx_enclave(QUOTE, runtime_data=RUNTIME, inittime_data=INIT)
        expect(r.enclave_held_data == RUNTIME, "x-ms-sgx-ehd")
        expect(r.mr_enclave is not None and r.mr_signer is not None, "identity claims")

    def sgx_json_inittime_json():
        # The client's inittime_json sends {"dataType":"JSON"} without data.
        r, _ = client.attest_sgx_enclave(QUOTE, runtime_json=RUNTIME, inittime_json=b"{}")
        expect(r.runtime_claims == json.loads(RUNTIME), "runtime claims")

    def draft():
        r, token = client.attest_open_enclave(REPORT, runtime_data=RUNTIME, draft_policy=POLICY)
        expect(token.algorithm == "none", f"draft token alg {token.algorithm}")
        expect(r.mr_signer is not None, "service claims in the draft result")

    def tpm():
        reply = client.attest_tpm(json.dumps({"payload": {"type": "aikcert"}}))
        payload = json.loads(reply)["payload"]
        expect("challenge" in payload and "service_context" in payload, f"tpm reply {payload}")

    op("get_open_id_metadata", provider, openid)
    op("get_signing_certificates", provider, signers)
    op("attest_open_enclave(binary runtime data)", provider, oe_binary)
    op("attest_open_enclave(JSON runtime data)", provider, oe_json)
    op("attest_sgx_enclave(binary runtime data, init-time data)", provider, sgx_binary)
    op("attest_sgx_enclave(JSON runtime data, inittime_json)", provider, sgx_json_inittime_json)
    op("attest_open_enclave(draft policy -> unsecured token)", provider, draft)
    op("attest_tpm(aikcert)", provider, tpm)


def policy_hash(text: str, **signing) -> bytes:
    jws = AttestationPolicyToken(text, **signing).to_jwt_string()
    return hashlib.sha256(jws.encode("ascii")).digest()


def control_plane_aad() -> None:
    endpoint = f"{ROOT}/providers/{AAD}"
    admin = AttestationAdministrationClient(endpoint, Credential(AAD_TOKEN), **validation(endpoint))

    def get():
        p, _ = admin.get_policy(AttestationType.SGX_ENCLAVE)
        expect(p.startswith("version"), f"policy text {p[:30]!r}")

    def set_unsigned():
        r, _ = admin.set_policy(AttestationType.SGX_ENCLAVE, POLICY)
        expect(r.policy_resolution == PolicyModification.UPDATED, str(r.policy_resolution))
        expect(r.policy_token_hash == policy_hash(POLICY), "x-ms-policy-token-hash over the JWS sent")
        p, _ = admin.get_policy(AttestationType.SGX_ENCLAVE)
        expect(p == POLICY, "the policy reads back")

    def set_signed():
        r, _ = admin.set_policy(AttestationType.SGX_ENCLAVE, POLICY, signing_key=RSA_KEY, signing_certificate=RSA_CERT)
        expect(r.policy_resolution == PolicyModification.UPDATED, str(r.policy_resolution))
        expect(r.policy_signer is not None, "x-ms-policy-signer for a signed policy on aad")

    def reset():
        r, _ = admin.reset_policy(AttestationType.SGX_ENCLAVE)
        expect(r.policy_resolution == PolicyModification.REMOVED, str(r.policy_resolution))
        expect(r.policy_token_hash is None, "no token hash on reset")

    def certs():
        certs, _ = admin.get_policy_management_certificates()
        expect(certs == [], f"no certificates on aad: {certs}")

    def unauthorised():
        bad = AttestationAdministrationClient(endpoint, Credential("wrong"), **validation(endpoint))
        try:
            bad.get_policy(AttestationType.SGX_ENCLAVE)
        except HttpResponseError as e:
            expect(e.status_code == 401, f"status {e.status_code}")
            return
        raise AssertionError("a wrong bearer token was accepted")

    op("get_policy", AAD, get)
    op("set_policy(unsigned)", AAD, set_unsigned)
    op("set_policy(signed RSA256)", AAD, set_signed)
    op("reset_policy", AAD, reset)
    op("get_policy_management_certificates", AAD, certs)
    op("get_policy(wrong token -> 401)", AAD, unauthorised)


def control_plane_isolated() -> None:
    endpoint = f"{ROOT}/providers/{ISO}"
    admin = AttestationAdministrationClient(endpoint, Credential(ISO_TOKEN), **validation(endpoint))
    signing = dict(signing_key=RSA_KEY, signing_certificate=RSA_CERT)

    def set_signed():
        r, _ = admin.set_policy(AttestationType.SGX_ENCLAVE, POLICY, **signing)
        expect(r.policy_resolution == PolicyModification.UPDATED, str(r.policy_resolution))
        expect(r.policy_token_hash == policy_hash(POLICY, **signing), "token hash over the signed JWS")
        expect(r.policy_signer is not None, "x-ms-policy-signer")
        p, _ = admin.get_policy(AttestationType.SGX_ENCLAVE)
        expect(p == POLICY, "the policy reads back")

    def set_unsigned_refused():
        try:
            admin.set_policy(AttestationType.SGX_ENCLAVE, POLICY)
        except HttpResponseError as e:
            expect(e.status_code == 400, f"status {e.status_code}")
            return
        raise AssertionError("an unsigned policy was accepted by an isolated provider")

    def reset_signed():
        r, _ = admin.reset_policy(AttestationType.SGX_ENCLAVE, **signing)
        expect(r.policy_resolution == PolicyModification.REMOVED, str(r.policy_resolution))

    def certs():
        certs, _ = admin.get_policy_management_certificates()
        expect(len(certs) >= 1, "the isolated provider lists its signers")

    def add_twice():
        for _ in range(2):
            r, _ = admin.add_policy_management_certificate(RSA2_CERT, **signing)
            expect(r.certificate_resolution == CertificateModification.IS_PRESENT, str(r.certificate_resolution))

    def replayed_add_refused():
        # The SDK signs the removal with the adding key to the very bytes of
        # the addition (RSA PKCS#1 v1.5): refused as a replay, state kept.
        try:
            admin.remove_policy_management_certificate(RSA2_CERT, **signing)
        except HttpResponseError as e:
            expect(e.status_code == 400, f"status {e.status_code}")
            expect("ReplayedRequest" in str(e), str(e))
            certs, _ = admin.get_policy_management_certificates()
            expect(len(certs) == 4, f"RSA2 still present: {len(certs)} certificates")
            return
        raise AssertionError("the addition's JWS removed the certificate")

    def anonymous_read_refused():
        anon = AttestationAdministrationClient(endpoint, Credential("wrong"), **validation(endpoint))
        try:
            anon.get_policy(AttestationType.SGX_ENCLAVE)
        except HttpResponseError as e:
            expect(e.status_code == 401, f"status {e.status_code}")
            return
        raise AssertionError("an isolated provider's policy was read without its token")

    def remove_twice():
        # Signed by another certificate of the provider: with RSA PKCS#1 v1.5
        # the SDK's removal signed by the adding key is byte for byte the
        # addition, which Attesta refuses as a replay.
        for _ in range(2):
            r, _ = admin.remove_policy_management_certificate(
                RSA2_CERT, signing_key=RSA3_KEY, signing_certificate=RSA3_CERT
            )
            expect(r.certificate_resolution == CertificateModification.IS_ABSENT, str(r.certificate_resolution))

    op("set_policy(signed RSA256, jwk.x5c)", ISO, set_signed)
    op("set_policy(unsigned -> refused)", ISO, set_unsigned_refused)
    op("reset_policy(signed)", ISO, reset_signed)
    op("get_policy_management_certificates", ISO, certs)
    op("get_policy(wrong token -> 401)", ISO, anonymous_read_refused)
    op("add_policy_management_certificate(x2)", ISO, add_twice)
    op("remove_policy_management_certificate(the addition's bytes -> replay refused)", ISO, replayed_add_refused)
    op("remove_policy_management_certificate(x2)", ISO, remove_twice)


def main() -> int:
    data_plane(AAD, AAD_TOKEN)
    data_plane(ISO, ISO_TOKEN)
    control_plane_aad()
    control_plane_isolated()
    failed = results.count(False)
    print(f"python: {results.count(True)} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
