// REST transport: JSON in and out, the error format, and the access token
// refreshed before it expires or once after a 401 (one refresh at a time:
// a spent refresh token presented twice would revoke the whole family).
import { ApiError, networkError, parseError } from "./errors";
import { type Session, SessionStore, sessionFromTokens } from "./session";
import type { Tokens } from "./types";

export type Query = Record<string, string | number | boolean | undefined | null>;

export interface RequestOptions {
  body?: unknown;
  query?: Query;
  /** Send the bearer token (default true). */
  auth?: boolean;
  signal?: AbortSignal;
}

/** Refresh this long before the access token's expiry. */
const REFRESH_MARGIN_MS = 30_000;

export function buildUrl(base: string, path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null) params.set(key, String(value));
  }
  const search = params.toString();
  return `${base}${path}${search ? `?${search}` : ""}`;
}

export class Http {
  private refreshing: Promise<Session | null> | null = null;

  constructor(
    readonly baseUrl: string,
    readonly session: SessionStore,
    private readonly fetchImpl: typeof fetch = (...args) => fetch(...args),
  ) {}

  /** A path or absolute URL the server gave (upload/download URLs), made absolute. */
  resolve(pathOrUrl: string): string {
    return /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : `${this.baseUrl}${pathOrUrl}`;
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const auth = options.auth ?? true;
    let token = auth ? await this.accessToken() : null;
    let response = await this.send(method, path, options, token);
    if (response.status === 401 && auth && token !== null) {
      const renewed = await this.refresh();
      if (renewed === null) throw await this.failure(response);
      token = renewed.access_token;
      response = await this.send(method, path, options, token);
    }
    if (!response.ok) throw await this.failure(response);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return (text === "" ? undefined : JSON.parse(text)) as T;
  }

  /** A raw request with the bearer token (binary bodies, blob URLs). */
  async raw(method: string, url: string, init: RequestInit = {}): Promise<Response> {
    let response: Response;
    try {
      response = await this.fetchImpl(this.resolve(url), { ...init, method });
    } catch (cause) {
      throw networkError(cause);
    }
    if (!response.ok) throw await this.failure(response);
    return response;
  }

  /** A valid access token, refreshing first when it is about to expire. */
  async accessToken(): Promise<string | null> {
    const current = this.session.get();
    if (current === null) return null;
    if (current.access_expires_at - REFRESH_MARGIN_MS > Date.now()) return current.access_token;
    const renewed = await this.refresh();
    return renewed?.access_token ?? null;
  }

  /** Exchanges the refresh token; null (and logged out) when the server refuses it. */
  refresh(): Promise<Session | null> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<Session | null> {
    const current = this.session.get();
    if (current === null) return null;
    const response = await this.send("POST", "/v1/auth/refresh", { body: { refresh_token: current.refresh_token } }, null);
    if (response.status === 401 || response.status === 403) {
      this.session.clear();
      return null;
    }
    if (!response.ok) throw await this.failure(response);
    const tokens = (await response.json()) as Tokens;
    const session = sessionFromTokens(tokens);
    this.session.set(session);
    return session;
  }

  private async send(method: string, path: string, options: RequestOptions, token: string | null): Promise<Response> {
    const headers: Record<string, string> = {};
    if (token !== null) headers["authorization"] = `Bearer ${token}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.body);
    }
    try {
      return await this.fetchImpl(buildUrl(this.baseUrl, path, options.query), {
        method,
        headers,
        body,
        signal: options.signal,
      });
    } catch (cause) {
      throw networkError(cause);
    }
  }

  private async failure(response: Response): Promise<ApiError> {
    const text = await response.text().catch(() => "");
    return parseError(response.status, text, response.headers.get("retry-after"));
  }
}
