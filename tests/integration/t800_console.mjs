// t800_console.mjs - the web console in a real browser: playwright-core
// (web/package-lock.json) driving Debian's /usr/bin/chromium headless
// against the real binary on 127.0.0.1, started here with its own data
// directory and a short visibility / backoff so FAIL-ME dead-letters fast.
//
// Scenarios: security headers and CSP (and no CSP violation while the pages
// run), the first load's size against LIMIT_CONSOLE_FIRST_LOAD_BYTES_MAX; a
// valid order reaches COMPLETED on the orders page without a reload; FAIL-ME
// reaches the DLQ browser after its retries, is redriven from there (the
// count is shown) and its order gets new attempts; browser-side and
// server-side validation messages at the right fields; a restock changes
// "available"; the live indicator falls back to polling when streams are
// refused; keyboard and 360 px; axe-core on every page (0 serious or
// critical violations); screenshots of every page, light and dark, and one
// at 360 px, under build/console-screenshots/.
//
// Run: node tests/integration/t800_console.mjs (ORDERLY_BIN, ORDERLY_SRC as
// for the Python tests).  Prints "N passed, N failed" last.
import { spawn, spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SRC = process.env.ORDERLY_SRC || path.resolve(HERE, "..", "..");
const BIN = process.env.ORDERLY_BIN || path.join(SRC, "build", "orderly");
const CHROMIUM = process.env.ORDERLY_CHROMIUM || "/usr/bin/chromium";
const SHOTS = process.env.ORDERLY_SCREENSHOTS || path.join(path.dirname(BIN), "console-screenshots");
const CI = process.env.CI === "true";

const require = createRequire(path.join(SRC, "web", "package.json"));

// ---- prerequisites ------------------------------------------------------------

function missing() {
  const why = [];
  if (!fs.existsSync(CHROMIUM)) why.push(CHROMIUM + " (Debian package chromium; scripts/install-deps.sh)");
  try {
    require.resolve("playwright-core");
    require.resolve("axe-core");
  } catch {
    why.push("web/node_modules (npm ci in web/, which the build runs)");
  }
  return why;
}

const lacking = missing();
if (lacking.length) {
  console.log("t800_console: missing " + lacking.join(", "));
  if (CI) {
    console.log("0 passed, 1 failed");
    process.exit(1);
  }
  console.log("0 passed, 0 failed, 1 skipped");
  process.exit(0);
}
const { chromium } = require("playwright-core");
const AXE = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const LIMITS = fs.readFileSync(path.join(SRC, "src", "lib", "limits.h"), "utf8");
const FIRST_LOAD_MAX = +LIMITS.match(/#define LIMIT_CONSOLE_FIRST_LOAD_BYTES_MAX\s+(\d+)/)[1];
const STREAMS_MAX = +LIMITS.match(/#define LIMIT_STREAMS_MAX\s+(\d+)/)[1];
const ADMIN_USER = process.env.ORDERLY_ADMIN_USER || "admin";
const ADMIN_PASSWORD = "t800-admin-Secret-1";

// ---- the server -----------------------------------------------------------------

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Server {
  constructor(env) {
    this.env = env;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "orderly-t800-"));
  }
  async start() {
    // the shipped configuration, whole (the built-in topology + config/orderly.json)
    const printed = spawnSync(BIN, ["serve", "--env", "shipped", "--config", path.join(SRC, "config", "orderly.json"), "--print-config"]);
    if (printed.status !== 0) throw new Error("--print-config: " + printed.stderr);
    const cfg = JSON.parse(printed.stdout.toString());
    delete cfg.env;
    delete cfg.db;
    cfg.orders.catalog = path.join(SRC, "config", "catalog.json");
    // every browser context signs in: more than the default 5 logins a minute
    if (cfg.auth) cfg.auth.loginAttemptsPerMinute = 1000;
    for (const q of cfg.queues) if (q.attributes?.RedrivePolicy) q.attributes.VisibilityTimeout = 2;
    for (const f of cfg.functions) f.backoff = { baseMs: 50, maxMs: 200 };
    fs.writeFileSync(path.join(this.dir, "config.json"), JSON.stringify(cfg));
    this.port = await freePort();
    this.base = "http://127.0.0.1:" + this.port;
    const log = fs.openSync(path.join(this.dir, "server.log"), "a");
    this.proc = spawn(
      BIN,
      ["serve", "--env", this.env, "--listen", "127.0.0.1:" + this.port, "--db", path.join(this.dir, this.env + ".db"),
       "--config", path.join(this.dir, "config.json"), "--log-level", "warn"],
      { stdio: ["ignore", log, log], env: { ...process.env, ORDERLY_ADMIN_PASSWORD: ADMIN_PASSWORD } },
    );
    const end = Date.now() + 15000;
    while (Date.now() < end) {
      if (this.proc.exitCode !== null) throw new Error("server exited: " + this.logTail());
      try {
        if ((await fetch(this.base + "/ready")).status === 200) return await this.signIn();
      } catch {}
      await sleep(50);
    }
    throw new Error("server not ready: " + this.logTail());
  }
  // accounts (issue 9): with them every /api call needs a token; without
  // them /api/me is unknown (404) and everything is open
  async signIn() {
    const me = await fetch(this.base + "/api/me");
    this.auth = me.status !== 404;
    if (this.auth) {
      const r = await fetch(this.base + "/api/login", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: ADMIN_USER, password: ADMIN_PASSWORD }),
      });
      if (r.status !== 200) throw new Error("admin sign-in: " + r.status + " " + (await r.text()));
      this.token = (await r.json()).accessToken;
    }
    return this;
  }
  logTail() {
    try {
      return fs.readFileSync(path.join(this.dir, "server.log"), "utf8").split("\n").slice(-20).join("\n");
    } catch {
      return "";
    }
  }
  async api(method, p, body) {
    const headers = body === undefined ? {} : { "Content-Type": "application/json" };
    if (this.token) headers.Authorization = "Bearer " + this.token;
    const r = await fetch(this.base + p, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {}
    return { status: r.status, headers: r.headers, json, text };
  }
  async ok(method, p, body, want = 200) {
    const r = await this.api(method, p, body);
    if (r.status !== want) throw new Error(`${method} ${p}: ${r.status} ${r.text.slice(0, 300)}`);
    return r.json;
  }
  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return this.proc?.exitCode;
    this.proc.kill("SIGTERM");
    const end = Date.now() + 20000;
    while (this.proc.exitCode === null && Date.now() < end) await sleep(20);
    if (this.proc.exitCode === null) this.proc.kill("SIGKILL");
    return this.proc.exitCode;
  }
  cleanup() {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---- helpers ---------------------------------------------------------------------

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}
function eq(got, want, what) {
  if (JSON.stringify(got) !== JSON.stringify(want))
    throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}
