// Node rows and their health transitions in PostgreSQL (NodeWrites in
// ../hub-store.ts says what each method promises; the SQLite twin is
// ../sqlite/node-table.ts). Batches go in one statement each (unnest), so a
// fleet flush is a few round trips, not one per node.
import type { HealthTransition, NodeRecord } from "../../nodes/node-model.ts";
import { TRANSITIONS_KEPT_PER_NODE, type NodeRecency, type NodeSequence, type NodeWrites } from "../hub-store.ts";
import { lockNodeId, type Db } from "./connection.ts";
import { heardAtOf } from "../../nodes/health.ts";
import { nodeOf, recencyOf, transitionsByNode, type NodeRow, type RecencyRow, type TransitionRow } from "../rows/node-rows.ts";

/** heard_at as the bigint array takes it (null stays null). */
function heardAtText(node: NodeRecord): string | null {
  const heardAt = heardAtOf(node.live);
  return heardAt === null ? null : String(heardAt);
}

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

  async recency(): Promise<NodeRecency[]> {
    const rows = await this.db<RecencyRow[]>`SELECT node_id, health, health_since, health_cause, heard_at FROM nodes`;
    return rows.map(recencyOf);
  }

  async lockForMerge(nodeIds: readonly string[]): Promise<NodeRecord[]> {
    if (nodeIds.length === 0) return [];
    const rows = await this.db<NodeRow[]>`
      SELECT * FROM nodes WHERE node_id = ANY(${[...nodeIds]}::text[]) ORDER BY node_id COLLATE "C" FOR UPDATE`;
    return rows.map(nodeOf);
  }

  async recordSequences(entries: readonly NodeSequence[]): Promise<NodeSequence[]> {
    if (entries.length === 0) return [];
    const column = <T>(pick: (entry: NodeSequence) => T) => entries.map(pick);
    // One statement sees the table as it was before it: a seq twice in the batch goes in once (DO NOTHING), and the first is returned.
    const rows = await this.db<{ node_id: string; kind: NodeSequence["kind"]; seq: number; at: number }[]>`
      INSERT INTO node_sequences (node_id, kind, seq, at)
      SELECT heard.node_id, heard.kind, heard.seq, heard.at
      FROM unnest(${column((e) => e.nodeId)}::text[], ${column((e) => e.kind)}::text[], ${column((e) => String(e.seq))}::bigint[],
                  ${column((e) => String(e.at))}::bigint[]) WITH ORDINALITY AS heard(node_id, kind, seq, at, position)
      WHERE EXISTS (SELECT 1 FROM nodes WHERE nodes.node_id = heard.node_id)
        AND heard.seq > COALESCE((SELECT floor_seq FROM node_sequence_floors f WHERE f.node_id = heard.node_id AND f.kind = heard.kind), 0)
      ORDER BY position
      ON CONFLICT DO NOTHING
      RETURNING node_id, kind, seq, at`;
    const recorded = new Set(rows.map((row) => `${row.kind} ${row.node_id} ${row.seq}`));
    return entries.filter((entry) => recorded.delete(`${entry.kind} ${entry.nodeId} ${entry.seq}`));
  }

  async pruneSequences(before: number): Promise<number> {
    const [row] = await this.db<{ pruned: number }[]>`
      WITH pruned AS (DELETE FROM node_sequences WHERE at < ${before} RETURNING node_id, kind, seq),
      raised AS (
        INSERT INTO node_sequence_floors (node_id, kind, floor_seq)
        SELECT node_id, kind, max(seq) FROM pruned GROUP BY node_id, kind
        ON CONFLICT (node_id, kind) DO UPDATE SET floor_seq = GREATEST(node_sequence_floors.floor_seq, excluded.floor_seq))
      SELECT count(*)::int AS pruned FROM pruned`;
    return row?.pruned ?? 0;
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
        live = live_view.live, version = live_view.version, arch = live_view.arch, capabilities = live_view.capabilities,
        heard_at = live_view.heard_at
      FROM unnest(${column((n) => n.nodeId)}::text[], ${column((n) => n.health)}::text[], ${column((n) => String(n.healthSince))}::bigint[],
                  ${column((n) => n.healthCause)}::text[], ${column((n) => JSON.stringify(n.live))}::text[], ${column((n) => n.version)}::text[],
                  ${column((n) => n.arch)}::text[], ${column((n) => JSON.stringify(n.capabilities))}::text[],
                  ${column((n) => heardAtText(n))}::bigint[])
        AS live_view(node_id, health, health_since, health_cause, live, version, arch, capabilities, heard_at)
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
    await this.db`DELETE FROM node_sequences WHERE node_id = ${nodeId}`;
    await this.db`DELETE FROM node_sequence_floors WHERE node_id = ${nodeId}`;
    const deleted = await this.db`DELETE FROM nodes WHERE node_id = ${nodeId}`;
    return deleted.count > 0;
  }
}
