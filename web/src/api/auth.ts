// Register, log in and out. A browser profile is one device: its id is sent
// back on every login so the session (and the device's keys) carry on.
import type { Http } from "./http";
import { sessionFromTokens, type Session } from "./session";
import type { Tokens, User } from "./types";

export class AuthApi {
  constructor(private readonly http: Http) {}

  private device(name: string): { device_id?: string; name: string } {
    const deviceId = this.http.session.deviceId();
    return deviceId ? { device_id: deviceId, name } : { name };
  }

  async register(email: string, password: string, displayName: string, deviceName: string): Promise<Session> {
    const tokens = await this.http.request<Tokens>("POST", "/v1/auth/register", {
      auth: false,
      // A new account is a new device: the profile's old device belonged to someone else.
      body: { email, password, display_name: displayName, device: { name: deviceName } },
    });
    return this.keep(tokens);
  }

  async login(email: string, password: string, deviceName: string): Promise<Session> {
    const tokens = await this.http.request<Tokens>("POST", "/v1/auth/login", {
      auth: false,
      body: { email, password, device: this.device(deviceName) },
    });
    return this.keep(tokens);
  }

  /** Ends this device's session; the server removes the device. */
  async logout(): Promise<void> {
    const session = this.http.session.get();
    try {
      if (session) await this.http.request("POST", "/v1/auth/logout", { body: { refresh_token: session.refresh_token } });
    } finally {
      this.http.session.clear(true);
    }
  }

  me(): Promise<User> {
    return this.http.request<User>("GET", "/v1/auth/me");
  }

  private keep(tokens: Tokens): Session {
    const session = sessionFromTokens(tokens);
    this.http.session.set(session);
    return session;
  }
}
