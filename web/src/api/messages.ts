// Messages of a room (ciphertext only: sealing is the crypto engine's) and receipts.
import type { Http } from "./http";
import type { Message, NewMessage, Page, Uuid } from "./types";

export type HistoryWindow = { before: number } | { after: number } | Record<string, never>;

export class MessagesApi {
  constructor(private readonly http: Http) {}

  send(roomId: Uuid, message: NewMessage): Promise<Message> {
    return this.http.request("POST", `/v1/rooms/${roomId}/messages`, { body: message });
  }

  /** Ascending seq order; `before`/`after` a seq, or the newest `limit`. */
  history(roomId: Uuid, window: HistoryWindow = {}, limit = 50): Promise<Page<Message>> {
    return this.http.request("GET", `/v1/rooms/${roomId}/messages`, { query: { ...window, limit } });
  }

  edit(roomId: Uuid, messageId: Uuid, ciphertext: string): Promise<Message> {
    return this.http.request("PATCH", `/v1/rooms/${roomId}/messages/${messageId}`, { body: { ciphertext } });
  }

  delete(roomId: Uuid, messageId: Uuid, scope: "everyone" | "me"): Promise<void> {
    return this.http.request("DELETE", `/v1/rooms/${roomId}/messages/${messageId}`, { query: { for: scope } });
  }

  receipt(roomId: Uuid, upToSeq: number, kind: "delivered" | "read"): Promise<void> {
    return this.http.request("POST", `/v1/rooms/${roomId}/receipts`, { body: { up_to_seq: upToSeq, kind } });
  }
}
