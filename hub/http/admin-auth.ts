// Bearer-token checks: admin endpoints need the admin token, registration an
// enrollment token (checked by registration itself).
import type { MiddlewareHandler } from "hono";
import { secretMatchesDigest } from "../identity/secrets.ts";
import { HttpError } from "../../lib/http-errors.ts";

export function bearerToken(header: string | null | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1];
}

/** Not async on purpose: this runs on every admin read, and an extra await per request shows. */
export function requireAdmin(adminTokenHash: string): MiddlewareHandler {
  const expected = Buffer.from(adminTokenHash, "hex");
  return (c, next) => {
    if (!secretMatchesDigest(bearerToken(c.req.raw.headers.get("authorization")), expected)) {
      throw new HttpError(401, "unauthorized", "this endpoint needs Authorization: Bearer <admin token>");
    }
    return next();
  };
}
