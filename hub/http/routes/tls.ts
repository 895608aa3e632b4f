// POST /api/federation/tls/ca (admin): announce a new hub CA to the fleet,
// signed by the hub's key (hub/tls/ca-change.ts). Body `{ca: PEM}`; 202 with
// its fingerprint: nodes trust it beside the old one until the hub serves a
// certificate from it.
import { Hono } from "hono";
import { jsonBody } from "../../../lib/http-errors.ts";
import type { HubContext } from "../../hub-context.ts";
import { announceCaChange } from "../../tls/ca-change.ts";
import type { ApiAccess } from "../admin-auth.ts";

export function tlsRoutes(hub: HubContext, access: ApiAccess): Hono {
  const routes = new Hono();
  routes.post("/tls/ca", access.admin, async (c) => {
    const body = (await jsonBody(c)) as { ca?: unknown } | null;
    const { message, fingerprint, subject } = await announceCaChange(hub, body?.ca);
    return c.json({ status: "announced", subject, fingerprint, issued_at: message.issuedAt }, 202);
  });
  return routes;
}
