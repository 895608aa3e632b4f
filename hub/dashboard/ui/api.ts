// The dashboard's one way to the hub's API: same-origin fetch with the
// session cookie, the CSRF token on every write, `{error, detail}` turned
// into an ApiError, and a 401 (no session, or it expired) sending the page
// back to the login.
export interface Session {
  role: "admin" | "viewer";
  csrf_token: string;
  expires_at: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly detail: string,
  ) {
    super(detail || error);
  }
}

let current: Session | null = null;
const signedOutListeners = new Set<() => void>();

export function session(): Session | null {
  return current;
}

export function onSignedOut(listener: () => void): () => void {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

function signedOut(): void {
  current = null;
  for (const listener of signedOutListeners) listener();
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && current) headers["x-csrf-token"] = current.csrf_token;
  const response = await fetch(path, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { error: "bad_response", detail: text.slice(0, 200) };
  }
  if (!response.ok) {
    const problem = (parsed ?? {}) as { error?: string; detail?: string };
    // The login's own 401 is a refused token, not an expired session.
    if (response.status === 401 && path !== "/api/session") signedOut();
    throw new ApiError(response.status, problem.error ?? `http_${response.status}`, problem.detail ?? response.statusText);
  }
  return parsed as T;
}

/** The session the cookie carries, if any (on page load). */
export async function resumeSession(): Promise<Session | null> {
  try {
    current = await api<Session>("GET", "/api/session");
  } catch {
    current = null;
  }
  return current;
}

export async function signIn(token: string): Promise<Session> {
  current = await api<Session>("POST", "/api/session", { token });
  return current;
}

export async function signOut(): Promise<void> {
  try {
    await api("DELETE", "/api/session");
  } finally {
    signedOut();
  }
}

/** A query string from the defined, non-empty values. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : "";
}
