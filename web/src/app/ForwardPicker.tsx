// Pick the room to forward a message to.
import { useChat } from "./context";
import type { ShownMessage } from "./chat/timeline";
import { useObservable } from "./store";

export function ForwardPicker({ item, onDone }: { item: ShownMessage; onDone: () => void }) {
  const chat = useChat();
  const rooms = useObservable(chat.rooms);
  return (
    <div class="picker" data-testid="forward-picker">
      <p>Forward to:</p>
      {rooms.map((room) => (
        <button key={room.id} onClick={() => void chat.forward(item, room.id).finally(onDone)} data-testid="forward-target" data-room-id={room.id}>
          {chat.title(room)}
        </button>
      ))}
      <button class="link" onClick={onDone}>Cancel</button>
    </div>
  );
}
