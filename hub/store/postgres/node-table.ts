// Node rows and their health transitions in PostgreSQL (NodeWrites in
// ../hub-store.ts says what each method promises; the SQLite twin is
// ../sqlite/node-table.ts). Batches go in one statement each (unnest), so a
// fleet flush is a few round trips, not one per node.
import type { HealthTransition, NodeRecord } from "../../nodes/node-model.ts";
import { TRANSITIONS_KEPT_PER_NODE, type NodeWrites } from "../hub-store.ts";
import { lockNodeId, type Db } from "./connection.ts";
import { nodeOf, transitionsByNode, type NodeRow, type TransitionRow } from "../rows/node-rows.ts";

export class PostgresNodeTable implements NodeWrites {
  constructor(private readonly db: Db) {}

  async get(nodeId: string): Promise<NodeRecord | undefined> {
    const [row] = await this.db<NodeRow[]>`SELECT * FROM nodes WHERE node_id = ${nodeId}`;
    return row && nodeOf(row);
  }

  async all(): Promise<NodeRecord[]> {
    return (await this.db<NodeRow[]>`SELECT * FROM nodes ORDER BY node_id COLLATE "C"`).map(nodeOf);
  }

  async existing(nodeIds: readonly string[]): Promise<Set<string>> {
    if (nodeIds.length === 0) return new Set();
    const rows = await this.db<{ node_id: string }[]>`SELECT node_id FROM nodes WHERE node_id = ANY(${[...nodeIds]}::text[])`;
    return new Set(rows.map((row) => row.node_id));
  }

  async latestTransitions(limit: number): Promise<Map<string, HealthTransition[]>> {
    const rows = await this.db<TransitionRow[]>`
      SELECT node_id, from_state, to_state, at, cause FROM
        (SELECT *, row_number() OVER (PARTITION BY node_id ORDER BY id DESC) AS newness FROM health_transitions) ranked
      WHERE newness <= ${limit} ORDER BY node_id COLLATE "C", id DESC`;
    return transitionsByNode(rows);
  }

  async save(node: NodeRecord): Promise<void> {
    // A registration and a re-registration of one id from two hubs: the row lock ON CONFLICT takes serialises them.
    await this.db`
      INSERT INTO nodes (node_id, registration_id, public_key, capabilities, arch, version, endpoint, password_hash,
                         registered_at, credentials_at, proof_ts, health, health_since, health_cause, live)
      VALUES (${node.nodeId}, ${node.registrationId}, ${node.publicKey}, ${JSON.stringify(node.capabilities)}, ${node.arch},
              ${node.version}, ${node.endpoint}, ${node.passwordHash}, ${node.registeredAt}, ${node.credentialsAt}, ${node.proofTs},
              ${node.health}, ${node.healthSince}, ${node.healthCause}, ${JSON.stringify(node.live)})
      ON CONFLICT (node_id) DO UPDATE SET
        capabilities = excluded.capabilities, arch = excluded.arch, version = excluded.version,
        endpoint = excluded.endpoint, password_hash = excluded.password_hash, credentials_at = excluded.credentials_at,
        proof_ts = excluded.proof_ts`;
  }

  async saveLive(nodes: readonly NodeRecord[]): Promise<void> {
    if (nodes.length === 0) return;
    const column = <T>(pick: (node: NodeRecord) => T) => nodes.map(pick);
    await this.db`
      UPDATE nodes SET health = live_view.health, health_since = live_view.health_since, health_cause = live_view.health_cause,
        live = live_view.live, version = live_view.version, arch = live_view.arch, capabilities = live_view.capabilities
      FROM unnest(${column((n) => n.nodeId)}::text[], ${column((n) => n.health)}::text[], ${column((n) => String(n.healthSince))}::bigint[],
                  ${column((n) => n.healthCause)}::text[], ${column((n) => JSON.stringify(n.live))}::text[], ${column((n) => n.version)}::text[],
                  ${column((n) => n.arch)}::text[], ${column((n) => JSON.stringify(n.capabilities))}::text[])
        AS live_view(node_id, health, health_since, health_cause, live, version, arch, capabilities)
      WHERE nodes.node_id = live_view.node_id`;
  }

  async addTransitions(transitions: readonly { nodeId: string; transition: HealthTransition }[]): Promise<void> {
    if (transitions.length === 0) return;
    const column = <T>(pick: (t: { nodeId: string; transition: HealthTransition }) => T) => transitions.map(pick);
    // Only for a registered node: a transition queued before the node's removal committed must not outlive it.
    await this.db`
      INSERT INTO health_transitions (node_id, from_state, to_state, at, cause)
      SELECT node_id, from_state, to_state, at, cause
      FROM unnest(${column((t) => t.nodeId)}::text[], ${column((t) => t.transition.from)}::text[], ${column((t) => t.transition.to)}::text[],
                  ${column((t) => String(t.transition.at))}::bigint[], ${column((t) => t.transition.cause)}::text[])
        WITH ORDINALITY AS added(node_id, from_state, to_state, at, cause, position)
      WHERE EXISTS (SELECT 1 FROM nodes WHERE nodes.node_id = added.node_id)
      ORDER BY position`;
    await this.db`
      DELETE FROM health_transitions WHERE id IN (
        SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY node_id ORDER BY id DESC) AS newness
                        FROM health_transitions WHERE node_id = ANY(${[...new Set(column((t) => t.nodeId))]}::text[])) ranked
        WHERE newness > ${TRANSITIONS_KEPT_PER_NODE})`;
  }

  async delete(nodeId: string): Promise<boolean> {
    await lockNodeId(this.db, nodeId); // a removal waits for a registration of the id in flight on any hub, and it for the removal
    await this.db`DELETE FROM health_transitions WHERE node_id = ${nodeId}`;
    await this.db`DELETE FROM node_reports WHERE node_id = ${nodeId}`;
    await this.db`DELETE FROM federation_events WHERE node_id = ${nodeId}`;
    await this.db`DELETE FROM federation_event_counts WHERE node_id = ${nodeId}`;
    await this.db`DELETE FROM node_metric_buckets WHERE node_id = ${nodeId}`;
    const deleted = await this.db`DELETE FROM nodes WHERE node_id = ${nodeId}`;
    return deleted.count > 0;
  }
}
