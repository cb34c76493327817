// One message: body, reply preview, forwarded/edited marks, attachment,
// receipts for mine, and its actions.
import { useState } from "preact/hooks";
import { useChat } from "./context";
import type { ShownMessage } from "./chat/timeline";
import { receiptState, type RoomReceipts } from "./chat/receipts";
import { Attachment } from "./files/Attachment";

interface Props {
  item: ShownMessage;
  receipts: RoomReceipts;
  onReply: () => void;
  onEdit: () => void;
  onDelete: (scope: "everyone" | "me") => void;
  onForward: () => void;
  onReport: (reason: string) => Promise<unknown>;
}

export function MessageItem({ item, receipts, onReply, onEdit, onDelete, onForward, onReport }: Props) {
  const chat = useChat();
  const [menu, setMenu] = useState(false);
  const [reported, setReported] = useState<string | null>(null);
  const { message, content } = item;
  const mine = message.sender_id === chat.me.userId;
  const text = message.deleted
    ? "Message deleted"
    : content
      ? content.body
      : item.problem === "locked"
        ? "Waiting for this message's key…"
        : "This message could not be decrypted";

  const report = async () => {
    const answer = (await onReport("reported from the web app")) as { verified?: boolean } | undefined;
    setReported(answer ? (answer.verified ? "reported (verified)" : "reported") : null);
    setMenu(false);
  };

  return (
    <article class={mine ? "message mine" : "message"} data-testid="message" data-seq={message.seq} data-message-id={message.id} data-state={message.deleted ? "deleted" : content ? "ok" : item.problem}>
      <header>
        <span class="sender" data-testid="message-sender">{chat.people.name(message.sender_id)}</span>
        <time class="muted">{new Date(message.sent_at).toLocaleTimeString()}</time>
        {message.edited_at && !message.deleted && <span class="muted" data-testid="message-edited">edited</span>}
      </header>
      {content?.forwarded_from_sender && (
        <p class="muted forwarded" data-testid="message-forwarded">Forwarded from {chat.people.name(content.forwarded_from_sender)}</p>
      )}
      {content?.reply && (
        <blockquote class="reply" data-testid="message-reply">
          <strong>{chat.people.name(content.reply.sender_id)}</strong> {content.reply.preview}
        </blockquote>
      )}
      <p class={content ? "body" : "body muted"} data-testid="message-body">{text}</p>
      {content?.file && !message.deleted && <Attachment roomId={message.room_id} file={content.file} />}
      {mine && !message.deleted && <span class="receipt muted" data-testid="message-receipt">{receiptState(receipts, message.sender_id, message.seq)}</span>}
      {reported && <span class="muted" data-testid="message-reported">{reported}</span>}
      {!message.deleted && (
        <button class="link" onClick={() => setMenu(!menu)} data-testid="message-menu">⋯</button>
      )}
      {menu && (
        <div class="actions">
          <button onClick={() => { onReply(); setMenu(false); }} data-testid="message-reply-button">Reply</button>
          {content && <button onClick={() => { onForward(); setMenu(false); }} data-testid="message-forward-button">Forward</button>}
          {mine && content && <button onClick={() => { onEdit(); setMenu(false); }} data-testid="message-edit-button">Edit</button>}
          {mine && <button onClick={() => { onDelete("everyone"); setMenu(false); }} data-testid="message-delete-everyone">Delete for everyone</button>}
          <button onClick={() => { onDelete("me"); setMenu(false); }} data-testid="message-delete-me">Delete for me</button>
          {!mine && <button onClick={() => void report()} data-testid="message-report-button">Report</button>}
        </div>
      )}
    </article>
  );
}
