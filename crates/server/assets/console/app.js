// The Attesta console's script: calls the admin and control-plane API with
// the admin token (kept in sessionStorage, never elsewhere) and renders the
// answers as text (never as HTML), so no server data can run as script.
"use strict";

const API_VERSION = "2022-08-01";
const TOKEN_KEY = "attesta-admin-token";
const UNSIGNED_HEADER = "eyJhbGciOiJub25lIn0"; // b64url({"alg":"none"})

const $ = (id) => document.getElementById(id);

function adminToken() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

// fetch with the admin token; resolves to {status, body} where body is the
// parsed JSON (or null); an MAA error body becomes an Error with its text.
async function api(method, path, body, contentType) {
  const headers = { Authorization: "Bearer " + adminToken() };
  let payload;
  if (body !== undefined) {
    headers["Content-Type"] = contentType || "application/json";
    payload = typeof body === "string" ? body : JSON.stringify(body);
  }
  const resp = await fetch(path, { method, headers, body: payload, cache: "no-store" });
  const text = await resp.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch (_) {
    json = null;
  }
  if (!resp.ok) {
    const err = json && json.error ? json.error : { code: String(resp.status), message: text };
    const e = new Error(err.code + ": " + err.message);
    e.status = resp.status;
    e.code = err.code;
    throw e;
  }
  return json;
}

// base64url <-> bytes and UTF-8 text.
function b64urlFromBytes(bytes) {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
function b64urlFromText(text) {
  return b64urlFromBytes(new TextEncoder().encode(text));
}
function textFromB64url(s) {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}
// The claims of a JWT, for display of tokens the server just returned.
function jwtClaims(token) {
  return JSON.parse(textFromB64url(token.split(".")[1]));
}

function setStatus(el, text, ok) {
  el.textContent = text;
  el.classList.toggle("ok", ok === true);
  el.classList.toggle("bad", ok === false);
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  row.appendChild(td);
}

function fmtTime(unix) {
  return unix ? new Date(unix * 1000).toISOString() : "";
}

// ---- log in / out -------------------------------------------------------

async function logIn(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
  try {
    await api("GET", "/admin/providers");
  } catch (e) {
    sessionStorage.removeItem(TOKEN_KEY);
    const msg = e.status === 401 ? "That is not the admin token." : e.message;
    setStatus($("login-error"), msg, false);
    return;
  }
  $("login-error").textContent = "";
  $("admin-token").value = "";
  $("login").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = false;
  await loadProviders();
}

function logOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  $("app").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
}

function showTab(name) {
  for (const b of document.querySelectorAll("#tabs button")) {
    b.classList.toggle("active", b.dataset.tab === name);
  }
  for (const s of document.querySelectorAll("section.tab")) {
    s.hidden = s.id !== name;
  }
  if (name === "collateral") loadCollateral();
}

// ---- providers ----------------------------------------------------------

async function loadProviders() {
  const tbody = $("providers-table").querySelector("tbody");
  try {
    const { providers } = await api("GET", "/admin/providers");
    tbody.replaceChildren();
    for (const sel of [$("policy-provider"), $("attest-provider")]) {
      const keep = sel.value;
      sel.replaceChildren();
      for (const p of providers) {
        const o = document.createElement("option");
        o.value = p.name;
        o.textContent = p.name + (p.default ? " (default)" : "");
        sel.appendChild(o);
      }
      if (keep && providers.some((p) => p.name === keep)) sel.value = keep;
    }
    for (const p of providers) {
      const tr = document.createElement("tr");
      cell(tr, p.name + (p.default ? " (default)" : ""));
      cell(tr, p.trust_model);
      cell(tr, p.path);
      cell(tr, p.control_plane_tokens);
      cell(tr, (p.policy_certificates || []).join(", "));
      cell(tr, fmtTime(p.created_at));
      tbody.appendChild(tr);
    }
    $("providers-error").textContent = "";
  } catch (e) {
    $("providers-error").textContent = e.message;
  }
}

// ---- policy editor ------------------------------------------------------

function policyPath(suffix) {
  const p = encodeURIComponent($("policy-provider").value);
  const t = encodeURIComponent($("policy-type").value);
  return "/providers/" + p + "/policies/" + t + (suffix || "") + "?api-version=" + API_VERSION;
}

function updateGutter() {
  const lines = $("policy-text").value.split("\n").length;
  const nums = [];
  for (let i = 1; i <= lines; i++) nums.push(String(i));
  $("policy-gutter").textContent = nums.join("\n");
  $("policy-gutter").scrollTop = $("policy-text").scrollTop;
}

