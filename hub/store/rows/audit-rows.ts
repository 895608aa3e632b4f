// An audit trail row (audit_trail: the same columns in SQLite and PostgreSQL)
// and the record it holds, for both backends (hub/store/sqlite/audit-table.ts,
// hub/store/postgres/audit-table.ts).
import type { AuditRecord } from "../hub-store.ts";

export interface AuditRow {
  seq: number;
  at: number;
  actor: string;
  action: string;
  subject: string;
  detail: string;
  prev_hash: string;
  hash: string;
}

/** The columns every read selects, in the order an insert gives them. */
export const AUDIT_COLUMNS = "seq, at, actor, action, subject, detail, prev_hash, hash";

export function auditRecordOf(row: AuditRow): AuditRecord {
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
