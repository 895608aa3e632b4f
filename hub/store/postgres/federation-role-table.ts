// What the federation roles did and where they stand, in PostgreSQL
// (FederationRoleWrites in ../hub-store.ts says what each method promises;
// the SQLite twin is ../sqlite/federation-role-table.ts).
import type { ConflictRecord, KeptDecision, LatchChange } from "../../federation/records.ts";
import { DEFAULT_STORE_BOUNDS, FEDERATION_ROLE_RECORDS_KEPT, type FederationRoleWrites, type StoreBounds, type StoredLatch, type StoredRoleMode } from "../hub-store.ts";
import { latchOf, roleModeOf, type LatchRow, type RoleModeRow } from "../rows/federation-rows.ts";
import type { Db } from "./connection.ts";

export class PostgresFederationRoleTable implements FederationRoleWrites {
  private readonly kept: number;

  constructor(
    private readonly db: Db,
    bounds: StoreBounds = DEFAULT_STORE_BOUNDS,
  ) {
    this.kept = bounds.federationRoleRecords ?? FEDERATION_ROLE_RECORDS_KEPT;
  }

  async addDecisions(records: readonly KeptDecision[]): Promise<void> {
    if (records.length === 0) return;
    await this.db`
      INSERT INTO federation_role_decisions (id, at, record)
      SELECT id, at, record FROM unnest(${records.map((r) => r.id)}::text[], ${records.map((r) => String(r.at))}::bigint[],
                                        ${records.map((r) => JSON.stringify(r))}::text[]) WITH ORDINALITY AS added(id, at, record, position)
      ORDER BY position`;
    await this.trim("federation_role_decisions");
  }

  async settleDecision(id: string, outcome: { decision_id: string } | { issue_error: string }): Promise<boolean> {
    const [key, value] = Object.entries(outcome)[0]!;
    const settled = await this.db`
      UPDATE federation_role_decisions SET record = (record::jsonb || jsonb_build_object(${key}::text, ${value}::text))::text WHERE id = ${id}`;
    return settled.count === 1;
  }

  async addConflicts(records: readonly ConflictRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.db`
      INSERT INTO federation_role_conflicts (at, record)
      SELECT at, record FROM unnest(${records.map((r) => String(r.at))}::bigint[], ${records.map((r) => JSON.stringify(r))}::text[])
        WITH ORDINALITY AS added(at, record, position)
      ORDER BY position`;
    await this.trim("federation_role_conflicts");
  }

  async decisions(query: { limit: number; since?: number }): Promise<KeptDecision[]> {
    const rows = await this.db<{ record: string }[]>`
      SELECT record FROM federation_role_decisions WHERE at >= ${query.since ?? 0} ORDER BY seq DESC LIMIT ${query.limit}`;
    return rows.map((row) => JSON.parse(row.record) as KeptDecision);
  }

  async conflicts(query: { limit: number; since?: number }): Promise<ConflictRecord[]> {
    const rows = await this.db<{ record: string }[]>`
      SELECT record FROM federation_role_conflicts WHERE at >= ${query.since ?? 0} ORDER BY seq DESC LIMIT ${query.limit}`;
    return rows.map((row) => JSON.parse(row.record) as ConflictRecord);
  }

  async moveLatches(changes: readonly LatchChange[]): Promise<void> {
    // In order: a later change of one rule and target wins, as in SQLite.
    for (const { rule, target, latch } of changes) {
      if (latch === null) await this.db`DELETE FROM federation_role_latches WHERE rule = ${rule} AND target = ${target}`;
      else {
        await this.db`
          INSERT INTO federation_role_latches (rule, target, latch) VALUES (${rule}, ${target}, ${JSON.stringify(latch)})
          ON CONFLICT (rule, target) DO UPDATE SET latch = excluded.latch`;
      }
    }
  }

  async latches(): Promise<StoredLatch[]> {
    const rows = await this.db<LatchRow[]>`
      SELECT rule, target, latch FROM federation_role_latches ORDER BY rule COLLATE "C", target COLLATE "C"`;
    return rows.map(latchOf);
  }

  async setMode(mode: StoredRoleMode): Promise<void> {
    await this.db`
      INSERT INTO federation_role_modes (role, mode, file_mode, set_at) VALUES (${mode.role}, ${mode.mode}, ${mode.fileMode}, ${mode.setAt})
      ON CONFLICT (role) DO UPDATE SET mode = excluded.mode, file_mode = excluded.file_mode, set_at = excluded.set_at`;
  }

  async clearMode(role: string): Promise<boolean> {
    return (await this.db`DELETE FROM federation_role_modes WHERE role = ${role}`).count === 1;
  }

  async modes(): Promise<StoredRoleMode[]> {
    const rows = await this.db<RoleModeRow[]>`
      SELECT role, mode, file_mode, set_at FROM federation_role_modes ORDER BY role COLLATE "C"`;
    return rows.map(roleModeOf);
  }

  /** Keeps the newest `kept` rows of a table. */
  private async trim(table: "federation_role_decisions" | "federation_role_conflicts"): Promise<void> {
    await this.db`DELETE FROM ${this.db(table)} WHERE seq <= (SELECT seq FROM ${this.db(table)} ORDER BY seq DESC LIMIT 1 OFFSET ${this.kept})`;
  }
}
