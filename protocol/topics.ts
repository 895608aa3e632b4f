// MQTT topic names of protocol v1 (docs/protocol.md), shared by agent and hub.
// One place builds and parses them, so the two sides cannot drift apart.

export const ROOT = "edgefed/v1";
/** A node id: lowercase letters, digits and dashes, starting with a letter or digit, at most 63 characters. */
export const NODE_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

export const NODE_TOPIC_KINDS = ["state", "birth", "heartbeat", "verdicts", "cmd", "cmd/ack", "policy"] as const;
export type NodeTopicKind = (typeof NODE_TOPIC_KINDS)[number];

export const HUB_STATE_TOPIC = `${ROOT}/hub/state`;
export const FLEET_POLICY_TOPIC = `${ROOT}/fleet/policy`;

/** QoS and retain flag per topic kind, as the protocol table fixes them. */
export const DELIVERY: Record<NodeTopicKind | "hub/state" | "fleet/policy", { qos: 0 | 1; retain: boolean }> = {
  state: { qos: 1, retain: true },
  birth: { qos: 1, retain: true },
  heartbeat: { qos: 0, retain: false },
  verdicts: { qos: 1, retain: false },
  cmd: { qos: 1, retain: false },
  "cmd/ack": { qos: 1, retain: false },
  policy: { qos: 1, retain: true },
  "hub/state": { qos: 1, retain: true },
  "fleet/policy": { qos: 1, retain: true },
};

export function isNodeId(value: unknown): value is string {
  return typeof value === "string" && NODE_ID_PATTERN.test(value);
}

export function nodeTopic(node: string, kind: NodeTopicKind): string {
  if (!isNodeId(node)) throw new Error(`not a node id: ${JSON.stringify(node)}`);
  return `${ROOT}/nodes/${node}/${kind}`;
}

/** The subtree a node may publish under (for broker ACLs). */
export function nodeSubtree(node: string): string {
  if (!isNodeId(node)) throw new Error(`not a node id: ${JSON.stringify(node)}`);
  return `${ROOT}/nodes/${node}/#`;
}

/** `{node, kind}` for a node topic, or null for anything else (other roots, bad ids, unknown kinds). */
export function parseNodeTopic(topic: string): { node: string; kind: NodeTopicKind } | null {
  const prefix = `${ROOT}/nodes/`;
  if (!topic.startsWith(prefix)) return null;
  const rest = topic.slice(prefix.length);
  const slash = rest.indexOf("/");
  if (slash <= 0) return null;
  const node = rest.slice(0, slash);
  const kind = rest.slice(slash + 1) as NodeTopicKind;
  if (!isNodeId(node) || !NODE_TOPIC_KINDS.includes(kind)) return null;
  return { node, kind };
}
