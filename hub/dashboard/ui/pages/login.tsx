// Login: the admin token (or the read-only watch token) in, a session cookie out.
import { useState } from "preact/hooks";
import { signIn, type Session } from "../api.ts";

export function LoginPage({ onSignedIn }: { onSignedIn(session: Session): void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = await signIn(token.trim());
      setToken("");
      onSignedIn(session);
    } catch (e) {
      setError((e as Error).message || "the hub refused this token");
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" class="login">
      <h1>edgefed</h1>
      <form onSubmit={submit} class="card">
        <label for="token">Admin or watch token</label>
        <input id="token" name="token" type="password" autoComplete="current-password" required value={token} onInput={(e) => setToken(e.currentTarget.value)} />
        <button type="submit" disabled={busy}>
          Log in
        </button>
        {error && (
          <p role="alert" class="error">
            Login refused: {error}
          </p>
        )}
        <p class="hint">The admin token is in the hub's data directory (admin-token); the watch token gives a read-only view.</p>
      </form>
    </main>
  );
}
