// Tombstones of removed nodes in PostgreSQL (TombstoneWrites in
// ../hub-store.ts says what each method promises).
import type { Tombstone, TombstoneWrites } from "../hub-store.ts";
import { tombstoneOf, type TombstoneRow } from "../rows/tombstone-rows.ts";
import { lockNodeId, type Db } from "./connection.ts";

export class PostgresTombstoneTable implements TombstoneWrites {
  /** `inTransaction`: get() takes the node id's lock, as a registration's first read (hub/nodes/registration.ts). */
  constructor(
    private readonly db: Db,
    private readonly inTransaction = false,
  ) {}

  async get(nodeId: string): Promise<Tombstone | undefined> {
    if (this.inTransaction) await lockNodeId(this.db, nodeId);
    const [row] = await this.db<TombstoneRow[]>`SELECT node_id, removed_at, public_key, readmitted_at FROM removed_nodes WHERE node_id = ${nodeId}`;
    return row && tombstoneOf(row);
  }

  async standing(nodeId: string): Promise<Tombstone | undefined> {
    const tombstone = await this.get(nodeId);
    return tombstone && tombstone.readmittedAt === null ? tombstone : undefined;
  }

  async count(): Promise<number> {
    const [row] = await this.db<{ n: number }[]>`SELECT count(*) AS n FROM removed_nodes WHERE readmitted_at IS NULL`;
    return row?.n ?? 0;
  }

  async put(tombstone: Tombstone): Promise<void> {
    await this.db`
      INSERT INTO removed_nodes (node_id, removed_at, public_key, readmitted_at)
      VALUES (${tombstone.nodeId}, ${tombstone.removedAt}, ${tombstone.publicKey}, ${tombstone.readmittedAt})
      ON CONFLICT (node_id) DO UPDATE SET removed_at = excluded.removed_at, public_key = excluded.public_key, readmitted_at = excluded.readmitted_at`;
  }

  async readmit(nodeId: string, at: number): Promise<boolean> {
    return (await this.db`UPDATE removed_nodes SET readmitted_at = ${at} WHERE node_id = ${nodeId} AND readmitted_at IS NULL`).count > 0;
  }

  async delete(nodeId: string): Promise<boolean> {
    return (await this.db`DELETE FROM removed_nodes WHERE node_id = ${nodeId}`).count > 0;
  }
}
