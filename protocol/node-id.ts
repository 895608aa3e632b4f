// What a node id looks like. A module of its own because both the payload
// schemas (messages.ts) and the topic table (topics.ts, which needs those
// schemas) use it.

/** A node id: lowercase letters, digits and dashes, starting with a letter or digit, at most 63 characters. */
export const NODE_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function isNodeId(value: unknown): value is string {
  return typeof value === "string" && NODE_ID_PATTERN.test(value);
}
