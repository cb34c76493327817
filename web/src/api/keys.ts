// The key directory and to-device messages: what the crypto engine needs
// from the server (its KeyServer).
import type { Http } from "./http";
import type { KeyUpload, OneTimePrekey, PrekeyBundle, PublicDevice, ToDeviceMessage, Uuid } from "./types";

export class KeysApi {
  constructor(private readonly http: Http) {}

  publishKeys(keys: KeyUpload): Promise<void> {
    return this.http.request("PUT", "/v1/keys", { body: keys });
  }

  addOneTimePrekeys(oneTimePrekeys: OneTimePrekey[]): Promise<void> {
    return this.http.request("POST", "/v1/keys/one-time", { body: { one_time_prekeys: oneTimePrekeys } });
  }

  async oneTimePrekeyCount(): Promise<number> {
    const answer = await this.http.request<{ one_time_prekeys: number }>("GET", "/v1/keys/count");
    return answer.one_time_prekeys;
  }

  async prekeyBundles(userId: Uuid): Promise<PrekeyBundle[]> {
    const answer = await this.http.request<{ devices: PrekeyBundle[] }>("GET", `/v1/users/${userId}/prekey-bundle`);
    return answer.devices;
  }

  prekeyBundle(userId: Uuid, deviceId: Uuid): Promise<PrekeyBundle> {
    return this.http.request("GET", `/v1/users/${userId}/devices/${deviceId}/prekey-bundle`);
  }

  async userDevices(userId: Uuid): Promise<PublicDevice[]> {
    const answer = await this.http.request<{ items: PublicDevice[] }>("GET", `/v1/users/${userId}/devices`);
    return answer.items;
  }

  async sendToDevice(batchId: Uuid, messages: ToDeviceMessage[]): Promise<number> {
    if (messages.length === 0) return 0;
    const answer = await this.http.request<{ accepted: number }>("POST", "/v1/to-device", {
      body: { batch_id: batchId, messages },
    });
    return answer.accepted;
  }
}
