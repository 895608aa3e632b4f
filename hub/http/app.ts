// The hub's HTTP API (Hono): route modules mounted under their paths
// (routes/), a body limit on writes, and one error handler that answers
// every error as `{error, detail}` with its status (error-handler.ts).
// Handlers stay thin: parse, call the domain, shape JSON.
import { Hono } from "hono";
import type { Decisions } from "../decisions/decisions.ts";
import type { LiveFederation } from "../federation/live.ts";
import type { HubContext } from "../hub-context.ts";
import type { Ingest } from "../ingest/ingest.ts";
import type { WorkPackages } from "../work/work-packages.ts";
import type { WorkScheduler } from "../work/work-scheduler.ts";
import { requireAdmin } from "./admin-auth.ts";
import { limitBody, routeNotFound } from "../../lib/http-errors.ts";
import { hubErrorHandler } from "./error-handler.ts";
import { measureHttp } from "../metrics/http-metrics.ts";
import { decisionRoutes } from "./routes/decisions.ts";
import { federationRoutes } from "./routes/federation.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { nodeRoutes } from "./routes/nodes.ts";
import { registerRoutes } from "./routes/register.ts";
import { statusRoutes } from "./routes/status.ts";
import { workRoutes } from "./routes/work.ts";

export function createHubApp(hub: HubContext, decisions: Decisions, ingest: Ingest, federation: LiveFederation, work: WorkPackages, workScheduler: WorkScheduler): Hono {
  const app = new Hono();
  const admin = requireAdmin(hub.identity.adminTokenHash);

  // First, so it times everything after it, the error handler's answers included.
  app.use("*", measureHttp((method, route, status, seconds) => hub.metrics.httpRequest(method, route, status, seconds)));

  const bodyLimit = limitBody(hub.settings.maxBodyBytes);
  // Reads carry no body; skipping the limit keeps the busiest route lean.
  app.use("*", (c, next) => (c.req.method === "GET" || c.req.method === "HEAD" ? next() : bodyLimit(c, next)));

  // Only the top app's handlers: the route modules have none of their own, so their errors come here.
  app.onError(hubErrorHandler(hub.log));
  app.notFound(routeNotFound);

  app.route("/", statusRoutes(hub, ingest, admin, federation));
  app.route("/", metricsRoutes(hub));
  app.route("/federation/register", registerRoutes(hub));
  app.route("/federation/nodes", nodeRoutes(hub, decisions, admin));
  app.route("/api/federation", decisionRoutes(hub, decisions, admin));
  app.route("/api/federation", federationRoutes(hub, admin, federation));
  app.route("/api/federation/work", workRoutes(hub, work, workScheduler, admin));
  return app;
}
