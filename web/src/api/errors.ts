// The API's error format: status plus {"error": {"code", "message", "details"}}.
// Anything else (a proxy's HTML page, a dropped connection) still becomes an
// ApiError with a code of our own, so callers only ever handle one shape.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    /** Seconds, from `Retry-After` (429, 503). */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** The field a 4xx names in its details, for showing the error next to it. */
  get field(): string | undefined {
    const field = this.details["field"];
    return typeof field === "string" ? field : undefined;
  }
}

/** A request that never got an answer (offline, refused, aborted). */
export const NETWORK_ERROR = "network_error";

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `Retry-After` in seconds: delta-seconds or an HTTP date (relative to `now`). */
export function parseRetryAfter(header: string | null, now = Date.now()): number | null {
  if (header === null || header.trim() === "") return null;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/** The ApiError for a non-2xx answer, from its status, body text and Retry-After. */
export function parseError(status: number, bodyText: string, retryAfter: string | null = null): ApiError {
  const seconds = parseRetryAfter(retryAfter);
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    body = undefined;
  }
  const error = isRecord(body) ? body["error"] : undefined;
  if (isRecord(error) && typeof error["code"] === "string") {
    const message = typeof error["message"] === "string" ? error["message"] : error["code"];
    const details = isRecord(error["details"]) ? error["details"] : {};
    return new ApiError(status, error["code"], message, details, seconds);
  }
  return new ApiError(status, `http_${status}`, `the server answered ${status}`, {}, seconds);
}

export function networkError(cause: unknown): ApiError {
  const message = cause instanceof Error ? cause.message : "the request failed";
  return new ApiError(0, NETWORK_ERROR, message);
}
