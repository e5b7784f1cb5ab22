// Sign in.  The session lives in HttpOnly cookies (POST /api/login with
// "session": true); this page never sees a token.
import { useState } from "preact/hooks";
import { ApiError } from "../api/client";
import { login } from "../auth";
import { Field, Notice } from "../components/ui";

export function Login() {
  const [user, setUser] = useState("");
  const [pass, setPass] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  document.title = "Sign in · orderly";
  async function submit(e: Event) {
    e.preventDefault();
    setError("");
    if (!user || !pass) {
      setError("Enter your user name (or e-mail) and password.");
      return;
    }
    setBusy(true);
    try {
      await login(user, pass);
      if (location.pathname === "/login") history.replaceState(null, "", "/");
    } catch (err) {
      const e2 = err as ApiError;
      if (e2.status === 401) setError("Wrong user name or password.");
      else if (e2.status === 429) setError("Too many attempts: wait a minute and try again.");
      else setError(e2.message);
    } finally {
      setBusy(false);
    }
  }
  return (
    <main id="main" class="login">
      <form class="panel" onSubmit={submit} aria-labelledby="login-title" noValidate>
        <h1 id="login-title">Sign in to orderly</h1>
        {error && <Notice kind="bad">{error}</Notice>}
        <Field label="User name or e-mail">
          {(id) => (
            <input id={id} name="username" autocomplete="username" value={user} onInput={(e) => setUser(e.currentTarget.value)} />
          )}
        </Field>
        <div style="height:10px" />
        <Field label="Password">
          {(id) => (
            <input
              id={id}
              name="password"
              type="password"
              autocomplete="current-password"
              value={pass}
              onInput={(e) => setPass(e.currentTarget.value)}
            />
          )}
        </Field>
        <div style="height:14px" />
        <button class="primary" type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
