// Read-after-write across hub replicas (issue 16): a read this replica answers
// from memory (the fleet list, a node's view with its policy in force) waits
// until it has heard and taken every change the other replicas committed
// before the read began (ChangeFeed.barrier: one NOTIFY round trip, shared by
// the reads of one turn, bounded by its timeout). Reads from the registry
// need nothing; neither does a hub on SQLite.
import type { MiddlewareHandler } from "hono";
import type { HubContext } from "../hub-context.ts";

export function caughtUpWithReplicas(hub: Pick<HubContext, "changeFeed">): MiddlewareHandler {
  return async (_c, next) => {
    if (hub.changeFeed) await hub.changeFeed.barrier();
    await next();
  };
}
