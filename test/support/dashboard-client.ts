// Speaks to a hub's API as the dashboard in a browser does: logs in with a
// token into the session cookie, then sends that cookie (and, on writes, the
// CSRF token unless told otherwise) with every request.
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

export async function sessionRequest(baseUrl: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: response.status, body: parsed as any, headers: response.headers };
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
