// Rooms and their members, mute.
import type { Http } from "./http";
import type { Page, Role, Room, RoomKind, Uuid } from "./types";

export class RoomsApi {
  constructor(private readonly http: Http) {}

  list(): Promise<Page<Room>> {
    return this.http.request("GET", "/v1/rooms", { query: { limit: 200 } });
  }

  get(roomId: Uuid): Promise<Room> {
    return this.http.request("GET", `/v1/rooms/${roomId}`);
  }

  create(kind: RoomKind, members: Uuid[], name?: string): Promise<Room> {
    return this.http.request("POST", "/v1/rooms", { body: { kind, members, name } });
  }

  update(roomId: Uuid, fields: { name?: string; description?: string }): Promise<Room> {
    return this.http.request("PATCH", `/v1/rooms/${roomId}`, { body: fields });
  }

  leave(roomId: Uuid): Promise<void> {
    return this.http.request("POST", `/v1/rooms/${roomId}/leave`);
  }

  addMember(roomId: Uuid, userId: Uuid, role?: Role): Promise<void> {
    return this.http.request("PUT", `/v1/rooms/${roomId}/members/${userId}`, { body: role ? { role } : {} });
  }

  removeMember(roomId: Uuid, userId: Uuid): Promise<void> {
    return this.http.request("DELETE", `/v1/rooms/${roomId}/members/${userId}`);
  }

  mute(roomId: Uuid, until: Date): Promise<void> {
    return this.http.request("PUT", `/v1/rooms/${roomId}/mute`, { body: { until: until.toISOString() } });
  }

  unmute(roomId: Uuid): Promise<void> {
    return this.http.request("DELETE", `/v1/rooms/${roomId}/mute`);
  }
}
