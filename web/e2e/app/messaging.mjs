// Two users in two browser contexts and a second device (context) of one of
// them: they exchange messages and both devices of the receiver decrypt;
// reply, edit, delete, typing, read receipts, offline catch-up, a reload.
import { check, scenario } from "../lib/run.mjs";
import { live, login, message, openRoom, roomItem, send, startDirect, twoUsers } from "./support.mjs";

scenario("messaging", async (run) => {
  const { alice, bob } = await twoUsers(run);
  const laptop = await run.open("bob-laptop");
  await run.step("Bob logs in on a second device", () => login(laptop, bob.email));

  const roomId = await startDirect(alice, bob.displayName);
  await run.step("both of Bob's devices decrypt Alice's message", async () => {
    await send(alice, "hello bob, this is end-to-end encrypted");
    for (const device of [bob, laptop]) {
      await openRoom(device, roomId);
      await message(device, "hello bob, this is end-to-end encrypted").waitFor({ timeout: 20_000 });
    }
    await run.screenshot(laptop, "messaging-second-device");
  });

  await run.step("Bob answers from his laptop; Alice and his first device read it", async () => {
    await send(laptop, "hi alice, from my laptop");
    await message(alice, "hi alice, from my laptop").waitFor({ timeout: 20_000 });
    await message(bob, "hi alice, from my laptop").waitFor({ timeout: 20_000 });
  });

  await run.step("typing shows on the other side", async () => {
    await bob.page.getByTestId("composer-input").pressSequentially("typing", { delay: 30 });
    await alice.page.getByTestId("typing").waitFor({ timeout: 10_000 });
    await bob.page.getByTestId("composer-input").fill("");
  });

  await run.step("reply, edit, read receipt, delete", async () => {
    const original = message(alice, "hi alice, from my laptop");
    await original.getByTestId("message-menu").click();
    await original.getByTestId("message-reply-button").click();
    await send(alice, "a reply to the laptop");
    await message(bob, "a reply to the laptop").getByTestId("message-reply").waitFor({ timeout: 20_000 });

    const mine = message(alice, "a reply to the laptop");
    await mine.getByTestId("message-menu").click();
    await mine.getByTestId("message-edit-button").click();
    await alice.page.getByTestId("composer-context").waitFor();
    run.sent.text("an edited reply");
    await alice.page.getByTestId("composer-input").fill("an edited reply");
    await alice.page.getByTestId("composer-send").click();
    await message(bob, "an edited reply").getByTestId("message-edited").waitFor({ timeout: 20_000 });
    await message(laptop, "an edited reply").waitFor({ timeout: 20_000 });

    // Bob has the room open, so Alice's messages turn "read".
    await message(alice, "an edited reply").locator('[data-testid="message-receipt"]', { hasText: "read" }).waitFor({ timeout: 20_000 });

    const doomed = message(alice, "an edited reply");
    await doomed.getByTestId("message-menu").click();
    await doomed.getByTestId("message-delete-everyone").click();
    await bob.page.locator('[data-testid="message"][data-state="deleted"]').first().waitFor({ timeout: 20_000 });
  });

  await run.step("forward a message to a group", async () => {
    await alice.page.getByTestId("nav-new-room").click();
    await alice.page.getByTestId("new-group").click();
    await alice.page.getByTestId("group-name").fill("Forwarded here");
    await alice.page.getByTestId("user-search").fill(bob.displayName);
    await alice.page.getByTestId("user-pick").first().click();
    await alice.page.getByTestId("group-create").click();
    const groupId = await alice.page.getByTestId("room-view").getAttribute("data-room-id");
    await openRoom(alice, roomId);
    const original = message(alice, "hi alice, from my laptop");
    await original.getByTestId("message-menu").click();
    await original.getByTestId("message-forward-button").click();
    await alice.page.locator(`[data-testid="forward-target"][data-room-id="${groupId}"]`).click();
    await openRoom(bob, groupId);
    await message(bob, "hi alice, from my laptop").getByTestId("message-forwarded").waitFor({ timeout: 20_000 });
    await openRoom(bob, roomId);
  });

  await run.step("the laptop, closed while Alice writes, catches up when it is back", async () => {
    await laptop.page.close();
    await send(alice, "while you were away");
    laptop.page = await laptop.context.newPage();
    await laptop.page.goto(run.url("/"));
    await live(laptop, 60_000);
    await roomItem(laptop, roomId).locator('[data-testid="room-unread"]').waitFor({ timeout: 20_000 });
    await openRoom(laptop, roomId);
    await message(laptop, "while you were away").waitFor({ timeout: 30_000 });
  });

  await run.step("a reload stays logged in and history still decrypts", async () => {
    await laptop.page.reload();
    await live(laptop);
    await openRoom(laptop, roomId);
    await message(laptop, "while you were away").waitFor({ timeout: 20_000 });
    const state = await message(laptop, "hello bob, this is end-to-end encrypted").getAttribute("data-state");
    check(state === "ok", `history decrypts after a reload (state ${state})`);
  });
  await run.step("history pages back past the newest 50", async () => {
    for (let n = 1; n <= 50; n++) {
      await alice.page.getByTestId("composer-input").fill(run.sent.text(`history filler ${n}`));
      await alice.page.getByTestId("composer-send").click();
      await alice.page.waitForFunction(() => document.querySelector('[data-testid="composer-input"]')?.value === "");
    }
    await message(alice, "history filler 50").waitFor({ timeout: 30_000 });
    await bob.page.reload();
    await live(bob);
    await openRoom(bob, roomId);
    await message(bob, "history filler 50").waitFor({ timeout: 20_000 });
    check((await message(bob, "hello bob, this is end-to-end encrypted").count()) === 0, "only the newest page is loaded");
    await bob.page.getByTestId("load-older").click();
    await message(bob, "hello bob, this is end-to-end encrypted").waitFor({ timeout: 20_000 });
  });
  await run.screenshot(alice, "messaging-done");
  await run.screenshot(bob, "messaging-done");
});
