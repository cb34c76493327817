// What the admin page's browser scenarios share beyond web/e2e/lib/run.mjs
// (which launches Chromium, watches consoles and CSP, saves screenshots):
// REST calls from node, the admin's session, the login form.
//
// The admin is CIPHERTALK_ADMIN_EMAIL, else the first of CIPHERTALK_ADMINS
// (what the Rust harness sets), registered with CIPHERTALK_ADMIN_PASSWORD (or
// logged in with it when it exists).

import { randomUUID } from "node:crypto";

export const BASE = (process.env.CIPHERTALK_URL ?? "http://127.0.0.1:8080").replace(/\/$/, "");
const ADMIN_EMAIL =
  process.env.CIPHERTALK_ADMIN_EMAIL ?? (process.env.CIPHERTALK_ADMINS ?? "").split(",")[0] ?? "";
const ADMIN_PASSWORD = process.env.CIPHERTALK_ADMIN_PASSWORD ?? "admin-password-0123";
export const PASSWORD = "correct horse battery";
export const TIMEOUT_MS = 20_000;

export const b64 = (bytes) => Buffer.from(bytes).toString("base64");

export function fail(message) {
  throw new Error(message);
}

/** A REST call: the status and the JSON body (null when there is none). */
export async function call(method, path, { token, body } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`${BASE}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** `call`, failing unless the status is `expected`. */
export async function expect(expected, method, path, options) {
  const answer = await call(method, path, options);
  if (answer.status !== expected) {
    // The body is an API error or an answer of ours: no tokens in it.
    fail(`${method} ${path}: ${answer.status} (wanted ${expected}): ${JSON.stringify(answer.body)}`);
  }
  return answer.body;
}

/** A new user with a unique address: `{email, id, token}`. */
export async function register(name) {
  const email = `${name.toLowerCase()}-${randomUUID()}@e2e.example`;
  const session = await expect(201, "POST", "/v1/auth/register", {
    body: { email, password: PASSWORD, display_name: name },
  });
  return { email, id: session.user.id, token: session.access_token };
}

/** The admin's session: registered with the configured address, or logged in if it exists. */
export async function adminSession() {
  if (!ADMIN_EMAIL) fail("set CIPHERTALK_ADMIN_EMAIL or CIPHERTALK_ADMINS to an address the server makes an admin");
  const registered = await call("POST", "/v1/auth/register", {
    body: { email: ADMIN_EMAIL, password: ADMIN_PASSWORD, display_name: "Instance admin" },
  });
  if (registered.status !== 201 && registered.status !== 409) {
    fail(`registering the admin: ${registered.status} ${JSON.stringify(registered.body)}`);
  }
  // A login (re)checks the configured admin addresses and grants the role.
  const session = await expect(200, "POST", "/v1/auth/login", {
    body: { email: ADMIN_EMAIL, password: ADMIN_PASSWORD },
  });
  return {
    email: ADMIN_EMAIL,
    password: ADMIN_PASSWORD,
    id: session.user.id,
    token: session.access_token,
    refresh: session.refresh_token,
  };
}

/** Ends a REST session and removes its device (an account may have only so many). */
export async function logout(session) {
  await expect(204, "POST", "/v1/auth/logout", { token: session.token, body: { refresh_token: session.refresh } });
}

/** Logs the page out (removing the page's device), back to the login form. */
export async function logOutPage(page) {
  await page.getByTestId("logout").click();
  await page.getByTestId("login-panel").waitFor();
}

/** Polls `probe` until it returns a value other than undefined, or fails after the timeout. */
export async function eventually(what, probe) {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Opens /admin.html and submits the login form. */
export async function logIn(page, email, password) {
  await page.goto(`${BASE}/admin.html`);
  await page.getByTestId("login-email").fill(email);
  await page.getByTestId("login-password").fill(password);
  await page.getByTestId("login-submit").click();
}
