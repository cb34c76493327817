// The admin page's client of the gateway's REST API: login, the /v1/admin/*
// routes and the WebSocket ticket. Tokens live in memory only (a reload asks
// for the password again), and are never logged.

export type ReportStatus = "open" | "dismissed" | "actioned";
export type TargetKind = "message" | "file" | "user";

export interface Target {
  kind: TargetKind;
  id: string;
  room_id?: string;
}

export interface Report {
  id: string;
  target: Target;
  reason: string;
  evidence?: string;
  status: ReportStatus;
  reporter_id: string;
  created_at: string;
  verified?: boolean;
  resolved_at?: string;
  resolved_by?: string;
  note?: string;
}

export interface Page<T> {
  items: T[];
  next: string | null;
}

export interface AuditItem {
  at: string;
  actor_id: string;
  action: string;
  subject: string;
  room_id?: string | null;
  details: unknown;
}

export interface RoomState {
  at: string;
  room: {
    id: string;
    kind: string;
    name?: string | null;
    description?: string | null;
    join_rule: string;
    created_at: string;
  };
  members: { user_id: string; role: string; joined_at: string }[];
  invited: string[];
}

export interface User {
  id: string;
  email?: string;
  display_name: string;
  created_at: string;
}

export interface AdminUser extends User {
  role: "admin" | "user";
}

export interface Session {
  user: User;
  access_token: string;
  refresh_token: string;
  expires_in: number;
  device_id?: string;
}

export interface DependencyStatus {
  name: string;
  up: boolean;
  error?: string;
}

export interface ProjectionLag {
  name: string;
  lag_events: number | null;
  pending_events: number | null;
  stream_seq: number;
  behind_stream: number | null;
  redelivered: number | null;
  applied_events: number;
  updated_at: string | null;
  error?: string;
}

export interface StreamHealth {
  name: string;
  error?: string;
  messages: number | null;
  bytes: number | null;
  first_seq: number | null;
  last_seq: number | null;
  last_at: string | null;
  consumers: number | null;
}

export interface InstanceStatus {
  at: string;
  status: "ok" | "degraded";
  dependencies: DependencyStatus[];
  stalled: Record<string, string>;
  relay: { cursor: string | null; saved_at: string | null; pending_events: number };
  projections: ProjectionLag[];
  streams: StreamHealth[];
}

