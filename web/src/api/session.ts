// The logged-in session of this browser profile (one profile = one device).
// Kept in localStorage so a reload stays logged in; the device id outlives a
// session so logging in again reuses the device (and its keys).
import type { Tokens, User, Uuid } from "./types";

export interface Session {
  user: User;
  device_id: Uuid;
  access_token: string;
  refresh_token: string;
  /** Epoch ms after which the access token is no longer accepted. */
  access_expires_at: number;
}

export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const SESSION_KEY = "ciphertalk.session";
const DEVICE_KEY = "ciphertalk.device_id";

export function sessionFromTokens(tokens: Tokens, now = Date.now()): Session {
  return {
    user: tokens.user,
    device_id: tokens.device_id,
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    access_expires_at: now + tokens.expires_in * 1000,
  };
}

function isSession(value: unknown): value is Session {
  if (typeof value !== "object" || value === null) return false;
  const s = value as Record<string, unknown>;
  return (
    typeof s["device_id"] === "string" &&
    typeof s["access_token"] === "string" &&
    typeof s["refresh_token"] === "string" &&
    typeof s["access_expires_at"] === "number" &&
    typeof s["user"] === "object" &&
    s["user"] !== null
  );
}

export class SessionStore {
  private current: Session | null;
  private readonly listeners = new Set<(session: Session | null) => void>();

  constructor(private readonly storage: KeyValueStorage) {
    this.current = SessionStore.read(storage);
  }

  private static read(storage: KeyValueStorage): Session | null {
    const raw = storage.getItem(SESSION_KEY);
    if (raw === null) return null;
    try {
      const parsed: unknown = JSON.parse(raw);
      return isSession(parsed) ? parsed : null;
    } catch {
      return null;
    }
  }

  get(): Session | null {
    return this.current;
  }

  /** The device id this profile had, even when logged out. */
  deviceId(): Uuid | null {
    return this.current?.device_id ?? this.storage.getItem(DEVICE_KEY);
  }

  set(session: Session): void {
    this.current = session;
    this.storage.setItem(SESSION_KEY, JSON.stringify(session));
    this.storage.setItem(DEVICE_KEY, session.device_id);
    this.emit();
  }

  updateUser(user: User): void {
    if (this.current) this.set({ ...this.current, user });
  }

  /** Ends the session; `forgetDevice` too when the device itself is gone (logout removes it). */
  clear(forgetDevice = false): void {
    this.current = null;
    this.storage.removeItem(SESSION_KEY);
    if (forgetDevice) this.storage.removeItem(DEVICE_KEY);
    this.emit();
  }

  subscribe(listener: (session: Session | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    for (const listener of this.listeners) listener(this.current);
  }
}

/** An in-memory KeyValueStorage (tests, private windows without storage). */
export class MemoryStorage implements KeyValueStorage {
  private readonly map = new Map<string, string>();
  getItem(key: string): string | null {
    return this.map.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.map.set(key, value);
  }
  removeItem(key: string): void {
    this.map.delete(key);
  }
}
