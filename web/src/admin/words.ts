// What the admin page says about reports, in words: the franking verdict,
// the target, times. Pure functions, tested in web/test/admin.

import type { Report, Target } from "./api";

export interface Verdict {
  /** `verified`, `failed` or `none`: the CSS class and test id suffix. */
  kind: "verified" | "failed" | "none";
  label: string;
  explanation: string;
}

/** The franking verdict of a report, explained for a moderator. */
export function verdictOf(report: Pick<Report, "verified" | "target">): Verdict {
  if (report.verified === true) {
    return {
      kind: "verified",
      label: "Verified",
      explanation:
        "The reporter proved the plaintext: it matches the sender's commitment and the server's reporting tag, so the sender really sent this text.",
    };
  }
  if (report.verified === false) {
    return {
      kind: "failed",
      label: "Not verified",
      explanation:
        "The reporter gave a proof that does not match the stored message: the quoted text may not be what the sender sent.",
    };
  }
  return {
    kind: "none",
    label: "No proof",
    explanation:
      report.target.kind === "message"
        ? "The reporter gave no franking proof (or the message has no commitment): the server cannot tell what it said."
        : `A ${report.target.kind} cannot be franked: judge from the evidence.`,
  };
}

/** "message 0190… in room 0190…". */
export function describeTarget(target: Target): string {
  return target.room_id ? `${target.kind} ${target.id} in room ${target.room_id}` : `${target.kind} ${target.id}`;
}

/** A time the way the page shows it: UTC, to the second. */
export function showTime(at: string | null | undefined): string {
  if (!at) return "never";
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) return at;
  return date.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

/**
 * The RFC 3339 time of a `datetime-local` input's value (read as UTC, as the
 * page shows times); undefined for an empty one.
 */
export function fromLocalInput(value: string): string | undefined {
  if (!value) return undefined;
  const date = new Date(`${value}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** Whether `text` looks like a UUID (ids the admin routes take). */
export function isUuid(text: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text.trim());
}

/** A byte count in B, KiB, MiB or GiB. */
export function bytesLabel(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return "?";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${(bytes / 1024 / 1024 / 1024).toFixed(1)} GiB`;
}
