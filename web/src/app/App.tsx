// Logged out: the auth page. Logged in: the chat, once this device's keys are open.
import { useEffect, useState } from "preact/hooks";
import type { Session } from "../api/session";
import { Chat } from "./chat/controller";
import { ChatApp } from "./ChatApp";
import { api, ChatContext } from "./context";
import { AuthPage } from "./AuthPage";
import { openE2ee } from "./engine";

function useSession(): Session | null {
  const [session, setSession] = useState(api.session.get());
  useEffect(() => api.session.subscribe(setSession), []);
  return session;
}

export function App() {
  const session = useSession();
  const [chat, setChat] = useState<Chat | null>(null);
  const [error, setError] = useState<string | null>(null);
  const userId = session?.user.id;
  const deviceId = session?.device_id;

  useEffect(() => {
    if (!userId || !deviceId) {
      setChat(null);
      return;
    }
    let current: Chat | null = null;
    let cancelled = false;
    const me = { userId, deviceId };
    openE2ee(api, me)
      .then(async (e2ee) => {
        if (cancelled) return;
        current = new Chat(api, e2ee, me);
        await current.start();
        if (!cancelled) setChat(current);
      })
      .catch((caught: unknown) => setError(caught instanceof Error ? caught.message : "could not start"));
    return () => {
      cancelled = true;
      current?.stop();
    };
  }, [userId, deviceId]);

  if (!session) return <AuthPage />;
  if (error) return <main class="auth"><p class="error" data-testid="start-error">{error}</p></main>;
  if (!chat) return <main class="auth"><p class="muted" data-testid="starting">Opening this device's keys…</p></main>;
  return (
    <ChatContext.Provider value={chat}>
      <ChatApp />
    </ChatContext.Provider>
  );
}
