// The exactly-once intent processor: the only way intents reach the gates in
// an agent. It owns the intent journal (SQLite, WAL) and hands a verdict back
// only after the transaction holding it has committed. The same intent id
// always yields its stored verdict and is never evaluated or counted twice,
// also across restarts and kill -9. It also keeps the node's account
// (account.ts): portfolio snapshots and closes are journaled like verdicts.
import { accountStatus, nextEssState, type Account, type AccountStatus } from "./account.ts";
import { AccountJournal, type RecordedClose } from "./account-journal.ts";
export type { RecordedClose };
import type { GateConfig } from "./config.ts";
import { compileContext, countsAsTrade, entryRisk, evaluate, type GateContext } from "./gates.ts";
import { lockJournal } from "./journal-lock.ts";
import { clampFutureCloses, continueSeqAfter, type ClampedClose } from "./journal-repair.ts";
export type { ClampedClose };
import { migrateJournal } from "./journal-schema.ts";
import { DEFAULT_POLICY, type KernelPolicy } from "./policy.ts";
import type { EssThresholds } from "./policy-limits.ts";
import { openDatabase, type OpenOptions, type SqliteDatabase, type SqliteStatement } from "../lib/sqlite.ts";
import { RATE_WINDOW_MS, STALE_AFTER_MS, TradeWindow } from "./trade-window.ts";
import { futureClose, invalidClose, isIntentId } from "./validate-intent.ts";
import { startCheckpointer, type Checkpointer } from "../lib/wal-checkpointer.ts";
import type { CloseEvent, EssState, Intent, JournaledVerdict, PortfolioSnapshot, Verdict } from "./types.ts";
import { futurePortfolio, invalidPortfolio, portfolioFields } from "./validate-portfolio.ts";

export interface ProcessorOptions extends OpenOptions {
  config: GateConfig;
  policy?: KernelPolicy;
  /** The wall clock, for refusing intents and closes dated in the future (FUTURE_INTENT, FUTURE_CLOSE) and stamping when each verdict was judged. */
  clock?: () => number;
  /**
   * The last seq the caller already handed on. A journal that ends before it
   * (restored from a backup) continues after it, before anything left
   * unjudged is judged, so no seq is given out twice.
   */
  seqFloor?: number;
  /** Told of every change of the ESS state (at a snapshot, or a policy change), after it is journaled. */
  onEssChange?: (change: EssChange) => void;
}

export interface EssChange {
  from: EssState;
  to: EssState;
  /** The drawdown judged, from the snapshot in force (null: no snapshot, the state went back to NOMINAL). */
  drawdown_pct: number | null;
  /** Why: a new snapshot, or a policy change (ESS thresholds). */
  cause: "portfolio" | "policy";
  /** The thresholds judged by. */
  thresholds: EssThresholds | null;
}


/** A journal that ended before the caller's seq floor when it was opened. */
export interface JournalBehind {
  /** Where the journal ended. */
  lastSeq: number;
  /** Where it continues from (the floor). */
  continuedAfter: number;
}

/** A portfolio snapshot that cannot be recorded; the message starts with the field (`drawdown_pct: ...`). */
export class PortfolioRefusedError extends TypeError {
  override name = "PortfolioRefusedError";
}

/** A close that cannot be recorded; `index` is its place in the batch given to recordCloses(). */
export class CloseRefusedError extends TypeError {
  override name = "CloseRefusedError";
  constructor(
    readonly index: number,
    message: string,
  ) {
    super(message);
  }
}

export interface KernelCounters {
  evaluated: number;
  passed: number;
  held: number;
  /** Intents answered from the journal instead of being evaluated again. */
  duplicates: number;
  /** Intents found received-but-unjudged at start and evaluated then. */
  recovered: number;
}

function intentId(input: unknown): string | null {
  const id = (input as { id?: unknown } | null)?.id;
  return isIntentId(id) ? id : null;
}

