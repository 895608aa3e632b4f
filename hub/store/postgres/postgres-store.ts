// The PostgreSQL backend of the hub's registry (EDGEFED_DATABASE_URL=
// postgres://...): a connection pool, the numbered migrations run at open
// under an advisory lock (schema.ts), and write() as one transaction of its
// own (BEGIN ... COMMIT, ROLLBACK when its work throws) on a connection of
// its own, so writes from one hub (or several) run side by side and the
// database orders what conflicts (row locks, conditional statements, advisory
// locks: each table file says which); reads run on the pool outside any
// transaction. The tables come one file each.
import type { Sql } from "postgres";
import { DEFAULT_STORE_BOUNDS, type HubStore, type StoreBounds, type StoreTransaction } from "../hub-store.ts";
import { PostgresAlertTable } from "./alert-table.ts";
import { PostgresAuditTable } from "./audit-table.ts";
import { connectPostgres, type Db } from "./connection.ts";
import { PostgresDecisionTable } from "./decision-table.ts";
import { PostgresFederationEventTable } from "./federation-event-table.ts";
import { PostgresFederationRoleTable } from "./federation-role-table.ts";
import { PostgresHubValueTable } from "./hub-value-table.ts";
import { PostgresMetricBucketTable } from "./metric-bucket-table.ts";
import { PostgresNodeTable } from "./node-table.ts";
import { PostgresOperatorTable } from "./operator-table.ts";
import { PostgresReportTable } from "./report-table.ts";
import { migratePostgres } from "./schema.ts";
import { PostgresSessionTable } from "./session-table.ts";
import { PostgresTokenTable } from "./token-table.ts";
import { PostgresTombstoneTable } from "./tombstone-table.ts";
import { PostgresWorkTable } from "./work-table.ts";

/** Opens the hub's registry in PostgreSQL, migrating it first. */
export async function openPostgresStore(url: string, bounds: StoreBounds = DEFAULT_STORE_BOUNDS): Promise<HubStore> {
  const sql = connectPostgres(url);
  let schema: string;
  try {
    await migratePostgres(sql);
    // Names the registry on the server (change-feed channels): tests keep one registry a schema.
    const [row] = await sql<{ schema: string }[]>`SELECT current_schema() AS schema`;
    schema = row!.schema;
  } catch (error) {
    await sql.end({ timeout: 5 });
    // The client's words name the host and port, never the URL's password.
    throw new Error(`the PostgreSQL registry (EDGEFED_DATABASE_URL) did not open: ${(error as Error).message}`, { cause: error });
  }
  return postgresStore(sql, bounds, schema);
}

/** The registry's tables on the pool, or on one transaction (`inTransaction`). */
function tablesOn(db: Db, bounds: StoreBounds, inTransaction = false): StoreTransaction {
  return {
    nodes: new PostgresNodeTable(db),
    tokens: new PostgresTokenTable(db),
    tombstones: new PostgresTombstoneTable(db, inTransaction),
    decisions: new PostgresDecisionTable(db),
    reports: new PostgresReportTable(db),
    federationEvents: new PostgresFederationEventTable(db, bounds),
    alerts: new PostgresAlertTable(db, bounds),
    federationRoles: new PostgresFederationRoleTable(db, bounds),
    work: new PostgresWorkTable(db),
    hubValues: new PostgresHubValueTable(db),
    sessions: new PostgresSessionTable(db),
    metricBuckets: new PostgresMetricBucketTable(db),
    operators: new PostgresOperatorTable(db),
    audit: new PostgresAuditTable(db, inTransaction),
    // pg_notify in a transaction is sent when it commits, and dropped if it rolls back.
    notify: async (channel, payload) => void (await db`SELECT pg_notify(${channel}, ${payload})`),
  };
}

function postgresStore(sql: Sql, bounds: StoreBounds, schema: string): HubStore {
  const reads = tablesOn(sql, bounds);
  /** Writes begun and not yet settled: close() lets them commit first. */
  const inFlight = new Set<Promise<unknown>>();
  return {
    ...reads,
    shared: true,
    notifications: {
      registryName: schema,
      // The client keeps one connection for listening, reconnects it with backoff and runs onListen again.
      listen: (channel, onPayload, onListen) => sql.listen(channel, onPayload, onListen),
      notify: async (channel, payload) => void (await sql.notify(channel, payload)),
    },
    write<T>(work: (tx: StoreTransaction) => Promise<T>): Promise<T> {
      const done = sql.begin((tx) => work(tablesOn(tx as unknown as Db, bounds, true))) as Promise<T>;
      inFlight.add(done);
      void done.catch(() => {}).finally(() => inFlight.delete(done));
      return done;
    },
    async healthy() {
      try {
        await sql`SELECT 1`;
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      await Promise.allSettled([...inFlight]);
      await sql.end({ timeout: 5 });
    },
  };
}
