// The SQLite backend of the hub's registry: one file in the data dir,
// synchronous=FULL, and group commit, so an acknowledged registration
// survives a power cut. openSqliteStore() is the HubStore the hub runs on;
// openSqliteRegistry() hands out the tables themselves, for tests that write
// into a registry file synchronously beside a running hub (as `edgefed-hub
// token create` does through the store, from another process).
import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { openDatabase, type SqliteDatabase } from "../../../lib/sqlite.ts";
import { DEFAULT_STORE_BOUNDS, type HubStore, type StoreBounds, type StoreTransaction } from "../hub-store.ts";
import { SqliteAlertTable } from "./alert-table.ts";
import { SqliteAuditTable } from "./audit-table.ts";
import { SqliteDecisionTable } from "./decision-table.ts";
import { SqliteFederationEventTable } from "./federation-event-table.ts";
import { SqliteFederationRoleTable } from "./federation-role-table.ts";
import { GroupCommit } from "./group-commit.ts";
import { SqliteHubValueTable } from "./hub-value-table.ts";
import { SqliteMetricBucketTable } from "./metric-bucket-table.ts";
import { SqliteNodeTable } from "./node-table.ts";
import { SqliteOperatorTable } from "./operator-table.ts";
import { SqliteReportTable } from "./report-table.ts";
import { migrateRegistry } from "./schema.ts";
import { SqliteSessionTable } from "./session-table.ts";
import { SqliteTokenTable } from "./token-table.ts";
import { SqliteTombstoneTable } from "./tombstone-table.ts";
import { SqliteWorkTable } from "./work-table.ts";

export const REGISTRY_FILE = "registry.sqlite";

/** The registry's tables on one connection. Their methods run at once (SQLite is synchronous) and write outside any group transaction. */
export interface SqliteRegistry extends StoreTransaction {
  db: SqliteDatabase;
  close(): void;
}

export function openSqliteRegistry(dataDir: string, bounds: StoreBounds = DEFAULT_STORE_BOUNDS): SqliteRegistry {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700); // holds the hub's private key
  const db = openDatabase(join(dataDir, REGISTRY_FILE));
  migrateRegistry(db);
  return {
    db,
    nodes: new SqliteNodeTable(db),
    tokens: new SqliteTokenTable(db),
    tombstones: new SqliteTombstoneTable(db),
    decisions: new SqliteDecisionTable(db),
    reports: new SqliteReportTable(db),
    federationEvents: new SqliteFederationEventTable(db, bounds),
    alerts: new SqliteAlertTable(db, bounds),
    federationRoles: new SqliteFederationRoleTable(db, bounds),
    work: new SqliteWorkTable(db),
    hubValues: new SqliteHubValueTable(db),
    sessions: new SqliteSessionTable(db),
    metricBuckets: new SqliteMetricBucketTable(db),
    operators: new SqliteOperatorTable(db),
    audit: new SqliteAuditTable(db),
    notify: async () => {}, // one hub owns the file: nobody to tell
    close: () => db.close(),
  };
}

export function openSqliteStore(dataDir: string, bounds: StoreBounds = DEFAULT_STORE_BOUNDS): HubStore {
  const registry = openSqliteRegistry(dataDir, bounds);
  const group = new GroupCommit(registry.db);
  const ping = registry.db.prepare("SELECT 1");
  // One connection: inside a group transaction the same tables are the transaction's.
  const tx: StoreTransaction = registry;
  return {
    nodes: registry.nodes,
    tokens: registry.tokens,
    tombstones: registry.tombstones,
    decisions: registry.decisions,
    reports: registry.reports,
    federationEvents: registry.federationEvents,
    alerts: registry.alerts,
    federationRoles: registry.federationRoles,
    work: registry.work,
    hubValues: registry.hubValues,
    sessions: registry.sessions,
    metricBuckets: registry.metricBuckets,
    operators: registry.operators,
    audit: registry.audit,
    shared: false,
    notifications: null,
    write: (work) => group.run(() => work(tx)),
    async healthy() {
      try {
        ping.get();
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      await group.run(() => undefined); // what was queued before commits first
      registry.close();
    },
  };
}
