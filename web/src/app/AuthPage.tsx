// Register or log in; this browser profile becomes (or stays) one device.
import { useState } from "preact/hooks";
import { ApiError } from "../api/errors";
import { api } from "./context";

function deviceName(): string {
  const ua = navigator.userAgent;
  const browser = /Firefox\//.test(ua) ? "Firefox" : /Edg\//.test(ua) ? "Edge" : /Chrom/.test(ua) ? "Chromium" : /Safari\//.test(ua) ? "Safari" : "Browser";
  return `${browser} on ${navigator.platform || "the web"}`;
}

export function AuthPage() {
  const [mode, setMode] = useState<"login" | "register">("login");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === "register") await api.auth.register(email, password, name || email, deviceName());
      else await api.auth.login(email, password, deviceName());
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.message : "something went wrong");
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="auth">
      <h1>CipherTalk</h1>
      <p class="muted">End-to-end encrypted: the server only ever sees ciphertext.</p>
      <form onSubmit={submit} data-testid="auth-form">
        <label>
          Email
          <input type="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} data-testid="auth-email" autocomplete="username" />
        </label>
        <label>
          Password
          <input type="password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} data-testid="auth-password" autocomplete={mode === "register" ? "new-password" : "current-password"} />
        </label>
        {mode === "register" && (
          <label>
            Display name
            <input value={name} onInput={(e) => setName(e.currentTarget.value)} data-testid="auth-name" />
          </label>
        )}
        {error && <p class="error" data-testid="auth-error">{error}</p>}
        <button type="submit" disabled={busy} data-testid="auth-submit">
          {mode === "register" ? "Create account" : "Log in"}
        </button>
      </form>
      <button class="link" onClick={() => setMode(mode === "login" ? "register" : "login")} data-testid="auth-toggle">
        {mode === "login" ? "No account yet? Register" : "Have an account? Log in"}
      </button>
    </main>
  );
}
