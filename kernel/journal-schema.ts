// The intent journal's tables. One file so the layout is read in one place.
import { migrate, type Schema } from "../lib/migrations.ts";
import type { SqliteDatabase } from "../lib/sqlite.ts";

const JOURNAL_SCHEMA: Schema = {
  name: "intent journal",
  steps: [
  // 1: receipts, the verdict journal and per-symbol cooldown state.
  `
      -- Intents accepted for evaluation whose verdict is not journaled yet.
      -- A row lives here only between receive() and its evaluation; after a
      -- crash the processor evaluates what is left, in receipt order.
      CREATE TABLE receipts (
        rowid       INTEGER PRIMARY KEY,
        intent_id   TEXT NOT NULL UNIQUE,
        intent      TEXT NOT NULL,
        received_at INTEGER NOT NULL
      );
      -- The verdict journal. seq is the per-node order verdicts are published
      -- in; AUTOINCREMENT so a seq is never reused after rows are compacted.
      CREATE TABLE verdicts (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        intent_id       TEXT NOT NULL UNIQUE,
        symbol          TEXT NOT NULL,
        ts              INTEGER NOT NULL,
        counts_as_trade INTEGER NOT NULL,
        intent          TEXT NOT NULL,
        verdict         TEXT NOT NULL
      );
      CREATE INDEX verdicts_trades ON verdicts(ts) WHERE counts_as_trade = 1;
      -- Cooldown state per symbol, kept apart from the journal so compaction
      -- of old verdicts never shortens a cooldown.
      CREATE TABLE symbol_state (
        symbol        TEXT PRIMARY KEY,
        last_trade_ts INTEGER,
        last_close_ts INTEGER
      );
  `,
  // 2: when each verdict was judged (the processor's clock, the wall clock in
  // the agent), so what is handed on later, after a crash, still says when it
  // was made. NULL for verdicts journaled before. Older builds refuse a v2
  // journal rather than misread it: an agent cannot be downgraded past this.
  `ALTER TABLE verdicts ADD COLUMN judged_at INTEGER;`,
  // 3: the account (account.ts). Each symbol's open risk: the loss at stop of
  // the entries authorised since its last close. Every close, with its
  // outcome, for realised profit (the cashflow model counts it from when its
  // policy took effect). The last portfolio snapshot, with where the journal
  // stood when it was recorded (what came after is not in it), and the ESS
  // state judged at that snapshot or at the policy change since.
  `
      ALTER TABLE symbol_state ADD COLUMN open_risk_usd REAL NOT NULL DEFAULT 0;
      -- AUTOINCREMENT: a rowid is never reused after compaction, so "closes after
      -- the snapshot" stays exact.
      CREATE TABLE closes (
        rowid   INTEGER PRIMARY KEY AUTOINCREMENT,
        symbol  TEXT NOT NULL,
        ts      INTEGER NOT NULL,
        pnl_usd REAL,
        exit    TEXT
      );
      CREATE TABLE account (
        singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
        snapshot    TEXT NOT NULL,
        after_seq   INTEGER NOT NULL,
        after_close INTEGER NOT NULL,
        ess_state   TEXT NOT NULL
      );
  `,
  ],
};

/** Brings the journal to its latest version (lib/migrations.ts: numbered steps, each in one transaction). */
export function migrateJournal(db: SqliteDatabase): void {
  migrate(db, JOURNAL_SCHEMA);
}
