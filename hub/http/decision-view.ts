// How decisions look in the HTTP API: as signed, with whom they went to,
// their acks (snake_case) and who has not acknowledged yet.
import type { IssuedDecision } from "../decisions/decisions.ts";
import type { StoredDecision } from "../store/hub-store.ts";

export function decisionView(stored: StoredDecision): object {
  const acked = new Set(stored.acks.map((a) => a.nodeId));
  return {
    ...stored.message,
    targets: stored.targets,
    acks: stored.acks.map((a) => ({ node_id: a.nodeId, ok: a.ok, error: a.error, applied_at: a.appliedAt, received_at: a.receivedAt })),
    pending: stored.targets.filter((node) => !acked.has(node)),
  };
}

/** A decision just issued: as signed, whom it went to, and whether the broker confirmed it in time. */
export function issuedView(issued: IssuedDecision): object {
  return { ...issued.decision, targets: issued.targets, published: issued.published };
}
