// My devices (this browser profile is one of them) and where each is woken.
import type { Http } from "./http";
import type { Device, PushSubscriptionBody, Uuid } from "./types";

export class DevicesApi {
  constructor(private readonly http: Http) {}

  list(): Promise<{ items: Device[] }> {
    return this.http.request("GET", "/v1/devices");
  }

  rename(deviceId: Uuid, name: string): Promise<Device> {
    return this.http.request("PATCH", `/v1/devices/${deviceId}`, { body: { name } });
  }

  remove(deviceId: Uuid): Promise<void> {
    return this.http.request("DELETE", `/v1/devices/${deviceId}`);
  }

  vapidPublicKey(): Promise<{ public_key: string }> {
    return this.http.request("GET", "/v1/push/vapid-public-key");
  }

  registerPush(deviceId: Uuid, body: PushSubscriptionBody): Promise<void> {
    return this.http.request("PUT", `/v1/devices/${deviceId}/push`, { body });
  }

  unregisterPush(deviceId: Uuid): Promise<void> {
    return this.http.request("DELETE", `/v1/devices/${deviceId}/push`);
  }
}
