// What the strategy process reports about itself (protocol/reports.ts): its
// portfolio, its system health and its models' performance. Each report is
// checked whole, kept in the agent's store (the latest of each series and
// the newest REPORT_HISTORY before it) and queued in the outbox for the hub
// in the same transaction, so an outage replays them in order.
//
// Within a series (a kind; for model reports, each model) `ts` only grows:
// the hub takes a report at or before the latest it has as a redelivery. So
// a report dated before its series' latest is refused, and one with the
// latest's own ts is a retry: answered as a duplicate when it is the same
// report, refused when it is another.
import { z } from "zod";
import { MAX_FUTURE_SKEW_MS, MIN_INTENT_TS } from "../kernel/validate-intent.ts";
import type { SqliteDatabase, SqliteStatement } from "../lib/sqlite.ts";
import { MAX_MODELS_PER_NODE, REPORT_HISTORY, REPORT_KINDS, REPORT_SCHEMAS, reportSeries, type Report, type ReportKind, type ReportOf } from "../protocol/reports.ts";
import { outboxMessage, type Outbox } from "./outbox.ts";

/** A report that cannot be recorded; `index` is its place in the batch, the message names the field. */
export class ReportRefusedError extends TypeError {
  override name = "ReportRefusedError";
  constructor(
    readonly index: number,
    message: string,
  ) {
    super(message);
  }
}

/** A report as kept, with when the agent received it. */
export interface StoredReport<K extends ReportKind = ReportKind> {
  report: ReportOf[K];
  received_at: number;
}

export interface LatestReports {
  portfolio: StoredReport<"portfolio"> | null;
  health: StoredReport<"health"> | null;
  /** The latest of each model, by model name. */
  models: StoredReport<"models">[];
}

/** Reports of one kind that passed the checks: the new ones, and how many were retries of the latest. */
export interface CheckedReports<K extends ReportKind> {
  kind: K;
  fresh: ReportOf[K][];
  duplicates: number;
}

/**
 * The local API's view of each schema: fields the contract's backends send
 * besides ours (`cash_balance`, `active_alerts`) are left out rather than
 * refused, as an intent's are; on the wire the schema is strict.
 */
const LENIENT = Object.fromEntries(REPORT_KINDS.map((kind) => [kind, z.object(REPORT_SCHEMAS[kind].shape)])) as unknown as {
  [K in ReportKind]: z.ZodType<ReportOf[K]>;
};

export interface StrategyReportsOptions {
  nodeId: string;
  /** False without a hub: nothing is queued (nobody to tell, and the outbox would only grow). */
  queue: boolean;
}

export class StrategyReports {
  private readonly sql: Record<"latestOf" | "seriesCount" | "insert" | "trim" | "latest", SqliteStatement>;

  /** On an open agent store (its `strategy_reports` table: agent-schema.ts). */
  constructor(
    private readonly db: SqliteDatabase,
    private readonly outbox: Outbox,
    private readonly options: StrategyReportsOptions,
  ) {
    this.sql = {
      latestOf: db.prepare("SELECT ts, report FROM strategy_reports WHERE kind = ? AND series = ? ORDER BY id DESC LIMIT 1"),
      seriesCount: db.prepare("SELECT count(DISTINCT series) AS n FROM strategy_reports WHERE kind = ?"),
      insert: db.prepare("INSERT INTO strategy_reports (kind, series, ts, report, received_at) VALUES (?, ?, ?, ?, ?)"),
      // Everything at or below the first row past the ones kept (none past them: NULL, nothing deleted).
      trim: db.prepare(
        `DELETE FROM strategy_reports WHERE kind = ?1 AND series = ?2 AND id <=
           (SELECT id FROM strategy_reports WHERE kind = ?1 AND series = ?2 ORDER BY id DESC LIMIT 1 OFFSET ?3)`,
      ),
      latest: db.prepare(
        `SELECT kind, report, received_at FROM strategy_reports
         WHERE id IN (SELECT max(id) FROM strategy_reports GROUP BY kind, series) ORDER BY kind, series`,
      ),
    };
  }

