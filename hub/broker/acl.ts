// Who may publish and subscribe where (docs/protocol.md, "ACLs"). A node
// publishes only what agents send, under its own subtree, and reads only its
// own cmd and policy, the fleet policy and the hub's state. The hub may do
// anything under the protocol root.
import { FLEET_POLICY_TOPIC, HUB_STATE_TOPIC, nodeTopic, type NodeTopicKind } from "../../protocol/topics.ts";

/** What an agent sends; `cmd` and `policy` come only from the hub. */
export const NODE_PUBLISH_KINDS: readonly NodeTopicKind[] = ["state", "birth", "heartbeat", "verdicts", "cmd/ack"];
/** What an agent reads of its own subtree. */
export const NODE_SUBSCRIBE_KINDS: readonly NodeTopicKind[] = ["cmd", "policy"];

export function nodePublishTopics(nodeId: string): string[] {
  return NODE_PUBLISH_KINDS.map((kind) => nodeTopic(nodeId, kind));
}

/** Exact topics a node may subscribe to (no wildcards: a node never needs one). */
export function nodeSubscribeTopics(nodeId: string): string[] {
  return [...NODE_SUBSCRIBE_KINDS.map((kind) => nodeTopic(nodeId, kind)), FLEET_POLICY_TOPIC, HUB_STATE_TOPIC];
}

export function nodeMayPublish(nodeId: string, topic: string): boolean {
  return nodePublishTopics(nodeId).includes(topic);
}

export function nodeMaySubscribe(nodeId: string, filter: string): boolean {
  return nodeSubscribeTopics(nodeId).includes(filter);
}
