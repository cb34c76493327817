// Write, reply, edit; attach a file; tell the room I am typing.
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { useChat } from "./context";
import type { ShownMessage } from "./chat/timeline";
import { sendFile } from "./files/upload";

interface Props {
  roomId: string;
  replyTo: ShownMessage | null;
  editing: ShownMessage | null;
  onDone: () => void;
  onError: (error: unknown) => void;
}

const TYPING_IDLE_MS = 3000;

export function Composer({ roomId, replyTo, editing, onDone, onError }: Props) {
  const chat = useChat();
  const [text, setText] = useState("");
  const typingTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const typing = useRef(false);

  useLayoutEffect(() => {
    if (editing?.content) setText(editing.content.body);
  }, [editing]);

  const stopTyping = () => {
    if (typingTimer.current) clearTimeout(typingTimer.current);
    if (typing.current) chat.setTyping(roomId, false);
    typing.current = false;
  };

  useEffect(() => stopTyping, [roomId]);

  const input = (value: string) => {
    setText(value);
    if (!typing.current) chat.setTyping(roomId, true);
    typing.current = true;
    if (typingTimer.current) clearTimeout(typingTimer.current);
    typingTimer.current = setTimeout(stopTyping, TYPING_IDLE_MS);
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    const body = text.trim();
    if (!body) return;
    stopTyping();
    setText("");
    try {
      if (editing) await chat.edit(editing, body);
      else await chat.send(roomId, body, replyTo ?? undefined);
      onDone();
    } catch (caught) {
      setText(body);
      onError(caught);
    }
  };

  const attach = (event: Event) => {
    const input = event.currentTarget as HTMLInputElement;
    const file = input.files?.[0];
    input.value = "";
    if (file) sendFile(chat, roomId, file).catch(onError);
  };

  return (
    <form class="composer" onSubmit={submit} data-testid="composer">
      {(replyTo || editing) && (
        <p class="muted composer-context" data-testid="composer-context">
          {editing ? "Editing" : `Replying to ${chat.people.name(replyTo!.message.sender_id)}: ${replyTo!.content?.body ?? ""}`}
          <button type="button" class="link" onClick={onDone}>cancel</button>
        </p>
      )}
      <div class="composer-row">
        <label class="attach">
          Attach
          <input type="file" onChange={attach} data-testid="file-input" />
        </label>
        <input class="composer-input" value={text} onInput={(e) => input(e.currentTarget.value)} placeholder="Message" data-testid="composer-input" />
        <button type="submit" data-testid="composer-send">{editing ? "Save" : "Send"}</button>
      </div>
    </form>
  );
}
