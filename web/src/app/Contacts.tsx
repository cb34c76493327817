// My contacts (add, remove, chat) and blocks.
import { useEffect, useState } from "preact/hooks";
import type { User } from "../api/types";
import { useChat } from "./context";
import { go } from "./route";
import { UserSearch } from "./UserSearch";

export function Contacts() {
  const chat = useChat();
  const [contacts, setContacts] = useState<User[]>([]);
  const [blocked, setBlocked] = useState<User[]>([]);
  const [error, setError] = useState<string | null>(null);
  const reload = () => chat.api.users.contacts().then((page) => setContacts(page.items)).catch(() => undefined);
  useEffect(() => void reload(), []);

  const act = async (work: Promise<unknown>) => {
    setError(null);
    try {
      await work;
      await reload();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : "failed");
    }
  };

  const chatWith = async (user: User) => {
    const room = await chat.createRoom("direct", [user.id]);
    go(`rooms/${room.id}`);
  };

  return (
    <div class="page" data-testid="contacts-page">
      <h2>Contacts</h2>
      <ul class="list" data-testid="contact-list">
        {contacts.map((user) => (
          <li key={user.id} data-testid="contact" data-user-id={user.id}>
            <span>{user.display_name}</span>
            <button onClick={() => void act(chatWith(user))}>Chat</button>
            <button onClick={() => void act(chat.api.users.removeContact(user.id))} data-testid="contact-remove">Remove</button>
            <button
              onClick={() => void act(chat.api.users.block(user.id).then(() => setBlocked([...blocked, user])))}
              data-testid="contact-block"
            >
              Block
            </button>
          </li>
        ))}
      </ul>
      <h3>Add a contact</h3>
      <UserSearch label="Add" onPick={(user) => void act(chat.api.users.addContact(user.id))} />
      <h3>Blocked</h3>
      <ul class="list" data-testid="blocked-list">
        {blocked.map((user) => (
          <li key={user.id}>
            <span>{user.display_name}</span>
            <button onClick={() => void act(chat.api.users.unblock(user.id).then(() => setBlocked(blocked.filter((u) => u.id !== user.id))))} data-testid="unblock">
              Unblock
            </button>
          </li>
        ))}
      </ul>
      <h3>Block someone</h3>
      <UserSearch label="Block" onPick={(user) => void act(chat.api.users.block(user.id).then(() => setBlocked([...blocked, user])))} />
      {error && <p class="error">{error}</p>}
    </div>
  );
}
