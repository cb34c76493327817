// Users, my profile and settings, contacts and blocks.
import type { Http } from "./http";
import type { Block, Contact, Page, User, UserSettings, Uuid } from "./types";

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

  settings(): Promise<UserSettings> {
    return this.http.request("GET", "/v1/users/me/settings");
  }

  updateSettings(settings: Partial<UserSettings>): Promise<UserSettings> {
    return this.http.request("PATCH", "/v1/users/me/settings", { body: settings });
  }

  contacts(): Promise<Page<Contact>> {
    return this.http.request("GET", "/v1/contacts", { query: { limit: 200 } });
  }

  addContact(userId: Uuid): Promise<void> {
    return this.http.request("PUT", `/v1/contacts/${userId}`);
  }

  removeContact(userId: Uuid): Promise<void> {
    return this.http.request("DELETE", `/v1/contacts/${userId}`);
  }

  blocks(): Promise<Page<Block>> {
    return this.http.request("GET", "/v1/blocks", { query: { limit: 200 } });
  }

  block(userId: Uuid): Promise<void> {
    return this.http.request("PUT", `/v1/blocks/${userId}`);
  }

  unblock(userId: Uuid): Promise<void> {
    return this.http.request("DELETE", `/v1/blocks/${userId}`);
  }
}