async function waitFor(what, fn, timeout = 30000, interval = 200) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await sleep(interval);
  }
  throw new Error(`timed out after ${timeout} ms waiting for ${what} (last ${JSON.stringify(last)})`);
}

let uniqSeq = 0;
const uniq = (p) => `${p}-${Date.now() % 1e9}-${++uniqSeq}`;

const PAGES = [
  ["dashboard", "/"],
  ["orders", "/orders"],
  ["order", null], // filled with a real order id
  ["new-order", "/new"],
  ["inventory", "/inventory"],
  ["queues", "/queues"],
  ["dlq", null],
  ["events", "/events"],
  ["rules", "/rules"],
  ["alarms", "/alarms"],
  ["users", "/users"],
  ["api-keys", "/keys"],
  ["audit", "/audit"],
];

// ---- the browser ----------------------------------------------------------------

let browser;
const violations = []; // CSP violations and page errors seen anywhere

/* A browser context, signed in (as admin unless `as` names another user)
 * when the server has accounts: POST /api/login with "session": true sets
 * the HttpOnly session cookies in the context. */
async function newPage(ctxOpts = {}, as = { username: ADMIN_USER, password: ADMIN_PASSWORD }) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...ctxOpts });
  if (srv.auth && as) {
    const r = await ctx.request.post(srv.base + "/api/login", {
      data: { username: as.username, password: as.password, session: true },
      headers: { Origin: srv.base },
    });
    if (r.status() !== 200) throw new Error("sign-in of " + as.username + ": " + r.status() + " " + (await r.text()));
  }
  const page = await ctx.newPage();
  page.on("pageerror", (e) => violations.push("page error: " + e.message));
  page.on("console", (m) => {
    const t = m.text();
    if (/Content Security Policy|Refused to/.test(t)) violations.push("console: " + t);
  });
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      (window.__csp = window.__csp || []).push(e.violatedDirective + " " + e.blockedURI);
    });
  });
  return { ctx, page };
}

async function cspOf(page) {
  return page.evaluate(() => window.__csp || []);
}

async function axe(page, what) {
  await page.evaluate(AXE);
  const res = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help, target: v.nodes[0]?.target }));
  });
  const bad = res.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(!bad.length, `${what}: axe found ${bad.length} serious/critical violations: ${JSON.stringify(bad)}`);
  return res;
}

