// Browser scenario: an instance admin takes down a reported message.
//
// Over REST (fetch from node): two users register, share a room, one sends a
// message with a franking commitment, the other reports it with the proof.
// In headless Chromium, the admin logs in to /admin.html, sees the report
// with its verdict ("verified"), sees a second report arrive live over the
// WebSocket, and takes the first down with a note; a plain user logging in
// sees the "not an admin" state. Over REST again: the message is a
// tombstone, the report is actioned and the audit log shows the takedown.
//
// Run by tests/browser/admin.rs with the environment web/e2e/lib/run.mjs
// describes (CIPHERTALK_URL, CIPHERTALK_ARTIFACTS, CIPHERTALK_ADMINS, ...;
// see common.mjs for the admin's address and password). Exits non-zero on failure.

import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { check, scenario } from "../lib/run.mjs";
import {
  PASSWORD,
  adminSession,
  b64,
  eventually,
  expect,
  fail,
  logIn,
  logOutPage,
  logout,
  register,
} from "./common.mjs";

/** A message as a franking client sends it: `plaintext` committed under a fresh key. */
async function sendFranked(sender, room, plaintext) {
  const key = randomBytes(32);
  const commitment = createHmac("sha256", key).update(plaintext).digest();
  const message = await expect(201, "POST", `/v1/rooms/${room}/messages`, {
    token: sender.token,
    body: { client_msg_id: randomUUID(), ciphertext: b64(randomBytes(48)), commitment: b64(commitment) },
  });
  if (!message.reporting_tag) fail(`the server did not bind the commitment: ${JSON.stringify(message)}`);
  return { message, proof: { plaintext: b64(Buffer.from(plaintext)), franking_key: b64(key) } };
}

scenario("admin-takedown", async (run) => {
  // REST: the cast, the room, the franked message and its report.
  const admin = await adminSession();
  const alice = await register("Alice");
  const bob = await register("Bob");
  const room = await expect(201, "POST", "/v1/rooms", {
    token: alice.token,
    body: { kind: "group", name: "e2e takedown", members: [bob.id] },
  });
  const plaintext = `abusive words ${randomUUID()}`;
  const { message, proof } = await sendFranked(alice, room.id, plaintext);
  const report = await expect(201, "POST", "/v1/reports", {
    token: bob.token,
    body: {
      target: { kind: "message", id: message.id, room_id: room.id },
      reason: "harassment",
      evidence: `quoted: ${plaintext}`,
      franking: proof,
    },
  });
  if (report.verified !== true) fail(`the franking proof did not verify: ${JSON.stringify(report)}`);

  const adminDevice = await run.open("admin", { viewport: { width: 1280, height: 1000 } });
  const { page } = adminDevice;
  const card = page.locator(`[data-testid="report"][data-report-id="${report.id}"]`);

  await run.step("the admin logs in and finds the report, verified", async () => {
    await logIn(page, admin.email, admin.password);
    await page.getByTestId("reports-panel").waitFor();
    await card.waitFor();
    const verdict = await card.getByTestId("report-verdict").getAttribute("data-verdict");
    check(verdict === "verified", `the page shows verdict ${verdict} for a verified report`);
    for (const [testid, wanted] of [
      ["report-reason", "harassment"],
      ["report-evidence", plaintext],
      ["report-reporter", bob.id],
      ["report-target", message.id],
    ]) {
      const text = await card.getByTestId(testid).innerText();
      check(text.includes(wanted), `${testid} shows ${JSON.stringify(text)}, not ${wanted}`);
    }
    await run.screenshot(adminDevice, "report-queue");
  });

  await run.step("a report filed while the page is open arrives over the WebSocket", async () => {
    await page.locator('[data-testid="feed-state"][data-state="live"]').waitFor();
    const second = await sendPlain(alice, room.id);
    const secondReport = await expect(201, "POST", "/v1/reports", {
      token: bob.token,
      body: { target: { kind: "message", id: second.id, room_id: room.id }, reason: "spam" },
    });
    const secondCard = page.locator(`[data-testid="report"][data-report-id="${secondReport.id}"]`);
    await secondCard.waitFor();
    const verdict = await secondCard.getByTestId("report-verdict").getAttribute("data-verdict");
    check(verdict === "none", `a report without a proof shows verdict ${verdict}, not none`);
  });

  await run.step("the admin takes the message down, with a note", async () => {
    await card.getByTestId("report-note").fill("removed by the e2e admin");
    await card.getByTestId("report-takedown").click();
    await page.getByTestId("notice").filter({ hasText: "Taken down" }).waitFor();
    await card.waitFor({ state: "detached" });
    await run.screenshot(adminDevice, "after-takedown");
  });

  await run.step("the audit panel shows the takedown", async () => {
    await page.getByTestId("tab-audit").click();
    await page.getByTestId("audit-subject").fill(message.id);
    await page.getByTestId("audit-search").click();
    await page.locator('[data-testid="audit-entry"][data-action="message.taken_down"]').first().waitFor();
    // Only entries about that message are left once the search has answered.
    await page.waitForFunction(
      (subject) =>
        [...document.querySelectorAll('[data-testid="audit-entry"]')].every((row) => row.dataset.subject === subject),
      message.id,
    );
    await run.screenshot(adminDevice, "audit");
    await logOutPage(page);
  });

  await run.step("a plain user sees the not-an-admin state", async () => {
    const user = await run.open("user");
    // The admin routes' 403 is how the page learns it: the browser logs it.
    user.allowConsoleError(/403/);
    await logIn(user.page, bob.email, PASSWORD);
    await user.page.getByTestId("not-admin").waitFor();
    await run.screenshot(user, "not-an-admin");
  });

  // REST: the message is a tombstone for its room's members.
  const history = await expect(200, "GET", `/v1/rooms/${room.id}/messages`, { token: bob.token });
  const tombstone = history.items.find((item) => item.id === message.id);
  if (!tombstone || tombstone.deleted !== true || tombstone.ciphertext) {
    fail(`the message is not a tombstone: ${JSON.stringify(tombstone)}`);
  }
  // The report is actioned, with the note.
  const actioned = await expect(200, "GET", "/v1/admin/reports?status=actioned&limit=200", { token: admin.token });
  const resolved = actioned.items.find((item) => item.id === report.id);
  if (!resolved || resolved.note !== "removed by the e2e admin" || resolved.resolved_by !== admin.id) {
    fail(`the report is not actioned by the admin: ${JSON.stringify(resolved)}`);
  }
  // The audit log has the takedown, by the admin, of that message.
  const entry = await eventually("the takedown in the audit log", async () => {
    const audit = await expect(200, "GET", `/v1/admin/audit?subject=${message.id}`, { token: admin.token });
    return audit.items.find((item) => item.action === "message.taken_down");
  });
  if (entry.actor_id !== admin.id) fail(`the takedown's actor is ${entry.actor_id}, not the admin`);
  await logout(admin);
  console.log(`ok: report ${report.id} taken down`);
});

async function sendPlain(alice, room) {
  return expect(201, "POST", `/v1/rooms/${room}/messages`, {
    token: alice.token,
    body: { client_msg_id: randomUUID(), ciphertext: b64(randomBytes(32)) },
  });
}
