// Enrollment tokens in SQLite, by hash only (TokenWrites in ../hub-store.ts
// says what each method promises; hub/identity/enrollment-tokens.ts makes
// and hashes the tokens).
import type { SqliteDatabase } from "../../../lib/sqlite.ts";
import { TOKEN_ID_LENGTH, type EnrollmentTokenRecord, type ListedToken, type TokenInfo, type TokenWrites } from "../hub-store.ts";
import { listedTokenOf, tokenInfoOf, type TokenInfoRow, type TokenRow } from "../rows/token-rows.ts";

/** A token that may still be used: not revoked, not expired at the bound time. */
const USABLE = "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)";

/** Each method does its work when called: SQLite answers at once, the promise only carries the result. */
export class SqliteTokenTable implements TokenWrites {
  private readonly insert;
  private readonly selectValid;
  private readonly spend;
  private readonly count;
  private readonly selectKnown;
  private readonly refund;
  private readonly selectAll;
  private readonly revokeOne;

  constructor(db: SqliteDatabase) {
    this.insert = db.prepare("INSERT INTO enrollment_tokens (token_hash, label, uses_left, expires_at, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)");
    this.selectValid = db.prepare(
      `SELECT label, uses_left, expires_at, registrations FROM enrollment_tokens
       WHERE token_hash = ? AND (uses_left IS NULL OR uses_left > 0) AND ${USABLE}`,
    );
    this.spend = db.prepare(
      `UPDATE enrollment_tokens SET uses_left = uses_left - (uses_left IS NOT NULL), registrations = registrations + 1
       WHERE token_hash = ? AND (uses_left IS NULL OR uses_left > 0) AND ${USABLE}`,
    );
    this.count = db.prepare("UPDATE enrollment_tokens SET registrations = registrations + 1 WHERE token_hash = ?");
    this.selectKnown = db.prepare(`SELECT 1 FROM enrollment_tokens WHERE token_hash = ? AND ${USABLE}`);
    this.refund = db.prepare(
      `UPDATE enrollment_tokens SET uses_left = uses_left + (uses_left IS NOT NULL), registrations = registrations - 1
       WHERE token_hash = ? AND registrations > 0`,
    );
    this.selectAll = db.prepare(
      `SELECT substr(token_hash, 1, ${TOKEN_ID_LENGTH}) AS id, label, uses_left, expires_at, created_at, created_by, registrations, revoked_at
       FROM enrollment_tokens ORDER BY created_at DESC, token_hash LIMIT ?`,
    );
    this.revokeOne = db.prepare(`UPDATE enrollment_tokens SET revoked_at = ? WHERE substr(token_hash, 1, ${TOKEN_ID_LENGTH}) = ? AND revoked_at IS NULL`);
  }

  async add(token: EnrollmentTokenRecord): Promise<void> {
    this.insert.run(token.hash, token.label, token.usesLeft, token.expiresAt, token.createdAt, token.createdBy);
  }

  async valid(hash: string, now: number): Promise<TokenInfo | undefined> {
    const row = this.selectValid.get<TokenInfoRow>(hash, now);
    return row && tokenInfoOf(row);
  }

  async known(hash: string, now: number): Promise<boolean> {
    return this.selectKnown.get(hash, now) !== undefined;
  }

  async spendUse(hash: string, now: number): Promise<boolean> {
    return this.spend.run(hash, now).changes === 1;
  }

  async countReuse(hash: string): Promise<void> {
    this.count.run(hash);
  }

  async refundUse(hash: string): Promise<void> {
    this.refund.run(hash);
  }

  async list(limit: number): Promise<ListedToken[]> {
    return this.selectAll.all<TokenRow>(limit).map(listedTokenOf);
  }

  async revoke(id: string, at: number): Promise<boolean> {
    if (!new RegExp(`^[0-9a-f]{${TOKEN_ID_LENGTH}}$`).test(id)) return false;
    return this.revokeOne.run(at, id).changes > 0;
  }
}
