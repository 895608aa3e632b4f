// /api/federation (admin): what the federation roles work from and raise.
// GET /events exports the federation events the hub recorded
// (protocol/federation-events.ts) as JSON lines, one event per line in the
// order observed, the format `npm run federation -- replay` reads; a full
// page says where the next starts (Link rel="next" and X-Next-Cursor).
// GET /alerts lists the alerts raised (hub/alerts.ts).
import { Hono, type MiddlewareHandler } from "hono";
import type { HubContext } from "../../hub-context.ts";
import { AlertListQuery, FederationEventsQuery } from "../list-queries.ts";
import { parseQuery } from "../request.ts";

export function federationRoutes(hub: HubContext, admin: MiddlewareHandler): Hono {
  const routes = new Hono();

  routes.get("/events", admin, async (c) => {
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

  routes.get("/alerts", admin, (c) => {
    const q = parseQuery(AlertListQuery, c);
    return c.json({ alerts: hub.alerts.list(q), dropped: hub.alerts.dropped });
  });

  return routes;
}
