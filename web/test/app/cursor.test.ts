import { describe, expect, it } from "vitest";
import { CursorTracker, compareCursors, isCursor } from "../../src/api/cursor";

describe("cursors", () => {
  it("compare as integers, not strings", () => {
    expect(compareCursors("9", "10")).toBe(-1);
    expect(compareCursors("10", "9")).toBe(1);
    expect(compareCursors("18446744073709551615", "18446744073709551614")).toBe(1);
    expect(compareCursors("5", "5")).toBe(0);
    expect(isCursor("12")).toBe(true);
    expect(isCursor("1a")).toBe(false);
    expect(isCursor(12)).toBe(false);
  });

  it("drops replays of what was already seen", () => {
    const tracker = new CursorTracker();
    expect(tracker.accept("1")).toBe(true);
    expect(tracker.accept("3")).toBe(true);
    expect(tracker.accept("3")).toBe(false);
    expect(tracker.accept("2")).toBe(false);
    expect(tracker.accept("10")).toBe(true);
    expect(tracker.seen).toBe("10");
  });

  it("acknowledges the highest seen cursor once", () => {
    const tracker = new CursorTracker("4");
    expect(tracker.pending()).toBeNull();
    expect(tracker.accept("4")).toBe(false);
    tracker.accept("5");
    tracker.accept("7");
    expect(tracker.pending()).toBe("7");
    tracker.confirm("7");
    expect(tracker.pending()).toBeNull();
    expect(tracker.acked).toBe("7");
  });

  it("never moves the acknowledged cursor back", () => {
    const tracker = new CursorTracker();
    tracker.confirm("9");
    tracker.confirm("3");
    expect(tracker.acked).toBe("9");
  });
});
