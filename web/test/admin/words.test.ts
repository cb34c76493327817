import { describe, expect, it } from "vitest";
import { errorOf, queryString } from "../../src/admin/api";
import { frameOf } from "../../src/admin/realtime";
import { bytesLabel, describeTarget, fromLocalInput, isUuid, showTime, verdictOf } from "../../src/admin/words";

const message = { kind: "message" as const, id: "0190a000-0000-7000-8000-000000000001", room_id: "0190a000-0000-7000-8000-000000000002" };

describe("the franking verdict", () => {
  it("says verified only for verified: true", () => {
    expect(verdictOf({ verified: true, target: message }).kind).toBe("verified");
    expect(verdictOf({ verified: true, target: message }).explanation).toMatch(/really sent/);
  });
  it("says a proof that does not match is not verified", () => {
    const verdict = verdictOf({ verified: false, target: message });
    expect(verdict.kind).toBe("failed");
    expect(verdict.label).toBe("Not verified");
  });
  it("says no proof when verified is absent, and why for files and users", () => {
    expect(verdictOf({ target: message }).kind).toBe("none");
    expect(verdictOf({ target: { kind: "file", id: message.id } }).explanation).toMatch(/file cannot be franked/);
    expect(verdictOf({ target: { kind: "user", id: message.id } }).explanation).toMatch(/user cannot be franked/);
  });
});

describe("the words of the page", () => {
  it("names a target with its room", () => {
    expect(describeTarget(message)).toBe(`message ${message.id} in room ${message.room_id}`);
    expect(describeTarget({ kind: "user", id: "u" })).toBe("user u");
  });
  it("shows times in UTC to the second", () => {
    expect(showTime("2026-12-07T17:01:14.123456Z")).toBe("2026-12-07 17:01:14 UTC");
    expect(showTime(null)).toBe("never");
    expect(showTime("not a time")).toBe("not a time");
  });
  it("reads datetime-local inputs as UTC", () => {
    expect(fromLocalInput("2026-12-07T17:01")).toBe("2026-12-07T17:01:00.000Z");
    expect(fromLocalInput("2026-12-07T17:01:14")).toBe("2026-12-07T17:01:14.000Z");
    expect(fromLocalInput("")).toBeUndefined();
    expect(fromLocalInput("garbage")).toBeUndefined();
  });
  it("tells ids from other text", () => {
    expect(isUuid(message.id)).toBe(true);
    expect(isUuid(` ${message.id} `)).toBe(true);
    expect(isUuid("../admin")).toBe(false);
  });
  it("sizes bytes", () => {
    expect(bytesLabel(512)).toBe("512 B");
    expect(bytesLabel(2048)).toBe("2.0 KiB");
    expect(bytesLabel(5 * 1024 * 1024)).toBe("5.0 MiB");
    expect(bytesLabel(null)).toBe("?");
  });
});

describe("the API client's pieces", () => {
  it("builds query strings of the given values only", () => {
    expect(queryString({ status: "open", limit: 20, cursor: undefined, subject: "" })).toBe("?status=open&limit=20");
    expect(queryString({ at: "2026-12-07T17:01:00.000Z" })).toBe("?at=2026-12-07T17%3A01%3A00.000Z");
    expect(queryString({})).toBe("");
  });
  it("reads the API error format, and survives bodies without it", () => {
    const error = errorOf(403, { error: { code: "forbidden", message: "instance admins only" } });
    expect([error.status, error.code, error.message]).toEqual([403, "forbidden", "instance admins only"]);
    expect(errorOf(502, null).code).toBe("http_502");
  });
  it("picks report.created frames and events to acknowledge out of the WebSocket", () => {
    const report = { id: "r", target: message, reason: "abuse", status: "open" };
    const created = frameOf(JSON.stringify({ type: "report.created", report }));
    expect(created?.kind === "report" && created.report.id).toBe("r");
    expect(frameOf(JSON.stringify({ type: "event", cursor: "17", event: {} }))).toEqual({ kind: "event", cursor: "17" });
    expect(frameOf(JSON.stringify({ type: "ready", cursor: "17" }))).toBeNull();
    expect(frameOf("{not json")).toBeNull();
    expect(frameOf(JSON.stringify({ type: "report.created" }))).toBeNull();
    expect(frameOf(new ArrayBuffer(2))).toBeNull();
  });
});
