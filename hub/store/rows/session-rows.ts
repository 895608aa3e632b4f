// A dashboard session's row (dashboard_sessions: the same columns in SQLite
// and PostgreSQL) and the record it holds, for both backends
// (hub/store/sqlite/session-table.ts, hub/store/postgres/session-table.ts).
import type { SessionRecord } from "../hub-store.ts";

export interface SessionRow {
  id_hash: string;
  role: SessionRecord["role"];
  operator: string;
  operator_id: string | null;
  csrf_token: string;
  created_at: number;
  expires_at: number;
}

export function sessionOf(row: SessionRow): SessionRecord {
  return { idHash: row.id_hash, role: row.role, operator: row.operator, operatorId: row.operator_id, csrfToken: row.csrf_token, createdAt: row.created_at, expiresAt: row.expires_at };
}
