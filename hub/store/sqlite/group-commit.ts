// Group commit: writes requested in one event-loop turn share one transaction
// and so one fsync. Each write runs in its own savepoint, so one that throws
// fails alone and the rest still commit. A promise resolves only after the
// commit, so whatever the hub acknowledges has reached the disk.
//
// A write's work may be async (the store's interface is), but on SQLite it
// only awaits calls that answer at once, so a whole batch runs within one
// turn and nothing else sees the open transaction. Work that waits for
// anything else (a timer, the network) would hold the transaction open while
// other code runs on the same connection: it is rolled back and rejected.
import type { SqliteDatabase } from "../../../lib/sqlite.ts";

interface PendingWrite {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export class GroupCommit {
  private queue: PendingWrite[] = [];
  /** A flush is scheduled or running; writes queued meanwhile go in the next batch. */
  private busy = false;
  private readonly begin;
  private readonly commit;
  private readonly rollback;
  private readonly savepoint;
  private readonly release;
  private readonly rollbackTo;

  constructor(db: SqliteDatabase) {
    this.begin = db.prepare("BEGIN IMMEDIATE");
    this.commit = db.prepare("COMMIT");
    this.rollback = db.prepare("ROLLBACK");
    this.savepoint = db.prepare("SAVEPOINT item");
    this.release = db.prepare("RELEASE item");
    this.rollbackTo = db.prepare("ROLLBACK TO item");
  }

  /** Runs `work` inside the next group transaction; resolves with its result once committed. */
  run<T>(work: () => T | Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.busy) this.schedule();
    });
  }

  private schedule(): void {
    this.busy = true;
    setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    const outcomes: { ok: boolean; value: unknown }[] = [];
    const turn = new TurnWatch();
    try {
      this.begin.run();
      for (const write of batch) {
        this.savepoint.run();
        try {
          const value = await write.work();
          if (turn.ended()) throw new Error("a store write awaited something other than the store, holding its transaction open; it was rolled back");
          outcomes.push({ ok: true, value });
          this.release.run();
        } catch (error) {
          this.rollbackTo.run();
          this.release.run();
          outcomes.push({ ok: false, value: error });
          turn.restart();
        }
      }
      this.commit.run();
      batch.forEach((write, i) => {
        const outcome = outcomes[i]!;
        if (outcome.ok) write.resolve(outcome.value);
        else write.reject(outcome.value);
      });
    } catch (error) {
      try {
        this.rollback.run();
      } catch {
        // COMMIT itself may have ended the transaction; the first error is the one to report.
      }
      for (const write of batch) write.reject(error);
    } finally {
      turn.stop();
      if (this.queue.length > 0) this.schedule();
      else this.busy = false;
    }
  }
}

/** Tells whether the event loop has gone on to another turn since it was (re)started. */
class TurnWatch {
  private turnEnded = false;
  private timer = setImmediate(() => (this.turnEnded = true));

  ended(): boolean {
    return this.turnEnded;
  }

  restart(): void {
    if (!this.turnEnded) return;
    this.turnEnded = false;
    this.timer = setImmediate(() => (this.turnEnded = true));
  }

  stop(): void {
    clearImmediate(this.timer);
  }
}
