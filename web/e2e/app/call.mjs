// A call between two browsers connects over loopback: offer, answer and ICE
// candidates go through the server's signalling, media flows peer to peer,
// each side sees the other's video; hanging up ends it on both.
import { check, scenario } from "../lib/run.mjs";
import { openRoom, startDirect, twoUsers } from "./support.mjs";

scenario("call", async (run) => {
  const { alice, bob } = await twoUsers(run, { permissions: ["camera", "microphone"] });
  // Without a TURN server configured, GET /v1/webrtc/turn answers 404 and
  // the call goes on with host candidates (loopback); the browser logs the 404.
  for (const device of [alice, bob]) device.allowConsoleError(/status of 404/);
  const roomId = await startDirect(alice, bob.displayName);
  await openRoom(bob, roomId);

  await run.step("Alice calls, Bob's browser rings", async () => {
    await alice.page.getByTestId("call-start").click();
    await bob.page.locator('[data-testid="call"][data-phase="ringing"]').waitFor({ timeout: 20_000 });
    await run.screenshot(bob, "call-ringing");
  });

  await run.step("Bob accepts: connected, each sees the other's video", async () => {
    await bob.page.getByTestId("call-accept").click();
    for (const side of [alice, bob]) {
      await side.page.locator('[data-testid="call"][data-phase="connected"]').waitFor({ timeout: 30_000 });
      await side.page.waitForFunction(
        () => {
          const video = document.querySelector('[data-testid="call-remote"]');
          return video instanceof HTMLVideoElement && video.videoWidth > 0 && video.currentTime > 0;
        },
        undefined,
        { timeout: 30_000 },
      );
    }
    await run.screenshot(alice, "call-connected");
    await run.screenshot(bob, "call-connected");
  });

  await run.step("Alice hangs up; the call ends on both sides", async () => {
    await alice.page.getByTestId("call-hangup").click();
    await bob.page.locator('[data-testid="call"][data-phase="ended"]').waitFor({ timeout: 20_000 });
    const phase = await alice.page.getByTestId("call").getAttribute("data-phase");
    check(phase === "ended", `the caller's call ended (${phase})`);
  });
});
