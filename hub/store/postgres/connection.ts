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
