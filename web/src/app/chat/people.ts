// Who is who: a cache of users (names for ids), their presence, and who is
// typing where (typing expires on its own if the stop frame is lost).
import type { ApiClient } from "../../api/client";
import type { User } from "../../api/types";
import { Observable } from "../store";

export interface Presence {
  online: boolean;
  last_seen: string | null;
}

const TYPING_TTL_MS = 6000;

export class People {
  readonly users = new Observable<Record<string, User>>({});
  readonly presence = new Observable<Record<string, Presence>>({});
  /** room id -> user ids typing there */
  readonly typing = new Observable<Record<string, string[]>>({});
  private readonly loading = new Set<string>();
  private readonly typingTimers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(private readonly api: ApiClient) {}

  remember(user: User): void {
    this.users.update((all) => ({ ...all, [user.id]: user }));
  }

  name(userId: string): string {
    const user = this.users.get()[userId];
    if (user) return user.display_name;
    this.load(userId);
    return "…";
  }

  load(userId: string): void {
    if (this.loading.has(userId) || this.users.get()[userId]) return;
    this.loading.add(userId);
    this.api.users
      .get(userId)
      .then((user) => this.remember(user))
      .catch(() => undefined)
      .finally(() => this.loading.delete(userId));
  }

  setPresence(userId: string, presence: Presence): void {
    this.presence.update((all) => ({ ...all, [userId]: presence }));
  }

  setTyping(roomId: string, userId: string, typing: boolean): void {
    const key = `${roomId}/${userId}`;
    const timer = this.typingTimers.get(key);
    if (timer) clearTimeout(timer);
    this.typingTimers.delete(key);
    this.typing.update((all) => {
      const others = (all[roomId] ?? []).filter((id) => id !== userId);
      return { ...all, [roomId]: typing ? [...others, userId] : others };
    });
    if (typing) this.typingTimers.set(key, setTimeout(() => this.setTyping(roomId, userId, false), TYPING_TTL_MS));
  }
}
