// Tombstones of removed nodes in SQLite (TombstoneWrites in ../hub-store.ts
// says what each method promises). DELETE /federation/nodes/:id leaves one
// in the transaction that forgets the node; the registration that follows a
// readmission deletes it.
import type { SqliteDatabase } from "../../../lib/sqlite.ts";
import type { Tombstone, TombstoneWrites } from "../hub-store.ts";
import { tombstoneOf, type TombstoneRow } from "../rows/tombstone-rows.ts";

/** Each method does its work when called: SQLite answers at once, the promise only carries the result. */
export class SqliteTombstoneTable implements TombstoneWrites {
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

  async get(nodeId: string): Promise<Tombstone | undefined> {
    const row = this.selectOne.get<TombstoneRow>(nodeId);
    return row && tombstoneOf(row);
  }

  async standing(nodeId: string): Promise<Tombstone | undefined> {
    const tombstone = await this.get(nodeId);
    return tombstone && tombstone.readmittedAt === null ? tombstone : undefined;
  }

  async count(): Promise<number> {
    return this.countStanding.get<{ n: number }>()?.n ?? 0;
  }

  async put(tombstone: Tombstone): Promise<void> {
    this.upsert.run(tombstone.nodeId, tombstone.removedAt, tombstone.publicKey, tombstone.readmittedAt);
  }

  async readmit(nodeId: string, at: number): Promise<boolean> {
    return this.markReadmitted.run(at, nodeId).changes > 0;
  }

  async delete(nodeId: string): Promise<boolean> {
    return this.deleteOne.run(nodeId).changes > 0;
  }
}
