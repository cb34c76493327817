import { describe, expect, it } from "vitest";
import { ApiError } from "../../src/api/errors";
import { Http, buildUrl } from "../../src/api/http";
import { MemoryStorage, SessionStore } from "../../src/api/session";
import { socketUrl } from "../../src/api/socket";

const user = { id: "u1", display_name: "Ann", created_at: "2026-01-01T00:00:00Z" };

function tokens(n: number) {
  return { user, device_id: "d1", access_token: `access-${n}`, refresh_token: `refresh-${n}`, expires_in: 900 };
}

function json(status: number, body: unknown): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

type Call = { url: string; method: string; auth: string | null; body: string | null };

function server(handler: (call: Call) => Response) {
  const calls: Call[] = [];
  const fetchImpl = (async (url: string, init: RequestInit) => {
    const headers = (init.headers ?? {}) as Record<string, string>;
    const call = { url, method: init.method ?? "GET", auth: headers["authorization"] ?? null, body: (init.body as string) ?? null };
    calls.push(call);
    return handler(call);
  }) as unknown as typeof fetch;
  return { calls, fetchImpl };
}

function loggedIn(expiresInMs: number): SessionStore {
  const store = new SessionStore(new MemoryStorage());
  store.set({ user, device_id: "d1", access_token: "access-0", refresh_token: "refresh-0", access_expires_at: Date.now() + expiresInMs });
  return store;
}

describe("Http", () => {
  it("builds query strings without empty values", () => {
    expect(buildUrl("http://h", "/v1/x", { a: 1, b: undefined, c: null, d: "x y" })).toBe("http://h/v1/x?a=1&d=x+y");
    expect(buildUrl("", "/v1/x")).toBe("/v1/x");
  });

  it("refreshes once after a 401 and retries with the new token", async () => {
    const { calls, fetchImpl } = server((call) => {
      if (call.url.endsWith("/v1/auth/refresh")) return json(200, tokens(1));
      return call.auth === "Bearer access-1" ? json(200, { ok: true }) : json(401, { error: { code: "unauthenticated", message: "x" } });
    });
    const http = new Http("http://h", loggedIn(600_000), fetchImpl);
    await expect(http.request("GET", "/v1/auth/me")).resolves.toEqual({ ok: true });
    expect(calls.map((c) => c.url)).toEqual(["http://h/v1/auth/me", "http://h/v1/auth/refresh", "http://h/v1/auth/me"]);
    expect(http.session.get()?.refresh_token).toBe("refresh-1");
  });

  it("refreshes ahead of expiry, once for concurrent requests", async () => {
    const { calls, fetchImpl } = server((call) => (call.url.endsWith("/refresh") ? json(200, tokens(1)) : json(200, {})));
    const http = new Http("http://h", loggedIn(1000), fetchImpl);
    await Promise.all([http.request("GET", "/v1/rooms"), http.request("GET", "/v1/contacts")]);
    expect(calls.filter((c) => c.url.endsWith("/refresh"))).toHaveLength(1);
    expect(calls.filter((c) => !c.url.endsWith("/refresh")).every((c) => c.auth === "Bearer access-1")).toBe(true);
  });

  it("logs out when the refresh token is refused", async () => {
    const { fetchImpl } = server(() => json(401, { error: { code: "unauthenticated", message: "spent" } }));
    const http = new Http("http://h", loggedIn(600_000), fetchImpl);
    const error = await http.request("GET", "/v1/rooms").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(401);
    expect(http.session.get()).toBeNull();
    expect(http.session.deviceId()).toBe("d1");
  });

  it("turns a failed fetch into a network error", async () => {
    const fetchImpl = (async () => {
      throw new TypeError("Failed to fetch");
    }) as unknown as typeof fetch;
    const http = new Http("http://h", new SessionStore(new MemoryStorage()), fetchImpl);
    await expect(http.request("GET", "/health", { auth: false })).rejects.toMatchObject({ code: "network_error", status: 0 });
  });

  it("answers undefined for 204", async () => {
    const { fetchImpl } = server(() => json(204, null));
    const http = new Http("http://h", loggedIn(600_000), fetchImpl);
    await expect(http.request("DELETE", "/v1/contacts/x")).resolves.toBeUndefined();
  });
});

describe("socketUrl", () => {
  it("uses ws(s) and the ticket, with since only when known", () => {
    expect(socketUrl("http://h:1", "t", null)).toBe("ws://h:1/v1/ws?ticket=t");
    expect(socketUrl("https://h", "t", "42")).toBe("wss://h/v1/ws?ticket=t&since=42");
    expect(socketUrl("", "t", null, "http://page:5/app")).toBe("ws://page:5/v1/ws?ticket=t");
  });
});

describe("SessionStore", () => {
  it("survives a reload and ignores junk", () => {
    const storage = new MemoryStorage();
    new SessionStore(storage).set({ user, device_id: "d9", access_token: "a", refresh_token: "r", access_expires_at: 1 });
    expect(new SessionStore(storage).get()?.device_id).toBe("d9");
    storage.setItem("ciphertalk.session", "{not json");
    expect(new SessionStore(storage).get()).toBeNull();
    expect(new SessionStore(storage).deviceId()).toBe("d9");
  });
});