// ---- scenarios ---------------------------------------------------------------------

let srv;
const state = {};

async function test_security_headers_and_first_load_size() {
  const r = await fetch(srv.base + "/", { headers: { "Accept-Encoding": "gzip" } });
  eq(r.status, 200, "GET /");
  const h = r.headers;
  const csp = h.get("content-security-policy") || "";
  for (const d of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"])
    check(csp.includes(d), "CSP has " + d + ": " + csp);
  check(!/unsafe-inline|unsafe-eval/.test(csp), "CSP allows no inline script or eval: " + csp);
  eq(h.get("x-content-type-options"), "nosniff", "X-Content-Type-Options");
  eq(h.get("referrer-policy"), "no-referrer", "Referrer-Policy");
  eq(h.get("x-frame-options"), "DENY", "X-Frame-Options");
  check((h.get("permissions-policy") || "").includes("camera=()"), "Permissions-Policy");
  eq(h.get("cache-control"), "no-cache", "index.html is revalidated");
  const html = await r.text();
  check(!/<script(?![^>]*\bsrc=)[^>]*>/.test(html), "no inline script in index.html");
  // the first load: every JS and CSS file index.html names, as sent gzipped
  const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]);
  check(assets.length >= 1, "index.html loads assets");
  let total = 0;
  for (const a of assets) {
    const res = await new Promise((resolve, reject) => {
      http.get(srv.base + a, { headers: { "Accept-Encoding": "gzip" } }, (resp) => {
        let n = 0;
        resp.on("data", (c) => (n += c.length));
        resp.on("end", () => resolve({ status: resp.statusCode, headers: resp.headers, bytes: n }));
      }).on("error", reject);
    });
    eq(res.status, 200, a);
    eq(res.headers["content-encoding"], "gzip", a + " sent gzipped");
    eq(res.headers["cache-control"], "public, max-age=31536000, immutable", a + " cached for a year");
    check(res.headers["content-security-policy"], a + " has the CSP");
    total += res.bytes;
  }
  console.log(`  first load: ${total} bytes of JS+CSS gzipped (${assets.join(", ")}), limit ${FIRST_LOAD_MAX}`);
  check(total <= FIRST_LOAD_MAX, `first load ${total} bytes > LIMIT_CONSOLE_FIRST_LOAD_BYTES_MAX ${FIRST_LOAD_MAX}`);
  check(total > 1000, "the bundle is the real one (built with node), not the placeholder");
}

async function test_valid_order_reaches_completed_without_reload() {
  const sku = uniq("t800");
  await srv.ok("POST", "/api/products", { sku, name: "Browser test", priceCents: 1250, stock: 1000 }, 201);
  const { page, ctx } = await newPage();
  await page.goto(srv.base + "/new");
  await page.evaluate(() => (window.__noReload = true));
  await page.getByLabel("Customer id").fill("browser-c");
  await page.getByLabel("SKU of item 1").fill(sku);
  await page.getByLabel("Quantity of item 1").fill("2");
  await page.getByRole("button", { name: "Submit order" }).click();
  const result = page.getByTestId("order-result");
  await result.waitFor();
  const orderId = (await result.locator("a").first().textContent()).trim();
  check(/^[0-9a-f-]{36}$/.test(orderId), "an order id in the answer: " + orderId);
  check((await result.textContent()).includes("eventId"), "the answer shows the eventId");
  // to the orders page by the navigation (no reload): the row goes live to COMPLETED
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Orders" }).click();
  const row = page.locator(`tr[data-order="${orderId}"]`);
  await row.waitFor({ timeout: 15000 });
  await waitFor("COMPLETED in the row", async () => (await row.textContent()).includes("COMPLETED"), 20000);
  // a second order created meanwhile (by the API) appears and completes live
  const second = await srv.ok("POST", "/api/orders", { customerId: "browser-c2", items: [{ sku, qty: 1 }] }, 202);
  const row2 = page.locator(`tr[data-order="${second.orderId}"]`);
  await row2.waitFor({ timeout: 15000 });
  await waitFor("second order COMPLETED live", async () => (await row2.textContent()).includes("COMPLETED"), 20000);
  check(await page.evaluate(() => window.__noReload === true), "the page was not reloaded");
  eq(await page.locator(".live").first().getAttribute("data-live"), "live", "the live indicator");
  state.orderId = orderId;
  state.sku = sku;
  await ctx.close();
}

