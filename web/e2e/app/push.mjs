// Web Push: headless Chromium has no push service, so only that is replaced:
// Bob's PushManager hands out the subscription of the test's receiver
// (CIPHERTALK_PUSH_SUBSCRIPTION: endpoint and keys, as toJSON() gives; the
// Rust test keeps the private key). Bob enables push in his settings through
// the app's real code (service worker, VAPID key, PUT /v1/devices/{id}/push),
// closes the app (a connected device is not woken), and Alice writes to him.
// The Rust test then checks the receiver got the push and opens it.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { check, scenario } from "../lib/run.mjs";
import { register, send, startDirect, unique } from "./support.mjs";

const subscription = JSON.parse(process.env.CIPHERTALK_PUSH_SUBSCRIPTION ?? "null");
if (!subscription?.endpoint) throw new Error("CIPHERTALK_PUSH_SUBSCRIPTION (endpoint and keys) is not set");

/** Runs in Bob's pages: a PushManager whose subscription is the receiver's. */
function fakePushService(json) {
  const bytes = (text) => {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)).buffer;
  };
  let current = null;
  const make = () => ({
    endpoint: json.endpoint,
    expirationTime: null,
    options: { userVisibleOnly: true },
    getKey: (name) => (json.keys[name] ? bytes(json.keys[name]) : null),
    toJSON: () => ({ endpoint: json.endpoint, expirationTime: null, keys: { ...json.keys } }),
    unsubscribe: async () => {
      current = null;
      return true;
    },
  });
  PushManager.prototype.subscribe = async function subscribe() {
    current ??= make();
    return current;
  };
  PushManager.prototype.getSubscription = async function getSubscription() {
    return current;
  };
  PushManager.prototype.permissionState = async function permissionState() {
    return "granted";
  };
}

scenario("push", async (run) => {
  const alice = await run.open("alice");
  const bob = await run.open("bob");
  await bob.context.grantPermissions(["notifications"]);
  await bob.context.addInitScript(fakePushService, subscription);
  alice.email = `${unique("alice")}@example.test`;
  bob.displayName = unique("Bob");
  await register(alice, alice.email, unique("Alice"));
  await register(bob, `${unique("bob")}@example.test`, bob.displayName);

  await run.step("Bob enables push on this device in his settings", async () => {
    await bob.page.getByTestId("nav-settings").click();
    await bob.page.getByTestId("push-enable").click();
    await bob.page.locator('[data-testid="settings-notice"]', { hasText: "Push enabled" }).waitFor();
    const endpoint = await bob.page.evaluate(async () => {
      const registration = await navigator.serviceWorker.getRegistration("/sw.js");
      return (await registration?.pushManager.getSubscription())?.endpoint;
    });
    check(endpoint === subscription.endpoint, `the page's subscription is the receiver's (${endpoint})`);
    await run.screenshot(bob, "push-enabled");
  });

  const roomId = await startDirect(alice, bob.displayName);
  writeFileSync(join(run.artifacts, "push.json"), JSON.stringify({ room_id: roomId }));

  await run.step("Bob closes the app; Alice writes to him", async () => {
    await bob.page.close();
    // Long enough for the gateway to drop his connection's presence marker.
    await alice.page.waitForTimeout(2000);
    await send(alice, "wake up Bob, this is secret");
    await run.screenshot(alice, "push-sent");
  });
});
