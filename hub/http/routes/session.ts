// /api/session: the dashboard's login. POST {token} opens a session (the
// admin token: admin; the watch token: viewer; an operator's token: its role,
// under its name) into an HttpOnly,
// SameSite=Strict cookie (Secure when the request came over TLS) and answers
// the session's CSRF token; GET reads the session back; DELETE (CSRF token
// required) ends it. A refused login says only that it was refused.
import { Hono, type Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { z } from "zod";
import { HttpError, jsonBody } from "../../../lib/http-errors.ts";
import type { DashboardSessions } from "../../identity/dashboard-sessions.ts";
import type { SessionRecord } from "../../store/hub-store.ts";
import { CSRF_HEADER, SESSION_COOKIE } from "../admin-auth.ts";

const LoginRequest = z.object({ token: z.string().max(1024) });

function sessionView(session: SessionRecord): object {
  return { role: session.role, operator: session.operator, csrf_token: session.csrfToken, expires_at: session.expiresAt };
}

const noSession = () => new HttpError(401, "unauthorized", "no dashboard session, or it expired: log in again");

export function sessionRoutes(sessions: DashboardSessions, ttlS: number): Hono {
  const routes = new Hono();
  const overTls = (c: Context) => new URL(c.req.url).protocol === "https:";

  routes.post("/", async (c) => {
    const parsed = LoginRequest.safeParse(await jsonBody(c));
    const { id, session } = await sessions.open(parsed.success ? parsed.data.token : undefined);
    setCookie(c, SESSION_COOKIE, id, { httpOnly: true, sameSite: "Strict", path: "/", maxAge: ttlS, secure: overTls(c) });
    return c.json(sessionView(session));
  });

  routes.get("/", async (c) => {
    const session = await sessions.find(getCookie(c, SESSION_COOKIE));
    if (!session) throw noSession();
    return c.json(sessionView(session));
  });

  // Any session may end itself (a viewer too), but only with its CSRF token: a forged logout is a nuisance worth refusing.
  routes.delete("/", async (c) => {
    const session = await sessions.find(getCookie(c, SESSION_COOKIE));
    if (!session) throw noSession();
    if (!sessions.csrfMatches(session, c.req.header(CSRF_HEADER))) throw new HttpError(403, "csrf_failed", "logging out needs the session's CSRF token in X-CSRF-Token");
    await sessions.close(session);
    deleteCookie(c, SESSION_COOKIE, { path: "/", httpOnly: true, sameSite: "Strict", secure: overTls(c) });
    return c.body(null, 204);
  });

  return routes;
}
