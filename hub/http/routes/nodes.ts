// /federation/nodes (admin): the node list (filtered, paged), one node's
// view, its removal and its readmission.
import { Hono, type MiddlewareHandler } from "hono";
import type { Decisions } from "../../decisions/decisions.ts";
import type { HubContext } from "../../hub-context.ts";
import { notRegisteredError, readmitNode, removeNode } from "../../nodes/registration.ts";
import { NodeListQuery, pageOfNodes } from "../list-queries.ts";
import { nodeDetail, nodeSummary } from "../node-view.ts";
import { parseQuery } from "../request.ts";

export function nodeRoutes(hub: HubContext, decisions: Decisions, admin: MiddlewareHandler): Hono {
  const routes = new Hono();

  routes.get("/", admin, (c) => {
    const page = pageOfNodes(hub.fleet.all(), parseQuery(NodeListQuery, c));
    return c.json({ nodes: page.nodes.map(nodeSummary), total: page.total, next_after: page.nextAfter });
  });

  routes.get("/:id", admin, async (c) => {
    const id = c.req.param("id");
    const node = hub.fleet.get(id);
    if (!node) throw await notRegisteredError(hub, id);
    const followed = decisions.desiredPolicy(node.nodeId) ?? decisions.desiredPolicy("fleet");
    return c.json(nodeDetail(node, hub.fleet, decisions.desiredPolicy(node.nodeId)?.version ?? null, followed?.policy ?? null));
  });

  routes.delete("/:id", admin, async (c) => {
    const id = c.req.param("id");
    await removeNode(hub, id, decisions);
    return c.json({ status: "removed", node_id: id });
  });

  // Lifts a removal: the node may register again (with the key it had, without spending a token use).
  routes.post("/:id/readmit", admin, async (c) => {
    const id = c.req.param("id");
    await readmitNode(hub, id);
    return c.json({ status: "readmitted", node_id: id });
  });

  return routes;
}
