// Two users in two profiles and a second device (profile) of one of them:
// they exchange messages and both devices of the receiver decrypt; then
// reply, edit, delete, read receipts, typing, and offline catch-up.
import { BASE_URL, assert, launchProfile, live, login, message, openRoom, register, scenario, screenshot, send, startDirect, unique } from "./support.mjs";

await scenario("messaging", async () => {
  const alice = await launchProfile("alice");
  const bob = await launchProfile("bob");
  const bob2 = await launchProfile("bob-laptop");
  const aliceEmail = `${unique("alice")}@example.test`;
  const bobEmail = `${unique("bob")}@example.test`;
  const bobName = unique("Bob");
  await register(alice, aliceEmail, unique("Alice"));
  await register(bob, bobEmail, bobName);
  await login(bob2, bobEmail);

  const roomId = await startDirect(alice, bobName);
  await send(alice, "hello bob, this is end-to-end encrypted");
  for (const device of [bob, bob2]) {
    await device.page.locator(`[data-testid="room-item"][data-room-id="${roomId}"]`).waitFor();
    await openRoom(device, roomId);
    await message(device, "hello bob, this is end-to-end encrypted").waitFor({ timeout: 20_000 });
  }
  await screenshot(bob2, "messaging-second-device");

  // Bob answers from his laptop; Alice and Bob's first device both read it.
  await send(bob2, "hi alice, from my laptop");
  await message(alice, "hi alice, from my laptop").waitFor({ timeout: 20_000 });
  await message(bob, "hi alice, from my laptop").waitFor({ timeout: 20_000 });

  // Typing shows on the other side.
  await bob.page.getByTestId("composer-input").pressSequentially("typing…", { delay: 20 });
  await alice.page.getByTestId("typing").waitFor({ timeout: 10_000 });
  await bob.page.getByTestId("composer-input").fill("");

  // Reply, edit, delete.
  const original = message(alice, "hi alice, from my laptop");
  await original.getByTestId("message-menu").click();
  await original.getByTestId("message-reply-button").click();
  await send(alice, "a reply");
  await message(bob, "a reply").getByTestId("message-reply").waitFor({ timeout: 20_000 });

  const mine = message(alice, "a reply");
  await mine.getByTestId("message-menu").click();
  await mine.getByTestId("message-edit-button").click();
  await alice.page.getByTestId("composer-context").waitFor();
  await alice.page.getByTestId("composer-input").fill("an edited reply");
  await alice.page.getByTestId("composer-send").click();
  await message(bob, "an edited reply").getByTestId("message-edited").waitFor({ timeout: 20_000 });

  // Read receipt: Bob has the room open, so Alice's message turns "read".
  await alice.page.locator('[data-testid="message-receipt"]', { hasText: "read" }).first().waitFor({ timeout: 20_000 });

  const doomed = message(alice, "an edited reply");
  await doomed.getByTestId("message-menu").click();
  await doomed.getByTestId("message-delete-everyone").click();
  await bob.page.locator('[data-testid="message"][data-state="deleted"]').first().waitFor({ timeout: 20_000 });

  // Offline catch-up: Bob's laptop is closed, Alice writes, the laptop comes
  // back (same profile, so the same device) and catches up from its cursor.
  await bob2.page.close();
  await send(alice, "while you were away");
  bob2.page = await bob2.context.newPage();
  await bob2.page.goto(BASE_URL + "/");
  await live(bob2, 60_000);
  await bob2.page.locator(`[data-testid="room-item"][data-room-id="${roomId}"] [data-testid="room-unread"]`).waitFor({ timeout: 20_000 });
  await openRoom(bob2, roomId);
  await message(bob2, "while you were away").waitFor({ timeout: 30_000 });

  // A reload stays logged in (the device and tokens are kept).
  await bob2.page.reload();
  await live(bob2);
  await openRoom(bob2, roomId);
  await message(bob2, "while you were away").waitFor({ timeout: 20_000 });
  const state = await message(bob2, "hello bob, this is end-to-end encrypted").getAttribute("data-state");
  assert(state === "ok", `history decrypts after a reload (state ${state})`);
  await screenshot(alice, "messaging-done");
  await screenshot(bob, "messaging-done");
});
