// A 20 MiB video streams: the receiver starts playing it before the sender's
// upload has ended (the sender's upload is throttled so it takes a while).
// Also an image arrives as a preview.
import { statSync } from "node:fs";
import { MIB, testImage, testVideo } from "./media.mjs";
import { assert, launchProfile, openRoom, register, scenario, screenshot, startDirect, unique } from "./support.mjs";

/** Per 1 MiB chunk: about a 2 MiB/s uplink. */
const CHUNK_DELAY_MS = 500;

await scenario("files", async () => {
  const video = testVideo();
  const image = testImage();
  const alice = await launchProfile("alice", ["--autoplay-policy=no-user-gesture-required"]);
  const bob = await launchProfile("bob", ["--autoplay-policy=no-user-gesture-required"]);
  const bobName = unique("Bob");
  await register(alice, `${unique("alice")}@example.test`, unique("Alice"));
  await register(bob, `${unique("bob")}@example.test`, bobName);
  const roomId = await startDirect(alice, bobName);
  await bob.page.locator(`[data-testid="room-item"][data-room-id="${roomId}"]`).waitFor({ timeout: 20_000 });
  await openRoom(bob, roomId);

  // An image: Bob sees its preview, decrypted.
  await alice.page.getByTestId("file-input").setInputFiles(image);
  await bob.page.getByTestId("image-preview").waitFor({ timeout: 30_000 });
  const width = await bob.page.getByTestId("image-preview").evaluate((img) => img.naturalWidth);
  assert(width === 320, `the preview decodes (width ${width})`);

  // The video, over a slow uplink: each chunk PUT is held back a while, as
  // a 2 MiB/s link would (CDP's upload throttling does not reach fetch bodies).
  await alice.page.route(/\/v1\/files\/[^/]+\/chunks\/\d+/, async (route) => {
    if (route.request().method() === "PUT") await new Promise((resolve) => setTimeout(resolve, CHUNK_DELAY_MS));
    await route.continue();
  });
  const started = Date.now();
  await alice.page.getByTestId("file-input").setInputFiles(video);
  const player = bob.page.getByTestId("media-video");
  await player.waitFor({ timeout: 30_000 });
  await player.evaluate((v) => {
    v.muted = true;
    return v.play().catch(() => undefined);
  });
  await bob.page.waitForFunction(() => {
    const v = document.querySelector('[data-testid="media-video"]');
    return v instanceof HTMLVideoElement && v.currentTime > 0.5 && !v.paused;
  }, undefined, { timeout: 60_000 });
  const playingAfter = Date.now() - started;
  const upload = await alice.page.locator('[data-testid="attachment"]:has([data-testid="media-video"])').getAttribute("data-upload");
  const chunks = await bob.page.getByTestId("media").getAttribute("data-chunks");
  await screenshot(bob, "files-playing");
  await screenshot(alice, "files-uploading");
  console.log(`video of ${(statSync(video).size / MIB).toFixed(1)} MiB playing after ${playingAfter} ms with ${chunks} chunks loaded; sender upload ${upload}`);
  assert(upload === "uploading", `playback started before the upload ended (upload ${upload})`);
  assert(Number(chunks) < statSync(video).size / MIB - 2, `playback started with part of the file (${chunks} chunks)`);

  await alice.page.locator('[data-testid="attachment"][data-upload="completed"]:has([data-testid="media-video"])').waitFor({ timeout: 120_000 });
  const uploadMs = Date.now() - started;
  await bob.page.locator('[data-testid="media"][data-state="complete"]').waitFor({ timeout: 60_000 });
  console.log(`upload took ${uploadMs} ms; playback began at ${Math.round((playingAfter / uploadMs) * 100)}% of it`);
  await screenshot(bob, "files-complete");
});
