// The call panel: ringing (accept / decline), in progress (videos, hang up).
import { useEffect, useRef } from "preact/hooks";
import { useChat } from "../context";
import { useObservable } from "../store";
import { calls } from "./calls";

function Video({ stream, muted, testid }: { stream?: MediaStream; muted: boolean; testid: string }) {
  const element = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    if (element.current && stream) {
      element.current.srcObject = stream;
      void element.current.play().catch(() => undefined);
    }
  }, [stream]);
  return <video ref={element} muted={muted} autoplay playsInline data-testid={testid} />;
}

export function CallOverlay() {
  const chat = useChat();
  const manager = calls(chat);
  const state = useObservable(manager.state);
  if (state.phase === "idle") return null;
  if (state.phase === "ended") {
    return (
      <div class="call" data-testid="call" data-phase="ended">
        <p>Call ended{state.reason ? `: ${state.reason}` : ""}</p>
        <button onClick={() => manager.state.set({ phase: "idle" })} data-testid="call-close">Close</button>
      </div>
    );
  }
  return (
    <div class="call" data-testid="call" data-phase={state.phase}>
      <p>
        {state.phase === "ringing" ? "Incoming call from " : "Call with "}
        <strong>{state.peer ? chat.people.name(state.peer) : ""}</strong> — <span data-testid="call-phase">{state.phase}</span>
      </p>
      <div class="videos">
        <Video stream={state.remote} muted={false} testid="call-remote" />
        <Video stream={state.local} muted testid="call-local" />
      </div>
      {state.phase === "ringing" && (
        <button onClick={() => void manager.accept()} data-testid="call-accept">Accept</button>
      )}
      <button onClick={() => manager.hangUp()} data-testid="call-hangup">{state.phase === "ringing" ? "Decline" : "Hang up"}</button>
    </div>
  );
}
