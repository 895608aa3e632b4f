// The hub's HTTP API (Hono): route modules mounted under their paths
// (routes/), the dashboard at `/` (../dashboard/), a body limit on writes,
// and one error handler that answers every error as `{error, detail}` with
// its status (error-handler.ts). Every API route takes one of two guards
// (admin-auth.ts): `reader` (the admin bearer, or any dashboard session) or
// `admin`; a session's writes also need its CSRF token. Handlers stay thin:
// parse, call the domain, shape JSON.
import { Hono } from "hono";
import type { Decisions } from "../decisions/decisions.ts";
import type { FederationRolesView } from "../federation/roles-view.ts";
import type { HubContext } from "../hub-context.ts";
import type { Ingest } from "../ingest/ingest.ts";
import type { WorkPackages } from "../work/work-packages.ts";
import type { WorkScheduler } from "../work/work-scheduler.ts";
import { BearerVerifier } from "../identity/bearer-verifier.ts";
import { DashboardSessions } from "../identity/dashboard-sessions.ts";
import { apiAccess, type ApiAccess } from "./admin-auth.ts";
import { both, hubRateLimits } from "./rate-limit.ts";
import { limitBody, routeNotFound } from "../../lib/http-errors.ts";
import { dashboardRoutes } from "../dashboard/routes.ts";
import { hubErrorHandler } from "./error-handler.ts";
import { measureHttp } from "../metrics/http-metrics.ts";
import { auditRoutes } from "./routes/audit.ts";
import { decisionRoutes } from "./routes/decisions.ts";
import { federationRoutes } from "./routes/federation.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { nodeRoutes } from "./routes/nodes.ts";
import { operatorRoutes } from "./routes/operators.ts";
import { registerRoutes } from "./routes/register.ts";
import { sessionRoutes } from "./routes/session.ts";
import { streamRoutes } from "./routes/stream.ts";
import { tokenRoutes } from "./routes/tokens.ts";
import { tlsRoutes } from "./routes/tls.ts";
import { LiveFeed } from "./live-feed.ts";
import { statusRoutes } from "./routes/status.ts";
import { workRoutes } from "./routes/work.ts";

export function createHubApp(hub: HubContext, decisions: Decisions, ingest: Ingest, federation: FederationRolesView, work: WorkPackages, workScheduler: WorkScheduler): Hono {
  const app = new Hono();
  const limits = hubRateLimits(hub);
  const verifier = new BearerVerifier(hub.store, hub.identity.adminTokenVerifier, hub.clock);
  const sessions = new DashboardSessions(hub.store, hub.identity, verifier, hub.settings.sessionTtlS * 1000, hub.clock);
  const guards = apiAccess(verifier, sessions);
  // The token or session first: only a real caller gets a bucket of its own.
  const access: ApiAccess = { reader: both(guards.reader, limits.admin), admin: both(guards.admin, limits.admin) };
  const feed = new LiveFeed(hub, decisions);

  // First, so it times everything after it, the error handler's answers included.
  app.use("*", measureHttp((method, route, status, seconds) => hub.metrics.httpRequest(method, route, status, seconds)));

  const bodyLimit = limitBody(hub.settings.maxBodyBytes);
  // Reads carry no body; skipping the limit keeps the busiest route lean.
  app.use("*", (c, next) => (c.req.method === "GET" || c.req.method === "HEAD" ? next() : bodyLimit(c, next)));

  // Only the top app's handlers: the route modules have none of their own, so their errors come here.
  app.onError(hubErrorHandler(hub.log));
  app.notFound(routeNotFound);

  // Before the routes they guard.
  app.post("/federation/register", limits.register);
  app.post("/api/session", limits.login);

  app.route("/", statusRoutes(hub, ingest, access, federation));
  app.route("/", metricsRoutes(hub, verifier));
  app.route("/api/session", sessionRoutes(sessions, hub.settings.sessionTtlS));
  app.route("/api", streamRoutes(access, sessions, feed, hub.clock, hub.log));
  app.route("/federation/register", registerRoutes(hub));
  app.route("/federation/nodes", nodeRoutes(hub, decisions, access));
  app.route("/api/federation", decisionRoutes(hub, decisions, access));
  app.route("/api/federation", federationRoutes(hub, access, federation));
  app.route("/api/federation", tokenRoutes(hub, access));
  app.route("/api/federation", tlsRoutes(hub, access));
  app.route("/api/federation", operatorRoutes(hub, access, verifier));
  app.route("/api/federation", auditRoutes(hub, access));
  app.route("/", dashboardRoutes(hub.log));
  app.route("/api/federation/work", workRoutes(hub, work, workScheduler, access));
  return app;
}
