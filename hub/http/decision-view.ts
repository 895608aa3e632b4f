// How decisions look in the HTTP API: as signed, who made them (origin), whom they went to,
// their acks (snake_case, with a research task's result) and who has not
// acknowledged yet, and the link between an OVERRIDE and what it reversed.
import type { IssuedDecision } from "../decisions/decisions.ts";
import type { DecisionAck, DecisionSummary, DecisionTarget, StoredDecision } from "../store/hub-store.ts";

export function decisionView(stored: StoredDecision): object {
  const acked = new Set(stored.acks.map((a) => a.nodeId));
  return {
    ...decisionHead(stored),
    targets: stored.targets,
    acks: stored.acks.map(ackView),
    pending: stored.targets.filter((node) => !acked.has(node)),
  };
}

/**
 * A decision counted, not listed (`?summary=1`): how many targets, acks with
 * ok and with an error, pending, the first pending ids and, with `?node=`,
 * that node's ack (`node_ack`, null while pending).
 */
export function decisionSummaryView(summary: DecisionSummary): object {
  return {
    ...decisionHead(summary),
    summary: {
      targets: summary.targetCount,
      acked_ok: summary.ackedOk,
      acked_error: summary.ackedError,
      pending: summary.pendingCount,
      pending_first: summary.pendingFirst,
    },
    ...(summary.nodeAck === undefined ? {} : { node_ack: summary.nodeAck && ackView(summary.nodeAck) }),
  };
}

/** One target of a decision (GET .../decisions/:id/targets): its ack, or null while pending. */
export function decisionTargetView(target: DecisionTarget): object {
  return { node_id: target.nodeId, ack: target.ack && ackView(target.ack) };
}

/** What every decision view shows: the message as signed, who made it, and the OVERRIDE links. */
function decisionHead(decision: Pick<StoredDecision, "message" | "origin" | "overriddenBy">): object {
  const { message } = decision;
  return {
    ...message,
    origin: decision.origin,
    /** The OVERRIDE that reversed this decision's policy effect, or null. */
    overridden_by: decision.overriddenBy,
    /** On an OVERRIDE: the decision it reversed; null on every other type. */
    overrides: message.type === "OVERRIDE" ? ((message.payload.overridden_decision_id as string | undefined) ?? null) : null,
  };
}

function ackView(a: DecisionAck): object {
  return { node_id: a.nodeId, ok: a.ok, error: a.error, applied_at: a.appliedAt, received_at: a.receivedAt, result: a.result };
}

/** A decision just issued: as signed, whom it went to, and whether the broker confirmed it in time. */
export function issuedView(issued: IssuedDecision): object {
  return { ...issued.decision, origin: issued.origin, targets: issued.targets, published: issued.published };
}
