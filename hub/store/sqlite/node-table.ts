// Node rows and their health transitions in SQLite (and, on deletion, their reports: report-table.ts) (NodeWrites in
// ../hub-store.ts says what each method promises). Registration writes them
// at once; the fleet view (hub/nodes/fleet.ts) writes live state in batches.
import type { SqliteDatabase } from "../../../lib/sqlite.ts";
import type { HealthTransition, NodeRecord } from "../../nodes/node-model.ts";
import { heardAtOf } from "../../nodes/health.ts";
import { TRANSITIONS_KEPT_PER_NODE, type NodeRecency, type NodeSequence, type NodeWrites } from "../hub-store.ts";
import { nodeOf, recencyOf, transitionsByNode, type NodeRow, type RecencyRow, type TransitionRow } from "../rows/node-rows.ts";

/** Each method does its work when called: SQLite answers at once, the promise only carries the result. */
export class SqliteNodeTable implements NodeWrites {
  private readonly selectOne;
  private readonly selectExists;
  private readonly upsert;
  private readonly updateLive;
  private readonly insertTransition;
  private readonly trimTransitions;
  private readonly deleteTransitions;
  private readonly deleteReports;
  private readonly deleteFederationEvents;
  private readonly deleteFederationEventCount;
  private readonly deleteOne;
  private readonly deleteMetricBuckets;
  private readonly insertSequence;
  private readonly deleteSequences;
  private readonly deleteSequenceFloors;

  constructor(private readonly db: SqliteDatabase) {
    this.selectOne = db.prepare("SELECT * FROM nodes WHERE node_id = ?");
    this.selectExists = db.prepare("SELECT 1 FROM nodes WHERE node_id = ?");
    this.upsert = db.prepare(`
      INSERT INTO nodes (node_id, registration_id, public_key, capabilities, arch, version, endpoint, password_hash,
                         registered_at, credentials_at, proof_ts, health, health_since, health_cause, live)
      VALUES ($nodeId, $registrationId, $publicKey, $capabilities, $arch, $version, $endpoint, $passwordHash,
              $registeredAt, $credentialsAt, $proofTs, $health, $healthSince, $healthCause, $live)
      ON CONFLICT (node_id) DO UPDATE SET
        capabilities = excluded.capabilities, arch = excluded.arch, version = excluded.version,
        endpoint = excluded.endpoint, password_hash = excluded.password_hash, credentials_at = excluded.credentials_at,
        proof_ts = excluded.proof_ts`);
    // Live state, plus what birth messages update (version, arch, capabilities).
    this.updateLive = db.prepare(
      "UPDATE nodes SET health = ?, health_since = ?, health_cause = ?, live = ?, version = ?, arch = ?, capabilities = ?, heard_at = ? WHERE node_id = ?",
    );
    // Only for a registered node: a transition queued before the node's removal committed must not outlive it.
    this.insertTransition = db.prepare(
      `INSERT INTO health_transitions (node_id, from_state, to_state, at, cause)
       SELECT $nodeId, $from, $to, $at, $cause WHERE EXISTS (SELECT 1 FROM nodes WHERE node_id = $nodeId)`,
    );
    // Everything at or below the id of the first transition past the ones kept (none past them: NULL, nothing deleted).
    this.trimTransitions = db.prepare(
      `DELETE FROM health_transitions WHERE node_id = $nodeId AND id <=
         (SELECT id FROM health_transitions WHERE node_id = $nodeId ORDER BY id DESC LIMIT 1 OFFSET $kept)`,
    );
    this.deleteTransitions = db.prepare("DELETE FROM health_transitions WHERE node_id = ?");
    this.deleteReports = db.prepare("DELETE FROM node_reports WHERE node_id = ?");
    this.deleteFederationEvents = db.prepare("DELETE FROM federation_events WHERE node_id = ?");
    this.deleteFederationEventCount = db.prepare("DELETE FROM federation_event_counts WHERE node_id = ?");
    this.deleteOne = db.prepare("DELETE FROM nodes WHERE node_id = ?");
    this.deleteMetricBuckets = db.prepare("DELETE FROM node_metric_buckets WHERE node_id = ?");
    this.insertSequence = db.prepare(
      `INSERT INTO node_sequences (node_id, kind, seq, at)
       SELECT $nodeId, $kind, $seq, $at WHERE EXISTS (SELECT 1 FROM nodes WHERE node_id = $nodeId)
         AND $seq > COALESCE((SELECT floor_seq FROM node_sequence_floors WHERE node_id = $nodeId AND kind = $kind), 0)
       ON CONFLICT DO NOTHING`,
    );
    this.deleteSequences = db.prepare("DELETE FROM node_sequences WHERE node_id = ?");
    this.deleteSequenceFloors = db.prepare("DELETE FROM node_sequence_floors WHERE node_id = ?");
  }

