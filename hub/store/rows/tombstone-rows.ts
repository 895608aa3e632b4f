// A removed node's tombstone row (removed_nodes: the same columns in SQLite
// and PostgreSQL) and the tombstone it holds, for both backends
// (hub/store/sqlite/tombstone-table.ts, hub/store/postgres/tombstone-table.ts).
import type { Tombstone } from "../hub-store.ts";

export interface TombstoneRow {
  node_id: string;
  removed_at: number;
  public_key: string;
  readmitted_at: number | null;
}

export function tombstoneOf(row: TombstoneRow): Tombstone {
  return { nodeId: row.node_id, removedAt: row.removed_at, publicKey: row.public_key, readmittedAt: row.readmitted_at };
}
