// Bearer-token checks: admin endpoints need the admin token, GET /metrics the
// metrics token or the admin token, registration an enrollment token
// (checked by registration itself).
import type { MiddlewareHandler } from "hono";
import { secretMatchesDigest } from "../identity/secrets.ts";
import { HttpError } from "../../lib/http-errors.ts";

export function bearerToken(header: string | null | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1];
}

/** Not async on purpose: this runs on every admin read, and an extra await per request shows. */
export function requireAdmin(adminTokenHash: string): MiddlewareHandler {
  return requireToken([adminTokenHash], "admin token");
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
