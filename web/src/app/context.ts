// The app's one API client (same origin: the gateway serves the app) and the
// logged-in chat, handed down to components.
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import { ApiClient } from "../api/client";
import type { Chat } from "./chat/controller";

export const api = new ApiClient("", localStorage);

export const ChatContext = createContext<Chat | null>(null);

export function useChat(): Chat {
  const chat = useContext(ChatContext);
  if (!chat) throw new Error("useChat outside a logged-in chat");
  return chat;
}
