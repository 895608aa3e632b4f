// The audit trail in SQLite: append-only (schema step 10's triggers refuse
// UPDATE and DELETE), read oldest first to verify, newest first to page
// (AuditWrites in ../hub-store.ts; hub/audit/ chains and verifies).
import type { SqliteDatabase } from "../../../lib/sqlite.ts";
import type { AuditRecord, AuditWrites } from "../hub-store.ts";

interface AuditRow {
  seq: number;
  at: number;
  actor: string;
  action: string;
  subject: string;
  detail: string;
  prev_hash: string;
  hash: string;
}

const COLUMNS = "seq, at, actor, action, subject, detail, prev_hash, hash";

function fromRow(row: AuditRow): AuditRecord {
  return {
    seq: row.seq,
    at: row.at,
    actor: row.actor,
    action: row.action,
    subject: row.subject,
    detail: JSON.parse(row.detail) as Record<string, unknown>,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/** Each method does its work when called: SQLite answers at once, the promise only carries the result. */
export class SqliteAuditTable implements AuditWrites {
  private readonly selectLast;
  private readonly selectAfter;
  private readonly selectBefore;
  private readonly insert;

  constructor(db: SqliteDatabase) {
    this.selectLast = db.prepare(`SELECT ${COLUMNS} FROM audit_trail ORDER BY seq DESC LIMIT 1`);
    this.selectAfter = db.prepare(`SELECT ${COLUMNS} FROM audit_trail WHERE seq > ? ORDER BY seq LIMIT ?`);
    this.selectBefore = db.prepare(`SELECT ${COLUMNS} FROM audit_trail WHERE seq < ? ORDER BY seq DESC LIMIT ?`);
    this.insert = db.prepare(`INSERT INTO audit_trail (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
  }

  async last(): Promise<AuditRecord | undefined> {
    const row = this.selectLast.get<AuditRow>();
    return row && fromRow(row);
  }

  async after(afterSeq: number, limit: number): Promise<AuditRecord[]> {
    return this.selectAfter.all<AuditRow>(afterSeq, limit).map(fromRow);
  }

  async before(beforeSeq: number | undefined, limit: number): Promise<AuditRecord[]> {
    return this.selectBefore.all<AuditRow>(beforeSeq ?? Number.MAX_SAFE_INTEGER, limit).map(fromRow);
  }

  async append(r: AuditRecord): Promise<void> {
    this.insert.run(r.seq, r.at, r.actor, r.action, r.subject, JSON.stringify(r.detail), r.prevHash, r.hash);
  }
}
