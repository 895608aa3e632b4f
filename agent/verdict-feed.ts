// Verdict events for the hub, taken from the intent journal in seq order and
// queued in the outbox together with a cursor (the last seq queued) in one
// transaction. The journal is another file, so a crash can fall between a
// verdict's commit and its queuing; catchUp() at start and after every batch
// queues whatever the cursor has not reached, and the hub sees each seq once
// (it counts any redelivery as a duplicate).
import type { IntentProcessor } from "../kernel/intent-processor.ts";
import type { VerdictEventMessage } from "../protocol/messages.ts";
import type { SqliteDatabase } from "../lib/sqlite.ts";
import type { AgentPart } from "./agent-part.ts";
import type { ConnectivityLog } from "./connectivity-log.ts";
import { outboxMessage, type Outbox } from "./outbox.ts";

const BATCH = 1000;
const MAX_SYMBOL = 32;

export class VerdictFeed implements AgentPart {
  private readonly writeCursor;
  /** The last seq queued; kept in memory (this feed is the table's only writer), set after each commit. */
  private queuedThrough: number;

  constructor(
    db: SqliteDatabase,
    private readonly outbox: Outbox,
    private readonly processor: IntentProcessor,
    private readonly nodeId: string,
    /** When the agent was online: a verdict judged while it was not is marked simulated. */
    private readonly connectivity: ConnectivityLog,
    /** queue false (no hub at all): the cursor advances, nothing is queued, so the outbox cannot grow without bound. */
    private readonly options: { queue: boolean } = { queue: true },
    private readonly clock: () => number = Date.now,
  ) {
    this.queuedThrough = VerdictFeed.storedCursor(db);
    this.writeCursor = db.prepare("UPDATE verdict_cursor SET seq = ?");
  }

  /** The last seq queued, as stored (0 for a new store): the journal's seq floor when it is opened. */
  static storedCursor(db: SqliteDatabase): number {
    return db.prepare("SELECT seq FROM verdict_cursor").get<{ seq: number }>()!.seq;
  }

  /** Queues what a crash left journaled but not queued. */
  start(): void {
    this.catchUp();
  }

  stop(): void {}

  /** The last seq queued for the hub. */
  get cursor(): number {
    return this.queuedThrough;
  }

  /** Queues every journaled verdict past the cursor; returns how many. */
  catchUp(): number {
    let queued = 0;
    for (;;) {
      const verdicts = this.processor.verdictsAfter(this.cursor, BATCH);
      if (verdicts.length === 0) {
        this.connectivity.forgetBefore(this.clock()); // everything judged so far is queued
        return queued;
      }
      const now = this.clock();
      const messages = verdicts.map((v) => {
        // When and how it was judged, not when it is queued: after a crash the two differ.
        const judgedAt = v.judgedAt ?? now;
        const event: VerdictEventMessage = {
          seq: v.seq,
          ts: judgedAt,
          simulated: !this.connectivity.onlineAt(judgedAt),
          symbol: v.symbol.slice(0, MAX_SYMBOL),
          verdict: { id: v.id ?? "-", verdict: v.verdict, reasons: v.reasons, enforced: v.enforced, mode: v.mode, metrics: v.metrics },
        };
        return outboxMessage(this.nodeId, "verdicts", event, now);
      });
      const last = verdicts[verdicts.length - 1]!.seq;
      if (this.options.queue) this.outbox.enqueue(messages, () => this.writeCursor.run(last));
      else this.writeCursor.run(last);
      this.queuedThrough = last;
      queued += verdicts.length;
    }
  }
}
