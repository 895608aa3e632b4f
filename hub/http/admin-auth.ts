// Bearer-token checks: admin endpoints need the admin token, registration an
// enrollment token (checked by registration itself).
import type { MiddlewareHandler } from "hono";
import { secretMatches } from "../secrets.ts";
import { HttpError } from "./http-error.ts";

export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1];
}

export function requireAdmin(adminTokenHash: string): MiddlewareHandler {
  return async (c, next) => {
    if (!secretMatches(bearerToken(c.req.header("authorization")), adminTokenHash)) {
      throw new HttpError(401, "unauthorized", "this endpoint needs Authorization: Bearer <admin token>");
    }
    await next();
  };
}
