// Microsoft's JavaScript client (@azure/attestation 1.0.0) against Attesta.
//
// Runs every client operation with the client's token validation switched
// on (signature via /certs, expiry, not-before, issuer), for an `aad` and an
// `isolated` provider; the isolated provider's policy is signed with an EC
// key (ES256), which only this client can do. Prints one line per operation,
// `PASS js <operation> [<provider>]` or `FAIL ...`, and exits 1 when any fails.
// Configuration comes from the environment (see run.sh); the CA the client
// trusts comes from NODE_EXTRA_CA_CERTS.

import { deepStrictEqual } from "node:assert";
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  AttestationClient,
  AttestationAdministrationClient,
  KnownAttestationType,
} from "@azure/attestation";

const env = process.env;
const ROOT = env.COMPAT_URL;
const MATERIAL = env.COMPAT_MATERIAL;
const AAD = env.COMPAT_AAD_PROVIDER;
const AAD_TOKEN = env.COMPAT_AAD_TOKEN;
const ISO = env.COMPAT_ISO_PROVIDER;
const ISO_TOKEN = env.COMPAT_ISO_TOKEN;

const read = (name) => readFileSync(join(MATERIAL, name));
const REPORT = read("sample/report.bin");
const QUOTE = REPORT.subarray(16);
const RUNTIME = read("runtime.json");
const INIT = read("init.bin");
const EC_KEY = read("keys/ec.key").toString();
const EC_CERT = read("keys/ec.pem").toString();
const RSA_KEY = read("keys/rsa.key").toString();
const RSA_CERT = read("keys/rsa.pem").toString();
const RSA2_CERT = read("keys/rsa2.pem").toString();
const POLICY =
  'version=1.0; authorizationrules{=> permit();}; issuancerules{ c:[type=="x-ms-sgx-mrsigner"] => issue(type="compat-mrsigner", value=c.value); };';

const credential = (token) => ({
  getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3600e3 }),
});

const results = [];
async function op(name, provider, fn) {
  try {
    await fn();
    console.log(`PASS js ${name} [${provider}]`);
    results.push(true);
  } catch (e) {
    console.log(`FAIL js ${name} [${provider}]: ${e && e.stack ? e.stack : e}`);
    results.push(false);
  }
}

function expect(cond, what) {
  if (!cond) throw new Error(`expectation failed: ${what}`);
}

const validation = (endpoint) => ({
  validateToken: true,
  validateExpirationTime: true,
  validateNotBeforeTime: true,
  validateIssuer: true,
  expectedIssuer: endpoint,
  timeValidationSlack: 1,
});

const sameBytes = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

async function dataPlane(provider, token) {
  const endpoint = `${ROOT}/providers/${provider}`;
  const client = new AttestationClient(endpoint, credential(token), {
    validationOptions: validation(endpoint),
  });
  await op("getOpenIdMetadata", provider, async () => {
    const md = await client.getOpenIdMetadata();
    expect(md.issuer === endpoint, `issuer ${md.issuer}`);
    expect(md.jwks_uri === `${endpoint}/certs`, `jwks_uri ${md.jwks_uri}`);
  });
  await op("getAttestationSigners", provider, async () => {
    const signers = await client.getAttestationSigners();
    expect(signers.length >= 1 && signers.every((s) => s.certificates.length >= 1), "signers");
  });
  await op("attestOpenEnclave(runTimeData)", provider, async () => {
    const r = await client.attestOpenEnclave(REPORT, { runTimeData: RUNTIME });
    expect(sameBytes(r.body.enclaveHeldData, RUNTIME), "enclaveHeldData equals the runtime data");
    expect(r.body.issuer === endpoint, `iss ${r.body.issuer}`);
    expect(r.token.algorithm === "RS256", `alg ${r.token.algorithm}`);
  });
  await op("attestOpenEnclave(runTimeJson)", provider, async () => {
    const r = await client.attestOpenEnclave(REPORT, { runTimeJson: RUNTIME });
    // Key order differs (tokens sort keys as MAA does); the values must not.
    deepStrictEqual(r.body.runTimeClaims, JSON.parse(RUNTIME.toString()));
    expect(r.body.enclaveHeldData === undefined, "no enclaveHeldData for JSON");
  });
  await op("attestSgxEnclave(runTimeData, initTimeData)", provider, async () => {
    const r = await client.attestSgxEnclave(QUOTE, { runTimeData: RUNTIME, initTimeData: INIT });
    expect(sameBytes(r.body.enclaveHeldData, RUNTIME), "enclaveHeldData");
  });
  await op("attestSgxEnclave(draftPolicyForAttestation -> unsecured)", provider, async () => {
    const r = await client.attestSgxEnclave(QUOTE, { runTimeData: RUNTIME, draftPolicyForAttestation: POLICY });
    expect(r.token.algorithm === "none", `alg ${r.token.algorithm}`);
  });
  await op("attestTpm(aikcert)", provider, async () => {
    const reply = JSON.parse(await client.attestTpm(JSON.stringify({ payload: { type: "aikcert" } })));
    expect(reply.payload.challenge && reply.payload.service_context, "challenge and service_context");
  });
}

