// What the federation roles did and where they stand, in SQLite
// (FederationRoleWrites in ../hub-store.ts says what each method promises):
// decision records and conflicts, the newest `federationRoleRecords` of
// each; one latch per rule and target; the modes set through the admin API.
import type { SqliteDatabase } from "../../../lib/sqlite.ts";
import type { ConflictRecord, KeptDecision, LatchChange } from "../../federation/records.ts";
import { DEFAULT_STORE_BOUNDS, FEDERATION_ROLE_RECORDS_KEPT, type FederationRoleWrites, type StoreBounds, type StoredLatch, type StoredRoleMode } from "../hub-store.ts";
import { latchOf, roleModeOf, type LatchRow, type RoleModeRow } from "../rows/federation-rows.ts";

/** Each method does its work when called: SQLite answers at once, the promise only carries the result. */
export class SqliteFederationRoleTable implements FederationRoleWrites {
  private readonly kept: number;
  private readonly insertDecision;
  private readonly insertConflict;
  private readonly selectDecisions;
  private readonly selectConflicts;
  private readonly settle;
  private readonly upsertLatch;
  private readonly deleteLatch;

  constructor(
    private readonly db: SqliteDatabase,
    bounds: StoreBounds = DEFAULT_STORE_BOUNDS,
  ) {
    this.kept = bounds.federationRoleRecords ?? FEDERATION_ROLE_RECORDS_KEPT;
    this.insertDecision = db.prepare("INSERT INTO federation_role_decisions (id, at, record) VALUES (?, ?, ?)");
    this.insertConflict = db.prepare("INSERT INTO federation_role_conflicts (at, record) VALUES (?, ?)");
    this.selectDecisions = db.prepare("SELECT record FROM federation_role_decisions WHERE at >= ? ORDER BY seq DESC LIMIT ?");
    this.selectConflicts = db.prepare("SELECT record FROM federation_role_conflicts WHERE at >= ? ORDER BY seq DESC LIMIT ?");
    this.settle = db.prepare("UPDATE federation_role_decisions SET record = json_set(record, ?, ?) WHERE id = ?");
    this.upsertLatch = db.prepare(
      "INSERT INTO federation_role_latches (rule, target, latch) VALUES (?, ?, ?) ON CONFLICT (rule, target) DO UPDATE SET latch = excluded.latch",
    );
    this.deleteLatch = db.prepare("DELETE FROM federation_role_latches WHERE rule = ? AND target = ?");
  }

  async addDecisions(records: readonly KeptDecision[]): Promise<void> {
    if (records.length === 0) return;
    for (const record of records) this.insertDecision.run(record.id, record.at, JSON.stringify(record));
    this.trim("federation_role_decisions");
  }

  async settleDecision(id: string, outcome: { decision_id: string } | { issue_error: string }): Promise<boolean> {
    const [key, value] = Object.entries(outcome)[0]!;
    return this.settle.run(`$.${key}`, value, id).changes === 1;
  }

  async addConflicts(records: readonly ConflictRecord[]): Promise<void> {
    if (records.length === 0) return;
    for (const record of records) this.insertConflict.run(record.at, JSON.stringify(record));
    this.trim("federation_role_conflicts");
  }

  async decisions(query: { limit: number; since?: number }): Promise<KeptDecision[]> {
    return this.selectDecisions.all<{ record: string }>(query.since ?? 0, query.limit).map((row) => JSON.parse(row.record) as KeptDecision);
  }

  async conflicts(query: { limit: number; since?: number }): Promise<ConflictRecord[]> {
    return this.selectConflicts.all<{ record: string }>(query.since ?? 0, query.limit).map((row) => JSON.parse(row.record) as ConflictRecord);
  }

  async moveLatches(changes: readonly LatchChange[]): Promise<void> {
    for (const { rule, target, latch } of changes) {
      if (latch === null) this.deleteLatch.run(rule, target);
      else this.upsertLatch.run(rule, target, JSON.stringify(latch));
    }
  }

  async latches(): Promise<StoredLatch[]> {
    return this.db
      .prepare("SELECT rule, target, latch FROM federation_role_latches ORDER BY rule, target")
      .all<LatchRow>()
      .map(latchOf);
  }

  async setMode(mode: StoredRoleMode): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO federation_role_modes (role, mode, file_mode, set_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (role) DO UPDATE SET mode = excluded.mode, file_mode = excluded.file_mode, set_at = excluded.set_at`,
      )
      .run(mode.role, mode.mode, mode.fileMode, mode.setAt);
  }

  async clearMode(role: string): Promise<boolean> {
    return this.db.prepare("DELETE FROM federation_role_modes WHERE role = ?").run(role).changes === 1;
  }

  async modes(): Promise<StoredRoleMode[]> {
    return this.db
      .prepare("SELECT role, mode, file_mode, set_at FROM federation_role_modes ORDER BY role")
      .all<RoleModeRow>()
      .map(roleModeOf);
  }

  /** Keeps the newest `kept` rows of a table (seq is dense enough: one delete below a bound, no walk). */
  private trim(table: "federation_role_decisions" | "federation_role_conflicts"): void {
    this.db.prepare(`DELETE FROM ${table} WHERE seq <= (SELECT seq FROM ${table} ORDER BY seq DESC LIMIT 1 OFFSET ?)`).run(this.kept);
  }
}
