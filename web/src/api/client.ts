// One object with every part of the API, over one Http transport.
import { AuthApi } from "./auth";
import { CallsApi } from "./calls";
import { DevicesApi } from "./devices";
import { FilesApi } from "./files";
import { Http } from "./http";
import { InboxApi } from "./inbox";
import { KeysApi } from "./keys";
import { MessagesApi } from "./messages";
import { ReportsApi } from "./reports";
import { RoomsApi } from "./rooms";
import { type KeyValueStorage, SessionStore } from "./session";
import { UsersApi } from "./users";

export class ApiClient {
  readonly http: Http;
  readonly auth: AuthApi;
  readonly rooms: RoomsApi;
  readonly messages: MessagesApi;
  readonly users: UsersApi;
  readonly devices: DevicesApi;
  readonly keys: KeysApi;
  readonly files: FilesApi;
  readonly inbox: InboxApi;
  readonly calls: CallsApi;
  readonly reports: ReportsApi;

  constructor(baseUrl: string, storage: KeyValueStorage, fetchImpl?: typeof fetch) {
    this.http = new Http(baseUrl, new SessionStore(storage), fetchImpl);
    this.auth = new AuthApi(this.http);
    this.rooms = new RoomsApi(this.http);
    this.messages = new MessagesApi(this.http);
    this.users = new UsersApi(this.http);
    this.devices = new DevicesApi(this.http);
    this.keys = new KeysApi(this.http);
    this.files = new FilesApi(this.http);
    this.inbox = new InboxApi(this.http);
    this.calls = new CallsApi(this.http);
    this.reports = new ReportsApi(this.http);
  }

  get session(): SessionStore {
    return this.http.session;
  }
}

export * from "./errors";
export type * from "./types";