  async get(nodeId: string): Promise<NodeRecord | undefined> {
    const row = this.selectOne.get<NodeRow>(nodeId);
    return row && nodeOf(row);
  }

  async all(): Promise<NodeRecord[]> {
    return this.db.prepare("SELECT * FROM nodes ORDER BY node_id").all<NodeRow>().map(nodeOf);
  }

  async existing(nodeIds: readonly string[]): Promise<Set<string>> {
    return new Set(nodeIds.filter((nodeId) => this.selectExists.get(nodeId) !== undefined));
  }

  async latestTransitions(limit: number): Promise<Map<string, HealthTransition[]>> {
    const rows = this.db
      .prepare(
        `SELECT node_id, from_state, to_state, at, cause FROM
           (SELECT *, row_number() OVER (PARTITION BY node_id ORDER BY id DESC) AS newness FROM health_transitions)
         WHERE newness <= ? ORDER BY node_id, id DESC`,
      )
      .all<TransitionRow>(limit);
    return transitionsByNode(rows);
  }

  async recency(): Promise<NodeRecency[]> {
    return this.db.prepare("SELECT node_id, health, health_since, health_cause, heard_at FROM nodes").all<RecencyRow>().map(recencyOf);
  }

  /** One writer owns the file: there is nothing to lock against, only the rows to read. */
  async lockForMerge(nodeIds: readonly string[]): Promise<NodeRecord[]> {
    return [...new Set(nodeIds)].sort().flatMap((nodeId) => {
      const row = this.selectOne.get<NodeRow>(nodeId);
      return row ? [nodeOf(row)] : [];
    });
  }

  async recordSequences(entries: readonly NodeSequence[]): Promise<NodeSequence[]> {
    return entries.filter((entry) => this.insertSequence.run({ nodeId: entry.nodeId, kind: entry.kind, seq: entry.seq, at: entry.at }).changes > 0);
  }

  async pruneSequences(before: number): Promise<number> {
    this.db
      .prepare(
        `INSERT INTO node_sequence_floors (node_id, kind, floor_seq)
         SELECT node_id, kind, max(seq) FROM node_sequences WHERE at < ? GROUP BY node_id, kind
         ON CONFLICT (node_id, kind) DO UPDATE SET floor_seq = max(floor_seq, excluded.floor_seq)`,
      )
      .run(before);
    return this.db.prepare("DELETE FROM node_sequences WHERE at < ?").run(before).changes;
  }

  async save(node: NodeRecord): Promise<void> {
    this.upsert.run({
      nodeId: node.nodeId,
      registrationId: node.registrationId,
      publicKey: node.publicKey,
      capabilities: JSON.stringify(node.capabilities),
      arch: node.arch,
      version: node.version,
      endpoint: node.endpoint,
      passwordHash: node.passwordHash,
      registeredAt: node.registeredAt,
      credentialsAt: node.credentialsAt,
      proofTs: node.proofTs,
      health: node.health,
      healthSince: node.healthSince,
      healthCause: node.healthCause,
      live: JSON.stringify(node.live),
    });
  }

  async saveLive(nodes: readonly NodeRecord[]): Promise<void> {
    for (const node of nodes) {
      this.updateLive.run(
        node.health,
        node.healthSince,
        node.healthCause,
        JSON.stringify(node.live),
        node.version,
        node.arch,
        JSON.stringify(node.capabilities),
        heardAtOf(node.live),
        node.nodeId,
      );
    }
  }

  async addTransitions(transitions: readonly { nodeId: string; transition: HealthTransition }[]): Promise<void> {
    for (const { nodeId, transition: t } of transitions) {
      this.insertTransition.run({ nodeId, from: t.from, to: t.to, at: t.at, cause: t.cause });
    }
    for (const nodeId of new Set(transitions.map((t) => t.nodeId))) this.trimTransitions.run({ nodeId, kept: TRANSITIONS_KEPT_PER_NODE });
  }

  async delete(nodeId: string): Promise<boolean> {
    this.deleteTransitions.run(nodeId);
    this.deleteReports.run(nodeId);
    this.deleteFederationEvents.run(nodeId);
    this.deleteFederationEventCount.run(nodeId);
    this.deleteMetricBuckets.run(nodeId);
    this.deleteSequences.run(nodeId);
    this.deleteSequenceFloors.run(nodeId);
    return this.deleteOne.run(nodeId).changes > 0;
  }
}
