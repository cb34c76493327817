// Shared steps of the app scenarios: launch Debian's Chromium through
// playwright-core, open fresh profiles (one profile = one device), register,
// log in, open a room, screenshot. Base URL from CIPHERTALK_URL, screenshots
// into CIPHERTALK_ARTIFACTS.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const BASE_URL = process.env.CIPHERTALK_URL ?? "http://127.0.0.1:8080";
export const ARTIFACTS = process.env.CIPHERTALK_ARTIFACTS ?? join(tmpdir(), "ciphertalk-e2e");
const EXECUTABLE = process.env.CHROMIUM ?? "/usr/bin/chromium";

export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Flags for calls: a fake camera and microphone, no permission prompt. */
export const MEDIA_FLAGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--autoplay-policy=no-user-gesture-required"];

const profiles = [];

/** A browser with its own fresh user-data dir: one profile, one device. */
export async function launchProfile(name, extraFlags = []) {
  const dir = mkdtempSync(join(tmpdir(), `ciphertalk-${name}-`));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: EXECUTABLE,
    headless: true,
    args: [...CHROMIUM_FLAGS, ...extraFlags],
    viewport: { width: 1100, height: 760 },
    permissions: ["notifications", "camera", "microphone"],
  });
  profiles.push({ context, dir });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (error) => console.error(`[${name}] page error: ${error.message}`));
  return { name, context, page };
}

export async function closeAll() {
  for (const { context, dir } of profiles.splice(0)) {
    await context.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function unique(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}

export const PASSWORD = "correct horse battery staple";

export async function register(profile, email, displayName) {
  const { page } = profile;
  await page.goto(BASE_URL + "/");
  await page.getByTestId("auth-toggle").click();
  await page.getByTestId("auth-email").fill(email);
  await page.getByTestId("auth-password").fill(PASSWORD);
  await page.getByTestId("auth-name").fill(displayName);
  await page.getByTestId("auth-submit").click();
  await live(profile);
}

export async function login(profile, email) {
  const { page } = profile;
  await page.goto(BASE_URL + "/");
  await page.getByTestId("auth-email").fill(email);
  await page.getByTestId("auth-password").fill(PASSWORD);
  await page.getByTestId("auth-submit").click();
  await live(profile);
}

/** Waits until the app's WebSocket is live (backlog replayed). */
export async function live(profile, timeout = 30_000) {
  await profile.page.locator('[data-testid="connection-status"]', { hasText: "live" }).waitFor({ timeout });
}

/** Starts a direct chat with the user whose display name is `name`; returns the room id. */
export async function startDirect(profile, name) {
  const { page } = profile;
  await page.getByTestId("nav-new-room").click();
  await page.getByTestId("user-search").fill(name);
  await page.getByTestId("user-pick").first().click();
  const view = page.getByTestId("room-view");
  await view.waitFor();
  return view.getAttribute("data-room-id");
}

export async function openRoom(profile, roomId) {
  await profile.page.locator(`[data-testid="room-item"][data-room-id="${roomId}"]`).click();
  await profile.page.locator(`[data-testid="room-view"][data-room-id="${roomId}"]`).waitFor();
}

export async function send(profile, text) {
  await profile.page.getByTestId("composer-input").fill(text);
  await profile.page.getByTestId("composer-send").click();
  await message(profile, text).waitFor();
}

/** The shown message with exactly this body. */
export function message(profile, text) {
  return profile.page.locator('[data-testid="message"]', {
    has: profile.page.locator('[data-testid="message-body"]', { hasText: text }),
  });
}

export async function screenshot(profile, step) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await profile.page.screenshot({ path: join(ARTIFACTS, `${step}-${profile.name}.png`) });
}

/** Runs a scenario: screenshots every profile on failure, exits non-zero. */
export async function scenario(name, body) {
  const started = Date.now();
  try {
    await body();
    console.log(`ok ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    console.error(`FAILED ${name}: ${error instanceof Error ? error.stack : error}`);
    mkdirSync(ARTIFACTS, { recursive: true });
    let n = 0;
    for (const { context } of profiles) {
      for (const page of context.pages()) {
        await page.screenshot({ path: join(ARTIFACTS, `${name}-failure-${n++}.png`) }).catch(() => undefined);
      }
    }
    process.exitCode = 1;
  } finally {
    await closeAll();
  }
}

export function assert(condition, message) {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
