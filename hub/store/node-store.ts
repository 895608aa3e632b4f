// Node rows of the registry. Registration writes go through group commit;
// live state is written in batches by the fleet view (fleet.ts).
import type { SqliteDatabase } from "../../lib/sqlite.ts";
import { emptyLive, type HealthTransition, type NodeRecord } from "../nodes/node-model.ts";

interface NodeRow {
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

function fromRow(row: NodeRow): NodeRecord {
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

export class NodeStore {
  private readonly selectOne;
  private readonly upsert;
  private readonly updateLive;
  private readonly insertTransition;
  private readonly selectTransitions;
  private readonly deleteOne;

  constructor(private readonly db: SqliteDatabase) {
    this.selectOne = db.prepare("SELECT * FROM nodes WHERE node_id = ?");
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
      "UPDATE nodes SET health = ?, health_since = ?, health_cause = ?, live = ?, version = ?, arch = ?, capabilities = ? WHERE node_id = ?",
    );
    this.insertTransition = db.prepare(
      "INSERT INTO health_transitions (node_id, from_state, to_state, at, cause) VALUES (?, ?, ?, ?, ?)",
    );
    this.selectTransitions = db.prepare(
      "SELECT from_state, to_state, at, cause FROM health_transitions WHERE node_id = ? ORDER BY id DESC LIMIT ?",
    );
    this.deleteOne = db.prepare("DELETE FROM nodes WHERE node_id = ?");
  }

  get(nodeId: string): NodeRecord | undefined {
    const row = this.selectOne.get<NodeRow>(nodeId);
    return row && fromRow(row);
  }

  all(): NodeRecord[] {
    return this.db.prepare("SELECT * FROM nodes ORDER BY node_id").all<NodeRow>().map(fromRow);
  }

  /** Inserts a node, or on re-registration updates what it reported and its password. */
  save(node: NodeRecord): void {
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

  saveLive(node: NodeRecord): void {
    this.updateLive.run(
      node.health,
      node.healthSince,
      node.healthCause,
      JSON.stringify(node.live),
      node.version,
      node.arch,
      JSON.stringify(node.capabilities),
      node.nodeId,
    );
  }

  addTransition(nodeId: string, transition: HealthTransition): void {
    this.insertTransition.run(nodeId, transition.from, transition.to, transition.at, transition.cause);
  }

  /** The latest transitions, newest first. */
  transitions(nodeId: string, limit: number): HealthTransition[] {
    return this.selectTransitions
      .all<{ from_state: string | null; to_state: string; at: number; cause: string }>(nodeId, limit)
      .map((r) => ({ from: r.from_state as HealthTransition["from"], to: r.to_state as HealthTransition["to"], at: r.at, cause: r.cause }));
  }

  delete(nodeId: string): boolean {
    return this.deleteOne.run(nodeId).changes > 0;
  }
}
