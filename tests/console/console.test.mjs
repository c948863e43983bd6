// The Attesta web console in headless Chromium (Debian's package through
// playwright-core's executablePath): log in, edit a policy with a syntax
// error (the error shown at its line and column), fix it, save it, dry-run
// it, attest a sample, inspect the token, list collateral, log out.
//
// Run by run.sh, which starts the server and passes: CONSOLE_URL,
// CONSOLE_CA (the server's self-signed certificate, trusted by its public
// key hash and nothing else), CONSOLE_ADMIN_TOKEN, CONSOLE_QUOTE (a sample
// SGX quote accepted by provider `lab`), CONSOLE_WORK (where a failure's
// screenshot goes) and CHROMIUM.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set; run tests/console/run.sh`);
  return v;
};
const url = env("CONSOLE_URL");
const admin = env("CONSOLE_ADMIN_TOKEN");
const quote = env("CONSOLE_QUOTE");
const work = env("CONSOLE_WORK");
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

// Chromium trusts the test server's certificate by its public key only.
const spki = new X509Certificate(readFileSync(env("CONSOLE_CA")))
  .publicKey.export({ type: "spki", format: "der" });
const spkiHash = createHash("sha256").update(spki).digest("base64");

// The policy the test types: permits non-debuggable enclaves and issues a
// claim the token must then carry.
const GOOD = `version=1.0;
authorizationrules
{
    c:[type=="x-ms-sgx-is-debuggable", value==false] => permit();
};
issuancerules
{
    => issue(type="console-check", value="saved-in-console");
};
`;
// The same with the ';' after permit() on line 4 missing: the parser meets
// the '}' at line 5, column 1.
const BROKEN = GOOD.replace("permit();", "permit()");

const TIMEOUT = 15000;

