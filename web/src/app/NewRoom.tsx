// Start a direct chat with one person, or a group with several.
import { useState } from "preact/hooks";
import { ApiError } from "../api/errors";
import type { User } from "../api/types";
import { useChat } from "./context";
import { go } from "./route";
import { UserSearch } from "./UserSearch";

export function NewRoom() {
  const chat = useChat();
  const [kind, setKind] = useState<"direct" | "group">("direct");
  const [picked, setPicked] = useState<User[]>([]);
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);

  const create = async (members: User[]) => {
    setError(null);
    try {
      const room = await chat.createRoom(kind, members.map((u) => u.id), kind === "group" ? name || undefined : undefined);
      go(`rooms/${room.id}`);
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.message : "could not create the room");
    }
  };

  const pick = (user: User) => {
    if (kind === "direct") void create([user]);
    else if (!picked.some((u) => u.id === user.id)) setPicked([...picked, user]);
  };

  return (
    <div class="page">
      <h2>New chat</h2>
      <div class="tabs">
        <button class={kind === "direct" ? "active" : ""} onClick={() => setKind("direct")} data-testid="new-direct">Direct</button>
        <button class={kind === "group" ? "active" : ""} onClick={() => setKind("group")} data-testid="new-group">Group</button>
      </div>
      {kind === "group" && (
        <>
          <input placeholder="Group name" value={name} onInput={(e) => setName(e.currentTarget.value)} data-testid="group-name" />
          <p>Members: {picked.map((u) => u.display_name).join(", ") || "none yet"}</p>
          <button disabled={picked.length === 0} onClick={() => void create(picked)} data-testid="group-create">Create group</button>
        </>
      )}
      <UserSearch onPick={pick} label={kind === "direct" ? "Chat" : "Add"} />
      {error && <p class="error">{error}</p>}
    </div>
  );
}
