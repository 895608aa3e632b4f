// The account's side of the intent journal (tables in journal-schema.ts, step
// 3): the intent processor writes through here in its own transactions and
// rebuilds the in-memory Account from here when it opens.
import type { SqliteDatabase, SqliteStatement } from "../lib/sqlite.ts";
import { Account } from "./account.ts";
import type { CashflowPolicy } from "./policy-limits.ts";
import type { CloseEvent, EssState, ExitKind, Intent, PortfolioSnapshot } from "./types.ts";

/** A close as journaled, with its number (increasing, never reused): what the agent hands on to the hub. */
export interface RecordedClose {
  seq: number;
  symbol: string;
  ts: number;
  pnl_usd: number | null;
  exit: ExitKind | null;
}

/** Where the journal stood when the snapshot in force was recorded. */
export interface SnapshotMark {
  afterSeq: number;
  afterClose: number;
}

export class AccountJournal {
  private readonly sql: Record<
    "insertClose" | "saveSnapshot" | "saveEss" | "clearOpenRisk" | "mark" | "lastClose" | "cashflowProfits" | "closesAfter",
    SqliteStatement
  >;

  constructor(private readonly db: SqliteDatabase) {
    this.sql = {
      insertClose: db.prepare("INSERT INTO closes (symbol, ts, pnl_usd, exit) VALUES (?, ?, ?, ?)"),
      saveSnapshot: db.prepare(
        `INSERT INTO account (singleton, snapshot, after_seq, after_close, ess_state) VALUES (1, ?1, ?2, ?3, ?4)
         ON CONFLICT (singleton) DO UPDATE SET snapshot = ?1, after_seq = ?2, after_close = ?3, ess_state = ?4`,
      ),
      saveEss: db.prepare("UPDATE account SET ess_state = ? WHERE singleton = 1"),
      clearOpenRisk: db.prepare("UPDATE symbol_state SET open_risk_usd = 0 WHERE open_risk_usd != 0"),
      mark: db.prepare("SELECT after_seq AS afterSeq, after_close AS afterClose FROM account WHERE singleton = 1"),
      lastClose: db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'closes'"),
      cashflowProfits: db.prepare("SELECT pnl_usd FROM closes WHERE ts >= ? AND pnl_usd IS NOT NULL ORDER BY rowid"),
      closesAfter: db.prepare("SELECT rowid AS seq, symbol, ts, pnl_usd, exit FROM closes WHERE rowid > ? ORDER BY rowid LIMIT ?"),
    };
  }

  /** Inside the caller's transaction. */
  recordClose(close: CloseEvent): void {
    this.sql.insertClose.run(close.symbol, close.ts, close.pnl_usd ?? null, close.exit ?? null);
  }

  /** Closes journaled after number `seq`, oldest first, at most `limit`. */
  closesAfter(seq: number, limit: number): RecordedClose[] {
    return this.sql.closesAfter.all<RecordedClose>(seq, limit);
  }

  /** The highest close number ever given out (AUTOINCREMENT keeps it through compaction); 0 for none. */
  lastCloseSeq(): number {
    return this.sql.lastClose.get<{ seq: number }>()?.seq ?? 0;
  }

  /** Inside the caller's transaction: the snapshot, marked after everything journaled so far. */
  saveSnapshot(snapshot: PortfolioSnapshot, afterSeq: number, ess: EssState): void {
    const afterClose = this.sql.lastClose.get<{ seq: number }>()?.seq ?? 0;
    this.sql.saveSnapshot.run(JSON.stringify(snapshot), afterSeq, afterClose, ess);
    if (snapshot.num_positions === 0) this.sql.clearOpenRisk.run();
  }

  /** The ESS state judged at a policy change (there is a snapshot: without one the state is NOMINAL and not kept). */
  saveEss(ess: EssState): void {
    this.sql.saveEss.run(ess);
  }

  mark(): SnapshotMark | null {
    return this.sql.mark.get<SnapshotMark>() ?? null;
  }

  /** The account as the journal holds it; `cashflow` is the cashflow policy in force. */
  load(cashflow: CashflowPolicy | null): Account {
    const account = new Account();
    const row = this.db
      .prepare("SELECT snapshot, after_seq, after_close, ess_state FROM account WHERE singleton = 1")
      .get<{ snapshot: string; after_seq: number; after_close: number; ess_state: EssState }>();
    if (row) {
      account.recordSnapshot(JSON.parse(row.snapshot) as PortfolioSnapshot);
      account.ess = row.ess_state;
      const entries = this.db.prepare("SELECT intent FROM verdicts WHERE seq > ? AND counts_as_trade = 1 ORDER BY seq").all<{ intent: string }>(row.after_seq);
      for (const { intent } of entries) {
        const { price, qty } = JSON.parse(intent) as Intent;
        account.entriesSinceSnapshot++;
        account.notionalSinceSnapshot += price * qty;
      }
      // Added up here in the order they were recorded, as the processor did (SQLite's total() rounds differently).
      for (const { pnl } of this.db.prepare("SELECT pnl_usd AS pnl FROM closes WHERE rowid > ? AND pnl_usd IS NOT NULL ORDER BY rowid").all<{ pnl: number }>(row.after_close)) {
        account.realisedSinceSnapshot += pnl;
      }
    }
    // After the snapshot, which clears the open risk of a flat portfolio: what is kept was authorised since.
    for (const { symbol, risk } of this.db.prepare("SELECT symbol, open_risk_usd AS risk FROM symbol_state WHERE open_risk_usd > 0").all<{ symbol: string; risk: number }>()) {
      account.addOpenRisk(symbol, risk);
    }
    this.loadCashflow(account, cashflow);
    return account;
  }

  /** Counts the realised profit since `cashflow.since` afresh, in the order the closes were recorded. */
  loadCashflow(account: Account, cashflow: CashflowPolicy | null): void {
    account.resetCashflow();
    if (!cashflow) return;
    for (const { pnl_usd } of this.sql.cashflowProfits.all<{ pnl_usd: number }>(cashflow.since)) account.addCashflowProfit(pnl_usd);
  }

  /**
   * Compaction of closes: those before `beforeTs` that the account no longer
   * reads (recorded before the snapshot in force, and before the cashflow
   * policy's start).
   */
  compact(beforeTs: number, cashflow: CashflowPolicy | null): number {
    const afterClose = this.mark()?.afterClose ?? this.sql.lastClose.get<{ seq: number }>()?.seq ?? 0;
    const keepFrom = cashflow ? Math.min(beforeTs, cashflow.since) : beforeTs;
    return this.db.prepare("DELETE FROM closes WHERE ts < ? AND rowid <= ?").run(keepFrom, afterClose).changes;
  }
}