test("the console: log in, edit, check, save, dry-run, attest, inspect", async () => {
  const args = [`--ignore-certificate-errors-spki-list=${spkiHash}`];
  if (process.getuid && process.getuid() === 0) args.push("--no-sandbox");
  const browser = await chromium.launch({ executablePath, headless: true, args });
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  // Any script error or CSP violation fails the test.
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    // A refused log-in is a 401 the browser reports on the console; the
    // test provokes exactly one.
    if (m.type() === "error" && !m.text().includes("401")) problems.push(`console: ${m.text()}`);
  });
  // Every answer but the one refused log-in is a success.
  page.on("response", (r) => {
    const refusedLogIn = r.status() === 401 && r.url().endsWith("/admin/providers");
    if (r.status() >= 400 && !refusedLogIn) problems.push(`HTTP ${r.status()} for ${r.url()}`);
  });
  const text = (sel) => page.locator(sel).textContent();
  try {
    const resp = await page.goto(`${url}/console`);
    assert.equal(resp.status(), 200);
    assert.match(resp.headers()["content-security-policy"], /script-src 'self'/);

    // Log in: a wrong token is refused, the admin token accepted.
    await page.fill("#admin-token", "not-the-admin-token");
    await page.click("#login-button");
    await page.locator("#login-error").filter({ hasText: "not the admin token" }).waitFor();
    assert.equal(await page.locator("#app").isHidden(), true);
    await page.fill("#admin-token", admin);
    await page.click("#login-button");
    await page.locator("#app").waitFor({ state: "visible" });
    await page.locator("#providers-table tbody tr", { hasText: "lab" }).waitFor();
    assert.match(await text("#providers-table"), /default/);
    // The token is in this tab's sessionStorage only.
    assert.equal(await page.evaluate(() => sessionStorage.getItem("attesta-admin-token")), admin);
    assert.equal(await page.evaluate(() => localStorage.length), 0);

    // Policy editor: load lab's SgxEnclave policy (the default), type a
    // policy with a syntax error, see it at line 5, column 1.
    await page.click("#tabs button[data-tab=policies]");
    await page.selectOption("#policy-provider", "lab");
    await page.selectOption("#policy-type", "SgxEnclave");
    await page.click("#policy-load");
    await page.locator("#policy-status").filter({ hasText: "Valid MAA policy" }).waitFor();
    assert.match(await page.inputValue("#policy-text"), /version/);
    await page.fill("#policy-text", BROKEN);
    const status = page.locator("#policy-status");
    await status.filter({ hasText: /^line 5, column 1: / }).waitFor();
    assert.match(await status.textContent(), /'\}'/);
    assert.equal(await status.getAttribute("class"), "status bad");
    assert.equal((await text("#policy-gutter")).split("\n").length, BROKEN.split("\n").length);
    // Clicking the error puts the cursor at line 5, column 1.
    await status.click();
    const caret = await page.evaluate(() => document.getElementById("policy-text").selectionStart);
    assert.equal(caret, BROKEN.split("\n").slice(0, 4).join("\n").length + 1);
    assert.equal(BROKEN.slice(caret, caret + 2), "};");

    // Fix it: the check turns valid; save it.
    await page.fill("#policy-text", GOOD);
    await status.filter({ hasText: "Valid MAA policy 1.0." }).waitFor();
    await page.click("#policy-save");
    await page.locator("#policy-save-result").filter({ hasText: /^Saved \(Updated; policy token hash / }).waitFor();
    // Saved on the server: loading it again shows the new text.
    await page.fill("#policy-text", "");
    await page.click("#policy-load");
    await page.locator("#policy-save-result").filter({ hasText: "Loaded." }).waitFor();
    assert.equal(await page.inputValue("#policy-text"), GOOD);

    // Dry run over pasted claims: a debuggable enclave is denied, a
    // production one permitted with the policy's claim.
    await page.fill("#dryrun-claims", '{"x-ms-sgx-is-debuggable": true}');
    await page.click("#dryrun-run");
    await page.locator("#dryrun-result").filter({ hasText: /^DENY: / }).waitFor();
    await page.fill("#dryrun-claims", '{"x-ms-sgx-is-debuggable": false}');
    await page.click("#dryrun-run");
    await page.locator("#dryrun-result").filter({ hasText: /^PERMIT/ }).waitFor();
    assert.match(await text("#dryrun-result"), /"console-check": "saved-in-console"/);

    // Attest the sample quote in the console.
    await page.click("#tabs button[data-tab=attest]");
    await page.selectOption("#attest-provider", "lab");
    await page.selectOption("#attest-type", "SgxEnclave");
    await page.setInputFiles("#attest-file", quote);
    await page.waitForFunction(() => document.getElementById("attest-body").value.includes('"quote"'));
    const body = JSON.parse(await page.inputValue("#attest-body"));
    assert.equal(Buffer.from(body.quote, "base64url").equals(readFileSync(quote)), true);
    await page.click("#attest-run");
    await page.locator("#attest-result").filter({ hasText: /^Accepted\./ }).waitFor();

    // Inspect the token: its claims, the saved policy's claim among them,
    // and a signature that verifies with lab's key.
    await page.click("#attest-inspect");
    await page.locator("#inspector").waitFor({ state: "visible" });
    const sig = page.locator("#token-signature");
    await sig.filter({ hasText: /^Signature valid: provider lab, key / }).waitFor();
    assert.equal(await sig.getAttribute("class"), "status ok");
    const claims = JSON.parse(await text("#token-claims"));
    assert.equal(claims["console-check"], "saved-in-console");
    assert.equal(claims["x-ms-attestation-type"], "sgx");
    assert.equal(claims["x-ms-sgx-is-debuggable"], false);
    assert.equal(claims["x-attesta-test-root"], true);
    assert.equal(claims.iss, `${url}/providers/lab`);
    const header = JSON.parse(await text("#token-header"));
    assert.equal(header.alg, "RS256");
    assert.match(await sig.textContent(), new RegExp(`key ${header.kid}$`));

    // A changed claim breaks the signature, and the inspector says so.
    const token = await page.inputValue("#token-input");
    const [h, p, s] = token.split(".");
    const forged = JSON.parse(Buffer.from(p, "base64url").toString());
    forged["console-check"] = "forged";
    await page.fill("#token-input", [h, Buffer.from(JSON.stringify(forged)).toString("base64url"), s].join("."));
    await page.click("#token-inspect");
    await sig.filter({ hasText: /^Signature NOT valid: / }).waitFor();
    assert.equal(await sig.getAttribute("class"), "status bad");
    assert.match(await text("#token-claims"), /"forged"/);

    // The recent verification as dry-run input: the claims of the real token.
    await page.fill("#token-input", token);
    await page.click("#token-inspect");
    await sig.filter({ hasText: /^Signature valid/ }).waitFor();
    await page.click("#tabs button[data-tab=policies]");
    await page.click("#dryrun-from-token");
    assert.match(await page.inputValue("#dryrun-claims"), /"x-ms-sgx-mrenclave"/);
    await page.click("#dryrun-run");
    await page.locator("#dryrun-result").filter({ hasText: /^PERMIT/ }).waitFor();

    // Collateral status: the imported SGX collateral is listed.
    await page.click("#tabs button[data-tab=collateral]");
    const row = page.locator("#collateral-table tbody tr", { hasText: "sgx-collateral" });
    await row.first().waitFor();
    const cells = await row.first().locator("td").allTextContents();
    assert.equal(cells[0], "sgx-collateral");
    assert.equal(cells[3], "imported");
    assert.equal(cells[7], "current");

    // Log out: the token leaves sessionStorage.
    await page.click("#logout");
    await page.locator("#login").waitFor({ state: "visible" });
    assert.equal(await page.evaluate(() => sessionStorage.getItem("attesta-admin-token")), null);

    assert.deepEqual(problems, []);
  } catch (e) {
    const shot = join(work, "console-failure.png");
    await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
    console.error(`screenshot: ${shot}`);
    if (problems.length) console.error(problems.join("\n"));
    throw e;
  } finally {
    await browser.close();
  }
});
