// Who may call the API. Scripts send `Authorization: Bearer <token>`: the
// hub's admin token or an operator's (identity/bearer-verifier.ts; a viewer
// operator may only read), no CSRF: a browser never adds that header by itself. The dashboard sends
// its session cookie (routes/session.ts): reads need a reader session (admin
// or viewer), writes an admin session and the session's CSRF token in
// X-CSRF-Token. GET /metrics takes the metrics token or an admin token.
// Each request that passes carries who made it (actorOf), for the audit trail.
// Registration takes an enrollment token (checked by
// registration itself).
import type { Context, MiddlewareHandler, Next } from "hono";
import { getCookie } from "hono/cookie";
import type { BearerVerifier, Principal } from "../identity/bearer-verifier.ts";
import { secretMatchesDigest } from "../identity/secrets.ts";
import type { DashboardSessions } from "../identity/dashboard-sessions.ts";
import type { SessionRecord } from "../store/hub-store.ts";
import { bearerToken } from "../../lib/bearer-token.ts";
import { HttpError } from "../../lib/http-errors.ts";

export const SESSION_COOKIE = "edgefed_session";
export const CSRF_HEADER = "x-csrf-token";
const READS = new Set(["GET", "HEAD"]);


/** Who made each request that passed a guard, by request: the audit trail's actor. */
const actors = new WeakMap<Request, string>();

/** The name the audit trail gives whoever made this request (an operator's name, "admin", "watch"). */
export function actorOf(c: Context): string {
  const actor = actors.get(c.req.raw);
  if (actor === undefined) throw new Error("actorOf: the request did not pass an access guard");
  return actor;
}

/** The two guards every API route takes one of. */
export interface ApiAccess {
  /** Admin bearer, or a session: any for reads, an admin one with CSRF for writes. */
  reader: MiddlewareHandler;
  /** Admin bearer, or an admin session (with CSRF for writes). */
  admin: MiddlewareHandler;
}

export function apiAccess(verifier: BearerVerifier, sessions: DashboardSessions): ApiAccess {
  const unauthorized = () => new HttpError(401, "unauthorized", "this endpoint needs Authorization: Bearer <admin or operator token> or a dashboard session");
  const admit = (c: Context, next: Next, need: "reader" | "admin", principal: Principal | undefined) => {
    if (!principal) throw unauthorized();
    if (principal.role !== "admin" && (need === "admin" || !READS.has(c.req.method))) throw new HttpError(403, "forbidden", `operator ${principal.operator} is a viewer: it may only read`);
    actors.set(c.req.raw, principal.operator);
    return next();
  };
  // Not async on the bearer path on purpose: this runs on every admin read, and an extra await per request
  // shows; the hub's admin token, once checked, answers without a promise.
  const guard =
    (need: "reader" | "admin"): MiddlewareHandler =>
    (c, next) => {
      const authorization = c.req.raw.headers.get("authorization");
      if (authorization !== null) {
        const token = bearerToken(authorization);
        const verdict = token === undefined ? undefined : verifier.verify(token);
        return verdict instanceof Promise ? verdict.then((principal) => admit(c, next, need, principal)) : admit(c, next, need, verdict);
      }
      return viaSession(c, next, need);
    };
  async function viaSession(c: Context, next: Next, need: "reader" | "admin"): Promise<void> {
    const session = await sessions.find(getCookie(c, SESSION_COOKIE));
    if (!session) throw unauthorized();
    checkSessionMay(sessions, session, c, need);
    // Sessions opened before operators existed name no one: the hub's own tokens opened them.
    actors.set(c.req.raw, session.operator || (session.role === "admin" ? "admin" : "watch"));
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

/** A bearer token matching `tokenHash` (a sha256), or one the verifier says is an admin's; `what` names them in the 401. */
export function requireTokenOrAdmin(tokenHash: string, verifier: BearerVerifier, what: string): MiddlewareHandler {
  const expected = Buffer.from(tokenHash, "hex");
  const refuse = () => {
    throw new HttpError(401, "unauthorized", `this endpoint needs Authorization: Bearer <${what}>`);
  };
  return async (c, next) => {
    const presented = bearerToken(c.req.raw.headers.get("authorization"));
    if (secretMatchesDigest(presented, expected)) return next();
    if (presented === undefined || (await verifier.verify(presented))?.role !== "admin") refuse();
    return next();
  };
}
