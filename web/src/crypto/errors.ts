/** Why a crypto operation refused: a stable code the app can branch on, and a message without secrets. */
export type CryptoErrorCode =
  /** The input is not in the expected format (bad base64, wrong version, wrong length). */
  | "malformed"
  /** Authentication failed: the bytes were changed, or they are not for this key, room, file or position. */
  | "tampered"
  /** A file chunk's key commitment does not match the file key: it was made for another key. */
  | "key_commitment_mismatch"
  /** A room message names a sender key this device was not (yet) given: retry after the next `to_device` event. */
  | "no_sender_key"
  /** A room message is older than the sender key state this device keeps (or too far ahead). */
  | "message_key_unavailable"
  /** A device's identity key differs from the one first seen for that device id. */
  | "untrusted_identity"
  /** The key server has no keys for a device (it never published, or was removed). */
  | "no_keys";

export class CryptoError extends Error {
  readonly code: CryptoErrorCode;

  constructor(code: CryptoErrorCode, message: string) {
    super(message);
    this.name = "CryptoError";
    this.code = code;
  }
}
