// Reporting a message with its franking proof: the receiver sends the
// decrypted plaintext and the franking key from inside the ciphertext, and
// the server verifies that the sender sent exactly that.
import { check, scenario } from "../lib/run.mjs";
import { message, openRoom, send, startDirect, twoUsers, unique } from "./support.mjs";

scenario("report", async (run) => {
  const { alice, bob } = await twoUsers(run);
  const roomId = await startDirect(alice, bob.displayName);
  const text = `an abusive message ${unique("m")}`;
  await send(alice, text);
  await openRoom(bob, roomId);
  const reported = message(bob, text);
  await reported.waitFor({ timeout: 20_000 });

  await run.step("Bob reports it; the server verifies the proof", async () => {
    const answer = bob.page.waitForResponse((r) => r.url().endsWith("/v1/reports") && r.request().method() === "POST");
    await reported.getByTestId("message-menu").click();
    await reported.getByTestId("message-report-button").click();
    const response = await answer;
    const report = await response.json();
    check(response.status() === 201, `the report is accepted (${response.status()})`);
    check(report.verified === true, `the franking proof verifies (${JSON.stringify(report.verified)})`);
    check(report.target.id === (await reported.getAttribute("data-message-id")), "the report names the message");
    const sent = JSON.parse(response.request().postData() ?? "{}");
    check(typeof sent.franking?.plaintext === "string" && typeof sent.franking?.franking_key === "string", "the proof is sent");
    await reported.locator('[data-testid="message-reported"]', { hasText: "verified" }).waitFor();
    await run.screenshot(bob, "report-sent");
    console.log(`  report ${report.id} verified=${report.verified}`);
  });
});
