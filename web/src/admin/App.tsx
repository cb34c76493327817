// The instance admin page: log in, check the role (a 403 from the admin
// routes is the "not an admin" state), then the panels behind tabs.

import { useEffect, useMemo, useState } from "preact/hooks";
import { AdminApi, ApiError, type Report, type User } from "./api";
import { Audit } from "./panels/Audit";
import { Reports } from "./panels/Reports";
import { RoomState } from "./panels/RoomState";
import { Status } from "./panels/Status";
import { Takedown } from "./panels/Takedown";
import { Users } from "./panels/Users";
import { DeviceMemory } from "./device";
import { AdminFeed, type FeedState } from "./realtime";
import { Field, Problem, TextInput } from "./ui";

type Phase =
  | { kind: "login" }
  | { kind: "checking" }
  | { kind: "admin"; user: User }
  | { kind: "not-admin"; user: User; why: string };

type Tab = "reports" | "takedown" | "users" | "audit" | "room" | "status";

const TABS: [Tab, string][] = [
  ["reports", "Reports"],
  ["takedown", "Takedown"],
  ["users", "Suspensions and roles"],
  ["audit", "Audit"],
  ["room", "Room state"],
  ["status", "Health"],
];

export function App() {
  const api = useMemo(() => new AdminApi(), []);
  const devices = useMemo(() => new DeviceMemory(globalThis.localStorage), []);
  const [phase, setPhase] = useState<Phase>({ kind: "login" });
  const [error, setError] = useState<unknown>(null);

  const login = async (email: string, password: string) => {
    setError(null);
    setPhase({ kind: "checking" });
    let user: User;
    try {
      const session = await api.login(email, password, devices.deviceOf(email));
      devices.remember(email, session.device_id);
      user = session.user;
    } catch (err) {
      setPhase({ kind: "login" });
      setError(
        err instanceof ApiError && err.code === "invalid_credentials" ? "Wrong email or password." : err,
      );
      return;
    }
    try {
      // The role is the server's to say: the smallest admin read answers 403 to anyone else.
      await api.reports({ status: "open", limit: 1 });
      setPhase({ kind: "admin", user });
    } catch (err) {
      if (err instanceof ApiError && err.status === 403) {
        const why =
          err.code === "suspended"
            ? "This account is suspended."
            : "This account is not an instance admin of this server.";
        setPhase({ kind: "not-admin", user, why });
      } else {
        await api.logout();
        devices.forget(email);
        setPhase({ kind: "login" });
        setError(err);
      }
    }
  };

  const logout = async () => {
    const email = api.user?.email;
    await api.logout();
    if (email) devices.forget(email);
    setPhase({ kind: "login" });
  };

  return (
    <div class="shell">
      <header class="top">
        <h1>CipherTalk admin</h1>
        {(phase.kind === "admin" || phase.kind === "not-admin") && (
          <div class="who">
            <span data-testid="admin-user">{phase.user.email ?? phase.user.display_name}</span>
            <button type="button" data-testid="logout" onClick={() => void logout()}>
              Log out
            </button>
          </div>
        )}
      </header>
      {(phase.kind === "login" || phase.kind === "checking") && (
        <Login busy={phase.kind === "checking"} error={error} onLogin={login} />
      )}
      {phase.kind === "not-admin" && (
        <section class="panel not-admin" data-testid="not-admin" role="alert">
          <h2>Not an admin</h2>
          <p>{phase.why}</p>
          <p>Instance admins are named in the server's configuration (auth.admins) or promoted by another admin.</p>
        </section>
      )}
      {phase.kind === "admin" && <Dashboard api={api} />}
    </div>
  );
}

function Login(props: { busy: boolean; error: unknown; onLogin(email: string, password: string): void }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  return (
    <section class="panel login" data-testid="login-panel" aria-labelledby="login-title">
      <h2 id="login-title">Log in</h2>
      <form
        class="form"
        data-testid="login-form"
        onSubmit={(e) => {
          e.preventDefault();
          props.onLogin(email.trim(), password);
        }}
      >
        <Field label="Email">
          <TextInput
            type="email"
            autocomplete="username"
            required
            testid="login-email"
            value={email}
            onValue={setEmail}
          />
        </Field>
        <Field label="Password">
          <TextInput
            type="password"
            autocomplete="current-password"
            required
            testid="login-password"
            value={password}
            onValue={setPassword}
          />
        </Field>
        <button type="submit" data-testid="login-submit" disabled={props.busy}>
          {props.busy ? "Logging in…" : "Log in"}
        </button>
      </form>
      <Problem error={props.error} />
    </section>
  );
}

function Dashboard({ api }: { api: AdminApi }) {
  const [tab, setTab] = useState<Tab>("reports");
  const [fresh, setFresh] = useState(0);
  const [feed, setFeed] = useState<FeedState>("connecting");
  const [latest, setLatest] = useState<Report | null>(null);
  const [auditSubject, setAuditSubject] = useState("");
  const [roomId, setRoomId] = useState("");

  useEffect(() => {
    const live = new AdminFeed(
      api,
      {
        onReport: (report) => {
          setLatest(report);
          setFresh((n) => n + 1);
        },
        onState: setFeed,
      },
      window.location.origin,
    );
    live.start();
    return () => live.stop();
  }, [api]);

  return (
    <>
      <nav class="tabs" aria-label="Sections">
        {TABS.map(([id, label]) => (
          <button
            type="button"
            key={id}
            class={id === tab ? "tab current" : "tab"}
            aria-current={id === tab ? "page" : undefined}
            data-testid={`tab-${id}`}
            onClick={() => setTab(id)}
          >
            {label}
          </button>
        ))}
        <span class={`feed feed-${feed}`} data-testid="feed-state" data-state={feed}>
          {feed === "live" ? "live" : feed === "connecting" ? "connecting…" : "offline, retrying"}
        </span>
      </nav>
      {latest && (
        <p class="notice" data-testid="new-report">
          New report {latest.id}: {latest.reason}
        </p>
      )}
      <main>
        {tab === "reports" && (
          <Reports
            api={api}
            fresh={fresh}
            onAudit={(subject) => {
              setAuditSubject(subject);
              setTab("audit");
            }}
            onRoom={(id) => {
              setRoomId(id);
              setTab("room");
            }}
          />
        )}
        {tab === "takedown" && <Takedown api={api} />}
        {tab === "users" && <Users api={api} />}
        {tab === "audit" && <Audit api={api} subject={auditSubject} />}
        {tab === "room" && <RoomState api={api} roomId={roomId} />}
        {tab === "status" && <Status api={api} />}
      </main>
    </>
  );
}