async function test_fail_me_to_dlq_browser_and_redrive() {
  const { page, ctx } = await newPage();
  await page.goto(srv.base + "/new");
  await page.getByLabel("Customer id").fill("fail-c");
  await page.getByLabel("SKU of item 1").fill("FAIL-ME");
  await page.getByRole("button", { name: "Submit order" }).click();
  const result = page.getByTestId("order-result");
  await result.waitFor();
  const orderId = (await result.locator("a").first().textContent()).trim();
  // its retries: FAILED (dead-lettered) after 5 attempts
  await waitFor("FAILED", async () => (await srv.ok("GET", "/api/orders/" + orderId)).status === "FAILED", 40000);
  const dlq = srv.env + "-orders-dlq";
  state.dlq = dlq;
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Queues" }).click();
  await page.locator(`tr[data-queue="${srv.env}-orders"]`).waitFor();
  await page.getByRole("link", { name: dlq }).first().click();
  const row = page.locator("tr", { has: page.getByRole("link", { name: orderId }) });
  await row.waitFor({ timeout: 15000 });
  check((await row.textContent()).includes(srv.env + "-orders"), "the message's source queue is shown");
  await row.getByRole("checkbox").check();
  await page.getByRole("button", { name: /Redrive selected \(1\)/ }).click();
  const notice = page.getByRole("status").filter({ hasText: "Redrive (selected)" });
  await notice.waitFor();
  check((await notice.textContent()).includes("1 message moved back"), "the count is shown: " + (await notice.textContent()));
  await waitFor("row gone from the DLQ browser", async () => (await page.locator("tr", { has: page.getByRole("link", { name: orderId }) }).count()) === 0, 10000);
  // the order's new attempts, on its page
  await page.goto(srv.base + "/orders/" + orderId);
  await waitFor("more than 5 attempts", async () => +(await page.getByTestId("attempts").textContent()) > 5, 40000);
  state.failedOrder = orderId;
  await ctx.close();
}

async function test_validation_messages_at_the_fields() {
  const { page, ctx } = await newPage();
  await page.goto(srv.base + "/new");
  await page.getByLabel("Customer id").fill("");
  await page.getByLabel("SKU of item 1").fill("bad sku!");
  await page.getByLabel("Quantity of item 1").fill("0");
  await page.getByRole("button", { name: "Add item" }).click();
  await page.getByLabel("SKU of item 2").fill("bad sku!".replace(" ", "_").replace("!", ""));
  await page.getByRole("button", { name: "Submit order" }).click();
  const customer = page.getByLabel("Customer id");
  eq(await customer.getAttribute("aria-invalid"), "true", "customer marked invalid (browser)");
  const errOf = async (label) => {
    const el = page.getByLabel(label);
    const ids = (await el.getAttribute("aria-describedby")) || "";
    const err = ids.split(" ").find((i) => i.endsWith("-err"));
    return err ? (await page.locator("#" + err).textContent()).trim() : "";
  };
  check((await errOf("Customer id")).includes("1-64"), "browser: customerId message at its field");
  check((await errOf("SKU of item 1")).includes("allowed"), "browser: sku message at item 1: " + (await errOf("SKU of item 1")));
  check((await errOf("Quantity of item 1")).includes("between 1 and 10000"), "browser: qty message at item 1");
  eq(await errOf("SKU of item 2"), "", "item 2's sku is fine");
  // the server's own checks, shown at the same fields
  await page.getByLabel("Check in the browser first").uncheck();
  await page.getByLabel("Customer id").fill("c-ok");
  await page.getByRole("button", { name: "Submit order" }).click();
  await waitFor("server errors", async () => (await errOf("Quantity of item 1")).includes("got 0"), 10000);
  check((await errOf("Quantity of item 1")).includes("must be between 1 and 10000, got 0"), "server: qty message at item 1: " + (await errOf("Quantity of item 1")));
  check((await errOf("SKU of item 1")).includes("invalid character ' ' at position 3"), "server: sku message at item 1: " + (await errOf("SKU of item 1")));
  eq(await errOf("Customer id"), "", "no customer error now");
  eq(await page.getByTestId("order-result").count(), 0, "no order created");
  await ctx.close();
}

async function test_restock_changes_available() {
  const sku = uniq("restock");
  await srv.ok("POST", "/api/products", { sku, name: "Restock me", priceCents: 500, stock: 3 }, 201);
  const { page, ctx } = await newPage();
  await page.goto(srv.base + "/inventory");
  const row = page.locator(`tr[data-sku="${sku}"]`);
  await row.waitFor();
  eq((await row.locator('[data-col="available"]').textContent()).trim().replace("low", ""), "3", "available before");
  check(await row.evaluate((r) => r.classList.contains("low")), "low stock highlighted");
  await page.getByLabel("New stock of " + sku).fill("250");
  await row.getByRole("button", { name: "Restock " + sku }).click();
  await waitFor("available 250", async () => (await row.locator('[data-col="available"]').textContent()).trim() === "250", 10000);
  check(!(await row.evaluate((r) => r.classList.contains("low"))), "no longer low");
  eq((await srv.ok("GET", "/api/products/" + sku)).available, 250, "the server agrees");
  await ctx.close();
}

