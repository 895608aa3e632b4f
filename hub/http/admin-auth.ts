// Who may call the API. Scripts send `Authorization: Bearer <admin token>`
// (no CSRF: a browser never adds that header by itself). The dashboard sends
// its session cookie (routes/session.ts): reads need a reader session (admin
// or viewer), writes an admin session and the session's CSRF token in
// X-CSRF-Token. GET /metrics takes the metrics token or the admin token.
// Registration takes an enrollment token (checked by
// registration itself).
import type { Context, MiddlewareHandler, Next } from "hono";
import { getCookie } from "hono/cookie";
import { secretMatchesDigest } from "../identity/secrets.ts";
import type { DashboardSessions } from "../identity/dashboard-sessions.ts";
import type { SessionRecord } from "../store/hub-store.ts";
import { bearerToken } from "../../lib/bearer-token.ts";
import { HttpError } from "../../lib/http-errors.ts";

export const SESSION_COOKIE = "edgefed_session";
export const CSRF_HEADER = "x-csrf-token";
const READS = new Set(["GET", "HEAD"]);


/** The two guards every API route takes one of. */
export interface ApiAccess {
  /** Admin bearer, or a session: any for reads, an admin one with CSRF for writes. */
  reader: MiddlewareHandler;
  /** Admin bearer, or an admin session (with CSRF for writes). */
  admin: MiddlewareHandler;
}

export function apiAccess(adminTokenHash: string, sessions: DashboardSessions): ApiAccess {
  const expected = Buffer.from(adminTokenHash, "hex");
  const unauthorized = () => new HttpError(401, "unauthorized", "this endpoint needs Authorization: Bearer <admin token> or a dashboard session");
  // Not async on the bearer path on purpose: this runs on every admin read, and an extra await per request shows.
  const guard =
    (need: "reader" | "admin"): MiddlewareHandler =>
    (c, next) => {
      const authorization = c.req.raw.headers.get("authorization");
      if (authorization !== null) {
        if (!secretMatchesDigest(bearerToken(authorization), expected)) throw unauthorized();
        return next();
      }
      return viaSession(c, next, need);
    };
  async function viaSession(c: Context, next: Next, need: "reader" | "admin"): Promise<void> {
    const session = await sessions.find(getCookie(c, SESSION_COOKIE));
    if (!session) throw unauthorized();
    checkSessionMay(sessions, session, c, need);
    await next();
  }
  return { reader: guard("reader"), admin: guard("admin") };
}

/** Throws 403 unless the session may make this request: CSRF on every write, then the role. */
export function checkSessionMay(sessions: DashboardSessions, session: SessionRecord, c: Context, need: "reader" | "admin"): void {
  const write = !READS.has(c.req.method);
  if (write && !sessions.csrfMatches(session, c.req.header(CSRF_HEADER))) {
    throw new HttpError(403, "csrf_failed", `a dashboard session's ${c.req.method} needs its CSRF token in X-CSRF-Token`);
  }
  if ((write || need === "admin") && session.role !== "admin") throw new HttpError(403, "forbidden", "a viewer session may only read");
}

/** A bearer token matching one of `tokenHashes`; `what` names them in the 401. */
export function requireToken(tokenHashes: readonly string[], what: string): MiddlewareHandler {
  const expected = tokenHashes.map((hash) => Buffer.from(hash, "hex"));
  return (c, next) => {
    const presented = bearerToken(c.req.raw.headers.get("authorization"));
    if (!expected.some((digest) => secretMatchesDigest(presented, digest))) {
      throw new HttpError(401, "unauthorized", `this endpoint needs Authorization: Bearer <${what}>`);
    }
    return next();
  };
}
