// GET /metrics: the hub's metrics in Prometheus text format
// (hub/metrics/hub-metrics.ts), for a Prometheus scrape with
// `authorization: {credentials: <metrics token>}`; the admin token works too.
import { Hono } from "hono";
import type { HubContext } from "../../hub-context.ts";
import { requireToken } from "../admin-auth.ts";

export function metricsRoutes(hub: HubContext): Hono {
  const routes = new Hono();
  const scraper = requireToken([hub.identity.metricsTokenHash, hub.identity.adminTokenHash], "metrics token or admin token");
  routes.get("/metrics", scraper, async (c) => c.body(await hub.metrics.scrape(), 200, { "content-type": hub.metrics.contentType }));
  return routes;
}
