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
// Env: CIPHERTALK_URL (the server, default http://127.0.0.1:8080; the admin
// page is served at /admin.html of it), CIPHERTALK_ARTIFACTS (screenshots;
// default a temporary folder), CIPHERTALK_ADMIN_EMAIL (an address the server
// names an instance admin; default admin@webadmin.example),
// CIPHERTALK_ADMIN_PASSWORD (used to register it, or to log in if it exists),
// CHROMIUM (default /usr/bin/chromium). Exits non-zero on failure.

import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { join } from "node:path";
import {
  ARTIFACTS,
  PASSWORD,
  TIMEOUT_MS,
  adminSession,
  b64,
  eventually,
  expect,
  fail,
  launch,
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

async function main() {
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

  const browser = await launch();
  const problems = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));

    // The admin logs in and finds the report, verified.
    await logIn(page, admin.email, admin.password);
    await page.getByTestId("reports-panel").waitFor();
    const card = page.locator(`[data-testid="report"][data-report-id="${report.id}"]`);
    await card.waitFor();
    const verdict = card.getByTestId("report-verdict");
    if ((await verdict.getAttribute("data-verdict")) !== "verified") {
      fail(`the page shows verdict ${await verdict.getAttribute("data-verdict")} for a verified report`);
    }
    for (const [testid, wanted] of [
      ["report-reason", "harassment"],
      ["report-evidence", plaintext],
      ["report-reporter", bob.id],
      ["report-target", message.id],
    ]) {
      const text = await card.getByTestId(testid).innerText();
      if (!text.includes(wanted)) fail(`${testid} shows ${JSON.stringify(text)}, not ${wanted}`);
    }
    await page.screenshot({ path: join(ARTIFACTS, "admin-report-queue.png"), fullPage: true });

    // A report filed while the page is open arrives over the WebSocket.
    await page.locator('[data-testid="feed-state"][data-state="live"]').waitFor();
    const second = await sendPlain(alice, room.id);
    const secondReport = await expect(201, "POST", "/v1/reports", {
      token: bob.token,
      body: { target: { kind: "message", id: second.id, room_id: room.id }, reason: "spam" },
    });
    const secondCard = page.locator(`[data-testid="report"][data-report-id="${secondReport.id}"]`);
    await secondCard.waitFor();
    if ((await secondCard.getByTestId("report-verdict").getAttribute("data-verdict")) !== "none") {
      fail("a report without a proof is not shown as 'no proof'");
    }

    // The takedown, with a note.
    await card.getByTestId("report-note").fill("removed by the e2e admin");
    await card.getByTestId("report-takedown").click();
    await page.getByTestId("notice").filter({ hasText: "Taken down" }).waitFor();
    await card.waitFor({ state: "detached" });
    await page.screenshot({ path: join(ARTIFACTS, "admin-after-takedown.png"), fullPage: true });

    // The audit panel shows it too.
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
    await page.screenshot({ path: join(ARTIFACTS, "admin-audit.png"), fullPage: true });

    // A plain user gets the "not an admin" state.
    const other = await browser.newContext();
    const userPage = await other.newPage();
    userPage.setDefaultTimeout(TIMEOUT_MS);
    await logIn(userPage, bob.email, PASSWORD);
    await userPage.getByTestId("not-admin").waitFor();
    await userPage.screenshot({ path: join(ARTIFACTS, "admin-not-an-admin.png"), fullPage: true });
    await other.close();
    await logOutPage(page);
    await context.close();
  } finally {
    await browser.close();
  }
  if (problems.length) fail(problems.join("\n"));

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
  console.log(`ok: report ${report.id} taken down; screenshots in ${ARTIFACTS}`);
}

async function sendPlain(alice, room) {
  return expect(201, "POST", `/v1/rooms/${room}/messages`, {
    token: alice.token,
    body: { client_msg_id: randomUUID(), ciphertext: b64(randomBytes(32)) },
  });
}

main().catch((err) => {
  console.error(`FAILED: ${err instanceof Error ? err.stack : err}`);
  process.exit(1);
});
