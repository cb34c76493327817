// Users, my profile and settings, contacts and blocks.
import type { Http } from "./http";
import type { Page, PrivacySetting, User, Uuid } from "./types";

export class UsersApi {
  constructor(private readonly http: Http) {}

  get(userId: Uuid): Promise<User> {
    return this.http.request("GET", `/v1/users/${userId}`);
  }

  search(query: string): Promise<Page<User>> {
    return this.http.request("GET", "/v1/users", { query: { query, limit: 20 } });
  }

  updateMe(fields: { display_name?: string; username?: string; bio?: string }): Promise<User> {
    return this.http.request("PATCH", "/v1/users/me", { body: fields });
  }

  updateSettings(settings: { last_seen_visible_to?: PrivacySetting; notifications?: boolean }): Promise<unknown> {
    return this.http.request("PATCH", "/v1/users/me/settings", { body: settings });
  }

  contacts(): Promise<Page<User>> {
    return this.http.request("GET", "/v1/contacts", { query: { limit: 200 } });
  }

  addContact(userId: Uuid): Promise<void> {
    return this.http.request("PUT", `/v1/contacts/${userId}`);
  }

  removeContact(userId: Uuid): Promise<void> {
    return this.http.request("DELETE", `/v1/contacts/${userId}`);
  }

  block(userId: Uuid): Promise<void> {
    return this.http.request("PUT", `/v1/blocks/${userId}`);
  }

  unblock(userId: Uuid): Promise<void> {
    return this.http.request("DELETE", `/v1/blocks/${userId}`);
  }
}