async function test_function_pause_resume_drain_buttons() {
  const fn = "notification-processor";
  const { page, ctx } = await newPage();
  await page.goto(srv.base + "/rules");
  const row = page.locator(`tr[data-function="${fn}"]`);
  await row.waitFor();
  eq((await row.locator('[data-col="state"]').textContent()).trim(), "enabled", "state before");
  await row.getByRole("button", { name: "Pause " + fn }).click();
  await waitFor("paused in the page", async () => (await row.locator('[data-col="state"]').textContent()).includes("paused"), 10000);
  eq((await srv.ok("GET", "/api/functions/" + fn)).state, "paused", "the server agrees: paused");
  await row.getByRole("button", { name: "Drain " + fn }).click();
  await page.getByRole("status").filter({ hasText: `Drained ${fn}` }).waitFor();
  eq((await srv.ok("GET", "/api/functions/" + fn)).state, "paused", "a drain leaves it paused");
  await row.getByRole("button", { name: "Resume " + fn }).click();
  await waitFor("enabled in the page", async () => (await row.locator('[data-col="state"]').textContent()).includes("enabled"), 10000);
  eq((await srv.ok("GET", "/api/functions/" + fn)).state, "enabled", "the server agrees: enabled");
  await ctx.close();
  if (srv.auth) { // a viewer gets no control
    const v = await user("viewer");
    const vp = await newPage({}, v);
    await vp.page.goto(srv.base + "/rules");
    await vp.page.locator(`tr[data-function="${fn}"]`).waitFor();
    eq(await vp.page.getByRole("button", { name: /^(Pause|Resume|Drain) / }).count(), 0, "a viewer sees no function control");
    await vp.ctx.close();
  }
}

async function test_keyboard_and_360px() {
  const { page, ctx } = await newPage({ viewport: { width: 360, height: 740 } });
  await page.goto(srv.base + "/orders");
  await page.locator("table").first().waitFor();
  await page.keyboard.press("Tab");
  eq(await page.evaluate(() => document.activeElement?.textContent), "Skip to content", "Tab reaches the skip link first");
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  check(outline !== "none", "focus is visible: outline " + outline);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, "no horizontal page overflow at 360 px: " + overflow);
  const menu = page.getByRole("button", { name: "Menu" });
  check(await menu.isVisible(), "a menu button at 360 px");
  await menu.focus();
  await page.keyboard.press("Enter");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Inventory" }).click();
  await page.locator("table").first().waitFor();
  eq(new URL(page.url()).pathname, "/inventory", "navigated by keyboard and the menu");
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, "inventory-360px.png"), fullPage: true });
  await page.goto(srv.base + "/");
  await page.locator(".chart").first().waitFor();
  await page.screenshot({ path: path.join(SHOTS, "dashboard-360px.png"), fullPage: true });
  await ctx.close();
}

async function test_dark_mode_toggle() {
  const { page, ctx } = await newPage({ colorScheme: "dark" });
  await page.goto(srv.base + "/orders");
  eq(await page.evaluate(() => document.documentElement.dataset.theme), "dark", "follows the system");
  await page.getByLabel("Colour theme").selectOption("light");
  eq(await page.evaluate(() => document.documentElement.dataset.theme), "light", "toggle to light");
  await page.reload();
  eq(await page.evaluate(() => document.documentElement.dataset.theme), "light", "the choice is kept");
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await page.getByLabel("Colour theme").selectOption("dark");
  const bg2 = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  check(bg !== bg2, `the background changes (${bg} -> ${bg2})`);
  await ctx.close();
}