export class IntentProcessor {
  readonly counters: KernelCounters = { evaluated: 0, passed: 0, held: 0, duplicates: 0, recovered: 0 };
  /** HOLDs since start by reason (each reason of a HOLD counts): the kernel's reasons, a bounded set. */
  readonly holdReasons: Record<string, number> = {};
  private ctx: GateContext;
  private window = new TradeWindow();
  private account!: Account;
  private readonly accounts: AccountJournal;
  private readonly sql: Record<
    | "findVerdict"
    | "insertVerdict"
    | "recordTrade"
    | "recordClose"
    | "insertReceipt"
    | "deleteReceipt"
    | "anyPending"
    | "pending"
    | "since",
    SqliteStatement
  >;
  private queue: { intent: unknown; resolve: (v: JournaledVerdict) => void; reject: (e: unknown) => void }[] = [];
  private flushScheduled = false;
  private checkpointer: Checkpointer | null = null;
  private unlock: () => void = () => {};

  /** Set when the journal ended before the seq floor it was opened with (see ProcessorOptions.seqFloor). */
  readonly behind: JournalBehind | null = null;
  /** Closes dated in the future that opening the journal moved to its clock's now (see clampFutureCloses). */
  readonly clampedCloses: ClampedClose[];

  private constructor(
    private readonly db: SqliteDatabase,
    private readonly config: GateConfig,
    policy: KernelPolicy,
    private readonly clock: () => number,
    seqFloor: number,
    private readonly onEssChange: (change: EssChange) => void = () => {},
  ) {
    migrateJournal(db);
    const lastSeq = this.lastSeq();
    if (lastSeq < seqFloor) {
      continueSeqAfter(db, seqFloor);
      this.behind = { lastSeq, continuedAfter: seqFloor };
    }
    this.clampedCloses = clampFutureCloses(db, clock());
    this.ctx = compileContext(config, policy);
    this.sql = {
      findVerdict: db.prepare("SELECT seq, verdict FROM verdicts WHERE intent_id = ?"),
      insertVerdict: db.prepare(
        "INSERT INTO verdicts (intent_id, symbol, ts, counts_as_trade, intent, verdict, judged_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ),
      // An entry adds its loss at stop to the symbol's open risk; a close ends it.
      recordTrade: db.prepare(
        `INSERT INTO symbol_state (symbol, last_trade_ts, open_risk_usd) VALUES (?1, ?2, ?3) ON CONFLICT (symbol)
         DO UPDATE SET last_trade_ts = max(coalesce(last_trade_ts, ?2), ?2), open_risk_usd = open_risk_usd + ?3`,
      ),
      recordClose: db.prepare(
        `INSERT INTO symbol_state (symbol, last_close_ts) VALUES (?1, ?2) ON CONFLICT (symbol)
         DO UPDATE SET last_close_ts = max(coalesce(last_close_ts, ?2), ?2), open_risk_usd = 0`,
      ),
      insertReceipt: db.prepare(
        `INSERT INTO receipts (intent_id, intent, received_at) SELECT ?1, ?2, ?3
         WHERE NOT EXISTS (SELECT 1 FROM verdicts WHERE intent_id = ?1) ON CONFLICT (intent_id) DO NOTHING`,
      ),
      deleteReceipt: db.prepare("DELETE FROM receipts WHERE intent_id = ?"),
      anyPending: db.prepare("SELECT 1 FROM receipts LIMIT 1"),
      pending: db.prepare("SELECT intent FROM receipts ORDER BY rowid"),
      since: db.prepare("SELECT seq, symbol, verdict, judged_at FROM verdicts WHERE seq > ? ORDER BY seq LIMIT ?"),
    };
    this.accounts = new AccountJournal(db);
    this.loadState();
    this.judgeEss("policy"); // the journal's state, under the policy it is opened with
    this.counters.recovered = this.evaluatePending().length;
  }

  /** Opens (or creates) the journal at `path` and evaluates anything a crash left unjudged. */
  static open(path: string, options: ProcessorOptions): IntentProcessor {
    const unlock = path === ":memory:" ? () => {} : lockJournal(path);
    let db: SqliteDatabase | undefined;
    try {
      db = openDatabase(path, options);
      const processor = new IntentProcessor(db, options.config, options.policy ?? DEFAULT_POLICY, options.clock ?? Date.now, options.seqFloor ?? 0, options.onEssChange);
      processor.unlock = unlock;
      return processor;
    } catch (error) {
      db?.close();
      unlock();
      throw error;
    }
  }

  /**
   * Policy changes apply to intents evaluated from now on; stored verdicts
   * never change. The ESS state is judged again under the new thresholds,
   * and locked profit counted again if the cashflow policy starts at another
   * time (or starts, or ends).
   */
  setPolicy(policy: KernelPolicy): void {
    const before = this.ctx.policy.cashflow ?? null;
    this.ctx = compileContext(this.config, policy, this.ctx.halt);
    const after = policy.cashflow ?? null;
    if (before?.since !== after?.since) this.accounts.loadCashflow(this.account, after);
    this.judgeEss("policy");
  }

  /** The ESS state at the snapshot in force under the thresholds in force (NOMINAL without either), journaled if it changes. */
  private judgeEss(cause: EssChange["cause"]): void {
    const snapshot = this.account.snapshot;
    const ess = snapshot ? nextEssState(this.account.ess, snapshot.drawdown_pct, this.ctx.policy.ess) : "NOMINAL";
    if (ess === this.account.ess) return;
    if (snapshot) this.inTransaction(() => this.accounts.saveEss(ess));
    this.changeEss(ess, snapshot?.drawdown_pct ?? null, cause);
  }

  /** Sets or lifts the node's own halt (OFFLINE): every entry is held with it; exits still pass. */
  setHalt(halt: "OFFLINE" | null): void {
    if (halt !== this.ctx.halt) this.ctx = compileContext(this.config, this.ctx.policy, halt);
  }

  get halt(): "OFFLINE" | null {
    return this.ctx.halt;
  }

  get policy(): KernelPolicy {
    return this.ctx.policy;
  }

  get essState(): EssState {
    return this.account.ess;
  }

  /** Every model in the allow tables of the config in force (file config plus the policy's threshold overrides). */
  get knownModels(): ReadonlySet<string> {
    return this.ctx.knownModels;
  }

  /**
   * Judges a batch in order, in one transaction (one fsync for the group).
   * Returns after the commit; on a failed commit nothing of the batch counts.
   */
  process(intents: readonly unknown[]): JournaledVerdict[] {
    if (this.sql.anyPending.get() !== undefined) this.evaluatePending();
    return this.inTransaction(() => intents.map((intent) => this.judge(intent)));
  }

  /** One intent, group-committed with whatever else arrives in the same event-loop turn. */
  submit(intent: unknown): Promise<JournaledVerdict> {
    return new Promise((resolve, reject) => {
      this.queue.push({ intent, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /**
   * Durable intake without judging yet: once this returns, the intents will be
   * evaluated exactly once, by evaluatePending() now or after a crash at the
   * next open. Returns how many were new. An intent without a usable id cannot
   * be deduplicated and is not received; process() answers it with a HOLD.
   */
  receive(intents: readonly unknown[]): number {
    const now = Date.now();
    return this.inTransaction(() => {
      let fresh = 0;
      for (const intent of intents) {
        const id = intentId(intent);
        if (id !== null) fresh += this.sql.insertReceipt.run(id, JSON.stringify(intent), now).changes;
      }
      return fresh;
    });
  }

  /** Evaluates every received-but-unjudged intent in receipt order. */
  evaluatePending(): JournaledVerdict[] {
    const rows = this.sql.pending.all<{ intent: string }>();
    if (rows.length === 0) return [];
    return this.inTransaction(() =>
      rows.map(({ intent }) => {
        const parsed: unknown = JSON.parse(intent);
        const verdict = this.judge(parsed);
        this.sql.deleteReceipt.run(intentId(parsed));
        return verdict;
      }),
    );
  }

  /**
   * Records a portfolio snapshot as the account's new base (durable, in its
   * own transaction) and judges the ESS state at it. A snapshot older than
   * the one in force (delivered late) changes nothing. An unusable one, or
   * one dated more than MAX_FUTURE_SKEW_MS ahead of the clock, throws
   * PortfolioRefusedError naming the field.
   */
  recordPortfolio(snapshot: PortfolioSnapshot): void {
    const problem = invalidPortfolio(snapshot) ?? futurePortfolio(snapshot, this.clock());
    if (problem) throw new PortfolioRefusedError(problem);
    const current = this.account.snapshot;
    if (current && snapshot.ts < current.ts) return;
    const kept = portfolioFields(snapshot);
    const ess = nextEssState(this.account.ess, kept.drawdown_pct, this.ctx.policy.ess);
    this.inTransaction(() => this.accounts.saveSnapshot(kept, this.lastSeq(), ess));
    this.account.recordSnapshot(kept);
    if (ess !== this.account.ess) this.changeEss(ess, kept.drawdown_pct, "portfolio");
  }

  /** The account as the agent's status shows it. */
  accountStatus(): AccountStatus {
    return accountStatus(this.account, this.ctx.limits);
  }

  /** Records one position close; see recordCloses(). */
  recordClose(close: CloseEvent): void {
    this.recordCloses([close]);
  }

  /**
   * Records position closes, all or none, in one transaction: each symbol's
   * cooldown restarts from its close's `ts`. A close that is unusable, or
   * dated more than MAX_FUTURE_SKEW_MS ahead of the clock (FUTURE_CLOSE),
   * throws CloseRefusedError naming it, and nothing of the batch is recorded.
   */
  recordCloses(closes: readonly CloseEvent[]): void {
    const now = this.clock();
    closes.forEach((close, index) => {
      const problem = invalidClose(close) ?? futureClose(close, now);
      if (problem) throw new CloseRefusedError(index, problem);
    });
    this.inTransaction(() => {
      for (const close of closes) {
        this.sql.recordClose.run(close.symbol, close.ts);
        this.accounts.recordClose(close);
      }
    });
    const cashflow = this.ctx.policy.cashflow ?? null;
    for (const close of closes) {
      this.window.recordClose(close.symbol, close.ts);
      this.account.recordClose(close.symbol, close.pnl_usd, cashflow !== null && close.ts >= cashflow.since);
    }
  }

  /**
   * Journaled verdicts after `seq`, in order, with their symbol and when they
   * were judged (null for verdicts journaled before the journal kept it):
   * what an agent publishes next.
   */
  verdictsAfter(seq: number, limit = 1000): (JournaledVerdict & { seq: number; symbol: string; judgedAt: number | null })[] {
    return this.sql.since
      .all<{ seq: number; symbol: string; verdict: string; judged_at: number | null }>(seq, limit)
      .map((row) => ({ ...toJournaled(row), seq: row.seq, symbol: row.symbol, judgedAt: row.judged_at }));
  }

  /**
   * The newest `limit` journaled verdicts of intents dated from `sinceTs` on,
   * counted by verdict and by reason (every reason of a HOLD counts): what the
   * agent's journal_stats research task reports. `truncated` says the window
   * held more than `limit`; the limit bounds the time this takes.
   */
  verdictCounts(sinceTs: number, limit: number): { total: number; truncated: boolean; by_verdict: Record<string, number>; by_reason: Record<string, number> } {
    const rows = this.db
      .prepare("SELECT json_extract(verdict, '$.verdict') AS verdict, json_extract(verdict, '$.reasons') AS reasons FROM verdicts WHERE ts >= ? ORDER BY seq DESC LIMIT ?")
      .all<{ verdict: string; reasons: string }>(sinceTs, limit + 1);
    const truncated = rows.length > limit;
    const by_verdict: Record<string, number> = {};
    const by_reason: Record<string, number> = {};
    for (const row of truncated ? rows.slice(0, limit) : rows) {
      by_verdict[row.verdict] = (by_verdict[row.verdict] ?? 0) + 1;
      for (const reason of JSON.parse(row.reasons) as string[]) by_reason[reason] = (by_reason[reason] ?? 0) + 1;
    }
    return { total: Math.min(rows.length, limit), truncated, by_verdict, by_reason };
  }

  /**
   * The journaled intents dated from `fromTs` (included) to `toTs`
   * (excluded), in the order judged, each with the verdict it got, at most
   * `limit` (`truncated` says there were more): what a replay under another
   * config judges again (the agent's gate.replay work kind).
   */
  journaledIntents(fromTs: number, toTs: number, limit: number): { intents: { intent: unknown; verdict: Verdict }[]; truncated: boolean } {
    const rows = this.db
      .prepare("SELECT intent, verdict FROM verdicts WHERE ts >= ? AND ts < ? ORDER BY seq LIMIT ?")
      .all<{ intent: string; verdict: string }>(fromTs, toTs, limit + 1);
    const truncated = rows.length > limit;
    const kept = truncated ? rows.slice(0, limit) : rows;
    return { intents: kept.map((row) => ({ intent: JSON.parse(row.intent), verdict: JSON.parse(row.verdict) as Verdict })), truncated };
  }

  /** SQLite's integrity check of the journal: "ok", or what it found (the agent's diagnostics work kind). */
  integrityCheck(): string {
    return this.db.prepare("PRAGMA integrity_check").all<{ integrity_check: string }>().map((row) => row.integrity_check).join("; ");
  }

  /** Closes recorded after close number `seq`, oldest first: what an agent publishes next. */
  closesAfter(seq: number, limit = 1000): RecordedClose[] {
    return this.accounts.closesAfter(seq, limit);
  }

  /** The highest close number given out; 0 for a journal without closes. */
  lastCloseSeq(): number {
    return this.accounts.lastCloseSeq();
  }

  /** The journal's size: verdict rows, and bytes of its database pages (the WAL not counted). */
  journalSize(): { rows: number; bytes: number } {
    const rows = this.db.prepare("SELECT count(*) AS n FROM verdicts").get<{ n: number }>()!.n;
    const pages = this.db.prepare("PRAGMA page_count").get<{ page_count: number }>()!.page_count;
    const pageSize = this.db.prepare("PRAGMA page_size").get<{ page_size: number }>()!.page_size;
    return { rows, bytes: pages * pageSize };
  }

  /** The highest seq ever given out (AUTOINCREMENT keeps it through compaction); 0 for a new journal. */
  lastSeq(): number {
    return this.db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'verdicts'").get<{ seq: number }>()?.seq ?? 0;
  }

  /**
   * Journal compaction: deletes verdicts of intents dated before `beforeTs`,
   * but never at or past `keepFromSeq` (verdicts not yet handed on, e.g. not
   * yet queued for the hub). An intent id whose verdict was compacted away
   * is judged anew if it ever comes back, so the retention must be longer
   * than any strategy would retry. Cooldown state lives apart (symbol_state)
   * and the rate window spans minutes, so neither is shortened. Verdicts and
   * closes recorded after the portfolio snapshot in force stay (the account
   * counts them), and so do closes the cashflow policy counts. Returns the
   * number of verdicts deleted.
   */
  compact(beforeTs: number, keepFromSeq: number): number {
    const keepAfter = this.accounts.mark()?.afterSeq;
    const keepFrom = keepAfter === undefined ? keepFromSeq : Math.min(keepFromSeq, keepAfter + 1);
    return this.inTransaction(() => {
      this.accounts.compact(beforeTs, this.ctx.policy.cashflow ?? null);
      return this.db.prepare("DELETE FROM verdicts WHERE ts < ? AND seq < ?").run(beforeTs, keepFrom).changes;
    });
  }

  /**
   * Moves WAL checkpoints to a worker thread (see wal-checkpointer.ts), which
   * keeps commit latency flat under load. Optional: without it SQLite
   * checkpoints on the writer's thread as usual.
   */
  async startBackgroundCheckpoints(intervalMs?: number): Promise<boolean> {
    this.checkpointer ??= await startCheckpointer(this.db, intervalMs);
    return this.checkpointer !== null;
  }

  close(): void {
    void this.checkpointer?.stop();
    this.db.close();
    this.unlock();
  }

  private judge(intent: unknown): JournaledVerdict {
    const id = intentId(intent);
    if (id !== null) {
      const stored = this.sql.findVerdict.get<{ seq: number; verdict: string }>(id);
      if (stored) {
        this.counters.duplicates++;
        return toJournaled(stored);
      }
    }
    let body: string;
    try {
      body = JSON.stringify(intent);
    } catch {
      // Only an in-process caller can send what JSON cannot hold (a BigInt, a
      // cycle); answer it alone instead of failing the whole batch.
      return { ...evaluate(null, this.ctx, this.window), id, seq: null };
    }
    const verdict = evaluate(intent, this.ctx, this.window, this.clock(), this.account);
    this.counters.evaluated++;
    if (verdict.verdict === "PASS") this.counters.passed++;
    else {
      this.counters.held++;
      for (const reason of verdict.reasons) this.holdReasons[reason] = (this.holdReasons[reason] ?? 0) + 1;
    }
    // An intent without a usable id cannot be deduplicated, so it is answered
    // (HOLD, INVALID_INPUT:id) but never journaled.
    if (verdict.id === null) return { ...verdict, seq: null };

    const trade = countsAsTrade(verdict, intent);
    const { symbol, ts } = intent as Intent;
    const { lastInsertRowid } = this.sql.insertVerdict.run(
      verdict.id,
      typeof symbol === "string" ? symbol : "",
      Number.isSafeInteger(ts) ? ts : 0,
      trade ? 1 : 0,
      body,
      JSON.stringify(verdict),
      this.clock(),
    );
    if (trade) {
      const risk = entryRisk(intent as Intent, this.ctx.limits);
      this.sql.recordTrade.run(symbol, ts, risk);
      this.window.recordTrade(symbol, ts);
      this.account.recordEntry(symbol, (intent as Intent).price * (intent as Intent).qty, risk);
    }
    return { ...verdict, seq: Number(lastInsertRowid) };
  }

  /**
   * Runs `fn` in a transaction. The trade window and the account are changed
   * as intents are judged, before the commit; if the commit fails both are
   * rebuilt from the journal so memory never runs ahead of disk.
   */
  private inTransaction<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn);
    } catch (error) {
      this.loadState();
      throw error;
    }
  }

  private changeEss(to: EssState, drawdown: number | null, cause: EssChange["cause"]): void {
    const from = this.account.ess;
    this.account.ess = to;
    this.onEssChange({ from, to, drawdown_pct: drawdown, cause, thresholds: this.ctx.policy.ess ?? null });
  }

  private loadState(): void {
    this.account = this.accounts.load(this.ctx.policy.cashflow ?? null);
    const window = new TradeWindow();
    for (const row of this.db
      .prepare("SELECT symbol, last_trade_ts, last_close_ts FROM symbol_state")
      .all<{ symbol: string; last_trade_ts: number | null; last_close_ts: number | null }>()) {
      if (row.last_trade_ts !== null) window.restoreLastTrade(row.symbol, row.last_trade_ts);
      if (row.last_close_ts !== null) window.recordClose(row.symbol, row.last_close_ts);
    }
    const newest = this.db.prepare("SELECT max(ts) AS ts FROM verdicts WHERE counts_as_trade = 1").get<{ ts: number | null }>();
    if (newest?.ts != null) {
      const trades = this.db
        .prepare("SELECT symbol, ts FROM verdicts WHERE counts_as_trade = 1 AND ts >= ? ORDER BY ts")
        .all<{ symbol: string; ts: number }>(newest.ts - STALE_AFTER_MS - RATE_WINDOW_MS);
      for (const { symbol, ts } of trades) window.recordTrade(symbol, ts);
    }
    this.window = window;
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    let verdicts: JournaledVerdict[];
    try {
      verdicts = this.process(batch.map((entry) => entry.intent));
    } catch (error) {
      for (const entry of batch) entry.reject(error);
      return;
    }
    batch.forEach((entry, i) => entry.resolve(verdicts[i]!));
  }
}

function toJournaled(row: { seq: number; verdict: string }): JournaledVerdict {
  return { ...(JSON.parse(row.verdict) as Verdict), seq: row.seq };
}
