// A 20 MiB video streams: the receiver starts playing it before the sender's
// upload has ended (the upload is slowed to about 2 MiB/s, so it takes a
// while); an image arrives as a decrypted preview.
import { statSync } from "node:fs";
import { check, scenario } from "../lib/run.mjs";
import { MIB, testImage, testVideo } from "./media.mjs";
import { openRoom, startDirect, twoUsers } from "./support.mjs";

/** Held back per 1 MiB chunk PUT: about a 2 MiB/s uplink (CDP's upload throttling does not reach fetch bodies). */
const CHUNK_DELAY_MS = 500;

scenario("files", async (run) => {
  const video = run.sent.file(testVideo());
  const image = run.sent.file(testImage());
  const { alice, bob } = await twoUsers(run);
  const roomId = await startDirect(alice, bob.displayName);
  await openRoom(bob, roomId);

  await run.step("an image arrives as a decrypted preview", async () => {
    await alice.page.getByTestId("file-input").setInputFiles(image);
    await bob.page.getByTestId("image-preview").waitFor({ timeout: 30_000 });
    const width = await bob.page.getByTestId("image-preview").evaluate((img) => img.naturalWidth);
    check(width === 320, `the preview decodes (width ${width})`);
  });

  let started = 0;
  await run.step("the video plays at the receiver while it is still uploading", async () => {
    await alice.page.route(/\/v1\/files\/[^/]+\/chunks\/\d+/, async (route) => {
      if (route.request().method() === "PUT") await new Promise((resolve) => setTimeout(resolve, CHUNK_DELAY_MS));
      await route.continue();
    });
    started = Date.now();
    await alice.page.getByTestId("file-input").setInputFiles(video);
    const player = bob.page.getByTestId("media-video");
    await player.waitFor({ timeout: 30_000 });
    await player.evaluate((v) => {
      v.muted = true;
      return v.play().catch(() => undefined);
    });
    await bob.page.waitForFunction(
      () => {
        const v = document.querySelector('[data-testid="media-video"]');
        return v instanceof HTMLVideoElement && v.currentTime > 0.5 && !v.paused;
      },
      undefined,
      { timeout: 60_000 },
    );
    const playingAfter = Date.now() - started;
    const upload = await alice.page
      .locator('[data-testid="attachment"]:has([data-testid="media-video"])')
      .getAttribute("data-upload");
    const chunks = Number(await bob.page.getByTestId("media").getAttribute("data-chunks"));
    await run.screenshot(bob, "files-playing");
    await run.screenshot(alice, "files-uploading");
    console.log(`  ${(statSync(video).size / MIB).toFixed(1)} MiB video playing after ${playingAfter} ms with ${chunks} chunks loaded; upload ${upload}`);
    check(upload === "uploading", `playback started before the upload ended (upload ${upload})`);
    check(chunks < statSync(video).size / MIB - 2, `playback started with part of the file (${chunks} chunks)`);
  });

  await run.step("the upload completes and the receiver has the whole video", async () => {
    await alice.page
      .locator('[data-testid="attachment"][data-upload="completed"]:has([data-testid="media-video"])')
      .waitFor({ timeout: 120_000 });
    console.log(`  upload took ${Date.now() - started} ms`);
    await bob.page.locator('[data-testid="media"][data-state="complete"]').waitFor({ timeout: 60_000 });
    await run.screenshot(bob, "files-complete");
  });

  await run.step("co-watch: a late joiner catches up, then Bob's player follows Alice's pause, seek and play", async () => {
    await alice.page.locator('[data-testid="media"][data-state="complete"]').waitFor({ timeout: 60_000 });
    await bob.page.getByTestId("cowatch-toggle").click();
    await bob.page.locator('[data-testid="cowatch-toggle"][data-on="true"]').waitFor();
    await alice.page.getByTestId("media-video").evaluate((v) => {
      v.muted = true;
    });
    // Alice joins late: she asks, Bob's player answers, hers jumps to where his plays.
    await alice.page.getByTestId("cowatch-toggle").click();
    await alice.page.waitForFunction(
      () => {
        const v = document.querySelector('[data-testid="media-video"]');
        return v instanceof HTMLVideoElement && !v.paused && v.currentTime > 10;
      },
      undefined,
      { timeout: 15_000 },
    );
    // Bob's player is well past 10 s too: Alice pausing at 5 s moves it back.
    await alice.page.getByTestId("media-video").evaluate((v) => {
      v.pause();
      v.currentTime = 5;
    });
    await bob.page.waitForFunction(
      () => {
        const v = document.querySelector('[data-testid="media-video"]');
        return v instanceof HTMLVideoElement && v.paused && Math.abs(v.currentTime - 5) < 1;
      },
      undefined,
      { timeout: 15_000 },
    );
    await alice.page.getByTestId("media-video").evaluate((v) => {
      v.muted = true;
      return v.play().catch(() => undefined);
    });
    await bob.page.waitForFunction(
      () => {
        const v = document.querySelector('[data-testid="media-video"]');
        return v instanceof HTMLVideoElement && !v.paused && v.currentTime > 5;
      },
      undefined,
      { timeout: 15_000 },
    );
    await run.screenshot(bob, "files-cowatch");
  });
});