async function test_every_page_accessible_and_screenshot() {
  const order = state.orderId || (await srv.ok("GET", "/api/orders?limit=1")).orders[0]?.orderId;
  const pages = PAGES.map(([n, p]) => [n, p ?? (n === "order" ? "/orders/" + order : "/queues/" + (state.dlq || srv.env + "-orders-dlq"))]);
  fs.mkdirSync(SHOTS, { recursive: true });
  const report = [];
  for (const scheme of ["light", "dark"]) {
    const { page, ctx } = await newPage({ colorScheme: scheme });
    for (const [name, p] of pages) {
      await page.goto(srv.base + p);
      await page.locator("main h1").first().waitFor();
      await page.waitForLoadState("networkidle").catch(() => {});
      await sleep(300);
      const v = await axe(page, `${name} (${scheme})`);
      report.push(`${name}/${scheme}: ${v.length} minor/moderate`);
      await page.screenshot({ path: path.join(SHOTS, `${name}-${scheme}.png`), fullPage: true });
      const csp = await cspOf(page);
      check(!csp.length, `${name}: CSP violations ${JSON.stringify(csp)}`);
    }
    await ctx.close();
  }
  if (srv.auth) {
    // the sign-in page, signed out
    for (const scheme of ["light", "dark"]) {
      const { page, ctx } = await newPage({ colorScheme: scheme }, null);
      await page.goto(srv.base + "/");
      await page.getByRole("heading", { name: "Sign in to orderly" }).waitFor();
      const v = await axe(page, `sign-in (${scheme})`);
      report.push(`sign-in/${scheme}: ${v.length} minor/moderate`);
      await page.screenshot({ path: path.join(SHOTS, `sign-in-${scheme}.png`), fullPage: true });
      await ctx.close();
    }
  }
  console.log("  axe: " + report.join(", "));
  console.log("  screenshots in " + SHOTS);
}

async function test_polling_fallback_when_streams_are_refused() {
  // take every stream slot, then open the console: it polls instead
  const held = [];
  const auth = srv.token ? { Authorization: "Bearer " + srv.token } : {};
  // streams of pages closed earlier may hold slots until the server notices
  // they are gone: retry until every slot is ours
  const end = Date.now() + 30000;
  while (held.length < STREAMS_MAX && Date.now() < end) {
    const req = http.get(srv.base + "/api/stream", { headers: auth });
    const status = await new Promise((resolve, reject) => {
      req.on("response", (res) => {
        res.on("data", () => {});
        resolve(res.statusCode);
      });
      req.on("error", reject);
    });
    if (status === 200) held.push(req);
    else {
      req.destroy();
      await sleep(300);
    }
  }
  eq(held.length, STREAMS_MAX, "streams held");
  const r = await fetch(srv.base + "/api/stream", { headers: auth });
  eq(r.status, 503, "the next stream is refused");
  const { page, ctx } = await newPage();
  try {
    await page.goto(srv.base + "/orders");
    await waitFor("polling", async () => (await page.locator(".live").first().getAttribute("data-live")) === "polling", 15000);
    // polling still shows changes: an order created now appears
    const sku = uniq("poll");
    await srv.ok("POST", "/api/products", { sku, name: "Polling", priceCents: 100, stock: 100 }, 201);
    const o = await srv.ok("POST", "/api/orders", { customerId: "poll-c", items: [{ sku, qty: 1 }] }, 202);
    await page.locator(`tr[data-order="${o.orderId}"]`).waitFor({ timeout: 15000 });
  } finally {
    held.forEach((q) => q.destroy());
    await ctx.close();
  }
}

// ---- accounts (issue 9): run when the server has them ------------------------------

class Skip extends Error {}
function needAuth() {
  if (!srv.auth) throw new Skip("the server has no accounts (GET /api/me is 404)");
}

async function user(role, extra = {}) {
  const username = uniq(role).replace(/[^a-z0-9-]/g, "");
  const password = "pw-" + username + "-Secret";
  await srv.ok("POST", "/api/users", { username, password, role, ...extra }, 201);
  return { username, password };
}

