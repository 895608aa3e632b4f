// The hub's HTTP API (Hono): route modules mounted under their paths
// (routes/), the dashboard at `/` (../dashboard/), a body limit on writes,
// and one error handler that answers every error as `{error, detail}` with
// its status (error-handler.ts).
// Handlers stay thin: parse, call the domain, shape JSON.
import { Hono } from "hono";
import type { Decisions } from "../decisions/decisions.ts";
import type { LiveFederation } from "../federation/live.ts";
import type { HubContext } from "../hub-context.ts";
import type { Ingest } from "../ingest/ingest.ts";
import { DashboardSessions } from "../identity/dashboard-sessions.ts";
import { apiAccess } from "./admin-auth.ts";
import { limitBody, routeNotFound } from "../../lib/http-errors.ts";
import { dashboardRoutes } from "../dashboard/routes.ts";
import { hubErrorHandler } from "./error-handler.ts";
import { decisionRoutes } from "./routes/decisions.ts";
import { federationRoutes } from "./routes/federation.ts";
import { nodeRoutes } from "./routes/nodes.ts";
import { registerRoutes } from "./routes/register.ts";
import { sessionRoutes } from "./routes/session.ts";
import { streamRoutes } from "./routes/stream.ts";
import { tokenRoutes } from "./routes/tokens.ts";
import { LiveFeed } from "./live-feed.ts";
import { statusRoutes } from "./routes/status.ts";

export function createHubApp(hub: HubContext, decisions: Decisions, ingest: Ingest, federation: LiveFederation): Hono {
  const app = new Hono();
  const sessions = new DashboardSessions(hub.store, hub.identity, hub.settings.sessionTtlS * 1000, hub.clock);
  const access = apiAccess(hub.identity.adminTokenHash, sessions);
  const feed = new LiveFeed(hub, decisions);

  const bodyLimit = limitBody(hub.settings.maxBodyBytes);
  // Reads carry no body; skipping the limit keeps the busiest route lean.
  app.use("*", (c, next) => (c.req.method === "GET" || c.req.method === "HEAD" ? next() : bodyLimit(c, next)));

  // Only the top app's handlers: the route modules have none of their own, so their errors come here.
  app.onError(hubErrorHandler(hub.log));
  app.notFound(routeNotFound);

  app.route("/", statusRoutes(hub, ingest, access, federation));
  app.route("/api/session", sessionRoutes(sessions, hub.settings.sessionTtlS));
  app.route("/api", streamRoutes(access, sessions, feed, hub.clock));
  app.route("/federation/register", registerRoutes(hub));
  app.route("/federation/nodes", nodeRoutes(hub, decisions, access));
  app.route("/api/federation", decisionRoutes(hub, decisions, access));
  app.route("/api/federation", federationRoutes(hub, access, federation));
  app.route("/api/federation", tokenRoutes(hub, access));
  app.route("/", dashboardRoutes(hub.log));
  return app;
}
