// What the chat needs from the crypto engine (web/src/crypto's Engine has this
// shape); kept as an interface so the chat logic does not depend on how keys work.
import type { ChatEvent } from "../../api/types";

export type ToDeviceEvent = Extract<ChatEvent, { type: "to_device" }>;

export interface Opened {
  plaintext: Uint8Array;
  frankingKey: Uint8Array;
}

export interface E2ee {
  sealRoomMessage(roomId: string, members: { userId: string }[], plaintext: Uint8Array): Promise<{ ciphertext: string; commitment: string }>;
  openRoomMessage(roomId: string, senderUserId: string, senderDeviceId: string | undefined, ciphertext: string): Promise<Opened>;
  handleToDevice(event: ToDeviceEvent): Promise<{ kind: string; roomId?: string }>;
  onDeviceChange(userId: string): Promise<void>;
  onMembershipChange(roomId: string): Promise<void>;
  /** Asks the sender's device for a sender key that did not arrive (it rate-limits itself). */
  requestSenderKey(roomId: string, senderUserId: string, ciphertext: string): Promise<void>;
  forgetRoom(roomId: string): Promise<void>;
  wrapFileKey(roomId: string, fileKey: Uint8Array, members: { userId: string }[]): Promise<Record<string, string>>;
}

/** Whether an open failed only because the sender's key has not arrived yet. */
export function isMissingKey(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "no_sender_key";
}