async function test_sign_in_as_admin_with_an_httponly_session() {
  needAuth();
  const { page, ctx } = await newPage({}, null);
  await page.goto(srv.base + "/");
  await page.getByRole("heading", { name: "Sign in to orderly" }).waitFor();
  await page.getByLabel("User name or e-mail").fill(ADMIN_USER);
  await page.getByLabel("Password").fill("wrong password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").filter({ hasText: "Wrong user name or password" }).waitFor();
  await page.getByLabel("Password").fill(ADMIN_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Dashboard" }).waitFor();
  check(await page.locator(`[data-user="${ADMIN_USER}"]`).isVisible(), "the header shows the user");
  const cookies = await ctx.cookies(srv.base);
  const session = cookies.find((c) => c.name === "orderly_session");
  check(session, "a session cookie: " + JSON.stringify(cookies.map((c) => c.name)));
  check(session.httpOnly, "the session cookie is HttpOnly");
  eq(session.sameSite, "Strict", "SameSite");
  check(!(await page.evaluate(() => document.cookie)).includes("orderly_session"), "page scripts cannot read it");
  // a state-changing call without Origin (a cross-site form would be refused the same way) is 403
  const forged = await ctx.request.post(srv.base + "/api/queues/" + srv.env + "-orders-dlq/purge", {
    headers: { "Content-Type": "application/json" }, data: {},
  });
  eq(forged.status(), 403, "cookie-authenticated POST without Origin");
  await ctx.close();
}

// An admin deletes a queue of its own from the queue's page after typing its
// name, and lands on the queue list without it; the topology's queue is
// refused, with the server's reason on the page.
async function test_delete_queue_button() {
  const name = "ui-scratch";
  await srv.ok("POST", "/api/queues", { name }, 201);
  await srv.ok("POST", "/api/queues/" + name + "/messages", { body: "x" });
  const { page, ctx } = await newPage();
  await page.goto(srv.base + "/queues/" + name);
  await page.getByRole("heading", { name: "Messages" }).waitFor();
  await page.getByRole("button", { name: "Delete queue…" }).click();
  const dialog = page.getByRole("dialog");
  const confirm = dialog.getByRole("button", { name: "Delete queue" });
  check(await confirm.isDisabled(), "disabled until the name is typed");
  await dialog.getByLabel(/Type/).fill(name);
  await confirm.click();
  await page.waitForURL(srv.base + "/queues");
  await page.locator(`tr[data-queue="${srv.env}-orders"]`).waitFor();
  eq(await page.locator(`tr[data-queue="${name}"]`).count(), 0, "gone from the list");
  eq((await srv.api("GET", "/api/queues/" + name)).status, 404, "gone from the API");
  // the topology's queue: refused, and the page says why
  const topo = srv.env + "-orders";
  await page.goto(srv.base + "/queues/" + topo);
  await page.getByRole("heading", { name: "Messages" }).waitFor();
  await page.getByRole("button", { name: "Delete queue…" }).click();
  await page.getByRole("dialog").getByLabel(/Type/).fill(topo);
  await page.getByRole("dialog").getByRole("button", { name: "Delete queue" }).click();
  const notice = page.getByRole("alert").or(page.getByRole("status")).filter({ hasText: "Delete failed" });
  await notice.waitFor();
  check((await notice.textContent()).includes("topology"), "the reason: " + (await notice.textContent()));
  eq((await srv.api("GET", "/api/queues/" + topo)).status, 200, "the topology's queue stays");
  await ctx.close();
}

async function test_viewer_sees_no_destructive_control_and_is_refused() {
  needAuth();
  const v = await user("viewer");
  const { page, ctx } = await newPage({}, v);
  await page.goto(srv.base + "/inventory");
  await page.locator("table").first().waitFor();
  eq(await page.getByRole("button", { name: /^(Restock|Delete)/ }).count(), 0, "no restock or delete");
  eq(await page.getByRole("heading", { name: "New product" }).count(), 0, "no create form");
  const nav = page.getByRole("navigation", { name: "Main" });
  eq(await nav.getByRole("link", { name: "New order" }).count(), 0, "no New order");
  eq(await nav.getByRole("link", { name: "Users" }).count(), 0, "no admin pages");
  await page.goto(srv.base + "/queues/" + srv.env + "-orders-dlq");
  await page.getByRole("heading", { name: "Messages" }).waitFor();
  eq(await page.getByRole("button", { name: /Redrive|Purge|Edit|Delete/ }).count(), 0, "no redrive, purge, edit or delete");
  // forced from its own session: 403
  const st = await page.evaluate(async (q) => {
    const r = await fetch(q, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    return r.status;
  }, "/api/queues/" + srv.env + "-orders-dlq/purge");
  eq(st, 403, "a viewer's forced purge");
  const del = await page.evaluate(async () => (await fetch("/api/products/prod-001", { method: "DELETE" })).status);
  eq(del, 403, "a viewer's forced delete");
  await ctx.close();
}

async function test_customer_sees_only_its_own_orders() {
  needAuth();
  const c = await user("customer");
  const sku = uniq("cust");
  await srv.ok("POST", "/api/products", { sku, name: "Customer test", priceCents: 100, stock: 100 }, 201);
  const mine = await srv.ok("POST", "/api/orders", { customerId: c.username, items: [{ sku, qty: 1 }] }, 202);
  const other = await srv.ok("POST", "/api/orders", { customerId: "someone-else", items: [{ sku, qty: 1 }] }, 202);
  const { page, ctx } = await newPage({}, c);
  await page.goto(srv.base + "/");
  await page.getByRole("heading", { name: "Orders" }).waitFor();
  await page.locator(`tr[data-order="${mine.orderId}"]`).waitFor();
  eq(await page.locator(`tr[data-order="${other.orderId}"]`).count(), 0, "another customer's order is not listed");
  const customers = await page.locator("tr[data-order] td:nth-child(3)").allTextContents();
  check(customers.every((x) => x === c.username), "every row is its own: " + JSON.stringify(customers));
  await page.goto(srv.base + "/orders/" + other.orderId);
  const alert = page.getByRole("alert").first();
  await alert.waitFor();
  check((await alert.textContent()).includes("404"), "another's order is a 404");
  const nav = page.getByRole("navigation", { name: "Main" });
  eq(await nav.getByRole("link", { name: "Queues" }).count(), 0, "no operations pages");
  await ctx.close();
}

async function test_sign_out_ends_the_session() {
  needAuth();
  const { page, ctx } = await newPage();
  await page.goto(srv.base + "/orders");
  await page.getByRole("heading", { name: "Orders" }).waitFor();
  const cookies = await ctx.cookies(); // every path: the refresh cookie is for /api/refresh only
  const before = cookies.find((c) => c.name === "orderly_session");
  const refresh = cookies.find((c) => c.name === "orderly_refresh");
  check(before && refresh, "there was a session: " + JSON.stringify(cookies.map((c) => c.name)));
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in to orderly" }).waitFor();
  eq(await page.evaluate(async () => (await fetch("/api/me")).status), 401, "/api/me after sign-out");
  eq((await ctx.cookies()).filter((c) => c.name.startsWith("orderly_")).length, 0, "the cookies are cleared");
  // the old refresh cookie's family is revoked: a refresh with it is refused
  const r = await fetch(srv.base + "/api/refresh", {
    method: "POST",
    headers: { "Content-Type": "application/json", Origin: srv.base, Cookie: "orderly_refresh=" + refresh.value },
    body: "{}",
  });
  eq(r.status, 401, "refresh with the signed-out session's cookie");
  await ctx.close();
}

async function test_no_csp_violation_or_page_error_anywhere() {
  check(!violations.length, "seen while testing: " + violations.join("; "));
}

// ---- run -------------------------------------------------------------------------

const TESTS = [
  test_security_headers_and_first_load_size,
  test_valid_order_reaches_completed_without_reload,
  test_fail_me_to_dlq_browser_and_redrive,
  test_validation_messages_at_the_fields,
  test_restock_changes_available,
  test_function_pause_resume_drain_buttons,
  test_delete_queue_button,
  test_keyboard_and_360px,
  test_dark_mode_toggle,
  test_every_page_accessible_and_screenshot,
  test_polling_fallback_when_streams_are_refused,
  test_sign_in_as_admin_with_an_httponly_session,
  test_viewer_sees_no_destructive_control_and_is_refused,
  test_customer_sees_only_its_own_orders,
  test_sign_out_ends_the_session,
  test_no_csp_violation_or_page_error_anywhere,
];

const only = process.argv.slice(2);
let passed = 0, failed = 0, skipped = 0;
const userData = fs.mkdtempSync(path.join(os.tmpdir(), "orderly-t800-chromium-"));
try {
  srv = await new Server("ui").start();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
    // a fresh profile: launch() gives chromium a new --user-data-dir of its own
    // (under TMPDIR, which points at ours) and removes it at close
    env: { ...process.env, TMPDIR: userData },
  });
  for (const t of TESTS) {
    if (only.length && !only.includes(t.name)) continue;
    const t0 = Date.now();
    try {
      await t();
      passed++;
      console.log(`PASS ${t.name} (${((Date.now() - t0) / 1000).toFixed(2)}s)`);
    } catch (e) {
      if (e instanceof Skip) {
        skipped++;
        console.log(`SKIP ${t.name}: ${e.message}`);
        continue;
      }
      failed++;
      console.log(`FAIL ${t.name} (${((Date.now() - t0) / 1000).toFixed(2)}s)\n  ${e.stack || e}`);
    }
  }
} catch (e) {
  failed++;
  console.log("FAIL setup: " + (e.stack || e));
  if (srv) console.log(srv.logTail());
} finally {
  await browser?.close().catch(() => {});
  const code = srv ? await srv.stop() : 0;
  if (srv && code !== 0) {
    failed++;
    console.log(`FAIL server exit code ${code}:\n${srv.logTail()}`);
  }
  srv?.cleanup();
  fs.rmSync(userData, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
process.exit(failed ? 1 : 0);
