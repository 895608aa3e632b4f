// Speaks to a hub's API as the dashboard in a browser does: logs in with a
// token into the session cookie, then sends that cookie (and, on writes, the
// CSRF token unless told otherwise) with every request. Over HTTPS it trusts
// the test run's CAs (test-tls.ts), as a browser trusts its store.
import { jsonRequest } from "./json-request.ts";
import { testFetch } from "./test-tls.ts";

export interface DashboardClient {
  cookie: string;
  csrfToken: string;
  role: string;
  expiresAt: number;
  /** The Set-Cookie header of the login, as sent. */
  setCookie: string;
  /** `csrf`: the token to send (default: the session's; null sends none). */
  call(method: string, path: string, body?: unknown, options?: { csrf?: string | null }): Promise<{ status: number; body: any; headers: Headers }>;
}

export function sessionRequest(baseUrl: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  return jsonRequest(testFetch, `${baseUrl}${path}`, method, body, headers);
}

/** Logs in; throws with the hub's answer if refused. */
export async function dashboardLogin(baseUrl: string, token: string): Promise<DashboardClient> {
  const login = await sessionRequest(baseUrl, "POST", "/api/session", { token });
  if (login.status !== 200) throw new Error(`login refused: ${login.status} ${JSON.stringify(login.body)}`);
  const setCookie = login.headers.get("set-cookie") ?? "";
  const cookie = setCookie.split(";")[0]!;
  const csrfToken = login.body.csrf_token as string;
  return {
    cookie,
    csrfToken,
    role: login.body.role,
    expiresAt: login.body.expires_at,
    setCookie,
    call: (method, path, body, options = {}) => {
      const csrf = options.csrf === undefined ? csrfToken : options.csrf;
      return sessionRequest(baseUrl, method, path, body, { cookie, ...(csrf === null ? {} : { "x-csrf-token": csrf }) });
    },
  };
}

export interface SseEvent {
  event: string;
  data: any;
}

/** A server-sent event stream read as it comes: events parsed, comments (pings) counted. */
export interface EventStream {
  status: number;
  contentType: string | null;
  events: SseEvent[];
  comments: string[];
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  /** Waits for an event matching `match` (seen already or to come). */
  next(match: (e: SseEvent) => boolean, timeoutMs?: number, what?: string): Promise<SseEvent>;
  close(): void;
}

export async function openEventStream(baseUrl: string, headers: Record<string, string>): Promise<EventStream> {
  const abort = new AbortController();
  const response = await testFetch(`${baseUrl}/api/stream`, { headers, signal: abort.signal });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const waiters = new Set<() => void>();
  const ended = (async () => {
    if (!response.body) return;
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const lines = block.split("\n");
          const event = lines.find((l) => l.startsWith("event: "))?.slice(7);
          const data = lines.filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (event) events.push({ event, data: JSON.parse(data) });
          else comments.push(...lines.filter((l) => l.startsWith(":")));
          for (const wake of waiters) wake();
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  return {
    status: response.status,
    contentType: response.headers.get("content-type"),
    events,
    comments,
    ended,
    next: (match, timeoutMs = 10_000, what = "an event") =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = events.find(match);
          if (!found) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(events)}`));
        }, timeoutMs);
        if (!check()) waiters.add(check);
      }),
    close: () => abort.abort(),
  };
}
