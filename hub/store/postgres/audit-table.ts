// The audit trail in PostgreSQL: append-only (schema step 2's triggers refuse
// UPDATE, DELETE and TRUNCATE), read oldest first to verify, newest first to
// page (AuditWrites in ../hub-store.ts; the SQLite twin is
// ../sqlite/audit-table.ts; hub/audit/ chains and verifies).
import type { AuditRecord, AuditWrites } from "../hub-store.ts";
import { AUDIT_COLUMNS, auditRecordOf, type AuditRow } from "../rows/audit-rows.ts";
import type { Db } from "./connection.ts";

/**
 * The advisory lock last() holds to the end of a write transaction: hubs
 * sharing the database append one at a time, each chaining onto the record
 * the one before appended (without it two hubs would read one last record and
 * the second append would fail on its seq).
 */
const AUDIT_APPEND_LOCK = 0x6564676566656402n;

export class PostgresAuditTable implements AuditWrites {
  /** `inTransaction`: last() is a write's read before it appends, so it takes the append lock. */
  constructor(
    private readonly db: Db,
    private readonly inTransaction = false,
  ) {}

  private columns() {
    return this.db.unsafe(AUDIT_COLUMNS);
  }

  async last(): Promise<AuditRecord | undefined> {
    if (this.inTransaction) await this.db`SELECT pg_advisory_xact_lock(${AUDIT_APPEND_LOCK.toString()}::bigint)`;
    const [row] = await this.db<AuditRow[]>`SELECT ${this.columns()} FROM audit_trail ORDER BY seq DESC LIMIT 1`;
    return row && auditRecordOf(row);
  }

  async after(afterSeq: number, limit: number): Promise<AuditRecord[]> {
    const rows = await this.db<AuditRow[]>`SELECT ${this.columns()} FROM audit_trail WHERE seq > ${afterSeq} ORDER BY seq LIMIT ${limit}`;
    return rows.map(auditRecordOf);
  }

  async before(beforeSeq: number | undefined, limit: number): Promise<AuditRecord[]> {
    const rows = await this.db<AuditRow[]>`
      SELECT ${this.columns()} FROM audit_trail WHERE seq < ${beforeSeq ?? Number.MAX_SAFE_INTEGER} ORDER BY seq DESC LIMIT ${limit}`;
    return rows.map(auditRecordOf);
  }

  async append(r: AuditRecord): Promise<void> {
    await this.db`INSERT INTO audit_trail (seq, at, actor, action, subject, detail, prev_hash, hash)
                  VALUES (${r.seq}, ${r.at}, ${r.actor}, ${r.action}, ${r.subject}, ${JSON.stringify(r.detail)}, ${r.prevHash}, ${r.hash})`;
  }
}
