// What to tell the person when an action failed.
import { ApiError, NETWORK_ERROR } from "../api/errors";

const MESSAGES: Record<string, string> = {
  blocked: "You cannot message this person.",
  edit_window_closed: "Messages can only be edited for 48 hours.",
  too_large: "That is larger than this server allows.",
  rate_limited: "Too many requests; try again in a moment.",
  [NETWORK_ERROR]: "The server cannot be reached; check your connection.",
};

export function describeError(error: unknown): string {
  if (error instanceof ApiError) return MESSAGES[error.code] ?? error.message;
  return error instanceof Error ? error.message : "Something went wrong.";
}
