// One room: history (paged back on demand), live messages, typing, presence,
// and the composer. Reply/edit/forward state lives here.
import { useEffect, useRef, useState } from "preact/hooks";
import { useChat } from "./context";
import { useObservable } from "./store";
import type { ShownMessage } from "./chat/timeline";
import { MessageItem } from "./MessageItem";
import { Composer } from "./Composer";
import { ForwardPicker } from "./ForwardPicker";
import { RoomHeader } from "./RoomHeader";
import { describeError } from "./errors";

export function RoomView({ roomId }: { roomId: string }) {
  const chat = useChat();
  const timeline = useObservable(chat.timeline(roomId));
  const hasOlder = useObservable(chat.hasOlder)[roomId] ?? false;
  const typing = useObservable(chat.people.typing)[roomId] ?? [];
  const receipts = useObservable(chat.receipts)[roomId] ?? {};
  useObservable(chat.people.users);
  const [replyTo, setReplyTo] = useState<ShownMessage | null>(null);
  const [editing, setEditing] = useState<ShownMessage | null>(null);
  const [forwarding, setForwarding] = useState<ShownMessage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const bottom = useRef<HTMLDivElement>(null);

  useEffect(() => {
    chat.open(roomId).catch((caught: unknown) => setError(caught instanceof Error ? caught.message : "could not open"));
    return () => {
      if (chat.activeRoom.get() === roomId) chat.activeRoom.set(null);
    };
  }, [roomId]);

  const newest = timeline[timeline.length - 1]?.message.seq ?? 0;
  useEffect(() => {
    bottom.current?.scrollIntoView({ block: "end" });
    if (newest > 0) void chat.markRead(roomId);
  }, [newest]);

  const act = (work: Promise<unknown>) => work.catch((caught: unknown) => setError(describeError(caught)));

  return (
    <div class="room-view" data-testid="room-view" data-room-id={roomId}>
      <RoomHeader roomId={roomId} />
      <div class="messages" data-testid="messages">
        {hasOlder && (
          <button class="link" onClick={() => void act(chat.loadOlder(roomId))} data-testid="load-older">
            Load older messages
          </button>
        )}
        {timeline.map((item) => (
          <MessageItem
            key={item.message.seq}
            item={item}
            receipts={receipts}
            onReply={() => setReplyTo(item)}
            onEdit={() => setEditing(item)}
            onDelete={(scope) => void act(chat.remove(item, scope))}
            onForward={() => setForwarding(item)}
            onReport={(reason) => act(chat.report(item, reason))}
          />
        ))}
        <div ref={bottom} />
      </div>
      {typing.length > 0 && (
        <p class="typing muted" data-testid="typing">
          {typing.map((id) => chat.people.name(id)).join(", ")} typing…
        </p>
      )}
      {error && <p class="error" data-testid="room-error">{error}</p>}
      {forwarding && <ForwardPicker item={forwarding} onDone={() => setForwarding(null)} />}
      <Composer
        roomId={roomId}
        replyTo={replyTo}
        editing={editing}
        onDone={() => {
          setReplyTo(null);
          setEditing(null);
        }}
        onError={(caught) => setError(describeError(caught))}
      />
    </div>
  );
}