async function loadPolicy() {
  setStatus($("policy-save-result"), "", null);
  try {
    const { token } = await api("GET", policyPath());
    const jws = jwtClaims(token)["x-ms-policy"] || "";
    const payload = jws.split(".")[1];
    let text = "";
    if (payload) {
      const obj = JSON.parse(textFromB64url(payload));
      text = textFromB64url(obj.AttestationPolicy || obj.text || "");
    }
    $("policy-text").value = text;
    updateGutter();
    setStatus($("policy-save-result"), text ? "Loaded." : "No policy is set for this type.", true);
    await checkPolicy();
  } catch (e) {
    setStatus($("policy-save-result"), e.message, false);
  }
}

let checkSeq = 0;
async function checkPolicy() {
  const seq = ++checkSeq;
  const text = $("policy-text").value;
  const status = $("policy-status");
  if (!text.trim()) {
    setStatus(status, "", null);
    return;
  }
  try {
    const r = await api("POST", "/admin/policies:check", { policy: text });
    if (seq !== checkSeq) return; // a newer check is on its way
    if (r.valid) {
      status.dataset.line = "";
      const what = r.language === "rego" ? "Rego" : "MAA policy " + (r.version || "");
      setStatus(status, "Valid " + what.trim() + ".", true);
    } else {
      const e = r.error;
      const at = e.line ? "line " + e.line + (e.column ? ", column " + e.column : "") + ": " : "";
      setStatus(status, at + e.message, false);
      status.dataset.line = e.line || "";
      status.dataset.column = e.column || "";
    }
  } catch (e) {
    if (seq === checkSeq) setStatus(status, e.message, false);
  }
}

// Clicking an error puts the cursor at its line and column.
function goToError() {
  const status = $("policy-status");
  const line = Number(status.dataset.line || 0);
  if (!line || !status.classList.contains("bad")) return;
  const column = Number(status.dataset.column || 1);
  const lines = $("policy-text").value.split("\n");
  let offset = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) offset += lines[i].length + 1;
  // Columns count characters; JavaScript strings count UTF-16 units.
  const chars = Array.from(lines[line - 1] || "").slice(0, column - 1).join("");
  offset += chars.length;
  const area = $("policy-text");
  area.focus();
  area.setSelectionRange(offset, offset);
}

let checkTimer = null;
function scheduleCheck() {
  updateGutter();
  clearTimeout(checkTimer);
  checkTimer = setTimeout(checkPolicy, 300);
}

async function savePolicy() {
  const out = $("policy-save-result");
  const text = $("policy-text").value;
  // The unsigned JWS form MAA's clients send: {"AttestationPolicy": b64url(text)}.
  const jws = UNSIGNED_HEADER + "." + b64urlFromText(JSON.stringify({ AttestationPolicy: b64urlFromText(text) })) + ".";
  try {
    const { token } = await api("PUT", policyPath(), jws, "text/plain");
    const c = jwtClaims(token);
    setStatus(out, "Saved (" + c["x-ms-policy-result"] + "; policy token hash " + c["x-ms-policy-token-hash"] + ").", true);
  } catch (e) {
    setStatus(out, "Not saved: " + e.message, false);
  }
}

async function resetPolicy() {
  const out = $("policy-save-result");
  try {
    await api("POST", policyPath(":reset"), "", "text/plain");
    setStatus(out, "Reset: the type's default policy applies.", true);
    await loadPolicy();
  } catch (e) {
    setStatus(out, "Not reset: " + e.message, false);
  }
}

async function dryRun() {
  const out = $("dryrun-result");
  let claims;
  try {
    claims = JSON.parse($("dryrun-claims").value);
  } catch (e) {
    out.textContent = "The claims are not JSON: " + e.message;
    return;
  }
  try {
    const r = await api("POST", "/admin/policies:dryrun", { policy: $("policy-text").value, claims });
    out.textContent = (r.permit ? "PERMIT" : "DENY: " + r.reason) + "\n" + JSON.stringify(r, null, 2);
  } catch (e) {
    out.textContent = e.message;
  }
}

// Standard token claims that are not incoming claims of an evaluation.
const TOKEN_ONLY = ["iss", "iat", "nbf", "exp", "jti", "nonce", "x-ms-ver", "x-ms-policy-hash", "x-ms-attestation-type", "x-ms-runtime", "x-ms-inittime"];
let inspectedClaims = null;

function claimsFromToken() {
  if (!inspectedClaims) {
    $("dryrun-result").textContent = "Inspect a token first (Token inspector).";
    return;
  }
  const incoming = {};
  for (const [k, v] of Object.entries(inspectedClaims)) {
    if (!TOKEN_ONLY.includes(k)) incoming[k] = v;
  }
  $("dryrun-claims").value = JSON.stringify(incoming, null, 2);
}

