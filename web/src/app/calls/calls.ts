// One-to-one calls: RTCPeerConnection with ICE servers from /v1/webrtc/turn,
// signalled with WebSocket `signal` frames (offer to all the callee's devices,
// then answer and candidates between the two devices that met).
import type { Chat, SignalFrame } from "../chat/controller";
import { Observable } from "../store";
import { localMedia } from "./media";

export type CallPhase = "idle" | "calling" | "ringing" | "connecting" | "connected" | "ended";

export interface CallState {
  phase: CallPhase;
  callId?: string;
  roomId?: string;
  peer?: string;
  peerDevice?: string;
  remote?: MediaStream;
  local?: MediaStream;
  reason?: string;
}

interface Payload {
  call_id: string;
  sdp?: RTCSessionDescriptionInit;
  candidate?: RTCIceCandidateInit;
  hangup?: boolean;
}

export class Calls {
  readonly state = new Observable<CallState>({ phase: "idle" });
  private pc: RTCPeerConnection | null = null;
  private pendingOffer: { frame: SignalFrame; payload: Payload } | null = null;
  private queuedCandidates: RTCIceCandidateInit[] = [];
  private remoteCandidates: RTCIceCandidateInit[] = [];

  constructor(private readonly chat: Chat) {
    chat.onSignal((frame) => {
      if (frame.kind !== "playback") void this.signal(frame);
    });
  }

  private send(kind: "offer" | "answer" | "candidate", payload: Payload): void {
    const { roomId, peer, peerDevice } = this.state.get();
    if (!roomId || !peer) return;
    this.chat.socket.send({ type: "signal", to: peer, device_id: peerDevice, room_id: roomId, kind, payload });
  }

  private async connection(local: MediaStream): Promise<RTCPeerConnection> {
    const iceServers = await this.chat.api.calls.iceServers();
    const pc = new RTCPeerConnection({ iceServers });
    for (const track of local.getTracks()) pc.addTrack(track, local);
    pc.onicecandidate = (event) => {
      if (!event.candidate) return;
      const callId = this.state.get().callId!;
      if (this.state.get().peerDevice) this.send("candidate", { call_id: callId, candidate: event.candidate.toJSON() });
      else this.queuedCandidates.push(event.candidate.toJSON());
    };
    pc.ontrack = (event) => this.patch({ remote: event.streams[0] ?? new MediaStream([event.track]) });
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "connected") this.patch({ phase: "connected" });
      if (pc.connectionState === "failed") this.end("the connection failed");
    };
    this.pc = pc;
    return pc;
  }

  private patch(change: Partial<CallState>): void {
    this.state.set({ ...this.state.get(), ...change });
  }

  async start(roomId: string, peer: string): Promise<void> {
    if (this.state.get().phase !== "idle" && this.state.get().phase !== "ended") return;
    const callId = crypto.randomUUID();
    const local = await localMedia();
    this.state.set({ phase: "calling", callId, roomId, peer, local });
    const pc = await this.connection(local);
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    this.send("offer", { call_id: callId, sdp: offer });
  }

  async accept(): Promise<void> {
    const pending = this.pendingOffer;
    if (!pending) return;
    this.pendingOffer = null;
    const local = await localMedia();
    this.patch({ phase: "connecting", local });
    const pc = await this.connection(local);
    await pc.setRemoteDescription(pending.payload.sdp!);
    for (const candidate of this.remoteCandidates.splice(0)) await pc.addIceCandidate(candidate).catch(() => undefined);
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    this.send("answer", { call_id: pending.payload.call_id, sdp: answer });
  }

  hangUp(): void {
    const { callId } = this.state.get();
    if (callId) this.send("candidate", { call_id: callId, hangup: true });
    this.end("hung up");
  }

  private end(reason: string): void {
    const { local } = this.state.get();
    for (const track of local?.getTracks() ?? []) track.stop();
    this.pc?.close();
    this.pc = null;
    this.pendingOffer = null;
    this.queuedCandidates = [];
    this.remoteCandidates = [];
    this.state.set({ phase: "ended", reason });
  }

  private async signal(frame: SignalFrame): Promise<void> {
    const payload = frame.payload as Payload;
    if (typeof payload !== "object" || payload === null || typeof payload.call_id !== "string") return;
    const state = this.state.get();
    if (frame.kind === "offer") {
      if (state.phase !== "idle" && state.phase !== "ended") return; // busy
      this.pendingOffer = { frame, payload };
      this.state.set({ phase: "ringing", callId: payload.call_id, roomId: frame.room_id, peer: frame.from, peerDevice: frame.from_device ?? undefined });
      return;
    }
    if (payload.call_id !== state.callId) return;
    // Once the peer device is known, signals from its other devices are not ours.
    if (state.peerDevice && frame.from_device && frame.from_device !== state.peerDevice) return;
    if (payload.hangup) {
      this.end("the other side hung up");
      return;
    }
    if (frame.kind === "answer" && this.pc && state.phase === "calling") {
      this.patch({ phase: "connecting", peerDevice: frame.from_device ?? undefined });
      await this.pc.setRemoteDescription(payload.sdp!);
      for (const candidate of this.queuedCandidates.splice(0)) this.send("candidate", { call_id: payload.call_id, candidate });
      for (const candidate of this.remoteCandidates.splice(0)) await this.pc.addIceCandidate(candidate).catch(() => undefined);
    } else if (frame.kind === "candidate" && payload.candidate) {
      if (this.pc?.remoteDescription) await this.pc.addIceCandidate(payload.candidate).catch(() => undefined);
      else this.remoteCandidates.push(payload.candidate);
    }
  }
}

const byChat = new WeakMap<Chat, Calls>();

/** The chat's call manager (one per logged-in chat). */
export function calls(chat: Chat): Calls {
  let manager = byChat.get(chat);
  if (!manager) {
    manager = new Calls(chat);
    byChat.set(chat, manager);
  }
  return manager;
}
