// Browser scenario: the admin page's other panels against a live server.
//
// Over REST a user makes a room, invites a second user and sends a message.
// In headless Chromium the admin: reads the room's state now and as of
// before the invitation; takes the message down by id; suspends the second
// user (who is then refused over REST) and lifts it; promotes and demotes
// them; reads the health panel (projection lag and streams), when the server
// has GET /v1/admin/status. Over REST: the tombstone and the audit entries.
//
// Environment as in takedown.mjs.

import { randomBytes, randomUUID } from "node:crypto";
import { scenario } from "../lib/run.mjs";
import {
  PASSWORD,
  adminSession,
  b64,
  call,
  eventually,
  expect,
  fail,
  logIn,
  logOutPage,
  logout,
  register,
} from "./common.mjs";

scenario("admin-panels", async (run) => {
  const admin = await adminSession();
  const owner = await register("Owner");
  const guest = await register("Guest");
  const room = await expect(201, "POST", "/v1/rooms", {
    token: owner.token,
    body: { kind: "group", name: "panels room", members: [] },
  });
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const beforeInvite = new Date().toISOString().slice(0, 19); // the datetime-local form, UTC
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await expect(200, "PUT", `/v1/rooms/${room.id}/members/${guest.id}`, { token: owner.token, body: {} });
  const message = await expect(201, "POST", `/v1/rooms/${room.id}/messages`, {
    token: owner.token,
    body: { client_msg_id: randomUUID(), ciphertext: b64(randomBytes(32)) },
  });

  const adminDevice = await run.open("admin", { viewport: { width: 1280, height: 1000 } });
  const { page } = adminDevice;
  const shot = (label) => run.screenshot(adminDevice, label);
  {
    await logIn(page, admin.email, admin.password);
    await page.getByTestId("reports-panel").waitFor();

    // Room state now (the owner and the guest, joined or invited) and before the invitation (the owner only).
    await page.getByTestId("tab-room").click();
    await page.getByTestId("room-id").fill(room.id);
    await page.getByTestId("room-load").click();
    await page.locator(`[data-testid="room-member"][data-user-id="${owner.id}"]`).waitFor();
    const guestNow = await eventually("the guest in the room's state", async () => {
      const member = await page.locator(`[data-testid="room-member"][data-user-id="${guest.id}"]`).count();
      const invited = await page.getByTestId("room-invited").count();
      return member + invited > 0 ? true : undefined;
    });
    if (!guestNow) fail("the guest is not in the room's state now");
    await shot("room-state-now");
    await page.getByTestId("room-at").fill(beforeInvite);
    await page.getByTestId("room-load").click();
    await page.waitForFunction(
      (guestId) =>
        !document.querySelector(`[data-testid="room-member"][data-user-id="${guestId}"]`) &&
        !document.querySelector('[data-testid="room-invited"]'),
      guest.id,
    );
    await page.locator(`[data-testid="room-member"][data-user-id="${owner.id}"]`).waitFor();
    await shot("room-state-before");

    // Direct takedown of the message by id.
    await page.getByTestId("tab-takedown").click();
    await page.getByTestId("takedown-id").fill(message.id);
    await page.getByTestId("takedown-submit").click();
    await page.getByTestId("notice").filter({ hasText: message.id }).waitFor();
    // Again: the server says it is gone (shown as an error, not a crash).
    await page.getByTestId("takedown-id").fill("not-an-id");
    await page.getByTestId("takedown-submit").click();
    await page.getByTestId("error").waitFor();

    // Suspension: the guest is refused, then let back in.
    await page.getByTestId("tab-users").click();
    await page.getByTestId("user-id").fill(guest.id);
    await page.getByTestId("suspend-reason").fill("e2e suspension");
    await page.getByTestId("suspend-submit").click();
    await page.getByTestId("notice").filter({ hasText: "Suspended" }).waitFor();
    const refused = await call("POST", "/v1/auth/login", { body: { email: guest.email, password: PASSWORD } });
    const rooms = await call("GET", "/v1/rooms", { token: refused.body?.access_token ?? guest.token });
    if (rooms.status !== 403 && rooms.status !== 401) fail(`a suspended user still lists rooms: ${rooms.status}`);
    await shot("suspended");
    await page.getByTestId("suspend-lift").click();
    await page.getByTestId("notice").filter({ hasText: "Suspension of" }).waitFor();
    const back = await expect(200, "POST", "/v1/auth/login", { body: { email: guest.email, password: PASSWORD } });
    await expect(200, "GET", "/v1/rooms", { token: back.access_token });

    // Roles: promoted, then demoted.
    await page.getByTestId("role-select").selectOption("admin");
    await page.getByTestId("role-submit").click();
    await page.getByTestId("notice").filter({ hasText: "an instance admin" }).waitFor();
    await expect(200, "GET", "/v1/admin/reports?limit=1", { token: back.access_token });
    await page.getByTestId("role-select").selectOption("user");
    await page.getByTestId("role-submit").click();
    await page.getByTestId("notice").filter({ hasText: "a user" }).waitFor();
    await expect(403, "GET", "/v1/admin/reports?limit=1", { token: back.access_token });

    // Health: every projection with a lag figure, CHAT_EVENTS readable.
    await page.getByTestId("tab-status").click();
    const served = (await call("GET", "/v1/admin/status", { token: admin.token })).status === 200;
    if (served) {
      await page.locator('[data-testid="status-stream"][data-name="CHAT_EVENTS"]').waitFor();
      const names = await page.getByTestId("status-projection").evaluateAll((rows) => rows.map((r) => r.dataset.name));
      for (const name of ["rooms", "timeline", "delivery", "moderation", "audit"]) {
        if (!names.includes(name)) fail(`the health panel lacks projection ${name}: ${names}`);
      }
      await page.waitForFunction(() =>
        [...document.querySelectorAll('[data-testid="status-projection"]')].every((row) => row.dataset.lag === "0"),
      );
    } else {
      await page.getByTestId("error").waitFor();
    }
    await shot("health");
    await logOutPage(page);
  }

  const history = await expect(200, "GET", `/v1/rooms/${room.id}/messages`, { token: owner.token });
  const tombstone = history.items.find((item) => item.id === message.id);
  if (!tombstone?.deleted || tombstone.ciphertext) fail(`not a tombstone: ${JSON.stringify(tombstone)}`);
  for (const [subject, action] of [
    [message.id, "message.taken_down"],
    [guest.id, "user.suspended"],
    [guest.id, "user.suspension_lifted"],
    [guest.id, "user.admin_granted"],
    [guest.id, "user.admin_revoked"],
  ]) {
    await eventually(`${action} of ${subject} in the audit log`, async () => {
      const audit = await expect(200, "GET", `/v1/admin/audit?subject=${subject}`, { token: admin.token });
      return audit.items.find((item) => item.action === action && item.actor_id === admin.id);
    });
  }
  await logout(admin);
  console.log("ok: the admin panels");
});
