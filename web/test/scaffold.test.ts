import { describe, expect, it } from "vitest";

describe("the test runner", () => {
  it("runs TypeScript tests", () => {
    expect(new TextEncoder().encode("ok").length).toBe(2);
  });
});
