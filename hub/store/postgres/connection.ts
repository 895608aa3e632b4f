// Connecting to the PostgreSQL registry with porsager's `postgres` client
// (runs under Bun and Node alike, no dependencies). BIGINT columns hold ms
// timestamps and counts, all far below 2^53, so they are read as numbers.
import postgres, { type Sql } from "postgres";

/** A connection pool, or one transaction of it: the tables run on either. */
export type Db = Sql;

export function connectPostgres(url: string): Sql {
  return postgres(url, {
    max: 10,
    onnotice: () => {}, // CREATE ... IF NOT EXISTS notices are not news
    types: {
      bigint: { to: 20, from: [20], serialize: (value: number) => String(value), parse: (value: string) => Number(value) },
    },
  });
}

/**
 * Holds the node id's lock until the transaction ends: a registration and a
 * removal of one node id, from any hub, take turns (the issue's "registration
 * and removal of one node id stay serialised"). An advisory lock, not a row
 * lock, because a first registration has no row to lock yet.
 */
export async function lockNodeId(tx: Db, nodeId: string): Promise<void> {
  await tx`SELECT pg_advisory_xact_lock(hashtextextended(${`edgefed-node:${nodeId}`}, 0))`;
}
