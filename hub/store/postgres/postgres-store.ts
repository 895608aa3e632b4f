// The PostgreSQL backend of the hub's registry (EDGEFED_DATABASE_URL=
// postgres://...): a connection pool, the numbered migrations run at open
// under an advisory lock (schema.ts), and write() as one transaction of its
// own (BEGIN ... COMMIT, ROLLBACK when its work throws); reads run on the
// pool outside any transaction.
//
// The tables come one file each. Until every part of HubStore has one,
// openPostgresStore refuses to open (naming what is missing) rather than
// run a hub that fails halfway; tests open the parts that exist with
// openPostgresStoreParts.
import type { Sql } from "postgres";
import { DEFAULT_STORE_BOUNDS, type HubStore, type StoreBounds, type StoreTransaction } from "../hub-store.ts";
import { PostgresAlertTable } from "./alert-table.ts";
import { connectPostgres, type Db } from "./connection.ts";
import { PostgresDecisionTable } from "./decision-table.ts";
import { PostgresFederationEventTable } from "./federation-event-table.ts";
import { PostgresFederationRoleTable } from "./federation-role-table.ts";
import { PostgresHubValueTable } from "./hub-value-table.ts";
import { PostgresMetricBucketTable } from "./metric-bucket-table.ts";
import { PostgresNodeTable } from "./node-table.ts";
import { PostgresReportTable } from "./report-table.ts";
import { migratePostgres } from "./schema.ts";
import { PostgresSessionTable } from "./session-table.ts";
import { PostgresTokenTable } from "./token-table.ts";
import { PostgresTombstoneTable } from "./tombstone-table.ts";

type Part = keyof StoreTransaction;
type TableFactories = { [P in Part]?: (db: Db, bounds: StoreBounds) => StoreTransaction[P] };

/** The parts of HubStore the PostgreSQL backend has. */
const TABLES: TableFactories = {
  nodes: (db) => new PostgresNodeTable(db),
  tokens: (db) => new PostgresTokenTable(db),
  tombstones: (db) => new PostgresTombstoneTable(db),
  decisions: (db) => new PostgresDecisionTable(db),
  reports: (db) => new PostgresReportTable(db),
  federationEvents: (db, bounds) => new PostgresFederationEventTable(db, bounds),
  alerts: (db, bounds) => new PostgresAlertTable(db, bounds),
  federationRoles: (db, bounds) => new PostgresFederationRoleTable(db, bounds),
  hubValues: (db) => new PostgresHubValueTable(db),
  sessions: (db) => new PostgresSessionTable(db),
  metricBuckets: (db) => new PostgresMetricBucketTable(db),
};

const ALL_PARTS: readonly Part[] = [
  "nodes",
  "tokens",
  "tombstones",
  "decisions",
  "reports",
  "federationEvents",
  "alerts",
  "federationRoles",
  "work",
  "hubValues",
  "sessions",
  "metricBuckets",
];

/** The parts of HubStore the PostgreSQL backend does not have yet. */
export function missingPostgresParts(): Part[] {
  return ALL_PARTS.filter((part) => !TABLES[part]);
}

/** A part not built yet: any use throws, naming it. */
function missingPart(part: Part): never {
  return new Proxy({}, {
    get: (_target, method) => () => Promise.reject(new Error(`the PostgreSQL registry has no ${part} yet (${String(method)})`)),
  }) as never;
}

function tablesOn(db: Db, bounds: StoreBounds): StoreTransaction {
  const tables = {} as Record<Part, unknown>;
  for (const part of ALL_PARTS) tables[part] = TABLES[part]?.(db, bounds as never) ?? missingPart(part);
  return tables as StoreTransaction;
}

/** Opens the hub's registry in PostgreSQL; refuses while a part of HubStore is missing. */
export async function openPostgresStore(url: string, bounds: StoreBounds = DEFAULT_STORE_BOUNDS): Promise<HubStore> {
  const missing = missingPostgresParts();
  if (missing.length > 0) {
    throw new Error(`the PostgreSQL registry is not complete yet (missing: ${missing.join(", ")}); unset EDGEFED_DATABASE_URL to use SQLite`);
  }
  return openPostgresStoreParts(url, bounds);
}

/** Opens what the PostgreSQL backend has, whether or not it is complete (tests of the parts that exist). */
export async function openPostgresStoreParts(url: string, bounds: StoreBounds = DEFAULT_STORE_BOUNDS): Promise<HubStore> {
  const sql = connectPostgres(url);
  try {
    await migratePostgres(sql);
  } catch (error) {
    await sql.end({ timeout: 5 });
    throw error;
  }
  return postgresStore(sql, bounds);
}

function postgresStore(sql: Sql, bounds: StoreBounds): HubStore {
  const reads = tablesOn(sql, bounds);
  /** Writes begun and not yet settled: close() lets them commit first. */
  const inFlight = new Set<Promise<unknown>>();
  return {
    ...reads,
    write<T>(work: (tx: StoreTransaction) => Promise<T>): Promise<T> {
      const done = sql.begin((tx) => work(tablesOn(tx as unknown as Db, bounds))) as Promise<T>;
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
