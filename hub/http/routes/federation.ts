// /api/federation (admin): what the federation roles work from and raise.
// GET /events exports the federation events the hub recorded
// (protocol/federation-events.ts) as JSON lines, one event per line in the
// order observed, the format `npm run federation -- replay` reads; a full
// page says where the next starts (Link rel="next" and X-Next-Cursor).
// GET /alerts lists the alerts raised (hub/alerts.ts). GET /roles shows the
// roles at work (mode, last evaluation and decision), the engine's counters
// and the latest decisions (issued and advisory) and conflicts; PUT
// /roles/:name {mode} sets a role's mode, kept in the registry (a 200 means
// it survives a restart). On a replica of a shared registry that does not run
// the engine, both answer from the registry (roles-view.ts) and
// engine_replica names the replica that runs it.
import { Hono } from "hono";
import { z } from "zod";
import { jsonBody } from "../../../lib/http-errors.ts";
import { ROLE_MODES } from "../../federation/config.ts";
import type { FederationRolesView } from "../../federation/roles-view.ts";
import { ROLE_NAMES } from "../../federation/role.ts";
import { DomainError, invalidInput } from "../../errors.ts";
import type { HubContext } from "../../hub-context.ts";
import type { ApiAccess } from "../admin-auth.ts";
import { AlertListQuery, FederationEventsQuery, RoleRecordsQuery } from "../list-queries.ts";
import { parseQuery } from "../request.ts";

const RoleModeRequest = z.strictObject({ mode: z.enum(ROLE_MODES) });

export function federationRoutes(hub: HubContext, access: ApiAccess, federation: FederationRolesView): Hono {
  const routes = new Hono();

  routes.get("/roles", access.reader, async (c) => {
    const q = parseQuery(RoleRecordsQuery, c);
    const [roles, recent, engineReplica] = await Promise.all([federation.roles(), federation.recent(q.limit), federation.engineReplica()]);
    return c.json({ roles, counters: federation.counters(), ...recent, engine_replica: engineReplica });
  });

  routes.put("/roles/:name", access.admin, async (c) => {
    const name = c.req.param("name");
    const role = ROLE_NAMES.find((known) => known === name);
    if (!role) throw new DomainError("not_found", "unknown_role", `no role ${name} (roles: ${ROLE_NAMES.join(", ")})`);
    const parsed = RoleModeRequest.safeParse(await jsonBody(c));
    if (!parsed.success) throw invalidInput(parsed.error.issues);
    await federation.setMode(role, parsed.data.mode);
    return c.json({ role, ...(await federation.roles())[role] });
  });

  routes.get("/events", access.reader, async (c) => {
    const q = parseQuery(FederationEventsQuery, c);
    const page = await hub.store.federationEvents.list({ limit: q.limit, afterSeq: q.cursor, from: q.from, to: q.to, node: q.node });
    const last = page.at(-1);
    // A full page may have more after it; a short one is the last.
    if (last && page.length === q.limit) {
      const next = new URL(c.req.url);
      next.searchParams.set("cursor", String(last.seq));
      c.header("Link", `<${next.pathname}${next.search}>; rel="next"`);
      c.header("X-Next-Cursor", String(last.seq));
    }
    const body = page.map((stored) => `${JSON.stringify(stored.event)}\n`).join("");
    return c.body(body, 200, { "Content-Type": "application/x-ndjson" });
  });

  routes.get("/alerts", access.reader, async (c) => {
    const q = parseQuery(AlertListQuery, c);
    const [alerts, dropped] = await Promise.all([hub.alerts.list(q), hub.alerts.dropped()]);
    return c.json({ alerts, dropped });
  });

  return routes;
}
