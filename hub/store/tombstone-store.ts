// Tombstones of removed nodes: DELETE /federation/nodes/:id leaves one in the
// same transaction that forgets the node, and registration refuses an id whose
// tombstone stands, so a removed node cannot come straight back with its
// enrollment token. An operator's readmission marks it readmitted (the node
// may register again; with the key it had, without spending a token use), and
// the registration that follows deletes it. Writes go through group commit.
import type { SqliteDatabase } from "../../lib/sqlite.ts";

export interface Tombstone {
  nodeId: string;
  removedAt: number;
  /** The key the node was registered with when it was removed. */
  publicKey: string;
  /** null: the removal stands; else when an operator readmitted the id. */
  readmittedAt: number | null;
}

interface TombstoneRow {
  node_id: string;
  removed_at: number;
  public_key: string;
  readmitted_at: number | null;
}

export class TombstoneStore {
  private readonly selectOne;
  private readonly upsert;
  private readonly markReadmitted;
  private readonly deleteOne;
  private readonly countStanding;

  constructor(db: SqliteDatabase) {
    this.selectOne = db.prepare("SELECT node_id, removed_at, public_key, readmitted_at FROM removed_nodes WHERE node_id = ?");
    this.upsert = db.prepare(
      `INSERT INTO removed_nodes (node_id, removed_at, public_key, readmitted_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (node_id) DO UPDATE SET removed_at = excluded.removed_at, public_key = excluded.public_key, readmitted_at = excluded.readmitted_at`,
    );
    this.markReadmitted = db.prepare("UPDATE removed_nodes SET readmitted_at = ? WHERE node_id = ? AND readmitted_at IS NULL");
    this.deleteOne = db.prepare("DELETE FROM removed_nodes WHERE node_id = ?");
    this.countStanding = db.prepare("SELECT count(*) AS n FROM removed_nodes WHERE readmitted_at IS NULL");
  }

  get(nodeId: string): Tombstone | undefined {
    const row = this.selectOne.get<TombstoneRow>(nodeId);
    return row && { nodeId: row.node_id, removedAt: row.removed_at, publicKey: row.public_key, readmittedAt: row.readmitted_at };
  }

  /** Whether the id is removed and not readmitted: its registration is refused. */
  standing(nodeId: string): Tombstone | undefined {
    const tombstone = this.get(nodeId);
    return tombstone && tombstone.readmittedAt === null ? tombstone : undefined;
  }

  /** Records (or renews, or puts back) a tombstone. */
  put(tombstone: Tombstone): void {
    this.upsert.run(tombstone.nodeId, tombstone.removedAt, tombstone.publicKey, tombstone.readmittedAt);
  }

  /** Lifts a standing removal: false if the id has none. */
  readmit(nodeId: string, at: number): boolean {
    return this.markReadmitted.run(at, nodeId).changes > 0;
  }

  /** Forgets the tombstone (the readmitted node registered): false if there was none. */
  delete(nodeId: string): boolean {
    return this.deleteOne.run(nodeId).changes > 0;
  }

  /** Removals that stand (not readmitted). */
  count(): number {
    return this.countStanding.get<{ n: number }>()?.n ?? 0;
  }
}
