// The chat app (/) and the admin page (/admin) load in a real browser with
// no console error and no CSP violation, under the gateway's policy, which
// really does block inline script.

import { check, scenario } from "../lib/run.mjs";

scenario("smoke", async (run) => {
  const visitor = await run.open("visitor");
  const { page } = visitor;

  for (const [path, root] of [
    ["/", "#app"],
    ["/admin", "#admin"],
  ]) {
    await run.step(`${path} loads`, async () => {
      const response = await page.goto(run.url(path), { waitUntil: "networkidle" });
      check(response?.ok(), `${path} answered ${response?.status()}`);
      const csp = response.headers()["content-security-policy"] ?? "";
      check(csp.includes("script-src 'self'"), `${path} has no script-src 'self' policy: ${csp}`);
      await page.locator(`${root} > *`).first().waitFor();
      await run.screenshot(visitor, path === "/" ? "app" : "admin");
      visitor.assertClean();
    });
  }

  await run.step("the policy blocks inline script, and the harness sees it", async () => {
    await page.evaluate(() => {
      const script = document.createElement("script");
      script.textContent = "document.title = 'inline ran'";
      document.head.append(script);
    });
    await page.waitForTimeout(200);
    check((await page.title()) !== "inline ran", "an inline script ran");
    check(
      visitor.cspViolations.some((violation) => violation.directive === "script-src-elem"),
      `no CSP violation was reported: ${JSON.stringify(visitor.cspViolations)}`,
    );
    visitor.clear();
  });
});
