// Mending a journal as it is opened: a seq that must continue after what the
// caller already handed on, and closes dated in the future by older builds.
import type { SqliteDatabase } from "../lib/sqlite.ts";
import { MAX_FUTURE_SKEW_MS } from "./validate-intent.ts";

/** A close found dated in the future when the journal was opened, and the time it was moved to. */
export interface ClampedClose {
  symbol: string;
  was: number;
  now: number;
}

/** The next verdict gets a seq above `seq` (never lower than it would anyway). */
export function continueSeqAfter(db: SqliteDatabase, seq: number): void {
  db.transaction(() => {
    const updated = db.prepare("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'verdicts'").run(seq);
    if (updated.changes === 0) db.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('verdicts', ?)").run(seq);
  });
}

/**
 * A journal written before closes were checked against the clock may hold
 * one dated far ahead, which would hold the symbol's entries until then.
 * Such a close is moved to now, not dropped: the close did happen, at the
 * latest now, so a cooldown from now is at least as long as the one its
 * true time would give (fail-closed), and it ends.
 */
export function clampFutureCloses(db: SqliteDatabase, now: number): ClampedClose[] {
  const future = db
    .prepare("SELECT symbol, last_close_ts AS was FROM symbol_state WHERE last_close_ts > ? ORDER BY symbol")
    .all<{ symbol: string; was: number }>(now + MAX_FUTURE_SKEW_MS);
  if (future.length === 0) return [];
  db.transaction(() => db.prepare("UPDATE symbol_state SET last_close_ts = ? WHERE last_close_ts > ?").run(now, now + MAX_FUTURE_SKEW_MS));
  return future.map(({ symbol, was }) => ({ symbol, was, now }));
}
