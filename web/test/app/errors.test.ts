import { describe, expect, it } from "vitest";
import { ApiError, parseError, parseRetryAfter } from "../../src/api/errors";

describe("parseError", () => {
  it("reads the API's error format", () => {
    const error = parseError(422, '{"error":{"code":"weak_password","message":"password: too short","details":{"field":"password"}}}');
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(422);
    expect(error.code).toBe("weak_password");
    expect(error.message).toBe("password: too short");
    expect(error.field).toBe("password");
  });

  it("keeps Retry-After seconds of a 429", () => {
    const error = parseError(429, '{"error":{"code":"rate_limited","message":"slow down","details":{}}}', "7");
    expect(error.retryAfter).toBe(7);
  });

  it("gives a code of its own to a body that is not the format", () => {
    const error = parseError(502, "<html>bad gateway</html>");
    expect(error.code).toBe("http_502");
    expect(error.details).toEqual({});
    expect(parseError(400, '{"error":"nope"}').code).toBe("http_400");
  });

  it("ignores details that are not an object and a message that is missing", () => {
    const error = parseError(409, '{"error":{"code":"email_taken","details":[1]}}');
    expect(error.message).toBe("email_taken");
    expect(error.details).toEqual({});
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates", () => {
    expect(parseRetryAfter("3")).toBe(3);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:10 GMT", now)).toBe(10);
    expect(parseRetryAfter("Wed, 31 Dec 2025 00:00:00 GMT", now)).toBe(0);
  });

  it("is null when absent or unreadable", () => {
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter("")).toBeNull();
    expect(parseRetryAfter("soon")).toBeNull();
  });
});

describe("describeError", async () => {
  const { describeError } = await import("../../src/app/errors");
  it("words known codes for people and passes the server's message otherwise", () => {
    expect(describeError(new ApiError(403, "blocked", "blocked"))).toBe("You cannot message this person.");
    expect(describeError(new ApiError(422, "weak_password", "password: too short"))).toBe("password: too short");
    expect(describeError(new Error("boom"))).toBe("boom");
    expect(describeError("?")).toBe("Something went wrong.");
  });
});
