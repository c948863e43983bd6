// Verify an Attesta attestation token as a relying party, with `jose`.
//
//   NODE_EXTRA_CA_CERTS=attesta-data/tls/cert.pem \
//     node verify.mjs --issuer https://127.0.0.1:8443/providers/lab token.jwt
//
// The issuer is configured here, never taken from the token; its OpenID
// metadata must name exactly that issuer and a jwks_uri under it. Keys come
// from that jwks_uri (/certs) by `kid`, cached by jose's remote key set
// (refetched on an unknown kid at most once per cooldown); `jku`, `x5u`,
// `jwk` and `x5c` in the token header are never used. RS256 only, exp/nbf
// with 60 s tolerance, `iss` checked, and `x-ms-attestation-type` required
// (control-plane replies are signed by the same key but are not results).
// Exit 0 and the claims as JSON when valid; exit 1 with the reason when not.
// The server's CA comes from NODE_EXTRA_CA_CERTS, Node's own setting.

import { readFileSync } from "node:fs";
import { createRemoteJWKSet, jwtVerify } from "jose";

const keySets = new Map();

/** The remote key set of one configured issuer, made once and reused. */
async function issuerKeys(issuer) {
  if (keySets.has(issuer)) return keySets.get(issuer);
  const res = await fetch(`${issuer}/.well-known/openid-configuration`, { redirect: "error" });
  if (!res.ok) throw new Error(`OpenID metadata: HTTP ${res.status}`);
  const meta = await res.json();
  if (meta.issuer !== issuer) throw new Error(`the metadata names issuer ${meta.issuer}, not ${issuer}`);
  if (typeof meta.jwks_uri !== "string" || !meta.jwks_uri.startsWith(`${issuer}/`)) {
    throw new Error(`jwks_uri ${meta.jwks_uri} is outside the issuer`);
  }
  const keys = createRemoteJWKSet(new URL(meta.jwks_uri), {
    cacheMaxAge: 60 * 60 * 1000,
    cooldownDuration: 10 * 1000,
  });
  keySets.set(issuer, keys);
  return keys;
}

export async function verify(token, issuer) {
  issuer = issuer.replace(/\/+$/, "");
  if (!issuer.startsWith("https://")) throw new Error("the issuer must be an https:// URL");
  const keys = await issuerKeys(issuer);
  const { payload } = await jwtVerify(token, keys, {
    issuer,
    algorithms: ["RS256"],
    clockTolerance: 60,
    requiredClaims: ["exp", "iat", "iss"],
  });
  if (!("x-ms-attestation-type" in payload)) {
    throw new Error("not an attestation result (no x-ms-attestation-type)");
  }
  return payload;
}

async function main() {
  const args = process.argv.slice(2);
  const i = args.indexOf("--issuer");
  if (i < 0 || !args[i + 1]) {
    console.error("usage: node verify.mjs --issuer URL TOKEN_FILE");
    process.exit(2);
  }
  const issuer = args[i + 1];
  const file = args.filter((_, j) => j !== i && j !== i + 1)[0];
  const token = readFileSync(file, "ascii").trim();
  try {
    const claims = await verify(token, issuer);
    console.log(JSON.stringify(claims, null, 2));
  } catch (e) {
    console.error(`invalid token: ${e.code ?? e.name}: ${e.message}`);
    process.exit(1);
  }
}

await main();