// ---- attest -------------------------------------------------------------

let lastToken = null;

async function evidenceFile() {
  const f = $("attest-file").files[0];
  if (!f) return;
  const bytes = new Uint8Array(await f.arrayBuffer());
  const field = ["SgxEnclave", "TdxVm"].includes($("attest-type").value) ? "quote" : "report";
  let body = {};
  try {
    body = JSON.parse($("attest-body").value || "{}");
  } catch (_) {
    body = {};
  }
  delete body.quote;
  delete body.report;
  body[field] = b64urlFromBytes(bytes);
  $("attest-body").value = JSON.stringify(body, null, 2);
}

async function attest() {
  const out = $("attest-result");
  $("attest-inspect").disabled = true;
  const p = encodeURIComponent($("attest-provider").value);
  const t = encodeURIComponent($("attest-type").value);
  try {
    const r = await api("POST", "/providers/" + p + "/attest/" + t + "?api-version=" + API_VERSION, $("attest-body").value);
    lastToken = r.token;
    out.textContent = "Accepted.\n" + r.token;
    $("attest-inspect").disabled = false;
  } catch (e) {
    out.textContent = "Refused: " + e.message;
  }
}

// ---- token inspector ----------------------------------------------------

async function inspect() {
  const sig = $("token-signature");
  $("token-header").textContent = "";
  $("token-claims").textContent = "";
  inspectedClaims = null;
  try {
    const r = await api("POST", "/admin/tokens:inspect", { token: $("token-input").value.trim() });
    $("token-header").textContent = JSON.stringify(r.header, null, 2);
    $("token-claims").textContent = JSON.stringify(r.claims, null, 2);
    inspectedClaims = r.claims;
    const s = r.signature;
    if (s.valid) {
      const times = s.time_valid ? "" : " (" + s.message + ")";
      setStatus(sig, "Signature valid: provider " + s.provider + ", key " + s.kid + times, s.time_valid);
    } else {
      setStatus(sig, "Signature NOT valid: " + s.message, false);
    }
  } catch (e) {
    setStatus(sig, e.message, false);
  }
}

// ---- collateral ---------------------------------------------------------

async function loadCollateral() {
  const tbody = $("collateral-table").querySelector("tbody");
  try {
    const { entries } = await api("GET", "/admin/collateral?limit=500");
    tbody.replaceChildren();
    for (const e of entries) {
      const tr = document.createElement("tr");
      cell(tr, e.type);
      cell(tr, e.fmspc || e.product || "");
      cell(tr, e.root ? JSON.stringify(e.root) : "");
      cell(tr, e.source || "");
      cell(tr, e.issueDate || "");
      cell(tr, e.nextUpdate || "");
      cell(tr, e.fetchedAt || "");
      // Past its nextUpdate, collateral is used only within a provider's
      // collateral grace, and /readyz reports it once beyond the maximum.
      const next = e.nextUpdate ? Date.parse(e.nextUpdate) : NaN;
      cell(tr, isNaN(next) ? "" : next > Date.now() ? "current" : "past nextUpdate");
      tr.classList.toggle("stale", !isNaN(next) && next <= Date.now());
      tbody.appendChild(tr);
    }
    $("collateral-error").textContent = entries.length ? "" : "No collateral is cached.";
  } catch (e) {
    $("collateral-error").textContent = e.message;
  }
}

// ---- wiring -------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    logIn($("admin-token").value.trim());
  });
  $("logout").addEventListener("click", logOut);
  for (const b of document.querySelectorAll("#tabs button")) {
    b.addEventListener("click", () => showTab(b.dataset.tab));
  }
  $("providers-refresh").addEventListener("click", loadProviders);
  $("policy-load").addEventListener("click", loadPolicy);
  $("policy-text").addEventListener("input", scheduleCheck);
  $("policy-text").addEventListener("scroll", updateGutter);
  $("policy-status").addEventListener("click", goToError);
  $("policy-save").addEventListener("click", savePolicy);
  $("policy-reset").addEventListener("click", resetPolicy);
  $("dryrun-run").addEventListener("click", dryRun);
  $("dryrun-from-token").addEventListener("click", claimsFromToken);
  $("attest-file").addEventListener("change", evidenceFile);
  $("attest-run").addEventListener("click", attest);
  $("attest-inspect").addEventListener("click", () => {
    $("token-input").value = lastToken || "";
    showTab("inspector");
    inspect();
  });
  $("token-inspect").addEventListener("click", inspect);
  $("collateral-refresh").addEventListener("click", loadCollateral);
  if (adminToken()) logIn(adminToken());
});