  /**
   * Checks a batch of one kind at `now`: its schema, `ts` (from 2000, at
   * most MAX_FUTURE_SKEW_MS ahead of the clock, not before its series'
   * latest) and the cap on distinct models. Throws ReportRefusedError naming
   * the first report and field it refuses; writes nothing.
   */
  check<K extends ReportKind>(kind: K, inputs: readonly unknown[], now: number): CheckedReports<K> {
    const fresh: ReportOf[K][] = [];
    let duplicates = 0;
    /** The latest of each series as of the report being checked: stored, or earlier in this batch. */
    const latest = new Map<string, { ts: number; json: string } | null>();
    let seriesKnown: number | null = null;
    inputs.forEach((input, index) => {
      const parsed = LENIENT[kind].safeParse(input);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new ReportRefusedError(index, `${issue.path.join(".") || "body"}: ${issue.message}`);
      }
      const report = parsed.data;
      const problem = tsProblem(report.ts, now);
      if (problem) throw new ReportRefusedError(index, problem);
      const series = reportSeries(kind, report);
      if (!latest.has(series)) {
        const row = this.sql.latestOf.get<{ ts: number; report: string }>(kind, series);
        if (!row && kind === "models") {
          seriesKnown ??= this.sql.seriesCount.get<{ n: number }>(kind)!.n;
          if (seriesKnown >= MAX_MODELS_PER_NODE) {
            throw new ReportRefusedError(index, `model_name: ${series} would be a model past the ${MAX_MODELS_PER_NODE} this node may report`);
          }
          seriesKnown++;
        }
        latest.set(series, row ? { ts: row.ts, json: row.report } : null);
      }
      const last = latest.get(series);
      const json = JSON.stringify(report);
      if (last && report.ts < last.ts) {
        throw new ReportRefusedError(index, `ts: ${report.ts} is before that of the latest ${describe(kind, series)} (${last.ts}); reports come in time order`);
      }
      if (last && report.ts === last.ts) {
        if (json !== last.json) throw new ReportRefusedError(index, `ts: another ${describe(kind, series)} with ts ${report.ts} was recorded already`);
        duplicates++; // a retry of the latest
        return;
      }
      latest.set(series, { ts: report.ts, json });
      fresh.push(report);
    });
    return { kind, fresh, duplicates };
  }

  /**
   * Keeps the checked reports that are new and queues them for the hub, all
   * in one transaction, then trims each series to its newest
   * REPORT_HISTORY. `now` is when they were received.
   */
  record<K extends ReportKind>(checked: CheckedReports<K>, now: number): void {
    const { kind, fresh } = checked;
    if (fresh.length === 0) return;
    const keep = () => {
      for (const report of fresh) this.sql.insert.run(kind, reportSeries(kind, report), report.ts, JSON.stringify(report), now);
      for (const series of new Set(fresh.map((report) => reportSeries(kind, report)))) this.sql.trim.run(kind, series, REPORT_HISTORY[kind]);
    };
    if (!this.options.queue) return this.db.transaction(keep);
    const messages = fresh.map((report) => outboxMessage<ReportKind>(this.options.nodeId, kind, report as Report, now));
    this.outbox.enqueue(messages, keep);
  }

  /** The latest report of each series. */
  latest(): LatestReports {
    const latest: LatestReports = { portfolio: null, health: null, models: [] };
    for (const row of this.sql.latest.all<{ kind: ReportKind; report: string; received_at: number }>()) {
      const stored = { report: JSON.parse(row.report), received_at: row.received_at };
      if (row.kind === "models") latest.models.push(stored);
      else if (row.kind === "portfolio" || row.kind === "health") latest[row.kind] = stored;
    }
    return latest;
  }
}

function describe(kind: ReportKind, series: string): string {
  return kind === "models" ? `report of model ${series}` : kind === "portfolio" ? "portfolio snapshot" : "health report";
}

/** Why a report's `ts` (already a whole number) cannot be taken at `now`, or null. */
function tsProblem(ts: number, now: number): string | null {
  if (ts < MIN_INTENT_TS) return `ts: ${ts} is before 2000 in ms since the epoch (seconds sent as milliseconds?)`;
  if (ts > now + MAX_FUTURE_SKEW_MS) {
    return `ts: ${ts} (${new Date(ts).toISOString()}) is more than ${MAX_FUTURE_SKEW_MS / 1000} s ahead of this clock (${new Date(now).toISOString()})`;
  }
  return null;
}
