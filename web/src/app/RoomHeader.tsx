// The room's title, the peer's presence (direct rooms) and the call button.
import { useEffect, useState } from "preact/hooks";
import type { Room } from "../api/types";
import { useChat } from "./context";
import { useObservable } from "./store";
import { calls } from "./calls/calls";

function lastSeen(at: string | null): string {
  if (!at) return "offline";
  return `last seen ${new Date(at).toLocaleString()}`;
}

export function RoomHeader({ roomId }: { roomId: string }) {
  const chat = useChat();
  const [room, setRoom] = useState<Room | null>(null);
  const presence = useObservable(chat.people.presence);
  useObservable(chat.people.users);
  useEffect(() => {
    chat.room(roomId).then((r) => {
      setRoom(r);
      const peer = chat.peerOf(r);
      if (peer) chat.socket.send({ type: "presence", user_id: peer });
    }).catch(() => undefined);
  }, [roomId]);
  if (!room) return <header class="room-header" />;
  const peer = chat.peerOf(room);
  const state = peer ? presence[peer] : undefined;
  return (
    <header class="room-header">
      <h2 data-testid="room-name">{chat.title(room)}</h2>
      {peer && (
        <span class="muted" data-testid="presence">{state ? (state.online ? "online" : lastSeen(state.last_seen)) : ""}</span>
      )}
      {peer && (
        <button onClick={() => void calls(chat).start(roomId, peer)} data-testid="call-start">
          Call
        </button>
      )}
    </header>
  );
}
