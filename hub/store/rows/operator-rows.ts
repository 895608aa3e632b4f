// An operator's row (operators: the same columns in SQLite and PostgreSQL)
// and the record it holds, for both backends (hub/store/sqlite/operator-table.ts,
// hub/store/postgres/operator-table.ts).
import type { OperatorRecord } from "../hub-store.ts";

export interface OperatorRow {
  id: string;
  name: string;
  role: OperatorRecord["role"];
  verifier: string;
  created_at: number;
  created_by: string;
  rotated_at: number | null;
  revoked_at: number | null;
}

/** The columns every read selects, in the order an insert gives them. */
export const OPERATOR_COLUMNS = "id, name, role, verifier, created_at, created_by, rotated_at, revoked_at";

export function operatorOf(row: OperatorRow): OperatorRecord {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    verifier: row.verifier,
    createdAt: row.created_at,
    createdBy: row.created_by,
    rotatedAt: row.rotated_at,
    revokedAt: row.revoked_at,
  };
}
