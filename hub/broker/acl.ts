// Who may publish and subscribe where (docs/protocol.md, "ACLs"), as the
// protocol's topic table (protocol/topics.ts) says: a node publishes only its
// node->hub kinds under its own subtree, and reads only its own hub->node kinds
// and the hub->fleet topics. The hub may do anything under the protocol root.
// Both brokers use these lists: the embedded one checks them itself, Mosquitto
// gets them as dynamic-security roles (mosquitto-dynsec.ts).
import { nodePublishTopics, nodeSubscriptions, parseNodeTopic, retainAllowed } from "../../protocol/topics.ts";

export { nodePublishTopics };

/** Exact topics a node may subscribe to (no wildcards: a node never needs one). */
export function nodeSubscribeTopics(nodeId: string): string[] {
  return nodeSubscriptions(nodeId).map((subscription) => subscription.topic);
}

/**
 * Whether the node may publish on `topic`, with the retain flag if `retain`.
 * Mosquitto's roles cannot refuse the flag per topic; there the hub's ingest
 * ignores what is retained where the protocol does not retain.
 */
export function nodeMayPublish(nodeId: string, topic: string, retain = false): boolean {
  if (!nodePublishTopics(nodeId).includes(topic)) return false;
  return !retain || retainAllowed(parseNodeTopic(topic)!.kind);
}

export function nodeMaySubscribe(nodeId: string, filter: string): boolean {
  return nodeSubscribeTopics(nodeId).includes(filter);
}
