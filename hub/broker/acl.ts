// Who may publish and subscribe where (docs/protocol.md, "ACLs"), as the
// protocol's topic table (protocol/topics.ts) says: a node publishes only its
// node->hub kinds under its own subtree, and reads only its own hub->node kinds
// and the hub->fleet topics. The hub may do anything under the protocol root.
// Both brokers use these lists: the embedded one checks them itself, Mosquitto
// gets them as dynamic-security roles (mosquitto-dynsec.ts).
import { FLEET_KINDS, fleetTopic, nodePublishTopics, nodeSubscriptions, parseNodeTopic, retainAllowed } from "../../protocol/topics.ts";

export { nodePublishTopics };

/** Exact topics a node may subscribe to (no wildcards: a node never needs one). */
export function nodeSubscribeTopics(nodeId: string): string[] {
  return nodeSubscriptions(nodeId).map((subscription) => subscription.topic);
}

/** The hub->fleet topics: every node may subscribe to them, the same for all. */
export function fleetSubscribeTopics(): string[] {
  return FLEET_KINDS.map(fleetTopic);
}

/** The topics only this node may subscribe to: its own hub->node kinds. */
export function nodeOwnSubscribeTopics(nodeId: string): string[] {
  const fleet = fleetSubscribeTopics();
  return nodeSubscribeTopics(nodeId).filter((topic) => !fleet.includes(topic));
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
