// The offline inbox over REST (the WebSocket replays the same queue).
import type { Http } from "./http";
import type { ChatEvent, Cursor } from "./types";

export class InboxApi {
  constructor(private readonly http: Http) {}

  list(after?: Cursor, limit = 200): Promise<{ items: { cursor: Cursor; event: ChatEvent }[]; next: Cursor | null }> {
    return this.http.request("GET", "/v1/inbox", { query: { after, limit } });
  }

  ack(cursor: Cursor): Promise<void> {
    return this.http.request("POST", "/v1/inbox/ack", { body: { cursor } });
  }

  async ticket(): Promise<string> {
    const answer = await this.http.request<{ ticket: string }>("POST", "/v1/ws/ticket");
    return answer.ticket;
  }
}
