// An enrollment token's row (enrollment_tokens: the same columns in SQLite and
// PostgreSQL; `id` is the first TOKEN_ID_LENGTH characters of its hash) and
// what the registry makes of it, for both backends
// (hub/store/sqlite/token-table.ts, hub/store/postgres/token-table.ts).
import type { ListedToken, TokenInfo } from "../hub-store.ts";

/** What a token's uses are checked by (TokenInfo). */
export interface TokenInfoRow {
  label: string;
  uses_left: number | null;
  expires_at: number | null;
  registrations: number;
}

/** A token as listed (ListedToken). */
export interface TokenRow extends TokenInfoRow {
  id: string;
  created_at: number;
  created_by: string;
  revoked_at: number | null;
}

export function tokenInfoOf(row: TokenInfoRow): TokenInfo {
  return { label: row.label, usesLeft: row.uses_left, expiresAt: row.expires_at, registrations: row.registrations };
}

export function listedTokenOf(row: TokenRow): ListedToken {
  return {
    id: row.id,
    label: row.label,
    usesLeft: row.uses_left,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    createdBy: row.created_by,
    registrations: row.registrations,
    revokedAt: row.revoked_at,
  };
}
