// A call between two browsers connects over loopback: offer, answer and ICE
// candidates go through the server's signalling; media flows peer to peer
// (fake camera and microphone), and each side sees the other's video.
import { MEDIA_FLAGS, assert, launchProfile, openRoom, register, scenario, screenshot, startDirect, unique } from "./support.mjs";

await scenario("call", async () => {
  const alice = await launchProfile("alice", MEDIA_FLAGS);
  const bob = await launchProfile("bob", MEDIA_FLAGS);
  const bobName = unique("Bob");
  await register(alice, `${unique("alice")}@example.test`, unique("Alice"));
  await register(bob, `${unique("bob")}@example.test`, bobName);
  const roomId = await startDirect(alice, bobName);
  await bob.page.locator(`[data-testid="room-item"][data-room-id="${roomId}"]`).waitFor({ timeout: 20_000 });
  await openRoom(bob, roomId);

  await alice.page.getByTestId("call-start").click();
  await bob.page.locator('[data-testid="call"][data-phase="ringing"]').waitFor({ timeout: 20_000 });
  await screenshot(bob, "call-ringing");
  await bob.page.getByTestId("call-accept").click();
  for (const side of [alice, bob]) {
    await side.page.locator('[data-testid="call"][data-phase="connected"]').waitFor({ timeout: 30_000 });
    await side.page.waitForFunction(() => {
      const video = document.querySelector('[data-testid="call-remote"]');
      return video instanceof HTMLVideoElement && video.videoWidth > 0 && video.currentTime > 0;
    }, undefined, { timeout: 30_000 });
  }
  await screenshot(alice, "call-connected");
  await screenshot(bob, "call-connected");

  await alice.page.getByTestId("call-hangup").click();
  await bob.page.locator('[data-testid="call"][data-phase="ended"]').waitFor({ timeout: 20_000 });
  const phase = await alice.page.getByTestId("call").getAttribute("data-phase");
  assert(phase === "ended", `the caller's call ended (${phase})`);
});
