// My rooms, most recent first, with unread counts.
import { useChat } from "./context";
import { go } from "./route";
import { useObservable } from "./store";

export function RoomList({ activeId }: { activeId: string | null }) {
  const chat = useChat();
  const rooms = useObservable(chat.rooms);
  useObservable(chat.people.users);
  return (
    <ul class="rooms" data-testid="room-list">
      {rooms.map((room) => (
        <li key={room.id}>
          <button
            class={room.id === activeId ? "room active" : "room"}
            onClick={() => go(`rooms/${room.id}`)}
            data-testid="room-item"
            data-room-id={room.id}
          >
            <span class="room-title" data-testid="room-title">{chat.title(room)}</span>
            {(room.unread ?? 0) > 0 && <span class="badge" data-testid="room-unread">{room.unread}</span>}
          </button>
        </li>
      ))}
    </ul>
  );
}
