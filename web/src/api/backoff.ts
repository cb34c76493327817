// Reconnect delays: exponential with full jitter, capped, reset after a
// connection that stayed up. `random` is injectable for tests.

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 30_000 };

/** The delay before reconnect attempt `attempt` (0-based). */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF): number {
  const random = options.random ?? Math.random;
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(ceiling / 2 + (random() * ceiling) / 2);
}

/** The wait a server asked for (Retry-After seconds) wins over our own delay when longer. */
export function retryDelay(attempt: number, retryAfterSeconds: number | null, options: BackoffOptions = DEFAULT_BACKOFF): number {
  const ours = backoffDelay(attempt, options);
  return retryAfterSeconds === null ? ours : Math.max(ours, retryAfterSeconds * 1000);
}

export class Backoff {
  private attempt = 0;

  constructor(private readonly options: BackoffOptions = DEFAULT_BACKOFF) {}

  next(retryAfterSeconds: number | null = null): number {
    const delay = retryDelay(this.attempt, retryAfterSeconds, this.options);
    this.attempt += 1;
    return delay;
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
