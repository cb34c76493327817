// The shared harness of the browser scenarios (web/e2e/app, web/e2e/admin).
// A Rust test (tests/browser.rs) starts a real instance and runs
// `node web/e2e/<scenario>.mjs` with:
//   CIPHERTALK_URL        the instance's base URL (http://127.0.0.1:port)
//   CIPHERTALK_ARTIFACTS  a folder kept after the run: screenshots, console logs, sent.json
//   CIPHERTALK_ADMINS     the email the instance makes an instance admin (register it, then log in)
//   CIPHERTALK_CHROMIUM   the browser binary (default /usr/bin/chromium)
// plus what a scenario's Rust test adds. A scenario is
//   scenario("name", async (run) => { const alice = await run.open("alice"); ... });
// and fails by throwing: the process exits 1 with the error, and every open
// page is screenshotted into the artifacts folder.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

/// The flags every run uses: no GPU, no network of Chromium's own, no sandbox
/// (tests run as root in containers).
export const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/// How long one browser action (a click, a wait for text) may take.
const ACTION_TIMEOUT_MS = 15_000;

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run scenarios through their Rust test (tests/browser.rs)`);
  return value;
}

/// What the scenario sent and the server must never see in the clear (the
/// Rust test searches Postgres, JetStream and the blob store for each).
class Sent {
  texts = [];
  files = [];

  /// A plaintext the scenario typed (at least 8 bytes, ASCII keeps it simple).
  text(text) {
    this.texts.push(text);
    return text;
  }

  /// A file the scenario uploaded: a path (absolute, or relative to the artifacts folder).
  file(path) {
    this.files.push(path);
    return path;
  }
}

/// One user's browser profile (a device): its own context, cookies and
/// IndexedDB, and what went wrong in its pages.
class Device {
  constructor(run, name, context, page) {
    this.run = run;
    this.name = name;
    this.context = context;
    this.page = page;
    this.consoleErrors = [];
    this.cspViolations = [];
    this.allowed = [];
    this.log = [];
  }

  /// Console errors matching `pattern` are expected (e.g. the 401 of a wrong password).
  allowConsoleError(pattern) {
    this.allowed.push(pattern);
  }

  /// Fails with every console error and CSP violation seen so far.
  assertClean() {
    const errors = this.consoleErrors.filter((text) => !this.allowed.some((pattern) => pattern.test(text)));
    const problems = [
      ...errors.map((text) => `console error: ${text}`),
      ...this.cspViolations.map((v) => `CSP violation: ${v.directive} blocked ${v.blocked} (${v.source})`),
    ];
    if (problems.length > 0) throw new Error(`${this.name}:\n  ${problems.join("\n  ")}`);
  }

  /// Forgets what was seen (after provoking an expected error).
  clear() {
    this.consoleErrors.length = 0;
    this.cspViolations.length = 0;
  }
}

class Run {
  constructor(name, browser) {
    this.name = name;
    this.browser = browser;
    this.base = required("CIPHERTALK_URL").replace(/\/$/, "");
    this.artifacts = required("CIPHERTALK_ARTIFACTS");
    this.admins = (process.env.CIPHERTALK_ADMINS ?? "").split(",").filter(Boolean);
    this.devices = [];
    this.sent = new Sent();
    this.started = Date.now();
  }

  /// `path` on the instance.
  url(path = "/") {
    return `${this.base}${path}`;
  }

  /// A new device: a fresh browser context (nothing shared with the others) and its page.
  async open(name, options = {}) {
    const context = await this.browser.newContext({ baseURL: this.base, ...options });
    context.setDefaultTimeout(ACTION_TIMEOUT_MS);
    const page = await context.newPage();
    const device = new Device(this, name, context, page);
    this.devices.push(device);
    this.watch(device, page);
    context.on("page", (opened) => this.watch(device, opened));
    // Pages report their CSP violations here (init scripts are not subject to the CSP).
    await context.exposeBinding("__ciphertalkCspViolation", (_source, violation) => {
      device.cspViolations.push(violation);
    });
    await context.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (event) => {
        const report = globalThis.__ciphertalkCspViolation;
        report?.({ directive: event.effectiveDirective, blocked: event.blockedURI, source: event.sourceFile });
      });
    });
    return device;
  }

  watch(device, page) {
    page.on("console", (message) => {
      // "Failed to load resource" names no URL itself.
      const where = message.location()?.url;
      const text = where ? `${message.text()} (${where})` : message.text();
      device.log.push(`[${message.type()}] ${text}`);
      if (message.type() === "error") device.consoleErrors.push(text);
    });
    page.on("pageerror", (error) => {
      device.log.push(`[pageerror] ${error.stack ?? error}`);
      device.consoleErrors.push(`uncaught: ${error.message}`);
    });
  }

  /// Runs `body` as a named step, printed with its time (the Rust test shows
  /// this output when the scenario fails).
  async step(name, body) {
    const began = Date.now();
    console.log(`step: ${name}`);
    const result = await body();
    console.log(`  done in ${Date.now() - began} ms`);
    return result;
  }

  /// Saves a screenshot of `device`'s page into the artifacts folder.
  async screenshot(device, label) {
    const file = join(this.artifacts, `${device.name}-${label}.png`);
    await device.page.screenshot({ path: file, fullPage: true });
    return file;
  }

  /// Fails with what any device saw go wrong.
  assertClean() {
    for (const device of this.devices) device.assertClean();
  }

  async saveEvidence(failed) {
    for (const device of this.devices) {
      writeFileSync(join(this.artifacts, `${device.name}-console.log`), device.log.join("\n") + "\n");
      const pages = failed ? device.context.pages() : [];
      for (const [index, page] of pages.entries()) {
        const file = join(this.artifacts, `failure-${device.name}${index ? `-${index}` : ""}.png`);
        await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      }
    }
    writeFileSync(
      join(this.artifacts, "sent.json"),
      JSON.stringify({ texts: this.sent.texts, files: this.sent.files }, null, 2) + "\n",
    );
  }
}

/// Launches headless Chromium (the system binary, never a download).
export async function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CIPHERTALK_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_FLAGS,
  });
}

/// Runs one scenario: a browser for it, every device's errors checked at the
/// end, evidence saved either way; exits non-zero on failure.
export async function scenario(name, body) {
  const artifacts = required("CIPHERTALK_ARTIFACTS");
  mkdirSync(artifacts, { recursive: true });
  const browser = await launchChromium();
  const run = new Run(name, browser);
  let failed = false;
  try {
    await body(run);
    run.assertClean();
    console.log(`scenario ${name}: passed in ${Date.now() - run.started} ms`);
  } catch (error) {
    failed = true;
    console.error(`scenario ${name}: FAILED: ${error?.stack ?? error}`);
  } finally {
    await run.saveEvidence(failed).catch((error) => console.error(`saving evidence: ${error}`));
    await browser.close().catch(() => {});
  }
  process.exit(failed ? 1 : 0);
}

/// Throws `message` unless `condition` holds.
export function check(condition, message) {
  if (!condition) throw new Error(message);
}
