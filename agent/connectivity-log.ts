// When the agent was online: every change of connectivity, kept in the
// agent's store so that a verdict handed on after a crash still says whether
// it was judged in simulation mode. Changes are rare, so the log lives in
// memory too; it is cut back to the last change before anything still to be
// handed on.
import type { SqliteDatabase } from "../lib/sqlite.ts";

interface Change {
  at: number;
  online: boolean;
}

export class ConnectivityLog {
  private readonly changes: Change[];
  private readonly insert;
  private readonly deleteBefore;

  /** On an open agent store (its `connectivity_changes` table: agent-schema.ts). */
  constructor(db: SqliteDatabase) {
    this.changes = db
      .prepare("SELECT at, online FROM connectivity_changes ORDER BY rowid")
      .all<{ at: number; online: number }>()
      .map((row) => ({ at: row.at, online: row.online === 1 }));
    this.insert = db.prepare("INSERT INTO connectivity_changes (at, online) VALUES (?, ?)");
    this.deleteBefore = db.prepare("DELETE FROM connectivity_changes WHERE at < ?");
  }

  /**
   * Records that the agent went online or offline at `at`. The log stays in
   * time order even if the clock steps back (a Pi has no RTC: after a power
   * cut it may start from an older time): such a change counts from the last one.
   */
  record(online: boolean, at: number): void {
    const last = this.changes.at(-1);
    if (last?.online === online) return;
    const when = last && at < last.at ? last.at : at;
    this.insert.run(when, online ? 1 : 0);
    this.changes.push({ at: when, online });
  }

  /** Whether the agent was online at `at`: the last change at or before it says; before any change it was not. */
  onlineAt(at: number): boolean {
    for (let i = this.changes.length - 1; i >= 0; i--) if (this.changes[i]!.at <= at) return this.changes[i]!.online;
    return false;
  }

  /** Forgets changes no longer needed to answer onlineAt(t) for any t >= `at`: all but the last one at or before it. */
  forgetBefore(at: number): void {
    let keepFrom = 0;
    for (let i = this.changes.length - 1; i >= 0; i--) {
      if (this.changes[i]!.at <= at) {
        keepFrom = i;
        break;
      }
    }
    if (keepFrom === 0) return;
    this.deleteBefore.run(this.changes[keepFrom]!.at);
    this.changes.splice(0, keepFrom);
  }
}
