// The chat app's steps, shared by its scenarios: register, log in, wait for
// the live connection, start and open rooms, send, find a message. Each takes
// a device of web/e2e/lib/run.mjs (one browser context = one device).

export const PASSWORD = "correct horse battery staple";

export function unique(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}

export async function register(device, email, displayName) {
  const { page } = device;
  await page.goto(device.run.url("/"));
  await page.getByTestId("auth-toggle").click();
  await page.getByTestId("auth-email").fill(email);
  await page.getByTestId("auth-password").fill(PASSWORD);
  await page.getByTestId("auth-name").fill(displayName);
  await page.getByTestId("auth-submit").click();
  await live(device);
}

export async function login(device, email) {
  const { page } = device;
  await page.goto(device.run.url("/"));
  await page.getByTestId("auth-email").fill(email);
  await page.getByTestId("auth-password").fill(PASSWORD);
  await page.getByTestId("auth-submit").click();
  await live(device);
}

/** Waits until the app's WebSocket is live (its backlog replayed). */
export async function live(device, timeout = 30_000) {
  await device.page.locator('[data-testid="connection-status"]', { hasText: "live" }).waitFor({ timeout });
}

/** Two users, each on one new device, registered; returns them with their names. */
export async function twoUsers(run, options = {}) {
  const alice = await run.open("alice", options);
  const bob = await run.open("bob", options);
  alice.email = `${unique("alice")}@example.test`;
  bob.email = `${unique("bob")}@example.test`;
  alice.displayName = unique("Alice");
  bob.displayName = unique("Bob");
  await register(alice, alice.email, alice.displayName);
  await register(bob, bob.email, bob.displayName);
  return { alice, bob };
}

/** Starts a direct chat with the user whose display name is `name`; returns the room id. */
export async function startDirect(device, name) {
  const { page } = device;
  await page.getByTestId("nav-new-room").click();
  await page.getByTestId("user-search").fill(name);
  await page.getByTestId("user-pick").first().click();
  const view = page.getByTestId("room-view");
  await view.waitFor();
  return view.getAttribute("data-room-id");
}

export function roomItem(device, roomId) {
  return device.page.locator(`[data-testid="room-item"][data-room-id="${roomId}"]`);
}

/** Opens a room once it is in the list. */
export async function openRoom(device, roomId, timeout = 20_000) {
  await roomItem(device, roomId).waitFor({ timeout });
  await roomItem(device, roomId).click();
  await device.page.locator(`[data-testid="room-view"][data-room-id="${roomId}"]`).waitFor();
}

/** Sends `text` (recorded as a plaintext the server must never see) and waits until it shows. */
export async function send(device, text) {
  device.run.sent.text(text);
  await device.page.getByTestId("composer-input").fill(text);
  await device.page.getByTestId("composer-send").click();
  await message(device, text).waitFor();
}

/** The shown message with this body. */
export function message(device, text) {
  return device.page.locator('[data-testid="message"]', {
    has: device.page.locator('[data-testid="message-body"]', { hasText: text }),
  });
}
