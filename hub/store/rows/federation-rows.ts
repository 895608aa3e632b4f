// The federation tables' rows (federation_events, federation_role_latches,
// federation_role_modes: the same columns in SQLite and PostgreSQL) and what
// they hold, for both backends (hub/store/{sqlite,postgres}/federation-event-table.ts
// and federation-role-table.ts).
import type { NodeFederationEvent, StoredFederationEvent, StoredLatch, StoredRoleMode } from "../hub-store.ts";

export interface FederationEventRow {
  seq: number;
  event: string;
}

export function storedEventOf(row: FederationEventRow): StoredFederationEvent {
  return { seq: row.seq, event: JSON.parse(row.event) as NodeFederationEvent };
}

export interface LatchRow {
  rule: string;
  target: string;
  latch: string;
}

export function latchOf(row: LatchRow): StoredLatch {
  return { rule: row.rule, target: row.target, latch: JSON.parse(row.latch) };
}

export interface RoleModeRow {
  role: string;
  mode: StoredRoleMode["mode"];
  file_mode: StoredRoleMode["fileMode"];
  set_at: number;
}

export function roleModeOf(row: RoleModeRow): StoredRoleMode {
  return { role: row.role, mode: row.mode, fileMode: row.file_mode, setAt: row.set_at };
}
