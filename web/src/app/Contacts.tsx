// My contacts (add, remove, chat, block) and the people I blocked.
import { useEffect, useState } from "preact/hooks";
import type { Block, Contact } from "../api/types";
import { useChat } from "./context";
import { go } from "./route";
import { useObservable } from "./store";
import { UserSearch } from "./UserSearch";

export function Contacts() {
  const chat = useChat();
  const [contacts, setContacts] = useState<Contact[]>([]);
  const [blocks, setBlocks] = useState<Block[]>([]);
  const [error, setError] = useState<string | null>(null);
  useObservable(chat.people.users);
  const reload = async () => {
    const [contactPage, blockPage] = await Promise.all([chat.api.users.contacts(), chat.api.users.blocks()]);
    setContacts(contactPage.items);
    setBlocks(blockPage.items);
  };
  useEffect(() => void reload().catch(() => undefined), []);

  const act = async (work: Promise<unknown>) => {
    setError(null);
    try {
      await work;
      await reload();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : "failed");
    }
  };

  const chatWith = async (userId: string) => {
    const room = await chat.createRoom("direct", [userId]);
    go(`rooms/${room.id}`);
  };

  return (
    <div class="page" data-testid="contacts-page">
      <h2>Contacts</h2>
      <ul class="list" data-testid="contact-list">
        {contacts.map((contact) => (
          <li key={contact.user_id} data-testid="contact" data-user-id={contact.user_id}>
            <span>{contact.display_name}</span>
            <button onClick={() => void act(chatWith(contact.user_id))} data-testid="contact-chat">Chat</button>
            <button onClick={() => void act(chat.api.users.removeContact(contact.user_id))} data-testid="contact-remove">Remove</button>
            <button onClick={() => void act(chat.api.users.block(contact.user_id))} data-testid="contact-block">Block</button>
          </li>
        ))}
      </ul>
      <h3>Add a contact</h3>
      <UserSearch label="Add" onPick={(user) => void act(chat.api.users.addContact(user.id))} />
      <h3>Blocked</h3>
      <ul class="list" data-testid="blocked-list">
        {blocks.map((block) => (
          <li key={block.user_id} data-testid="blocked" data-user-id={block.user_id}>
            <span>{chat.people.name(block.user_id)}</span>
            <button onClick={() => void act(chat.api.users.unblock(block.user_id))} data-testid="unblock">Unblock</button>
          </li>
        ))}
      </ul>
      <h3>Block someone</h3>
      <UserSearch label="Block" onPick={(user) => void act(chat.api.users.block(user.id))} />
      {error && <p class="error">{error}</p>}
    </div>
  );
}
