// Enrollment tokens: created by `edgefed-hub token create`, stored hashed,
// limited in uses and lifetime. A use is spent only by a new node; a node
// re-registering its own key does not use the token up.
import type { SqliteDatabase } from "../../lib/sqlite.ts";
import { hashSecret, randomSecret } from "../identity/secrets.ts";

export interface TokenOptions {
  uses: number | null;
  ttlMs: number | null;
  label?: string;
}

export interface TokenInfo {
  label: string;
  usesLeft: number | null;
  expiresAt: number | null;
  registrations: number;
}

export const ENROLLMENT_TOKEN_PREFIX = "efe_";

export class TokenStore {
  private readonly selectValid;
  private readonly spend;
  private readonly count;
  private readonly selectKnown;
  private readonly refund;

  constructor(private readonly db: SqliteDatabase) {
    this.selectValid = db.prepare(
      `SELECT label, uses_left, expires_at, registrations FROM enrollment_tokens
       WHERE token_hash = ? AND (uses_left IS NULL OR uses_left > 0) AND (expires_at IS NULL OR expires_at > ?)`,
    );
    this.spend = db.prepare(
      `UPDATE enrollment_tokens SET uses_left = uses_left - (uses_left IS NOT NULL), registrations = registrations + 1
       WHERE token_hash = ? AND (uses_left IS NULL OR uses_left > 0) AND (expires_at IS NULL OR expires_at > ?)`,
    );
    this.count = db.prepare("UPDATE enrollment_tokens SET registrations = registrations + 1 WHERE token_hash = ?");
    this.selectKnown = db.prepare("SELECT 1 FROM enrollment_tokens WHERE token_hash = ? AND (expires_at IS NULL OR expires_at > ?)");
    this.refund = db.prepare(
      `UPDATE enrollment_tokens SET uses_left = uses_left + (uses_left IS NOT NULL), registrations = registrations - 1
       WHERE token_hash = ? AND registrations > 0`,
    );
  }

  /** Creates a token and returns it; only its hash is kept, so this is the one time it is seen. */
  create(options: TokenOptions, now: number): string {
    const token = ENROLLMENT_TOKEN_PREFIX + randomSecret(24);
    this.db
      .prepare("INSERT INTO enrollment_tokens (token_hash, label, uses_left, expires_at, created_at) VALUES (?, ?, ?, ?, ?)")
      .run(hashSecret(token), options.label ?? "", options.uses, options.ttlMs === null ? null : now + options.ttlMs, now);
    return token;
  }

  /** The token's state if it may still enrol a node, else undefined. */
  valid(token: string, now: number): TokenInfo | undefined {
    const row = this.selectValid.get<{ label: string; uses_left: number | null; expires_at: number | null; registrations: number }>(
      hashSecret(token),
      now,
    );
    return row && { label: row.label, usesLeft: row.uses_left, expiresAt: row.expires_at, registrations: row.registrations };
  }

  /** Spends one use (call inside the registration's transaction); false if the token has none left. */
  spendUse(token: string, now: number): boolean {
    return this.spend.run(hashSecret(token), now).changes === 1;
  }

  /** Whether the token exists and has not expired, used up or not (re-registration needs no use). */
  known(token: string, now: number): boolean {
    return this.selectKnown.get(hashSecret(token), now) !== undefined;
  }

  /** Gives back a use spent by a registration that then failed. */
  refundUse(token: string): void {
    this.refund.run(hashSecret(token));
  }

  /** Counts a re-registration against the token without spending a use. */
  countReuse(token: string): void {
    this.count.run(hashSecret(token));
  }
}

/** "90s", "30m", "12h", "7d" or plain seconds, in ms. */
export function parseTtl(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(text.trim());
  if (!match) throw new Error(`--ttl: ${JSON.stringify(text)} is not a duration like 90s, 30m, 12h or 7d`);
  const unit = { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as "" | "s" | "m" | "h" | "d"];
  const ms = Number(match[1]) * unit * 1000;
  if (ms <= 0) throw new Error("--ttl: must be longer than 0");
  return ms;
}