const tokenHash = (jws) => createHash("sha256").update(jws, "ascii").digest();

async function controlPlaneAad() {
  const endpoint = `${ROOT}/providers/${AAD}`;
  const admin = new AttestationAdministrationClient(endpoint, credential(AAD_TOKEN), {
    validationOptions: validation(endpoint),
  });
  await op("getPolicy", AAD, async () => {
    const r = await admin.getPolicy(KnownAttestationType.SgxEnclave);
    expect(r.body.startsWith("version"), `policy ${r.body.slice(0, 20)}`);
  });
  await op("setPolicy(unsigned)", AAD, async () => {
    const r = await admin.setPolicy(KnownAttestationType.SgxEnclave, POLICY);
    expect(r.body.policyResolution === "Updated", r.body.policyResolution);
    const payload = Buffer.from(JSON.stringify({ AttestationPolicy: Buffer.from(POLICY).toString("base64url") })).toString("base64url");
    const jws = `eyJhbGciOiJub25lIn0.${payload}.`;
    expect(sameBytes(r.body.policyTokenHash, tokenHash(jws)), "x-ms-policy-token-hash over the JWS sent");
    const back = await admin.getPolicy(KnownAttestationType.SgxEnclave);
    expect(back.body === POLICY, "the policy reads back");
  });
  await op("resetPolicy", AAD, async () => {
    const r = await admin.resetPolicy(KnownAttestationType.SgxEnclave);
    expect(r.body.policyResolution === "Removed", r.body.policyResolution);
  });
  await op("getPolicyManagementCertificates", AAD, async () => {
    const r = await admin.getPolicyManagementCertificates();
    expect(r.body.length === 0, `certificates ${r.body.length}`);
  });
}

async function controlPlaneIsolated() {
  const endpoint = `${ROOT}/providers/${ISO}`;
  const admin = new AttestationAdministrationClient(endpoint, credential(ISO_TOKEN), {
    validationOptions: validation(endpoint),
  });
  await op("setPolicy(signed ES256)", ISO, async () => {
    const r = await admin.setPolicy(KnownAttestationType.SgxEnclave, POLICY, { privateKey: EC_KEY, certificate: EC_CERT });
    expect(r.body.policyResolution === "Updated", r.body.policyResolution);
    expect(r.body.policySigner !== undefined, "policySigner");
    const back = await admin.getPolicy(KnownAttestationType.SgxEnclave);
    expect(back.body === POLICY, "the policy reads back");
  });
  await op("setPolicy(signed RS256)", ISO, async () => {
    const r = await admin.setPolicy(KnownAttestationType.OpenEnclave, POLICY, { privateKey: RSA_KEY, certificate: RSA_CERT });
    expect(r.body.policyResolution === "Updated", r.body.policyResolution);
  });
  await op("setPolicy(unsigned -> refused)", ISO, async () => {
    try {
      await admin.setPolicy(KnownAttestationType.SgxEnclave, POLICY);
    } catch (e) {
      expect(e.statusCode === 400, `status ${e.statusCode}`);
      return;
    }
    throw new Error("an unsigned policy was accepted by an isolated provider");
  });
  await op("resetPolicy(signed ES256)", ISO, async () => {
    const r = await admin.resetPolicy(KnownAttestationType.SgxEnclave, { privateKey: EC_KEY, certificate: EC_CERT });
    expect(r.body.policyResolution === "Removed", r.body.policyResolution);
  });
  await op("getPolicyManagementCertificates", ISO, async () => {
    const r = await admin.getPolicyManagementCertificates();
    expect(r.body.length >= 2, `certificates ${r.body.length}`);
  });
  await op("addPolicyManagementCertificate(x2)", ISO, async () => {
    for (let i = 0; i < 2; i++) {
      const r = await admin.addPolicyManagementCertificate(RSA2_CERT, EC_KEY, EC_CERT);
      expect(r.body.certificateResolution === "IsPresent", r.body.certificateResolution);
    }
  });
  await op("removePolicyManagementCertificate(x2)", ISO, async () => {
    for (let i = 0; i < 2; i++) {
      const r = await admin.removePolicyManagementCertificate(RSA2_CERT, EC_KEY, EC_CERT);
      expect(r.body.certificateResolution === "IsAbsent", r.body.certificateResolution);
    }
  });
}

await dataPlane(AAD, AAD_TOKEN);
await dataPlane(ISO, ISO_TOKEN);
await controlPlaneAad();
await controlPlaneIsolated();
const failed = results.filter((r) => !r).length;
console.log(`js: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
