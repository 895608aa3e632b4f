// A node's row (nodes) and its health transitions' rows (health_transitions),
// the same columns in SQLite and PostgreSQL, and the records they hold, for
// both backends (hub/store/sqlite/node-table.ts, hub/store/postgres/node-table.ts).
import { emptyLive, type HealthTransition, type NodeRecord } from "../../nodes/node-model.ts";
import type { NodeRecency } from "../hub-store.ts";

export interface NodeRow {
  node_id: string;
  registration_id: string;
  public_key: string;
  capabilities: string;
  arch: string;
  version: string;
  endpoint: string | null;
  password_hash: string;
  registered_at: number;
  credentials_at: number;
  proof_ts: number | null;
  health: string;
  health_since: number;
  health_cause: string;
  live: string;
}

export function nodeOf(row: NodeRow): NodeRecord {
  return {
    nodeId: row.node_id,
    registrationId: row.registration_id,
    publicKey: row.public_key,
    capabilities: JSON.parse(row.capabilities) as string[],
    arch: row.arch,
    version: row.version,
    endpoint: row.endpoint,
    passwordHash: row.password_hash,
    registeredAt: row.registered_at,
    credentialsAt: row.credentials_at,
    proofTs: row.proof_ts,
    health: row.health as NodeRecord["health"],
    healthSince: row.health_since,
    healthCause: row.health_cause,
    live: { ...emptyLive(), ...(JSON.parse(row.live) as object) },
  };
}

/** The narrow read of a node the health sweep makes (NodeReads.recency). */
export interface RecencyRow {
  node_id: string;
  health: string;
  health_since: number;
  health_cause: string;
  heard_at: number | null;
}

export function recencyOf(row: RecencyRow): NodeRecency {
  return {
    nodeId: row.node_id,
    health: row.health as NodeRecency["health"],
    healthSince: row.health_since,
    healthCause: row.health_cause,
    heardAt: row.heard_at,
  };
}

export interface TransitionRow {
  node_id: string;
  from_state: string | null;
  to_state: string;
  at: number;
  cause: string;
}

/** Each node's transitions, in the order of `rows`. */
export function transitionsByNode(rows: Iterable<TransitionRow>): Map<string, HealthTransition[]> {
  const byNode = new Map<string, HealthTransition[]>();
  for (const row of rows) {
    const transition = { from: row.from_state as HealthTransition["from"], to: row.to_state as HealthTransition["to"], at: row.at, cause: row.cause };
    const list = byNode.get(row.node_id);
    if (list) list.push(transition);
    else byNode.set(row.node_id, [transition]);
  }
  return byNode;
}
