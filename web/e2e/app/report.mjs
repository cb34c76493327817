// Reporting a message with its franking proof: the receiver sends the
// decrypted plaintext and the franking key from inside the ciphertext, and
// the server verifies that the sender sent exactly that.
import { assert, launchProfile, message, openRoom, register, scenario, screenshot, send, startDirect, unique } from "./support.mjs";

await scenario("report", async () => {
  const alice = await launchProfile("alice");
  const bob = await launchProfile("bob");
  const bobName = unique("Bob");
  await register(alice, `${unique("alice")}@example.test`, unique("Alice"));
  await register(bob, `${unique("bob")}@example.test`, bobName);
  const roomId = await startDirect(alice, bobName);
  const text = `an abusive message ${unique("m")}`;
  await send(alice, text);
  await bob.page.locator(`[data-testid="room-item"][data-room-id="${roomId}"]`).waitFor({ timeout: 20_000 });
  await openRoom(bob, roomId);
  const reported = message(bob, text);
  await reported.waitFor({ timeout: 20_000 });

  const answer = bob.page.waitForResponse((r) => r.url().endsWith("/v1/reports") && r.request().method() === "POST");
  await reported.getByTestId("message-menu").click();
  await reported.getByTestId("message-report-button").click();
  const response = await answer;
  const report = await response.json();
  assert(response.status() === 201, `the report is accepted (${response.status()})`);
  assert(report.verified === true, `the franking proof verifies (${JSON.stringify(report.verified)})`);
  assert(report.target.id === (await reported.getAttribute("data-message-id")), "the report names the message");
  await reported.locator('[data-testid="message-reported"]', { hasText: "verified" }).waitFor();
  await screenshot(bob, "report-sent");
  // The report body carries the franking opening, never the server's view of anything else.
  const sent = JSON.parse(response.request().postData() ?? "{}");
  assert(typeof sent.franking?.plaintext === "string" && typeof sent.franking?.franking_key === "string", "the proof is sent");
  console.log(`report ${report.id} verified=${report.verified}`);
});
