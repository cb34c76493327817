// The key directory and to-device messages: what the crypto engine needs
// from the server. Structurally the engine's `KeyServer` (web/src/crypto/keyserver.ts).
import type { Http } from "./http";
import type { KeyUpload, OneTimePrekey, PrekeyBundle, PublicDevice, ToDeviceMessage, Uuid } from "./types";

export class KeysApi {
  constructor(private readonly http: Http) {}

  putKeys(body: KeyUpload): Promise<void> {
    return this.http.request("PUT", "/v1/keys", { body });
  }

  addOneTimePrekeys(list: OneTimePrekey[]): Promise<void> {
    return this.http.request("POST", "/v1/keys/one-time", { body: { one_time_prekeys: list } });
  }

  async countOneTimePrekeys(): Promise<number> {
    const answer = await this.http.request<{ one_time_prekeys: number }>("GET", "/v1/keys/count");
    return answer.one_time_prekeys;
  }

  prekeyBundles(userId: Uuid): Promise<{ devices: PrekeyBundle[] }> {
    return this.http.request("GET", `/v1/users/${userId}/prekey-bundle`);
  }

  deviceBundle(userId: Uuid, deviceId: Uuid): Promise<PrekeyBundle> {
    return this.http.request("GET", `/v1/users/${userId}/devices/${deviceId}/prekey-bundle`);
  }

  async userDevices(userId: Uuid): Promise<PublicDevice[]> {
    const answer = await this.http.request<{ items: PublicDevice[] }>("GET", `/v1/users/${userId}/devices`);
    return answer.items;
  }

  async sendToDevice(batch: { batch_id: Uuid; messages: ToDeviceMessage[] }): Promise<{ accepted: number }> {
    if (batch.messages.length === 0) return { accepted: 0 };
    return this.http.request("POST", "/v1/to-device", { body: batch });
  }
}
