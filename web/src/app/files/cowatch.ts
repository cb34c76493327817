// Co-watch: players that joined keep each other in step with `playback`
// signals (play, pause, seek, where). A late joiner asks the room
// (`request`) and a member already watching answers with its state.
import type { Chat, SignalFrame } from "../chat/controller";

interface PlaybackState {
  op: "state";
  file_id: string;
  state: "playing" | "paused";
  position: number;
}

/** Drift tolerated before a follower seeks to the sender's position. */
const MAX_DRIFT_S = 0.75;
/** How long after applying a peer's state its events count as our echo. */
const ECHO_WINDOW_MS = 1500;

function isState(payload: unknown): payload is PlaybackState {
  const p = payload as Partial<PlaybackState> | null;
  return !!p && p.op === "state" && typeof p.file_id === "string" && typeof p.position === "number" && (p.state === "playing" || p.state === "paused");
}

export function joinCoWatch(chat: Chat, roomId: string, fileId: string, media: HTMLMediaElement): () => void {
  // What we last set on a peer's behalf: the events it causes are not echoed
  // back, while a change of the person's own (another state or position) is.
  let applied: { state: PlaybackState["state"]; position: number; until: number } | null = null;
  const state = (): PlaybackState => ({ op: "state", file_id: fileId, state: media.paused ? "paused" : "playing", position: media.currentTime });
  const send = (to?: string) => {
    chat.socket.send({ type: "signal", room_id: roomId, kind: "playback", payload: state(), ...(to ? { to } : {}) });
  };
  const isEcho = (): boolean => {
    if (!applied || Date.now() > applied.until) return false;
    const now = state();
    return now.state === applied.state && Math.abs(now.position - applied.position) <= MAX_DRIFT_S;
  };
  const local = () => {
    if (!isEcho()) send();
  };
  const apply = async (remote: PlaybackState) => {
    applied = { state: remote.state, position: remote.position, until: Date.now() + ECHO_WINDOW_MS };
    if (Math.abs(media.currentTime - remote.position) > MAX_DRIFT_S) media.currentTime = remote.position;
    if (remote.state === "playing" && media.paused) await media.play().catch(() => undefined);
    if (remote.state === "paused" && !media.paused) media.pause();
  };
  const onSignal = (frame: SignalFrame) => {
    if (frame.kind !== "playback" || frame.room_id !== roomId || frame.from === chat.me.userId) return;
    const payload = frame.payload as { op?: string };
    if (payload?.op === "request") send(frame.from);
    else if (isState(frame.payload) && frame.payload.file_id === fileId) void apply(frame.payload);
  };
  const events = ["play", "pause", "seeked"] as const;
  for (const name of events) media.addEventListener(name, local);
  const unsubscribe = chat.onSignal(onSignal);
  chat.socket.send({ type: "signal", room_id: roomId, kind: "playback", payload: { op: "request" } });
  return () => {
    for (const name of events) media.removeEventListener(name, local);
    unsubscribe();
  };
}
