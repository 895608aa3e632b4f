// Position closes for the hub, taken from the intent journal's closes in
// order and queued in the outbox (topic `closes`) together with a cursor (the
// last close number queued) in one transaction, as the verdict feed does with
// verdicts: the journal is another file, so a crash can fall between a close's
// commit and its queuing; catchUp() at start and after every recorded batch
// queues whatever the cursor has not reached, and the hub takes each close
// number once.
import type { IntentProcessor, RecordedClose } from "../kernel/intent-processor.ts";
import type { SqliteDatabase } from "../lib/sqlite.ts";
import type { CloseMessage } from "../protocol/messages.ts";
import type { AgentPart } from "./agent-part.ts";
import { outboxMessage, type Outbox } from "./outbox.ts";

const BATCH = 1000;

export class CloseFeed implements AgentPart {
  private readonly writeCursor;
  /** The last close number queued; this feed is the cursor's only writer. */
  private queuedThrough: number;

  constructor(
    db: SqliteDatabase,
    private readonly outbox: Outbox,
    private readonly processor: IntentProcessor,
    private readonly nodeId: string,
    /** queue false (no hub at all): the cursor advances, nothing is queued. */
    private readonly options: { queue: boolean } = { queue: true },
    private readonly clock: () => number = Date.now,
  ) {
    this.writeCursor = db.prepare("UPDATE close_cursor SET seq = ?");
    const stored = db.prepare("SELECT seq FROM close_cursor").get<{ seq: number | null }>()!.seq;
    this.queuedThrough = stored ?? processor.lastCloseSeq();
    if (stored === null) this.writeCursor.run(this.queuedThrough);
  }

  /** Queues what a crash left journaled but not queued. */
  start(): void {
    this.catchUp();
  }

  stop(): void {}

  /** The last close number queued for the hub. */
  get cursor(): number {
    return this.queuedThrough;
  }

  /** Queues every journaled close past the cursor; returns how many. */
  catchUp(): number {
    let queued = 0;
    for (;;) {
      const closes = this.processor.closesAfter(this.queuedThrough, BATCH);
      if (closes.length === 0) return queued;
      const now = this.clock();
      const messages = closes.map((close) => outboxMessage(this.nodeId, "closes", closeMessage(close), now));
      const last = closes[closes.length - 1]!.seq;
      if (this.options.queue) this.outbox.enqueue(messages, () => this.writeCursor.run(last));
      else this.writeCursor.run(last);
      this.queuedThrough = last;
      queued += closes.length;
    }
  }
}

/** The wire form: the outcome's fields only when the strategy gave them. */
export function closeMessage(close: RecordedClose): CloseMessage {
  const message: CloseMessage = { seq: close.seq, symbol: close.symbol, ts: close.ts };
  if (close.pnl_usd !== null) message.pnl_usd = close.pnl_usd;
  if (close.exit !== null) message.exit = close.exit;
  return message;
}
