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

/**
 * Ingest followed, for the kinds above, by the commit of the node's live
 * state. Ingest queues its other registry writes (a decision ack) in the same
 * group commit before that, so the commit holds them too. `committed` hears
 * of each such message once committed, with the node's time of it (the
 * ingest lag); heartbeats pay nothing for it.
 */
export function ingestThenCommit(
  ingest: { handle(topic: string, payload: Buffer, retained: boolean): void; readonly lastSentAt: number | null },
  fleet: { commit(nodeId: string): Promise<void> },
  committed: (kind: string, sentAt: number) => void = () => {},
): NodeMessageHandler {
  return (topic, payload, retained) => {
    ingest.handle(topic, payload, retained);
    const nodeId = nodeToCommitBeforeAck(topic);
    if (nodeId === null) return undefined;
    const commit = fleet.commit(nodeId);
    const sentAt = ingest.lastSentAt;
    if (sentAt !== null) {
      const kind = parseNodeTopic(topic)!.kind;
      commit.then(() => committed(kind, sentAt), () => {}); // a failed commit is logged and redelivered by the caller's chain
    }
    return commit;
  };
}
