import { describe, expect, it } from "vitest";
import { Backoff, backoffDelay, retryDelay } from "../../src/api/backoff";

const options = (value: number) => ({ baseMs: 100, maxMs: 1000, random: () => value });

describe("reconnect backoff", () => {
  it("doubles up to the cap", () => {
    expect([0, 1, 2, 3, 4, 5].map((attempt) => backoffDelay(attempt, options(1)))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it("jitters within the upper half", () => {
    expect(backoffDelay(2, options(0))).toBe(200);
    expect(backoffDelay(2, options(0.5))).toBe(300);
  });

  it("does not overflow after many attempts", () => {
    expect(backoffDelay(10_000, options(1))).toBe(1000);
  });

  it("waits at least what the server asked", () => {
    expect(retryDelay(0, 5, options(1))).toBe(5000);
    expect(retryDelay(4, null, options(1))).toBe(1000);
  });

  it("resets after a connection that worked", () => {
    const backoff = new Backoff(options(1));
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([100, 200, 400]);
    backoff.reset();
    expect(backoff.next()).toBe(100);
  });
});