/** An answer in the API's error format (or a network failure, status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface ReportQuery {
  status?: ReportStatus;
  limit?: number;
  cursor?: string;
}

export interface AuditQuery {
  subject?: string;
  actor?: string;
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
}

/** `?a=1&b=2` of the defined, non-empty values; "" when there are none. */
export function queryString(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

const segment = encodeURIComponent;

export class AdminApi {
  private session: Session | null = null;
  private refreshing: Promise<void> | null = null;

  /** `base` is the gateway's origin ("" for the page's own). */
  constructor(
    private readonly base = "",
    private readonly fetcher: typeof fetch = (input, init) => fetch(input, init),
  ) {}

  get user(): User | null {
    return this.session?.user ?? null;
  }

  /** Logs in as `deviceId` when this account has it, else as a new device "admin page". */
  async login(email: string, password: string, deviceId?: string): Promise<Session> {
    const device: { name: string; device_id?: string } = { name: "admin page" };
    if (deviceId) device.device_id = deviceId;
    const session = await this.request<Session>("POST", "/v1/auth/login", {
      body: { email, password, device },
      anonymous: true,
    });
    this.session = session;
    return session;
  }

  /** Ends this page's session (and its device); forgets the tokens whatever the answer. */
  async logout(): Promise<void> {
    const session = this.session;
    if (session) {
      await this.request("POST", "/v1/auth/logout", { body: { refresh_token: session.refresh_token } }).catch(
        () => undefined,
      );
    }
    this.session = null;
  }

  reports(query: ReportQuery): Promise<Page<Report>> {
    return this.request("GET", `/v1/admin/reports${queryString({ ...query })}`);
  }

  resolve(id: string, action: "dismiss" | "takedown", note?: string): Promise<Report> {
    const body: { action: string; note?: string } = { action };
    if (note) body.note = note;
    return this.request("POST", `/v1/admin/reports/${segment(id)}/resolve`, { body });
  }

  takeDownMessage(id: string): Promise<void> {
    return this.request("DELETE", `/v1/admin/messages/${segment(id)}`);
  }

  takeDownFile(id: string): Promise<void> {
    return this.request("DELETE", `/v1/admin/files/${segment(id)}`);
  }

  suspend(userId: string, reason: string, until?: string): Promise<void> {
    const body: { reason: string; until?: string } = { reason };
    if (until) body.until = until;
    return this.request("POST", `/v1/admin/users/${segment(userId)}/suspend`, { body });
  }

  liftSuspension(userId: string): Promise<void> {
    return this.request("DELETE", `/v1/admin/users/${segment(userId)}/suspend`);
  }

  setRole(userId: string, role: "admin" | "user"): Promise<AdminUser> {
    return this.request("PUT", `/v1/admin/users/${segment(userId)}/role`, { body: { role } });
  }

  audit(query: AuditQuery): Promise<Page<AuditItem>> {
    return this.request("GET", `/v1/admin/audit${queryString({ ...query })}`);
  }

  roomState(roomId: string, at?: string): Promise<RoomState> {
    return this.request("GET", `/v1/admin/rooms/${segment(roomId)}/state${queryString({ at })}`);
  }

  status(): Promise<InstanceStatus> {
    return this.request("GET", "/v1/admin/status");
  }

  /** A single-use ticket for `GET /v1/ws?ticket=` (browsers cannot set headers there). */
  async wsTicket(): Promise<string> {
    const answer = await this.request<{ ticket: string }>("POST", "/v1/ws/ticket", { body: {} });
    return answer.ticket;
  }

  /** The WebSocket URL for `ticket`, on the gateway's origin. */
  wsUrl(ticket: string, origin: string): string {
    const url = new URL(`${this.base}/v1/ws`, origin);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("ticket", ticket);
    return url.toString();
  }

  private async request<T>(
    method: string,
    path: string,
    options: { body?: unknown; anonymous?: boolean } = {},
    retried = false,
  ): Promise<T> {
    const headers: Record<string, string> = {};
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    if (!options.anonymous) {
      if (!this.session) throw new ApiError(401, "unauthenticated", "not logged in");
      headers.Authorization = `Bearer ${this.session.access_token}`;
    }
    let response: Response;
    try {
      response = await this.fetcher(`${this.base}${path}`, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
    } catch (err) {
      throw new ApiError(0, "network", `the server did not answer (${String(err)})`);
    }
    if (response.status === 401 && !options.anonymous && !retried && this.session) {
      // The access token expired: one refresh, then the same request again.
      await this.refresh();
      return this.request(method, path, options, true);
    }
    const text = await response.text();
    const json: unknown = text ? safeParse(text) : null;
    if (!response.ok) throw errorOf(response.status, json);
    return json as T;
  }

  private refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      const session = this.session;
      if (!session) throw new ApiError(401, "unauthenticated", "not logged in");
      try {
        const renewed = await this.request<Partial<Session>>("POST", "/v1/auth/refresh", {
          body: { refresh_token: session.refresh_token },
          anonymous: true,
        });
        this.session = { ...session, ...renewed };
      } catch (err) {
        this.session = null;
        throw err;
      }
    })().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** The API error of an answer, from its `{error: {code, message}}` body when it has one. */
export function errorOf(status: number, body: unknown): ApiError {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const code = typeof error?.code === "string" ? error.code : `http_${status}`;
  const message = typeof error?.message === "string" ? error.message : `HTTP ${status}`;
  return new ApiError(status, code, message);
}
