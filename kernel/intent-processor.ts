// The exactly-once intent processor: the only way intents reach the gates in
// an agent. It owns the intent journal (SQLite, WAL) and hands a verdict back
// only after the transaction holding it has committed. The same intent id
// always yields its stored verdict and is never evaluated or counted twice,
// also across restarts and kill -9.
import type { GateConfig } from "./config.ts";
import { compileContext, countsAsTrade, evaluate, type GateContext } from "./gates.ts";
import { lockJournal } from "./journal-lock.ts";
import { migrateJournal } from "./journal-schema.ts";
import { DEFAULT_POLICY, type KernelPolicy } from "./policy.ts";
import { openDatabase, type OpenOptions, type SqliteDatabase, type SqliteStatement } from "../lib/sqlite.ts";
import { RATE_WINDOW_MS, STALE_AFTER_MS, TradeWindow } from "./trade-window.ts";
import { futureClose, invalidClose, isIntentId, MAX_FUTURE_SKEW_MS } from "./validate-intent.ts";
import { startCheckpointer, type Checkpointer } from "../lib/wal-checkpointer.ts";
import type { CloseEvent, Intent, JournaledVerdict, Verdict } from "./types.ts";

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
}

/** A journal that ended before the caller's seq floor when it was opened. */
export interface JournalBehind {
  /** Where the journal ended. */
  lastSeq: number;
  /** Where it continues from (the floor). */
  continuedAfter: number;
}

/** A close found dated in the future when the journal was opened, and the time it was moved to. */
export interface ClampedClose {
  symbol: string;
  was: number;
  now: number;
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
  private ctx: GateContext;
  private window = new TradeWindow();
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
  ) {
    migrateJournal(db);
    const lastSeq = this.lastSeq();
    if (lastSeq < seqFloor) {
      this.continueSeqAfter(seqFloor);
      this.behind = { lastSeq, continuedAfter: seqFloor };
    }
    this.clampedCloses = this.clampFutureCloses();
    this.ctx = compileContext(config, policy);
    this.sql = {
      findVerdict: db.prepare("SELECT seq, verdict FROM verdicts WHERE intent_id = ?"),
      insertVerdict: db.prepare(
        "INSERT INTO verdicts (intent_id, symbol, ts, counts_as_trade, intent, verdict, judged_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ),
      recordTrade: db.prepare(
        `INSERT INTO symbol_state (symbol, last_trade_ts) VALUES (?1, ?2) ON CONFLICT (symbol)
         DO UPDATE SET last_trade_ts = max(coalesce(last_trade_ts, ?2), ?2)`,
      ),
      recordClose: db.prepare(
        `INSERT INTO symbol_state (symbol, last_close_ts) VALUES (?1, ?2) ON CONFLICT (symbol)
         DO UPDATE SET last_close_ts = max(coalesce(last_close_ts, ?2), ?2)`,
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
    this.loadWindow();
    this.counters.recovered = this.evaluatePending().length;
  }

  /** Opens (or creates) the journal at `path` and evaluates anything a crash left unjudged. */
  static open(path: string, options: ProcessorOptions): IntentProcessor {
    const unlock = path === ":memory:" ? () => {} : lockJournal(path);
    let db: SqliteDatabase | undefined;
    try {
      db = openDatabase(path, options);
      const processor = new IntentProcessor(db, options.config, options.policy ?? DEFAULT_POLICY, options.clock ?? Date.now, options.seqFloor ?? 0);
      processor.unlock = unlock;
      return processor;
    } catch (error) {
      db?.close();
      unlock();
      throw error;
    }
  }

  /** Policy changes apply to intents evaluated from now on; stored verdicts never change. */
  setPolicy(policy: KernelPolicy): void {
    this.ctx = compileContext(this.config, policy, this.ctx.halt);
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
      for (const close of closes) this.sql.recordClose.run(close.symbol, close.ts);
    });
    for (const close of closes) this.window.recordClose(close.symbol, close.ts);
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

  /** The highest seq ever given out (AUTOINCREMENT keeps it through compaction); 0 for a new journal. */
  lastSeq(): number {
    return this.db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'verdicts'").get<{ seq: number }>()?.seq ?? 0;
  }

  /**
   * A journal written before closes were checked against the clock may hold
   * one dated far ahead, which would hold the symbol's entries until then.
   * Such a close is moved to now, not dropped: the close did happen, at the
   * latest now, so a cooldown from now is at least as long as the one its
   * true time would give (fail-closed), and it ends.
   */
  private clampFutureCloses(): ClampedClose[] {
    const now = this.clock();
    const future = this.db
      .prepare("SELECT symbol, last_close_ts AS was FROM symbol_state WHERE last_close_ts > ? ORDER BY symbol")
      .all<{ symbol: string; was: number }>(now + MAX_FUTURE_SKEW_MS);
    if (future.length === 0) return [];
    this.db.transaction(() => this.db.prepare("UPDATE symbol_state SET last_close_ts = ? WHERE last_close_ts > ?").run(now, now + MAX_FUTURE_SKEW_MS));
    return future.map(({ symbol, was }) => ({ symbol, was, now }));
  }

  /** The next verdict gets a seq above `seq` (never lower than it would anyway). */
  private continueSeqAfter(seq: number): void {
    this.db.transaction(() => {
      const updated = this.db.prepare("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'verdicts'").run(seq);
      if (updated.changes === 0) this.db.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('verdicts', ?)").run(seq);
    });
  }

  /**
   * Journal compaction: deletes verdicts of intents dated before `beforeTs`,
   * but never at or past `keepFromSeq` (verdicts not yet handed on, e.g. not
   * yet queued for the hub). An intent id whose verdict was compacted away
   * is judged anew if it ever comes back, so the retention must be longer
   * than any strategy would retry. Cooldown state lives apart (symbol_state)
   * and the rate window spans minutes, so neither is shortened. Returns the
   * number of verdicts deleted.
   */
  compact(beforeTs: number, keepFromSeq: number): number {
    return this.inTransaction(() => this.db.prepare("DELETE FROM verdicts WHERE ts < ? AND seq < ?").run(beforeTs, keepFromSeq).changes);
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
    const verdict = evaluate(intent, this.ctx, this.window, this.clock());
    this.counters.evaluated++;
    if (verdict.verdict === "PASS") this.counters.passed++;
    else this.counters.held++;
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
      this.sql.recordTrade.run(symbol, ts);
      this.window.recordTrade(symbol, ts);
    }
    return { ...verdict, seq: Number(lastInsertRowid) };
  }

  /**
   * Runs `fn` in a transaction. The trade window is changed as intents are
   * judged, before the commit; if the commit fails the window is rebuilt from
   * the journal so memory never runs ahead of disk.
   */
  private inTransaction<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn);
    } catch (error) {
      this.loadWindow();
      throw error;
    }
  }

  private loadWindow(): void {
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
