// Enrollment tokens in PostgreSQL, by hash only (TokenWrites in ../hub-store.ts
// says what each method promises). spendUse is one conditional UPDATE, so two
// hubs spending the last use of one token cannot both succeed: the second
// waits on the row lock, then finds no use left.
import { TOKEN_ID_LENGTH, type EnrollmentTokenRecord, type ListedToken, type TokenInfo, type TokenWrites } from "../hub-store.ts";
import { listedTokenOf, tokenInfoOf, type TokenInfoRow, type TokenRow } from "../rows/token-rows.ts";
import type { Db } from "./connection.ts";

export class PostgresTokenTable implements TokenWrites {
  constructor(private readonly db: Db) {}

  /** A token that may still be used: not revoked, not expired at `now`. */
  private usable(now: number) {
    return this.db`revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ${now})`;
  }

  async add(token: EnrollmentTokenRecord): Promise<void> {
    await this.db`INSERT INTO enrollment_tokens (token_hash, label, uses_left, expires_at, created_at, created_by)
                  VALUES (${token.hash}, ${token.label}, ${token.usesLeft}, ${token.expiresAt}, ${token.createdAt}, ${token.createdBy})`;
  }

  async valid(hash: string, now: number): Promise<TokenInfo | undefined> {
    const [row] = await this.db<TokenInfoRow[]>`SELECT label, uses_left, expires_at, registrations FROM enrollment_tokens
      WHERE token_hash = ${hash} AND (uses_left IS NULL OR uses_left > 0) AND ${this.usable(now)}`;
    return row && tokenInfoOf(row);
  }

  async known(hash: string, now: number): Promise<boolean> {
    return (await this.db`SELECT 1 FROM enrollment_tokens WHERE token_hash = ${hash} AND ${this.usable(now)}`).length > 0;
  }

  async spendUse(hash: string, now: number): Promise<boolean> {
    const spent = await this.db`
      UPDATE enrollment_tokens SET uses_left = uses_left - 1, registrations = registrations + 1
      WHERE token_hash = ${hash} AND (uses_left IS NULL OR uses_left > 0) AND ${this.usable(now)}`;
    return spent.count === 1;
  }

  async countReuse(hash: string): Promise<void> {
    await this.db`UPDATE enrollment_tokens SET registrations = registrations + 1 WHERE token_hash = ${hash}`;
  }

  async refundUse(hash: string): Promise<void> {
    await this.db`UPDATE enrollment_tokens SET uses_left = uses_left + 1, registrations = registrations - 1
                  WHERE token_hash = ${hash} AND registrations > 0`;
  }

  async list(limit: number): Promise<ListedToken[]> {
    const rows = await this.db<TokenRow[]>`
      SELECT substr(token_hash, 1, ${TOKEN_ID_LENGTH}) AS id, label, uses_left, expires_at, created_at, created_by, registrations, revoked_at
      FROM enrollment_tokens ORDER BY created_at DESC, token_hash COLLATE "C" LIMIT ${limit}`;
    return rows.map(listedTokenOf);
  }

  async revoke(id: string, at: number): Promise<boolean> {
    if (!new RegExp(`^[0-9a-f]{${TOKEN_ID_LENGTH}}$`).test(id)) return false;
    const revoked = await this.db`UPDATE enrollment_tokens SET revoked_at = ${at}
                                  WHERE substr(token_hash, 1, ${TOKEN_ID_LENGTH}) = ${id} AND revoked_at IS NULL`;
    return revoked.count > 0;
  }
}
