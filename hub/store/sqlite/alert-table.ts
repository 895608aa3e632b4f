// The alerts the hub raised, in SQLite, and the webhook's outbox (AlertWrites
// in ../hub-store.ts says what each method promises). An alert is numbered by
// the hub when raised and stored with what became of it with the webhook; a
// queued one has a row in alert_outbox until it is delivered or given up, and
// is never trimmed while it has.
import type { SqliteDatabase } from "../../../lib/sqlite.ts";
import { DEFAULT_STORE_BOUNDS, type AlertDelivery, type AlertOutboxEntry, type AlertWrites, type StoreBounds, type StoredAlert } from "../hub-store.ts";

const COLUMNS = "seq, severity, kind, subject, message, at, delivery";

/** Each method does its work when called: SQLite answers at once, the promise only carries the result. */
export class SqliteAlertTable implements AlertWrites {
  private readonly insert;
  private readonly enqueue;
  private readonly trim;
  private readonly select;
  private readonly selectOutbox;
  private readonly updateDelivery;
  private readonly dequeue;
  private readonly reschedule;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly bounds: StoreBounds = DEFAULT_STORE_BOUNDS,
  ) {
    this.insert = db.prepare(`INSERT INTO alerts (${COLUMNS}) VALUES ($seq, $severity, $kind, $subject, $message, $at, $delivery)`);
    this.enqueue = db.prepare("INSERT INTO alert_outbox (alert_seq, attempts, next_attempt_at) VALUES (?, 0, ?)");
    this.trim = db.prepare(
      `DELETE FROM alerts WHERE (seq <= $newestSeq - $kept OR at < $newestAt - $ms)
         AND seq NOT IN (SELECT alert_seq FROM alert_outbox)`,
    );
    this.select = db.prepare(
      `SELECT ${COLUMNS} FROM alerts WHERE at >= $since AND ($delivery IS NULL OR delivery = $delivery) ORDER BY seq DESC LIMIT $limit`,
    );
    this.selectOutbox = db.prepare(
      `SELECT a.seq, a.severity, a.kind, a.subject, a.message, a.at, a.delivery, o.attempts, o.next_attempt_at
       FROM alert_outbox o JOIN alerts a ON a.seq = o.alert_seq ORDER BY o.alert_seq LIMIT ?`,
    );
    this.updateDelivery = db.prepare("UPDATE alerts SET delivery = ? WHERE seq = ? AND delivery IN ('queued', 'held')");
    this.dequeue = db.prepare("DELETE FROM alert_outbox WHERE alert_seq = ?");
    this.reschedule = db.prepare("UPDATE alert_outbox SET attempts = ?, next_attempt_at = ? WHERE alert_seq = ?");
  }

  async add(alert: StoredAlert): Promise<void> {
    this.insert.run({ ...alert });
    if (alert.delivery === "queued") this.enqueue.run(alert.seq, alert.at);
    this.trim.run({ newestSeq: alert.seq, kept: this.bounds.alertsKept, newestAt: alert.at, ms: this.bounds.alertsMs });
  }

  /** One writer: the highest seq given, plus one (alerts.ts numbers in memory on SQLite; this is for the contract). */
  async nextSeq(): Promise<number> {
    return (await this.lastSeq()) + 1;
  }

  async list(options: { since?: number; limit: number; delivery?: AlertDelivery }): Promise<StoredAlert[]> {
    return this.select.all<StoredAlert>({ since: options.since ?? 0, delivery: options.delivery ?? null, limit: options.limit });
  }

  async lastSeq(): Promise<number> {
    return this.db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'alerts'").get<{ seq: number }>()?.seq ?? 0;
  }

  async count(): Promise<number> {
    return this.db.prepare("SELECT count(*) AS n FROM alerts").get<{ n: number }>()!.n;
  }

  async outbox(limit: number): Promise<AlertOutboxEntry[]> {
    return this.selectOutbox.all<StoredAlert & { attempts: number; next_attempt_at: number }>(limit).map(({ attempts, next_attempt_at, ...alert }) => ({
      alert,
      attempts,
      nextAttemptAt: next_attempt_at,
    }));
  }

  async setDelivery(seqs: readonly number[], delivery: AlertDelivery): Promise<void> {
    for (const seq of seqs) {
      this.updateDelivery.run(delivery, seq);
      if (delivery !== "queued") this.dequeue.run(seq);
    }
  }

  async retryLater(seq: number, attempts: number, nextAttemptAt: number): Promise<void> {
    this.reschedule.run(attempts, nextAttemptAt, seq);
  }
}
