// /api/federation/work (reads: reader; submit and cancel: admin): work packages (hub/work/). POST submits
// (201 with the id; a retry with the same idempotency_key answers 200 with
// what the first made), GET lists newest first (state, kind, node; `before`
// the seq the page before ended at), GET /:id shows one with its attempts
// and history, POST /:id/cancel cancels one not finished, GET /summary
// counts the queue by state, the packages in flight per node and each
// node's smoothed round-trip time.
import { Hono } from "hono";
import type { ApiAccess } from "../admin-auth.ts";
import { jsonBody } from "../../../lib/http-errors.ts";
import type { HubContext } from "../../hub-context.ts";
import { unknownPackage, type WorkPackages } from "../../work/work-packages.ts";
import type { WorkScheduler } from "../../work/work-scheduler.ts";
import { WorkListQuery } from "../list-queries.ts";
import { parseQuery } from "../request.ts";
import { workDetailView, workView } from "../work-view.ts";

export function workRoutes(hub: HubContext, work: WorkPackages, scheduler: WorkScheduler, access: ApiAccess): Hono {
  const routes = new Hono();

  routes.post("/", access.admin, async (c) => {
    const submitted = await work.submit(await jsonBody(c));
    return c.json({ id: submitted.id, created: submitted.created, packages: submitted.packages.map(workView) }, submitted.created ? 201 : 200);
  });

  routes.get("/", access.reader, async (c) => {
    const q = parseQuery(WorkListQuery, c);
    const page = await hub.store.work.list({ limit: q.limit, beforeSeq: q.before, state: q.state, kind: q.kind, node: q.node });
    const last = page.at(-1);
    return c.json({ packages: page.map(workView), next_before: last && page.length === q.limit ? last.seq : null });
  });

  routes.get("/summary", access.reader, async (c) => {
    const [byState, active] = await Promise.all([hub.store.work.countByState(), hub.store.work.active()]);
    const inFlightByNode: Record<string, number> = {};
    for (const pkg of active) if (pkg.state !== "queued" && pkg.node) inFlightByNode[pkg.node] = (inFlightByNode[pkg.node] ?? 0) + 1;
    return c.json({ by_state: byState, in_flight_by_node: inFlightByNode, rtt_ms_by_node: scheduler.roundTrips() });
  });

  routes.get("/:id", access.reader, async (c) => {
    const id = c.req.param("id");
    const pkg = await hub.store.work.get(id);
    if (!pkg) throw unknownPackage(id);
    const [attempts, events] = await Promise.all([hub.store.work.attempts(id), hub.store.work.events(id)]);
    return c.json(workDetailView(pkg, attempts, events));
  });

  routes.post("/:id/cancel", access.admin, async (c) => c.json(workView(await work.cancel(c.req.param("id")))));

  return routes;
}
