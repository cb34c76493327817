// Find users by name or username prefix.
import { useEffect, useState } from "preact/hooks";
import type { User } from "../api/types";
import { useChat } from "./context";

export function UserSearch({ onPick, label }: { onPick: (user: User) => void; label: string }) {
  const chat = useChat();
  const [query, setQuery] = useState("");
  const [found, setFound] = useState<User[]>([]);
  useEffect(() => {
    if (query.trim().length < 1) {
      setFound([]);
      return;
    }
    const timer = setTimeout(() => {
      chat.api.users
        .search(query.trim())
        .then((page) => setFound(page.items.filter((u) => u.id !== chat.me.userId)))
        .catch(() => setFound([]));
    }, 200);
    return () => clearTimeout(timer);
  }, [query]);
  return (
    <div class="user-search">
      <input placeholder="Search people" value={query} onInput={(e) => setQuery(e.currentTarget.value)} data-testid="user-search" />
      <ul>
        {found.map((user) => (
          <li key={user.id}>
            <span>{user.display_name}</span>
            <button onClick={() => onPick(user)} data-testid="user-pick" data-user-id={user.id}>{label}</button>
          </li>
        ))}
      </ul>
    </div>
  );
}
