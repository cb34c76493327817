// The device this browser profile is to the server, per account: the admin
// page logs in as the same device again (a reload needs the password, not a
// new device: an account has a limited number of them). Only ids are kept,
// never a token.

const KEY = "ciphertalk.admin.devices";

type Devices = Record<string, string>;

function read(storage: Storage | undefined): Devices {
  try {
    const parsed: unknown = JSON.parse(storage?.getItem(KEY) ?? "{}");
    return parsed && typeof parsed === "object" ? (parsed as Devices) : {};
  } catch {
    return {};
  }
}

function write(storage: Storage | undefined, devices: Devices): void {
  try {
    storage?.setItem(KEY, JSON.stringify(devices));
  } catch {
    // Storage full or refused: the next login makes a new device, no worse.
  }
}

export class DeviceMemory {
  constructor(private readonly storage: Storage | undefined) {}

  deviceOf(email: string): string | undefined {
    return read(this.storage)[email.toLowerCase()];
  }

  remember(email: string, deviceId: string | undefined): void {
    if (!deviceId) return;
    write(this.storage, { ...read(this.storage), [email.toLowerCase()]: deviceId });
  }

  /** After a logout, which removes the device on the server. */
  forget(email: string): void {
    const devices = read(this.storage);
    delete devices[email.toLowerCase()];
    write(this.storage, devices);
  }
}
