// How decisions look in the HTTP API: as signed, who made them (origin), whom they went to,
// their acks (snake_case, with a research task's result) and who has not
// acknowledged yet, and the link between an OVERRIDE and what it reversed.
import type { IssuedDecision } from "../decisions/decisions.ts";
import type { StoredDecision } from "../store/hub-store.ts";

export function decisionView(stored: StoredDecision): object {
  const acked = new Set(stored.acks.map((a) => a.nodeId));
  const { message } = stored;
  return {
    ...message,
    origin: stored.origin,
    targets: stored.targets,
    acks: stored.acks.map((a) => ({ node_id: a.nodeId, ok: a.ok, error: a.error, applied_at: a.appliedAt, received_at: a.receivedAt, result: a.result })),
    pending: stored.targets.filter((node) => !acked.has(node)),
    /** The OVERRIDE that reversed this decision's policy effect, or null. */
    overridden_by: stored.overriddenBy,
    /** On an OVERRIDE: the decision it reversed; null on every other type. */
    overrides: message.type === "OVERRIDE" ? ((message.payload.overridden_decision_id as string | undefined) ?? null) : null,
  };
}

/** A decision just issued: as signed, whom it went to, and whether the broker confirmed it in time. */
export function issuedView(issued: IssuedDecision): object {
  return { ...issued.decision, origin: issued.origin, targets: issued.targets, published: issued.published };
}
