// The MQTT ACL as rows a broker cluster can query (EMQX's PostgreSQL
// authorizer, examples/emqx/): one row per topic kind a node may use, its
// topic with `{node}` where the node's id goes. Derived from the protocol's
// topic table (protocol/topics.ts) exactly as hub/broker/acl.ts is, and
// rewritten on every migration (schema.ts), so a hub with new topic kinds
// brings its rows along without a schema step. The view mqtt_acl (schema
// step 3) joins these rows with the nodes table.
import type { TransactionSql } from "postgres";
import { FLEET_KINDS, fleetTopic, HUB_TO_NODE_KINDS, NODE_TO_HUB_KINDS, retainAllowed, ROOT } from "../../../protocol/topics.ts";

/** Stands for the node's id in a pattern (never part of a real topic: node ids have no braces). */
export const NODE_PLACEHOLDER = "{node}";

export interface MqttTopicPattern {
  kind: string;
  action: "publish" | "subscribe";
  pattern: string;
  /**
   * EMQX's `retain` column: 0 allows only publishes without the retain flag;
   * NULL allows both. A node may set the flag only where the protocol retains.
   */
  retain: 0 | null;
}

const nodeTopicPattern = (kind: string) => `${ROOT}/nodes/${NODE_PLACEHOLDER}/${kind}`;

export function mqttTopicPatterns(): MqttTopicPattern[] {
  return [
    ...NODE_TO_HUB_KINDS.map((kind) => ({ kind, action: "publish" as const, pattern: nodeTopicPattern(kind), retain: retainAllowed(kind) ? null : (0 as const) })),
    ...HUB_TO_NODE_KINDS.map((kind) => ({ kind, action: "subscribe" as const, pattern: nodeTopicPattern(kind), retain: null })),
    ...FLEET_KINDS.map((kind) => ({ kind, action: "subscribe" as const, pattern: fleetTopic(kind), retain: null })),
  ];
}

/** Replaces the table's rows with this hub's (inside the migration's transaction). */
export async function writeMqttTopicPatterns(tx: TransactionSql): Promise<void> {
  const rows = mqttTopicPatterns();
  await tx`DELETE FROM mqtt_topic_patterns`;
  await tx`
    INSERT INTO mqtt_topic_patterns (kind, action, pattern, retain)
    SELECT * FROM unnest(${rows.map((row) => row.kind)}::text[], ${rows.map((row) => row.action)}::text[],
                         ${rows.map((row) => row.pattern)}::text[], ${rows.map((row) => row.retain)}::smallint[])`;
}
