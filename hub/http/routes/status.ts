// What the hub says about itself: GET /health (no token, for load balancers
// and service checks: 503 when the broker or the store is down) and
// GET /api/federation/status (admin: counts, ingest, uptime, the fleet's
// aggregate of what its strategies reported, the federation contract's
// roles (name -> enabled), total_decisions and last_update, and each role's
// mode, last evaluation and last decision).
import { Hono } from "hono";
import type { FederationRolesView } from "../../federation/roles-view.ts";
import type { HubContext } from "../../hub-context.ts";
import type { ApiAccess } from "../admin-auth.ts";
import type { Ingest } from "../../ingest/ingest.ts";
import { fleetReports } from "../../nodes/fleet-reports.ts";
import { caughtUpWithReplicas } from "../caught-up.ts";

const bunVersion = (globalThis as { Bun?: { version: string } }).Bun?.version;
const RUNTIME = bunVersion ? `bun ${bunVersion}` : `node ${process.version}`;

export function statusRoutes(hub: HubContext, ingest: Ingest, access: ApiAccess, federation: FederationRolesView): Hono {
  const routes = new Hono();
  const uptimeS = () => Math.round((hub.clock() - hub.startedAt) / 1000);

  routes.get("/health", async (c) => {
    const broker = hub.brokerConnected() && hub.broker.healthy;
    const store = await hub.store.healthy();
    const ok = broker && store;
    // Said to anyone who asks, like the start-up line: whether secrets may cross the network in clear here.
    const transport = { tls: hub.settings.tls, plaintext: !hub.settings.tls || hub.settings.allowPlaintext };
    return c.json({ status: ok ? "ok" : "degraded", hub_id: hub.settings.hubId, broker: broker ? "up" : "down", store: store ? "up" : "down", runtime: RUNTIME, uptime_s: uptimeS(), leads: hub.leadership.duties(), ...transport }, ok ? 200 : 503);
  });

  // Its node counts come from memory: on a shared registry they wait to have heard the other replicas.
  routes.get("/api/federation/status", access.reader, caughtUpWithReplicas(hub), async (c) => {
    const [removed, decisions, [latest], roles, engineReplica] = await Promise.all([
      hub.store.tombstones.count(),
      hub.store.decisions.count(),
      hub.store.decisions.list({ limit: 1 }),
      federation.roles(),
      federation.engineReplica(),
    ]);
    return c.json({
      nodes: { total: hub.fleet.size, by_health: hub.fleet.countsByHealth(), removed },
      decisions: { total: decisions },
      fleet: fleetReports(hub.fleet.all()),
      ingest: ingest.stats(),
      broker: hub.brokerConnected() ? "up" : "down",
      uptime_s: uptimeS(),
      started_at: hub.startedAt,
      // The federation contract's names: its roles (name -> enabled: issuing decisions), and the decisions.
      roles: Object.fromEntries(Object.entries(roles).map(([name, role]) => [name, role.enabled])),
      // Each role's mode (active, advisory, off), when it last evaluated and its last decision (issued or advisory).
      role_status: Object.fromEntries(Object.entries(roles).map(([name, { mode, last_evaluation, last_decision }]) => [name, { mode, last_evaluation, last_decision }])),
      // The replica whose engine runs the roles (this one on a single hub).
      engine_replica: engineReplica,
      total_decisions: decisions,
      last_update: latest ? new Date(latest.message.issuedAt).toISOString() : null,
    });
  });

  return routes;
}
