// Which node messages the hub commits before the broker learns they arrived:
// the events of the topic table. A verdict event and a close are counted, a
// decision ack and a strategy report recorded once (each with its federation
// event), and nothing
// brings them back later: the broker forgets a QoS 1 message at the hub's
// PUBACK, the agent at the broker's. So the hub acknowledges these only after
// the registry commit holding their effect (Fleet.commit); if it dies before,
// the broker (or, with the embedded broker, the agent) sends them again, and
// ingest takes a redelivery once: a verdict or close whose number is at or
// below the node's last counts as a duplicate only, an ack is stored by
// decision and node. `state` and `birth` are retained and come back with every subscribe,
// heartbeats are QoS 0 and replaced by the next: those are acknowledged at
// once and reach the registry with the periodic flush.
import { deliveryOf, NODE_TO_HUB_KINDS, parseNodeTopic } from "../../protocol/topics.ts";
import type { TakenOutboxRef } from "../ingest/ingest.ts";

/** The node->hub kinds the topic table sends as events (QoS 1, not retained): verdicts, acks, strategy reports, closes. */
const COMMITTED_BEFORE_ACK: readonly string[] = NODE_TO_HUB_KINDS.filter((kind) => {
  const delivery = deliveryOf(kind);
  return delivery.qos === 1 && !delivery.retain;
});
const SUFFIXES = COMMITTED_BEFORE_ACK.map((kind) => `/${kind}`);

/** The node whose live state must be committed before a message on `topic` is acknowledged, or null. */
export function nodeToCommitBeforeAck(topic: string): string | null {
  // A suffix test first: this runs for every heartbeat too.
  for (const suffix of SUFFIXES) {
    if (!topic.endsWith(suffix)) continue;
    const parsed = parseNodeTopic(topic);
    return parsed !== null && COMMITTED_BEFORE_ACK.includes(parsed.kind) ? parsed.node : null;
  }
  return null;
}

/** Handles a node message; a promise means: acknowledge it once this resolves. */
export type NodeMessageHandler = (topic: string, payload: Buffer, retained: boolean) => Promise<void> | undefined;

/** What runs once the commit holding a node's event resolved. */
export interface AfterCommit {
  /** The event's kind and the node's time of it (the ingest lag); not called for one without a time. */
  committed?(kind: string, sentAt: number): void;
  /**
   * The event carried its outbox id (`ob`, protocol/receipts.ts) and ingest
   * is done with it: the node may forget it (hub/mqtt/receipts.ts). Never
   * before the commit; a failed commit names nothing (the broker, or the
   * node, sends the message again).
   */
  receipted?(nodeId: string, ob: number): void;
}

/** What ingestThenCommit reads of ingest right after handle(). */
export interface CommittingIngest {
  handle(topic: string, payload: Buffer, retained: boolean): void;
  readonly lastSentAt: number | null;
  readonly lastOutboxRef: TakenOutboxRef | null;
}

/**
 * Ingest followed, for the kinds above, by the commit of the node's live
 * state. Ingest queues its other registry writes (a decision ack) in the same
 * group commit before that, so the commit holds them too. `after` hears of
 * each such message once committed; heartbeats pay nothing for it.
 */
export function ingestThenCommit(ingest: CommittingIngest, fleet: { commit(nodeId: string): Promise<void> }, after: AfterCommit = {}): NodeMessageHandler {
  return (topic, payload, retained) => {
    ingest.handle(topic, payload, retained);
    const nodeId = nodeToCommitBeforeAck(topic);
    if (nodeId === null) return undefined;
    const commit = fleet.commit(nodeId);
    const sentAt = ingest.lastSentAt;
    // A failed commit is logged and redelivered by the caller's chain: nothing to do here.
    if (sentAt !== null && after.committed) {
      const kind = parseNodeTopic(topic)!.kind;
      commit.then(() => after.committed!(kind, sentAt), () => {});
    }
    const taken = ingest.lastOutboxRef;
    if (taken !== null && after.receipted) {
      // An ack or work message is done once its handler answered too (it failing is a hub error: no receipt).
      const done = taken.handled ? Promise.all([commit, taken.handled]) : commit;
      done.then(() => after.receipted!(nodeId, taken.ob), () => {});
    }
    return commit;
  };
}
