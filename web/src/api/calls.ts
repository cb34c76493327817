// WebRTC signalling over REST and the TURN credentials.
import type { Http } from "./http";
import type { TurnCredentials, Uuid } from "./types";

export type RestSignalKind = "offer" | "answer" | "candidate";

export class CallsApi {
  constructor(private readonly http: Http) {}

  signal(kind: RestSignalKind, roomId: Uuid, to: Uuid, payload: unknown): Promise<void> {
    return this.http.request("POST", `/v1/webrtc/${kind}`, { body: { room_id: roomId, to, payload } });
  }

  /** ICE servers for RTCPeerConnection; none when the server has no TURN configured. */
  async iceServers(): Promise<RTCIceServer[]> {
    try {
      const turn = await this.http.request<TurnCredentials>("GET", "/v1/webrtc/turn");
      return [{ urls: turn.urls, username: turn.username, credential: turn.credential }];
    } catch {
      return [];
    }
  }
}
