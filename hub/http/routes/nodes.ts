// /federation/nodes (reader; removal and readmission admin): the node list
// (searched, filtered, sorted, paged, with the fleet's counts by health), one node's
// view, the history of what its strategy reported, its removal and its
// readmission.
import { Hono } from "hono";
import type { Decisions } from "../../decisions/decisions.ts";
import type { HubContext } from "../../hub-context.ts";
import { FieldOrigins } from "../../decisions/field-origins.ts";
import { actorOf, type ApiAccess } from "../admin-auth.ts";
import { notRegisteredError, readmitNode, removeNode } from "../../nodes/registration.ts";
import { NodeListQuery, NodeMetricsQuery, pageOfNodes, ReportHistoryQuery } from "../list-queries.ts";
import { metricBucketView, nodeDetail, nodeSummary, storedReportView } from "../node-view.ts";
import { MINUTE_MS } from "../../nodes/node-metrics.ts";
import { parseQuery } from "../request.ts";
import { caughtUpWithReplicas } from "../caught-up.ts";

export function nodeRoutes(hub: HubContext, decisions: Decisions, access: ApiAccess): Hono {
  const routes = new Hono();
  const fieldOrigins = new FieldOrigins(hub, decisions);
  // After the reader check: a refused request costs no round trip.
  const caughtUp = caughtUpWithReplicas(hub);

  routes.get("/", access.reader, caughtUp, (c) => {
    const page = pageOfNodes(hub.fleet.byId(), parseQuery(NodeListQuery, c));
    const now = hub.clock();
    return c.json({
      nodes: page.nodes.map((node) => nodeSummary(node, hub.fleet, now)),
      total: page.total,
      next_after: page.nextAfter,
      // Over the whole fleet, whatever the filter: the dashboard's counts by health.
      counts: hub.fleet.countsByHealth(),
    });
  });

  routes.get("/:id", access.reader, caughtUp, async (c) => {
    const id = c.req.param("id");
    const known = hub.fleet.get(id);
    if (!known) throw await notRegisteredError(hub, id);
    // Replicas: a node's messages land on all of them, so its state as merged in the registry, not this replica's share.
    const node = hub.store.shared ? ((await hub.store.nodes.get(id)) ?? known) : known;
    const followed = decisions.desiredPolicy(node.nodeId) ?? decisions.desiredPolicy("fleet");
    const origins = await fieldOrigins.of(node);
    return c.json(nodeDetail(node, hub.fleet, decisions.desiredPolicy(node.nodeId)?.version ?? null, followed?.policy ?? null, origins));
  });

  // As committed: reports are written before their PUBACK (hub/mqtt/commit-before-ack.ts), so this holds every acknowledged one.
  routes.get("/:id/history", access.reader, caughtUp, async (c) => {
    const id = c.req.param("id");
    if (!hub.fleet.get(id)) throw await notRegisteredError(hub, id);
    const q = parseQuery(ReportHistoryQuery, c);
    // One more than asked, to tell whether another page follows.
    const found = await hub.store.reports.history(id, q.kind, { limit: q.limit + 1, beforeSeq: q.before, model: q.model });
    const page = found.slice(0, q.limit);
    return c.json({ node_id: id, kind: q.kind, reports: page.map(storedReportView), next_before: found.length > q.limit ? page.at(-1)!.seq : null });
  });

  // The dashboard's charts: what the registry holds of the last hours, then the minutes not written yet.
  routes.get("/:id/metrics", access.reader, caughtUp, async (c) => {
    const id = c.req.param("id");
    if (!hub.fleet.get(id)) throw await notRegisteredError(hub, id);
    const { hours } = parseQuery(NodeMetricsQuery, c);
    const from = hub.clock() - hours * 3_600_000;
    const stored = await hub.store.metricBuckets.list(id, from);
    const lastStored = stored.at(-1)?.at ?? -1;
    const unwritten = hub.fleet.metrics.unwritten(id).filter((bucket) => bucket.at >= from && bucket.at > lastStored);
    return c.json({ node_id: id, bucket_s: MINUTE_MS / 1000, buckets: [...stored, ...unwritten].map(metricBucketView) });
  });

  routes.delete("/:id", access.admin, caughtUp, async (c) => {
    const id = c.req.param("id");
    await removeNode(hub, id, decisions, actorOf(c));
    return c.json({ status: "removed", node_id: id });
  });

  // Lifts a removal: the node may register again (with the key it had, without spending a token use).
  routes.post("/:id/readmit", access.admin, async (c) => {
    const id = c.req.param("id");
    await readmitNode(hub, id, actorOf(c));
    return c.json({ status: "readmitted", node_id: id });
  });

  return routes;
}
