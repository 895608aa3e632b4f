// The audit trail in SQLite: append-only (schema step 10's triggers refuse
// UPDATE and DELETE), read oldest first to verify, newest first to page
// (AuditWrites in ../hub-store.ts; hub/audit/ chains and verifies).
import type { SqliteDatabase } from "../../../lib/sqlite.ts";
import type { AuditRecord, AuditWrites } from "../hub-store.ts";
import { AUDIT_COLUMNS, auditRecordOf, type AuditRow } from "../rows/audit-rows.ts";

/** Each method does its work when called: SQLite answers at once, the promise only carries the result. */
export class SqliteAuditTable implements AuditWrites {
  private readonly selectLast;
  private readonly selectAfter;
  private readonly selectBefore;
  private readonly insert;

  constructor(db: SqliteDatabase) {
    this.selectLast = db.prepare(`SELECT ${AUDIT_COLUMNS} FROM audit_trail ORDER BY seq DESC LIMIT 1`);
    this.selectAfter = db.prepare(`SELECT ${AUDIT_COLUMNS} FROM audit_trail WHERE seq > ? ORDER BY seq LIMIT ?`);
    this.selectBefore = db.prepare(`SELECT ${AUDIT_COLUMNS} FROM audit_trail WHERE seq < ? ORDER BY seq DESC LIMIT ?`);
    this.insert = db.prepare(`INSERT INTO audit_trail (${AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
  }

  async last(): Promise<AuditRecord | undefined> {
    const row = this.selectLast.get<AuditRow>();
    return row && auditRecordOf(row);
  }

  async after(afterSeq: number, limit: number): Promise<AuditRecord[]> {
    return this.selectAfter.all<AuditRow>(afterSeq, limit).map(auditRecordOf);
  }

  async before(beforeSeq: number | undefined, limit: number): Promise<AuditRecord[]> {
    return this.selectBefore.all<AuditRow>(beforeSeq ?? Number.MAX_SAFE_INTEGER, limit).map(auditRecordOf);
  }

  async append(r: AuditRecord): Promise<void> {
    this.insert.run(r.seq, r.at, r.actor, r.action, r.subject, JSON.stringify(r.detail), r.prevHash, r.hash);
  }
}
