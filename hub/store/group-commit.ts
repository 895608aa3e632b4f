// Group commit: writes requested in one event-loop turn share one transaction
// and so one fsync. Each write runs in its own savepoint, so one that throws
// fails alone and the rest still commit. A promise resolves only after the
// commit, so whatever the hub acknowledges has reached the disk.
import type { SqliteDatabase } from "../../lib/sqlite.ts";

interface PendingWrite {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export class GroupCommit {
  private queue: PendingWrite[] = [];
  private scheduled = false;
  private readonly savepoint;
  private readonly release;
  private readonly rollbackTo;

  constructor(private readonly db: SqliteDatabase) {
    this.savepoint = db.prepare("SAVEPOINT item");
    this.release = db.prepare("RELEASE item");
    this.rollbackTo = db.prepare("ROLLBACK TO item");
  }

  /** Runs `work` inside the next group transaction; resolves with its result once committed. */
  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      this.db.transaction(() => {
        for (const write of batch) {
          this.savepoint.run();
          try {
            outcomes.push({ ok: true, value: write.work() });
            this.release.run();
          } catch (error) {
            this.rollbackTo.run();
            this.release.run();
            outcomes.push({ ok: false, value: error });
          }
        }
      });
    } catch (error) {
      for (const write of batch) write.reject(error);
      return;
    }
    batch.forEach((write, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) write.resolve(outcome.value);
      else write.reject(outcome.value);
    });
  }
}
