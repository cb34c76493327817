// Contacts, blocks, privacy, devices: Bob removes his laptop from his
// settings and the laptop is logged out at once; Alice adds Bob as a contact,
// then blocks him and his messages stop reaching her; logging out ends the session.
import { check, scenario } from "../lib/run.mjs";
import { login, message, openRoom, send, startDirect, twoUsers } from "./support.mjs";

scenario("settings", async (run) => {
  const { alice, bob } = await twoUsers(run);
  const laptop = await run.open("bob-laptop");
  // The removed device's last requests are refused (401) before it shows the login form.
  laptop.allowConsoleError(/status of 401/);
  await login(laptop, bob.email);

  await run.step("Bob removes his laptop; it is logged out", async () => {
    await bob.page.getByTestId("nav-settings").click();
    await bob.page.locator('[data-testid="device"]').nth(1).waitFor();
    const devices = await bob.page.locator('[data-testid="device"]').count();
    check(devices === 2, `Bob has two devices (${devices})`);
    await bob.page.locator('[data-testid="device"][data-current="false"] [data-testid="device-remove"]').click();
    await bob.page.locator('[data-testid="device"]').nth(1).waitFor({ state: "detached" });
    await laptop.page.getByTestId("auth-form").waitFor({ timeout: 30_000 });
    await run.screenshot(laptop, "settings-removed");
  });

  await run.step("privacy: Bob shows his last seen to contacts only", async () => {
    await bob.page.getByTestId("privacy-last-seen").selectOption("contacts");
    await bob.page.locator('[data-testid="settings-notice"]', { hasText: "Saved" }).waitFor();
  });

  const roomId = await startDirect(alice, bob.displayName);
  await openRoom(bob, roomId);
  await send(bob, "before the block");
  await message(alice, "before the block").waitFor({ timeout: 20_000 });

  await run.step("Alice adds Bob as a contact", async () => {
    await alice.page.getByTestId("nav-contacts").click();
    await alice.page.getByTestId("user-search").first().fill(bob.displayName);
    await alice.page.getByTestId("user-pick").first().click();
    await alice.page.locator('[data-testid="contact"]').first().waitFor();
    await run.screenshot(alice, "settings-contacts");
  });

  await run.step("Alice blocks Bob; his next message is refused and never reaches her", async () => {
    await alice.page.getByTestId("contact-block").first().click();
    await alice.page.getByTestId("unblock").waitFor();
    bob.allowConsoleError(/status of 403/);
    run.sent.text("after the block");
    await bob.page.getByTestId("composer-input").fill("after the block");
    await bob.page.getByTestId("composer-send").click();
    await bob.page.getByTestId("room-error").waitFor({ timeout: 20_000 });
    await openRoom(alice, roomId);
    await alice.page.waitForTimeout(1000);
    check((await message(alice, "after the block").count()) === 0, "a blocked user's message is not delivered");
    await run.screenshot(bob, "settings-blocked");
  });

  await run.step("Bob logs out", async () => {
    await bob.page.getByTestId("nav-settings").click();
    await bob.page.getByTestId("logout").click();
    await bob.page.getByTestId("auth-form").waitFor();
    await bob.page.reload();
    await bob.page.getByTestId("auth-form").waitFor();
  });
});
