import type {
  KeyServer,
  OneTimePrekeyJson,
  PrekeyBundle,
  PutKeysBody,
  ToDeviceEvent,
} from "../../src/crypto";

// An in-memory stand-in for the server's key directory and to-device relay, for unit tests
// of the client layer only (the browser tests run against the real server). It keeps the
// API's rules that matter here: a one-time prekey is handed out once, to-device messages
// arrive per device in the order sent, a repeated batch id delivers nothing twice.

interface DeviceKeys {
  body: PutKeysBody;
  pool: OneTimePrekeyJson[];
}

const key = (userId: string, deviceId: string) => `${userId}/${deviceId}`;

export class FakeKeyDirectory {
  readonly devices = new Map<string, DeviceKeys>();
  readonly inboxes = new Map<string, ToDeviceEvent[]>();
  readonly batches = new Set<string>();
  /** Every to-device ciphertext sent, to check nothing readable went over the wire. */
  readonly wire: string[] = [];
  putCount = 0;

  private devicesOf(userId: string): [string, DeviceKeys][] {
    return [...this.devices.entries()]
      .filter(([k]) => k.startsWith(`${userId}/`))
      .map(([k, v]) => [k.slice(userId.length + 1), v]);
  }

  private bundle(deviceId: string, keys: DeviceKeys): PrekeyBundle {
    const oneTime = keys.pool.shift();
    return {
      device_id: deviceId,
      identity_key: keys.body.identity_key,
      signed_prekey: keys.body.signed_prekey,
      ...(oneTime ? { one_time_prekey: oneTime } : {}),
    };
  }

  removeDevice(userId: string, deviceId: string): void {
    this.devices.delete(key(userId, deviceId));
    this.inboxes.delete(key(userId, deviceId));
  }

  /** Takes the device's pending to-device events (what the WebSocket would deliver). */
  take(userId: string, deviceId: string): ToDeviceEvent[] {
    const events = this.inboxes.get(key(userId, deviceId)) ?? [];
    this.inboxes.set(key(userId, deviceId), []);
    return events;
  }

  serverFor(userId: string, deviceId: string): KeyServer {
    return {
      putKeys: async (body) => {
        this.putCount++;
        this.devices.set(key(userId, deviceId), { body, pool: [...body.one_time_prekeys] });
      },
      addOneTimePrekeys: async (list) => {
        const keys = this.devices.get(key(userId, deviceId));
        if (!keys) throw new Error("404 no keys");
        keys.pool.push(...list);
      },
      countOneTimePrekeys: async () => this.devices.get(key(userId, deviceId))?.pool.length ?? 0,
      userDevices: async (otherUser) =>
        this.devicesOf(otherUser).map(([device_id, keys]) => ({
          device_id,
          identity_key: keys.body.identity_key,
        })),
      prekeyBundles: async (otherUser) => ({
        devices: this.devicesOf(otherUser).map(([d, keys]) => this.bundle(d, keys)),
      }),
      deviceBundle: async (otherUser, otherDevice) => {
        const keys = this.devices.get(key(otherUser, otherDevice));
        if (!keys) throw new Error("404 no keys");
        return this.bundle(otherDevice, keys);
      },
      sendToDevice: async (batch) => {
        const batchKey = `${key(userId, deviceId)}/${batch.batch_id}`;
        if (this.batches.has(batchKey)) return { accepted: 0 };
        this.batches.add(batchKey);
        for (const m of batch.messages) {
          this.wire.push(m.ciphertext);
          const inbox = this.inboxes.get(key(m.user_id, m.device_id)) ?? [];
          inbox.push({
            type: "to_device",
            from_user: userId,
            from_device: deviceId,
            kind: m.kind,
            ciphertext: m.ciphertext,
            at: new Date().toISOString(),
          });
          this.inboxes.set(key(m.user_id, m.device_id), inbox);
        }
        return { accepted: batch.messages.length };
      },
    };
  }
}
