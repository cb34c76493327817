// The logged-in layout: rooms on the left, the current page on the right,
// and a call overlay when a call is on.
import { useEffect } from "preact/hooks";
import { useObservable } from "./store";
import { useChat } from "./context";
import { go, useRoute } from "./route";
import { RoomList } from "./RoomList";
import { RoomView } from "./RoomView";
import { NewRoom } from "./NewRoom";
import { Contacts } from "./Contacts";
import { Settings } from "./Settings";
import { CallOverlay } from "./calls/CallOverlay";

export function ChatApp() {
  const chat = useChat();
  const route = useRoute();
  const status = useObservable(chat.status);
  const me = chat.api.session.get()?.user;
  const rooms = useObservable(chat.rooms);
  const unread = rooms.reduce((sum, room) => sum + (room.unread ?? 0), 0);
  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) CipherTalk` : "CipherTalk";
  }, [unread]);

  return (
    <div class="layout">
      <aside class="sidebar">
        <header class="me">
          <strong data-testid="me-name">{me?.display_name}</strong>
          <span class={`status status-${status}`} data-testid="connection-status">{status}</span>
        </header>
        <nav class="nav">
          <button onClick={() => go("new")} data-testid="nav-new-room">New chat</button>
          <button onClick={() => go("contacts")} data-testid="nav-contacts">Contacts</button>
          <button onClick={() => go("settings")} data-testid="nav-settings">Settings</button>
        </nav>
        <RoomList activeId={route.page === "room" ? route.roomId : null} />
      </aside>
      <section class="main">
        {route.page === "room" && <RoomView key={route.roomId} roomId={route.roomId} />}
        {route.page === "new" && <NewRoom />}
        {route.page === "contacts" && <Contacts />}
        {route.page === "settings" && <Settings />}
        {route.page === "home" && <p class="muted empty">Pick a chat, or start a new one.</p>}
      </section>
      <CallOverlay />
    </div>
  );
}
