// What the engine needs from the server, as plain async functions the app's API client
// provides. Shapes are those of API.md (sections Keys, Devices, To-device messages);
// binary values are standard base64 with padding.

/** A signed prekey as published: `{key_id, public_key, signature}`. */
export interface SignedPrekeyJson {
  key_id: number;
  public_key: string;
  signature: string;
}

/** A one-time prekey as published: `{key_id, public_key}`. */
export interface OneTimePrekeyJson {
  key_id: number;
  public_key: string;
}

/** The body of `PUT /v1/keys`. */
export interface PutKeysBody {
  identity_key: string;
  signed_prekey: SignedPrekeyJson;
  one_time_prekeys: OneTimePrekeyJson[];
}

/** One item of `GET /v1/users/{id}/devices`. */
export interface DeviceKeyInfo {
  device_id: string;
  identity_key: string;
  created_at?: string;
}

/** One device's bundle from `GET /v1/users/{id}/prekey-bundle` or `.../devices/{device_id}/prekey-bundle`. */
export interface PrekeyBundle {
  device_id: string;
  identity_key: string;
  signed_prekey: SignedPrekeyJson;
  one_time_prekey?: OneTimePrekeyJson | null;
}

/** One message of `POST /v1/to-device`. */
export interface ToDeviceMessage {
  user_id: string;
  device_id: string;
  kind: string;
  ciphertext: string;
}

/** The body of `POST /v1/to-device`. */
export interface ToDeviceBatch {
  batch_id: string;
  messages: ToDeviceMessage[];
}

/** The `to_device` event as delivered over the WebSocket and `GET /v1/inbox`. */
export interface ToDeviceEvent {
  type: "to_device";
  from_user: string;
  from_device: string;
  kind: string;
  ciphertext: string;
  at?: string;
}

/**
 * The key directory and to-device relay, as the app's API client exposes them.
 * Each function maps to one route; errors (4xx) should be thrown as the API client does.
 */
export interface KeyServer {
  /** `PUT /v1/keys` for the caller's device (204). */
  putKeys(body: PutKeysBody): Promise<void>;
  /** `POST /v1/keys/one-time` with `{one_time_prekeys: list}` (204). */
  addOneTimePrekeys(list: OneTimePrekeyJson[]): Promise<void>;
  /** `GET /v1/keys/count`, unwrapped: the `one_time_prekeys` number. */
  countOneTimePrekeys(): Promise<number>;
  /** `GET /v1/users/{id}/devices`, unwrapped: its `items`. */
  userDevices(userId: string): Promise<DeviceKeyInfo[]>;
  /** `GET /v1/users/{id}/prekey-bundle`: `{devices: [...]}`. */
  prekeyBundles(userId: string): Promise<{ devices: PrekeyBundle[] }>;
  /** `GET /v1/users/{id}/devices/{device_id}/prekey-bundle`. */
  deviceBundle(userId: string, deviceId: string): Promise<PrekeyBundle>;
  /** `POST /v1/to-device` (202 `{accepted}`). */
  sendToDevice(batch: ToDeviceBatch): Promise<{ accepted: number }>;
}
