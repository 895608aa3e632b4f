// GET /metrics: the hub's metrics in Prometheus text format
// (hub/metrics/hub-metrics.ts), for a Prometheus scrape with
// `authorization: {credentials: <metrics token>}`; an admin token (the hub's
// or an admin operator's) works too.
import { Hono } from "hono";
import type { HubContext } from "../../hub-context.ts";
import type { BearerVerifier } from "../../identity/bearer-verifier.ts";
import { requireTokenOrAdmin } from "../admin-auth.ts";

export function metricsRoutes(hub: HubContext, verifier: BearerVerifier): Hono {
  const routes = new Hono();
  const scraper = requireTokenOrAdmin(hub.identity.metricsTokenHash, verifier, "metrics token or admin token");
  routes.get("/metrics", scraper, async (c) => c.body(await hub.metrics.scrape(), 200, { "content-type": hub.metrics.contentType }));
  return routes;
}
